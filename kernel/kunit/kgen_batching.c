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
 *
 * The chunks are cut as the kernel cuts them: runs of consecutive struct
 * pages in one memory section (num_pages_contiguous(), for arrays), ended
 * by every page the free path refuses (held or spoiled), then
 * order = min(__ffs(pfn), ilog2(pages left), MAX_PAGE_ORDER).
 */
#include <linux/gfp.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/sort.h>

#include "../internal.h"
#include "kgen_kunit.h"
#include "kgen_protocol.h"
#if KGEN_HAVE_MM_PAGE_ALLOC_H
#include "../page_alloc.h"
#endif

/* Placement scans before a page missing from both pcp and buddy counts. */
#define KGEN_PLACEMENT_TRIES	3

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
	KUNIT_ASSERT_TRUE(test, set->by_pfn && set->refused && set->want &&
			  set->got && set->on_pcp);
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
	}
	sort(set->by_pfn, set->nr, sizeof(*set->by_pfn), kgen_cmp_pfn, NULL);
}

/* Whether @cur continues the run ending at @prev (num_pages_contiguous()). */
static bool kgen_same_run(struct page *prev, struct page *cur)
{
	if (prev + 1 != cur)
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
			   int order, bool on_pcp)
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

/* Every pcp list entry of every zone and CPU that holds a page of the set. */
static void kgen_scan_pcp(struct kgen_pageset *set)
{
	struct zone *zone;
	int cpu;

	for_each_populated_zone(zone) {
		for_each_online_cpu(cpu) {
			struct per_cpu_pages *pcp = per_cpu_ptr(zone->per_cpu_pageset, cpu);
			unsigned long flags;
			int pindex;

			spin_lock_irqsave(&pcp->lock, flags);
			for (pindex = 0; pindex < NR_PCP_LISTS; pindex++) {
				int order = kgen_pindex_order(pindex);
				struct page *page;

				list_for_each_entry(page, &pcp->lists[pindex], pcp_list)
					kgen_note_unit(set, page_to_pfn(page), order, true);
			}
			spin_unlock_irqrestore(&pcp->lock, flags);
		}
	}
}

/*
 * Where each page of the set is now: pcp lists first, then the buddy for
 * the rest, so a page a pcp overflow moves to the buddy in between is
 * still found.  Returns the number of pages in a smaller unit than wanted.
 */
static unsigned long kgen_scan_placement(struct kgen_pageset *set)
{
	unsigned long i, short_units = 0;

	memset(set->got, -1, set->nr);
	memset(set->on_pcp, 0, set->nr);
	kgen_scan_pcp(set);
	for (i = 0; i < set->nr; i++) {
		if (set->got[i] < 0)
			set->got[i] = kgen_free_block_order(set->pages[i]);
		short_units += set->want[i] >= 0 && set->got[i] < set->want[i];
	}
	return short_units;
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
 * cuts around it (kgen_batching.c says why that is exact).
 */
void kgen_expect_pageset_batched(struct kunit *test, struct kgen_pageset *set,
				 const char *api, bool check)
{
	unsigned long i, bad = 0, first = 0;
	int tries = 0;

	kgen_chunk_orders(set);
	do {
		bad = kgen_scan_placement(set);
	} while (bad && ++tries < KGEN_PLACEMENT_TRIES);

	bad = 0;
	set->api = api;
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
		if (set->got[i] < set->want[i] && !bad++)
			first = i;
	}
	if (!check)
		return;
	KUNIT_EXPECT_EQ_MSG(test, bad, 0UL,
		"expect.batched: %lu of %lu pages were not freed in whole chunks; first: page %lu (pfn %#lx) sits in %s of order %d right after the free by %s, before any drain, but the batched free hands it over in an order-%d chunk",
		bad, set->nr, first, page_to_pfn(set->pages[first]),
		set->got[first] < 0 ? "no free unit" :
		set->on_pcp[first] ? "a pcp list entry" : "a buddy block",
		set->got[first], api, set->want[first]);
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
