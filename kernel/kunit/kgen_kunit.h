/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kgen KUnit helpers: page spans, page-state snapshots, pcp drain and zone
 * counter deltas shared by the tests kgen generates from its YAML specs.
 *
 * A test owns a "block" of order-0 pages and frees a "span" inside it
 * through the API under test.  The helpers track, page by page, what the
 * test still owns, so that a KUnit cleanup action can give every page back
 * even when an assertion aborts the case half-way: one failing case must
 * not leak memory into, or poison, the next one.
 *
 * kgen_caps.h is generated per kernel tree: KGEN_HAVE_<API> says whether
 * the tree declares an API, so this library builds on trees that predate
 * parts of the batched free (the cases that need them are emitted as skips).
 */
#ifndef _MM_KGEN_KUNIT_H
#define _MM_KGEN_KUNIT_H

#include <kunit/test.h>
#include <linux/mm.h>
#include <linux/mmzone.h>

#include "kgen_caps.h"

/* Taints that mean "the kernel complained" while a case ran. */
#define KGEN_COMPLAINT_TAINTS	(BIT(TAINT_WARN) | BIT(TAINT_BAD_PAGE) | \
				 BIT(TAINT_DIE))

/* Free paths a span can be handed to. */
enum kgen_free_api {
	KGEN_FREE_CONTIG_RANGE,		/* free_contig_range() */
	KGEN_FREE___CONTIG_RANGE,	/* __free_contig_range() */
	KGEN_FREE_PAGES_BULK,		/* free_pages_bulk() on a page array */
	KGEN_FREE_PAGE_LOOP,		/* __free_page() per page: pre-7.1 way */
	KGEN_FREE_CONTIG_FROZEN_RANGE,	/* free_contig_frozen_range() */
	KGEN_FREE_VFREE,		/* vmap(VM_MAP_PUT_PAGES) + vfree() */
};

/* How the block holding the span is allocated. */
enum kgen_alloc {
	KGEN_ALLOC_SPLIT,		/* alloc_pages(order) + split_page() */
	KGEN_ALLOC_CONTIG,		/* alloc_contig_pages() */
	KGEN_ALLOC_FROZEN,		/* alloc_contig_frozen_pages(), refcount 0 */
	KGEN_ALLOC_FROZEN_COMPOUND,	/* the same with __GFP_COMP */
};

/* How a span is placed in the block the test allocates. */
enum kgen_span_layout {
	/* The span is the whole block. */
	KGEN_LAYOUT_BARE,
	/*
	 * The span is the second quarter of a block four times its size, so
	 * the test owns a guard page on each side and the span cannot merge
	 * with its neighbours while the test looks at it.
	 */
	KGEN_LAYOUT_GUARDED,
};

/* A set of span pages chosen by a spec ("first", "last", "every 4" ...). */
enum kgen_sel_kind {
	KGEN_SEL_FIRST,
	KGEN_SEL_LAST,
	KGEN_SEL_MIDDLE,
	KGEN_SEL_INDEX,		/* arg = page index in the span */
	KGEN_SEL_EVERY,		/* arg = stride, starting at page 0 */
};

struct kgen_sel {
	enum kgen_sel_kind kind;
	unsigned long arg;
};

/* Ways to make free_pages_prepare() refuse a page. */
enum kgen_spoil {
	KGEN_SPOIL_NONE,
	KGEN_SPOIL_HWPOISON,	/* PageHWPoison: silently leaked */
	KGEN_SPOIL_BAD_STATE,	/* PG_reserved: "BUG: Bad page state", leaked */
};

/*
 * Every page a case hands to a free path holds a pfn-derived pattern that
 * is never all zeroes; kgen boots with init_on_free=1, so
 * free_pages_prepare() zeroes each page it prepares (kgen_prepared.c).
 */
void kgen_fill_page(struct page *page);
bool kgen_page_intact(struct page *page);
int kgen_unprepared_in_buddy(struct page *page);

/* A page and its index in a kgen_pageset, sorted by pfn. */
struct kgen_pfn_idx {
	unsigned long pfn;
	unsigned long idx;
};

