// SPDX-License-Identifier: GPL-2.0
/*
 * kgen: did free_pages_prepare() see every page the free path freed?
 *
 * A free path that hands a page to the buddy without free_pages_prepare()
 * leaves it with whatever state its user gave it: flags, page_owner,
 * memcg and KASAN state, and the bad-page checks never run on it.  Pages
 * that merely look like freed pages cannot tell, so kgen marks every page
 * it hands to a free path (KGEN_UNPREPARED in kgen_kunit.h, a page flag
 * that only free_pages_prepare() clears) and looks for the mark on every
 * page that reached the buddy.  A page the free path must leave alone
 * because someone still holds it must keep the mark: preparing a page in
 * use wipes the state of a live page.
 */
#include <linux/mm.h>
#include <linux/mmzone.h>

#include "../internal.h"
#include "kgen_kunit.h"
#if KGEN_HAVE_MM_PAGE_ALLOC_H
#include "../page_alloc.h"
#endif

/**
 * kgen_pageset_mark() - mark every page of a set as not yet prepared
 * @set: pages the test owns and is about to free
 *
 * Only cases that check expect.prepared mark their pages: the check also
 * takes the mark off a page that reached the buddy without it, which would
 * otherwise report a bad page state at its next allocation.
 */
void kgen_pageset_mark(struct kgen_pageset *set)
{
	unsigned long i;

	for (i = 0; i < set->nr; i++)
		kgen_mark_unprepared(set->pages[i]);
}

/**
 * kgen_unprepared_in_buddy() - is a free page still marked unprepared?
 * @page: a page the test marked and handed to a free path
 *
 * Looked up under the zone lock, so the page cannot be allocated while
 * its flags are read.  A marked page found in the buddy loses the mark:
 * left there, it would make the next allocation of the page report a bad
 * page state, in whichever case that happens to be.
 *
 * Return: 1 if the page is in the buddy with the mark, 0 if it is in the
 * buddy without it, -1 if it is not in the buddy.
 */
int kgen_unprepared_in_buddy(struct page *page)
{
	struct zone *zone = page_zone(page);
	unsigned long flags;
	int ret = -1;

	spin_lock_irqsave(&zone->lock, flags);
	if (kgen_buddy_block_locked(page_to_pfn(page), NULL) >= 0) {
		ret = kgen_page_unprepared(page);
		clear_bit(KGEN_UNPREPARED, kgen_page_flags(page));
	}
	spin_unlock_irqrestore(&zone->lock, flags);
	return ret;
}

/**
 * kgen_expect_pages_prepared() - every freed page of a set was prepared
 * @test: the test case
 * @set: the pages, after the free and a drain; @set->refused marks the
 *       pages that must still be in use
 * @what: "freed" pages, or what the set is, for the message
 *
 * A page in the buddy must have lost the mark.  A refused page that is
 * still in use (refcount above zero: held) must still have it.
 */
void kgen_expect_pages_prepared(struct kunit *test, struct kgen_pageset *set,
				const char *what)
{
	unsigned long i, unprepared = 0, first = 0, wiped = 0, first_wiped = 0;

	for (i = 0; i < set->nr; i++) {
		struct page *page = set->pages[i];

		if (kgen_unprepared_in_buddy(page) > 0 && !unprepared++)
			first = i;
		if (set->refused[i] && page_ref_count(page) &&
		    !kgen_page_unprepared(page) && !wiped++)
			first_wiped = i;
	}
	KUNIT_EXPECT_EQ_MSG(test, unprepared, 0UL,
		"expect.prepared: %lu %s pages reached the buddy without free_pages_prepare(); first: page %lu (pfn %#lx) still has the flag only free_pages_prepare() clears",
		unprepared, what, first, page_to_pfn(set->pages[first]));
	KUNIT_EXPECT_EQ_MSG(test, wiped, 0UL,
		"expect.prepared: %lu held pages went through free_pages_prepare() while still in use; first: page %lu (pfn %#lx) refcount %d",
		wiped, first_wiped, page_to_pfn(set->pages[first_wiped]),
		page_ref_count(set->pages[first_wiped]));
}
