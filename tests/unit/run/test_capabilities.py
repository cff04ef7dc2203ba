"""Capability model: tree API probes, arch limits, skip reasons, plan."""
from __future__ import annotations

import textwrap
from pathlib import Path

from kgen.arch import arch
from kgen.cli import shipped_specs
from kgen.generator.generate import generate
from kgen.runner.run.plan import make_plan
from kgen.spec.loader import load_spec, load_specs
from kgen.spec.model import FREE_CONTIG_RANGE_WARNS_IN_USE, Need, NeedKind
from kgen.target.capabilities import assume_all, probe_tree

GFP_73 = """
void free_pages_bulk(struct page **page_array, unsigned long nr_pages);
void free_contig_range(unsigned long pfn, unsigned long nr_pages);
void __free_contig_range(unsigned long pfn, unsigned long nr_pages);
void free_contig_frozen_range(unsigned long pfn, unsigned long nr_pages);
#define alloc_contig_frozen_pages(...) alloc_hooks(x(__VA_ARGS__))
#define ACR_FLAGS_NONE ((__force acr_flags_t)0) // ordinary allocation request
extern void free_pages_nolock(struct page *page, unsigned int order);
"""
# What linux-source-6.12 declares: none of the batched-free entry points.
GFP_612 = """
void free_contig_range(unsigned long pfn, unsigned long nr_pages);
extern void __free_pages(struct page *page, unsigned int order);
"""


# enum node_stat_item: 7.x charges vmalloc pages to NR_VMALLOC, 6.12 has
# no such item.
MMZONE_73 = """
enum node_stat_item {
	NR_LRU_BASE,
	NR_KERNEL_STACK_KB,
	NR_VMALLOC,
	NR_VM_NODE_STAT_ITEMS
};
"""
MMZONE_612 = MMZONE_73.replace("\tNR_VMALLOC,\n", "")
# 6.12 counts vmalloc pages in a private atomic that vmalloc_nr_pages()
# reads; 7.x dropped both for NR_VMALLOC.
VMALLOC_H_612 = """
#ifdef CONFIG_MMU
extern unsigned long vmalloc_nr_pages(void);
#else
static inline unsigned long vmalloc_nr_pages(void) { return 0; }
#endif
"""
VMALLOC_H_73 = ("extern void vm_unmap_aliases(void);\n"
                "#define vrealloc(...)\t\t\t\talloc_hooks(vrealloc_noprof(__VA_ARGS__))\n")
# free_contig_range() in 6.12 (mm/page_alloc.c), and its 7.3 replacement.
PAGE_ALLOC_612 = """
void free_contig_range(unsigned long pfn, unsigned long nr_pages)
{
	unsigned long count = 0;

	for (; nr_pages--; pfn++) {
		struct page *page = pfn_to_page(pfn);

		count += page_count(page) != 1;
		__free_page(page);
	}
	WARN(count != 0, "%lu pages are still in use!\\n", count);
}
"""
PAGE_ALLOC_73 = """
#define FPI_PREPARED		((__force fpi_t)BIT(3))

void free_contig_range(unsigned long pfn, unsigned long nr_pages)
{
	if (WARN_ON_ONCE(PageHead(pfn_to_page(pfn))))
		return;

	__free_contig_range(pfn, nr_pages);
}
"""


# vfree() in 7.3 (mm/vmalloc.c) frees through free_pages_bulk(); 6.12 page
# by page.
VMALLOC_73 = ("\tfree_pages_bulk(vm->pages + start_idx, end_idx - start_idx);\n"
              "\t\t\tvm_area_free_pages(vm, new_nr_pages, old_nr_pages);\n")
VMALLOC_612 = "\t\t__free_page(page);\n\t\tcond_resched();\n"


