/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kgen protocol: the strings the kgen tool (Python) and this helper library
 * exchange through the kernel command line and the kernel log.
 *
 * kgen passes module parameters on the command line and parses what the
 * cases print; neither side can see the other's code.  Every such string
 * is named here, and kgen/protocol.py holds the same names with the same
 * values: tests/unit/test_protocol.py parses this file and fails when the
 * two differ, so change both together.
 *
 * Keep each value a single string literal (the test reads them as such).
 */
#ifndef _MM_KGEN_PROTOCOL_H
#define _MM_KGEN_PROTOCOL_H

/*
 * Prefix of the lines a case logs about its own state.  When the kernel
 * dies in a case, kgen quotes the last such lines as what the case was
 * doing.
 */
#define KGEN_PROTO_LOG			"kgen: "

/*
 * The last line a case logs: how long its body took, in microseconds
 * ("kgen: time_us=<n>").  kgen turns it into the JUnit testcase time.
 */
#define KGEN_PROTO_TIME_US		"kgen: time_us="

/*
 * A counter check that mismatched in one attempt of a case and matched in a
 * later one (kgen_confirm.c): "kgen: unconfirmed: expect.<key>: ... [mismatch
 * in M of N attempts; attempt N matched]".  The case's KTAP result stays
 * "ok"; kgen counts it apart, as neither a pass nor a failure.
 */
#define KGEN_PROTO_UNCONFIRMED		"kgen: unconfirmed: "

/*
 * How many attempts a case ran ("kgen: attempts=<n>"), logged when a counter
 * mismatch made it repeat its body: a case that makes the kernel complain
 * on purpose then complained once per attempt, and kgen expects that many.
 */
#define KGEN_PROTO_ATTEMPTS		"kgen: attempts="

/*
 * Start of every expectation failure message ("expect.<key>: ...", <key>
 * the spec's expect key).  kgen keys the failure kind on it.  The helpers
 * spell it out in each message so that a message in a log can be found
 * with grep.
 */
#define KGEN_PROTO_EXPECT		"expect."

/*
 * Kernel command-line argument kgen boots a guest-layout suite with,
 * followed by the suite name: the "guest" parameter of kgen_boundary.c.
 */
#define KGEN_PROTO_GUEST_ARG		"kgen_kunit.guest="

/*
 * Kernel command-line argument of a complaint boot, followed by its number
 * (1, 2, ...): the "complaint_boot" parameter of kgen_kunit.c.  Cases that
 * make the kernel complain on purpose (a bad page, a misuse that WARNs)
 * run only in the complaint boot kgen assigned them, every other case only
 * in boots without this argument.
 */
#define KGEN_PROTO_COMPLAINT_BOOT_ARG	"kgen_kunit.complaint_boot="

/* The benchmark lane's KUnit suite: kgen bench runs only it. */
/*
 * Task names of the concurrency family's actors start with this: a report
 * made by one of them was made on behalf of the case that started it.
 */
#define KGEN_PROTO_ACTOR_PREFIX		"kgen_race_"

#define KGEN_PROTO_BENCH_SUITE		"kgen_bench"

/* Its parameters (kgen_bench.c), set by kgen bench per arch. */
#define KGEN_PROTO_BENCH_ITERATIONS_ARG	"kgen_bench.iterations="
#define KGEN_PROTO_BENCH_CONTIG_ARG	"kgen_bench.contig_iterations="

/*
 * One benchmark measurement, logged by kgen_bench.c and collected by kgen
 * bench over several boots:
 *
 *   kgen-bench: name=<row> iterations=<n> total_ns=<t>
 */
#define KGEN_PROTO_BENCH_NAME		"kgen-bench: name="
#define KGEN_PROTO_BENCH_ITERATIONS	" iterations="
#define KGEN_PROTO_BENCH_TOTAL_NS	" total_ns="

/* The two rows whose ratio kgen bench reports as the batched-free speedup. */
#define KGEN_PROTO_BENCH_ROW_BATCHED	"high_order.free_contig_range"
#define KGEN_PROTO_BENCH_ROW_LOOP	"high_order.free_page_loop"
/*
 * The floor: the same pages never split, freed as one __free_pages() block,
 * with no per-page work at all.  batched / floor is what is left to gain.
 */
#define KGEN_PROTO_BENCH_ROW_FLOOR	"high_order.free_pages_unsplit"

/*
 * The frozen contiguous rows: a tree without alloc_contig_frozen_pages()
 * and free_contig_frozen_range() cannot measure them, and kgen bench
 * reports them as n/a with the reason.
 */
#define KGEN_PROTO_BENCH_ROW_FROZEN_ALLOC "contig16384.alloc_contig_frozen_pages"
#define KGEN_PROTO_BENCH_ROW_FROZEN_FREE "contig16384.free_contig_frozen_range"
/* The same frozen pages freed one by one, as before the series batched it. */
#define KGEN_PROTO_BENCH_ROW_FROZEN_LOOP "contig16384.free_frozen_page_loop"

/*
 * vfree() of a 512-page vmalloc() area, and free_pages_bulk() of 512 pages
 * allocated as vmalloc() allocates them: vfree()'s page free without its
 * unmap, which on UML is a host munmap() call.  A tree without
 * free_pages_bulk() cannot measure the second row (n/a, with the reason).
 */
#define KGEN_PROTO_BENCH_ROW_VFREE	"vfree512.vfree"
#define KGEN_PROTO_BENCH_ROW_FREE_PAGES_BULK "vfree512.free_pages_bulk"

#endif /* _MM_KGEN_PROTOCOL_H */
