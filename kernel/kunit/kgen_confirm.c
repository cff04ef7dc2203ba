// SPDX-License-Identifier: GPL-2.0
/*
 * kgen counter checks, confirmed by repetition.
 *
 * The exact counter checks (a zone's NR_FREE_PAGES, NR_VMALLOC) compare a
 * kernel-wide counter before and after the case.  The counter is exact,
 * but it is not the case's alone: an order-0 allocation elsewhere that
 * refills its pcp list from the buddy, a slab page KUnit's own log needs,
 * an RCU callback that frees a kthread stack, all move it while the case
 * counts.  Such noise is rare and random; a real accounting bug in the free
 * path is deterministic and shows every time the same free runs.
 *
 * So a case runs its body as an attempt.  A counter check that does not
 * match records the mismatch instead of failing the case, and the whole
 * attempt (allocate, free, count) runs again, up to KGEN_CONFIRM_ATTEMPTS
 * times in all.  The case fails only when every attempt mismatched: the
 * failure says "reproduced in N of N attempts".  When a later attempt
 * matched, the case logs an "unconfirmed" line (KGEN_PROTO_UNCONFIRMED)
 * that kgen counts apart from passes and failures.  A green case runs its
 * body once, as before: the confirmation costs nothing there.
 */
#include <kunit/test.h>
#include <linux/stdarg.h>

#include "kgen_kunit.h"
#include "kgen_protocol.h"

/* The first attempt and up to three repeats. */
#define KGEN_CONFIRM_ATTEMPTS	4

/**
 * struct kgen_confirm - the counter checks of one case, across attempts
 * @mismatch: the current attempt had a counter mismatch
 * @msg: the current attempt's first mismatch
 * @first: the first attempt's first mismatch, reported at the end
 * @unchecked: why a check this kernel cannot support was left out, or NULL
 * @done: the attempts are over (the state stays for kgen_skip_unchecked())
 */
struct kgen_confirm {
	bool mismatch;
	char msg[256];
	char first[256];
	const char *unchecked;
	bool done;
};

/*
 * Generated suites have no init of their own, so test->priv is free to
 * point at the confirmation state from kgen_run_confirmed() on.
 */
static struct kgen_confirm *kgen_confirm_of(struct kunit *test)
{
	return test->priv;
}

/* The state of the attempts running now, or NULL outside them. */
static struct kgen_confirm *kgen_attempts_of(struct kunit *test)
{
	struct kgen_confirm *c = kgen_confirm_of(test);

	return c && !c->done ? c : NULL;
}

/**
 * kgen_expect_count() - an exact counter check, confirmed by repetition
 * @test: the test case
 * @ok: whether the counter matched
 * @fmt: the expectation's message ("expect.<key>: ..."), printf-style
 *
 * Inside kgen_run_confirmed() a mismatch is recorded for the attempt; the
 * case's verdict waits for the repeats.  Outside it (a helper called on
 * its own) a mismatch fails the case at once.
 */
void kgen_expect_count(struct kunit *test, bool ok, const char *fmt, ...)
{
	struct kgen_confirm *c = kgen_attempts_of(test);
	char msg[256];
	va_list args;

	if (ok)
		return;
	va_start(args, fmt);
	vscnprintf(msg, sizeof(msg), fmt, args);
	va_end(args);
	if (!c) {
		KUNIT_EXPECT_TRUE_MSG(test, ok, "%s", msg);
		return;
	}
	if (!c->mismatch)
		strscpy(c->msg, msg, sizeof(c->msg));
	c->mismatch = true;
}

/**
 * kgen_note_unchecked() - a check this kernel build cannot support is left out
 * @test: the test case
 * @why: a static string: the expectation and why (it becomes the skip
 *       reason of a case that passes everything else)
 *
 * For checks whose premise the running kernel's own configuration breaks,
 * known only at run time (KASAN_VMALLOC freeing shadow pages inside an
 * exact page count, say).  Outside kgen_run_confirmed() it does nothing.
 */
void kgen_note_unchecked(struct kunit *test, const char *why)
{
	struct kgen_confirm *c = kgen_attempts_of(test);

	if (c && !c->unchecked)
		c->unchecked = why;
}

/**
 * kgen_run_confirmed() - run a case body, repeating it on a counter mismatch
 * @test: the test case
 * @attempt: the case body: allocates, frees and checks, owning nothing
 *           when it returns (its cleanup actions give back what is left)
 * @param: the case's parameter, handed to @attempt
 *
 * Runs @attempt once.  If a counter check mismatched and nothing else
 * failed, runs it again until an attempt matches or KGEN_CONFIRM_ATTEMPTS
 * attempts ran.  Every mismatching attempt logs its own line.  Verdict:
 * a match in the first attempt passes silently; mismatches in every
 * attempt fail the case; a mismatch that a later attempt did not show
 * logs KGEN_PROTO_UNCONFIRMED and leaves the case's KTAP result "ok".
 */
void kgen_run_confirmed(struct kunit *test, kgen_attempt_fn attempt,
			const void *param)
{
	struct kgen_confirm *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	int n, mismatched = 0;
	bool other = false;

	KUNIT_ASSERT_NOT_NULL(test, c);
	test->priv = c;
	for (n = 1; n <= KGEN_CONFIRM_ATTEMPTS; n++) {
		c->mismatch = false;
		attempt(test, param);
		if (!c->mismatch)
			break;
		mismatched++;
		kunit_info(test, KGEN_PROTO_LOG "attempt %d: %s", n, c->msg);
		if (n == 1)
			strscpy(c->first, c->msg, sizeof(c->first));
		/* The case fails anyway: a repeat would confirm nothing. */
		other = test->status == KUNIT_FAILURE;
		if (other)
			break;
	}
	c->done = true;
	if (!mismatched)
		return;
	/* A case that complains on purpose complained once per attempt. */
	kunit_info(test, KGEN_PROTO_ATTEMPTS "%d", min(n, KGEN_CONFIRM_ATTEMPTS));
	/*
	 * An EXPECT rather than KUNIT_FAIL(): KUnit indents its message like
	 * every other expectation's, where kgen's KTAP parser reads it.
	 */
	if (other)
		KUNIT_EXPECT_EQ_MSG(test, mismatched, 0,
			"%s [mismatch in %d of %d attempts; not repeated: other checks failed]",
			c->first, mismatched, n);
	else if (mismatched == KGEN_CONFIRM_ATTEMPTS)
		KUNIT_EXPECT_EQ_MSG(test, mismatched, 0,
			"%s [reproduced in %d of %d attempts]",
			c->first, mismatched, mismatched);
	else
		kunit_info(test, KGEN_PROTO_UNCONFIRMED "%s [mismatch in %d of %d attempts; attempt %d matched]",
			   c->first, mismatched, n, n);
}

/**
 * kgen_skip_unchecked() - end a case that passed as a skip, saying what
 *                         it could not check
 * @test: the test case
 * @why: the expectation this tree cannot show and why (from the plan), or
 *       NULL
 *
 * Called last.  The reason is @why, and what the attempts noted with
 * kgen_note_unchecked(), joined.  A case that failed stays failed: the
 * skip only replaces a pass.
 */
void kgen_skip_unchecked(struct kunit *test, const char *why)
{
	struct kgen_confirm *c = kgen_confirm_of(test);
	const char *noted = c && c->done ? c->unchecked : NULL;

	if (READ_ONCE(test->status) != KUNIT_SUCCESS || (!why && !noted))
		return;
	if (why && noted)
		kunit_skip(test, "%s; %s", why, noted);
	kunit_skip(test, "%s", why ?: noted);
}
