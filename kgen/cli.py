"""kgen command line: kernel fetch, lint, generate, run."""
from __future__ import annotations

import argparse
import math
import os
import re
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from kgen import __version__
from kgen.arch import ARCH_NAMES, DEFAULT_ARCH, DEFAULT_CPUS, arch
from kgen.cache import cache_root
from kgen.debian_source import fetch_kernel_source, parse_request
from kgen.errors import (
    EXIT_INFRA,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TEST_FAILURES,
    KgenError,
    UsageError,
)
from kgen.kernel_tree import check_tree, enclosing_tree


def shipped_specs() -> list[Path]:
    suites = resources.files("kgen.spec").joinpath("suites")
    return sorted(Path(str(p)) for p in suites.iterdir() if p.name.endswith(".yaml"))


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _load(paths: list[Path] | None):
    """The specs; a SpecError (exit 2) lists every problem as path:line:col."""
    from kgen.spec.loader import expand_spec_paths, load_specs
    files = expand_spec_paths(paths) if paths else shipped_specs()
    if not files:
        raise UsageError("no spec files given or found")
    return load_specs(files)


def _resolve_tree(arg: Path | None) -> Path:
    if arg is not None:
        return check_tree(arg)
    inside = enclosing_tree(Path.cwd())
    if inside:
        return inside
    return fetch_kernel_source(cache_root(), log=_log)


def cmd_kernel_fetch(args) -> int:
    request = parse_request(args.version)
    tree = fetch_kernel_source(cache_root(), log=_log, request=request)
    print(tree)
    return EXIT_OK


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
            for row in rows]


def cmd_kernel_list(args) -> int:
    from kgen.debian_source import best_per_series, cached_trees, fetchable, version_key
    cache = cache_root()
    trees = cached_trees(cache)
    print(f"cached (kgen kernel fetch returns these at once, without network; cache {cache}):")
    if trees:
        print("\n".join(_table([("SERIES", "VERSION", "SUITE", "PATH")] + [
            (t.package.removeprefix("linux-source-"), t.version, t.suite, str(t.path))
            for t in trees])))
    else:
        print("  none")
    sys.stdout.flush()
    candidates, age = fetchable(cache, log=_log, refresh=args.refresh)
    chosen = set(best_per_series(candidates).values())
    have = {(t.package, t.version) for t in trees}
    if not args.all:   # the newest version per package and suite
        newest: dict = {}
        for cand in candidates:
            key = (cand.package, cand.suite)
            if key not in newest or version_key(cand.version) > version_key(newest[key].version):
                newest[key] = cand
        candidates = list(newest.values())
    candidates.sort(key=lambda c: (tuple(int(x) for x in c.series.split(".")),
                                   version_key(c.version), c.suite))
    print()
    print(f"fetchable (package lists {round(age / 60)} min old; "
          "* = what kgen kernel fetch X.Y takes"
          + ("" if args.all else "; newest per suite, --all for every version") + "):")
    if candidates:
        print("\n".join(_table([("PACKAGE", "VERSION", "SUITE", "")] + [
            (c.package, c.version, c.suite,
             " ".join(n for n, on in (("*", c in chosen),
                                      ("cached", (c.package, c.version) in have)) if on))
            for c in candidates])))
    else:
        print("  none")
    return EXIT_OK


def cmd_lint(args) -> int:
    specs = _load(args.paths)
    cases = sum(len(c.variants) for s in specs for c in s.cases)
    print(f"{len(specs)} spec(s) OK: {cases} KUnit case(s) including parameters")
    return EXIT_OK


def cmd_generate(args) -> int:
    from kgen.generator.generate import generate
    from kgen.generator.render import write_files
    from kgen.kernel import helper_files
    from kgen.target.capabilities import assume_all, probe_tree
    specs = _load(args.spec)
    # Generation needs only what the tree provides, not a whole Target.
    caps = probe_tree(check_tree(args.kernel), arch(args.arch)) if args.kernel \
        else assume_all(arch(args.arch))
    files = generate(specs, caps)
    files.update({name: data.decode() for name, data in helper_files().items()})
    changed = write_files(files, args.output)
    print(f"{len(files)} file(s) in {args.output} ({len(changed)} changed)")
    return EXIT_OK


def _selected(args):
    """The specs, cut down to the tests the positional globs select."""
    from kgen.runner.run.plan import select
    return select(_load(args.spec), args.tests)