/**
 * struct kgen_pageset - the pages a case hands to a free path
 * @nr: number of pages
 * @pages: the pages, in the order the free API sees them
 * @by_pfn: the same pages sorted by pfn, to match pcp list entries
 * @refused: per page, set when the free path must leave the page out (a
 *           held or spoiled page ends a run)
 * @want: per page, the order of the chunk the batched free hands it to the
 *        allocator in, or -1 for a refused page
 * @got: per page, the order of the free unit holding it right after the
 *       free (a buddy block or a pcp list entry), or -1 for none
 * @on_pcp: per page, whether that unit is a pcp list entry
 * @api: the free path whose placement was scanned, or NULL
 * @in_buddy: pages found in buddy blocks by that scan
 * @in_pcp: pages found in pcp list entries
 * @in_pcp0: of those, pages in order-0 entries
 * @nowhere: pages found in neither
 *
 * Allocated with the case's pages, before any NR_FREE_PAGES snapshot: the
 * checks that use it must not allocate between the free and the counts.
 * That includes logging (a KUnit log line is a kmalloc()), so the scan's
 * counts are kept for kgen_pageset_log() at the end of the case.
 */
struct kgen_pageset {
	unsigned long nr;
	struct page **pages;
	struct kgen_pfn_idx *by_pfn;
	u8 *refused;
	s8 *want;
	s8 *got;
	u8 *on_pcp;
	const char *api;
	unsigned long in_buddy;
	unsigned long in_pcp;
	unsigned long in_pcp0;
	unsigned long nowhere;
};

struct kgen_pageset *kgen_pageset_new(struct kunit *test, struct page **pages,
				      unsigned long nr);
void kgen_pageset_ready(struct kgen_pageset *set);
void kgen_pageset_mark(struct kgen_pageset *set);
void kgen_expect_pageset_batched(struct kunit *test, struct kgen_pageset *set,
				 const char *api, bool check);
void kgen_expect_pages_prepared(struct kunit *test, struct kgen_pageset *set,
				const char *what);
void kgen_pageset_log(struct kunit *test, struct kgen_pageset *set);
void kgen_skip_unchecked(struct kunit *test, const char *why);

/* Per-page ownership, for cleanup and for the expectations. */
enum kgen_page_owner {
	KGEN_OWNED,		/* the test holds the allocation (or frozen) page */
	KGEN_GIVEN,		/* handed to the free API or freed by the test */
};

/**
 * struct kgen_split_param - one parameter of a generated span case
 * @order: log2 of the span size in pages
 * @api: free path under test
 * @hold: selectors of the pages the test keeps extra references on
 * @nr_hold: number of entries in @hold
 * @hold_refs: extra references per held page
 * @spoil: selectors of the pages made unfreeable before the free
 * @nr_spoil: number of entries in @spoil
 * @skip: reason this parameter cannot run on this tree or arch, or NULL
 * @nr_pages: vmalloc family: size in pages
 * @layout: vmalloc family: page array layout
 * @merge_order: vmalloc family: order every freed page's block must reach,
 *               or -1 for the vmalloc area's own page order
 * @batched: @api batches: check that it freed whole chunks (else only log
 *           where the pages went)
 * @unchecked: why an expectation cannot be checked on this tree, or NULL;
 *             a case that passes everything else then ends as a skip
 * @desc: KUnit parameter description ("order=9,free=free_contig_range")
 */
struct kgen_split_param {
	unsigned int order;
	enum kgen_free_api api;
	const struct kgen_sel *hold;
	unsigned int nr_hold;
	unsigned int hold_refs;
	const struct kgen_sel *spoil;
	unsigned int nr_spoil;
	const char *skip;
	unsigned long nr_pages;
	int layout;
	int merge_order;
	bool batched;
	const char *unchecked;
	char desc[KUNIT_PARAM_DESC_SIZE];
};

/**
 * struct kgen_span - a span of order-0 pages under test
 * @test: the KUnit test that owns the span
 * @zone: zone of the block (all of it: the block is one allocation)
 * @alloc: how the block was allocated
 * @block_pfn: first pfn of the allocation
 * @block_pages: number of pages allocated
 * @pfn: first pfn of the span handed to the free API
 * @nr_pages: number of pages in the span
 * @order: log2 of @nr_pages
 * @owner: per block page, enum kgen_page_owner
 * @refs: per span page, extra references the test holds (as a compaction
 *        scanner's get_page_unless_zero() would)
 * @spoiled: per span page, enum kgen_spoil applied to it
 * @array: the span's pages, for free_pages_bulk()
 * @set: the span's pages for the checks made right after the free
 * @free_after_alloc: zone NR_FREE_PAGES right after allocation and a drain
 * @taint_before: kernel taint flags when the span was allocated
 */
struct kgen_span {
	struct kunit *test;
	struct zone *zone;
	enum kgen_alloc alloc;
	unsigned long block_pfn;
	unsigned long block_pages;
	unsigned long pfn;
	unsigned long nr_pages;
	unsigned int order;
	u8 *owner;
	unsigned int *refs;
	u8 *spoiled;
	struct page **array;
	struct kgen_pageset *set;
	unsigned long free_after_alloc;
	unsigned long taint_before;
};

