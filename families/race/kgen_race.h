/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kgen concurrency family: a span is freed while actors on other CPUs
 * work on the same pages and the same zone, or from an atomic context.
 *
 * The series' review worried about compaction's get_page_unless_zero()
 * raising a page's refcount while the range is freed.  refcount_hold takes
 * that reference before the free starts; here a scanner takes and drops
 * references during the free, as isolate_migratepages() does, so a free
 * path whose "is this the last reference?" test is not atomic with the
 * drop loses pages or frees referenced ones.
 */
#ifndef _MM_KGEN_RACE_H
#define _MM_KGEN_RACE_H

/* Included from kgen_kunit.h (kgen_families.h), after the span family. */

/* Actors that run on another CPU while the span is freed. */
enum kgen_actor {
	/* get_page_unless_zero(), a short hold, put_page() on span pages */
	KGEN_ACTOR_SCANNER = BIT(0),
	/* allocations and frees in the span's zone: zone->lock, pcp lists */
	KGEN_ACTOR_CHURN = BIT(1),
	/* drain_all_pages() of the span's zone: remote pcp drains */
	KGEN_ACTOR_DRAIN = BIT(2),
};

#define KGEN_NR_ACTORS	3

/**
 * struct kgen_race_param - one parameter of a concurrency case
 * @alloc: how each iteration's block is allocated
 * @order: log2 of the span size in pages
 * @api: free path under test
 * @context: context the free is called from
 * @actors: enum kgen_actor bits
 * @iterations: spans allocated and freed, each under fresh actors
 * @hold_ns: how long the scanner keeps each reference
 * @hold: selectors of pages the case holds through the free, cutting the
 *        span into short runs (many small chunks)
 * @nr_hold: number of entries in @hold
 * @hold_refs: references per held page
 * @balanced: check NR_FREE_PAGES rose by the span once the actors stopped
 * @no_warning: check the kernel took no new complaint taint
 * @skip: reason this parameter cannot run on this tree or arch, or NULL
 * @desc: KUnit parameter description
 */
struct kgen_race_param {
	enum kgen_alloc alloc;
	unsigned int order;
	enum kgen_free_api api;
	enum kgen_free_context context;
	unsigned int actors;
	unsigned int iterations;
	unsigned int hold_ns;
	const struct kgen_sel *hold;
	unsigned int nr_hold;
	unsigned int hold_refs;
	bool balanced;
	bool no_warning;
	const char *skip;
	char desc[KUNIT_PARAM_DESC_SIZE];
};

void kgen_race_run(struct kunit *test, const struct kgen_race_param *p);

#endif /* _MM_KGEN_RACE_H */
