// SPDX-License-Identifier: GPL-2.0
/*
 * kgen benchmark lane: the batched contiguous free against the per-page
 * loop it replaced, in the same boot, as the series' page_alloc_high_order
 * test did, and against the floor (the same pages never split, freed as one
 * block), plus CMA-style contiguous allocate/free: 16384 frozen pages freed
 * by free_contig_frozen_range() and, in the same iteration, by the per-page
 * free_frozen_pages() loop the series' third patch replaced (its CMA test).
 *
 * Built only into kgen's benchmark kernel (CONFIG_KGEN_BENCH, no DEBUG_VM).
 * Each case prints one line per measurement, which kgen bench collects over
 * several boots:
 *
 *   # <case>: kgen-bench: name=<row> iterations=<n> total_ns=<t>
 *
 * The vfree rows time vfree() of a 512-page vmalloc() area and, apart,
 * free_pages_bulk() of 512 pages allocated the way vmalloc() allocates
 * them: that is vfree()'s page free without its unmap, which on UML is a
 * host munmap() call, so it times the batched vfree on every arch.
 *
 * On a tree without the frozen contiguous allocator (Linux 6.12 has neither
 * alloc_contig_frozen_pages() nor free_contig_frozen_range()) the frozen
 * rows cannot be measured: their case ends as a skip that names them.
 */
#include <kunit/test.h>
#include <linux/gfp.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/vmalloc.h>

#include "kgen_caps.h"
#include "kgen_protocol.h"

#include "../internal.h"
#if KGEN_HAVE_MM_PAGE_ALLOC_H
#include "../page_alloc.h"	/* free_frozen_pages() in 7.3 */
#endif

/* Iterations per measurement; kgen scales them per arch (QEMU TCG is slow). */
static unsigned int iterations = 1000;
module_param(iterations, uint, 0444);
MODULE_PARM_DESC(iterations, "iterations per measurement");

static unsigned int contig_iterations = 20;
module_param(contig_iterations, uint, 0444);
MODULE_PARM_DESC(contig_iterations, "iterations of the 16384-page contiguous allocations");

#define KGEN_BENCH_HIGH_ORDER	PMD_ORDER
#define KGEN_BENCH_CONTIG_PAGES	16384UL
/* The series' largest lib/test_vmalloc size, p:512. */
#define KGEN_BENCH_VFREE_PAGES	512U

#define KGEN_BENCH_HAVE_FROZEN	(KGEN_HAVE_ALLOC_CONTIG_FROZEN_PAGES && \
				 KGEN_HAVE_FREE_CONTIG_FROZEN_RANGE)

static void kgen_bench_report(struct kunit *test, const char *row,
			      unsigned int n, u64 total_ns)
{
	/* kgen bench passes the parameters by the names in kgen_protocol.h. */
	BUILD_BUG_ON(__builtin_strcmp(MODULE_PARAM_PREFIX "iterations=",
				      KGEN_PROTO_BENCH_ITERATIONS_ARG));
	BUILD_BUG_ON(__builtin_strcmp(MODULE_PARAM_PREFIX "contig_iterations=",
				      KGEN_PROTO_BENCH_CONTIG_ARG));

	kunit_info(test, KGEN_PROTO_BENCH_NAME "%s" KGEN_PROTO_BENCH_ITERATIONS "%u"
		   KGEN_PROTO_BENCH_TOTAL_NS "%llu", row, n, total_ns);
}

/* How one high-order iteration frees its pages. */
enum kgen_bench_free {
	KGEN_BENCH_BATCHED,	/* split, then free_contig_range() */
	KGEN_BENCH_LOOP,	/* split, then __free_page() on every page */
	KGEN_BENCH_FLOOR,	/* never split: one __free_pages() block */
};

/*
 * alloc_pages(PMD_ORDER), split_page() unless this is the floor, then
 * freed as how says.  Only the free is timed.
 */
static u64 kgen_bench_high_order_once(struct kunit *test, enum kgen_bench_free how,
				      unsigned int iteration)
{
	unsigned long nr = 1UL << KGEN_BENCH_HIGH_ORDER, i;
	struct page *page;
	u64 start, elapsed;

	page = alloc_pages(GFP_KERNEL | __GFP_NOWARN, KGEN_BENCH_HIGH_ORDER);
	/* A free path that leaks pages fragments memory until this fails. */
	KUNIT_ASSERT_NOT_NULL_MSG(test, page,
				  "alloc_pages(order %d) failed at iteration %u",
				  KGEN_BENCH_HIGH_ORDER, iteration);
	if (how != KGEN_BENCH_FLOOR)
		split_page(page, KGEN_BENCH_HIGH_ORDER);
	start = ktime_get_ns();
	switch (how) {
	case KGEN_BENCH_BATCHED:
		free_contig_range(page_to_pfn(page), nr);
		break;
	case KGEN_BENCH_LOOP:
		for (i = 0; i < nr; i++)
			__free_page(page + i);
		break;
	case KGEN_BENCH_FLOOR:
		__free_pages(page, KGEN_BENCH_HIGH_ORDER);
		break;
	}
	elapsed = ktime_get_ns() - start;
	return elapsed;
}