struct kgen_span *kgen_span_alloc(struct kunit *test, enum kgen_alloc alloc,
				  unsigned int order,
				  enum kgen_span_layout layout);
void kgen_span_hold(struct kgen_span *span, const struct kgen_sel *sel,
		    unsigned int nr_sel, unsigned int refs);
void kgen_span_spoil(struct kgen_span *span, const struct kgen_sel *sel,
		     unsigned int nr_sel, enum kgen_spoil how);
void kgen_span_free(struct kgen_span *span, enum kgen_free_api api);
void kgen_span_put_held(struct kgen_span *span);
void kgen_span_release(struct kgen_span *span);
void kgen_span_misuse_tail_start(struct kunit *test, struct kgen_span *span,
				 int warnings);
void kgen_span_misuse_order_mismatch(struct kunit *test, struct kgen_span *span);
void kgen_span_misuse_compound_head(struct kunit *test, struct kgen_span *span,
				    int warnings);

bool kgen_free_api_call(enum kgen_free_api api, unsigned long pfn,
			unsigned long nr, struct page **pages, const void *addr);

void kgen_drain(struct kgen_span *span);
void kgen_settle(void);
unsigned long kgen_zone_nr_free(struct zone *zone);
unsigned long kgen_zone_free_pages(struct kgen_span *span);
int kgen_buddy_block_locked(unsigned long pfn, unsigned long *head_pfn);
int kgen_free_block_order(struct page *page);
unsigned long kgen_span_nr_held(const struct kgen_span *span);
unsigned long kgen_span_nr_spoiled(const struct kgen_span *span);

void kgen_expect_freed(struct kunit *test, struct kgen_span *span,
		       const char *what);
void kgen_expect_span_batched(struct kunit *test, struct kgen_span *span,
			      enum kgen_free_api api, bool check);
void kgen_expect_prepared(struct kunit *test, struct kgen_span *span);
void kgen_expect_retained(struct kunit *test, struct kgen_span *span,
			  int refcount);
void kgen_expect_leaked(struct kunit *test, struct kgen_span *span);
void kgen_expect_merged(struct kunit *test, struct kgen_span *span,
			int min_order);
void kgen_expect_free_delta(struct kunit *test, struct kgen_span *span,
			    unsigned long before, long expected);
void kgen_expect_guards_intact(struct kunit *test, struct kgen_span *span);
void kgen_expect_balanced(struct kunit *test, struct kgen_span *span);
/*
 * The taint check.  The generated suites call it through one wrapper per
 * family (kgen_expect_no_warning(), kgen_expect_parr_no_warning(),
 * kgen_expect_bspan_no_warning()), each handing it the taint flags that
 * family recorded when it allocated its pages.
 */
void kgen_expect_no_new_taint(struct kunit *test, unsigned long taint_before,
			      unsigned long allowed_taints);
/* Every generated case: run only in the boot kgen assigned it. */
void kgen_boot_require(struct kunit *test, unsigned int boot);

/**
 * kgen_expect_no_warning() - no new complaint while the span was tested
 * @test: the test case
 * @span: the span, whose allocation recorded the taint flags
 * @allowed_taints: taint bits the case expects
 */
static inline void kgen_expect_no_warning(struct kunit *test,
					  struct kgen_span *span,
					  unsigned long allowed_taints)
{
	kgen_expect_no_new_taint(test, span->taint_before, allowed_taints);
}

/* vmalloc family (kgen_vmalloc.c): pages tracked as an array. */
enum kgen_array_layout {
	KGEN_ARRAY_SORTED,		/* one split block, pfn order */
	KGEN_ARRAY_REVERSED,		/* the same, last page first */
	KGEN_ARRAY_GAPS,		/* every other page of a block */
	KGEN_ARRAY_INTERLEAVED,		/* two blocks, alternating */
};

/**
 * struct kgen_parr - pages of a vmalloc-family case
 * @test: the KUnit test
 * @pages: the pages, in the order the free API sees them
 * @nr: entries in @pages
 * @owned: pages the test allocated itself and still owns (NULL once given)
 * @nr_owned: entries in @owned
 * @order: allocation order backing the pages (vmalloc_huge: PMD order)
 * @addr: the vmalloc area, or NULL for a bare page array
 * @given: handed to vfree() or free_pages_bulk()
 * @put_pages: a vmap() with VM_MAP_PUT_PAGES owns the pages
 * @vmalloc_before: kgen_nr_vmalloc() before the allocation
 * @vmalloc_after_alloc: kgen_nr_vmalloc() right after a vmalloc
 * @taint_before: kernel taint flags before the allocation
 * @set: @pages, for the checks made right after the free
 * @free_at_start: kgen_nr_free_all() before the case allocated any page
 * @free_before_free: kgen_nr_free_all() just before the free
 * @back_pages: pages the free must give back (the area's, its array's)
 * @array_pages: of those, the pages of the area's own pages[] array
 */
