// SPDX-License-Identifier: GPL-2.0
/*
 * kgen: was the batched free really batched?
 *
 * After a pcp drain the buddy merges order-0 frees anyway, so the state a
 * drain leaves behind cannot tell a batched free from a per-page one.  The
 * state right after the free can: the batched free (7.2+:
 * free_prepared_contig_range()) hands each contiguous run of pages to the
 * allocator in naturally aligned chunks of at most MAX_PAGE_ORDER, each as
 * one unit.  A chunk the pcp lists take (pcp_allowed_order(): up to
 * PAGE_ALLOC_COSTLY_ORDER, and the PMD order with THP) is one pcp list
 * entry of its order; a larger one goes straight to the buddy.  If the pcp
 * lists overflow they spill into the buddy, where an entry only grows by
 * merging.  So right after the free, before any drain, every page must sit
 * in a free unit (a pcp entry or a buddy block) at least as large as the
 * chunk that holds it.  A per-page free leaves order-0 pcp entries instead.
 * A pcp entry never merges: it must be exactly its chunk's order, on the
 * pcp list of the chunk's migratetype (__free_frozen_pages(): its
 * pageblock's, HIGHATOMIC and CMA as MOVABLE).  A buddy block sits on the
 * free list of its pageblock's migratetype.
 *
 * The scan is one pass under stop_machine(): every other CPU spins with
 * interrupts off outside any pcp or zone lock section, so no pcp list or
 * free list changes while it reads.  What happened between the free and
 * the scan (a vmstat drain moving an entry to the buddy, where it only
 * grows; an allocation taking a page) is allowed for: a page found in no
 * free unit is a counter mismatch that kgen_run_confirmed() repeats.
 *
 * The chunks are cut as the kernel cuts them: runs of consecutive struct
 * pages in one memory section (num_pages_contiguous(), for arrays), ended
 * by every page the free path refuses (held or spoiled), then
 * order = min(__ffs(pfn), ilog2(pages left), MAX_PAGE_ORDER).  Runs also
 * end at a zone or node boundary, as a free path must end them (7.3 does
 * not: the boundary family's no_straddle catches that).
 */
#include <linux/gfp.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/sort.h>
#include <linux/stop_machine.h>

#include "../internal.h"
#include "kgen_kunit.h"
#include "kgen_protocol.h"
#if KGEN_HAVE_MM_PAGE_ALLOC_H
#include "../page_alloc.h"
#endif

/* Buddy blocks whose free list one scan looks up (each walk is a list). */
#define KGEN_LIST_LOOKUPS	64

static int kgen_cmp_pfn(const void *a, const void *b)
{
	const struct kgen_pfn_idx *x = a, *y = b;

	return x->pfn < y->pfn ? -1 : x->pfn > y->pfn;
}

/**
 * kgen_pageset_new() - scratch space to follow pages through a free
 * @test: the test case (owns the memory)
 * @pages: the array that will hold the pages, in the order the free API
 *         will see them; filled in by the time of kgen_pageset_ready()
 * @nr: number of pages
 *
 * Call it before the case takes its NR_FREE_PAGES snapshots: everything
 * the checks need is allocated here, never after the free.
 *
 * Return: the set; asserts on allocation failure.
 */
struct kgen_pageset *kgen_pageset_new(struct kunit *test, struct page **pages,
				      unsigned long nr)
{
	struct kgen_pageset *set = kunit_kzalloc(test, sizeof(*set), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, set);
	set->nr = nr;
	set->pages = pages;
	set->by_pfn = kunit_kmalloc_array(test, nr, sizeof(*set->by_pfn), GFP_KERNEL);
	set->refused = kunit_kcalloc(test, nr, sizeof(*set->refused), GFP_KERNEL);
	set->want = kunit_kcalloc(test, nr, sizeof(*set->want), GFP_KERNEL);
	set->got = kunit_kcalloc(test, nr, sizeof(*set->got), GFP_KERNEL);
	set->on_pcp = kunit_kcalloc(test, nr, sizeof(*set->on_pcp), GFP_KERNEL);
	set->list = kunit_kcalloc(test, nr, sizeof(*set->list), GFP_KERNEL);
	set->mt_ready = kunit_kcalloc(test, nr, sizeof(*set->mt_ready), GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, set->by_pfn && set->refused && set->want &&
			  set->got && set->on_pcp && set->list && set->mt_ready);
	return set;
}

/**
 * kgen_pageset_ready() - the pages are known: index them by pfn
 * @set: a set whose pages array is filled in
 */
