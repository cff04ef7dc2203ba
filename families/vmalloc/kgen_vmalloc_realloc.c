// SPDX-License-Identifier: GPL-2.0
/*
 * kgen vmalloc family: vrealloc() of a vmalloc area, shrunk or grown.
 *
 * vrealloc()'s shrink is the one caller of vm_area_free_pages() with a
 * start index above 0: it unmaps the area's tail and frees exactly the
 * tail's pages through free_pages_bulk(), keeping the head mapped with its
 * contents.  A grow that does not fit the area allocates a new one,
 * copies the old contents and vfree()s the old area.  The case checks
 * each page by what it must be afterwards, and the counters exactly.
 */
#include <linux/mm.h>
#include <linux/vmalloc.h>

#include "kgen_kunit.h"
#include "kgen_protocol.h"

/**
 * struct kgen_realloc - what a vrealloc() was seen to do
 * @old_nr: pages of the area before
 * @to_nr: pages asked for
 * @freed: pages the call must give back
 * @free_before: kgen_nr_free_all() before the call
 * @pgfree: PGFREE before the call, then its rise
 * @node_before: per node, NR_VMALLOC before the call
 * @node_want: per node, the change the call must make
 * @grown_pages: for a grow, the page array the case follows afterwards
 * @grown_set: for a grow, its pageset
 */
struct kgen_realloc {
	unsigned long old_nr;
	unsigned long to_nr;
	unsigned long freed;
	unsigned long free_before;
	unsigned long pgfree;
	long *node_before;
	long *node_want;
	struct page **grown_pages;
	struct kgen_pageset *grown_set;
};

/* The area's pages, as vmalloc_to_page() sees them now. */
static void kgen_parr_map(struct kgen_parr *arr)
{
	unsigned long i;

	for (i = 0; i < arr->nr; i++)
		arr->pages[i] = vmalloc_to_page(arr->addr + i * PAGE_SIZE);
	kgen_pageset_ready(arr->set);
}

/* The shrunk area's head: still mapped to the same pages, untouched. */
static void kgen_expect_head_kept(struct kunit *test, struct kgen_parr *arr,
				  void *addr, unsigned long keep)
{
	unsigned long i, bad = 0, first = 0;

	for (i = 0; i < keep; i++) {
		struct page *page = arr->pages[i];

		if (vmalloc_to_page(addr + i * PAGE_SIZE) == page &&
		    page_ref_count(page) == 1 && kgen_page_intact(page) &&
		    kgen_free_block_order(page) < 0)
			continue;
		if (!bad++)
			first = i;
	}
	KUNIT_EXPECT_EQ_MSG(test, bad, 0,
		"expect.retained: %lu of the %lu pages vrealloc() keeps are not mapped where they were, allocated and intact; first: page %lu (pfn %#lx) refcount %d",
		bad, keep, first, page_to_pfn(arr->pages[first]),
		page_ref_count(arr->pages[first]));
}

/* Pages [from, to) of the old area: free in the buddy (counters drained). */
static void kgen_expect_old_pages_free(struct kunit *test, struct page **pages,
				       unsigned long from, unsigned long to,
				       const char *what)
{
	unsigned long i, bad = 0, first = 0;

	for (i = from; i < to; i++) {
		if (kgen_free_block_order(pages[i]) >= 0)
			continue;
		if (!bad++)
			first = i;
	}
	KUNIT_EXPECT_EQ_MSG(test, bad, 0,
		"expect.freed: %lu of the %lu %s are not in the buddy after drain; first: page %lu (pfn %#lx) refcount %d",
		bad, to - from, what, first, page_to_pfn(pages[first]),
		page_ref_count(pages[first]));
}

/*
 * Exact counters across the call: PGFREE and NR_VMALLOC per node, and
 * for a shrink NR_FREE_PAGES (a grow also allocates, page tables too).
 */
static void kgen_expect_realloc_counts(struct kunit *test, struct kgen_realloc *r)
{
	long back = (long)(kgen_nr_free_all() - r->free_before);
	bool shadow = kgen_vmalloc_shadow_freed(test);
	int nid;

	if (r->to_nr < r->old_nr && !shadow)
		kgen_expect_count(test, back == (long)r->freed,
			"expect.nr_free_pages: vrealloc() from %lu to %lu pages raised NR_FREE_PAGES by %ld, expected %lu",
			r->old_nr, r->to_nr, back, r->freed);
	if (!shadow)
		kgen_expect_pgfree(test, r->pgfree, r->freed, "vrealloc");
	if (!KGEN_HAVE_NR_VMALLOC)
		return;
	for_each_online_node(nid) {
		long delta = kgen_nr_vmalloc_node(nid) - r->node_before[nid];

		kgen_expect_count(test, delta == r->node_want[nid],
			"expect.nr_vmalloc: vrealloc() from %lu to %lu pages changed node %d's NR_VMALLOC by %+ld, expected %+ld",
			r->old_nr, r->to_nr, nid, delta, r->node_want[nid]);
	}
}

/*
 * Shrink: the same area, its head kept; without huge pages (a partial
 * free would have to split them, so vrealloc() keeps them all) exactly the
 * tail's pages come back and stop counting as vmalloc pages.
 */
