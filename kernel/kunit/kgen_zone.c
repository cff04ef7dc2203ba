// SPDX-License-Identifier: GPL-2.0
/*
 * kgen zone probes: where a page sits in the buddy allocator, and the
 * free-page counters the expectations compare, read exactly.  Every
 * family's checks go through these, so all of them see the allocator the
 * same way.
 */
#include <linux/async.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/delay.h>
#include <linux/rcupdate.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include <linux/vmstat.h>
#include <linux/workqueue.h>

#include "../internal.h"
#include "kgen_kunit.h"
#include "kgen_protocol.h"
#if KGEN_HAVE_MM_PAGE_ALLOC_H
#include "../page_alloc.h"	/* buddy_order() in 7.3 */
#endif

/* KUnit's case thread name ("kunit_try_catch_thread", cut to TASK_COMM_LEN). */
#define KGEN_CASE_COMM		"kunit_try_catch"
/* At most this many ~1 ms waits for an exiting task: it needs microseconds. */
#define KGEN_EXIT_WAITS		1000

static bool kgen_case_thread_exiting(void)
{
	struct task_struct *task;
	bool found = false;

	rcu_read_lock();
	for_each_process(task) {
		/* Live ones (a concurrency case's own actors) are not waited for. */
		if (task == current || !(READ_ONCE(task->flags) & PF_EXITING))
			continue;
		if (!strncmp(task->comm, KGEN_CASE_COMM, sizeof(KGEN_CASE_COMM) - 1) ||
		    !strncmp(task->comm, KGEN_PROTO_ACTOR_PREFIX,
			     sizeof(KGEN_PROTO_ACTOR_PREFIX) - 1)) {
			found = true;
			break;
		}
	}
	rcu_read_unlock();
	return found;
}

static void kgen_wait_case_threads_gone(void)
{
	int waits;

	for (waits = 0; waits < KGEN_EXIT_WAITS && kgen_case_thread_exiting(); waits++)
		usleep_range(1000, 2000);
}

/**
 * kgen_settle() - let frees queued before the case finish first
 *
 * Call before the snapshots of a count the case checks exactly.  Every
 * case runs in fresh KUnit kthreads; the stack (vmalloc()ed with
 * VMAP_STACK) of one that exited is freed by an RCU callback, which may
 * otherwise run in the middle of the next case and move NR_FREE_PAGES
 * and NR_VMALLOC by its pages.  Where that callback runs in softirq,
 * vfree() hands the stack to vfree_atomic(), whose work item on
 * system_percpu_wq does the free: that is flushed too.
 *
 * Boot-time work that is still running when the first case starts
 * allocates in the same zones: asynchronous initcalls, and device probes
 * queued on system_long_wq (x86_64's i8042 mouse port is probed from
 * serio's work item there, and allocated in half of the x86_64 runs'
 * first case).  Those are waited for as well.  Noise that arrives later
 * is what kgen_run_confirmed() is for.
 *
 * On SMP the previous case's kthread (and a concurrency case's actors)
 * may still be exiting on another CPU when the next case starts: KUnit
 * waits for its vfork_done, which completes before the task's last
 * switch, and that switch is what releases the stack.  So first wait
 * until no such task is left, and for a grace period, so that the stack's
 * RCU callback is queued before rcu_barrier() waits for it.
 */
void kgen_settle(void)
{
	kgen_wait_case_threads_gone();
	synchronize_rcu();
	async_synchronize_full();
	rcu_barrier();
	__flush_workqueue(system_long_wq);
	__flush_workqueue(system_unbound_wq);
	__flush_workqueue(system_percpu_wq);
}

/**
 * kgen_zone_nr_free() - NR_FREE_PAGES of a zone, exactly
 * @zone: the zone
 *
 * The snapshot every free-page count of the library is taken with.
 *
 * Return: the counter including not yet folded per-cpu deltas.
 */
unsigned long kgen_zone_nr_free(struct zone *zone)
{
	return zone_page_state_snapshot(zone, NR_FREE_PAGES);
}

