// SPDX-License-Identifier: GPL-2.0
/*
 * kgen concurrency family: frees under racing actors and from atomic
 * contexts (see kgen_race.h for why).
 *
 * Each iteration allocates a fresh span, starts the actors bound to a CPU
 * other than the case's, waits until each has made a round, frees the
 * span from the case's context, stops the actors and then checks:
 *
 * - the scanner never saw its own reference vanish (a page freed, or its
 *   refcount overwritten, while the scanner held it);
 * - no span page has a negative refcount;
 * - no span page is lost: refcount 0 but neither in the buddy nor used as
 *   anything else once the pcp lists are drained;
 * - NR_FREE_PAGES agrees exactly with the zone's free lists once the
 *   actors stopped.  A before/after delta would count the actors' own
 *   thread stacks and whatever else other CPUs allocate meanwhile; the
 *   counter against the lists is exact whatever else runs.
 */
#include <kunit/test.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/gfp.h>
#include <linux/interrupt.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "../internal.h"
#include "kgen_kunit.h"
#if KGEN_HAVE_MM_PAGE_ALLOC_H
#include "../page_alloc.h"	/* drain_all_pages() in 7.3 */
#endif
#include "kgen_protocol.h"

/* Pages the churner holds at a time, and the order of its zone->lock block. */
#define KGEN_CHURN_PAGES	32
#define KGEN_CHURN_BIG_ORDER	(PAGE_ALLOC_COSTLY_ORDER + 1)
/* How long an actor may take to make its first round. */
#define KGEN_ACTOR_START_MS	2000
/* Drains before a refcount-0 page outside the buddy counts as lost. */
#define KGEN_LOST_RECHECKS	3

/**
 * struct kgen_race - what the actors of one iteration share with the case
 * @pfn: first pfn of the span being freed
 * @nr_pages: pages in the span
 * @zone: zone of the span
 * @hold_ns: how long the scanner keeps each reference
 * @rounds: per actor, rounds made so far
 * @refs: references the scanner took
 * @vanished: references the scanner found gone while it held them
 * @vanished_pfn: the first such page
 * @vanished_count: its refcount when the scanner looked
 * @task: per actor, its thread (NULL if not in this case)
 */
struct kgen_race {
	unsigned long pfn;
	unsigned long nr_pages;
	struct zone *zone;
	unsigned int hold_ns;
	atomic_long_t rounds[KGEN_NR_ACTORS];
	atomic_long_t refs;
	atomic_long_t vanished;
	unsigned long vanished_pfn;
	int vanished_count;
	struct task_struct *task[KGEN_NR_ACTORS];
};

/* What a whole case saw, for its log line. */
struct kgen_race_totals {
	unsigned long refs;
	unsigned long rounds[KGEN_NR_ACTORS];
};

static DEFINE_SPINLOCK(kgen_context_lock);

static const char *const kgen_context_names[] = {
	[KGEN_CTX_PROCESS] = "process",
	[KGEN_CTX_SPINLOCK] = "spinlock",
	[KGEN_CTX_IRQS_OFF] = "irqs_off",
	[KGEN_CTX_BH_OFF] = "bh_off",
};

/**
 * kgen_context_name() - the spec's name of a free context
 * @context: the context
 *
 * Return: "process", "spinlock", "irqs_off" or "bh_off".
 */
const char *kgen_context_name(enum kgen_free_context context)
{
	return kgen_context_names[context];
}

static bool kgen_call_in_context(struct kgen_span *span,
				 enum kgen_free_api api,
				 enum kgen_free_context context)
{
	unsigned long flags;
	bool called;

	switch (context) {
	case KGEN_CTX_SPINLOCK:
		spin_lock(&kgen_context_lock);
		called = kgen_free_api_call(api, span->pfn, span->nr_pages,
					    span->array, NULL);
		spin_unlock(&kgen_context_lock);
		return called;
	case KGEN_CTX_IRQS_OFF:
		local_irq_save(flags);
		called = kgen_free_api_call(api, span->pfn, span->nr_pages,
					    span->array, NULL);
		local_irq_restore(flags);
		return called;
	case KGEN_CTX_BH_OFF:
		local_bh_disable();
		called = kgen_free_api_call(api, span->pfn, span->nr_pages,
					    span->array, NULL);
		local_bh_enable();
		return called;
	case KGEN_CTX_PROCESS:
		break;
	}
	return kgen_free_api_call(api, span->pfn, span->nr_pages, span->array,
				  NULL);
}

/**
 * kgen_free_in_context() - hand a span to a free API from a given context
 * @span: the span; its pages count as given to the API from here on
 * @api: free path under test
 * @context: where to call it from
 *
 * The same as kgen_span_free(), but the call is made under a spinlock,
 * with interrupts off or with bottom halves off.  A tree without the API
 * skips the case, after the context is left again.
 */
