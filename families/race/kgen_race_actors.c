// SPDX-License-Identifier: GPL-2.0
/*
 * kgen concurrency family: the actors, kthreads bound to a CPU other than
 * the case's, started once per attempt and pointed at each iteration's
 * span.  Between iterations they are parked: each ends its round, gives
 * back what it holds and waits, so the case's checks see a quiet zone and
 * no thread is created per iteration.
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/processor.h>
#include <linux/gfp.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/mm.h>

#include "../internal.h"
#include "kgen_kunit.h"
#include "kgen_protocol.h"
#include "kgen_race_actors.h"
#if KGEN_HAVE_MM_PAGE_ALLOC_H
#include "../page_alloc.h"	/* drain_all_pages() in 7.3 */
#endif

/* Pages the churner holds at a time, and the order of its zone->lock block. */
#define KGEN_CHURN_PAGES	32
#define KGEN_CHURN_BIG_ORDER	(PAGE_ALLOC_COSTLY_ORDER + 1)
/* How long actors may take to make a round, or to park. */
#define KGEN_ACTOR_WAIT_MS	5000

/*
 * Waits here are short (one actor round) and happen hundreds of times a
 * case: spin, but let the CPU run anything else that is ready.  A sleep
 * would cost a timer tick each time on UML.
 */
static void kgen_actor_pause(void)
{
	cpu_relax();
	cond_resched();
}

/*
 * The park point, between two rounds: false once the actor must exit.
 * The case publishes the next span before it clears @park, with release
 * semantics; the acquire here makes the actor see it.
 */
static bool kgen_actor_next_round(struct kgen_actors *a)
{
	if (atomic_read_acquire(&a->park)) {
		atomic_inc(&a->parked);
		while (atomic_read_acquire(&a->park) && !kthread_should_stop())
			kgen_actor_pause();
		atomic_dec(&a->parked);
	}
	cond_resched();
	return !kthread_should_stop();
}

/*
 * The compaction-style scanner: isolate_migratepages() takes a speculative
 * reference with get_page_unless_zero(), looks at the page and drops it.
 * While it holds the reference the page cannot be freed, so a refcount of
 * 0 or less under it means the free path took the reference away.
 */
static void kgen_scan_page(struct kgen_actors *a, struct page *page)
{
	int count;

	if (!get_page_unless_zero(page))
		return;
	atomic_long_inc(&a->refs);
	if (a->hold_ns)
		ndelay(a->hold_ns);
	count = page_ref_count(page);
	if (count <= 0) {
		/* Putting it would underflow the refcount: leave the page. */
		if (atomic_long_inc_return(&a->vanished) == 1) {
			a->vanished_pfn = page_to_pfn(page);
			a->vanished_count = count;
		}
		return;
	}
	put_page(page);
}

static int kgen_scanner(void *data)
{
	struct kgen_actors *a = data;
	unsigned long i;

	while (kgen_actor_next_round(a)) {
		for (i = 0; i < a->nr_pages; i++)
			kgen_scan_page(a, pfn_to_page(a->pfn + i));
		atomic_long_inc(&a->rounds[0]);
	}
	return 0;
}

/*
 * Allocations and frees in the span's zone, order 0 (pcp) and above the
 * costly order (straight to the buddy, under zone->lock).  A round ends
 * holding nothing.
 */
static int kgen_churner(void *data)
{
	const gfp_t gfp = GFP_KERNEL | __GFP_NOWARN | __GFP_NORETRY;
	struct page *held[KGEN_CHURN_PAGES];
	struct kgen_actors *a = data;
	struct page *big;
	unsigned int i;

	while (kgen_actor_next_round(a)) {
		int nid = zone_to_nid(a->zone);

		for (i = 0; i < KGEN_CHURN_PAGES; i++)
			held[i] = alloc_pages_node(nid, gfp, 0);
		big = alloc_pages_node(nid, gfp, KGEN_CHURN_BIG_ORDER);
		for (i = 0; i < KGEN_CHURN_PAGES; i++)
			if (held[i])
				__free_page(held[i]);
		if (big)
			__free_pages(big, KGEN_CHURN_BIG_ORDER);
		atomic_long_inc(&a->rounds[1]);
	}
	return 0;
}