def _target(tree: Path, args):
    """The command's Target: resolved here, once, and handed down."""
    from kgen.target.target import resolve_target
    return resolve_target(tree, args.arch, args.accel)


def _limits(args):
    from kgen.runner.harness.session import BootLimits
    return BootLimits(timeout=args.timeout, stall_seconds=args.stall_timeout)


def _request(args):
    """(Target, RunRequest) of kgen run and kgen plan."""
    from kgen.runner.run.pipeline import RunRequest
    specs = _selected(args)
    target = _target(_resolve_tree(args.kernel), args)
    return target, RunRequest(
        specs=specs, build_dir=args.build_dir, jobs=args.jobs, limits=_limits(args),
        kernel_args=args.kernel_args or [], log=_log, cpus=args.cpus,
        kconfig=_kconfig_overrides(args.kconfig or []),
        patches=args.patch or [],
        known_pass_fails=getattr(args, "known_pass", "fail") == "fail",
        coverage=getattr(args, "coverage", False),
        coverage_dir=getattr(args, "coverage_dir", None),
        debug=getattr(args, "debug", False))


def _kconfig_overrides(values: list[str]) -> dict[str, bool]:
    """--kconfig CONFIG_X=y|n -> {"X": True|False}; anything else is refused."""
    out: dict[str, bool] = {}
    for value in values:
        match = re.fullmatch(r"(?:CONFIG_)?([A-Z][A-Z0-9_]{0,63})=([yn])", value)
        if not match:
            raise UsageError(f"--kconfig {value!r}: expected CONFIG_NAME=y or CONFIG_NAME=n")
        name, on = match.group(1), match.group(2) == "y"
        if out.get(name, on) != on:
            raise UsageError(f"--kconfig sets CONFIG_{name} both to y and to n")
        out[name] = on
    return out


def cmd_plan(args) -> int:
    from kgen.runner.harness.kunitconfig import compose
    from kgen.runner.run.pipeline import plan_run
    target, req = _request(args)
    plan, _caps = plan_run(target, req)
    print(f"tree {target.tree}")
    if args.tests:
        print(f"selected by {' '.join(args.tests)}: {len(plan.cases)} test(s) in "
              f"{len(req.specs)} suite(s): {', '.join(s.suite for s in req.specs)}")
    print(plan.render())
    print("kunitconfig:\n" + "".join(f"  {line}\n" for line in
                                    compose(target.arch.name, plan.kconfig, req.kconfig,
                                            coverage=req.coverage, debug=req.debug,
                                            kasan=not target.arch.debug_no_kasan
                                            ).splitlines()
                                    if line and (not line.startswith("#")
                                                 or line.endswith("is not set"))), end="")
    return EXIT_OK


def cmd_run(args) -> int:
    from kgen.runner.results.junit import write_junit
    from kgen.runner.results.summary import render_summary
    from kgen.runner.run.pipeline import run
    if args.dry_run:
        return cmd_plan(args)
    started = datetime.now(UTC)
    target, req = _request(args)
    junit = args.junit or target.paths.junit
    outcome = run(target, req)
    result = outcome.result
    junit.parent.mkdir(parents=True, exist_ok=True)
    write_junit(result, junit)
    print(render_summary(result, color=sys.stdout.isatty()))
    if outcome.timings:
        print(outcome.timings.line())
    print(f"JUnit: {junit}")
    if args.kcidb:
        from kgen.git_tree import git_head
        from kgen.runner.harness.patches import expand_patch_paths
        from kgen.runner.results.kcidb import Checkout
        _write_kcidb(args, req.specs, started, [Checkout(
            target.tree, target.version, git_head(target.tree),
            [(p.name, p.read_bytes()) for p in expand_patch_paths(req.patches)],
            runs=[result])])
    if outcome.console_log:
        print(f"console log: {outcome.console_log}")
    if outcome.coverage:
        print(outcome.coverage.render())
        print(f"coverage: {outcome.coverage.info}"
              + (f", HTML {outcome.coverage.html}/index.html" if outcome.coverage.html else ""))
    if outcome.coverage_error:
        _log(f"kgen: {outcome.coverage_error}")
    from kgen.runner.results.model import ResultKind
    if any(e.kind in (ResultKind.BUILD, ResultKind.BOOT) for e in result.errors) \
            or outcome.coverage_error:
        return EXIT_INFRA
    return EXIT_OK if result.ok else EXIT_TEST_FAILURES