void kgen_free_in_context(struct kgen_span *span, enum kgen_free_api api,
			  enum kgen_free_context context)
{
	unsigned long idx, base = span->pfn - span->block_pfn;

	for (idx = 0; idx < span->nr_pages; idx++)
		span->owner[base + idx] = KGEN_GIVEN;
	if (kgen_call_in_context(span, api, context))
		return;
	for (idx = 0; idx < span->nr_pages; idx++)
		span->owner[base + idx] = KGEN_OWNED;
	kunit_skip(span->test, "%s() is not available in this kernel",
		   kgen_free_api_name(api));
}

/*
 * The compaction-style scanner: isolate_migratepages() takes a speculative
 * reference with get_page_unless_zero(), looks at the page and drops it.
 * While it holds the reference the page cannot be freed, so a refcount of
 * 0 or less under it means the free path took the reference away.
 */
static void kgen_scan_page(struct kgen_race *r, struct page *page)
{
	int count;

	if (!get_page_unless_zero(page))
		return;
	atomic_long_inc(&r->refs);
	if (r->hold_ns)
		ndelay(r->hold_ns);
	count = page_ref_count(page);
	if (count <= 0) {
		/* Putting it would underflow the refcount: leave the page. */
		if (atomic_long_inc_return(&r->vanished) == 1) {
			r->vanished_pfn = page_to_pfn(page);
			r->vanished_count = count;
		}
		return;
	}
	put_page(page);
}

static int kgen_scanner(void *data)
{
	struct kgen_race *r = data;
	unsigned long i;

	while (!kthread_should_stop()) {
		for (i = 0; i < r->nr_pages; i++)
			kgen_scan_page(r, pfn_to_page(r->pfn + i));
		atomic_long_inc(&r->rounds[0]);
		cond_resched();
	}
	return 0;
}

/*
 * Allocations and frees in the span's zone, order 0 (pcp) and above the
 * costly order (straight to the buddy, under zone->lock).
 */
static int kgen_churner(void *data)
{
	struct kgen_race *r = data;
	const gfp_t gfp = GFP_KERNEL | __GFP_NOWARN | __GFP_NORETRY;
	int nid = zone_to_nid(r->zone);
	struct page *held[KGEN_CHURN_PAGES];
	struct page *big;
	unsigned int i;

	while (!kthread_should_stop()) {
		for (i = 0; i < KGEN_CHURN_PAGES; i++)
			held[i] = alloc_pages_node(nid, gfp, 0);
		big = alloc_pages_node(nid, gfp, KGEN_CHURN_BIG_ORDER);
		for (i = 0; i < KGEN_CHURN_PAGES; i++)
			if (held[i])
				__free_page(held[i]);
		if (big)
			__free_pages(big, KGEN_CHURN_BIG_ORDER);
		atomic_long_inc(&r->rounds[1]);
		cond_resched();
	}
	return 0;
}

/*
 * Remote pcp drains: drain_all_pages() empties every CPU's lists of the
 * zone, the case's CPU included, taking each list's lock from here.
 */
static int kgen_drainer(void *data)
{
	struct kgen_race *r = data;

	while (!kthread_should_stop()) {
		drain_all_pages(r->zone);
		atomic_long_inc(&r->rounds[2]);
		cond_resched();
	}
	return 0;
}

static int (*const kgen_actor_fn[KGEN_NR_ACTORS])(void *) = {
	kgen_scanner, kgen_churner, kgen_drainer,
};

/* Task names: the results attribute reports from kgen_race_* to the case. */
static const char *const kgen_actor_name[KGEN_NR_ACTORS] = {
	KGEN_PROTO_ACTOR_PREFIX "scan", KGEN_PROTO_ACTOR_PREFIX "churn",
	KGEN_PROTO_ACTOR_PREFIX "drain",
};

static void kgen_race_stop(struct kgen_race *r)
{
	int i;

	for (i = 0; i < KGEN_NR_ACTORS; i++) {
		if (r->task[i])
			kthread_stop(r->task[i]);
		r->task[i] = NULL;
	}
}

static bool kgen_race_started(struct kgen_race *r)
{
	int i;

	for (i = 0; i < KGEN_NR_ACTORS; i++)
		if (r->task[i] && !atomic_long_read(&r->rounds[i]))
			return false;
	return true;
}

