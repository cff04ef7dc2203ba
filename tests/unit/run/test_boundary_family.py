"""Boundary family: spec rules, guest layouts, skip reasons, generated C."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kgen.arch import ARCH_NAMES, arch
from kgen.generator.render import render_suite
from kgen.runner.run.plan import make_plan
from kgen.spec.loader import SpecError, load_spec
from kgen.target.capabilities import assume_all

SPEC = """\
kgen: 1
suite: kgen_bnd
guest:
  nodes_mb: [1026, 998]
  movablecore_mb: 256
cases:
  - name: node
    span: {alloc: boundary, boundary: node}
    sweep:
      pages_each_side: [1, 512]
      free: [__free_contig_range, vfree]
  - name: section_classic
    span: {alloc: boundary, boundary: section, pages_each_side: 4}
    free: free_pages_bulk
    needs:
      kconfig_off: [SPARSEMEM_VMEMMAP]
      why: struct pages must not be contiguous
  - name: dma
    span: {alloc: boundary, boundary: zone, upper_zone: DMA32, pages_each_side: 1}
    free: __free_contig_range
    needs: {arches: [x86_64], why: only x86 has ZONE_DMA32 after ZONE_DMA}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "b.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(SpecError) as err:
        load_spec(write(tmp_path, text))
    return [str(p) for p in err.value.problems]


def test_boundary_spec_loads_with_sweep_and_guest(tmp_path):
    spec = load_spec(write(tmp_path, SPEC))
    node, classic, dma = spec.cases
    assert [v.describe(node.swept) for v in node.variants] == [
        "free=__free_contig_range,each=1", "free=__free_contig_range,each=512",
        "free=vfree,each=1", "free=vfree,each=512"]
    assert node.options.boundary == "node" and dma.options.upper_zone == "DMA32"
    assert node.expect.no_straddle and node.expect.zones_kept
    assert spec.guest.total_mb == 2024


def test_guest_layout_becomes_qemu_and_kernel_args(tmp_path):
    guest = load_spec(write(tmp_path, SPEC)).guest
    assert guest.qemu_args() == [
        "-m", "2024",
        "-object", "memory-backend-ram,id=kgen-mem0,size=1026M",
        "-numa", "node,nodeid=0,cpus=0,memdev=kgen-mem0",
        "-object", "memory-backend-ram,id=kgen-mem1,size=998M",
        "-numa", "node,nodeid=1,memdev=kgen-mem1"]
    # Every CPU sits on node 0: the layout is about the memory boundary.
    assert [a for a in guest.qemu_args(3) if a.startswith("node,")] == [
        "node,nodeid=0,cpus=0-2,memdev=kgen-mem0",
        "node,nodeid=1,memdev=kgen-mem1"]
    assert guest.kernel_args("kgen_bnd") == ["kgen_kunit.guest=kgen_bnd",
                                             "movablecore=256M"]


def test_skip_reasons_name_what_the_arch_lacks(tmp_path):
    spec = load_spec(write(tmp_path, SPEC))
    by_name = {}
    for name in ("um", "x86_64", "arm64"):
        plan = make_plan([spec], assume_all(arch(name)))
        by_name[name] = {c.name: c.skip for c in plan.cases}
    um, x86, arm = by_name["um"], by_name["x86_64"], by_name["arm64"]
    assert "UML has no NUMA" in um["kgen_bnd_node/free=vfree,each=1"]
    assert "UML is FLATMEM" in um["kgen_bnd_section_classic"]
    assert "x86_64 does" in x86["kgen_bnd_section_classic"]
    assert "arm64 does" in arm["kgen_bnd_section_classic"]
    assert x86["kgen_bnd_dma"] is None
    assert "needs arch x86_64: only x86 has ZONE_DMA32" in arm["kgen_bnd_dma"]
    assert x86["kgen_bnd_node/free=vfree,each=512"] is None


def test_i386_runs_classic_sparse_sections_and_names_what_it_lacks(tmp_path):
    spec = load_spec(write(tmp_path, SPEC))
    skips = {c.name: c.skip for c in make_plan([spec], assume_all(arch("i386"))).cases}
    # x86_32 is SPARSEMEM_STATIC without VMEMMAP: the classic case runs.
    assert skips["kgen_bnd_section_classic"] is None
    assert "x86_32 has no NUMA" in skips["kgen_bnd_node/free=vfree,each=1"]
    assert "needs arch x86_64" in skips["kgen_bnd_dma"]