# include/linux/cma.h as 7.3.4 and 6.12.117 declare the CMA calls.
CMA_H_73 = """
extern struct page *cma_alloc(struct cma *cma, unsigned long count, unsigned int align,
			      bool no_warn);
extern bool cma_release(struct cma *cma, const struct page *pages, unsigned long count);
struct page *cma_alloc_frozen(struct cma *cma, unsigned long count,
		unsigned int align, bool no_warn);
bool cma_release_frozen(struct cma *cma, const struct page *pages,
		unsigned long count);
"""
CMA_H_612 = """
extern struct page *cma_alloc(struct cma *cma, unsigned long count, unsigned int align,
			      bool no_warn);
extern bool cma_release(struct cma *cma, const struct page *pages, unsigned long count);
"""


def tree(tmp_path: Path, gfp: str, kunit_suppress: bool = True) -> Path:
    (tmp_path / "include/linux").mkdir(parents=True)
    (tmp_path / "include/kunit").mkdir(parents=True)
    (tmp_path / "mm").mkdir()
    if gfp is GFP_73:
        (tmp_path / "mm/page_alloc.h").write_text(
            "#define alloc_frozen_pages(...) alloc_hooks(x(__VA_ARGS__))\n"
            "void free_frozen_pages_nolock(struct page *page, unsigned int order);\n")
    (tmp_path / "mm/page_alloc.c").write_text(PAGE_ALLOC_73 if gfp is GFP_73
                                              else PAGE_ALLOC_612)
    (tmp_path / "include/linux/mmzone.h").write_text(MMZONE_73 if gfp is GFP_73
                                                     else MMZONE_612)
    (tmp_path / "include/linux/gfp.h").write_text(gfp)
    (tmp_path / "include/linux/cma.h").write_text(CMA_H_73 if gfp is GFP_73 else CMA_H_612)
    (tmp_path / "include/linux/vmalloc.h").write_text(VMALLOC_H_73 if gfp is GFP_73
                                                      else VMALLOC_H_612)
    (tmp_path / "mm/vmalloc.c").write_text(VMALLOC_73 if gfp is GFP_73 else VMALLOC_612)
    (tmp_path / "include/kunit/test.h").write_text(
        "#define kunit_warning_suppress(test) for(;;)\n" if kunit_suppress else "\n")
    return tmp_path


def test_probe_73_like_tree(tmp_path):
    caps = probe_tree(tree(tmp_path, GFP_73), arch("um"))
    assert all(v for k, v in caps.apis.items() if k != "vmalloc_nr_pages")
    assert not caps.apis["vmalloc_nr_pages"]
    assert caps.files == {"mm_page_alloc_h": True}
    assert not any(caps.behaviours.values())


def test_older_tree_skips_with_reason(tmp_path):
    caps = probe_tree(tree(tmp_path, GFP_612, kunit_suppress=False), arch("x86_64"))
    assert caps.apis["free_contig_range"] and not caps.apis["__free_contig_range"]
    reason = caps.unmet(Need("api", "__free_contig_range"))
    assert reason == ("needs __free_contig_range(): not declared in this tree "
                      "(include/linux/gfp.h)")
    plan = make_plan(load_specs(shipped_specs()), caps)
    by_name = {c.name: c for c in plan.cases}
    assert by_name["kgen_contig_split_whole_span/order=9,free=free_contig_range"].skip is None
    assert "free_pages_bulk()" in by_name[
        "kgen_contig_split_whole_span/order=9,free=free_pages_bulk"].skip
    assert by_name["kgen_contig_split_whole_span/order=9,free=free_page_loop"].skip is None


def test_tree_without_batching_runs_cases_but_not_expect_batched(tmp_path):
    caps = probe_tree(tree(tmp_path, GFP_612, kunit_suppress=False), arch("um"))
    assert caps.behaviours["batched_free"] and caps.behaviours["batched_vfree"]
    plan = make_plan(load_specs(shipped_specs()), caps)
    by_name = {c.name: c for c in plan.cases}
    fcr = by_name["kgen_contig_split_whole_span/order=9,free=free_contig_range"]
    assert fcr.skip is None
    assert fcr.unchecked == (
        "expect.batched not checked: needs a batched free_contig_range(): in this "
        "tree free_contig_range() frees page by page and there is no batched free "
        "(FPI_PREPARED) (mm/page_alloc.c)")
    loop = by_name["kgen_contig_split_whole_span/order=9,free=free_page_loop"]
    assert loop.skip is None and loop.unchecked is None
    files = generate(load_specs(shipped_specs()), caps, plan)
    c = files["kgen_contig_split_kunit.c"]
    assert '.unchecked = "expect.batched not checked: needs a batched' in c
    assert "kgen_skip_unchecked(test, p->unchecked);" in c


