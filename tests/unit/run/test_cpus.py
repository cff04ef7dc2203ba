"""How many CPUs a run boots, per arch and tree, and the arguments that say so."""
from __future__ import annotations

from kgen.arch import arch
from kgen.runner.run.plan import make_plan
from kgen.target.capabilities import Capabilities, assume_all


def _smp_uml() -> Capabilities:
    caps = assume_all(arch("um"))
    caps.run_kconfig = ["CONFIG_SMP=y"]
    return caps


def test_qemu_guests_get_one_socket_per_cpu():
    for name in ("x86_64", "arm64"):
        plan = make_plan([], assume_all(arch(name)), cpus=2)
        assert plan.cpus == 2 and plan.cpus_note == ""
        assert plan.qemu_args == ["-smp", "2,sockets=2,cores=1,threads=1"]
        assert not [a for a in plan.kernel_args if a.startswith("ncpus=")]


def test_uml_with_smp_boots_ncpus_in_seccomp_mode():
    plan = make_plan([], _smp_uml(), cpus=2)
    assert plan.cpus == 2
    assert plan.kernel_args[-2:] == ["ncpus=2", "seccomp=on"]
    assert plan.qemu_args == []


def test_uml_without_smp_boots_one_cpu_and_says_why():
    plan = make_plan([], assume_all(arch("um")), cpus=2)
    assert plan.cpus == 1
    assert "arch/um/Kconfig" in plan.cpus_note
    assert not any(a.startswith(("ncpus=", "seccomp=")) for a in plan.kernel_args)
    assert "cpus: 1 (one CPU: this tree's UML has no SMP" in plan.render()


def test_more_cpus_than_the_kernel_has_are_clamped_with_a_note():
    plan = make_plan([], _smp_uml(), cpus=4)
    assert plan.cpus == arch("um").max_cpus == 2
    assert "NR_CPUS" in plan.cpus_note
    assert "ncpus=2" in plan.kernel_args


def test_kconfig_smp_unset_means_one_cpu():
    caps = assume_all(arch("x86_64"))
    caps.kconfig_overrides = {"SMP": False}
    plan = make_plan([], caps, cpus=2)
    assert plan.cpus == 1 and "--kconfig" in plan.cpus_note
    assert plan.qemu_args == []


def test_one_cpu_adds_no_arguments():
    for name in ("um", "x86_64", "arm64"):
        plan = make_plan([], assume_all(arch(name)), cpus=1)
        assert plan.cpus == 1 and plan.cpus_note == "" and plan.qemu_args == []


def test_debug_profile_adds_the_detectors_in_a_build_dir_of_its_own(tmp_path):
    from kgen.cache import CachePaths
    from kgen.runner.harness.kunitconfig import compose
    text = compose("arm64", debug=True, kasan=True)
    for option in ("PROVE_LOCKING", "DEBUG_ATOMIC_SLEEP", "DEBUG_LIST", "KASAN"):
        assert f"CONFIG_{option}=y" in text
    assert "CONFIG_PROVE_LOCKING" not in compose("um")
    # UML keeps KASAN off, and says why (kgen.arch).
    assert arch("um").debug_no_kasan and not arch("arm64").debug_no_kasan
    assert "CONFIG_KASAN" not in compose("um", debug=True, kasan=False)
    paths = CachePaths(tmp_path, "linux-x", "um")
    assert paths.build_dir(debug=True).name == "linux-x-um-debug"
    assert paths.build_dir().name == "linux-x-um"


def _race_plan(caps: Capabilities, cpus: int):
    from kgen.cli import shipped_specs
    from kgen.spec.loader import load_spec
    race = next(p for p in shipped_specs() if p.name == "race.yaml")
    return make_plan([load_spec(race)], caps, cpus=cpus)


def test_on_one_cpu_the_plan_skips_the_cases_with_actors_and_says_why():
    plan = _race_plan(assume_all(arch("um")), cpus=2)
    actors = [c for c in plan.cases if "CPUs" in (c.skip or "")]
    assert actors, "the race suite has cases with actors"
    assert all("needs 2 CPUs" in c.skip and "this boot has 1" in c.skip
               and "arch/um/Kconfig" in c.skip for c in actors)
    # The atomic-context cases need no second CPU: they still run.
    assert any(not c.skip and "context" in str(c.id) for c in plan.cases)


def test_with_two_cpus_no_case_skips_for_cpus():
    plan = _race_plan(_smp_uml(), cpus=2)
    assert not [c for c in plan.cases if "CPUs" in (c.skip or "")]
