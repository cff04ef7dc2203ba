/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kgen concurrency family, private: the actors on another CPU
 * (kgen_race_actors.c) and what they share with the case (kgen_race.c).
 */
#ifndef _MM_KGEN_RACE_ACTORS_H
#define _MM_KGEN_RACE_ACTORS_H

#include <linux/atomic.h>
#include <linux/sched.h>

struct kgen_span;
struct kunit;
struct zone;

/**
 * struct kgen_actors - the actors of one case attempt and what they saw
 * @pfn: first pfn of the span the actors work on (set while parked)
 * @nr_pages: pages in that span
 * @zone: zone of that span
 * @hold_ns: how long the scanner keeps each reference
 * @park: set by the case: each actor ends its round, gives back what it
 *        holds and waits
 * @parked: actors waiting
 * @rounds: per actor, rounds made so far
 * @refs: references the scanner took
 * @vanished: references the scanner found gone while it held them
 * @vanished_pfn: the first such page
 * @vanished_count: its refcount when the scanner looked
 * @nr_tasks: actors started
 * @task: per actor, its thread (NULL if not in this case)
 */
struct kgen_actors {
	unsigned long pfn;
	unsigned long nr_pages;
	struct zone *zone;
	unsigned int hold_ns;
	atomic_t park;
	atomic_t parked;
	atomic_long_t rounds[KGEN_NR_ACTORS];
	atomic_long_t refs;
	atomic_long_t vanished;
	unsigned long vanished_pfn;
	int vanished_count;
	int nr_tasks;
	struct task_struct *task[KGEN_NR_ACTORS];
};

bool kgen_actors_start(struct kunit *test, struct kgen_actors *a,
		       unsigned int actors, int cpu);
void kgen_actors_target(struct kgen_actors *a, struct kgen_span *span);
bool kgen_actors_go(struct kunit *test, struct kgen_actors *a);
bool kgen_actors_park(struct kunit *test, struct kgen_actors *a);
void kgen_actors_stop(struct kgen_actors *a);

#endif /* _MM_KGEN_RACE_ACTORS_H */
