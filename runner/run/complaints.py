"""Complaint boots: the cases that make the kernel complain on purpose.

A bad page sets TAINT_BAD_PAGE for the rest of the boot and spends part of
bad_page()'s 60 reports a minute; a misuse WARNs.  Run among the other
cases, that would blind their taint checks and, after a burst, their
console.  So these cases (Case.complains) skip in the main boot and run in
complaint boots of their own, after it (kgen.runner.run.plan.ComplaintBoot
packs them; kgen_boot_require() in the helper library does the skipping).

Each boot is read with the same parser and checks as the main boot and
kept to its own cases; reconcile.py puts them in the run's result.  A boot
costs one more kernel start: on warm UML about 2 s, on arm64 or x86_64
under TCG the boot itself (see the README's cost table).
"""
from __future__ import annotations

from kgen.runner.results.model import RunResult
from kgen.runner.run import recovery
from kgen.runner.run.boots import BootArgs, Booter
from kgen.runner.run.plan import ComplaintBoot
from kgen.runner.run.reconcile import ComplaintBooted, complaint_share


def boot_complaints(booter: Booter, boots: list[ComplaintBoot],
                    props: dict[str, str]) -> tuple[ComplaintBooted, ...]:
    """Boot each complaint boot in turn, with recovery; each keeps its share."""
    log = booter.session.config.log
    out = []
    for boot in boots:
        if booter.time_left() <= 0:
            out.append(ComplaintBooted(boot, None))
            continue
        names = ", ".join(c.function for c in boot.cases)
        log(f"kgen: complaint boot {boot.number}: {names} "
            f"({boot.bad_pages} bad-page report(s) expected)")
        stem = f"console.complaints{boot.number}"

        def again(glob: str, rerun: int, stem=stem, boot=boot) -> RunResult:
            log(f"kgen: booting again for {glob} in complaint boot {boot.number} "
                "(not run after a crash or hang, or muted)")
            return complaint_share(booter.boot(BootArgs(f"{stem}.rerun{rerun}.log", glob,
                                                        boot.kernel_args)), boot)

        started = booter.seconds
        booted = complaint_share(booter.boot(BootArgs(f"{stem}.log", boot.glob,
                                                      boot.kernel_args)), boot)
        recovered = recovery.recover(booted, again, booter.time_left)
        out.append(ComplaintBooted(boot, recovered))
        seconds = booter.seconds - started
        log(f"kgen: complaint boot {boot.number} took {seconds:.1f}s")
        props[f"complaint_boot.{boot.number}"] = names
        props[f"complaint_boot.{boot.number}.seconds"] = f"{seconds:.1f}"
        if recovered.reruns:
            props[f"complaint_boot.{boot.number}.reboots"] = str(len(recovered.reruns))
    return tuple(out)
