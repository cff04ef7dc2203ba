// SPDX-License-Identifier: GPL-2.0
/*
 * kgen: did free_pages_prepare() see every page the free path freed?
 *
 * A free path that hands a page to the buddy without free_pages_prepare()
 * leaves it with whatever state its user gave it (flags, page_owner, memcg
 * and KASAN state) and skips the bad-page checks; after a drain such a page
 * looks like any other free page.  So kgen gives every page it hands to a
 * free path a state that only free_pages_prepare() clears: its contents.
 * kgen boots with init_on_free=1, and free_pages_prepare() then zeroes each
 * page it prepares; nothing else on the free path writes a page, and the
 * allocator checks no contents (without page poisoning), so the mark can
 * neither make a page bad nor trip a VM_BUG_ON().  A page flag could not
 * serve: every flag but PG_hwpoison is one __free_one_page() BUGs on.
 *
 * A page in the buddy that still holds a non-zero byte of the pattern
 * (kgen_fill_page()) was never prepared.  Pages the free path must leave
 * alone (held, HWPoison, bad) are checked by expect.retained and
 * expect.leaked; a held page that lost its contents was prepared while in
 * use.
 */
#include <linux/highmem.h>
#include <linux/kasan.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/string.h>

#include "../internal.h"
#include "kgen_kunit.h"
#if KGEN_HAVE_MM_PAGE_ALLOC_H
#include "../page_alloc.h"
#endif

/**
 * kgen_pageset_mark() - fill every page of a set with its pfn pattern
 * @set: pages the test owns and is about to free
 */
void kgen_pageset_mark(struct kgen_pageset *set)
{
	unsigned long i;

	for (i = 0; i < set->nr; i++)
		kgen_fill_page(set->pages[i]);
}

/*
 * Whether a free page holds only zeroes; if not, zero it now.  With
 * init_on_free=1 the allocator skips zeroing __GFP_ZERO allocations, since
 * free pages are zero already: an unprepared page left as it is would hand
 * the next kzalloc() (kgen's own bookkeeping included) non-zero memory.
 *
 * The page is free, so KASAN (kgen run --debug) has poisoned it: reading
 * it on purpose, under the zone lock, is not a use after free, and this
 * task's KASAN reports are off while it does.
 */
static bool kgen_page_zeroed(struct page *page)
{
	void *addr;
	bool zeroed;

	kasan_disable_current();
	addr = kmap_local_page(page);
	zeroed = !memchr_inv(addr, 0, PAGE_SIZE);
	if (!zeroed)
		memset(addr, 0, PAGE_SIZE);
	kunmap_local(addr);
	kasan_enable_current();
	return zeroed;
}

/**
 * kgen_unprepared_in_buddy() - is a free page still unprepared?
 * @page: a page the test filled and handed to a free path
 *
 * Looked up under the zone lock, so the page cannot be allocated (and
 * written) while its contents are read.  An unprepared page is zeroed, as
 * free_pages_prepare() would have done.
 *
 * Return: 1 if the page is in the buddy and not zeroed, 0 if it is in the
 * buddy and zeroed, -1 if it is not in the buddy.
 */
int kgen_unprepared_in_buddy(struct page *page)
{
	struct zone *zone = page_zone(page);
	unsigned long flags;
	int ret = -1;

	spin_lock_irqsave(&zone->lock, flags);
	if (kgen_buddy_block_locked(page_to_pfn(page), NULL) >= 0)
		ret = !kgen_page_zeroed(page);
	spin_unlock_irqrestore(&zone->lock, flags);
	return ret;
}

/**
 * kgen_expect_pages_prepared() - every page of a set that reached the buddy
 *                                went through free_pages_prepare()
 * @test: the test case
 * @set: the pages, filled by kgen_pageset_mark() before the free, now freed
 *       and drained
 * @what: what the pages are, for the message
 */
void kgen_expect_pages_prepared(struct kunit *test, struct kgen_pageset *set,
				const char *what)
{
	unsigned long i, unprepared = 0, first = 0;

	if (!want_init_on_free()) {
		KUNIT_FAIL(test,
			   "expect.prepared: cannot check without init_on_free=1 on the kernel command line (kgen run passes it): only then does free_pages_prepare() zero the pages it prepares");
		return;
	}
	for (i = 0; i < set->nr; i++)
		if (kgen_unprepared_in_buddy(set->pages[i]) > 0 && !unprepared++)
			first = i;
	KUNIT_EXPECT_EQ_MSG(test, unprepared, 0UL,
		"expect.prepared: %lu %s pages reached the buddy without free_pages_prepare(); first: page %lu (pfn %#lx) still holds its contents, which init_on_free=1 makes free_pages_prepare() zero",
		unprepared, what, first, page_to_pfn(set->pages[first]));
}
