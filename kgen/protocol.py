"""The strings kgen and its KUnit helper library exchange.

kgen talks to the C it builds into the kernel only through text: it passes
module parameters on the kernel command line and parses lines the cases
print in the kernel log.  Neither side can import the other, so each string
is named twice: as a #define in kernel/kunit/kgen_protocol.h for the C, and
here, under the same name with the same value, for the Python.
tests/unit/test_protocol.py parses the header and fails when a name is
missing on one side or the values differ, so the two cannot drift apart:
change both together.

The comments in kgen_protocol.h say where each string is printed or read.
"""

# Prefix of the lines a case logs about its own state; quoted as context
# when the kernel dies in the case.
KGEN_PROTO_LOG = "kgen: "

# Last line of a case: its body's run time in microseconds, for JUnit.
KGEN_PROTO_TIME_US = "kgen: time_us="

# A counter check that mismatched in one attempt and matched in a later one
# (kgen_confirm.c); the case's KTAP result stays "ok", kgen counts it apart.
KGEN_PROTO_UNCONFIRMED = "kgen: unconfirmed: "

# How many attempts a case ran, logged when a counter mismatch repeated it:
# a case that complains on purpose complained once per attempt.
KGEN_PROTO_ATTEMPTS = "kgen: attempts="

# Start of every expectation failure message ("expect.<key>: ...").
KGEN_PROTO_EXPECT = "expect."

# Command-line argument for a guest-layout boot, followed by the suite name.
KGEN_PROTO_GUEST_ARG = "kgen_kunit.guest="

# Command-line argument of a complaint boot, followed by its number: the
# cases that make the kernel complain on purpose run only there.
KGEN_PROTO_COMPLAINT_BOOT_ARG = "kgen_kunit.complaint_boot="

# The benchmark lane's KUnit suite and its parameters.
# Task names of the concurrency family's actors (families/race/kgen_race.c):
# their reports belong to the case that started them.
KGEN_PROTO_ACTOR_PREFIX = "kgen_race_"
KGEN_PROTO_BENCH_SUITE = "kgen_bench"
KGEN_PROTO_BENCH_ITERATIONS_ARG = "kgen_bench.iterations="
KGEN_PROTO_BENCH_CONTIG_ARG = "kgen_bench.contig_iterations="

# One benchmark measurement:
#   kgen-bench: name=<row> iterations=<n> total_ns=<t>
KGEN_PROTO_BENCH_NAME = "kgen-bench: name="
KGEN_PROTO_BENCH_ITERATIONS = " iterations="
KGEN_PROTO_BENCH_TOTAL_NS = " total_ns="

# The two rows whose ratio is the batched-free speedup.
KGEN_PROTO_BENCH_ROW_BATCHED = "high_order.free_contig_range"
KGEN_PROTO_BENCH_ROW_LOOP = "high_order.free_page_loop"
# The floor: the same pages, unsplit, freed as one __free_pages() block.
KGEN_PROTO_BENCH_ROW_FLOOR = "high_order.free_pages_unsplit"

# The frozen contiguous rows, n/a on a tree without the frozen allocator.
KGEN_PROTO_BENCH_ROW_FROZEN_ALLOC = "contig16384.alloc_contig_frozen_pages"
KGEN_PROTO_BENCH_ROW_FROZEN_FREE = "contig16384.free_contig_frozen_range"
# The same frozen pages freed one by one, as before the series batched it.
KGEN_PROTO_BENCH_ROW_FROZEN_LOOP = "contig16384.free_frozen_page_loop"

# vfree() of a 512-page vmalloc() area; free_pages_bulk() of 512 pages
# allocated as vmalloc() does (vfree's page free, without the unmap that is
# a host munmap() on UML); n/a on a tree without free_pages_bulk().
KGEN_PROTO_BENCH_ROW_VFREE = "vfree512.vfree"
KGEN_PROTO_BENCH_ROW_FREE_PAGES_BULK = "vfree512.free_pages_bulk"