static void kgen_vrealloc_shrunk(struct kunit *test, struct kgen_parr *arr,
				 void *addr, struct kgen_realloc *r)
{
	unsigned long i;

	/* Counted first: a failing expectation's log line allocates. */
	kgen_expect_realloc_counts(test, r);
	KUNIT_EXPECT_PTR_EQ_MSG(test, addr, arr->addr,
		"vrealloc() of an area to fewer pages moved it");
	kgen_expect_head_kept(test, arr, addr, r->to_nr);
	if (r->freed)
		kgen_expect_old_pages_free(test, arr->pages, r->to_nr, r->old_nr,
					   "tail pages vrealloc() drops");
	if (r->freed) {
		arr->nr = r->to_nr;
		arr->set->nr = r->to_nr;
		kgen_pageset_ready(arr->set);
	}
	for (i = arr->nr; i < r->old_nr; i++)
		arr->pages[i] = NULL;
}

/*
 * Grow: a new area with the old contents in its head; every page of the
 * old area back in the buddy.  The case then follows the new area.
 */
static void kgen_vrealloc_grown(struct kunit *test, struct kgen_parr *arr,
				void *addr, struct page **old,
				struct kgen_realloc *r)
{
	unsigned long i, bad = 0, first = 0;

	arr->addr = addr;
	arr->nr = r->to_nr;
	arr->pages = r->grown_pages;
	arr->set = r->grown_set;
	kgen_parr_map(arr);
	kgen_vmalloc_charge_by_node(addr, r->node_want);
	kgen_expect_realloc_counts(test, r);
	for (i = 0; i < r->old_nr; i++) {
		if (kgen_page_holds(arr->pages[i], page_to_pfn(old[i])))
			continue;
		if (!bad++)
			first = i;
	}
	KUNIT_EXPECT_EQ_MSG(test, bad, 0,
		"expect.retained: %lu of the %lu pages vrealloc() copied into the grown area differ from the old ones; first: page %lu",
		bad, r->old_nr, first);
	kgen_expect_old_pages_free(test, old, 0, r->old_nr,
				   "pages of the area vrealloc() replaced");
}

/**
 * kgen_vrealloc_area() - vrealloc() the area to @to_pages pages, and check
 * @test: the test case
 * @arr: a kgen_vmalloc_area() of at least max(its size, @to_pages) entries
 * @to_pages: the new size in pages
 *
 * Fills every page with its pattern, then calls vrealloc() and checks
 * what it did (kgen_vrealloc_shrunk(), kgen_vrealloc_grown()).  Afterwards
 * @arr follows the area as it is now, so the case's vfree() and its checks
 * cover exactly its pages.
 */
void kgen_vrealloc_area(struct kunit *test, struct kgen_parr *arr,
			unsigned long to_pages)
{
	struct kgen_realloc r = { .old_nr = arr->nr, .to_nr = to_pages };
	struct vm_struct *area = find_vm_area(arr->addr);
	struct page **old;
	unsigned long i;
	void *addr;
	int nid;

	KUNIT_ASSERT_NOT_NULL(test, area);
	old = kunit_kmalloc_array(test, arr->nr, sizeof(*old), GFP_KERNEL);
	r.node_before = kunit_kcalloc(test, nr_node_ids, sizeof(long), GFP_KERNEL);
	r.node_want = kunit_kcalloc(test, nr_node_ids, sizeof(long), GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, old && r.node_before && r.node_want);
	memcpy(old, arr->pages, arr->nr * sizeof(*old));
	for (i = 0; i < arr->nr; i++)
		kgen_fill_page(arr->pages[i]);
	if (to_pages < arr->nr && !arr->order)
		r.freed = arr->nr - to_pages;
	for (i = to_pages; i < arr->nr && r.freed; i++)
		r.node_want[page_to_nid(arr->pages[i])]--;
	if (to_pages > arr->nr) {
		/*
		 * The old area and its array are freed, the new one charged.
		 * What the case needs to follow the new area is allocated now,
		 * before the counters are read.
		 */
		r.grown_pages = kunit_kcalloc(test, to_pages, sizeof(*r.grown_pages),
					      GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, r.grown_pages);
		r.grown_set = kgen_pageset_new(test, r.grown_pages, to_pages);
		r.freed = arr->nr + kgen_backing_pages(area->pages);
		kgen_vmalloc_charge_by_node(arr->addr, r.node_want);
		for_each_online_node(nid)
			r.node_want[nid] = -r.node_want[nid];
	}

	kgen_settle();
	r.free_before = kgen_nr_free_all();
	kgen_nr_vmalloc_nodes(r.node_before);
	r.pgfree = kgen_pgfree();
	addr = vrealloc(arr->addr, to_pages << PAGE_SHIFT, GFP_KERNEL);
	r.pgfree = kgen_pgfree() - r.pgfree;
	KUNIT_ASSERT_NOT_NULL_MSG(test, addr, "vrealloc() from %lu to %lu pages failed",
				  r.old_nr, to_pages);
	if (to_pages < r.old_nr)
		kgen_vrealloc_shrunk(test, arr, addr, &r);
	else
		kgen_vrealloc_grown(test, arr, addr, old, &r);
}
