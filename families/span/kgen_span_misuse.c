// SPDX-License-Identifier: GPL-2.0
/*
 * kgen span family: misuse of the free path on a compound frozen span.
 * The kernel defines each misuse as WARN-and-return (or, forced, as a
 * crash kgen must survive); these call it with the WARN counted.
 */
#include <linux/gfp.h>
#include <linux/mm.h>

#include "../internal.h"
#include "kgen_kunit.h"
#if KGEN_HAVE_MM_PAGE_ALLOC_H
#include "../page_alloc.h"
#endif

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
 * @warnings: WARN*() calls the kernel must make (7.3 defines this misuse as
 *            WARN-and-continue)
 *
 * 7.3 WARNs about the order mismatch and then frees the folio with the
 * order of the size it was given.  With CONFIG_DEBUG_VM that hits
 * VM_BUG_ON_PAGE() in free_pages_prepare(), so the case runs on kernels
 * built without it (kgen run --kconfig CONFIG_DEBUG_VM=n), or forced, to
 * test kgen's own crash handling.  Without DEBUG_VM: exactly the WARNs
 * expected, the kernel goes on, and the half it was asked to free is back
 * in the buddy.  The folio's other half keeps its tail-page state and is
 * leaked (never handed out again): the pages are written off.
 */
void kgen_span_misuse_order_mismatch(struct kunit *test, struct kgen_span *span,
				     int warnings)
{
#if KGEN_HAVE_KUNIT_WARNING_SUPPRESS && KGEN_HAVE_FREE_CONTIG_FROZEN_RANGE && \
	defined(CONFIG_CONTIG_ALLOC)
	unsigned long idx, half = span->nr_pages / 2, bad = 0, first = 0;

	memset(span->owner, KGEN_GIVEN, span->block_pages);
	kunit_warning_suppress(test) {
		free_contig_frozen_range(span->pfn, half);
		KUNIT_EXPECT_EQ_MSG(test, KUNIT_SUPPRESSED_WARNING_COUNT(), warnings,
			"expect.warnings: free_contig_frozen_range() of half a compound folio");
	}
	kgen_drain(span);
	for (idx = 0; idx < half; idx++) {
		if (kgen_free_block_order(kgen_span_page(span, idx)) >= 0)
			continue;
		if (!bad++)
			first = idx;
	}
	KUNIT_EXPECT_EQ_MSG(test, bad, 0,
		"expect.freed: %lu of the %lu pages free_contig_frozen_range() was given are not in the buddy after drain; first: page %lu (pfn %#lx)",
		bad, half, first, span->pfn + first);
#else
	kunit_skip(test, "needs kunit_warning_suppress() and free_contig_frozen_range()");
#endif
}
