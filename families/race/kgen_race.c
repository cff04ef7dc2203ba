// SPDX-License-Identifier: GPL-2.0
/*
 * kgen concurrency family: frees under racing actors and from atomic
 * contexts (see kgen_race.h for why).
 *
 * Each iteration allocates a fresh span, points the actors (started once
 * per attempt, bound to a CPU other than the case's: kgen_race_actors.c)
 * at it, waits until each has made a round, frees the span from the
 * case's context (kgen_context.c), parks the actors and checks:
 *
 * - the scanner never saw its own reference vanish (a page freed, or its
 *   refcount overwritten, while the scanner held it);
 * - no span page has a negative refcount;
 * - no span page is lost: refcount 0 but neither in the buddy nor used as
 *   anything else once the pcp lists are drained;
 * - NR_FREE_PAGES agrees exactly with the zone's free lists.  A
 *   before/after delta would count whatever other CPUs allocate meanwhile;
 *   the counter against the lists is exact whatever else runs.
 */
#include <kunit/test.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/panic.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/vmstat.h>

#include "../internal.h"
#include "kgen_kunit.h"
#include "kgen_race_actors.h"

/* Drains (or reads) before a mismatch counts: see the checks below. */
#define KGEN_RECHECKS	3

/* What a whole case saw, for its log line. */
struct kgen_race_totals {
	unsigned long refs;
	unsigned long rounds[KGEN_NR_ACTORS];
};

/* A refcount-0 span page that is neither free nor in use as anything. */
static bool kgen_page_lost(struct page *page)
{
	return page_ref_count(page) == 0 && kgen_free_block_order(page) < 0 &&
	       !PageTail(page) && !PageHead(page) && !page_has_type(page);
}

static unsigned long kgen_count_lost(struct kgen_span *span,
				     unsigned long *first)
{
	unsigned long idx, lost = 0;

	for (idx = 0; idx < span->nr_pages; idx++) {
		if (!kgen_page_lost(pfn_to_page(span->pfn + idx)))
			continue;
		if (!lost++)
			*first = span->pfn + idx;
	}
	return lost;
}

/*
 * Refcounts and lost pages.  Another CPU may have allocated a freed span
 * page meanwhile and freed it again to its pcp list after the drain: a
 * page counts as lost only if it stays lost over KGEN_RECHECKS drains.
 */
static bool kgen_race_check_span(struct kunit *test, struct kgen_span *span,
				 unsigned int it)
{
	unsigned long idx, lost = 0, first = 0, negative = 0;
	int round;

	for (idx = 0; idx < span->nr_pages; idx++)
		if (page_ref_count(pfn_to_page(span->pfn + idx)) < 0 &&
		    !negative++)
			first = span->pfn + idx;
	KUNIT_EXPECT_EQ_MSG(test, negative, 0,
		"iteration %u: %lu span pages with a negative refcount (underflow); first pfn %#lx",
		it, negative, first);
	for (round = 0; round < KGEN_RECHECKS; round++) {
		kgen_drain(span);
		lost = kgen_count_lost(span, &first);
		if (!lost)
			break;
	}
	KUNIT_EXPECT_EQ_MSG(test, lost, 0,
		"iteration %u: %lu span pages lost: refcount 0, yet not in the buddy after %d drains; first pfn %#lx",
		it, lost, KGEN_RECHECKS, first);
	return !negative && !lost;
}

/*
 * Pages on the zone's free lists that NR_FREE_PAGES counts: all of them
 * but those of isolated pageblocks (account_freepages() skips those).
 * Called with zone->lock held.
 */
static unsigned long kgen_listed_free_locked(struct zone *zone)
{
	unsigned long nr = 0;
	unsigned int order;
#ifdef CONFIG_MEMORY_ISOLATION
	struct page *page;
#endif

	for (order = 0; order < NR_PAGE_ORDERS; order++) {
		nr += zone->free_area[order].nr_free << order;
#ifdef CONFIG_MEMORY_ISOLATION
		list_for_each_entry(page,
				    &zone->free_area[order].free_list[MIGRATE_ISOLATE],
				    buddy_list)
			nr -= 1UL << order;
#endif
	}
	return nr;
}

/*
 * NR_FREE_PAGES against the free lists, both read under zone->lock (every
 * change to either is made under it).  vmstat folds a CPU's counter delta
 * into the zone's total without that lock, in two steps, so a mismatch
 * must stay over KGEN_RECHECKS reads to count.
 */