def test_batching_tree_checks_every_batched_api(tmp_path):
    caps = probe_tree(tree(tmp_path, GFP_73), arch("um"))
    plan = make_plan(load_specs(shipped_specs()), caps)
    assert plan.unchecked() == {}
    c = generate(load_specs(shipped_specs()), caps, plan)["kgen_contig_split_kunit.c"]
    # whole_span 11 orders x 3 batched APIs, bare_span 3, beyond_max 2 x 3;
    # the __free_page() loop (11 + 2) only logs.
    assert c.count(".batched = true") == 42 and c.count(".batched = false") == 13


def test_uml_cannot_poison(tmp_path):
    caps = probe_tree(tree(tmp_path, GFP_73), arch("um"))
    assert "UML has no MEMORY_FAILURE" in caps.unmet(Need("kconfig", "MEMORY_FAILURE"))
    assert probe_tree(tmp_path, arch("arm64")).unmet(Need("kconfig", "MEMORY_FAILURE")) is None


def test_plan_derives_kconfig_and_args(tmp_path):
    spec = tmp_path / "p.yaml"
    spec.write_text(textwrap.dedent("""\
        kgen: 1
        suite: kgen_p
        cases:
          - name: poisoned
            span: {alloc: split_page, order: 3}
            free: __free_contig_range
            poison: [first]
            needs: {memory_mb: 2048, kernel_args: [movablecore=256M]}
        """))
    specs = [load_spec(spec)]
    arm = make_plan(specs, assume_all(arch("arm64")), ["loglevel=7"])
    assert arm.kconfig == []        # arm64.config sets MEMORY_FAILURE already
    assert arm.qemu_args == ["-m", "2048"]
    # init_on_free=1: expect.prepared (free_pages_prepare() zeroes pages).
    assert arm.kernel_args == ["movablecore=256M", "init_on_free=1", "loglevel=7"]
    assert arm.nr_run == 1 and arm.nr_skip == 0
    um = make_plan(specs, assume_all(arch("um")))
    assert um.kconfig == [] and um.nr_skip == 1
    assert "mem=2048M" in um.kernel_args


def test_skips_are_generated_as_kunit_skips_with_reason(tmp_path):
    caps = probe_tree(tree(tmp_path, GFP_612, kunit_suppress=False), arch("um"))
    files = generate(load_specs(shipped_specs()), caps)
    c = files["kgen_contig_split_kunit.c"]
    assert '.skip = "needs free_pages_bulk(): not declared in this tree' in c
    assert "kunit_skip(test, \"%s\", p->skip);" in c
    assert "#define KGEN_HAVE_FREE_PAGES_BULK 0" in files["kgen_caps.h"]
    assert "#define KGEN_HAVE___FREE_CONTIG_RANGE 0" in files["kgen_caps.h"]
    assert "#define KGEN_HAVE_FREE_CONTIG_RANGE 1" in files["kgen_caps.h"]


