// SPDX-License-Identifier: GPL-2.0
/*
 * kgen KUnit helpers: see kgen_kunit.h for the model.
 *
 * Every expectation helper checks all pages first and reports once, naming
 * the spec expectation, how many pages broke it and the first offender by
 * span index and pfn: a 512-page span must not produce 512 failure lines.
 */
#include <linux/async.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/ktime.h>
#include <linux/moduleparam.h>
#include <linux/panic.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <linux/vmstat.h>
#include <linux/workqueue.h>

#include "../internal.h"
#include "kgen_kunit.h"
#include "kgen_protocol.h"
#if KGEN_HAVE_MM_PAGE_ALLOC_H
#include "../page_alloc.h"	/* buddy_order(), drain_all_pages() in 7.3 */
#endif


/* Never 0: a page zeroed by free_pages_prepare() must not look filled. */
static u8 kgen_pattern(unsigned long pfn)
{
	return (u8)(pfn ^ 0xa5) ?: 0x5a;
}

/**
 * kgen_fill_page() - fill a page the test owns with its pfn pattern
 * @page: the page
 */
void kgen_fill_page(struct page *page)
{
	void *addr = kmap_local_page(page);

	memset(addr, kgen_pattern(page_to_pfn(page)), PAGE_SIZE);
	kunmap_local(addr);
}

/**
 * kgen_page_intact() - whether a page still holds its pfn pattern
 * @page: a page kgen_fill_page() filled
 *
 * Return: true if every byte is the pattern.
 */
bool kgen_page_intact(struct page *page)
{
	void *addr = kmap_local_page(page);
	bool intact;

	intact = !memchr_inv(addr, kgen_pattern(page_to_pfn(page)), PAGE_SIZE);
	kunmap_local(addr);
	return intact;
}

static struct page *kgen_span_page(const struct kgen_span *span,
				   unsigned long idx)
{
	return pfn_to_page(span->pfn + idx);
}

/**
 * kgen_free_api_name() - the kernel function a free API value stands for
 * @api: the free API
 *
 * Return: a static string, for messages.
 */
const char *kgen_free_api_name(enum kgen_free_api api)
{
	switch (api) {
	case KGEN_FREE_CONTIG_RANGE:
		return "free_contig_range";
	case KGEN_FREE___CONTIG_RANGE:
		return "__free_contig_range";
	case KGEN_FREE_PAGES_BULK:
		return "free_pages_bulk";
	case KGEN_FREE_PAGE_LOOP:
		return "__free_page loop";
	case KGEN_FREE_CONTIG_FROZEN_RANGE:
		return "free_contig_frozen_range";
	case KGEN_FREE_VFREE:
		return "vfree";
	}
	return "?";
}

static bool kgen_frozen(const struct kgen_span *span)
{
	return span->alloc == KGEN_ALLOC_FROZEN ||
	       span->alloc == KGEN_ALLOC_FROZEN_COMPOUND;
}