def test_arm_runs_classic_sparse_sections_and_names_what_it_lacks(tmp_path):
    spec = load_spec(write(tmp_path, SPEC))
    skips = {c.name: c.skip for c in make_plan([spec], assume_all(arch("arm"))).cases}
    # arm32 is SPARSEMEM_STATIC without VMEMMAP: the classic case runs.
    assert skips["kgen_bnd_section_classic"] is None
    assert "arm32 has no NUMA" in skips["kgen_bnd_node/free=vfree,each=1"]
    assert "needs arch x86_64" in skips["kgen_bnd_dma"]


HIGHMEM_SPEC = Path(__file__).resolve().parents[3] / "spec/suites/boundary_zone_highmem.yaml"


def test_normal_highmem_boundary_runs_on_the_32_bit_arches_only():
    spec = load_spec(HIGHMEM_SPEC)
    for name, runs in (("i386", True), ("arm", True), ("arm64", False), ("x86_64", False),
                       ("um", False)):
        skips = {c.skip for c in make_plan([spec], assume_all(arch(name))).cases}
        assert (skips == {None}) == runs, (name, skips)
    (skip,) = {c.skip for c in make_plan([spec], assume_all(arch("arm64"))).cases}
    assert "arm64 is 64-bit" in skip


def test_guest_boot_planned_on_qemu_arches_only(tmp_path):
    spec = load_spec(write(tmp_path, SPEC))
    assert make_plan([spec], assume_all(arch("um"))).guest_boots == []
    (boot,) = make_plan([spec], assume_all(arch("arm64"))).guest_boots
    assert boot.suite == "kgen_bnd" and "-numa" in boot.qemu_args
    assert "kgen_kunit.guest=kgen_bnd" in boot.kernel_args


def test_generated_case_checks_the_guest_and_every_expectation(tmp_path):
    spec = load_spec(write(tmp_path, SPEC))
    c = render_suite(spec, make_plan([spec], assume_all(arch("x86_64"))).skips())
    assert 'kgen_guest_require(test, "kgen_bnd");' in c
    for call in ("kgen_bspan_alloc(test, p)", "kgen_bspan_free(bs, p->api)",
                 "kgen_expect_no_straddle", "kgen_expect_bspan_zones_kept",
                 "kgen_expect_bspan_free_deltas", "kgen_expect_bspan_no_warning"):
        assert call in c
    assert ".kind = KGEN_BOUNDARY_ZONE, .upper_zone = \"DMA32\"" in c
    assert ".api = KGEN_FREE_VFREE" in c


@pytest.mark.parametrize("case, message", [
    ("span: {alloc: boundary, pages_each_side: 1}\n    free: vfree",
     "a boundary span needs boundary: zone, node or section"),
    ("span: {alloc: boundary, boundary: node, pages_each_side: 1}\n"
     "    free: free_page_loop",
     "a boundary span is freed by one of"),
    ("span: {alloc: boundary, boundary: node, upper_zone: Normal, pages_each_side: 1}\n"
     "    free: vfree",
     "upper_zone applies to boundary: zone"),
    ("span: {alloc: boundary, boundary: node}\n    free: vfree",
     "needs pages_each_side"),
    ("span: {alloc: boundary, boundary: node, pages_each_side: 2}\n"
     "    free: vfree\n    hold: [first]",
     "hold does not apply to boundary spans"),
    ("span: {alloc: split_page, order: 2, boundary: node}\n    free: vfree",
     "belong to boundary spans"),
    ("span: {alloc: boundary, boundary: node, upper_zone: Highmem, pages_each_side: 1}\n"
     "    free: vfree",
     "upper_zone"),
])
def test_bad_boundary_cases_are_rejected_with_position(tmp_path, case, message):
    text = f"kgen: 1\nsuite: kgen_bad\ncases:\n  - name: c\n    {case}\n"
    found = problems(tmp_path, text)
    assert any(message in p for p in found), found
    assert all(p.startswith(str(tmp_path / "b.yaml") + ":") for p in found)


