/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kgen boundary family (kgen_boundary.c): a span across a zone, node or
 * memory-section boundary, each side allocated on its own.
 */
#ifndef _MM_KGEN_BOUNDARY_H
#define _MM_KGEN_BOUNDARY_H

enum kgen_boundary_kind {
	KGEN_BOUNDARY_ZONE,	/* two zones of one node */
	KGEN_BOUNDARY_NODE,	/* the last pfn of one node, the first of the next */
	KGEN_BOUNDARY_SECTION,	/* a memory section edge inside one zone */
};

/**
 * struct kgen_boundary_param - one parameter of a boundary case
 * @kind: which boundary the span crosses
 * @upper_zone: zone kind: name of the zone above the boundary ("Movable"),
 *              or NULL for the first pair of adjacent zones
 * @nr_each: pages taken on each side of the boundary
 * @api: free path the joined span is handed to
 * @batched: @api batches on this tree: check that it freed whole chunks,
 *           cut at the boundary (else only log where the pages went)
 * @skip: reason this parameter cannot run on this tree or arch, or NULL
 * @unchecked: why an expectation cannot be checked on this tree, or NULL;
 *             a case that passes everything else then ends as a skip
 * @desc: KUnit parameter description
 */
struct kgen_boundary_param {
	enum kgen_boundary_kind kind;
	const char *upper_zone;
	unsigned long nr_each;
	enum kgen_free_api api;
	bool batched;
	const char *skip;
	const char *unchecked;
	char desc[KUNIT_PARAM_DESC_SIZE];
};

/**
 * struct kgen_bspan - a span of order-0 pages across a boundary
 * @test: the KUnit test
 * @boundary: first pfn above the boundary
 * @pfn: first pfn of the span (@boundary - nr_each)
 * @nr_each: pages on each side
 * @zone: zone below ([0]) and above ([1]) the boundary
 * @owned: side [0]/[1] allocated by the test and not yet handed back
 * @pages: the span's pages for free_pages_bulk()/vmap(), freed at cleanup
 * @array_zone: zone of the page allocation backing @pages that vfree()
 *              frees along with the span (NULL if slab or vmalloc backed)
 * @array_pages: pages of that allocation
 * @zid: per page, zone index before the free
 * @nid: per page, node id before the free
 * @free_before: NR_FREE_PAGES of @zone[0] and @zone[1] just before the free
 * @taint_before: kernel taint flags before the span was allocated
 * @set_pages: the span's pages in pfn order, for @set
 * @set: the span's pages, for the checks made after the free
 * @pgfree: how far the free moved the PGFREE event (kgen_pgfree())
 * @pgfree_want: pages the free hands back: the span's, and the array's
 *               for vfree()
 * @api: name of the free path that freed the span, for messages
 * @cma_before: NR_FREE_CMA_PAGES of @zone[0] and @zone[1] just before the free
 * @cma_want: the span's pages in CMA pageblocks, per side (all in [0] when
 *            both sides are one zone)
 * @lent: the span is borrowed from the pages kgen holds between cases, and
 *        goes back to them at kgen_bspan_keep() or cleanup
 */
struct kgen_bspan {
	struct kunit *test;
	unsigned long boundary;
	unsigned long pfn;
	unsigned long nr_each;
	struct zone *zone[2];
	bool owned[2];
	struct page **pages;
	struct zone *array_zone;
	unsigned long array_pages;
	u8 *zid;
	int *nid;
	unsigned long free_before[2];
	unsigned long taint_before;
	struct page **set_pages;
	struct kgen_pageset *set;
	unsigned long pgfree;
	unsigned long pgfree_want;
	const char *api;
	unsigned long cma_before[2];
	unsigned long cma_want[2];
	bool lent;
};

struct kgen_bspan *kgen_bspan_alloc(struct kunit *test,
				    const struct kgen_boundary_param *p);
void kgen_bspan_free(struct kgen_bspan *bs, enum kgen_free_api api);
void kgen_expect_bspan_batched(struct kunit *test, struct kgen_bspan *bs,
			       bool check);
void kgen_expect_bspan_freed(struct kunit *test, struct kgen_bspan *bs);
void kgen_expect_no_straddle(struct kunit *test, struct kgen_bspan *bs);
void kgen_expect_bspan_zones_kept(struct kunit *test, struct kgen_bspan *bs);
void kgen_expect_bspan_free_deltas(struct kunit *test, struct kgen_bspan *bs);
void kgen_expect_bspan_merged(struct kunit *test, struct kgen_bspan *bs);
void kgen_expect_bspan_prepared(struct kunit *test, struct kgen_bspan *bs);
void kgen_expect_bspan_balanced(struct kunit *test, struct kgen_bspan *bs);
void kgen_expect_bspan_pgfree(struct kunit *test, struct kgen_bspan *bs);
void kgen_bspan_keep(struct kunit *test, struct kgen_bspan *bs);
void kgen_boundary_suite_exit(struct kunit_suite *suite);

/**
 * kgen_expect_bspan_no_warning() - the kernel did not complain
 * @test: the test case
 * @bs: the span (its allocation recorded the taint flags)
 */
static inline void kgen_expect_bspan_no_warning(struct kunit *test,
						struct kgen_bspan *bs)
{
	kgen_expect_no_new_taint(test, bs->taint_before, 0);
}

#endif /* _MM_KGEN_BOUNDARY_H */
