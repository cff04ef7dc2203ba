// SPDX-License-Identifier: GPL-2.0
/*
 * kgen boundary family: a PFN-contiguous span of order-0 pages that crosses
 * a zone, node or memory-section boundary, freed in one call.
 *
 * The batched free cuts a run into naturally aligned power-of-two chunks and
 * frees each chunk with the zone of its first page (free_one_page(), which
 * splits chunks above pageblock_order into pageblocks, all on that zone).
 * Only the buddy merge step (page_is_buddy()) compares zones, and zone and
 * node boundaries need not be aligned to MAX_PAGE_ORDER, so these cases
 * check that no buddy block holds pages of two zones, that every block is
 * on its own zone's free list, and that every zone's NR_FREE_PAGES moves by
 * exactly the pages freed into it.
 *
 * alloc_contig_range() cannot span zones, so each side of the boundary is
 * allocated separately (pages come back refcounted, i.e. already order-0),
 * then the joined span is handed to the API under test.  When a side
 * cannot be allocated the case is skipped with the pfns, the error and the
 * state of the first page in the way: that is the finding for the layout.
 */
#include <linux/delay.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/mmzone.h>
#include <linux/panic.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <linux/vmstat.h>

#include "../internal.h"
#include "kgen_kunit.h"
#include "kgen_protocol.h"
#if KGEN_HAVE_MM_PAGE_ALLOC_H
#include "../page_alloc.h"	/* buddy_order(), drain_all_pages() in 7.3 */
#endif

/* Section edges tried before a section case gives up. */
#define KGEN_SECTION_TRIES	16
/* alloc_contig_range() calls per side while it says -EBUSY (200 ms in all). */
#define KGEN_ACR_TRIES		5

/* A boot-time reservation in [start, end): it never goes away. */
static bool kgen_reserved_in(unsigned long start, unsigned long end)
{
	unsigned long pfn;

	for (pfn = start; pfn < end; pfn++)
		if (pfn_valid(pfn) && PageReserved(pfn_to_page(pfn)))
			return true;
	return false;
}

/*
 * One side at a time: alloc_contig_range() works inside one zone.  Without
 * CONTIG_ALLOC the cases are skips (a derived need), but this still builds.
 */
static int kgen_alloc_side(unsigned long start, unsigned long end)
{
#if !defined(CONFIG_CONTIG_ALLOC)
	return -EOPNOTSUPP;
#else
	/* CMA pageblocks (a reusable DT region) are isolated only for CMA. */
	bool cma = is_migrate_cma_page(pfn_to_page(start));
	int tries, err;

	/*
	 * -EBUSY can be a page someone holds for a moment (a DMA buffer, a
	 * page on its way to an LRU): retry a few times, with a pause, as
	 * cma_alloc() does.  A page held for good, or reserved at boot, still
	 * ends the case as a skip that names it.
	 */
	for (tries = 1; ; tries++) {
#if KGEN_HAVE_ACR_FLAGS
		err = alloc_contig_range(start, end, cma ? ACR_FLAGS_CMA : ACR_FLAGS_NONE,
					 GFP_KERNEL);
#else
		err = alloc_contig_range(start, end, cma ? MIGRATE_CMA : MIGRATE_MOVABLE,
					 GFP_KERNEL);
#endif
		if (err != -EBUSY || tries == KGEN_ACR_TRIES ||
		    kgen_reserved_in(start, end))
			return err;
		msleep(20 * tries);
	}
#endif
}

static void kgen_free_side(unsigned long start, unsigned long nr)
{
#ifdef CONFIG_CONTIG_ALLOC
	free_contig_range(start, nr);
#endif
}

/*
 * The pages around the boundary, held between cases.  A case frees its
 * span into the buddy lists, where the pages are the hottest free pages of
 * their zone: KUnit's own allocations (a case's log, a slab page) then take
 * one, keep it for the rest of the boot, and every later case that needs it
 * can only skip.  So after a case that passed, kgen takes its span back and
 * keeps it, with the larger spans of earlier cases around it, until the next
 * case at the same boundary borrows it, or the suite ends.  The next case
 * gets the same pages alloc_contig_range() would give it (refcounted, each
 * one order-0 page); its neighbours up to the largest span so far stay
 * allocated, which no expectation depends on (each looks inside the span).
 */
static struct {
	enum kgen_boundary_kind kind;
	unsigned long boundary;	/* 0: nothing held */
	unsigned long nr;	/* pages held each side */
	unsigned long lent;	/* of which [boundary - lent, boundary + lent) lent */
} kgen_hold;

/* Gives back what the hold still has, each side on its own. */
static void kgen_hold_drop(void)
{
	unsigned long b = kgen_hold.boundary, nr = kgen_hold.nr;
	unsigned long lent = kgen_hold.lent;

	if (!b)
		return;
	if (nr > lent) {
		kgen_free_side(b - nr, nr - lent);
		kgen_free_side(b + lent, nr - lent);
	}
	kgen_hold.boundary = 0;
}

/**
 * kgen_boundary_suite_exit() - give back the pages held between cases
 * @suite: the boundary suite that ended
 */
void kgen_boundary_suite_exit(struct kunit_suite *suite)
{
	kgen_hold_drop();
}

/* A page alloc_contig_range() can neither take free nor migrate. */
static bool kgen_busy(struct page *page)
{
	return PageReserved(page) || (!PageBuddy(page) && !PageLRU(page) &&
				      page_count(page));
}