/* Give back one order-0 page the test owns, refcounted or frozen. */
static void kgen_free_owned_page(struct page *page, bool frozen)
{
	if (frozen)
		set_page_refcounted(page);
	__free_page(page);
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

static struct page *kgen_alloc_block(struct kunit *test, struct kgen_span *span,
				     unsigned int block_order)
{
	gfp_t gfp = GFP_KERNEL | __GFP_NOWARN;
	struct page *block;

	switch (span->alloc) {
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

/**
 * kgen_span_alloc() - allocate a span of order-0 pages
 * @test: the test case
 * @alloc: how to allocate the block
 * @order: log2 of the number of pages in the span
 * @layout: whether the span has guard pages around it
 *
 * Allocates the block (above MAX_PAGE_ORDER with alloc_contig_pages() or
 * alloc_contig_frozen_pages()), fills every page with a pfn-derived
 * pattern, drains the pcp lists and snapshots the zone's NR_FREE_PAGES.  Skips the case when a
 * split_page() or compound span of @order exceeds this kernel's
 * MAX_PAGE_ORDER; asserts (and so ends the case) when memory is short.
 *
 * Return: the span; it is released by a KUnit cleanup action.
 */
struct kgen_span *kgen_span_alloc(struct kunit *test, enum kgen_alloc alloc,
				  unsigned int order,
				  enum kgen_span_layout layout)
{
	unsigned int block_order = order;
	struct kgen_span *span;
	struct page *block;
	unsigned long i;

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
	/*
	 * The page array for free_pages_bulk() is allocated up front: a later
	 * kmalloc() could pull a slab page from the zone between the counter
	 * snapshots and show up as a phantom leak.
	 */
	span->array = kunit_kmalloc_array(test, span->nr_pages,
					  sizeof(*span->array), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, span->array);
	span->set = kgen_pageset_new(test, span->array, span->nr_pages);

	block = kgen_alloc_block(test, span, block_order);
	KUNIT_ASSERT_NOT_NULL_MSG(test, block,
				  "cannot allocate %lu contiguous pages",
				  span->block_pages);
	span->block_pfn = page_to_pfn(block);
	span->zone = page_zone(block);
	/* All pages are owned from here on (kcalloc zeroed = KGEN_OWNED). */
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test,
				kgen_span_release_action, span));

	span->pfn = span->block_pfn;
	if (layout == KGEN_LAYOUT_GUARDED)
		span->pfn += span->nr_pages;
	for (i = 0; i < span->block_pages; i++)
		kgen_fill_page(pfn_to_page(span->block_pfn + i));
	for (i = 0; i < span->nr_pages; i++)
		span->array[i] = kgen_span_page(span, i);
	kgen_pageset_ready(span->set);

	kgen_settle();
	kgen_drain(span);
	span->free_after_alloc = kgen_zone_free_pages(span);
	span->taint_before = get_taint();
	return span;
}

static bool kgen_sel_match(const struct kgen_sel *sel, unsigned long idx,
			   unsigned long nr_pages)
{
	switch (sel->kind) {
	case KGEN_SEL_FIRST:
		return idx == 0;
	case KGEN_SEL_LAST:
		return idx == nr_pages - 1;
	case KGEN_SEL_MIDDLE:
		return idx == nr_pages / 2;
	case KGEN_SEL_INDEX:
		return idx == sel->arg;
	case KGEN_SEL_EVERY:
		return sel->arg && idx % sel->arg == 0;
	}
	return false;
}

/**
 * kgen_selected() - whether any selector picks a span page
 * @span: the span
 * @sel: page selectors
 * @nr_sel: number of selectors
 * @idx: page index in the span
 *
 * Return: true if at least one of the @nr_sel selectors matches @idx.
 */
static bool kgen_selected(const struct kgen_span *span,
			  const struct kgen_sel *sel, unsigned int nr_sel,
			  unsigned long idx)
{
	unsigned int s;

	for (s = 0; s < nr_sel; s++)
		if (kgen_sel_match(&sel[s], idx, span->nr_pages))
			return true;
	return false;
}

/**
 * kgen_span_hold() - take extra references on selected span pages
 * @span: the span
 * @sel: page selectors
 * @nr_sel: number of selectors
 * @refs: references to take on each selected page
 *
 * Takes them with get_page_unless_zero(), exactly as a compaction scanner
 * that raced with the free would.
 */
void kgen_span_hold(struct kgen_span *span, const struct kgen_sel *sel,
		    unsigned int nr_sel, unsigned int refs)
{
	unsigned long idx;
	unsigned int r;

	for (idx = 0; idx < span->nr_pages; idx++) {
		if (!kgen_selected(span, sel, nr_sel, idx))
			continue;
		for (r = 0; r < refs; r++) {
			KUNIT_ASSERT_TRUE(span->test,
				get_page_unless_zero(kgen_span_page(span, idx)));
			span->refs[idx]++;
		}
	}
}

/**
 * kgen_span_nr_held() - number of span pages the test holds references on
 * @span: the span
 *
 * Return: the count of pages with at least one extra reference.
 */
unsigned long kgen_span_nr_held(const struct kgen_span *span)
{
	unsigned long idx, held = 0;

	for (idx = 0; idx < span->nr_pages; idx++)
		held += span->refs[idx] != 0;
	return held;
}

/**
 * kgen_span_spoil() - make selected span pages unfreeable
 * @span: the span
 * @sel: page selectors
 * @nr_sel: number of selectors
 * @how: HWPoison (needs CONFIG_MEMORY_FAILURE) or a bad page state
 *
 * free_pages_prepare() must then refuse these pages: the free path has to
 * leak them, never hand them to the buddy.  kgen_span_release() undoes it.
 */
void kgen_span_spoil(struct kgen_span *span, const struct kgen_sel *sel,
		     unsigned int nr_sel, enum kgen_spoil how)
{
	unsigned long idx;

	if (how == KGEN_SPOIL_HWPOISON && !IS_ENABLED(CONFIG_MEMORY_FAILURE))
		kunit_skip(span->test, "needs CONFIG_MEMORY_FAILURE (HWPoison)");
	for (idx = 0; idx < span->nr_pages; idx++) {
		struct page *page = kgen_span_page(span, idx);

		if (!kgen_selected(span, sel, nr_sel, idx))
			continue;
		if (how == KGEN_SPOIL_HWPOISON)
			SetPageHWPoison(page);
		else
			SetPageReserved(page);
		span->spoiled[idx] = how;
	}
}

/**
 * kgen_span_nr_spoiled() - number of span pages made unfreeable
 * @span: the span
 *
 * Return: the count of spoiled pages.
 */
unsigned long kgen_span_nr_spoiled(const struct kgen_span *span)
{
	unsigned long idx, spoiled = 0;

	for (idx = 0; idx < span->nr_pages; idx++)
		spoiled += span->spoiled[idx] != KGEN_SPOIL_NONE;
	return spoiled;
}

/**
 * kgen_free_api_call() - hand pages to a free API under test
 * @api: the free path
 * @pfn: first pfn of the pages, for the range APIs and the per-page loop
 * @nr: number of pages
 * @pages: the same pages as an array, for free_pages_bulk(); or NULL
 * @addr: for vfree(), the vmap() or vmalloc() area that owns the pages;
 *        or NULL
 *
 * The one place the helper library calls the free paths it tests, for
 * every family: the range APIs and the __free_page() loop take
 * [@pfn, @pfn + @nr), free_pages_bulk() takes @pages, vfree() takes @addr.
 *
 * Return: true if @api was called.  False, with nothing freed, if this
 * tree or kernel configuration lacks @api, or the caller has no @pages or
 * @addr for it.
 */
bool kgen_free_api_call(enum kgen_free_api api, unsigned long pfn,
			unsigned long nr, struct page **pages, const void *addr)
{
	unsigned long i;

	switch (api) {
	case KGEN_FREE_CONTIG_RANGE:
#if KGEN_HAVE_FREE_CONTIG_RANGE && defined(CONFIG_CONTIG_ALLOC)
		free_contig_range(pfn, nr);
		return true;
#else
		return false;
#endif
	case KGEN_FREE___CONTIG_RANGE:
#if KGEN_HAVE___FREE_CONTIG_RANGE
		__free_contig_range(pfn, nr);
		return true;
#else
		return false;
#endif
	case KGEN_FREE_PAGES_BULK:
#if KGEN_HAVE_FREE_PAGES_BULK
		if (!pages)
			return false;
		free_pages_bulk(pages, nr);
		return true;
#else
		return false;
#endif
	case KGEN_FREE_PAGE_LOOP:
		for (i = 0; i < nr; i++)
			__free_page(pfn_to_page(pfn + i));
		return true;
	case KGEN_FREE_CONTIG_FROZEN_RANGE:
#if KGEN_HAVE_FREE_CONTIG_FROZEN_RANGE && defined(CONFIG_CONTIG_ALLOC)
		free_contig_frozen_range(pfn, nr);
		return true;
#else
		return false;
#endif
	case KGEN_FREE_VFREE:
		if (!addr)
			return false;
		vfree(addr);
		return true;
	}
	return false;
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
	unsigned long idx, base = span->pfn - span->block_pfn;

	for (idx = 0; idx < span->nr_pages; idx++)
		span->owner[base + idx] = KGEN_GIVEN;
	if (kgen_free_api_call(api, span->pfn, span->nr_pages, span->array,
			       NULL))
		return;

	/* Not in this tree: nothing was freed, so the pages are still ours. */
	for (idx = 0; idx < span->nr_pages; idx++)
		span->owner[base + idx] = KGEN_OWNED;
	kunit_skip(span->test, "%s() is not available in this kernel",
		   kgen_free_api_name(api));
}

/* Held and spoiled pages end the runs the free path frees. */
static void kgen_span_note_refused(struct kgen_span *span)
{
	unsigned long idx;

	for (idx = 0; idx < span->nr_pages; idx++)
		span->set->refused[idx] = span->refs[idx] || span->spoiled[idx];
}

/**
 * kgen_expect_span_batched() - the span was freed in whole chunks
 * @test: the test case
 * @span: the span, right after the free and before any drain
 * @api: the free path that freed it
 * @check: whether to check (a batched API on a tree that batches) or only
 *         log where the pages went
 */
void kgen_expect_span_batched(struct kunit *test, struct kgen_span *span,
			      enum kgen_free_api api, bool check)
{
	kgen_span_note_refused(span);
	kgen_expect_pageset_batched(test, span->set, kgen_free_api_name(api),
				    check);
}

/**
 * kgen_expect_prepared() - every freed span page went through
 *                          free_pages_prepare(), no held page did
 * @test: the test case
 * @span: the span, freed and drained, held pages still held
 */
void kgen_expect_prepared(struct kunit *test, struct kgen_span *span)
{
	kgen_span_note_refused(span);
	kgen_expect_pages_prepared(test, span->set, "freed");
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
 * kgen_settle() - let frees queued before the case finish first
 *
 * Call before the snapshots of a count the case checks exactly.  Every
 * case runs in fresh KUnit kthreads; the stack (vmalloc()ed with
 * VMAP_STACK) of one that exited is freed by an RCU callback, which may
 * otherwise run in the middle of the next case and move NR_FREE_PAGES
 * and NR_VMALLOC by its pages.  Where that callback runs in softirq,
 * vfree() hands the stack to vfree_atomic(), whose work item on
 * system_percpu_wq does the free: that is flushed too.
 *
 * Boot-time work that is still running when the first case starts
 * allocates in the same zones: asynchronous initcalls, and device probes
 * queued on system_long_wq (x86_64's i8042 mouse port is probed from
 * serio's work item there, and allocated in half of the x86_64 runs'
 * first case).  Those are waited for as well.  Noise that arrives later
 * is what kgen_run_confirmed() is for.
 */
void kgen_settle(void)
{
	async_synchronize_full();
	rcu_barrier();
	__flush_workqueue(system_long_wq);
	__flush_workqueue(system_unbound_wq);
	__flush_workqueue(system_percpu_wq);
}

/**
 * kgen_zone_nr_free() - NR_FREE_PAGES of a zone, exactly
 * @zone: the zone
 *
 * The snapshot every free-page count of the library is taken with.
 *
 * Return: the counter including not yet folded per-cpu deltas.
 */
unsigned long kgen_zone_nr_free(struct zone *zone)
{
	return zone_page_state_snapshot(zone, NR_FREE_PAGES);
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

/**
 * kgen_buddy_block_locked() - the free buddy block holding a pfn
 * @pfn: any valid pfn
 * @head_pfn: set to the first pfn of the block if there is one; may be NULL
 *
 * The caller holds the lock of the zone of @pfn, so that the answer is
 * stable while it uses it.
 *
 * Return: the order of the free buddy block that contains @pfn, or -1 if
 * the page is not free in the buddy allocator.
 */
int kgen_buddy_block_locked(unsigned long pfn, unsigned long *head_pfn)
{
	int order;

	for (order = 0; order <= MAX_PAGE_ORDER; order++) {
		unsigned long head = pfn & ~((1UL << order) - 1);
		struct page *page;

		if (!pfn_valid(head))
			break;
		page = pfn_to_page(head);
		if (PageBuddy(page) && buddy_order(page) >= order) {
			if (head_pfn)
				*head_pfn = head;
			return buddy_order(page);
		}
	}
	return -1;
}

/**
 * kgen_free_block_order() - order of the free buddy block holding a page
 * @page: any page
 *
 * Return: the order of the free buddy block that contains @page, or -1 if
 * the page is not free in the buddy allocator.  Looked up under the zone
 * lock, so the answer is stable at the time of the call.
 */
int kgen_free_block_order(struct page *page)
{
	struct zone *zone = page_zone(page);
	unsigned long flags;
	int order;

	spin_lock_irqsave(&zone->lock, flags);
	order = kgen_buddy_block_locked(page_to_pfn(page), NULL);
	spin_unlock_irqrestore(&zone->lock, flags);
	return order;
}

/**
 * kgen_expect_freed() - every span page without extra references is free
 * @test: the test case
 * @span: the span, freed and drained
 * @what: the spec expectation being checked, for the message
 */
void kgen_expect_freed(struct kunit *test, struct kgen_span *span,
		       const char *what)
{
	unsigned long idx, bad = 0, first = 0;

	for (idx = 0; idx < span->nr_pages; idx++) {
		if (span->refs[idx] || span->spoiled[idx])
			continue;
		if (kgen_free_block_order(kgen_span_page(span, idx)) >= 0)
			continue;
		if (!bad++)
			first = idx;
	}
	KUNIT_EXPECT_EQ_MSG(test, bad, 0,
		"expect.%s: %lu of %lu pages not in the buddy after drain; first: page %lu (pfn %#lx) refcount %d",
		what, bad, span->nr_pages - kgen_span_nr_held(span) -
		kgen_span_nr_spoiled(span), first,
		span->pfn + first,
		page_ref_count(kgen_span_page(span, first)));
}

/**
 * kgen_expect_retained() - every held span page survived the free intact
 * @test: the test case
 * @span: the span, freed and drained
 * @refcount: refcount each held page must have, 0 for "the references the
 *            test took on it"
 *
 * A held page must not be in the buddy, must carry exactly the references
 * the holder took, and its contents must be untouched.
 */
void kgen_expect_retained(struct kunit *test, struct kgen_span *span,
			  int refcount)
{
	unsigned long idx;

	for (idx = 0; idx < span->nr_pages; idx++) {
		struct page *page = kgen_span_page(span, idx);

		if (!span->refs[idx])
			continue;
		KUNIT_EXPECT_LT_MSG(test, kgen_free_block_order(page), 0,
			"expect.retained: held page %lu (pfn %#lx) is in the buddy",
			idx, span->pfn + idx);
		KUNIT_EXPECT_EQ_MSG(test, page_ref_count(page),
				    refcount ? refcount : (int)span->refs[idx],
			"expect.retained: held page %lu (pfn %#lx) refcount",
			idx, span->pfn + idx);
		KUNIT_EXPECT_TRUE_MSG(test, kgen_page_intact(page),
			"expect.retained: held page %lu (pfn %#lx) contents changed",
			idx, span->pfn + idx);
	}
}

/**
 * kgen_expect_leaked() - every spoiled page was refused by the free path
 * @test: the test case
 * @span: the span, freed and drained
 *
 * free_pages_prepare() fails for a HWPoison or bad page; the batched free
 * must then leave it out: refcount 0, not in the buddy, so it can never be
 * handed out again.
 */
void kgen_expect_leaked(struct kunit *test, struct kgen_span *span)
{
	unsigned long idx, bad = 0, first = 0;
	int order = -1;

	for (idx = 0; idx < span->nr_pages; idx++) {
		struct page *page = kgen_span_page(span, idx);
		int got;

		if (!span->spoiled[idx])
			continue;
		got = kgen_free_block_order(page);
		if (got < 0 && !page_ref_count(page))
			continue;
		if (!bad++) {
			first = idx;
			order = got;
		}
	}
	KUNIT_EXPECT_EQ_MSG(test, bad, 0,
		"expect.leaked: %lu of %lu unfreeable pages were not left out; first: page %lu (pfn %#lx) buddy order %d refcount %d",
		bad, kgen_span_nr_spoiled(span), first, span->pfn + first, order,
		page_ref_count(kgen_span_page(span, first)));
}

/*
 * Largest order a free page at @idx can have reached: the biggest naturally
 * aligned block around it that stays inside the span and holds no page the
 * test kept a reference on or spoiled.
 */
static int kgen_best_order(const struct kgen_span *span, unsigned long idx)
{
	int order, best = 0;

	for (order = 1; order <= min_t(int, span->order, MAX_PAGE_ORDER); order++) {
		unsigned long start = idx & ~((1UL << order) - 1);
		unsigned long i;

		for (i = start; i < start + (1UL << order); i++)
			if (span->refs[i] || span->spoiled[i])
				return best;
		best = order;
	}
	return best;
}

/**
 * kgen_expect_merged() - freed pages merged into large enough buddy blocks
 * @test: the test case
 * @span: the span, freed and drained
 * @min_order: required order, or -1 for "as far as the held pages allow"
 */
void kgen_expect_merged(struct kunit *test, struct kgen_span *span,
			int min_order)
{
	unsigned long idx, bad = 0, first = 0;
	int want_first = 0, got_first = 0;

	for (idx = 0; idx < span->nr_pages; idx++) {
		int want, got;

		if (span->refs[idx] || span->spoiled[idx])
			continue;
		want = min_order >= 0 ? min_order : kgen_best_order(span, idx);
		got = kgen_free_block_order(kgen_span_page(span, idx));
		if (got >= want)
			continue;
		if (!bad++) {
			first = idx;
			want_first = want;
			got_first = got;
		}
	}
	KUNIT_EXPECT_EQ_MSG(test, bad, 0,
		"expect.merged: %lu pages in smaller buddy blocks than expected; first: page %lu (pfn %#lx) order %d, want >= %d",
		bad, first, span->pfn + first, got_first, want_first);
}

/**
 * kgen_expect_free_delta() - NR_FREE_PAGES moved by exactly @expected
 * @test: the test case
 * @span: the span (its zone is the one counted)
 * @before: kgen_zone_free_pages() taken before the operation
 * @expected: pages the operation should have added to the free lists
 */
void kgen_expect_free_delta(struct kunit *test, struct kgen_span *span,
			    unsigned long before, long expected)
{
	long delta = (long)(kgen_zone_free_pages(span) - before);

	kgen_expect_count(test, delta == expected,
		"expect.nr_free_pages: zone %s NR_FREE_PAGES changed by %ld, expected %ld",
		span->zone->name, delta, expected);
}

/**
 * kgen_expect_guards_intact() - pages just outside the span untouched
 * @test: the test case
 * @span: a guarded span
 */
void kgen_expect_guards_intact(struct kunit *test, struct kgen_span *span)
{
	unsigned long guards[2] = { span->pfn - 1, span->pfn + span->nr_pages };
	int refcount = kgen_frozen(span) ? 0 : 1;
	int i;

	if (span->pfn == span->block_pfn)
		return;	/* bare layout: no guards */
	for (i = 0; i < ARRAY_SIZE(guards); i++) {
		struct page *page = pfn_to_page(guards[i]);

		KUNIT_EXPECT_EQ_MSG(test, page_ref_count(page), refcount,
			"expect.guards: guard pfn %#lx refcount", guards[i]);
		KUNIT_EXPECT_LT_MSG(test, kgen_free_block_order(page), 0,
			"expect.guards: guard pfn %#lx is in the buddy",
			guards[i]);
		KUNIT_EXPECT_TRUE_MSG(test, kgen_page_intact(page),
			"expect.guards: guard pfn %#lx contents changed",
			guards[i]);
	}
}

/**
 * kgen_expect_balanced() - the zone got back every page the case took
 * @test: the test case
 * @span: the span, after kgen_span_release() and a drain
 */
void kgen_expect_balanced(struct kunit *test, struct kgen_span *span)
{
	long delta = (long)(kgen_zone_free_pages(span) - span->free_after_alloc);

	kgen_expect_count(test, delta == (long)span->block_pages,
		"expect.balanced: zone %s got %ld of %lu pages back (leak of %ld)",
		span->zone->name, delta, span->block_pages,
		(long)span->block_pages - delta);
}

/*
 * The complaint boot kgen booted this kernel as (KGEN_PROTO_COMPLAINT_BOOT_ARG);
 * 0 in the main boot and every other boot.
 */
static unsigned int complaint_boot;
module_param(complaint_boot, uint, 0444);
MODULE_PARM_DESC(complaint_boot, "number of the complaint boot kgen booted, 0 for none");

/**
 * kgen_boot_require() - skip unless this is the boot the case belongs to
 * @test: the test case
 * @boot: 0 for a case that runs in the main boot, N for one that makes the
 *        kernel complain on purpose and runs in complaint boot N
 *
 * A case that reports a bad page sets TAINT_BAD_PAGE for the rest of the
 * boot and spends bad_page()'s 60 reports a minute; kgen runs such cases
 * in a boot of their own, so that neither can hide another case's report.
 */
void kgen_boot_require(struct kunit *test, unsigned int boot)
{
	/* kgen passes the parameter by the name in kgen_protocol.h. */
	BUILD_BUG_ON(__builtin_strcmp(MODULE_PARAM_PREFIX "complaint_boot=",
				      KGEN_PROTO_COMPLAINT_BOOT_ARG));

	if (boot == complaint_boot)
		return;
	if (boot)
		kunit_skip(test, "runs in complaint boot %u (kgen run boots it with "
			   KGEN_PROTO_COMPLAINT_BOOT_ARG "%u): it makes the kernel complain on purpose",
			   boot, boot);
	kunit_skip(test, "runs in the main boot; this is complaint boot %u", complaint_boot);
}

/**
 * kgen_expect_no_new_taint() - the kernel did not WARN or report a bad page
 * @test: the test case
 * @taint_before: kernel taint flags when the case allocated its pages
 * @allowed_taints: taint bits the case expects (a bad-state case reports a
 *                  bad page on purpose)
 *
 * Taints are sticky, so this sees only the first complaint of each kind in
 * a boot.  kgen runs the cases that complain on purpose in a boot of their
 * own, so in the main boot the taints stay clear until a real bug sets
 * them; kgen's log parser counts every report in every case's log, and
 * says which task made it.
 */
void kgen_expect_no_new_taint(struct kunit *test, unsigned long taint_before,
			      unsigned long allowed_taints)
{
	unsigned long fresh = get_taint() & ~taint_before &
			      KGEN_COMPLAINT_TAINTS & ~allowed_taints;

	/*
	 * Confirmed like a counter: a WARN from another context sets the same
	 * global bits.  Taints are sticky, so a repeat cannot see the bit set
	 * again; kgen's log parser then tells from each attempt's console lines
	 * whose task complained and whether it did so again.
	 */
	kgen_expect_count(test, !fresh,
		"expect.no_warning: kernel taint %#lx appeared (WARN=%d BAD_PAGE=%d DIE=%d)",
		fresh, !!(fresh & BIT(TAINT_WARN)),
		!!(fresh & BIT(TAINT_BAD_PAGE)), !!(fresh & BIT(TAINT_DIE)));
}

/**
 * kgen_span_misuse_tail_start() - free a compound frozen span from a tail
 * @test: the test case
 * @span: a bare KGEN_ALLOC_FROZEN_COMPOUND span
 * @warnings: WARN*() calls the kernel must make (it defines this misuse as
 *            WARN-and-return)
 *
 * Calls free_contig_frozen_range() starting at the first tail page with
 * the warning backtrace suppressed and counted, then checks that nothing
 * was freed.  The span stays owned, to be freed properly afterwards.
 */
void kgen_span_misuse_tail_start(struct kunit *test, struct kgen_span *span,
				 int warnings)
{
#if KGEN_HAVE_KUNIT_WARNING_SUPPRESS && KGEN_HAVE_FREE_CONTIG_FROZEN_RANGE && \
	defined(CONFIG_CONTIG_ALLOC)
	unsigned long before = kgen_zone_free_pages(span);

	kunit_warning_suppress(test) {
		free_contig_frozen_range(span->pfn + 1, span->nr_pages - 1);
		KUNIT_EXPECT_EQ_MSG(test, KUNIT_SUPPRESSED_WARNING_COUNT(), warnings,
			"expect.warnings: free_contig_frozen_range() from a tail page");
	}
	kgen_drain(span);
	kgen_expect_free_delta(test, span, before, 0);
#else
	kunit_skip(test, "needs kunit_warning_suppress() and free_contig_frozen_range()");
#endif
}

/**
 * kgen_span_misuse_compound_head() - free_contig_range() on a compound folio
 * @test: the test case
 * @span: a bare KGEN_ALLOC_FROZEN_COMPOUND span
 * @warnings: WARN*() calls the kernel must make (free_contig_range() frees
 *            non-compound pages only: WARN-and-return on a head page)
 *
 * Calls free_contig_range() on the folio's head with the warning backtrace
 * suppressed and counted, then checks that nothing was freed.  It returns
 * before it touches a refcount, so the frozen folio stays owned, to be
 * freed properly afterwards.
 */
void kgen_span_misuse_compound_head(struct kunit *test, struct kgen_span *span,
				    int warnings)
{
#if KGEN_HAVE_KUNIT_WARNING_SUPPRESS && defined(CONFIG_CONTIG_ALLOC)
	unsigned long before = kgen_zone_free_pages(span);

	kunit_warning_suppress(test) {
		free_contig_range(span->pfn, span->nr_pages);
		KUNIT_EXPECT_EQ_MSG(test, KUNIT_SUPPRESSED_WARNING_COUNT(), warnings,
			"expect.warnings: free_contig_range() on a compound head");
	}
	kgen_drain(span);
	kgen_expect_free_delta(test, span, before, 0);
#else
	kunit_skip(test, "needs kunit_warning_suppress() and free_contig_range()");
#endif
}

/**
 * kgen_span_misuse_order_mismatch() - free a compound head with half its size
 * @test: the test case
 * @span: a bare KGEN_ALLOC_FROZEN_COMPOUND span
 *
 * 7.3 WARNs about the order mismatch and then frees the folio with the
 * wrong order, which with CONFIG_DEBUG_VM hits VM_BUG_ON_PAGE() in
 * free_pages_prepare().  kgen only runs this when a spec forces it, to
 * test its own crash handling; the pages are written off either way.
 */
void kgen_span_misuse_order_mismatch(struct kunit *test, struct kgen_span *span)
{
#if KGEN_HAVE_FREE_CONTIG_FROZEN_RANGE && defined(CONFIG_CONTIG_ALLOC)
	memset(span->owner, KGEN_GIVEN, span->block_pages);
	free_contig_frozen_range(span->pfn, span->nr_pages / 2);
#else
	kunit_skip(test, "needs free_contig_frozen_range()");
#endif
}

/**
 * kgen_report_time() - log how long the case body took
 * @test: the test case
 * @start_ns: ktime_get_ns() at the start of the body
 *
 * kgen's KTAP parser turns this line into the JUnit testcase time.
 */
void kgen_report_time(struct kunit *test, u64 start_ns)
{
	kunit_info(test, KGEN_PROTO_TIME_US "%llu",
		   div_u64(ktime_get_ns() - start_ns, NSEC_PER_USEC));
}