def _write_kcidb(args, specs, started: datetime, checkouts) -> None:
    """--kcidb FILE: the results as KCIDB v5 JSON, for kcidb-submit."""
    from kgen.runner.results.kcidb import kcidb_report, write_kcidb
    write_kcidb(kcidb_report(checkouts, args.kcidb_origin, specs, started), args.kcidb)
    print(f"KCIDB: {args.kcidb} (origin {args.kcidb_origin})")


def cmd_validate(args) -> int:
    from kgen.runner.validate.classify import Allowed
    from kgen.runner.validate.pipeline import ValidateRequest, validate
    from kgen.runner.validate.report import as_json, first_messages, markdown
    started = datetime.now(UTC)
    specs = _selected(args)
    target = _target(check_tree(args.kernel) if args.kernel else _resolve_tree(None), args)
    out = args.out or target.paths.validate_results
    req = ValidateRequest(series=args.series, specs=specs, out_dir=out,
                          tip_only=args.tip_only, repeat=args.repeat,
                          limits=_limits(args), log=_log)
    outcome = validate(target, req)
    allowed = Allowed(skips=args.allow_skips, missing=args.allow_missing,
                      flaky=args.allow_flaky)
    report = markdown(outcome, first_messages(outcome), allowed)
    if args.bench:
        from kgen.runner.validate.bench_lane import bench_base_and_tip
        report += "\n" + bench_base_and_tip(target, req, outcome, args.bench_boots)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(report)
    (out / "report.json").write_text(as_json(outcome, allowed))
    print(report)
    print(f"report: {out / 'report.md'} (JSON beside it); per-step JUnit in {out}")
    if args.kcidb:
        from kgen.runner.validate.kcidb_steps import step_checkouts
        _write_kcidb(args, specs, started, step_checkouts(target, outcome))
    if outcome.incomplete_exit_code is not None:
        # 2: a patch did not apply; 3: a step did not build or boot (as run)
        return outcome.incomplete_exit_code
    # 1: a regression, or coverage lost without the --allow-* that accepts it
    return EXIT_TEST_FAILURES if outcome.blocking(allowed) else EXIT_OK


