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
