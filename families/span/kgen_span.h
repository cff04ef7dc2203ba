/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kgen span family (kgen_span*.c): split_page, contig and frozen spans.
 *
 * A test owns a "block" of order-0 pages and frees a "span" inside it
 * through the API under test.  The helpers track, page by page, what the
 * test still owns, so that a KUnit cleanup action can give every page back
 * even when an assertion aborts the case half-way: one failing case must
 * not leak memory into, or poison, the next one.
 */
#ifndef _MM_KGEN_SPAN_H
#define _MM_KGEN_SPAN_H

/* How the block holding the span is allocated. */
enum kgen_alloc {
	KGEN_ALLOC_SPLIT,		/* alloc_pages(order) + split_page() */
	KGEN_ALLOC_CONTIG,		/* alloc_contig_pages() */
	KGEN_ALLOC_FROZEN,		/* alloc_contig_frozen_pages(), refcount 0 */
	KGEN_ALLOC_FROZEN_COMPOUND,	/* the same with __GFP_COMP */
	KGEN_ALLOC_CMA,			/* cma_alloc() from the default area */
	KGEN_ALLOC_CMA_FROZEN,		/* cma_alloc_frozen(), refcount 0 */
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

/* Ways to make free_pages_prepare() refuse a page. */
enum kgen_spoil {
	KGEN_SPOIL_NONE,
	KGEN_SPOIL_HWPOISON,	/* PageHWPoison: silently leaked */
	KGEN_SPOIL_BAD_STATE,	/* PG_reserved: "BUG: Bad page state", leaked */
};

/* Per-page ownership, for cleanup and for the expectations. */
enum kgen_page_owner {
	KGEN_OWNED,		/* the test holds the allocation (or frozen) page */
	KGEN_GIVEN,		/* handed to the free API or freed by the test */
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
 * @cma_after_alloc: zone NR_FREE_CMA_PAGES at the same moment
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
	unsigned long cma_after_alloc;
	unsigned long taint_before;
};

struct kgen_span *kgen_span_alloc(struct kunit *test, enum kgen_alloc alloc,
				  unsigned int order,
				  enum kgen_span_layout layout);
struct kgen_span *kgen_span_alloc_unsettled(struct kunit *test,
					    enum kgen_alloc alloc,
					    unsigned int order,
					    enum kgen_span_layout layout);
void kgen_span_hold(struct kgen_span *span, const struct kgen_sel *sel,
		    unsigned int nr_sel, unsigned int refs);
void kgen_span_spoil(struct kgen_span *span, const struct kgen_sel *sel,
		     unsigned int nr_sel, enum kgen_spoil how);
void kgen_span_free(struct kgen_span *span, enum kgen_free_api api);
void kgen_span_free_in(struct kgen_span *span, enum kgen_free_api api,
		       enum kgen_free_context context);
void kgen_span_put_held(struct kgen_span *span);
void kgen_span_release(struct kgen_span *span);
void kgen_span_misuse_tail_start(struct kunit *test, struct kgen_span *span,
				 int warnings);
void kgen_span_misuse_order_mismatch(struct kunit *test, struct kgen_span *span,
				     int warnings);
void kgen_span_misuse_compound_head(struct kunit *test, struct kgen_span *span,
				    int warnings);

void kgen_drain(struct kgen_span *span);
unsigned long kgen_zone_free_pages(struct kgen_span *span);
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
void kgen_expect_cma_delta(struct kunit *test, struct kgen_span *span,
			   unsigned long before, long expected);
void kgen_expect_cma_balanced(struct kunit *test, struct kgen_span *span);
/* A span page by its index in the span. */
static inline struct page *kgen_span_page(const struct kgen_span *span,
					  unsigned long idx)
{
	return pfn_to_page(span->pfn + idx);
}

static inline bool kgen_frozen(const struct kgen_span *span)
{
	return span->alloc == KGEN_ALLOC_FROZEN ||
	       span->alloc == KGEN_ALLOC_FROZEN_COMPOUND ||
	       span->alloc == KGEN_ALLOC_CMA_FROZEN;
}

/* Whether the span came from the default CMA area, and goes back there. */
static inline bool kgen_from_cma(const struct kgen_span *span)
{
	return span->alloc == KGEN_ALLOC_CMA ||
	       span->alloc == KGEN_ALLOC_CMA_FROZEN;
}

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

#endif /* _MM_KGEN_SPAN_H */