/*
 * Why [start, end) could not be allocated, for the skip reason: the first
 * pfn that is not memory or not a free/LRU page, with what it is instead.
 */
static void kgen_describe_blocker(char *buf, size_t len, unsigned long start,
				  unsigned long end, int err)
{
	unsigned long pfn, block_start, block_end;

	for (pfn = start; pfn < end; pfn++) {
		struct page *page;

		if (!pfn_valid(pfn)) {
			scnprintf(buf, len, "[%#lx, %#lx): error %d; pfn %#lx is not memory (a hole)",
				  start, end, err, pfn);
			return;
		}
		page = pfn_to_page(pfn);
		if (kgen_busy(page)) {
			scnprintf(buf, len, "[%#lx, %#lx): error %d; first busy pfn %#lx: %s, refcount %d, flags %pGp",
				  start, end, err, pfn,
				  PageReserved(page) ? "PageReserved (boot-time memblock reservation)" :
						       "allocated",
				  page_count(page), &page->flags);
			return;
		}
	}
	/* alloc_contig_range() isolates whole pageblocks: look around. */
	block_start = ALIGN_DOWN(start, pageblock_nr_pages);
	block_end = ALIGN(end, pageblock_nr_pages);
	for (pfn = block_start; pfn < block_end; pfn += pageblock_nr_pages) {
		unsigned long last = pfn + pageblock_nr_pages - 1;

		if (!pfn_valid(pfn) || !pfn_valid(last) ||
		    page_zone(pfn_to_page(pfn)) == page_zone(pfn_to_page(last)))
			continue;
		scnprintf(buf, len, "[%#lx, %#lx): error %d; its pageblock [%#lx, %#lx) (order %u) spans two zones, which alloc_contig_range() cannot isolate",
			  start, end, err, pfn, last + 1, pageblock_order);
		return;
	}
	for (pfn = block_start; pfn < block_end; pfn++) {
		if (pfn_valid(pfn) && kgen_busy(pfn_to_page(pfn))) {
			scnprintf(buf, len, "[%#lx, %#lx): error %d; the range is free, but pfn %#lx in its pageblock (isolated whole) is %s, refcount %d",
				  start, end, err, pfn,
				  PageReserved(pfn_to_page(pfn)) ? "PageReserved" : "allocated",
				  page_count(pfn_to_page(pfn)));
			return;
		}
	}
	scnprintf(buf, len, "[%#lx, %#lx): error %d; every page of its pageblocks is free or on an LRU",
		  start, end, err);
}

/*
 * Gives back what the test still owns, even after a failed assertion.  A
 * span borrowed from the hold and still allocated (the case skipped before
 * its free) stays held; one the free path took ends the hold.
 */
static void kgen_bspan_release(void *data)
{
	struct kgen_bspan *bs = data;
	int side;

	if (bs->lent) {
		bs->lent = false;
		if (bs->owned[0] && bs->owned[1]) {
			kgen_hold.lent = 0;
			bs->owned[0] = false;
			bs->owned[1] = false;
		} else {
			kgen_hold_drop();
		}
	}
	for (side = 0; side < 2; side++) {
		if (bs->owned[side])
			kgen_free_side(bs->pfn + side * bs->nr_each, bs->nr_each);
		bs->owned[side] = false;
	}
	kvfree(bs->pages);
	bs->pages = NULL;
}

/*
 * Boundary pfn for a zone or node case, or 0 (with @why filled) if this
 * boot has none.  A zone boundary must be inside one node.
 */
static unsigned long kgen_find_boundary(const struct kgen_boundary_param *p,
					char *why, size_t len)
{
	pg_data_t *pgdat;
	int nid;

	if (p->kind == KGEN_BOUNDARY_NODE) {
		int other;

		/* Any two nodes with memory, whatever their ids' order. */
		for_each_node_state(nid, N_MEMORY)
			for_each_node_state(other, N_MEMORY)
				if (other != nid &&
				    node_end_pfn(nid) == node_start_pfn(other))
					return node_start_pfn(other);
		scnprintf(why, len, "no two nodes with memory are adjacent in pfn space (%u node(s) online)",
			  num_online_nodes());
		return 0;
	}
	for_each_online_pgdat(pgdat) {
		struct zone *zone, *next;

		for (zone = pgdat->node_zones;
		     zone < pgdat->node_zones + MAX_NR_ZONES - 1; zone++) {
			if (!populated_zone(zone))
				continue;
			for (next = zone + 1;
			     next < pgdat->node_zones + MAX_NR_ZONES; next++)
				if (populated_zone(next))
					break;
			if (next == pgdat->node_zones + MAX_NR_ZONES)
				break;
			if (zone_end_pfn(zone) != next->zone_start_pfn)
				continue;
			if (!p->upper_zone || !strcmp(next->name, p->upper_zone))
				return next->zone_start_pfn;
		}
	}
	scnprintf(why, len, "no populated zone %s directly follows another zone of its node",
		  p->upper_zone ?: "");
	return 0;
}

