// SPDX-License-Identifier: GPL-2.0
/*
 * kgen free contexts: a free API called from the contexts its kernel-doc
 * allows.  The contiguous frees may run in interrupt context or under a
 * (non-raw) spinlock; the _nolock frees also under a raw spinlock.  A free
 * path that may sleep there is reported by DEBUG_ATOMIC_SLEEP
 * (base.config), a lock taken the wrong way by lockdep (--debug).
 */
#include <kunit/test.h>
#include <linux/bottom_half.h>
#include <linux/irq_work.h>
#include <linux/irqflags.h>
#include <linux/preempt.h>
#include <linux/spinlock.h>

#include "kgen_kunit.h"

static DEFINE_SPINLOCK(kgen_context_lock);
static DEFINE_RAW_SPINLOCK(kgen_context_raw_lock);

static const char *const kgen_context_names[] = {
	[KGEN_CTX_PROCESS] = "process",
	[KGEN_CTX_SPINLOCK] = "spinlock",
	[KGEN_CTX_RAW_SPINLOCK] = "raw_spinlock",
	[KGEN_CTX_IRQS_OFF] = "irqs_off",
	[KGEN_CTX_BH_OFF] = "bh_off",
	[KGEN_CTX_HARDIRQ] = "hardirq",
};

/**
 * kgen_context_name() - the spec's name of a free context
 * @context: the context
 *
 * Return: "process", "spinlock", "raw_spinlock", "irqs_off", "bh_off" or
 * "hardirq".
 */
const char *kgen_context_name(enum kgen_free_context context)
{
	return kgen_context_names[context];
}

/**
 * struct kgen_free_call - one call of a free API, as kgen_free_api_call()
 *                         takes it
 * @work: the hard irq_work that makes the call in hardirq context
 * @api: the free path
 * @pfn: first pfn
 * @nr: number of pages
 * @pages: the pages as an array, or NULL
 * @addr: the vmalloc area, or NULL
 * @called: what kgen_free_api_call() returned
 * @in_hardirq: the call ran with in_hardirq() true
 */
struct kgen_free_call {
	struct irq_work work;
	enum kgen_free_api api;
	unsigned long pfn;
	unsigned long nr;
	struct page **pages;
	const void *addr;
	bool called;
	bool in_hardirq;
};

static void kgen_free_call_run(struct kgen_free_call *call)
{
	call->called = kgen_free_api_call(call->api, call->pfn, call->nr,
					  call->pages, call->addr);
}

static void kgen_free_call_irq_work(struct irq_work *work)
{
	struct kgen_free_call *call = container_of(work, struct kgen_free_call,
						   work);

	call->in_hardirq = in_hardirq();
	kgen_free_call_run(call);
}

/*
 * A hard irq_work runs in hardirq context on every kernel (also with
 * PREEMPT_RT): from a self-IPI where the arch has one, else from the next
 * timer tick (UML).  irq_work_sync() waits for it either way.  IRQ_WORK
 * itself is always built (printk selects it, SMP enables it).
 */
static void kgen_free_call_in_hardirq(struct kgen_free_call *call)
{
	call->work = IRQ_WORK_INIT_HARD(kgen_free_call_irq_work);
	irq_work_queue(&call->work);
	irq_work_sync(&call->work);
}

static void kgen_free_call_in(struct kgen_free_call *call,
			      enum kgen_free_context context)
{
	unsigned long flags;

	switch (context) {
	case KGEN_CTX_SPINLOCK:
		spin_lock(&kgen_context_lock);
		kgen_free_call_run(call);
		spin_unlock(&kgen_context_lock);
		return;
	case KGEN_CTX_RAW_SPINLOCK:
		raw_spin_lock_irqsave(&kgen_context_raw_lock, flags);
		kgen_free_call_run(call);
		raw_spin_unlock_irqrestore(&kgen_context_raw_lock, flags);
		return;
	case KGEN_CTX_IRQS_OFF:
		local_irq_save(flags);
		kgen_free_call_run(call);
		local_irq_restore(flags);
		return;
	case KGEN_CTX_BH_OFF:
		local_bh_disable();
		kgen_free_call_run(call);
		local_bh_enable();
		return;
	case KGEN_CTX_HARDIRQ:
		kgen_free_call_in_hardirq(call);
		return;
	case KGEN_CTX_PROCESS:
		break;
	}
	kgen_free_call_run(call);
}

/**
 * kgen_free_api_call_in() - kgen_free_api_call() from a given context
 * @test: the test case (for the hardirq context's own check)
 * @context: where to call the free API from
 * @api: the free path
 * @pfn: first pfn of the pages
 * @nr: number of pages
 * @pages: the same pages as an array, or NULL
 * @addr: the vmalloc area that owns the pages, or NULL
 *
 * The call is made under a spinlock or a raw spinlock, with interrupts or
 * bottom halves off, or from a hard irq_work, and returns once it ran.
 * For hardirq it is checked that the call really ran in hardirq context.
 *
 * Return: what kgen_free_api_call() returned: false if this tree lacks
 * @api, with nothing freed.
 */
bool kgen_free_api_call_in(struct kunit *test, enum kgen_free_context context,
			   enum kgen_free_api api, unsigned long pfn,
			   unsigned long nr, struct page **pages,
			   const void *addr)
{
	struct kgen_free_call call = {
		.api = api, .pfn = pfn, .nr = nr, .pages = pages, .addr = addr,
	};

	kgen_free_call_in(&call, context);
	if (context == KGEN_CTX_HARDIRQ && call.called)
		KUNIT_EXPECT_TRUE_MSG(test, call.in_hardirq,
			"the free's irq_work did not run in hardirq context");
	return call.called;
}
