// SPDX-License-Identifier: GPL-2.0
/*
 * kgen span family: the life of a span of order-0 pages.  A test owns a
 * "block" and frees a "span" inside it through the API under test; the
 * span tracks, page by page, what the test still owns, so that a KUnit
 * cleanup action can give every page back even when an assertion aborts
 * the case half-way.
 */
#include <linux/cma.h>
#include <linux/gfp.h>
#include <linux/mm.h>

#include "../internal.h"
#include "kgen_kunit.h"
#if KGEN_HAVE_MM_PAGE_ALLOC_H
#include "../page_alloc.h"
#endif

/* Give back one order-0 page the test owns, refcounted or frozen. */
static void kgen_free_owned_page(struct page *page, bool frozen)
{
	if (frozen)
		set_page_refcounted(page);
	__free_page(page);
}

/*
 * Give [@idx, @idx + @nr) of the block back to the CMA area it came from:
 * cma_release() also clears the area's bitmap, which a plain free would
 * leave set for good.
 */
static void kgen_release_to_cma(struct kgen_span *span, unsigned long idx,
				unsigned long nr)
{
	enum kgen_free_api api = kgen_frozen(span) ?
		KGEN_FREE_CMA_RELEASE_FROZEN : KGEN_FREE_CMA_RELEASE;

	kgen_free_api_call(api, span->block_pfn + idx, nr, NULL, NULL);
}

/* The block pages the test still owns, run by run, back to the CMA area. */
static void kgen_release_owned_cma(struct kgen_span *span)
{
	unsigned long i, run = 0;

	for (i = 0; i <= span->block_pages; i++) {
		if (i < span->block_pages && span->owner[i] == KGEN_OWNED) {
			span->owner[i] = KGEN_GIVEN;
			run++;
			continue;
		}
		if (run)
			kgen_release_to_cma(span, i - run, run);
		run = 0;
	}
}

/*
 * A spoiled page the free path refused sits with refcount 0 outside the
 * buddy.  Undo the spoiling and free it for real, so the next case finds
 * the zone as it was.  If the free path wrongly put it in the buddy (the
 * bug kgen looks for), only clear the flag: the page is no longer ours.
 */
static void kgen_unspoil(struct kgen_span *span, unsigned long idx)
{
	struct page *page = pfn_to_page(span->pfn + idx);
	enum kgen_spoil how = span->spoiled[idx];
	bool leaked = span->owner[span->pfn - span->block_pfn + idx] == KGEN_GIVEN &&
		      kgen_free_block_order(page) < 0 && !page_ref_count(page);

	span->spoiled[idx] = KGEN_SPOIL_NONE;
	if (how == KGEN_SPOIL_HWPOISON)
		ClearPageHWPoison(page);
	else if (how == KGEN_SPOIL_BAD_STATE)
		ClearPageReserved(page);
	if (leaked)
		kgen_free_owned_page(page, true);
}

/**
 * kgen_span_release() - give back everything the test still owns
 * @span: the span
 *
 * Drops the extra references still held on span pages, returns spoiled
 * pages the free path leaked, and frees every block page the test still
 * owns (guards, the rest of the block, span pages never handed to the free
 * API).  Idempotent: the body calls it to check the zone balances, and the
 * KUnit cleanup action calls it again, which then does nothing unless the
 * body was aborted.
 */
void kgen_span_release(struct kgen_span *span)
{
	unsigned long i;

	kgen_span_put_held(span);
	for (i = 0; i < span->nr_pages; i++)
		if (span->spoiled[i] != KGEN_SPOIL_NONE)
			kgen_unspoil(span, i);
#if KGEN_HAVE_FREE_CONTIG_FROZEN_RANGE && defined(CONFIG_CONTIG_ALLOC)
	if (span->alloc == KGEN_ALLOC_FROZEN_COMPOUND) {
		/* A compound block goes back whole, or not at all. */
		if (span->owner[0] == KGEN_OWNED) {
			memset(span->owner, KGEN_GIVEN, span->block_pages);
			free_contig_frozen_range(span->block_pfn, span->block_pages);
		}
		return;
	}
#endif
	if (kgen_from_cma(span)) {
		kgen_release_owned_cma(span);
		return;
	}
	for (i = 0; i < span->block_pages; i++) {
		if (span->owner[i] != KGEN_OWNED)
			continue;
		span->owner[i] = KGEN_GIVEN;
		kgen_free_owned_page(pfn_to_page(span->block_pfn + i),
				     kgen_frozen(span));
	}
}

