// SPDX-License-Identifier: GPL-2.0
/*
 * kgen span family: the span pages a spec selects ("first", "every 4" ...)
 * and what the test does to them before the free: hold extra references
 * on them, or make free_pages_prepare() refuse them.
 */
#include <linux/mm.h>
#include <linux/page-flags.h>

#include "kgen_kunit.h"

static bool kgen_sel_match(const struct kgen_sel *sel, unsigned long idx,
			   unsigned long nr_pages)
{
	switch (sel->kind) {
	case KGEN_SEL_FIRST:
		return idx == 0;
	case KGEN_SEL_LAST:
		return idx == nr_pages - 1;
	case KGEN_SEL_MIDDLE:
		return idx == nr_pages / 2;
	case KGEN_SEL_INDEX:
		return idx == sel->arg;
	case KGEN_SEL_EVERY:
		return sel->arg && idx % sel->arg == 0;
	}
	return false;
}

/**
 * kgen_selected() - whether any selector picks a span page
 * @span: the span
 * @sel: page selectors
 * @nr_sel: number of selectors
 * @idx: page index in the span
 *
 * Return: true if at least one of the @nr_sel selectors matches @idx.
 */
static bool kgen_selected(const struct kgen_span *span,
			  const struct kgen_sel *sel, unsigned int nr_sel,
			  unsigned long idx)
{
	unsigned int s;

	for (s = 0; s < nr_sel; s++)
		if (kgen_sel_match(&sel[s], idx, span->nr_pages))
			return true;
	return false;
}

/**
 * kgen_span_hold() - take extra references on selected span pages
 * @span: the span
 * @sel: page selectors
 * @nr_sel: number of selectors
 * @refs: references to take on each selected page
 *
 * Takes them with get_page_unless_zero(), exactly as a compaction scanner
 * that raced with the free would.
 */
void kgen_span_hold(struct kgen_span *span, const struct kgen_sel *sel,
		    unsigned int nr_sel, unsigned int refs)
{
	unsigned long idx;
	unsigned int r;

	for (idx = 0; idx < span->nr_pages; idx++) {
		if (!kgen_selected(span, sel, nr_sel, idx))
			continue;
		for (r = 0; r < refs; r++) {
			KUNIT_ASSERT_TRUE(span->test,
				get_page_unless_zero(kgen_span_page(span, idx)));
			span->refs[idx]++;
		}
	}
}

/**
 * kgen_span_nr_held() - number of span pages the test holds references on
 * @span: the span
 *
 * Return: the count of pages with at least one extra reference.
 */
unsigned long kgen_span_nr_held(const struct kgen_span *span)
{
	unsigned long idx, held = 0;

	for (idx = 0; idx < span->nr_pages; idx++)
		held += span->refs[idx] != 0;
	return held;
}

/**
 * kgen_span_spoil() - make selected span pages unfreeable
 * @span: the span
 * @sel: page selectors
 * @nr_sel: number of selectors
 * @how: HWPoison (needs CONFIG_MEMORY_FAILURE) or a bad page state
 *
 * free_pages_prepare() must then refuse these pages: the free path has to
 * leak them, never hand them to the buddy.  kgen_span_release() undoes it.
 */
void kgen_span_spoil(struct kgen_span *span, const struct kgen_sel *sel,
		     unsigned int nr_sel, enum kgen_spoil how)
{
	unsigned long idx;

	if (how == KGEN_SPOIL_HWPOISON && !IS_ENABLED(CONFIG_MEMORY_FAILURE))
		kunit_skip(span->test, "needs CONFIG_MEMORY_FAILURE (HWPoison)");
	for (idx = 0; idx < span->nr_pages; idx++) {
		struct page *page = kgen_span_page(span, idx);

		if (!kgen_selected(span, sel, nr_sel, idx))
			continue;
		if (how == KGEN_SPOIL_HWPOISON)
			SetPageHWPoison(page);
		else
			SetPageReserved(page);
		span->spoiled[idx] = how;
	}
}

/**
 * kgen_span_nr_spoiled() - number of span pages made unfreeable
 * @span: the span
 *
 * Return: the count of spoiled pages.
 */
unsigned long kgen_span_nr_spoiled(const struct kgen_span *span)
{
	unsigned long idx, spoiled = 0;

	for (idx = 0; idx < span->nr_pages; idx++)
		spoiled += span->spoiled[idx] != KGEN_SPOIL_NONE;
	return spoiled;
}