def test_612_counts_vmalloc_pages_without_nr_vmalloc(tmp_path):
    caps = probe_tree(tree(tmp_path, GFP_612, kunit_suppress=False), arch("um"))
    assert not caps.apis["NR_VMALLOC"] and caps.apis["vmalloc_nr_pages"]
    assert caps.unmet(Need(NeedKind.SYMBOL, "NR_VMALLOC")) is None
    plan = make_plan(load_specs(shipped_specs()), caps)
    by_name = {c.name: c for c in plan.cases}
    for name in ("kgen_vmalloc_vfree_sizes/pages=512", "kgen_vmalloc_vmap_put_pages/pages=64",
                 "kgen_vmalloc_vfree_huge/pages=1024"):
        assert by_name[name].skip is None
    assert "free_pages_bulk()" in by_name["kgen_vmalloc_bulk_layouts/pages=64,layout=gaps"].skip
    caps_h = generate(load_specs(shipped_specs()), caps)["kgen_caps.h"]
    assert "#define KGEN_HAVE_NR_VMALLOC 0" in caps_h
    assert "#define KGEN_HAVE_VMALLOC_NR_PAGES 1" in caps_h


def test_a_tree_with_neither_vmalloc_counter_skips_and_names_both(tmp_path):
    caps = probe_tree(tree(tmp_path, GFP_612, kunit_suppress=False), arch("um"))
    (tmp_path / "include/linux/vmalloc.h").write_text("\n")
    caps = probe_tree(tmp_path, arch("um"))
    assert caps.unmet(Need(NeedKind.SYMBOL, "NR_VMALLOC")) == (
        "needs NR_VMALLOC: not declared in this tree (include/linux/mmzone.h), "
        "nor vmalloc_nr_pages() (include/linux/vmalloc.h)")
    plan = make_plan(load_specs(shipped_specs()), caps)
    by_name = {c.name: c for c in plan.cases}
    assert "NR_VMALLOC" in by_name["kgen_vmalloc_vfree_sizes/pages=512"].skip
    # page arrays do not check NR_VMALLOC by default: only the API is missing
    assert "NR_VMALLOC" not in by_name["kgen_vmalloc_bulk_layouts/pages=64,layout=gaps"].skip
    assert "#define KGEN_HAVE_NR_VMALLOC 1" in generate(
        load_specs(shipped_specs()),
        probe_tree(tree(tmp_path / "73", GFP_73), arch("um")))["kgen_caps.h"]


def test_612_free_contig_range_warns_on_held_pages(tmp_path):
    caps = probe_tree(tree(tmp_path, GFP_612, kunit_suppress=False), arch("um"))
    assert caps.behaviours[FREE_CONTIG_RANGE_WARNS_IN_USE]
    plan = make_plan(load_specs(shipped_specs()), caps)
    by_name = {c.name: c for c in plan.cases}
    held = by_name["kgen_refcount_hold_hold_many_refs/refs=2"].skip
    assert held.startswith("needs a free_contig_range() that leaves held pages to their "
                           "holders: in this tree free_contig_range() frees page by page "
                           "and WARNs")
    assert held.endswith("(mm/page_alloc.c)")
    # The same free without held pages, and held pages freed page by page, run.
    assert by_name["kgen_contig_split_whole_span/order=9,free=free_contig_range"].skip is None
    assert by_name["kgen_refcount_hold_hold_every_nth/free=free_page_loop"].skip is None
    assert by_name["kgen_hwpoison_bad_state/free=free_contig_range,bad_state=middle"].skip \
        is None


def test_73_runs_what_612_cannot(tmp_path):
    caps = probe_tree(tree(tmp_path, GFP_73), arch("um"))
    plan = make_plan(load_specs(shipped_specs()), caps)
    by_name = {c.name: c for c in plan.cases}
    assert by_name["kgen_refcount_hold_hold_many_refs/refs=2"].skip is None
    assert by_name["kgen_vmalloc_vfree_sizes/pages=512"].skip is None