static void kgen_bench_high_order(struct kunit *test)
{
	u64 batched = 0, loop = 0, floor = 0;
	unsigned int i;

	/* Interleaved, so drift in the boot affects all three alike. */
	for (i = 0; i < iterations; i++) {
		batched += kgen_bench_high_order_once(test, KGEN_BENCH_BATCHED, i);
		loop += kgen_bench_high_order_once(test, KGEN_BENCH_LOOP, i);
		floor += kgen_bench_high_order_once(test, KGEN_BENCH_FLOOR, i);
	}
	kgen_bench_report(test, KGEN_PROTO_BENCH_ROW_BATCHED, iterations, batched);
	kgen_bench_report(test, KGEN_PROTO_BENCH_ROW_LOOP, iterations, loop);
	kgen_bench_report(test, KGEN_PROTO_BENCH_ROW_FLOOR, iterations, floor);
}

#if KGEN_BENCH_HAVE_FROZEN
static struct page *kgen_bench_alloc_frozen(struct kunit *test, unsigned int iteration,
					    u64 *alloc_ns)
{
	struct page *page;
	u64 t;

	t = ktime_get_ns();
	page = alloc_contig_frozen_pages(KGEN_BENCH_CONTIG_PAGES,
					 GFP_KERNEL | __GFP_NOWARN,
					 numa_node_id(), NULL);
	*alloc_ns += ktime_get_ns() - t;
	KUNIT_ASSERT_NOT_NULL_MSG(test, page,
				  "alloc_contig_frozen_pages(%lu) failed at iteration %u",
				  KGEN_BENCH_CONTIG_PAGES, iteration);
	return page;
}

/*
 * The frozen half of a contig iteration: refcount-0 pages, as CMA uses,
 * freed by free_contig_frozen_range(), then allocated again and freed page
 * by page with free_frozen_pages(), as __free_contig_frozen_range() did
 * before the series batched it.  Both allocations count in *alloc_ns.
 */
static void kgen_bench_contig_frozen(struct kunit *test, unsigned int iteration,
				     u64 *alloc_ns, u64 *free_ns, u64 *loop_ns)
{
	struct page *page;
	unsigned long i;
	u64 t;

	page = kgen_bench_alloc_frozen(test, iteration, alloc_ns);
	t = ktime_get_ns();
	free_contig_frozen_range(page_to_pfn(page), KGEN_BENCH_CONTIG_PAGES);
	*free_ns += ktime_get_ns() - t;

	page = kgen_bench_alloc_frozen(test, iteration, alloc_ns);
	t = ktime_get_ns();
	for (i = 0; i < KGEN_BENCH_CONTIG_PAGES; i++)
		free_frozen_pages(page + i, 0);
	*loop_ns += ktime_get_ns() - t;
}
#else
/* This tree has no frozen contiguous allocator; kgen_bench_contig() skips. */
static void kgen_bench_contig_frozen(struct kunit *test, unsigned int iteration,
				     u64 *alloc_ns, u64 *free_ns, u64 *loop_ns)
{
}
#endif

/* CMA-style: 16384 contiguous pages, normal and frozen, alloc + free timed. */
static void kgen_bench_contig(struct kunit *test)
{
	u64 alloc_ns = 0, free_ns = 0, falloc_ns = 0, ffree_ns = 0, floop_ns = 0, t;
	struct page *page;
	unsigned int i;

	for (i = 0; i < contig_iterations; i++) {
		t = ktime_get_ns();
		page = alloc_contig_pages(KGEN_BENCH_CONTIG_PAGES, GFP_KERNEL | __GFP_NOWARN,
					  numa_node_id(), NULL);
		alloc_ns += ktime_get_ns() - t;
		KUNIT_ASSERT_NOT_NULL_MSG(test, page,
					  "alloc_contig_pages(%lu) failed at iteration %u",
					  KGEN_BENCH_CONTIG_PAGES, i);
		t = ktime_get_ns();
		free_contig_range(page_to_pfn(page), KGEN_BENCH_CONTIG_PAGES);
		free_ns += ktime_get_ns() - t;

		kgen_bench_contig_frozen(test, i, &falloc_ns, &ffree_ns, &floop_ns);
	}
	kgen_bench_report(test, "contig16384.alloc_contig_pages", contig_iterations, alloc_ns);
	kgen_bench_report(test, "contig16384.free_contig_range", contig_iterations, free_ns);
	if (!KGEN_BENCH_HAVE_FROZEN)
		kunit_skip(test,
			   "rows " KGEN_PROTO_BENCH_ROW_FROZEN_ALLOC ", " KGEN_PROTO_BENCH_ROW_FROZEN_FREE " and " KGEN_PROTO_BENCH_ROW_FROZEN_LOOP " not measured: this kernel has no alloc_contig_frozen_pages()/free_contig_frozen_range()");
	/* Two frozen allocations per iteration. */
	kgen_bench_report(test, KGEN_PROTO_BENCH_ROW_FROZEN_ALLOC, 2 * contig_iterations,
			  falloc_ns);
	kgen_bench_report(test, KGEN_PROTO_BENCH_ROW_FROZEN_FREE, contig_iterations,
			  ffree_ns);
	kgen_bench_report(test, KGEN_PROTO_BENCH_ROW_FROZEN_LOOP, contig_iterations,
			  floop_ns);
}

