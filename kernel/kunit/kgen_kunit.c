// SPDX-License-Identifier: GPL-2.0
/*
 * kgen per-case framing, called by every generated case whatever its
 * family: run only in the boot kgen assigned the case, check that the
 * kernel did not complain while it ran, and report how long it took.
 *
 * The file keeps the library's old name because a built-in module
 * parameter is named after its object: kgen boots complaint boots with
 * "kgen_kunit.complaint_boot=" (KGEN_PROTO_COMPLAINT_BOOT_ARG) and guest
 * layouts with "kgen_kunit.guest=" (KGEN_PROTO_GUEST_ARG).
 */
#include <linux/ktime.h>
#include <linux/moduleparam.h>
#include <linux/panic.h>

#include "kgen_kunit.h"
#include "kgen_protocol.h"

/*
 * The complaint boot kgen booted this kernel as (KGEN_PROTO_COMPLAINT_BOOT_ARG);
 * 0 in the main boot and every other boot.
 */
static unsigned int complaint_boot;
module_param(complaint_boot, uint, 0444);
MODULE_PARM_DESC(complaint_boot, "number of the complaint boot kgen booted, 0 for none");

/*
 * The guest layout kgen booted this kernel with (KGEN_PROTO_GUEST_ARG).
 * A suite with a guest layout runs only in the boot made for it: in any
 * other boot what it needs (a boundary, a CMA area) is not there.
 */
static char guest[64];	/* suite names are at most 48 characters */
module_param_string(guest, guest, sizeof(guest), 0444);
MODULE_PARM_DESC(guest, "name of the QEMU guest layout kgen booted");

/**
 * kgen_guest_require() - skip unless this boot has a spec's guest layout
 * @test: the test case
 * @layout: the layout name the suite's spec declares
 */
void kgen_guest_require(struct kunit *test, const char *layout)
{
	/* kgen passes the parameter by the name in kgen_protocol.h. */
	BUILD_BUG_ON(__builtin_strcmp(MODULE_PARAM_PREFIX "guest=",
				      KGEN_PROTO_GUEST_ARG));

	if (strcmp(guest, layout))
		kunit_skip(test, "runs only in a boot with guest layout %s (kgen run boots it with "
			   KGEN_PROTO_GUEST_ARG "%s and the layout's QEMU args); this boot has '%s'",
			   layout, layout, guest);
}

/**
 * kgen_boot_require() - skip unless this is the boot the case belongs to
 * @test: the test case
 * @boot: 0 for a case that runs in the main boot, N for one that makes the
 *        kernel complain on purpose and runs in complaint boot N
 *
 * A case that reports a bad page sets TAINT_BAD_PAGE for the rest of the
 * boot and spends bad_page()'s 60 reports a minute; kgen runs such cases
 * in a boot of their own, so that neither can hide another case's report.
 */
void kgen_boot_require(struct kunit *test, unsigned int boot)
{
	/* kgen passes the parameter by the name in kgen_protocol.h. */
	BUILD_BUG_ON(__builtin_strcmp(MODULE_PARAM_PREFIX "complaint_boot=",
				      KGEN_PROTO_COMPLAINT_BOOT_ARG));

	if (boot == complaint_boot)
		return;
	if (boot)
		kunit_skip(test, "runs in complaint boot %u (kgen run boots it with "
			   KGEN_PROTO_COMPLAINT_BOOT_ARG "%u): it makes the kernel complain on purpose",
			   boot, boot);
	kunit_skip(test, "runs in the main boot; this is complaint boot %u", complaint_boot);
}

/**
 * kgen_expect_no_new_taint() - the kernel did not WARN or report a bad page
 * @test: the test case
 * @taint_before: kernel taint flags when the case allocated its pages
 * @allowed_taints: taint bits the case expects (a bad-state case reports a
 *                  bad page on purpose)
 *
 * Taints are sticky, so this sees only the first complaint of each kind in
 * a boot.  kgen runs the cases that complain on purpose in a boot of their
 * own, so in the main boot the taints stay clear until a real bug sets
 * them; kgen's log parser counts every report in every case's log, and
 * says which task made it.
 */
void kgen_expect_no_new_taint(struct kunit *test, unsigned long taint_before,
			      unsigned long allowed_taints)
{
	unsigned long fresh = get_taint() & ~taint_before &
			      KGEN_COMPLAINT_TAINTS & ~allowed_taints;

	/*
	 * Confirmed like a counter: a WARN from another context sets the same
	 * global bits.  Taints are sticky, so a repeat cannot see the bit set
	 * again; kgen's log parser then tells from each attempt's console lines
	 * whose task complained and whether it did so again.
	 */
	kgen_expect_count(test, !fresh,
		"expect.no_warning: kernel taint %#lx appeared (WARN=%d BAD_PAGE=%d DIE=%d)",
		fresh, !!(fresh & BIT(TAINT_WARN)),
		!!(fresh & BIT(TAINT_BAD_PAGE)), !!(fresh & BIT(TAINT_DIE)));
}

/**
 * kgen_report_time() - log how long the case body took
 * @test: the test case
 * @start_ns: ktime_get_ns() at the start of the body
 *
 * kgen's KTAP parser turns this line into the JUnit testcase time.
 */
void kgen_report_time(struct kunit *test, u64 start_ns)
{
	kunit_info(test, KGEN_PROTO_TIME_US "%llu",
		   div_u64(ktime_get_ns() - start_ns, NSEC_PER_USEC));
}