def cmd_bench(args) -> int:
    from kgen.runner.bench.pipeline import BenchRequest, run_bench
    from kgen.runner.bench.report import as_json, as_run_result, compare_markdown, report_markdown
    from kgen.runner.bench.stats import compare, regressions
    from kgen.runner.harness.patches import patched_files, patched_label
    from kgen.runner.results.junit import write_junit
    if args.base_patch and not args.compare:
        raise UsageError("--base-patch needs --compare (it patches BASE_TREE)")
    trees = [check_tree(t) for t in args.compare] if args.compare \
        else [_resolve_tree(args.kernel)]
    targets = [_target(tree, args) for tree in trees]
    # Each side's patches: BASE_TREE gets --base-patch, the benchmarked (or
    # NEW_TREE) side --patch.  Both may be one tree: run_bench builds the
    # patched side in the tree's bench build dir through the overlay and
    # puts it back, so no second copy of the tree is needed.
    patches = [args.base_patch or [], args.patch or []][-len(targets):]
    reqs = [BenchRequest(
        boots=args.boots, iterations=args.iterations, limits=_limits(args), log=_log,
        patched=patched_files(target.tree, side), label=patched_label(target.tree, side))
        for target, side in zip(targets, patches, strict=True)]
    if len(targets) == 2 and targets[0].tree == targets[1].tree:
        # One tree, two kernels: boot them alternately (runner/bench/pair.py).
        from kgen.runner.bench.pair import run_bench_pair
        results = list(run_bench_pair(targets[1], *reqs))
    else:
        results = [run_bench(target, req) for target, req in zip(targets, reqs, strict=True)]
    out = args.out or targets[-1].paths.bench_results
    out.mkdir(parents=True, exist_ok=True)
    comparisons = (compare(results[0].rows, results[1].rows, rule=args.rule)
                   if args.compare else None)
    text = "\n".join(report_markdown(r) for r in results)
    if comparisons is not None:
        text += "\n" + compare_markdown(results[0], results[1], comparisons)
    (out / "bench.md").write_text(text)
    (out / "bench.json").write_text(as_json(results[-1], comparisons))
    write_junit(as_run_result(results[-1], comparisons), out / "bench.xml")
    print(text)
    print(f"report: {out / 'bench.md'} (bench.json, bench.xml beside it)")
    worse = regressions(comparisons or [])
    if worse:
        _log(f"kgen bench: {len(worse)} row(s) regressed ({args.rule}): "
             + ", ".join(c.name for c in worse))
        return EXIT_TEST_FAILURES
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kgen", description="Page-allocator free-path scenarios as KUnit tests.")
    parser.add_argument("--version", action="version", version=f"kgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_kernel_parser(sub)
    lint = sub.add_parser("lint", help="check spec files (exit 2 on problems)")
    lint.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    lint.set_defaults(func=cmd_lint)

    gen = sub.add_parser("generate", help="write the generated KUnit C to a directory")
    gen.add_argument("--spec", action="append", type=Path, metavar="PATH",
                     help="spec file or directory (repeatable; default: shipped specs)")
    gen.add_argument("-o", "--output", type=Path, required=True, metavar="DIR")
    gen.add_argument("--kernel", type=Path, metavar="PATH",
                     help="tree whose APIs decide which cases become skips "
                     "(default: assume a tree that has them all)")
    gen.add_argument("--arch", choices=ARCH_NAMES, default=DEFAULT_ARCH)
    gen.set_defaults(func=cmd_generate)

    runp = sub.add_parser("run", help="generate, build, boot, report")
    planp = sub.add_parser("plan", help="list what `run` would run and skip, and why")
    for p in (runp, planp):
        _add_run_options(p)
    runp.add_argument("--dry-run", action="store_true", help="same as `kgen plan`")
    _add_kcidb_options(runp)
    runp.set_defaults(func=cmd_run)
    planp.set_defaults(func=cmd_plan)
    _add_validate_parser(sub)
    _add_bench_parser(sub)
    return parser


def _add_kernel_parser(sub) -> None:
    kernel = sub.add_parser("kernel", help="manage the cached kernel source")
    ksub = kernel.add_subparsers(dest="kernel_command", required=True)
    fetch = ksub.add_parser(
        "fetch", help="download and unpack Debian's linux-source-X.Y into the cache "
        "(once); prints the tree's path last")
    fetch.add_argument(
        "version", nargs="?", metavar="VERSION",
        help="X.Y such as 6.12, 7.2 or 7.3 (default 7.3), or a full Debian version "
        "such as 7.3~rc7-1~exp1. X.Y takes 7.3 from trixie-backports, otherwise the "
        "newest version outside experimental (experimental only if nothing else "
        "carries it)")
    fetch.set_defaults(func=cmd_kernel_fetch)
    klist = ksub.add_parser("list", help="show the cached kernel trees and the "
                            "linux-source-X.Y versions the Debian mirror offers")
    klist.add_argument("--all", action="store_true",
                       help="every fetchable version, not only the newest per suite")
    klist.add_argument("--refresh", action="store_true",
                       help="update the package lists even if they are less than a day old")
    klist.set_defaults(func=cmd_kernel_list)


def _add_validate_parser(sub) -> None:
    val = sub.add_parser("validate", help="run the specs at the base of a patch series "
                         "and after each patch; classify regressions")
    _add_test_globs(val)
    val.add_argument("--kernel", type=Path, metavar="TREE",
                     help="base tree (never modified; default: as for run)")
    val.add_argument("--series", required=True, metavar="S",
                     help="mbox file, one patch file (git format-patch output, or a bare "
                     "git diff / diff -u), directory of .patch files, or BASE..TIP "
                     "in a git tree")
    val.add_argument("--arch", choices=ARCH_NAMES, default=DEFAULT_ARCH)
    val.add_argument("--spec", action="append", type=Path, metavar="PATH")
    val.add_argument("--tip-only", action="store_true",
                     help="run the base and the last patch only")
    val.add_argument("--repeat", type=_positive_int, default=1, metavar="N",
                     help="run each step N times; cases whose runs disagree are flaky")
    lost = val.add_argument_group(
        "lost coverage", "a case that passed and then skips, has no result, or is "
        "flaky fails the validation (exit 1) like a regression, unless allowed")
    lost.add_argument("--allow-skips", action="store_true",
                      help="accept cases that ran at one step and skip at the next "
                      "(pass → skip), e.g. a patch that removes an API on purpose")
    lost.add_argument("--allow-missing", action="store_true",
                      help="accept cases that ran at one step and have no result at "
                      "the next (pass → no result)")
    lost.add_argument("--allow-flaky", action="store_true",
                      help="accept cases whose repeated runs (--repeat) at one step "
                      "disagree")
    val.add_argument("--out", type=Path, metavar="DIR",
                     help="per-step JUnit and report.md/json (default: under the cache)")
    _add_time_limits(val, 600, "each step's boots together")
    _add_accel(val)
    _add_kcidb_options(val)
    val.add_argument("--bench", action="store_true",
                     help="also run the benchmark lane on base and tip and compare them")
    val.add_argument("--bench-boots", type=_boots, default=5, metavar="N")
    val.set_defaults(func=cmd_validate)


def _add_bench_parser(sub) -> None:
    bench = sub.add_parser("bench", help="benchmark lane: batched vs per-page free, "
                           "contiguous allocations; N boots, statistics, comparison")
    bench.add_argument("--arch", choices=ARCH_NAMES, default=DEFAULT_ARCH)
    bench.add_argument("--kernel", type=Path, metavar="PATH")
    bench.add_argument("--compare", nargs=2, type=Path, metavar=("BASE_TREE", "NEW_TREE"))
    bench.add_argument("--boots", type=_boots, default=5, metavar="N")
    bench.add_argument("--iterations", type=_positive_int, metavar="N",
                       help="high-order iterations per boot (default scales with arch)")
    bench.add_argument("--patch", action="append", type=Path, metavar="FILE",
                       help="benchmark the tree (with --compare: NEW_TREE) as if this "
                       "patch were applied, as kgen run --patch; a directory stands for "
                       "its *.patch files in name order (repeatable, in order)")
    bench.add_argument("--base-patch", action="append", type=Path, metavar="FILE",
                       help="with --compare: the same for BASE_TREE. BASE_TREE and "
                       "NEW_TREE may then be one tree: e.g. a revert against the tree")
    bench.add_argument("--out", type=Path, metavar="DIR")
    _add_time_limits(bench, 3600, "all benchmark boots together")
    _add_accel(bench)
    bench.add_argument("--rule", choices=("welch", "ci95"), default="welch",
                       help="with --compare: what marks a row (R)/(I): Welch's t-test at "
                       "α = 0.05, or 95 %% confidence intervals that do not overlap (the "
                       "series' tables); a change under 5 %% is never marked. A regressed "
                       "row makes the exit code 1")
    bench.set_defaults(func=cmd_bench)


def _add_test_globs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "tests", nargs="*", metavar="GLOB",
        help="run only these tests, as kunit.py selects them: SUITE, SUITE.CASE or "
        "SUITE.CASE/PARAM, each part a shell glob (quote it), e.g. 'kgen_refcount*' "
        "or 'kgen_hwpoison.*bad_state*'; CASE matches the KUnit case name or the "
        "spec's. Only the selected suites are generated and booted")


