// SPDX-License-Identifier: GPL-2.0
/*
 * kgen page pattern.  Every page a case hands to a free path holds a
 * pfn-derived pattern that is never all zeroes, so a page that
 * free_pages_prepare() zeroed (kgen boots with init_on_free=1) or that
 * someone wrote to tells itself apart from one nobody touched.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/string.h>

#include "kgen_kunit.h"

/* Never 0: a page zeroed by free_pages_prepare() must not look filled. */
static u8 kgen_pattern(unsigned long pfn)
{
	return (u8)(pfn ^ 0xa5) ?: 0x5a;
}

/**
 * kgen_fill_page() - fill a page the test owns with its pfn pattern
 * @page: the page
 */
void kgen_fill_page(struct page *page)
{
	void *addr = kmap_local_page(page);

	memset(addr, kgen_pattern(page_to_pfn(page)), PAGE_SIZE);
	kunmap_local(addr);
}

/**
 * kgen_page_holds() - whether a page holds another pfn's pattern
 * @page: any page
 * @pfn: the pfn whose pattern it should hold (its own, or the page's a
 *       copy was made from)
 *
 * Return: true if every byte is @pfn's pattern.
 */
bool kgen_page_holds(struct page *page, unsigned long pfn)
{
	void *addr = kmap_local_page(page);
	bool holds;

	holds = !memchr_inv(addr, kgen_pattern(pfn), PAGE_SIZE);
	kunmap_local(addr);
	return holds;
}

/**
 * kgen_page_intact() - whether a page still holds its pfn pattern
 * @page: a page kgen_fill_page() filled
 *
 * Return: true if every byte is the pattern.
 */
bool kgen_page_intact(struct page *page)
{
	return kgen_page_holds(page, page_to_pfn(page));
}