/* Allocates both sides of @b; 0, or the error with @why filled. */
static int kgen_take_sides(struct kgen_bspan *bs, unsigned long b,
			   char *why, size_t len)
{
	unsigned long n = bs->nr_each;
	int err, side;

	for (side = 0; side < 2; side++) {
		unsigned long start = side ? b : b - n;

		if (!pfn_valid(start) || !pfn_valid(start + n - 1)) {
			kgen_describe_blocker(why, len, start, start + n, -EINVAL);
			err = -EINVAL;
		} else if (page_zone(pfn_to_page(start)) !=
			   page_zone(pfn_to_page(start + n - 1))) {
			/* alloc_contig_range() works inside one zone only. */
			scnprintf(why, len, "[%#lx, %#lx) spans zones %s and %s: the zone is shorter than a side",
				  start, start + n,
				  page_zone(pfn_to_page(start))->name,
				  page_zone(pfn_to_page(start + n - 1))->name);
			err = -EINVAL;
		} else {
			err = kgen_alloc_side(start, start + n);
			if (err)
				kgen_describe_blocker(why, len, start, start + n, err);
		}
		if (err) {
			if (side)
				kgen_free_side(b - n, n);
			return err;
		}
	}
	bs->boundary = b;
	bs->pfn = b - n;
	bs->owned[0] = true;
	bs->owned[1] = true;
	return 0;
}

/*
 * Whether the struct pages on the two sides of section edge @b are
 * neighbours in memory.  Only where they are not can a free that walks
 * page += 1 across the edge (a missing memdesc_section() check) reach the
 * wrong struct page, so a section case says which it had.  With VMEMMAP
 * they always are; classic SPARSEMEM allocates each section's memmap on
 * its own (mm/sparse.c, memmap_alloc()).
 */
static void kgen_log_memmap_edge(struct kunit *test, unsigned long b)
{
	unsigned long below = (unsigned long)pfn_to_page(b - 1);
	unsigned long above = (unsigned long)pfn_to_page(b);

	if (above == below + sizeof(struct page))
		kunit_info(test, "section edge pfn %#lx: struct pages contiguous\n", b);
	else
		kunit_info(test, "section edge pfn %#lx: struct pages not contiguous: pfn %#lx's is %ld bytes from the one after pfn %#lx's\n",
			   b, b, (long)(above - below - sizeof(struct page)), b - 1);
}

/* A section case: the first section edge inside one zone that allocates. */
static int kgen_take_section_edge(struct kgen_bspan *bs, char *why, size_t len)
{
#ifdef CONFIG_SPARSEMEM
	struct zone *zone;
	int tries = 0, err = -ENOENT;

	scnprintf(why, len, "no memory section edge lies inside a zone");
	for_each_populated_zone(zone) {
		unsigned long b = ALIGN(zone->zone_start_pfn + bs->nr_each,
					PAGES_PER_SECTION);

		for (; b + bs->nr_each <= zone_end_pfn(zone) &&
		       tries < KGEN_SECTION_TRIES; b += PAGES_PER_SECTION, tries++) {
			if (!pfn_valid(b - bs->nr_each) ||
			    !pfn_valid(b + bs->nr_each - 1) ||
			    page_zone(pfn_to_page(b - bs->nr_each)) != zone ||
			    page_zone(pfn_to_page(b + bs->nr_each - 1)) != zone)
				continue;
			err = kgen_take_sides(bs, b, why, len);
			if (!err)
				return 0;
		}
	}
	return err;
#else
	scnprintf(why, len, "this kernel has no memory sections (FLATMEM)");
	return -ENOENT;
#endif
}

/*
 * Borrows [b - nr_each, b + nr_each) from the hold if it has them; a hold
 * at another boundary, or smaller, is given back first.
 */
static bool kgen_borrow(struct kgen_bspan *bs, enum kgen_boundary_kind kind,
			unsigned long b)
{
	unsigned long n = bs->nr_each;

	if (kgen_hold.boundary && kgen_hold.lent)
		return false;	/* another span of this case has it */
	if (!kgen_hold.boundary || kgen_hold.kind != kind ||
	    kgen_hold.boundary != b || kgen_hold.nr < n) {
		kgen_hold_drop();
		return false;
	}
	kgen_hold.lent = n;
	bs->boundary = b;
	bs->pfn = b - n;
	bs->owned[0] = true;
	bs->owned[1] = true;
	bs->lent = true;
	return true;
}

/* A span freshly taken starts the hold when there is none. */
static void kgen_hold_start(struct kgen_bspan *bs, enum kgen_boundary_kind kind)
{
	if (kgen_hold.boundary)
		return;
	kgen_hold.kind = kind;
	kgen_hold.boundary = bs->boundary;
	kgen_hold.nr = bs->nr_each;
	kgen_hold.lent = bs->nr_each;
	bs->lent = true;
}

/**
 * kgen_bspan_keep() - after a case that passed, hold its span again
 * @test: the test case
 * @bs: the span, freed and checked
 *
 * Called after the last expectation.  The span's pages are taken back
 * (alloc_contig_range(), each side) so that nothing else in the kernel
 * takes them before the next case; when that is not possible, or the case
 * failed, the hold ends and the next case allocates afresh.
 */
void kgen_bspan_keep(struct kunit *test, struct kgen_bspan *bs)
{
	char why[8];	/* the reason a side cannot be taken is not wanted here */

	if (!bs->lent || bs->owned[0] || bs->owned[1])
		return;		/* cleanup settles a span still owned */
	bs->lent = false;
	if (READ_ONCE(test->status) != KUNIT_SUCCESS ||
	    kgen_take_sides(bs, bs->boundary, why, sizeof(why))) {
		kgen_hold_drop();
		return;
	}
	/* The hold has the pages now, not the test. */
	bs->owned[0] = false;
	bs->owned[1] = false;
	kgen_hold.lent = 0;
}

