/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kgen KUnit helpers shared by every family of generated tests: the free
 * paths under test, the page pattern, where freed pages went (pagesets),
 * zone probes, per-case framing and confirmation.  Each family's own
 * helpers are declared in its header, which kgen_families.h (generated
 * from kgen's family registry) includes at the end of this one.
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
	KGEN_FREE_PAGES_NOLOCK,		/* free_pages_nolock() per page */
	KGEN_FREE_FROZEN_PAGES_NOLOCK,	/* free_frozen_pages_nolock() per page */
	KGEN_FREE_CMA_RELEASE,		/* cma_release() to the default area */
	KGEN_FREE_CMA_RELEASE_FROZEN,	/* cma_release_frozen() to it */
};

/* The context a free API is called from (kgen_context.c). */
enum kgen_free_context {
	KGEN_CTX_PROCESS,	/* the sleepable KUnit thread */
	KGEN_CTX_SPINLOCK,	/* under a (non-raw) spinlock */
	KGEN_CTX_RAW_SPINLOCK,	/* under a raw spinlock, interrupts off */
	KGEN_CTX_IRQS_OFF,	/* local_irq_save() */
	KGEN_CTX_BH_OFF,	/* local_bh_disable(): in_interrupt() is true */
	KGEN_CTX_HARDIRQ,	/* a hard irq_work: in_hardirq() is true */
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

/*
 * Every page a case hands to a free path holds a pfn-derived pattern that
 * is never all zeroes; kgen boots with init_on_free=1, so
 * free_pages_prepare() zeroes each page it prepares (kgen_prepared.c).
 */
void kgen_fill_page(struct page *page);
bool kgen_page_intact(struct page *page);
bool kgen_page_holds(struct page *page, unsigned long pfn);
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
 * @list: per page, the list that unit is on: its pcp list index for a pcp
 *        entry, its free list's migratetype for a buddy block; -1 if none
 *        or not looked up
 * @mt_ready: per page, its pageblock's migratetype when the pages became
 *            known (kgen_pageset_ready()), before the free
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
	s8 *list;
	s8 *mt_ready;
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
 * @realloc_to: vmalloc family: vrealloc() the area to this many pages, or 0
 * @merge_order: vmalloc family: order every freed page's block must reach,
 *               or -1 for the vmalloc area's own page order
 * @batched: @api batches: check that it freed whole chunks (else only log
 *           where the pages went)
 * @unchecked: why an expectation cannot be checked on this tree, or NULL;
 *             a case that passes everything else then ends as a skip
 * @context: the context the free is called from
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
	unsigned long realloc_to;
	int merge_order;
	bool batched;
	const char *unchecked;
	enum kgen_free_context context;
	char desc[KUNIT_PARAM_DESC_SIZE];
};

bool kgen_free_api_call(enum kgen_free_api api, unsigned long pfn,
			unsigned long nr, struct page **pages, const void *addr);
bool kgen_free_api_call_in(struct kunit *test, enum kgen_free_context context,
			   enum kgen_free_api api, unsigned long pfn,
			   unsigned long nr, struct page **pages,
			   const void *addr);
const char *kgen_context_name(enum kgen_free_context context);


void kgen_settle(void);
unsigned long kgen_zone_nr_free(struct zone *zone);
unsigned long kgen_zone_nr_free_cma(struct zone *zone);
struct cma *kgen_cma_area(void);
int kgen_buddy_block_locked(unsigned long pfn, unsigned long *head_pfn);
int kgen_buddy_list_locked(struct zone *zone, struct page *head, int order);
int kgen_free_block_order(struct page *page);
unsigned long kgen_pgfree(void);
void kgen_expect_pgfree(struct kunit *test, unsigned long delta, long expected,
			const char *api);

/*
 * The taint check.  The generated suites call it through one wrapper per
 * family (kgen_expect_no_warning() for spans, for instance), each handing
 * it the taint flags that family recorded when it allocated its pages.
 */
void kgen_expect_no_new_taint(struct kunit *test, unsigned long taint_before,
			      unsigned long allowed_taints);
/* Every generated case: run only in the boot kgen assigned it. */
void kgen_guest_require(struct kunit *test, const char *layout);
void kgen_boot_require(struct kunit *test, unsigned int boot);

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
void kgen_note_unchecked(struct kunit *test, const char *why);

/* Each family's helpers: kgen_families.h is generated from the registry. */
#include "kgen_families.h"

#endif /* _MM_KGEN_KUNIT_H */
