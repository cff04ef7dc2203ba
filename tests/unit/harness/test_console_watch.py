"""The console watch stops a boot on a wedge sign, a panic, or silence."""
from __future__ import annotations

import threading
import time

from kgen.runner.harness.console_watch import ConsoleWatch, StopKind, sign_of

WEDGE = "[   12.1] note: kunit_try_catch[93] exited with irqs disabled"


def test_signs_the_kernel_prints_when_it_cannot_go_on():
    assert sign_of(WEDGE)[0] is StopKind.WEDGED
    assert sign_of("note: kworker/0:1[7] exited with preempt_count 1")[0] is StopKind.WEDGED
    assert sign_of("Kernel panic - not syncing: Oops - BUG: Fatal exception")[0] \
        is StopKind.PANICKED
    assert sign_of("watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [kunit:1]")
    assert sign_of("rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:")
    assert sign_of("INFO: task kunit_try_catch:93 blocked for more than 30 seconds.")


def test_an_oops_that_holds_no_lock_is_not_a_sign():
    # KUnit's try-catch handles these; the boot goes on.
    for line in ("Internal error: Oops - BUG: 00000000f2000800 [#1]  SMP",
                 "    # kgen_frozen_misuse: try faulted",
                 "------------[ cut here ]------------",
                 "WARNING: mm/page_alloc.c:7673 at free_contig_frozen_range"):
        assert sign_of(line) is None


def _watch(tmp_path, stall):
    log = tmp_path / "console.log"
    log.write_text("")
    stopped = threading.Event()
    watch = ConsoleWatch(log, stall, stopped.set)
    watch.start()
    return log, watch, stopped


def test_wedge_sign_stops_after_a_short_grace(tmp_path):
    log, watch, stopped = _watch(tmp_path, stall=60)
    with open(log, "a") as out:
        out.write("ok 1 - a\n" + WEDGE + "\n")
    assert stopped.wait(10), "the watch never stopped the boot"
    watch.join(5)
    assert watch.fired.kind is StopKind.WEDGED
    assert "exited with irqs disabled" in watch.fired.line
    assert "died holding a lock" in watch.fired.describe()


def test_silence_stops_the_boot(tmp_path):
    log, watch, stopped = _watch(tmp_path, stall=1.0)
    start = time.monotonic()
    assert stopped.wait(10)
    watch.join(5)
    assert watch.fired.kind is StopKind.STALLED
    assert 0.9 <= time.monotonic() - start < 5


def test_output_keeps_a_boot_alive(tmp_path):
    log, watch, stopped = _watch(tmp_path, stall=1.0)
    for n in range(8):
        with open(log, "a") as out:
            out.write(f"ok {n} - case\n")
        time.sleep(0.3)
    assert not stopped.is_set()
    watch.done.set()
    watch.join(5)
    assert watch.fired is None