/**
 * kgen_bspan_alloc() - take nr_each pages on each side of a boundary
 * @test: the test case
 * @p: the parameter: boundary kind, zone, pages per side
 *
 * Skips the case, naming the pfns, the error and the first page in the way,
 * when this boot has no such boundary or a side cannot be allocated.
 *
 * Return: the span, owned by the test until kgen_bspan_free().
 */
struct kgen_bspan *kgen_bspan_alloc(struct kunit *test,
				    const struct kgen_boundary_param *p)
{
	struct kgen_bspan *bs = kunit_kzalloc(test, sizeof(*bs), GFP_KERNEL);
	char why[200];
	unsigned long b, i;
	int err;

	KUNIT_ASSERT_NOT_NULL(test, bs);
	bs->test = test;
	bs->nr_each = p->nr_each;
	bs->taint_before = get_taint();
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, kgen_bspan_release, bs));

	if (p->kind == KGEN_BOUNDARY_SECTION) {
		err = kgen_borrow(bs, p->kind, kgen_hold.boundary) ? 0 :
		      kgen_take_section_edge(bs, why, sizeof(why));
		if (err)
			kunit_skip(test, "cannot take %lu pages each side of a section edge: %s",
				   p->nr_each, why);
	} else {
		b = kgen_find_boundary(p, why, sizeof(why));
		if (!b)
			kunit_skip(test, "%s", why);
		if (b < p->nr_each || !pfn_valid(b - 1))
			kunit_skip(test, "boundary pfn %#lx (zone %s starts there): pfn %#lx below it is not memory (a hole)",
				   b, page_zone(pfn_to_page(b))->name, b - 1);
		err = kgen_borrow(bs, p->kind, b) ? 0 :
		      kgen_take_sides(bs, b, why, sizeof(why));
		if (err)
			kunit_skip(test, "boundary pfn %#lx (%s node %d | %s node %d): cannot take %lu pages each side: %s",
				   b, page_zone(pfn_to_page(b - 1))->name,
				   page_to_nid(pfn_to_page(b - 1)),
				   page_zone(pfn_to_page(b))->name,
				   page_to_nid(pfn_to_page(b)), p->nr_each, why);
	}

	kgen_hold_start(bs, p->kind);
	bs->zone[0] = page_zone(pfn_to_page(bs->boundary - 1));
	bs->zone[1] = page_zone(pfn_to_page(bs->boundary));
	bs->zid = kunit_kcalloc(test, 2 * bs->nr_each, sizeof(*bs->zid), GFP_KERNEL);
	bs->nid = kunit_kcalloc(test, 2 * bs->nr_each, sizeof(*bs->nid), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, bs->zid);
	KUNIT_ASSERT_NOT_NULL(test, bs->nid);
	bs->set_pages = kunit_kmalloc_array(test, 2 * bs->nr_each,
					    sizeof(*bs->set_pages), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, bs->set_pages);
	for (i = 0; i < 2 * bs->nr_each; i++) {
		struct page *page = pfn_to_page(bs->pfn + i);

		bs->zid[i] = page_zonenum(page);
		bs->nid[i] = page_to_nid(page);
		bs->set_pages[i] = page;
	}
	bs->set = kgen_pageset_new(test, bs->set_pages, 2 * bs->nr_each);
	kgen_pageset_ready(bs->set);
	kunit_info(test, "span [%#lx, %#lx) crosses pfn %#lx: %s node %d | %s node %d\n",
		   bs->pfn, bs->pfn + 2 * bs->nr_each, bs->boundary,
		   bs->zone[0]->name, zone_to_nid(bs->zone[0]),
		   bs->zone[1]->name, zone_to_nid(bs->zone[1]));
	if (p->kind == KGEN_BOUNDARY_SECTION)
		kgen_log_memmap_edge(test, bs->boundary);
	return bs;
}

static void kgen_bspan_drain(struct kgen_bspan *bs)
{
	drain_all_pages(bs->zone[0]);
	if (bs->zone[1] != bs->zone[0])
		drain_all_pages(bs->zone[1]);
}

/* Both zones' NR_FREE_PAGES, after a drain so that pcp pages count too. */
static void kgen_bspan_snapshot(struct kgen_bspan *bs, unsigned long *free)
{
	kgen_bspan_drain(bs);
	free[0] = kgen_zone_nr_free(bs->zone[0]);
	free[1] = kgen_zone_nr_free(bs->zone[1]);
}

/* Each side's zone's NR_FREE_CMA_PAGES; the caller drained first. */
static void kgen_bspan_cma_snapshot(struct kgen_bspan *bs, unsigned long *cma)
{
	cma[0] = zone_page_state_snapshot(bs->zone[0], NR_FREE_CMA_PAGES);
	cma[1] = zone_page_state_snapshot(bs->zone[1], NR_FREE_CMA_PAGES);
}

/*
 * How many of the span's pages each side's zone must count as free CMA
 * pages once they are back: those in MIGRATE_CMA pageblocks.  One zone on
 * both sides counts everything in [0].
 */