struct kgen_parr {
	struct kunit *test;
	struct page **pages;
	unsigned long nr;
	struct page **owned;
	unsigned long nr_owned;
	unsigned int order;
	void *addr;
	bool given;
	bool put_pages;
	long vmalloc_before;
	long vmalloc_after_alloc;
	unsigned long taint_before;
	struct kgen_pageset *set;
	unsigned long free_at_start;
	unsigned long free_before_free;
	unsigned long back_pages;
	unsigned long array_pages;
};

long kgen_nr_vmalloc(void);
struct kgen_parr *kgen_vmalloc_area(struct kunit *test, unsigned long nr_pages,
				    bool huge);
struct kgen_parr *kgen_vmap_put_pages(struct kunit *test, unsigned long nr_pages,
				     bool contiguous);
void kgen_vm_flush_reset_perms(struct kunit *test, struct kgen_parr *arr);
void kgen_vfree_area(struct kgen_parr *arr, bool bh_disabled);
void kgen_vfree_misuse_not_vmalloc(struct kunit *test, struct kgen_parr *arr,
				   int warnings);
struct kgen_parr *kgen_page_array(struct kunit *test, unsigned long nr,
				  enum kgen_array_layout layout);
void kgen_free_array_bulk(struct kgen_parr *arr);
void kgen_expect_array_freed(struct kunit *test, struct kgen_parr *arr,
			     int min_order);
void kgen_expect_vmalloc_balanced(struct kunit *test, struct kgen_parr *arr);
unsigned long kgen_nr_free_all(void);
void kgen_expect_array_batched(struct kunit *test, struct kgen_parr *arr,
			       bool check);
void kgen_expect_array_prepared(struct kunit *test, struct kgen_parr *arr);
void kgen_expect_array_balanced(struct kunit *test, struct kgen_parr *arr);

/**
 * kgen_expect_parr_no_warning() - no WARN, bad page or oops during the case
 * @test: the test case
 * @arr: the case's pages (their allocation recorded the taint flags)
 */
static inline void kgen_expect_parr_no_warning(struct kunit *test,
					       struct kgen_parr *arr)
{
	kgen_expect_no_new_taint(test, arr->taint_before, 0);
}

/* Boundary family (kgen_boundary.c): a span across a zone/node/section edge. */
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
 * @skip: reason this parameter cannot run on this tree or arch, or NULL
 * @desc: KUnit parameter description
 */
struct kgen_boundary_param {
	enum kgen_boundary_kind kind;
	const char *upper_zone;
	unsigned long nr_each;
	enum kgen_free_api api;
	const char *skip;
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
	int *nid;	unsigned long free_before[2];
	unsigned long taint_before;
	struct page **set_pages;
	struct kgen_pageset *set;
};

void kgen_guest_require(struct kunit *test, const char *layout);
struct kgen_bspan *kgen_bspan_alloc(struct kunit *test,
				    const struct kgen_boundary_param *p);
void kgen_bspan_free(struct kgen_bspan *bs, enum kgen_free_api api);
void kgen_expect_bspan_freed(struct kunit *test, struct kgen_bspan *bs);
void kgen_expect_no_straddle(struct kunit *test, struct kgen_bspan *bs);
void kgen_expect_bspan_zones_kept(struct kunit *test, struct kgen_bspan *bs);
void kgen_expect_bspan_free_deltas(struct kunit *test, struct kgen_bspan *bs);
void kgen_expect_bspan_merged(struct kunit *test, struct kgen_bspan *bs);
void kgen_expect_bspan_prepared(struct kunit *test, struct kgen_bspan *bs);
void kgen_expect_bspan_balanced(struct kunit *test, struct kgen_bspan *bs);

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

const char *kgen_free_api_name(enum kgen_free_api api);
void kgen_report_time(struct kunit *test, u64 start_ns);

/*
 * Counter checks confirmed by repetition (kgen_confirm.c).  A generated
 * case's body is one attempt: it allocates, frees and checks, and owns
 * nothing when it returns.
 */
typedef void (*kgen_attempt_fn)(struct kunit *test, const void *param);
void kgen_run_confirmed(struct kunit *test, kgen_attempt_fn attempt,
			const void *param);
__printf(3, 4)
void kgen_expect_count(struct kunit *test, bool ok, const char *fmt, ...);

#endif /* _MM_KGEN_KUNIT_H */