def test_builtin_blocker_finds_module_only_options(tmp_path):
    from kgen.target.capabilities import builtin_blocker
    (tmp_path / "lib").mkdir()
    kconfig = tmp_path / "lib/Kconfig.debug"
    entry = ("config TEST_VMALLOC\n\ttristate \"Test module\"\n\tdefault n\n"
             "       depends on MMU\n{}\thelp\n\t  depends on m is only text here\n\n"
             "config TEST_BPF\n\ttristate \"x\"\n\tdepends on m\n")
    kconfig.write_text(entry.format("\tdepends on m\n"))
    assert builtin_blocker(tmp_path, "TEST_VMALLOC", "lib/Kconfig.debug") == (
        "CONFIG_TEST_VMALLOC depends on m in this tree (lib/Kconfig.debug): it can only be "
        "a module, and kgen's kernels boot without modules")
    kconfig.write_text(entry.format(""))      # 7.x: built in is fine
    assert builtin_blocker(tmp_path, "TEST_VMALLOC", "lib/Kconfig.debug") is None
    assert "does not exist" in builtin_blocker(tmp_path, "NOPE", "lib/Kconfig.debug")


def test_612_uml_pci_warning_is_configured_away(tmp_path):
    """6.12's kunit.py enables PCI over virtio with no device ID on UML, so
    every boot WARNs in um_pci_init(); 7.x enables KUNIT_UML_PCI instead."""
    root = tree(tmp_path, GFP_612, kunit_suppress=False)
    configs = root / "tools/testing/kunit/configs"
    configs.mkdir(parents=True)
    configs.joinpath("arch_uml.config").write_text(
        "CONFIG_VIRTIO_UML=y\nCONFIG_UML_PCI_OVER_VIRTIO=y\nCONFIG_FORTIFY_SOURCE=y\n")
    line = "# CONFIG_UML_PCI_OVER_VIRTIO is not set"
    assert make_plan(load_specs(shipped_specs()), probe_tree(root, arch("um"))).kconfig == [line]
    assert make_plan(load_specs(shipped_specs()), probe_tree(root, arch("x86_64"))).kconfig == []
    configs.joinpath("arch_uml.config").write_text("CONFIG_KUNIT_UML_PCI=y\n")
    assert probe_tree(root, arch("um")).tree_kconfig == []


def test_bench_config_leaves_out_what_the_tree_cannot_build_in():
    from kgen.runner.bench.pipeline import VMALLOC_GROUP, bench_config
    assert "\nCONFIG_TEST_VMALLOC=y\n" in bench_config({})
    text = bench_config({VMALLOC_GROUP: "lib/test_vmalloc cannot be built in: why"},
                        ["# CONFIG_UML_PCI_OVER_VIRTIO is not set"])
    assert "CONFIG_TEST_VMALLOC=y" not in text
    assert "# left out here: lib/test_vmalloc cannot be built in: why\n" in text
    assert text.endswith("\n# CONFIG_UML_PCI_OVER_VIRTIO is not set\n")


def test_an_api_that_moved_between_headers_is_found_in_either(tmp_path):
    """7.2 declares free_frozen_pages_nolock() in mm/internal.h, 7.3 in
    mm/page_alloc.h; 6.12 in neither."""
    root = tree(tmp_path, GFP_612)
    assert not probe_tree(root, arch("um")).apis["free_frozen_pages_nolock"]
    (root / "mm/internal.h").write_text(
        "void free_frozen_pages_nolock(struct page *page, unsigned int order);\n")
    assert probe_tree(root, arch("um")).apis["free_frozen_pages_nolock"]


def test_cma_spans_skip_on_uml_and_frozen_ones_need_712_calls(tmp_path):
    """CMA spans need a default CMA area, which UML cannot have; 6.12 has
    cma_release() but not the frozen pair."""
    um = probe_tree(tree(tmp_path / "a", GFP_73), arch("um"))
    plan = make_plan(load_specs(shipped_specs()), um)
    skip = {c.name: c.skip for c in plan.cases}["kgen_cma_release/order=3"]
    assert skip and "no DMA API" in skip
    old = probe_tree(tree(tmp_path / "b", GFP_612, kunit_suppress=False), arch("x86_64"))
    by_name = {c.name: c.skip for c in make_plan(load_specs(shipped_specs()), old).cases}
    assert by_name["kgen_cma_release/order=3"] is None
    assert "cma_release_frozen" in by_name["kgen_cma_release_frozen/order=3"]