# Numeric options are checked as they are parsed: a bad value exits 2 with
# argparse's "argument --timeout: ..." before any tree is looked at.
def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value}: must be a positive whole number")
    return number


def _boots(value: str) -> int:
    number = _positive_int(value)
    if number < 2:
        raise argparse.ArgumentTypeError(
            f"{value}: must be at least 2 (statistics need a spread)")
    return number


def _positive_seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 0 < number < math.inf:      # also refuses nan
        raise argparse.ArgumentTypeError(f"{value}: must be a positive number of seconds")
    return number


def _kcidb_origin(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9_]+", value):
        raise argparse.ArgumentTypeError(
            f"{value!r}: KCIDB origins are lower-case letters, digits and _ only")
    return value


def _add_kcidb_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kcidb", type=Path, metavar="FILE",
                        help="also write the results as KCIDB v5 JSON (KernelCI's "
                        "results database) to FILE, for kcidb-submit")
    parser.add_argument("--kcidb-origin", type=_kcidb_origin, default="kgen",
                        metavar="ORIGIN", help="the origin KernelCI gave you; it starts "
                        "every object ID in the KCIDB file (default: kgen)")


def _add_run_options(runp: argparse.ArgumentParser) -> None:
    _add_test_globs(runp)
    runp.add_argument("--arch", choices=ARCH_NAMES, default=DEFAULT_ARCH)
    runp.add_argument("--kernel", type=Path, metavar="PATH",
                      help="kernel tree (default: the tree around the current directory, "
                      "else the cached linux-source-7.3, fetched if needed)")
    runp.add_argument("--spec", action="append", type=Path, metavar="PATH",
                      help="spec file or directory (repeatable; default: shipped specs)")
    runp.add_argument("--junit", type=Path, metavar="FILE",
                      help="JUnit XML output (default: under the kgen cache)")
    runp.add_argument("--build-dir", type=Path, metavar="DIR",
                      help="kernel build dir (default: per tree and arch, under the cache)")
    runp.add_argument("--jobs", type=_positive_int, metavar="N")
    _add_time_limits(runp, 600, "all boots of the run together")
    runp.add_argument("--kconfig", action="append", metavar="CONFIG_X=y|n",
                      help="set or unset a Kconfig option on top of kgen's fragments "
                      "(repeatable; e.g. CONFIG_DEBUG_VM=n). Such a kernel gets a build "
                      "dir of its own, so the default one stays warm")
    runp.add_argument("--patch", action="append", type=Path, metavar="FILE",
                      help="build the tree as if this patch (git diff or format-patch "
                      "output, -p1) were applied; the tree itself is never written, "
                      "and the run shares the tree's build dir; a directory stands for its "
                      "*.patch files in name order (repeatable, in order)")
    runp.add_argument("--kernel-arg", dest="kernel_args", action="append", metavar="ARG",
                      help="extra kernel command-line argument (repeatable)")
    runp.add_argument("--cpus", type=_positive_int, default=DEFAULT_CPUS, metavar="N",
                      help=f"CPUs each boot gets (default {DEFAULT_CPUS}): QEMU -smp N; UML "
                      "ncpus=N seccomp=on where the tree's UML has SMP (7.2 on), else 1 "
                      "with the reason in the plan. 1 boots without SMP concurrency")
    runp.add_argument("--known-pass", choices=("fail", "report"), default="fail",
                      help="what a spec's known issue that passes does: fail the run "
                      "(default, so the tracker learns of the fix) or only get reported")
    runp.add_argument("--coverage", action="store_true",
                      help="UML only: build with gcov (CONFIG_GCOV, in a build dir of "
                      "its own) and report line and branch coverage of the free path's "
                      "functions: a table, an lcov tracefile and HTML (needs lcov)")
    runp.add_argument("--debug", action="store_true",
                      help="build with the kernel's detectors (lockdep, DEBUG_ATOMIC_SLEEP, "
                      "DEBUG_LIST; KASAN on x86_64 and arm64: kernel/kunit/configs/debug*.config) "
                      "in a build dir of its own; their reports fail the case they land in")
    runp.add_argument("--coverage-dir", type=Path, metavar="DIR",
                      help="where --coverage writes coverage.info and html/ "
                      "(default: under the kgen cache)")
    _add_accel(runp)