static bool kgen_race_check_counter(struct kunit *test, struct zone *zone,
				    unsigned int it)
{
	unsigned long flags, listed = 0, counted = 0;
	int round;

	for (round = 0; round < KGEN_RECHECKS; round++) {
		spin_lock_irqsave(&zone->lock, flags);
		listed = kgen_listed_free_locked(zone);
		counted = zone_page_state_snapshot(zone, NR_FREE_PAGES);
		spin_unlock_irqrestore(&zone->lock, flags);
		if (listed == counted)
			return true;
		usleep_range(100, 200);
	}
	KUNIT_EXPECT_EQ_MSG(test, counted, listed,
		"expect.balanced: iteration %u: zone %s NR_FREE_PAGES is %lu, its free lists hold %lu pages",
		it, zone->name, counted, listed);
	return false;
}

/* What the scanner saw in this iteration; reset for the next one. */
static bool kgen_race_check_scanner(struct kunit *test, struct kgen_actors *a,
				    unsigned int it)
{
	long vanished = atomic_long_xchg(&a->vanished, 0);

	KUNIT_EXPECT_EQ_MSG(test, vanished, 0,
		"iteration %u: %ld scanner references vanished while held: pfn %#lx had refcount %d under the scanner (freed while referenced)",
		it, vanished, a->vanished_pfn, a->vanished_count);
	return !vanished;
}

/* Free one span under the actors (if any); false once a check failed. */
static bool kgen_race_iteration(struct kunit *test,
				const struct kgen_race_param *p,
				struct kgen_actors *a, unsigned int it)
{
	struct kgen_span *span;
	bool ok;

	span = kgen_span_alloc_unsettled(test, p->alloc, p->order,
					 KGEN_LAYOUT_GUARDED);
	if (p->nr_hold)
		kgen_span_hold(span, p->hold, p->nr_hold, p->hold_refs);
	if (a->nr_tasks) {
		kgen_actors_target(a, span);
		if (!kgen_actors_go(test, a))
			return false;
	}
	kgen_span_free_in(span, p->api, p->context);
	if (a->nr_tasks && !kgen_actors_park(test, a))
		return false;
	/* The holder's last put_page() frees what the free path left. */
	kgen_span_put_held(span);
	ok = kgen_race_check_scanner(test, a, it);
	ok = kgen_race_check_span(test, span, it) && ok;
	if (p->balanced)
		ok = kgen_race_check_counter(test, span->zone, it) && ok;
	kgen_span_release(span);
	return ok;
}

/* Another online CPU than @self for the actors, or -1 if there is none. */
static int kgen_actor_cpu(int self)
{
	int cpu = cpumask_next(self, cpu_online_mask);

	if (cpu >= nr_cpu_ids)
		cpu = cpumask_first(cpu_online_mask);
	return cpu == self ? -1 : cpu;
}

static void kgen_race_log(struct kunit *test, const struct kgen_race_param *p,
			  struct kgen_actors *a, unsigned int done, int self,
			  int cpu)
{
	kunit_info(test,
		   "kgen: race: %u of %u iterations, free from %s on CPU %d; actors on CPU %d: scanner %ld rounds %ld references, churner %ld rounds, drainer %ld drains",
		   done, p->iterations, kgen_context_name(p->context), self,
		   cpu, atomic_long_read(&a->rounds[0]),
		   atomic_long_read(&a->refs), atomic_long_read(&a->rounds[1]),
		   atomic_long_read(&a->rounds[2]));
}

/* A case that aborts half-way (an assertion) must not leave actors behind. */
static void kgen_actors_stop_action(void *a)
{
	kgen_actors_stop(a);
}

/**
 * kgen_race_run() - run one concurrency case: @p->iterations frees
 * @test: the test case
 * @p: the case's parameter
 *
 * The case's thread stays on the CPU it started on and the actors run on
 * another one, so the free and the actors really overlap.  Stops at the
 * first iteration that fails a check; logs what the actors did.
 */
void kgen_race_run(struct kunit *test, const struct kgen_race_param *p)
{
	unsigned long taint_before = get_taint();
	struct kgen_actors *a;
	int self, cpu = -1;
	unsigned int it = 0;

	a = kunit_kzalloc(test, sizeof(*a), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	a->hold_ns = p->hold_ns;
	self = raw_smp_processor_id();
	if (p->actors) {
		cpu = kgen_actor_cpu(self);
		if (cpu < 0)
			kunit_skip(test,
				   "needs a second online CPU for its actors; this boot has %u (kgen run --cpus)",
				   num_online_cpus());
		set_cpus_allowed_ptr(current, cpumask_of(self));
		if (kunit_add_action_or_reset(test, kgen_actors_stop_action, a) ||
		    !kgen_actors_start(test, a, p->actors, cpu))
			return;
	}
	while (it < p->iterations && kgen_race_iteration(test, p, a, it))
		it++;
	kgen_actors_stop(a);
	if (p->actors)
		set_cpus_allowed_ptr(current, cpu_possible_mask);
	kgen_race_log(test, p, a, it, self, cpu);
	if (p->no_warning)
		kgen_expect_no_new_taint(test, taint_before, 0);
}