def test_guest_memory_must_add_up(tmp_path):
    found = problems(tmp_path, SPEC.replace("  movablecore_mb: 256",
                                            "  memory_mb: 4096"))
    assert any(":5:14:" in p and "not the sum of nodes_mb (2024)" in p for p in found), found
    found = problems(tmp_path, SPEC.replace("movablecore_mb: 256", "movablecore_mb: 4000"))
    assert any("leaves no kernel memory" in p for p in found), found


def test_shipped_skip_reasons_fit_kunits_status_comment():
    """KUnit keeps 256 bytes of a skip reason (KUNIT_STATUS_COMMENT_SIZE)."""
    from kgen.cli import shipped_specs
    from kgen.spec.loader import load_specs
    specs = load_specs(shipped_specs())
    for name in ARCH_NAMES:
        for case in make_plan(specs, assume_all(arch(name))).cases:
            assert case.skip is None or len(case.skip) < 256, (name, case.name, case.skip)


def test_guest_boot_replaces_the_placeholder_skips():
    from kgen.runner.results.model import CaseResult, RunResult, Status, SuiteResult
    from kgen.runner.run.guests import layout
    from kgen.runner.run.plan import GuestBoot, Plan
    from kgen.runner.run.reconcile import Boot, Boots, GuestBooted, reconcile
    main = RunResult(suites=[
        SuiteResult("kgen_a", cases=[CaseResult("c", Status.PASSED)]),
        SuiteResult("kgen_bnd", cases=[CaseResult("c", Status.SKIPPED,
                                                  message="runs only in a boot with")])])
    guest = RunResult(suites=[SuiteResult("kgen_bnd", cases=[CaseResult("c", Status.FAILED)])],
                      errors=[CaseResult("boot", Status.ERROR, kind="crash")])
    layout_boot = GuestBoot("kgen_bnd", ["-m", "2048"], ["x=1"])
    main = reconcile(Plan("x86_64", [], [], [], []), [], Boots(
        main=Boot(main), guests=(GuestBooted(layout_boot, layout(layout_boot), Boot(guest)),)))
    assert [s.name for s in main.suites] == ["kgen_a", "kgen_bnd"]
    assert main.suites[1].cases[0].status is Status.FAILED
    assert main.suites[1].properties["guest"] == "-m 2048 x=1"
    assert [e.name for e in main.errors] == ["kgen_bnd: boot"]


def test_reusable_region_is_centred_on_the_boundary_and_4m_aligned():
    from kgen.spec.model import Guest
    guest = Guest(nodes_mb=(1026, 998), boundary_cma_mb=8)
    # arm64 virt RAM at 1 GiB: node 1 starts at 0x80200000 (pfn 0x80200).
    assert guest.cma_regions(0x4000_0000) == [(0x7fc0_0000, 0xc0_0000)]
    # Aligned boundaries: 2 MiB either side, rounded out to 4 MiB.
    three = Guest(nodes_mb=(1024, 1024, 512), boundary_cma_mb=4)
    assert three.cma_regions(0) == [(0x3fc0_0000, 8 << 20), (0x7fc0_0000, 8 << 20)]
    assert Guest(nodes_mb=(1024, 1024)).cma_regions(0) == []


def test_reserved_memory_fragment_is_reusable_shared_dma_pool():
    from kgen.runner.harness.guest_dtb import reserved_memory_dts
    dts = reserved_memory_dts([(0x7fc0_0000, 0xc0_0000)])
    assert "kgen-cma@7fc00000 {" in dts
    assert 'compatible = "shared-dma-pool";' in dts and "reusable;" in dts
    assert "reg = <0x0 0x7fc00000 0x0 0xc00000>;" in dts


