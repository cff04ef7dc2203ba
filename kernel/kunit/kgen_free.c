// SPDX-License-Identifier: GPL-2.0
/*
 * kgen free dispatch: the one place the helper library calls the free
 * paths under test, for every family, and their names for messages.
 * Each API is called only where this tree declares it (kgen_caps.h).
 */
#include <linux/cma.h>
#include <linux/dma-map-ops.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>

#include "../internal.h"
#include "kgen_kunit.h"
#if KGEN_HAVE_MM_PAGE_ALLOC_H
#include "../page_alloc.h"
#endif

/**
 * kgen_free_api_name() - the kernel function a free API value stands for
 * @api: the free API
 *
 * Return: a static string, for messages.
 */
const char *kgen_free_api_name(enum kgen_free_api api)
{
	switch (api) {
	case KGEN_FREE_CONTIG_RANGE:
		return "free_contig_range";
	case KGEN_FREE___CONTIG_RANGE:
		return "__free_contig_range";
	case KGEN_FREE_PAGES_BULK:
		return "free_pages_bulk";
	case KGEN_FREE_PAGE_LOOP:
		return "__free_page loop";
	case KGEN_FREE_CONTIG_FROZEN_RANGE:
		return "free_contig_frozen_range";
	case KGEN_FREE_VFREE:
		return "vfree";
	case KGEN_FREE_PAGES_NOLOCK:
		return "free_pages_nolock";
	case KGEN_FREE_FROZEN_PAGES_NOLOCK:
		return "free_frozen_pages_nolock";
	case KGEN_FREE_CMA_RELEASE:
		return "cma_release";
	case KGEN_FREE_CMA_RELEASE_FROZEN:
		return "cma_release_frozen";
	}
	return "?";
}

/**
 * kgen_cma_area() - the default CMA area (cma= on the command line)
 *
 * The area dma_alloc_contiguous() takes from when a device has none of
 * its own: the one kgen's CMA spans come from and go back to.
 *
 * Return: the area, or NULL when the kernel has none (no DMA_CMA, or
 * booted without cma=).
 */
struct cma *kgen_cma_area(void)
{
#ifdef CONFIG_DMA_CMA
	return dev_get_cma_area(NULL);
#else
	return NULL;
#endif
}

/* Give [@pfn, @pfn + @nr) back to the default CMA area; false if absent. */
static bool kgen_cma_release(enum kgen_free_api api, unsigned long pfn,
			     unsigned long nr)
{
	struct cma *cma = kgen_cma_area();

	if (!cma)
		return false;
#if KGEN_HAVE_CMA_RELEASE_FROZEN
	if (api == KGEN_FREE_CMA_RELEASE_FROZEN)
		return cma_release_frozen(cma, pfn_to_page(pfn), nr);
#endif
#if KGEN_HAVE_CMA_RELEASE
	if (api == KGEN_FREE_CMA_RELEASE)
		return cma_release(cma, pfn_to_page(pfn), nr);
#endif
	return false;
}

/**
 * kgen_free_api_call() - hand pages to a free API under test
 * @api: the free path
 * @pfn: first pfn of the pages, for the range APIs and the per-page loops
 * @nr: number of pages
 * @pages: the same pages as an array, for free_pages_bulk(); or NULL
 * @addr: for vfree(), the vmap() or vmalloc() area that owns the pages;
 *        or NULL
 *
 * The one place the helper library calls the free paths it tests, for
 * every family: the range APIs and the __free_page() loop take
 * [@pfn, @pfn + @nr), free_pages_bulk() takes @pages, vfree() takes @addr.
 *
 * Return: true if @api was called.  False, with nothing freed, if this
 * tree or kernel configuration lacks @api, or the caller has no @pages or
 * @addr for it.
 */
bool kgen_free_api_call(enum kgen_free_api api, unsigned long pfn,
			unsigned long nr, struct page **pages, const void *addr)
{
	unsigned long i;

	switch (api) {
	case KGEN_FREE_CONTIG_RANGE:
#if KGEN_HAVE_FREE_CONTIG_RANGE && defined(CONFIG_CONTIG_ALLOC)
		free_contig_range(pfn, nr);
		return true;
#else
		return false;
#endif
	case KGEN_FREE___CONTIG_RANGE:
#if KGEN_HAVE___FREE_CONTIG_RANGE
		__free_contig_range(pfn, nr);
		return true;
#else
		return false;
#endif
	case KGEN_FREE_PAGES_BULK:
#if KGEN_HAVE_FREE_PAGES_BULK
		if (!pages)
			return false;
		free_pages_bulk(pages, nr);
		return true;
#else
		return false;
#endif
	case KGEN_FREE_PAGE_LOOP:
		for (i = 0; i < nr; i++)
			__free_page(pfn_to_page(pfn + i));
		return true;
	case KGEN_FREE_CONTIG_FROZEN_RANGE:
#if KGEN_HAVE_FREE_CONTIG_FROZEN_RANGE && defined(CONFIG_CONTIG_ALLOC)
		free_contig_frozen_range(pfn, nr);
		return true;
#else
		return false;
#endif
	case KGEN_FREE_VFREE:
		if (!addr)
			return false;
		vfree(addr);
		return true;
	case KGEN_FREE_PAGES_NOLOCK:
#if KGEN_HAVE_FREE_PAGES_NOLOCK
		/* Order-0 pages, one call each, as BPF's arena frees them. */
		for (i = 0; i < nr; i++)
			free_pages_nolock(pfn_to_page(pfn + i), 0);
		return true;
#else
		return false;
#endif
	case KGEN_FREE_FROZEN_PAGES_NOLOCK:
#if KGEN_HAVE_FREE_FROZEN_PAGES_NOLOCK
		for (i = 0; i < nr; i++)
			free_frozen_pages_nolock(pfn_to_page(pfn + i), 0);
		return true;
#else
		return false;
#endif
	case KGEN_FREE_CMA_RELEASE:
	case KGEN_FREE_CMA_RELEASE_FROZEN:
		return kgen_cma_release(api, pfn, nr);
	}
	return false;
}