def _add_accel(parser: argparse.ArgumentParser) -> None:
    from kgen.runner.harness import accel_probe

    parser.add_argument(
        "--accel", choices=accel_probe.CHOICES, default=accel_probe.AUTO,
        help="QEMU accelerator for x86_64, i386, arm64 and arm guests (default auto: KVM only if a "
        "probe boot of the built image under KVM finishes, cached per host and image; "
        "else TCG, with the reason. Nested KVM that lacks CPU features can hang a 7.3 "
        "x86_64 guest silently, which kunit.py alone would wait out)")


def _add_time_limits(parser: argparse.ArgumentParser, default: int, what: str) -> None:
    parser.add_argument("--timeout", type=_positive_int, default=default, metavar="SECONDS",
                        help=f"seconds for {what}; the build is not counted; what "
                        f"could not run in time is reported not run (default {default})")
    parser.add_argument("--stall-timeout", type=_positive_seconds, metavar="SECONDS",
                        help="stop a boot after this many seconds without console "
                        "output (default per arch and accelerator: 30 s for UML and "
                        "KVM, 60 s x86_64 and i386 TCG, 90 s arm64 and arm TCG). A kernel that reports "
                        "a task dying with a lock held, a panic, a lockup or a stall "
                        "is stopped at once")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KgenError as err:
        print(err.report(), file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        # The one handler.  The tree itself is never written: run, validate
        # and bench build through the overlay, which puts itself back
        # (session.py, validate's _restore) on the way out here.
        print("kgen: interrupted; the kernel tree was never modified", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`kgen plan | head`): nothing left to say.
        # Point stdout at /dev/null so the interpreter's final flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