static void kgen_bspan_cma_pages(struct kgen_bspan *bs)
{
	unsigned long i;

	bs->cma_want[0] = 0;
	bs->cma_want[1] = 0;
	for (i = 0; i < 2 * bs->nr_each; i++) {
		int side = i >= bs->nr_each && bs->zone[1] != bs->zone[0];

		if (is_migrate_cma_page(pfn_to_page(bs->pfn + i)))
			bs->cma_want[side]++;
	}
}

/*
 * vfree() of a vmap(VM_MAP | VM_MAP_PUT_PAGES) area hands the array to
 * free_pages_bulk().  vmap() itself may allocate page tables, so it runs
 * before the counters are read.
 */
static void *kgen_bspan_vmap(struct kgen_bspan *bs)
{
	unsigned long nr = 2 * bs->nr_each;
	void *addr = vmap(bs->pages, nr, VM_MAP | VM_MAP_PUT_PAGES, PAGE_KERNEL);

	KUNIT_ASSERT_NOT_NULL_MSG(bs->test, addr, "vmap of the %lu-page span failed", nr);
	/*
	 * vfree() also frees the array.  Above KMALLOC_MAX_CACHE_SIZE it is a
	 * page allocation of its own, and those pages come back to their zone
	 * with the span's: count them in that zone's expected delta.
	 */
	if (!is_vmalloc_addr(bs->pages) &&
	    !folio_test_slab(virt_to_folio(bs->pages))) {
		bs->array_zone = folio_zone(virt_to_folio(bs->pages));
		bs->array_pages = folio_nr_pages(virt_to_folio(bs->pages));
	}
	/* The area owns the pages and the array now. */
	bs->pages = NULL;
	bs->owned[0] = false;
	bs->owned[1] = false;
	return addr;
}

/*
 * The chunks the batched free cuts the span into (free_prepared_contig_range():
 * order = min(__ffs(pfn), ilog2(left), MAX_PAGE_ORDER), a run ending where
 * the memory section changes unless struct pages are virtually contiguous).
 * A chunk across a zone or node boundary is logged before the free, so a
 * crash in the free still says which chunk, pfns, zones and nodes it was.
 */
static void kgen_log_straddling_chunks(struct kgen_bspan *bs)
{
	unsigned long pfn = bs->pfn, end = bs->pfn + 2 * bs->nr_each;

	if (bs->zone[0] == bs->zone[1])
		return;
	while (pfn < end) {
		unsigned long run_end = end, next;
		unsigned int order;

#if defined(CONFIG_SPARSEMEM) && !defined(CONFIG_SPARSEMEM_VMEMMAP)
		run_end = min(end, ALIGN(pfn + 1, PAGES_PER_SECTION));
#endif
		order = min3(pfn ? __ffs(pfn) : (unsigned long)MAX_PAGE_ORDER,
			     (unsigned long)ilog2(run_end - pfn),
			     (unsigned long)MAX_PAGE_ORDER);
		next = pfn + (1UL << order);
		if (pfn < bs->boundary && next > bs->boundary)
			kunit_info(bs->test, KGEN_PROTO_LOG
				   "chunk [%#lx, %#lx) (order %u) straddles pfn %#lx: [%#lx, %#lx) is %s node %d, [%#lx, %#lx) is %s node %d; the free takes the zone of its first page, %s node %d\n",
				   pfn, next, order, bs->boundary, pfn, bs->boundary,
				   bs->zone[0]->name, zone_to_nid(bs->zone[0]),
				   bs->boundary, next, bs->zone[1]->name,
				   zone_to_nid(bs->zone[1]), bs->zone[0]->name,
				   zone_to_nid(bs->zone[0]));
		pfn = next;
	}
}

/**
 * kgen_bspan_free() - hand the joined span to the API under test
 * @bs: the span
 * @api: free path
 *
 * Drains first and records each zone's NR_FREE_PAGES, so the deltas after
 * the free count exactly the pages that reached each zone's free lists.
 */
