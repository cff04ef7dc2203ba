"""Compose the kunitconfig kgen hands to kunit.py for one arch."""
from __future__ import annotations

from kgen.kernel import kunit_dir


def compose(arch: str, extra: list[str] | None = None,
            overrides: dict[str, bool] | None = None, coverage: bool = False,
            debug: bool = False, kasan: bool = False) -> str:
    """base.config, the arch fragment, the coverage fragment (--coverage),
    the detectors (--debug: debug.config, and debug_kasan.config where
    the arch runs KASAN),
    what the selected specs need, then the user's --kconfig overrides
    (kunit.py keeps the last entry of an option)."""
    configs = kunit_dir().joinpath("configs")
    parts = [configs.joinpath("base.config").read_text(),
             configs.joinpath(f"{arch}.config").read_text()]
    if coverage:
        parts.append(configs.joinpath(f"coverage_{arch}.config").read_text())
    if debug:
        parts.append(configs.joinpath("debug.config").read_text())
    if debug and kasan:
        parts.append(configs.joinpath("debug_kasan.config").read_text())
    if extra:
        parts.append("# kgen: needed by the selected specs\n" + "\n".join(extra) + "\n")
    if overrides:
        parts.append("# kgen run --kconfig\n" + "".join(
            f"CONFIG_{name}=y\n" if on else f"# CONFIG_{name} is not set\n"
            for name, on in sorted(overrides.items())))
    return "".join(p if p.endswith("\n") else p + "\n" for p in parts)
