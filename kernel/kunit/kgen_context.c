// SPDX-License-Identifier: GPL-2.0
/*
 * kgen concurrency family: the free called from an atomic context.
 *
 * __free_contig_range() and friends are documented as callable in
 * interrupt context and under a (non-raw) spinlock; a free path that may
 * sleep there is reported by DEBUG_ATOMIC_SLEEP (base.config).
 */
#include <kunit/test.h>
#include <linux/bottom_half.h>
#include <linux/irqflags.h>
#include <linux/spinlock.h>

#include "kgen_kunit.h"

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