void kgen_bspan_free(struct kgen_bspan *bs, enum kgen_free_api api)
{
	unsigned long i, nr = 2 * bs->nr_each;
	void *addr = NULL;

	/*
	 * Everything the free path needs is allocated before the counters are
	 * read, and the array is freed only at cleanup: neither may move them.
	 */
	if (api == KGEN_FREE_PAGES_BULK || api == KGEN_FREE_VFREE) {
		bs->pages = kvmalloc_array(nr, sizeof(*bs->pages), GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(bs->test, bs->pages);
		for (i = 0; i < nr; i++)
			bs->pages[i] = pfn_to_page(bs->pfn + i);
	}
	if (api == KGEN_FREE_VFREE)
		addr = kgen_bspan_vmap(bs);
	kgen_log_straddling_chunks(bs);
	kgen_settle();
	kgen_bspan_snapshot(bs, bs->free_before);
	kgen_bspan_cma_snapshot(bs, bs->cma_before);
	kgen_bspan_cma_pages(bs);
	/* vfree() frees the array with the span; the test frees its own later. */
	bs->pgfree_want = nr + bs->array_pages;
	bs->pgfree = kgen_pgfree();

	/* From here the pages belong to the free path, whatever it does. */
	bs->owned[0] = false;
	bs->owned[1] = false;
	/* The span is refcounted pages for one call: no loop, nothing frozen. */
	if (api != KGEN_FREE_PAGE_LOOP && api != KGEN_FREE_CONTIG_FROZEN_RANGE &&
	    kgen_free_api_call(api, bs->pfn, nr, bs->pages, addr)) {
		bs->pgfree = kgen_pgfree() - bs->pgfree;
		bs->api = kgen_free_api_name(api);
		return;
	}

	/* Not in this tree: nothing was freed, the pages are still ours. */
	bs->owned[0] = true;
	bs->owned[1] = true;
	kunit_skip(bs->test, "%s() cannot free a boundary span in this kernel",
		   kgen_free_api_name(api));
}

/*
 * Both zones' locks, lower first: a block's pages and the free list it sits
 * on may belong to different zones, which is the case these tests look for.
 */
static void kgen_bspan_lock(struct kgen_bspan *bs, unsigned long *flags)
{
	spin_lock_irqsave(&bs->zone[0]->lock, *flags);
	if (bs->zone[1] != bs->zone[0])
		spin_lock_nested(&bs->zone[1]->lock, SINGLE_DEPTH_NESTING);
}

static void kgen_bspan_unlock(struct kgen_bspan *bs, unsigned long flags)
{
	if (bs->zone[1] != bs->zone[0])
		spin_unlock(&bs->zone[1]->lock);
	spin_unlock_irqrestore(&bs->zone[0]->lock, flags);
}

/* Which of the span's two zones has the block headed by @head on its lists. */
static struct zone *kgen_list_zone_locked(struct kgen_bspan *bs,
					  struct page *head, int order)
{
	int side;

	for (side = 0; side < 2; side++)
		if (kgen_buddy_list_locked(bs->zone[side], head, order) < MIGRATE_TYPES)
			return bs->zone[side];
	return NULL;
}

/**
 * kgen_expect_bspan_batched() - the span was freed in whole chunks
 * @test: the test case
 * @bs: the span, right after the free and before any drain
 * @check: whether to check (a batched API on a tree that batches) or only
 *         log where the pages went
 *
 * The chunks are those of a free path that ends its runs where the zone
 * or node changes (kgen_batching.c): below an unaligned boundary smaller
 * chunks, never one across it.  A free path that gives up batching near
 * the boundary leaves order-0 pcp entries there, which the checks after a
 * drain cannot tell from whole chunks.
 */
void kgen_expect_bspan_batched(struct kunit *test, struct kgen_bspan *bs,
			       bool check)
{
	kgen_expect_pageset_batched(test, bs->set, bs->api, check);
}

/**
 * kgen_expect_bspan_freed() - every span page is in a free buddy block
 * @test: the test case
 * @bs: the span, freed
 */
void kgen_expect_bspan_freed(struct kunit *test, struct kgen_bspan *bs)
{
	unsigned long i, flags, bad = 0, first = 0;

	kgen_bspan_drain(bs);
	kgen_bspan_lock(bs, &flags);
	for (i = 0; i < 2 * bs->nr_each; i++) {
		if (kgen_buddy_block_locked(bs->pfn + i, NULL) >= 0)
			continue;
		if (!bad++)
			first = i;
	}
	kgen_bspan_unlock(bs, flags);
	KUNIT_EXPECT_EQ_MSG(test, bad, 0UL,
		"expect.freed: %lu of %lu pages not in the buddy after drain; first: pfn %#lx (%s side of boundary pfn %#lx), refcount %d",
		bad, 2 * bs->nr_each, bs->pfn + first,
		bs->pfn + first < bs->boundary ? "lower" : "upper",
		bs->boundary, page_count(pfn_to_page(bs->pfn + first)));
}

/* The first offending block of each kind, found under the zone locks. */
struct kgen_straddle_scan {
	unsigned long unchecked, first_unchecked;
	unsigned long straddling, straddle_head;
	int straddle_order;
	unsigned long misfiled, misfiled_head;
	int misfiled_order;
	struct zone *misfiled_on;
};

static void kgen_scan_blocks(struct kgen_bspan *bs, struct kgen_straddle_scan *sc)
{
	unsigned long i, head = 0, flags;
	int order;

	kgen_bspan_lock(bs, &flags);
	for (i = 0; i < 2 * bs->nr_each; i++) {
		struct page *first, *last;
		struct zone *listed;

		order = kgen_buddy_block_locked(bs->pfn + i, &head);
		if (order < 0) {
			if (!sc->unchecked++)
				sc->first_unchecked = bs->pfn + i;
			continue;
		}
		first = pfn_to_page(head);
		last = pfn_to_page(head + (1UL << order) - 1);
		listed = kgen_list_zone_locked(bs, first, order);
		if (listed && listed != page_zone(first) && !sc->misfiled++) {
			sc->misfiled_head = head;
			sc->misfiled_order = order;
			sc->misfiled_on = listed;
		}
		if (page_zone(first) != page_zone(last) && !sc->straddling++) {
			sc->straddle_head = head;
			sc->straddle_order = order;
		}
		i = head + (1UL << order) - 1 - bs->pfn;	/* next block */
	}
	kgen_bspan_unlock(bs, flags);
}

/**
 * kgen_expect_no_straddle() - no free buddy block holds pages of two zones
 * @test: the test case
 * @bs: the span, freed
 *
 * Also checks that every block sits on its own zone's free list: the free
 * path files a chunk under the zone of its first page.  Names the first
 * offending block: pfns, order, zones and nodes, the boundary.  Pages that
 * are in no buddy block cannot be checked, and that fails the expectation
 * too, so it never passes without looking.
 */
void kgen_expect_no_straddle(struct kunit *test, struct kgen_bspan *bs)
{
	struct kgen_straddle_scan sc = {};

	kgen_bspan_drain(bs);
	kgen_scan_blocks(bs, &sc);
	if (sc.unchecked)
		KUNIT_FAIL(test,
			   "expect.no_straddle: %lu pages are in no free buddy block after drain, so their blocks cannot be checked; first: pfn %#lx",
			   sc.unchecked, sc.first_unchecked);
	if (sc.misfiled) {
		struct page *first = pfn_to_page(sc.misfiled_head);

		KUNIT_FAIL(test,
			   "expect.no_straddle: order-%d block [%#lx, %#lx) of %s node %d sits on the free list of %s node %d (boundary pfn %#lx)",
			   sc.misfiled_order, sc.misfiled_head,
			   sc.misfiled_head + (1UL << sc.misfiled_order),
			   page_zone(first)->name, page_to_nid(first),
			   sc.misfiled_on->name, zone_to_nid(sc.misfiled_on),
			   bs->boundary);
	}
	if (sc.straddling) {
		unsigned long end = sc.straddle_head + (1UL << sc.straddle_order);
		struct page *first = pfn_to_page(sc.straddle_head);
		struct page *last = pfn_to_page(end - 1);

		KUNIT_FAIL(test,
			   "expect.no_straddle: %lu buddy block(s) hold pages of two zones; first: order-%d block [%#lx, %#lx) of %s node %d crosses boundary pfn %#lx (its last page is %s node %d)",
			   sc.straddling, sc.straddle_order, sc.straddle_head, end,
			   page_zone(first)->name, page_to_nid(first), bs->boundary,
			   page_zone(last)->name, page_to_nid(last));
	}
}

/**
 * kgen_expect_bspan_zones_kept() - every freed page keeps its zone and node
 * @test: the test case
 * @bs: the span, freed
 *
 * The zone and node live in page->flags, which 7.3's free path does not
 * rewrite; this guards against a free path that would (re)initialise the
 * struct pages of a chunk from its first page.
 */
void kgen_expect_bspan_zones_kept(struct kunit *test, struct kgen_bspan *bs)
{
	unsigned long i, bad = 0, first = 0;

	for (i = 0; i < 2 * bs->nr_each; i++) {
		struct page *page = pfn_to_page(bs->pfn + i);

		if (page_zonenum(page) == bs->zid[i] && page_to_nid(page) == bs->nid[i])
			continue;
		if (!bad++)
			first = i;
	}
	KUNIT_EXPECT_EQ_MSG(test, bad, 0UL,
		"expect.zones_kept: %lu pages changed zone or node; first: pfn %#lx was zone %u node %d, is zone %u node %d",
		bad, bs->pfn + first, bs->zid[first], bs->nid[first],
		page_zonenum(pfn_to_page(bs->pfn + first)),
		page_to_nid(pfn_to_page(bs->pfn + first)));
}

/*
 * Each zone's NR_FREE_PAGES since just before the free must have moved by
 * exactly its side's pages plus the pages of a page-backed pages[] array
 * given back in that zone; @key names the expectation in the message.
 */
static void kgen_bspan_check_deltas(struct kunit *test, struct kgen_bspan *bs,
				    const char *key)
{
	unsigned long now[2];
	long delta[2], want[2];

	kgen_bspan_snapshot(bs, now);
	delta[0] = now[0] - bs->free_before[0];
	delta[1] = now[1] - bs->free_before[1];
	if (bs->zone[0] == bs->zone[1]) {
		want[0] = 2 * bs->nr_each +
			  (bs->array_zone == bs->zone[0] ? bs->array_pages : 0);
		kgen_expect_count(test, delta[0] == want[0],
			"expect.%s: zone %s node %d NR_FREE_PAGES changed by %+ld, expected %+ld",
			key, bs->zone[0]->name, zone_to_nid(bs->zone[0]), delta[0],
			want[0]);
		return;
	}
	want[0] = bs->nr_each;
	want[1] = bs->nr_each;
	if (bs->array_zone == bs->zone[0])
		want[0] += bs->array_pages;
	else if (bs->array_zone == bs->zone[1])
		want[1] += bs->array_pages;
	kgen_expect_count(test, delta[0] == want[0] && delta[1] == want[1],
		"expect.%s: NR_FREE_PAGES changed by %+ld in %s node %d (expected %+ld, the pages below pfn %#lx) and by %+ld in %s node %d (expected %+ld)",
		key, delta[0], bs->zone[0]->name, zone_to_nid(bs->zone[0]),
		want[0], bs->boundary, delta[1], bs->zone[1]->name,
		zone_to_nid(bs->zone[1]), want[1]);
}

/*
 * NR_FREE_CMA_PAGES, the part of NR_FREE_PAGES on CMA pageblocks: each
 * zone must gain exactly the span's pages in its CMA pageblocks (the
 * reusable regions of the aligned_cma layouts; none elsewhere, and then
 * the counter must not move).  Called right after the NR_FREE_PAGES
 * check, whose snapshot drained the pcp lists.
 */
static void kgen_bspan_check_cma_deltas(struct kunit *test, struct kgen_bspan *bs)
{
	unsigned long now[2];
	long delta[2];

	kgen_bspan_cma_snapshot(bs, now);
	delta[0] = now[0] - bs->cma_before[0];
	delta[1] = bs->zone[1] == bs->zone[0] ? 0 : now[1] - bs->cma_before[1];
	kgen_expect_count(test, delta[0] == bs->cma_want[0] &&
			  delta[1] == bs->cma_want[1],
		"expect.nr_free_pages: NR_FREE_CMA_PAGES changed by %+ld in %s node %d (expected %+lu, the span's pages in CMA pageblocks there) and by %+ld in %s node %d (expected %+lu)",
		delta[0], bs->zone[0]->name, zone_to_nid(bs->zone[0]),
		bs->cma_want[0], delta[1], bs->zone[1]->name,
		zone_to_nid(bs->zone[1]), bs->cma_want[1]);
}

/**
 * kgen_expect_bspan_free_deltas() - each zone gained exactly its own pages
 * @test: the test case
 * @bs: the span, freed
 *
 * Pages on pcp lists are not counted in NR_FREE_PAGES, hence the drain.  A
 * chunk put on the wrong zone's lists shows up here as one zone gaining
 * pages that belong to the other.
 */
void kgen_expect_bspan_free_deltas(struct kunit *test, struct kgen_bspan *bs)
{
	kgen_bspan_check_deltas(test, bs, "nr_free_pages");
	kgen_bspan_check_cma_deltas(test, bs);
}

/*
 * Order of the largest naturally aligned block around @pfn that stays in
 * [@lo, @hi), at most MAX_PAGE_ORDER.
 */
static int kgen_best_order_in(unsigned long pfn, unsigned long lo,
			      unsigned long hi)
{
	int order;

	for (order = 0; order < MAX_PAGE_ORDER; order++) {
		unsigned long start = ALIGN_DOWN(pfn, 1UL << (order + 1));

		if (start < lo || start + (1UL << (order + 1)) > hi)
			break;
	}
	return order;
}

/**
 * kgen_expect_bspan_merged() - each side merged as far as its alignment allows
 * @test: the test case
 * @bs: the span, freed
 *
 * After a drain, every page must sit in a buddy block at least as large as
 * the largest naturally aligned block around it inside its own side of the
 * boundary: blocks may not cross the boundary, but a free that leaves a
 * merge undone inside a side is a bug too.
 */
void kgen_expect_bspan_merged(struct kunit *test, struct kgen_bspan *bs)
{
	unsigned long i, flags, bad = 0, first = 0;
	int want_first = 0, got_first = 0;

	kgen_bspan_drain(bs);
	kgen_bspan_lock(bs, &flags);
	for (i = 0; i < 2 * bs->nr_each; i++) {
		unsigned long pfn = bs->pfn + i;
		bool upper = pfn >= bs->boundary;
		int want = kgen_best_order_in(pfn, upper ? bs->boundary : bs->pfn,
					      upper ? bs->pfn + 2 * bs->nr_each :
						      bs->boundary);
		int got = kgen_buddy_block_locked(pfn, NULL);

		if (got >= want)
			continue;
		if (!bad++) {
			first = i;
			want_first = want;
			got_first = got;
		}
	}
	kgen_bspan_unlock(bs, flags);
	KUNIT_EXPECT_EQ_MSG(test, bad, 0UL,
		"expect.merged: %lu pages in smaller buddy blocks than their side of boundary pfn %#lx allows; first: pfn %#lx (%s side) order %d, want >= %d",
		bad, bs->boundary, bs->pfn + first,
		bs->pfn + first < bs->boundary ? "lower" : "upper",
		got_first, want_first);
}

/**
 * kgen_expect_bspan_prepared() - every freed page went through
 *                                free_pages_prepare()
 * @test: the test case
 * @bs: the span, freed
 */
void kgen_expect_bspan_prepared(struct kunit *test, struct kgen_bspan *bs)
{
	kgen_bspan_drain(bs);
	kgen_expect_pages_prepared(test, bs->set, "freed");
}

/**
 * kgen_expect_bspan_balanced() - every page allocated for the case is back
 * @test: the test case
 * @bs: the span, freed
 *
 * Gives back the pages[] array the test made for free_pages_bulk() (vfree()
 * frees its own), then each zone must have gained exactly its side's pages
 * plus the array's pages where the array is a page allocation.
 */
void kgen_expect_bspan_balanced(struct kunit *test, struct kgen_bspan *bs)
{
	if (bs->pages) {
		struct folio *folio = is_vmalloc_addr(bs->pages) ? NULL :
				      virt_to_folio(bs->pages);

		if (folio && !folio_test_slab(folio)) {
			bs->array_zone = folio_zone(folio);
			bs->array_pages = folio_nr_pages(folio);
		}
		kvfree(bs->pages);
		bs->pages = NULL;
	}
	kgen_bspan_check_deltas(test, bs, "balanced");
}

/**
 * kgen_expect_bspan_pgfree() - PGFREE rose by exactly the pages freed
 * @test: the test case
 * @bs: the span, freed
 *
 * Both sides' pages, and for vfree() the pages of the array it frees too.
 */
void kgen_expect_bspan_pgfree(struct kunit *test, struct kgen_bspan *bs)
{
	kgen_expect_pgfree(test, bs->pgfree, bs->pgfree_want, bs->api);
}