/* One vmalloc() + vfree(); only the vfree() is timed. */
static u64 kgen_bench_vfree_once(struct kunit *test, unsigned int iteration)
{
	void *area;
	u64 t;

	area = vmalloc(KGEN_BENCH_VFREE_PAGES * PAGE_SIZE);
	KUNIT_ASSERT_NOT_NULL_MSG(test, area, "vmalloc(%u pages) failed at iteration %u",
				  KGEN_BENCH_VFREE_PAGES, iteration);
	/*
	 * Purge the lazily freed vmap areas now, untimed: otherwise every few
	 * dozen vfree()s one of them would pay for flushing all the others.
	 */
	vm_unmap_aliases();
	t = ktime_get_ns();
	vfree(area);
	return ktime_get_ns() - t;
}

#if KGEN_HAVE_FREE_PAGES_BULK
/*
 * 512 pages as vm_area_alloc_pages() gets them: the largest order that
 * fits what is left, split to order 0, falling back to smaller orders.
 * Returns how many it got.
 */
static unsigned int kgen_bench_vmalloc_pages(struct page **pages)
{
	unsigned int order = ilog2(KGEN_BENCH_VFREE_PAGES), nr = 0, i;
	struct page *page;

	while (nr < KGEN_BENCH_VFREE_PAGES) {
		order = min_t(unsigned int, order, ilog2(KGEN_BENCH_VFREE_PAGES - nr));
		page = alloc_pages(GFP_KERNEL | __GFP_NOWARN, order);
		if (!page) {
			if (!order)
				break;
			order--;
			continue;
		}
		split_page(page, order);
		for (i = 0; i < (1U << order); i++)
			pages[nr++] = page + i;
	}
	return nr;
}

/* The page free of one vfree(), without the unmap; only the free is timed. */
static u64 kgen_bench_free_pages_bulk_once(struct kunit *test, struct page **pages,
					   unsigned int iteration)
{
	unsigned int nr = kgen_bench_vmalloc_pages(pages);
	u64 t;

	if (nr < KGEN_BENCH_VFREE_PAGES)
		free_pages_bulk(pages, nr);
	KUNIT_ASSERT_EQ_MSG(test, nr, KGEN_BENCH_VFREE_PAGES,
			    "got %u of %u pages at iteration %u", nr,
			    KGEN_BENCH_VFREE_PAGES, iteration);
	t = ktime_get_ns();
	free_pages_bulk(pages, nr);
	return ktime_get_ns() - t;
}
#endif

/* vfree() and its page free alone, interleaved as the high-order rows. */
static void kgen_bench_vfree(struct kunit *test)
{
	u64 vfree_ns = 0, bulk_ns = 0;
	unsigned int i;
#if KGEN_HAVE_FREE_PAGES_BULK
	struct page **pages = kunit_kcalloc(test, KGEN_BENCH_VFREE_PAGES, sizeof(*pages),
					    GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, pages);
#endif
	for (i = 0; i < iterations; i++) {
		vfree_ns += kgen_bench_vfree_once(test, i);
#if KGEN_HAVE_FREE_PAGES_BULK
		bulk_ns += kgen_bench_free_pages_bulk_once(test, pages, i);
#endif
	}
	kgen_bench_report(test, KGEN_PROTO_BENCH_ROW_VFREE, iterations, vfree_ns);
	if (!KGEN_HAVE_FREE_PAGES_BULK)
		kunit_skip(test, "row " KGEN_PROTO_BENCH_ROW_FREE_PAGES_BULK " not measured: this kernel has no free_pages_bulk()");
	kgen_bench_report(test, KGEN_PROTO_BENCH_ROW_FREE_PAGES_BULK, iterations, bulk_ns);
}

static struct kunit_case kgen_bench_cases[] = {
	KUNIT_CASE_SLOW(kgen_bench_high_order),
	KUNIT_CASE_SLOW(kgen_bench_contig),
	KUNIT_CASE_SLOW(kgen_bench_vfree),
	{}
};

static struct kunit_suite kgen_bench_suite = {
	.name = KGEN_PROTO_BENCH_SUITE,
	.test_cases = kgen_bench_cases,
};

kunit_test_suite(kgen_bench_suite);

MODULE_DESCRIPTION("kgen benchmark lane: batched vs per-page contiguous free");
MODULE_LICENSE("GPL");