static void kgen_span_release_action(void *data)
{
	kgen_span_release(data);
}

/*
 * A naturally aligned block from the default CMA area, as
 * dma_alloc_contiguous() takes one; skips the case when the kernel has no
 * such area.
 */
static struct page *kgen_alloc_cma_block(struct kunit *test, bool frozen,
					 unsigned int block_order)
{
	struct cma *cma = kgen_cma_area();

	if (!cma)
		kunit_skip(test, "no default CMA area: needs CONFIG_DMA_CMA and cma= (guest.cma_mb)");
#if KGEN_HAVE_CMA_ALLOC_FROZEN
	if (frozen)
		return cma_alloc_frozen(cma, 1UL << block_order, block_order, true);
#endif
#if KGEN_HAVE_CMA_ALLOC
	if (!frozen)
		return cma_alloc(cma, 1UL << block_order, block_order, true);
#endif
	kunit_skip(test, "needs cma_alloc%s()", frozen ? "_frozen" : "");
	return NULL;
}

static struct page *kgen_alloc_block(struct kunit *test, struct kgen_span *span,
				     unsigned int block_order)
{
	gfp_t gfp = GFP_KERNEL | __GFP_NOWARN;
	struct page *block;

	switch (span->alloc) {
	case KGEN_ALLOC_CMA:
	case KGEN_ALLOC_CMA_FROZEN:
		return kgen_alloc_cma_block(test, kgen_frozen(span), block_order);
	case KGEN_ALLOC_SPLIT:
		if (block_order <= MAX_PAGE_ORDER) {
			block = alloc_pages(gfp, block_order);
			if (block)
				split_page(block, block_order);
			return block;
		}
		/* Beyond the buddy's reach: a naturally aligned contiguous range. */
		fallthrough;
	case KGEN_ALLOC_CONTIG:
#ifdef CONFIG_CONTIG_ALLOC
		return alloc_contig_pages(1UL << block_order, gfp, numa_node_id(),
					  NULL);
#else
		kunit_skip(test, "needs CONFIG_CONTIG_ALLOC for %lu pages",
			   1UL << block_order);
		return NULL;
#endif
	case KGEN_ALLOC_FROZEN_COMPOUND:
#if KGEN_HAVE_ALLOC_FROZEN_PAGES
		/*
		 * A buddy-sized frozen folio comes from the buddy allocator.
		 * alloc_contig_frozen_pages(__GFP_COMP) is meant for gigantic
		 * folios: in 7.3, asked for a small one inside a larger free
		 * block, it WARNs ("PFN range: requested ...") and fails
		 * (mm/page_alloc.c:7437) without giving back the free pages it
		 * already isolated.
		 */
		if (block_order <= MAX_PAGE_ORDER)
			return alloc_frozen_pages(gfp | __GFP_COMP, block_order);
#endif
		gfp |= __GFP_COMP;
		fallthrough;
	case KGEN_ALLOC_FROZEN:
#if KGEN_HAVE_ALLOC_CONTIG_FROZEN_PAGES && defined(CONFIG_CONTIG_ALLOC)
		return alloc_contig_frozen_pages(1UL << block_order, gfp,
						 numa_node_id(), NULL);
#else
		kunit_skip(test, "needs alloc_contig_frozen_pages()");
		return NULL;
#endif
	}
	return NULL;
}

/*
 * The span's bookkeeping, before its block: allocated up front because a
 * later kmalloc() could pull a slab page from the zone between the
 * counter snapshots and show up as a phantom leak.  That includes the
 * page array for free_pages_bulk().
 */