/*
 * Remote pcp drains: drain_all_pages() empties every CPU's lists of the
 * zone, the case's CPU included, taking each list's lock from here.
 */
static int kgen_drainer(void *data)
{
	struct kgen_actors *a = data;

	while (kgen_actor_next_round(a)) {
		drain_all_pages(a->zone);
		atomic_long_inc(&a->rounds[2]);
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

/**
 * kgen_actors_stop() - stop and reap every actor
 * @a: the actors
 */
void kgen_actors_stop(struct kgen_actors *a)
{
	int i;

	for (i = 0; i < KGEN_NR_ACTORS; i++) {
		if (a->task[i])
			kthread_stop(a->task[i]);
		a->task[i] = NULL;
	}
	a->nr_tasks = 0;
}

/**
 * kgen_actors_start() - start the actors a case asks for, parked
 * @test: the test case
 * @a: zeroed actors state
 * @actors: enum kgen_actor bits
 * @cpu: the CPU they are bound to
 *
 * Return: true if all started; false (the case failed) otherwise.
 */
bool kgen_actors_start(struct kunit *test, struct kgen_actors *a,
		       unsigned int actors, int cpu)
{
	struct task_struct *task;
	int i;

	atomic_set(&a->park, 1);
	for (i = 0; i < KGEN_NR_ACTORS; i++) {
		if (!(actors & BIT(i)))
			continue;
		task = kthread_create(kgen_actor_fn[i], a, "%s",
				      kgen_actor_name[i]);
		if (IS_ERR(task)) {
			KUNIT_FAIL(test, "cannot start %s: %ld",
				   kgen_actor_name[i], PTR_ERR(task));
			kgen_actors_stop(a);
			return false;
		}
		kthread_bind(task, cpu);
		a->task[i] = task;
		a->nr_tasks++;
		wake_up_process(task);
	}
	return true;
}

/**
 * kgen_actors_target() - point the parked actors at a span
 * @a: the actors, parked
 * @span: the span of the coming iteration
 */
void kgen_actors_target(struct kgen_actors *a, struct kgen_span *span)
{
	a->pfn = span->pfn;
	a->nr_pages = span->nr_pages;
	a->zone = span->zone;
}

static bool kgen_actors_wait(struct kgen_actors *a, const long *since)
{
	int i;

	for (i = 0; i < KGEN_NR_ACTORS; i++)
		if (a->task[i] && atomic_long_read(&a->rounds[i]) <= since[i])
			return false;
	return true;
}

/**
 * kgen_actors_go() - unpark the actors and wait until each made a round
 * @test: the test case
 * @a: the actors, parked
 *
 * The free that follows then overlaps their next rounds.
 *
 * Return: false (the case failed) if an actor made no round in time.
 */
bool kgen_actors_go(struct kunit *test, struct kgen_actors *a)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(KGEN_ACTOR_WAIT_MS);
	long since[KGEN_NR_ACTORS];
	int i;

	for (i = 0; i < KGEN_NR_ACTORS; i++)
		since[i] = atomic_long_read(&a->rounds[i]);
	atomic_set_release(&a->park, 0);
	while (!kgen_actors_wait(a, since)) {
		if (time_after(jiffies, deadline)) {
			KUNIT_FAIL(test, "an actor made no round in %d ms",
				   KGEN_ACTOR_WAIT_MS);
			return false;
		}
		kgen_actor_pause();
	}
	return true;
}

/**
 * kgen_actors_park() - wait until every actor ended its round and waits
 * @test: the test case
 * @a: the actors
 *
 * Afterwards the scanner holds no reference and the churner no page.
 *
 * Return: false (the case failed) if an actor did not park in time.
 */
bool kgen_actors_park(struct kunit *test, struct kgen_actors *a)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(KGEN_ACTOR_WAIT_MS);

	atomic_set(&a->park, 1);
	while (atomic_read(&a->parked) < a->nr_tasks) {
		if (time_after(jiffies, deadline)) {
			KUNIT_FAIL(test, "an actor did not end its round in %d ms",
				   KGEN_ACTOR_WAIT_MS);
			return false;
		}
		kgen_actor_pause();
	}
	return true;
}