void kgen_pageset_ready(struct kgen_pageset *set)
{
	unsigned long i;

	for (i = 0; i < set->nr; i++) {
		set->by_pfn[i].pfn = page_to_pfn(set->pages[i]);
		set->by_pfn[i].idx = i;
		set->mt_ready[i] = get_pageblock_migratetype(set->pages[i]);
	}
	sort(set->by_pfn, set->nr, sizeof(*set->by_pfn), kgen_cmp_pfn, NULL);
}

/*
 * Whether @cur continues the run ending at @prev (num_pages_contiguous()),
 * for a free path that keeps each chunk in one zone of one node.
 */
static bool kgen_same_run(struct page *prev, struct page *cur)
{
	if (prev + 1 != cur)
		return false;
	/*
	 * A chunk is freed on its first page's zone: one across a zone or
	 * node boundary would put the other side's pages on that zone's
	 * lists (findings/0001).  page_zone_id() is what page_is_buddy()
	 * compares.
	 */
	if (page_zone_id(prev) != page_zone_id(cur))
		return false;
#if defined(CONFIG_SPARSEMEM) && !defined(CONFIG_SPARSEMEM_VMEMMAP)
	/* struct pages need not continue across sections: runs end there. */
	if (pfn_to_section_nr(page_to_pfn(prev)) != pfn_to_section_nr(page_to_pfn(cur)))
		return false;
#endif
	return true;
}

/* free_prepared_contig_range(): aligned chunks of the run [start, end). */
static void kgen_cut_chunks(struct kgen_pageset *set, unsigned long start,
			    unsigned long end)
{
	unsigned long pfn = page_to_pfn(set->pages[start]), idx = start;

	while (idx < end) {
		unsigned int order = pfn ? __ffs(pfn) : MAX_PAGE_ORDER;
		unsigned long i;

		order = min_t(unsigned int, order, ilog2(end - idx));
		order = min_t(unsigned int, order, MAX_PAGE_ORDER);
		for (i = 0; i < (1UL << order); i++)
			set->want[idx + i] = order;
		idx += 1UL << order;
		pfn += 1UL << order;
	}
}

/* Fills set->want from the runs the free path sees (set->refused ends them). */
static void kgen_chunk_orders(struct kgen_pageset *set)
{
	unsigned long i = 0, end;

	while (i < set->nr) {
		if (set->refused[i]) {
			set->want[i++] = -1;
			continue;
		}
		for (end = i + 1; end < set->nr && !set->refused[end] &&
		     kgen_same_run(set->pages[end - 1], set->pages[end]); end++)
			;
		kgen_cut_chunks(set, i, end);
		i = end;
	}
}

