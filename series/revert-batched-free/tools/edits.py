"""Apply one step of the revert to a tree copy (step 1, 2 or 3). Exact
string replacements: each old block must occur exactly once."""
import sys
from pathlib import Path

root, step = Path(sys.argv[1]), int(sys.argv[2])

def sub(rel, old, new):
    p = root / rel
    text = p.read_text()
    assert text.count(old) == 1, (rel, text.count(old), old[:80])
    p.write_text(text.replace(old, new))

PA = "mm/page_alloc.c"
if step == 1:
    # __free_contig_frozen_range(): page by page with free_frozen_pages().
    sub(PA, """static void __free_contig_frozen_range(unsigned long pfn, unsigned long nr_pages)
{
	__free_contig_range_common(pfn, nr_pages, /* is_frozen= */ true);
}""", """static void __free_contig_frozen_range(unsigned long pfn, unsigned long nr_pages)
{
	for (; nr_pages--; pfn++)
		free_frozen_pages(pfn_to_page(pfn), 0);
}""")
    sub(PA, """static void __free_contig_range_common(unsigned long pfn, unsigned long nr_pages,
		bool is_frozen)
{""", """static void __free_contig_range_common(unsigned long pfn, unsigned long nr_pages)
{""")
    sub(PA, """		bool can_free = true;
""", """		bool can_free;
""")
    sub(PA, """		if (!is_frozen)
			can_free = put_page_testzero(page);

		if (can_free)
""", """		can_free = put_page_testzero(page);
		if (can_free)
""")
    sub(PA, "	__free_contig_range_common(pfn, nr_pages, /* is_frozen= */ false);\n",
        "	__free_contig_range_common(pfn, nr_pages);\n")
elif step == 2:
    sub("mm/vmalloc.c", """	unsigned long i;

	if (!(vm->flags & VM_MAP_PUT_PAGES)) {
		for (i = start_idx; i < end_idx; i++)
			mod_lruvec_page_state(vm->pages[i], NR_VMALLOC, -1);
	}
	free_pages_bulk(vm->pages + start_idx, end_idx - start_idx);

	for (i = start_idx; i < end_idx; i++)
		vm->pages[i] = NULL;
}""", """	unsigned long i;

	for (i = start_idx; i < end_idx; i++) {
		struct page *page = vm->pages[i];

		/*
		 * High-order allocs for huge vmallocs are split, so
		 * can be freed as an array of order-0 allocations
		 */
		if (!(vm->flags & VM_MAP_PUT_PAGES))
			mod_lruvec_page_state(page, NR_VMALLOC, -1);
		__free_page(page);
		vm->pages[i] = NULL;
		cond_resched();
	}
}""")
    sub(PA, """ * Free the order-0 pages. Adjacent entries whose PFNs form a contiguous
 * run are released with a single __free_contig_range() call.
 *
 * This assumes page_array is sorted in ascending PFN order. Without that,
 * the function still frees all pages, but contiguous runs may not be
 * detected and the freeing pattern can degrade to freeing one page at a
 * time.
 *
 * Context: Sleepable process context only; calls cond_resched()
 */
void free_pages_bulk(struct page **page_array, unsigned long nr_pages)
{
	while (nr_pages) {
		unsigned long nr_contig = num_pages_contiguous(page_array, nr_pages);

		__free_contig_range(page_to_pfn(*page_array), nr_contig);

		nr_pages -= nr_contig;
		page_array += nr_contig;
		cond_resched();
	}
}""", """ * Free the order-0 pages one by one: put a reference on each and free it
 * when that was the last one, as __free_page() does.
 *
 * Context: Sleepable process context only; calls cond_resched()
 */
void free_pages_bulk(struct page **page_array, unsigned long nr_pages)
{
	unsigned long i;

	for (i = 0; i < nr_pages; i++) {
		__free_page(page_array[i]);
		cond_resched();
	}
}""")
elif step == 3:
    sub(PA, """/* free_pages_prepare() has already been called for page(s) being freed. */
#define FPI_PREPARED		((__force fpi_t)BIT(3))

""", "")
    sub(PA, """	if (fpi_flags & FPI_PREPARED)
		return true;

	VM_BUG_ON_PAGE(PageTail(page), page);""", """	VM_BUG_ON_PAGE(PageTail(page), page);""")
    text = (root / PA).read_text()
    start = text.index("static void free_prepared_contig_range(struct page *page,")
    end = text.index("/**\n * __free_contig_range - Free contiguous range of order-0 pages.")
    (root / PA).write_text(text[:start] + text[end:])
    sub(PA, """ * For each order-0 struct page in the physically contiguous range, put a
 * reference. Free any page who's reference count falls to zero. The
 * implementation is functionally equivalent to, but significantly faster than
 * calling __free_page() for each struct page in a loop.
""", """ * For each order-0 struct page in the physically contiguous range, put a
 * reference and free the page if its reference count falls to zero, one
 * page at a time with __free_page().
""")
    sub(PA, """void __free_contig_range(unsigned long pfn, unsigned long nr_pages)
{
	__free_contig_range_common(pfn, nr_pages);
}""", """void __free_contig_range(unsigned long pfn, unsigned long nr_pages)
{
	for (; nr_pages--; pfn++)
		__free_page(pfn_to_page(pfn));
}""")