def test_crashed_parameter_is_named_from_the_plan(tmp_path):
    """KUnit prints a parameter's description only with its result line: the
    boot reader gives the one that crashed the plan's TestId by position."""
    from kgen.runner.results.ktap import parse_console
    from kgen.runner.run.reconcile import Boot, Boots, reconcile
    plan = make_plan([load_spec(write(tmp_path, SPEC))], assume_all(arch("x86_64")))
    console = ["KTAP version 1", "1..1", "    KTAP version 1", "    # Subtest: kgen_bnd",
               "    1..3", "        KTAP version 1", "        # Subtest: kgen_bnd_node",
               "        ok 1 free=__free_contig_range,each=1",
               "BUG: unable to handle page fault for address: 0000000000001000"]
    result = parse_console(console, tests=[c.id for c in plan.cases])
    crashed = [c for c in result.suites[0].cases if c.kind == "crash"]
    assert [(c.name, c.label) for c in crashed] == [
        ("kgen_bnd_node/free=__free_contig_range,each=512", "kgen_bnd_node/#2")]
    result = reconcile(plan, [], Boots(main=Boot(result)))
    # Every planned test has one result, in plan order.
    assert [c.name for c in result.suites[0].cases] == [c.name for c in plan.cases]
    assert [c.kind for c in result.suites[0].cases] == [
        "", "crash", "not-run", "not-run", "not-run", "not-run"]


def test_kconfig_override_reaches_kunitconfig_caps_and_build_dir(tmp_path):
    from kgen.cache import default_build_dir
    from kgen.cli import _kconfig_overrides
    from kgen.errors import UsageError
    from kgen.runner.harness.kunitconfig import compose
    from kgen.spec.model import Need
    over = _kconfig_overrides(["CONFIG_DEBUG_VM=n", "HUGETLBFS=y"])
    assert over == {"DEBUG_VM": False, "HUGETLBFS": True}
    text = compose("arm64", [], over)
    # kunit.py keeps the last entry of an option: the override comes last.
    assert text.index("CONFIG_DEBUG_VM=y") < text.index("# CONFIG_DEBUG_VM is not set")
    caps = assume_all(arch("arm64"))
    need = Need("kconfig_off", "DEBUG_VM", "crashes under DEBUG_VM")
    assert caps.unmet(need)
    caps.kconfig_overrides = over
    assert caps.unmet(need) is None
    assert "unset by kgen run --kconfig" in caps.unmet(Need("kconfig", "DEBUG_VM"))
    plain = default_build_dir(tmp_path, "arm64")
    assert default_build_dir(tmp_path, "arm64", over).name.startswith(plain.name + "-k")
    for bad in ("DEBUG_VM", "CONFIG_debug=y", "CONFIG_X=m", "X=y; rm -rf /"):
        with pytest.raises(UsageError):
            _kconfig_overrides([bad])


def test_overlapping_reusable_regions_and_huge_guests_are_rejected(tmp_path):
    found = problems(tmp_path, SPEC.replace("nodes_mb: [1026, 998]", "nodes_mb: [65, 65, 65]")
                     .replace("movablecore_mb: 256", "boundary_cma_mb: 64"))
    assert any("overlaps the next one or leaves its nodes" in p for p in found), found
    found = problems(tmp_path, SPEC.replace("nodes_mb: [1026, 998]",
                                            "nodes_mb: [4096, 4096, 4096]"))
    assert any("more than 8192 MiB" in p for p in found), found


def test_kconfig_override_conflicts_and_forced_options_are_usage_errors(tmp_path):
    from kgen.cli import _kconfig_overrides
    from kgen.errors import UsageError
    from kgen.runner.run.pipeline import RunRequest, plan_run
    with pytest.raises(UsageError, match="both to y and to n"):
        _kconfig_overrides(["CONFIG_NUMA=y", "CONFIG_NUMA=n"])
    tree = tmp_path / "tree"
    (tree / "include/linux").mkdir(parents=True)
    (tree / "include/linux/gfp.h").write_text("")
    from kgen.target.target import resolve_target
    (tree / "Makefile").write_text("VERSION = 7\n")
    req = RunRequest(specs=[load_spec(write(tmp_path, SPEC))],
                     kconfig={"SPARSEMEM_VMEMMAP": False})
    with pytest.raises(UsageError, match="x86_64 does"):
        plan_run(resolve_target(tree, "x86_64"), req)


def test_dma_limit_becomes_a_dma_ranges_bus_node():
    from kgen.runner.harness.guest_dtb import dma_limit_dts
    dts = dma_limit_dts(2050 << 20)
    assert "kgen-dma-limit {" in dts
    assert "dma-ranges = <0x0 0x0 0x0 0x0 0x0 0x80200000>;" in dts