/* Records a free unit [pfn, pfn + 2^order) for the set's pages inside it. */
static void kgen_note_unit(struct kgen_pageset *set, unsigned long pfn,
			   int order, bool on_pcp, int list)
{
	unsigned long lo = 0, hi = set->nr, end = pfn + (1UL << order);

	while (lo < hi) {		/* first entry with by_pfn >= pfn */
		unsigned long mid = lo + (hi - lo) / 2;

		if (set->by_pfn[mid].pfn < pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < set->nr && set->by_pfn[lo].pfn < end; lo++) {
		set->got[set->by_pfn[lo].idx] = order;
		set->on_pcp[set->by_pfn[lo].idx] = on_pcp;
		set->list[set->by_pfn[lo].idx] = list;
	}
}

/* The order of a pcp list's entries (pindex_to_order() is static). */
static int kgen_pindex_order(int pindex)
{
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	if (pindex >= NR_LOWORDER_PCP_LISTS)
		return HPAGE_PMD_ORDER;
#endif
	return pindex / MIGRATE_PCPTYPES;
}

/*
 * The pcp list a chunk of @order from a pageblock of @mt goes to:
 * __free_frozen_pages() and order_to_pindex() (static in page_alloc.c).
 */
static int kgen_pcp_pindex(int mt, int order)
{
	if (mt >= MIGRATE_PCPTYPES)
		mt = MIGRATE_MOVABLE;	/* HIGHATOMIC and CMA */
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	if (order > PAGE_ALLOC_COSTLY_ORDER)
		return NR_LOWORDER_PCP_LISTS + (mt == MIGRATE_MOVABLE);
#endif
	return MIGRATE_PCPTYPES * order + mt;
}

/* Every pcp list entry of every zone and CPU that holds a page of the set. */
static void kgen_scan_pcp(struct kgen_pageset *set)
{
	struct zone *zone;
	int cpu;

	for_each_populated_zone(zone) {
		for_each_online_cpu(cpu) {
			struct per_cpu_pages *pcp = per_cpu_ptr(zone->per_cpu_pageset, cpu);
			int pindex;

			spin_lock(&pcp->lock);
			for (pindex = 0; pindex < NR_PCP_LISTS; pindex++) {
				int order = kgen_pindex_order(pindex);
				struct page *page;

				list_for_each_entry(page, &pcp->lists[pindex], pcp_list)
					kgen_note_unit(set, page_to_pfn(page), order, true,
						       pindex);
			}
			spin_unlock(&pcp->lock);
		}
	}
}

/*
 * Where each page of the set is: pcp lists first, the buddy for the rest.
 * Runs under stop_machine() (kgen_scan_placement()); the locks it takes
 * are for lockdep's sake, nobody else can hold them now.
 */
static int kgen_scan_stopped(void *data)
{
	struct kgen_pageset *set = data;
	unsigned long k, covered = 0;
	int lookups = 0;

	memset(set->got, -1, set->nr);
	memset(set->on_pcp, 0, set->nr);
	memset(set->list, -1, set->nr);
	kgen_scan_pcp(set);
	/* In pfn order, so each buddy block is looked up once. */
	for (k = 0; k < set->nr; k++) {
		unsigned long idx = set->by_pfn[k].idx, pfn = set->by_pfn[k].pfn;
		unsigned long head;
		struct zone *zone;
		int order;

		if (set->got[idx] >= 0 || pfn < covered)
			continue;
		zone = page_zone(set->pages[idx]);
		spin_lock(&zone->lock);
		order = kgen_buddy_block_locked(pfn, &head);
		if (order >= 0) {
			int list = lookups++ < KGEN_LIST_LOOKUPS ?
				   kgen_buddy_list_locked(zone, pfn_to_page(head), order) :
				   -1;

			/* Not its pageblock's list: -2 - the list, for the message. */
			if (list >= 0 &&
			    list != get_pageblock_migratetype(pfn_to_page(head)))
				list = -2 - list;
			kgen_note_unit(set, head, order, false, list);
			covered = head + (1UL << order);
		}
		spin_unlock(&zone->lock);
	}
	return 0;
}

/* One stable scan of where the set's pages are (see the top of the file). */
static void kgen_scan_placement(struct kgen_pageset *set)
{
	stop_machine(kgen_scan_stopped, set, NULL);
}

/* A page that breaks one rule, and how many do: for one message each. */
struct kgen_breach {
	unsigned long n;
	unsigned long first;
};

static void kgen_breach(struct kgen_breach *b, unsigned long i)
{
	if (!b->n++)
		b->first = i;
}

/* Whether the pcp entry holding page @i is on the list its chunk goes to. */
static bool kgen_pcp_list_right(struct kgen_pageset *set, unsigned long i)
{
	int order = set->got[i];

	/* The pageblock's type then or now: it may change in between. */
	return set->list[i] == kgen_pcp_pindex(set->mt_ready[i], order) ||
	       set->list[i] == kgen_pcp_pindex(get_pageblock_migratetype(set->pages[i]),
					       order);
}

/* Counts where the pages sit, for kgen_pageset_log(). */
static void kgen_count_placement(struct kgen_pageset *set)
{
	unsigned long i;

	set->in_buddy = 0;
	set->in_pcp = 0;
	set->in_pcp0 = 0;
	set->nowhere = 0;
	for (i = 0; i < set->nr; i++) {
		if (set->want[i] < 0)
			continue;
		if (set->got[i] < 0) {
			set->nowhere++;
		} else if (set->on_pcp[i]) {
			set->in_pcp++;
			set->in_pcp0 += !set->got[i];
		} else {
			set->in_buddy++;
		}
	}
}

static const char *kgen_unit_name(struct kgen_pageset *set, unsigned long i)
{
	return set->on_pcp[i] ? "a pcp list entry" : "a buddy block";
}

/**
 * kgen_expect_pageset_batched() - the free handed whole chunks to the allocator
 * @test: the test case
 * @set: the pages, with @set->refused filled in, just after the free and
 *       before any drain
 * @api: the free API, for the messages
 * @check: false for a free path that is not batched (the __free_page() loop,
 *         or a tree without the batched free): only record where pages went
 *
 * Records where the pages sit for kgen_pageset_log(); with @check, fails
 * when a page sits in a smaller free unit than the chunk the batched free
 * cuts around it, in a pcp entry of another order than its chunk, or on
 * another list than its migratetype's (kgen_batching.c says why each is
 * exact).  A page in no free unit is a counter mismatch, repeated by
 * kgen_run_confirmed(): someone may have allocated it since the free.
 */
void kgen_expect_pageset_batched(struct kunit *test, struct kgen_pageset *set,
				 const char *api, bool check)
{
	struct kgen_breach small = {}, big = {}, pcp_list = {}, buddy_list = {}, gone = {};
	unsigned long i;

	kgen_chunk_orders(set);
	kgen_scan_placement(set);
	set->api = api;
	kgen_count_placement(set);
	if (!check)
		return;
	for (i = 0; i < set->nr; i++) {
		if (set->want[i] < 0)
			continue;
		if (set->got[i] < 0)
			kgen_breach(&gone, i);
		else if (set->got[i] < set->want[i])
			kgen_breach(&small, i);
		else if (set->on_pcp[i] && set->got[i] > set->want[i])
			kgen_breach(&big, i);
		else if (set->on_pcp[i] && !kgen_pcp_list_right(set, i))
			kgen_breach(&pcp_list, i);
		else if (!set->on_pcp[i] && set->list[i] < -1)
			kgen_breach(&buddy_list, i);
	}
	KUNIT_EXPECT_EQ_MSG(test, small.n, 0UL,
		"expect.batched: %lu of %lu pages were not freed in whole chunks; first: page %lu (pfn %#lx) sits in %s of order %d right after the free by %s, before any drain, but the batched free hands it over in an order-%d chunk",
		small.n, set->nr, small.first, page_to_pfn(set->pages[small.first]),
		kgen_unit_name(set, small.first), set->got[small.first], api,
		set->want[small.first]);
	KUNIT_EXPECT_EQ_MSG(test, big.n, 0UL,
		"expect.batched: %lu of %lu pages sit in pcp entries larger than their chunk; first: page %lu (pfn %#lx) in an order-%d pcp entry right after the free by %s, but the aligned decomposition gives it an order-%d chunk (a pcp entry never merges)",
		big.n, set->nr, big.first, page_to_pfn(set->pages[big.first]),
		set->got[big.first], api, set->want[big.first]);
	KUNIT_EXPECT_EQ_MSG(test, buddy_list.n, 0UL,
		"expect.batched: %lu of %lu pages sit in buddy blocks on another free list than their pageblock's migratetype; first: page %lu (pfn %#lx), order-%d block on free list %d (MIGRATE_TYPES: on none)",
		buddy_list.n, set->nr, buddy_list.first,
		page_to_pfn(set->pages[buddy_list.first]), set->got[buddy_list.first],
		-set->list[buddy_list.first] - 2);
	kgen_expect_count(test, !pcp_list.n,
		"expect.batched: %lu of %lu pages sit on another pcp list than their migratetype's; first: page %lu (pfn %#lx), order-%d entry on pcp list %d, pageblock migratetype %d (list %d) right after the free by %s",
		pcp_list.n, set->nr, pcp_list.first, page_to_pfn(set->pages[pcp_list.first]),
		set->got[pcp_list.first], set->list[pcp_list.first],
		set->mt_ready[pcp_list.first],
		kgen_pcp_pindex(set->mt_ready[pcp_list.first], set->got[pcp_list.first]), api);
	kgen_expect_count(test, !gone.n,
		"expect.batched: %lu of %lu pages in no free unit right after the free by %s; first: page %lu (pfn %#lx)",
		gone.n, set->nr, api, gone.first, page_to_pfn(set->pages[gone.first]));
}

/**
 * kgen_pageset_log() - log where the free left the pages
 * @test: the test case
 * @set: a set kgen_expect_pageset_batched() scanned (else nothing is logged)
 *
 * Called at the end of the case, after the NR_FREE_PAGES checks: the log
 * line allocates.  For the __free_page() loop it shows what a batched free
 * must not look like: order-0 pcp entries.
 */
void kgen_pageset_log(struct kunit *test, struct kgen_pageset *set)
{
	if (!set->api)
		return;
	kunit_info(test, KGEN_PROTO_LOG "right after the free by %s, before any drain: %lu pages in buddy blocks, %lu in pcp entries (%lu of them order-0 entries), %lu in neither\n",
		   set->api, set->in_buddy, set->in_pcp, set->in_pcp0, set->nowhere);
}
