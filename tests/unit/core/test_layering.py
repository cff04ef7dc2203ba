"""Imports run one way: core -> spec -> target -> generator -> harness/results -> run
-> bench -> validate -> cli.  A module may import its own package and any
lower layer, never a higher one nor a sibling package of its own layer."""
from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
# Repository directory -> import package (pyproject.toml's package-dir).
PACKAGE_DIRS = {"kgen": "kgen", "spec": "kgen.spec", "generator": "kgen.generator",
                "kernel": "kgen.kernel", "runner": "kgen.runner", "families": "kgen.families"}
# A family package (kgen.families.<name>) is a slice through the layers:
# its loader rules sit with the spec loader, its view with the generator.
FAMILY_PARTS = {"rules": "kgen.spec", "view": "kgen.generator"}
# Lowest first.  Modules not named here are core (layer 0) if directly in
# kgen/, else the layer of their longest listed prefix.
LAYERS: list[tuple[str, ...]] = [
    ("kgen",),                       # errors, cache, arch, ids, protocol, kernel tree ...
    ("kgen.families",),              # the family registry (imports nothing of kgen)
    ("kgen.kernel",),
    ("kgen.spec",),
    ("kgen.target",),                # the Target, the tree's capabilities
    ("kgen.generator",),
    ("kgen.runner.harness", "kgen.runner.results"),
    ("kgen.runner.run",),
    ("kgen.runner.bench",),
    ("kgen.runner.validate",),
    ("kgen.cli", "kgen.runner"),
    ("kgen.__main__",),
]


def _package_of(module: str) -> str:
    """The longest LAYERS entry that module belongs to."""
    parts = module.split(".")
    if parts[:2] == ["kgen", "families"] and len(parts) == 4:
        return FAMILY_PARTS[parts[3]]
    names = [p for layer in LAYERS for p in layer
             if module == p or module.startswith(p + ".")]
    return max(names, key=len)


def _layer(package: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if package in layer)


def _modules() -> dict[str, Path]:
    out = {}
    for directory, package in PACKAGE_DIRS.items():
        for path in (REPO / directory).rglob("*.py"):
            rel = path.relative_to(REPO / directory).with_suffix("").parts
            parts = [package, *rel]
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    here = module.split(".") if is_pkg else module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[:len(here) - node.level + 1] + ([base] if base else []))
            if node.module is None or node.level and not node.module:
                found += [(node.lineno, f"{base}.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, base))
    return [(line, name) for line, name in found if name == "kgen" or name.startswith("kgen.")]


def test_imports_run_one_way():
    modules = _modules()
    assert len(modules) > 30
    wrong = []
    for module, path in sorted(modules.items()):
        own = _package_of(module)
        for line, target in _imports(module, path):
            if target not in modules and target.rsplit(".", 1)[0] in modules:
                target = target.rsplit(".", 1)[0]      # "from pkg import name"
            other = _package_of(target)
            if other == own or other == "kgen" and own != "kgen" or \
                    _layer(other) < _layer(own):
                continue
            if own == "kgen" and other == "kgen":
                continue
            wrong.append(f"{path.relative_to(REPO)}:{line}: {own} imports {target} "
                         f"({'same layer' if _layer(other) == _layer(own) else 'higher layer'})")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_the_checker_sees_an_upward_import(tmp_path):
    """The rule would catch generator -> runner (the old render.py import)."""
    path = tmp_path / "render.py"
    path.write_text("from kgen.runner.run.plan import make_plan\n")
    [(_, target)] = _imports("kgen.generator.render", path)
    assert _layer(_package_of(target)) > _layer(_package_of("kgen.generator.render"))


def test_generate_and_bench_do_not_reach_into_run():
    """`kgen generate` and `kgen bench` need the generator, not a run's plan."""
    import subprocess
    import sys
    code = ("import sys, kgen.generator.generate, kgen.runner.bench.pipeline; "
            "print([m for m in sys.modules if m.startswith('kgen.runner.run')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_a_family_is_only_its_package_and_its_registry_line():
    """The loader, the generator, the suite template and the overlay name
    no family: each asks the registry (kgen.families)."""
    from kgen import families
    generic = ["spec/loader.py", "spec/model.py", "generator/render.py",
               "generator/templates/suite.c.j2", "generator/templates/Makefile.j2",
               "kernel/__init__.py", "spec/schema.json"]
    for name in families.FAMILIES:
        have = {entry.name for entry in families.package_dir(name).iterdir()}
        assert {"rules.py", "view.py", "schema.json", "suite.c.j2", f"kgen_{name}.h"} <= have
        # "span" is also a spec key: look for it used as a family's name.
        used = [rf'family\W*(==|=|:\s*str\s*=)\s*"{name}"', f"{name}_family"]
        if name != "span":
            used.append(f'"{name}"')
        for path in generic:
            text = (REPO / path).read_text()
            assert not any(re.search(u, text) for u in used), (path, name)
