// SPDX-License-Identifier: GPL-2.0
/*
 * kgen span family: the expectations a span case checks after the free.
 *
 * Every expectation helper checks all pages first and reports once, naming
 * the spec expectation, how many pages broke it and the first offender by
 * span index and pfn: a 512-page span must not produce 512 failure lines.
 */
#include <linux/mm.h>

#include "kgen_kunit.h"

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

/**
 * kgen_expect_cma_delta() - NR_FREE_CMA_PAGES moved by exactly @expected
 * @test: the test case
 * @span: a span from the CMA area (its zone is the one counted)
 * @before: kgen_zone_nr_free_cma() taken before the free
 * @expected: pages the free should have given back to the area's
 *            MIGRATE_CMA free lists
 *
 * A chunk filed under another migratetype still counts in NR_FREE_PAGES,
 * so only this counter shows it.
 */
void kgen_expect_cma_delta(struct kunit *test, struct kgen_span *span,
			   unsigned long before, long expected)
{
	long delta = (long)(kgen_zone_nr_free_cma(span->zone) - before);

	kgen_expect_count(test, delta == expected,
		"expect.nr_free_cma: zone %s NR_FREE_CMA_PAGES changed by %ld, expected %ld",
		span->zone->name, delta, expected);
}

/**
 * kgen_expect_cma_balanced() - the CMA area got back every page taken
 * @test: the test case
 * @span: a span from the CMA area, after kgen_span_release() and a drain
 */
void kgen_expect_cma_balanced(struct kunit *test, struct kgen_span *span)
{
	long delta = (long)(kgen_zone_nr_free_cma(span->zone) -
			    span->cma_after_alloc);

	kgen_expect_count(test, delta == (long)span->block_pages,
		"expect.nr_free_cma: zone %s NR_FREE_CMA_PAGES got %ld of %lu pages back",
		span->zone->name, delta, span->block_pages);
}