static struct kgen_span *kgen_span_new(struct kunit *test,
				       enum kgen_alloc alloc, unsigned int order,
				       unsigned int block_order)
{
	struct kgen_span *span;

	span = kunit_kzalloc(test, sizeof(*span), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, span);
	span->test = test;
	span->alloc = alloc;
	span->order = order;
	span->nr_pages = 1UL << order;
	span->block_pages = 1UL << block_order;
	span->owner = kunit_kcalloc(test, span->block_pages, sizeof(u8),
				    GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, span->owner);
	span->refs = kunit_kcalloc(test, span->nr_pages, sizeof(unsigned int),
				   GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, span->refs);
	span->spoiled = kunit_kcalloc(test, span->nr_pages, sizeof(u8),
				      GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, span->spoiled);
	span->array = kunit_kmalloc_array(test, span->nr_pages,
					  sizeof(*span->array), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, span->array);
	span->set = kgen_pageset_new(test, span->array, span->nr_pages);
	return span;
}

/*
 * Fill every block page with its pattern, list the span's pages, and take
 * the snapshots the expectations compare with: after a settle and a
 * drain, so that nothing queued before the case moves the counters.
 */
static void kgen_span_ready(struct kgen_span *span, enum kgen_span_layout layout,
			    bool settle)
{
	unsigned long i;

	span->pfn = span->block_pfn;
	if (layout == KGEN_LAYOUT_GUARDED)
		span->pfn += span->nr_pages;
	for (i = 0; i < span->block_pages; i++)
		kgen_fill_page(pfn_to_page(span->block_pfn + i));
	for (i = 0; i < span->nr_pages; i++)
		span->array[i] = kgen_span_page(span, i);
	kgen_pageset_ready(span->set);

	if (settle)
		kgen_settle();
	kgen_drain(span);
	span->free_after_alloc = kgen_zone_free_pages(span);
	span->cma_after_alloc = kgen_zone_nr_free_cma(span->zone);
	span->taint_before = get_taint();
}

static struct kgen_span *kgen_span_alloc_common(struct kunit *test,
						 enum kgen_alloc alloc,
						 unsigned int order,
						 enum kgen_span_layout layout,
						 bool settle)
{
	unsigned int block_order = order;
	struct kgen_span *span;
	struct page *block;

	/*
	 * Beyond MAX_PAGE_ORDER only a contiguous range allocator can provide
	 * the span (and the batched free must cut it into MAX_PAGE_ORDER
	 * chunks); a split_page() span or a compound folio cannot be that big.
	 */
	if (order > MAX_PAGE_ORDER &&
	    (alloc == KGEN_ALLOC_SPLIT || alloc == KGEN_ALLOC_FROZEN_COMPOUND))
		kunit_skip(test, "order %u > MAX_PAGE_ORDER (%u) on this kernel",
			   order, MAX_PAGE_ORDER);
	if (layout == KGEN_LAYOUT_GUARDED)
		block_order += 2;

	span = kgen_span_new(test, alloc, order, block_order);
	block = kgen_alloc_block(test, span, block_order);
	KUNIT_ASSERT_NOT_NULL_MSG(test, block,
				  "cannot allocate %lu contiguous pages",
				  span->block_pages);
	span->block_pfn = page_to_pfn(block);
	span->zone = page_zone(block);
	/* All pages are owned from here on (kcalloc zeroed = KGEN_OWNED). */
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test,
				kgen_span_release_action, span));
	kgen_span_ready(span, layout, settle);
	return span;
}

/**
 * kgen_span_alloc() - allocate a span of order-0 pages
 * @test: the test case
 * @alloc: how to allocate the block
 * @order: log2 of the number of pages in the span
 * @layout: whether the span has guard pages around it
 *
 * Allocates the block (above MAX_PAGE_ORDER with alloc_contig_pages() or
 * alloc_contig_frozen_pages()), fills every page with a pfn-derived
 * pattern, drains the pcp lists and snapshots the zone's NR_FREE_PAGES.
 * Skips the case when a split_page() or compound span of @order exceeds
 * this kernel's MAX_PAGE_ORDER; asserts (and so ends the case) when memory
 * is short.
 *
 * Return: the span; it is released by a KUnit cleanup action.
 */