/* Start the actors on @cpu and wait until each has made one round. */
static bool kgen_race_start(struct kunit *test, struct kgen_race *r,
			    unsigned int actors, int cpu)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(KGEN_ACTOR_START_MS);
	struct task_struct *task;
	int i;

	for (i = 0; i < KGEN_NR_ACTORS; i++) {
		if (!(actors & BIT(i)))
			continue;
		task = kthread_create(kgen_actor_fn[i], r, "%s",
				      kgen_actor_name[i]);
		if (IS_ERR(task)) {
			KUNIT_FAIL(test, "cannot start %s: %ld",
				   kgen_actor_name[i], PTR_ERR(task));
			kgen_race_stop(r);
			return false;
		}
		kthread_bind(task, cpu);
		r->task[i] = task;
		wake_up_process(task);
	}
	while (!kgen_race_started(r)) {
		if (time_after(jiffies, deadline)) {
			kgen_race_stop(r);
			KUNIT_FAIL(test, "an actor made no round in %d ms",
				   KGEN_ACTOR_START_MS);
			return false;
		}
		usleep_range(50, 100);
	}
	return true;
}

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
 * After the actors stopped: refcounts, lost pages, pages still in use.
 * Another CPU may have allocated a freed span page meanwhile, and freed it
 * again to its pcp list after the drain: a page counts as lost only if it
 * stays lost over KGEN_LOST_RECHECKS drains.
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
	for (round = 0; round < KGEN_LOST_RECHECKS; round++) {
		kgen_drain(span);
		lost = kgen_count_lost(span, &first);
		if (!lost)
			break;
	}
	KUNIT_EXPECT_EQ_MSG(test, lost, 0,
		"iteration %u: %lu span pages lost: refcount 0, yet not in the buddy after %d drains; first pfn %#lx",
		it, lost, KGEN_LOST_RECHECKS, first);
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
 * must stay over KGEN_LOST_RECHECKS reads to count.
 */
static bool kgen_race_check_counter(struct kunit *test, struct zone *zone,
				    unsigned int it)
{
	unsigned long flags, listed = 0, counted = 0;
	int round;

	for (round = 0; round < KGEN_LOST_RECHECKS; round++) {
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

static bool kgen_race_iteration(struct kunit *test,
				const struct kgen_race_param *p,
				unsigned int it, int cpu,
				struct kgen_race_totals *tot)
{
	struct kgen_race *r;
	struct kgen_span *span;
	bool ok;
	int i;

	r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	span = kgen_span_alloc(test, p->alloc, p->order, KGEN_LAYOUT_GUARDED);
	r->pfn = span->pfn;
	r->nr_pages = span->nr_pages;
	r->zone = span->zone;
	r->hold_ns = p->hold_ns;
	if (p->nr_hold)
		kgen_span_hold(span, p->hold, p->nr_hold, p->hold_refs);
	if (p->actors && !kgen_race_start(test, r, p->actors, cpu))
		return false;
	kgen_free_in_context(span, p->api, p->context);
	kgen_race_stop(r);
	/* The holder's last put_page() frees what the free path left. */
	kgen_span_put_held(span);
	KUNIT_EXPECT_EQ_MSG(test, atomic_long_read(&r->vanished), 0,
		"iteration %u: %ld scanner references vanished while held: pfn %#lx had refcount %d under the scanner (freed while referenced)",
		it, atomic_long_read(&r->vanished), r->vanished_pfn,
		r->vanished_count);
	ok = kgen_race_check_span(test, span, it) &&
	     !atomic_long_read(&r->vanished);
	if (p->balanced)
		ok = kgen_race_check_counter(test, span->zone, it) && ok;
	tot->refs += atomic_long_read(&r->refs);
	for (i = 0; i < KGEN_NR_ACTORS; i++)
		tot->rounds[i] += atomic_long_read(&r->rounds[i]);
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
	struct kgen_race_totals tot = { };
	unsigned long taint_before = get_taint();
	int self, cpu = -1;
	unsigned int it;

	self = raw_smp_processor_id();
	if (p->actors) {
		cpu = kgen_actor_cpu(self);
		if (cpu < 0)
			kunit_skip(test,
				   "needs a second online CPU for its actors; this boot has %u (kgen run --cpus)",
				   num_online_cpus());
		set_cpus_allowed_ptr(current, cpumask_of(self));
	}
	for (it = 0; it < p->iterations; it++)
		if (!kgen_race_iteration(test, p, it, cpu, &tot))
			break;
	if (p->actors)
		set_cpus_allowed_ptr(current, cpu_possible_mask);
	kunit_info(test,
		   "kgen: race: %u of %u iterations, free from %s on CPU %d; actors on CPU %d: scanner %lu rounds %lu references, churner %lu rounds, drainer %lu drains",
		   it, p->iterations, kgen_context_name(p->context), self, cpu,
		   tot.rounds[0], tot.refs, tot.rounds[1], tot.rounds[2]);
	if (p->no_warning)
		kgen_expect_no_new_taint(test, taint_before, 0);
}