/**
 * kgen_zone_nr_free_cma() - NR_FREE_CMA_PAGES of a zone, exactly
 * @zone: the zone
 *
 * The free pages of the zone's MIGRATE_CMA pageblocks, as
 * account_freepages() counts them: a chunk filed under another
 * migratetype is missing here though NR_FREE_PAGES has it.
 *
 * Return: the counter including not yet folded per-cpu deltas.
 */
unsigned long kgen_zone_nr_free_cma(struct zone *zone)
{
	return zone_page_state_snapshot(zone, NR_FREE_CMA_PAGES);
}

/**
 * kgen_pgfree() - the PGFREE vm event, summed over every CPU
 *
 * PGFREE counts each page handed back to the allocator once, where it
 * enters a pcp list or a buddy free list (free_frozen_page_commit(),
 * free_one_page()); a later pcp drain does not count it again.  The event
 * has no global total: each CPU counts its own, and a CPU going offline
 * folds its counts into a live one, so the sum over possible CPUs is
 * exact.  Like NR_FREE_PAGES it is the whole kernel's, so the checks that
 * use it are confirmed by repetition (kgen_confirm.c).
 *
 * Return: pages freed since boot.
 */
unsigned long kgen_pgfree(void)
{
	unsigned long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(per_cpu(vm_event_states, cpu).event[PGFREE]);
	return sum;
}

/**
 * kgen_expect_pgfree() - PGFREE rose by exactly the pages a free gave back
 * @test: the test case
 * @delta: PGFREE after the free minus PGFREE before it (kgen_pgfree())
 * @expected: pages the free handed to the allocator
 * @api: the free path, for the message
 *
 * A free that counts a batched chunk twice, or not at all, keeps every
 * page and free-page count right: only the event shows it.
 */
void kgen_expect_pgfree(struct kunit *test, unsigned long delta, long expected,
			const char *api)
{
	kgen_expect_count(test, (long)delta == expected,
		"expect.pgfree: PGFREE rose by %ld across %s, expected %ld (the pages it freed)",
		(long)delta, api, expected);
}

/**
 * kgen_buddy_block_locked() - the free buddy block holding a pfn
 * @pfn: any valid pfn
 * @head_pfn: set to the first pfn of the block if there is one; may be NULL
 *
 * The caller holds the lock of the zone of @pfn, so that the answer is
 * stable while it uses it.
 *
 * Return: the order of the free buddy block that contains @pfn, or -1 if
 * the page is not free in the buddy allocator.
 */
int kgen_buddy_block_locked(unsigned long pfn, unsigned long *head_pfn)
{
	int order;

	for (order = 0; order <= MAX_PAGE_ORDER; order++) {
		unsigned long head = pfn & ~((1UL << order) - 1);
		struct page *page;

		if (!pfn_valid(head))
			break;
		page = pfn_to_page(head);
		if (PageBuddy(page) && buddy_order(page) >= order) {
			if (head_pfn)
				*head_pfn = head;
			return buddy_order(page);
		}
	}
	return -1;
}

/**
 * kgen_buddy_list_locked() - the free list a buddy block is on
 * @zone: the zone whose free lists to look in; the caller holds its lock
 * @head: first page of a free buddy block
 * @order: the block's order
 *
 * Return: the migratetype of the list of @zone that holds @head, or
 * MIGRATE_TYPES if none does.  Each call walks the lists of one order.
 */
int kgen_buddy_list_locked(struct zone *zone, struct page *head, int order)
{
	struct page *pos;
	int mt;

	for (mt = 0; mt < MIGRATE_TYPES; mt++)
		list_for_each_entry(pos, &zone->free_area[order].free_list[mt], buddy_list)
			if (pos == head)
				return mt;
	return MIGRATE_TYPES;
}

/**
 * kgen_free_block_order() - order of the free buddy block holding a page
 * @page: any page
 *
 * Return: the order of the free buddy block that contains @page, or -1 if
 * the page is not free in the buddy allocator.  Looked up under the zone
 * lock, so the answer is stable at the time of the call.
 */
int kgen_free_block_order(struct page *page)
{
	struct zone *zone = page_zone(page);
	unsigned long flags;
	int order;

	spin_lock_irqsave(&zone->lock, flags);
	order = kgen_buddy_block_locked(page_to_pfn(page), NULL);
	spin_unlock_irqrestore(&zone->lock, flags);
	return order;
}