struct kgen_span *kgen_span_alloc(struct kunit *test, enum kgen_alloc alloc,
				  unsigned int order,
				  enum kgen_span_layout layout)
{
	return kgen_span_alloc_common(test, alloc, order, layout, true);
}

/**
 * kgen_span_alloc_unsettled() - kgen_span_alloc() without kgen_settle()
 * @test: the test case
 * @alloc: how to allocate the block
 * @order: log2 of the span size
 * @layout: where the span sits in the block
 *
 * For cases that allocate span after span and compare no counter
 * snapshot with the span's (the concurrency family): waiting for RCU and
 * the system workqueues before each span would cost most of their time.
 *
 * Return: the span, as kgen_span_alloc()'s.
 */
struct kgen_span *kgen_span_alloc_unsettled(struct kunit *test,
					    enum kgen_alloc alloc,
					    unsigned int order,
					    enum kgen_span_layout layout)
{
	return kgen_span_alloc_common(test, alloc, order, layout, false);
}

/**
 * kgen_span_free() - hand the whole span to a free API
 * @span: the span
 * @api: the free path under test
 *
 * Each page loses the test's allocation reference; pages the test holds
 * extra references on must survive that.  Skips the case, with the pages
 * still owned, if this kernel lacks @api (vfree() is the vmalloc family's:
 * a span has no area for it).
 */
void kgen_span_free(struct kgen_span *span, enum kgen_free_api api)
{
	kgen_span_free_in(span, api, KGEN_CTX_PROCESS);
}

/**
 * kgen_span_free_in() - hand the whole span to a free API from a context
 * @span: the span; its pages count as given to the API from here on
 * @api: free path under test
 * @context: where to call it from (kgen_context.c)
 *
 * The same as kgen_span_free(), but the call is made under a spinlock,
 * with interrupts or bottom halves off, or in hardirq context.  A tree
 * without the API skips the case, after the context is left again.
 */
void kgen_span_free_in(struct kgen_span *span, enum kgen_free_api api,
		       enum kgen_free_context context)
{
	unsigned long idx, base = span->pfn - span->block_pfn;

	for (idx = 0; idx < span->nr_pages; idx++)
		span->owner[base + idx] = KGEN_GIVEN;
	if (kgen_free_api_call_in(span->test, context, api, span->pfn,
				  span->nr_pages, span->array, NULL))
		return;

	/* Not in this tree: nothing was freed, so the pages are still ours. */
	for (idx = 0; idx < span->nr_pages; idx++)
		span->owner[base + idx] = KGEN_OWNED;
	kunit_skip(span->test, "%s() is not available in this kernel",
		   kgen_free_api_name(api));
}

/**
 * kgen_span_put_held() - drop the extra references the test holds
 * @span: the span
 *
 * The last put_page() on a page the free API had to leave behind must free
 * it, as the compaction scanner's put would.
 */
void kgen_span_put_held(struct kgen_span *span)
{
	unsigned long idx;

	for (idx = 0; idx < span->nr_pages; idx++) {
		while (span->refs[idx]) {
			span->refs[idx]--;
			put_page(kgen_span_page(span, idx));
		}
	}
}

/**
 * kgen_drain() - empty the pcp lists of the span's zone
 * @span: the span
 *
 * Freed order-0 and low-order chunks sit on per-cpu lists, where they are
 * neither PageBuddy nor counted in NR_FREE_PAGES; draining moves them to
 * the buddy lists so the expectations can see them.
 */
void kgen_drain(struct kgen_span *span)
{
	drain_all_pages(span->zone);
}

/**
 * kgen_zone_free_pages() - NR_FREE_PAGES of the span's zone, exactly
 * @span: the span
 *
 * Return: the counter including not yet folded per-cpu deltas.
 */
unsigned long kgen_zone_free_pages(struct kgen_span *span)
{
	return kgen_zone_nr_free(span->zone);
}
