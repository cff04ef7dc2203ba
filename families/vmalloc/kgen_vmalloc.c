// SPDX-License-Identifier: GPL-2.0
/*
 * kgen KUnit helpers for the vmalloc family: vmalloc()/vmalloc_huge() areas
 * freed by vfree(), and page arrays of several layouts freed by
 * free_pages_bulk(), which vfree() uses underneath.
 *
 * The pages of such a case are not one pfn range, so they are tracked as an
 * array.  The checks: every page back in the buddy after a drain, huge
 * allocations back as high-order blocks, the NR_VMALLOC node counter
 * (including per-cpu deltas) back to its value before the case, and
 * NR_FREE_PAGES: the free gives back exactly the area's pages and its own
 * pages[] array's.
 */
#include <linux/bottom_half.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/panic.h>
#include <linux/set_memory.h>
#include <linux/vmalloc.h>
#include <linux/vmstat.h>
#include <linux/workqueue.h>
#include <asm/tlbflush.h>

#include "../internal.h"
#include "kgen_kunit.h"
#include "kgen_protocol.h"
#if KGEN_HAVE_MM_PAGE_ALLOC_H
#include "../page_alloc.h"
#endif


/**
 * kgen_nr_vmalloc() - NR_VMALLOC of all nodes, exactly
 *
 * node_page_state() leaves out the per-cpu deltas not yet folded in; a
 * 512-page vfree() can sit entirely in them.
 *
 * Before NR_VMALLOC (Linux 6.12) mm/vmalloc.c kept the same count, with
 * the same exceptions (vmap(VM_MAP_PUT_PAGES) areas are not charged), in
 * one global atomic that vmalloc_nr_pages() reads exactly.
 *
 * Return: the number of pages accounted to vmalloc, or 0 on a tree with
 * neither counter.
 */
long kgen_nr_vmalloc(void)
{
#if KGEN_HAVE_NR_VMALLOC
	long sum = 0;
	int nid, cpu;

	for_each_online_node(nid) {
		struct pglist_data *pgdat = NODE_DATA(nid);

		sum += node_page_state(pgdat, NR_VMALLOC);
		for_each_online_cpu(cpu)
			sum += per_cpu_ptr(pgdat->per_cpu_nodestats,
					   cpu)->vm_node_stat_diff[NR_VMALLOC];
	}
	return sum;
#elif KGEN_HAVE_VMALLOC_NR_PAGES
	return vmalloc_nr_pages();
#else
	/* No counter at all: the cases that check it are skips. */
	return 0;
#endif
}

/**
 * kgen_nr_vmalloc_node() - NR_VMALLOC of one node, exactly
 * @nid: an online node
 *
 * Return: the node's counter with the per-cpu deltas, or 0 on a tree
 * without NR_VMALLOC (6.12 counts vmalloc pages globally only).
 */
long kgen_nr_vmalloc_node(int nid)
{
#if KGEN_HAVE_NR_VMALLOC
	struct pglist_data *pgdat = NODE_DATA(nid);
	long sum = node_page_state(pgdat, NR_VMALLOC);
	int cpu;

	for_each_online_cpu(cpu)
		sum += per_cpu_ptr(pgdat->per_cpu_nodestats,
				   cpu)->vm_node_stat_diff[NR_VMALLOC];
	return sum;
#else
	return 0;
#endif
}

/*
 * A memory node other than the one this CPU is on, or NUMA_NO_NODE.  The
 * case's kthread may migrate, but kgen's guest layouts put every CPU on
 * node 0, so "other" stays other.
 */
static int kgen_remote_node(void)
{
	int nid, here = numa_node_id();

	for_each_node_state(nid, N_MEMORY)
		if (nid != here)
			return nid;
	return NUMA_NO_NODE;
}

/**
 * kgen_vmalloc_charge_by_node() - what an area charges each node's NR_VMALLOC
 * @addr: the area
 * @want: per node (nr_node_ids entries), the count to add the charge to
 *
 * Its own pages, and those of its pages[] array when that is vmalloc()ed
 * too (above PAGE_SIZE, __vmalloc_area_node()).  A VM_MAP_PUT_PAGES area
 * charges nothing.
 */
void kgen_vmalloc_charge_by_node(const void *addr, long *want)
{
	struct vm_struct *area = find_vm_area(addr);
	unsigned long i;

	if (!area || (area->flags & VM_MAP_PUT_PAGES))
		return;
	for (i = 0; i < area->nr_pages; i++)
		want[page_to_nid(area->pages[i])]++;
	if (is_vmalloc_addr(area->pages))
		kgen_vmalloc_charge_by_node(area->pages, want);
}

/**
 * kgen_nr_vmalloc_nodes() - every online node's NR_VMALLOC, exactly
 * @out: per node (nr_node_ids entries)
 */
void kgen_nr_vmalloc_nodes(long *out)
{
	int nid;

	for_each_online_node(nid)
		out[nid] = kgen_nr_vmalloc_node(nid);
}

static void kgen_parr_release(void *data)
{
	struct kgen_parr *arr = data;
	unsigned long i;

	if (arr->addr && !arr->given) {
		arr->given = true;
		vfree(arr->addr);
	}
	for (i = 0; i < arr->nr_owned; i++) {
		if (arr->owned[i]) {
			__free_page(arr->owned[i]);
			arr->owned[i] = NULL;
		}
	}
}

/**
 * kgen_nr_free_all() - NR_FREE_PAGES of every zone, exactly, after a drain
 *
 * A vmalloc area's pages, and its pages[] array, may come from any zone.
 *
 * Return: the sum over populated zones, per-cpu deltas included.
 */
unsigned long kgen_nr_free_all(void)
{
	unsigned long sum = 0;
	struct zone *zone;

	drain_all_pages(NULL);
	for_each_populated_zone(zone)
		sum += kgen_zone_nr_free(zone);
	return sum;
}

/*
 * Everything the case's bookkeeping needs is allocated here, with the
 * cleanup action, before the counters are read: after that, only the pages
 * under test may move them.
 */
static struct kgen_parr *kgen_parr_new(struct kunit *test, unsigned long nr,
				       unsigned long nr_owned)
{
	struct kgen_parr *arr = kunit_kzalloc(test, sizeof(*arr), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, arr);
	arr->test = test;
	arr->nr = nr;
	arr->alloc_nr = nr;
	arr->pages = kunit_kcalloc(test, nr, sizeof(*arr->pages), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, arr->pages);
	arr->nr_owned = nr_owned;
	arr->owned = kunit_kcalloc(test, nr_owned ?: 1, sizeof(*arr->owned),
				   GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, arr->owned);
	arr->set = kgen_pageset_new(test, arr->pages, nr);
	arr->node_before = kunit_kcalloc(test, nr_node_ids, sizeof(long), GFP_KERNEL);
	arr->node_charged = kunit_kcalloc(test, nr_node_ids, sizeof(long), GFP_KERNEL);
	arr->node_want = kunit_kcalloc(test, nr_node_ids, sizeof(long), GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, arr->node_before && arr->node_charged && arr->node_want);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, kgen_parr_release,
							     arr));
	kgen_settle();
	arr->free_at_start = kgen_nr_free_all();
	arr->vmalloc_before = kgen_nr_vmalloc();
	kgen_nr_vmalloc_nodes(arr->node_before);
	arr->taint_before = get_taint();
	return arr;
}

/**
 * kgen_vmalloc_area() - a vmalloc area whose pages the case follows
 * @test: the test case
 * @nr_pages: size in pages
 * @huge: use vmalloc_huge(), which may back the area with PMD-sized pages
 * @remote: allocate on a memory node other than this CPU's (vmalloc_node()),
 *          so that the free counts another node's pages; skips the case on
 *          a boot with one memory node
 *
 * Return: the tracked pages; vfree()d by a cleanup action if the case ends
 * before it frees them itself.
 */
struct kgen_parr *kgen_vmalloc_area(struct kunit *test, unsigned long nr_pages,
				    bool huge, bool remote)
{
	struct kgen_parr *arr = kgen_parr_new(test, nr_pages, 0);
	unsigned long size = nr_pages << PAGE_SHIFT, i;
	struct vm_struct *area;
	int nid = remote ? kgen_remote_node() : NUMA_NO_NODE;

	if (remote && nid == NUMA_NO_NODE)
		kunit_skip(test, "needs a memory node other than this CPU's (node %d): this boot has one",
			   numa_node_id());
	if (remote)
		arr->addr = vmalloc_node(size, nid);
	else
		arr->addr = huge ? vmalloc_huge(size, GFP_KERNEL) : vmalloc(size);
	KUNIT_ASSERT_NOT_NULL_MSG(test, arr->addr, "vmalloc of %lu pages failed",
				  nr_pages);
	arr->vmalloc_after_alloc = kgen_nr_vmalloc();
	kgen_nr_vmalloc_nodes(arr->node_charged);
	kgen_vmalloc_charge_by_node(arr->addr, arr->node_want);
	for (i = 0; i < nr_pages; i++)
		arr->pages[i] = vmalloc_to_page(arr->addr + i * PAGE_SIZE);
	kgen_pageset_ready(arr->set);
	area = find_vm_area(arr->addr);
	KUNIT_ASSERT_NOT_NULL(test, area);
#ifdef CONFIG_HAVE_ARCH_HUGE_VMALLOC
	arr->order = area->page_order;
#endif
	/* In the case's log: whether huge pages backed the area here. */
	kunit_info(test, KGEN_PROTO_LOG "vmalloc area of %lu pages, page order %u",
		   nr_pages, arr->order);
	return arr;
}

/* Order-0 pages for a vmap(): one by one, or one contiguous range. */
static void kgen_vmap_take_pages(struct kgen_parr *arr, bool contiguous)
{
	struct kunit *test = arr->test;
	struct page *first = NULL;
	unsigned long i;

	if (contiguous) {
#ifdef CONFIG_CONTIG_ALLOC
		first = alloc_contig_pages(arr->nr, GFP_KERNEL | __GFP_NOWARN,
					   numa_node_id(), NULL);
#endif
		KUNIT_ASSERT_NOT_NULL_MSG(test, first,
					  "cannot allocate %lu contiguous pages", arr->nr);
		/* Aligned to its size: it merges back to this order at most. */
		arr->order = min_t(unsigned int, ilog2(arr->nr), MAX_PAGE_ORDER);
	}
	for (i = 0; i < arr->nr; i++) {
		arr->owned[i] = first ? first + i : alloc_page(GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, arr->owned[i]);
		arr->pages[i] = arr->owned[i];
	}
}

/**
 * kgen_vmap_put_pages() - vmap() of order-0 pages with VM_MAP_PUT_PAGES
 * @test: the test case
 * @nr_pages: pages to map
 * @contiguous: take them as one pfn range from alloc_contig_pages() (a
 *              power of two, aligned to its size), not page by page
 *
 * The array and one reference per page go to vmap(); vfree() must then free
 * them through free_pages_bulk() without touching NR_VMALLOC, which vmap()
 * never charged.
 *
 * Return: the tracked pages.
 */
struct kgen_parr *kgen_vmap_put_pages(struct kunit *test, unsigned long nr_pages,
				     bool contiguous)
{
	struct kgen_parr *arr = kgen_parr_new(test, nr_pages, nr_pages);
	struct page **pages;

	kgen_vmap_take_pages(arr, contiguous);
	kgen_pageset_ready(arr->set);
	pages = kvmalloc_array(nr_pages, sizeof(*pages), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pages);
	memcpy(pages, arr->pages, nr_pages * sizeof(*pages));
	arr->addr = vmap(pages, nr_pages, VM_MAP | VM_MAP_PUT_PAGES, PAGE_KERNEL);
	if (!arr->addr)
		kvfree(pages);
	KUNIT_ASSERT_NOT_NULL_MSG(test, arr->addr, "vmap of %lu pages failed", nr_pages);
	/* vmap() owns the pages and the array now; cleanup vfree()s them. */
	memset(arr->owned, 0, nr_pages * sizeof(*arr->owned));
	arr->put_pages = true;
	arr->vmalloc_after_alloc = kgen_nr_vmalloc();
	kgen_nr_vmalloc_nodes(arr->node_charged);
	return arr;
}

/**
 * kgen_backing_pages() - pages a free of an allocation gives back
 * @ptr: a vmalloc area (with, in turn, its own pages[] array), a large
 *       kmalloc, a slab object, or NULL
 *
 * Return: the pages behind it that are not slab memory; 0 for a slab
 * object or NULL.
 */
unsigned long kgen_backing_pages(const void *ptr)
{
	struct vm_struct *area;
	struct folio *folio;

	if (!ptr)
		return 0;
	if (is_vmalloc_addr(ptr)) {
		area = find_vm_area(ptr);
		return area ? area->nr_pages + kgen_backing_pages(area->pages) : 0;
	}
	folio = virt_to_folio(ptr);
	return folio_test_slab(folio) ? 0 : folio_nr_pages(folio);
}

/**
 * kgen_vm_flush_reset_perms() - have vfree() reset the area's direct map
 * @test: the test case
 * @arr: pages of a kgen_vmalloc_area() or kgen_vmap_put_pages()
 *
 * Marks the area VM_FLUSH_RESET_PERMS, as module, BPF and execmem code do
 * for areas whose permissions they change: vfree() then runs
 * vm_reset_perms() (invalidate the pages' direct map, flush, restore it)
 * before it frees the pages.  Asserts the mark took.
 *
 * Then it leaves each page's direct map invalid (and flushed), as a user
 * of such an area that changed its permissions does: restoring it is
 * vfree()'s job, which kgen_expect_direct_map_restored() checks.  Call it
 * right before the free: nothing may touch the pages through the direct
 * map until vfree() restored it.
 *
 * Where the direct map uses large pages (x86_64), invalidating one 4 KiB
 * page of it splits the large page, and the new page table stays.  That
 * happens here, before kgen_vfree_area() reads the counters, so the free
 * only changes entries that already exist and expect.balanced counts the
 * area's pages alone.  Highmem pages have no direct map: skipped, as
 * vm_reset_perms() skips them.
 */
void kgen_vm_flush_reset_perms(struct kunit *test, struct kgen_parr *arr)
{
	unsigned long i, start = ULONG_MAX, end = 0;
	struct vm_struct *area;

	for (i = 0; i < arr->nr; i++) {
		if (!page_address(arr->pages[i]))
			continue;
		KUNIT_ASSERT_EQ_MSG(test, set_direct_map_invalid_noflush(arr->pages[i]), 0,
				    "cannot split the direct map of page %lu", i);
		KUNIT_ASSERT_EQ(test, set_direct_map_default_noflush(arr->pages[i]), 0);
	}
	set_vm_flush_reset_perms(arr->addr);
	area = find_vm_area(arr->addr);
	KUNIT_ASSERT_NOT_NULL(test, area);
	KUNIT_ASSERT_TRUE_MSG(test, area->flags & VM_FLUSH_RESET_PERMS,
			      "the area is not marked VM_FLUSH_RESET_PERMS");
	for (i = 0; i < arr->nr; i++) {
		unsigned long addr = (unsigned long)page_address(arr->pages[i]);

		/* A highmem page has no direct map to invalidate. */
		if (!addr)
			continue;
		KUNIT_ASSERT_EQ(test, set_direct_map_invalid_noflush(arr->pages[i]), 0);
		start = min(start, addr);
		end = max(end, addr + PAGE_SIZE);
	}
	if (start < end)
		flush_tlb_kernel_range(start, end);
}

/**
 * kgen_expect_direct_map_restored() - vfree() gave each page its direct map back
 * @test: the test case
 * @arr: pages of an area kgen_vm_flush_reset_perms() left with an invalid
 *       direct map, now vfree()d
 *
 * vm_reset_perms() must set every page's direct map back to the default
 * (present and writable) before the pages go back to the allocator, or
 * the next user of a page faults on it.  Checked first after the free:
 * every later check reads the pages through the direct map.  Where the
 * arch has no direct map permissions (UML) there is nothing to restore:
 * the case says so as its skip reason once it passed everything else.
 * Highmem pages (x86_32) have no direct map and are not checked, as
 * vm_reset_perms() does not touch them; an area of highmem pages only
 * says so the same way.
 */
void kgen_expect_direct_map_restored(struct kunit *test, struct kgen_parr *arr)
{
	unsigned long i, bad = 0, first = 0, mapped = 0;

	if (!IS_ENABLED(CONFIG_ARCH_HAS_SET_DIRECT_MAP)) {
		/* The rest of the case (vm_reset_perms() on the way) still runs. */
		kgen_note_unchecked(test,
			"direct map not checked: no ARCH_HAS_SET_DIRECT_MAP, nothing for vfree() to restore");
		return;
	}
	for (i = 0; i < arr->nr; i++) {
		bool ok;
#ifdef CONFIG_X86
		unsigned int level;
		pte_t *pte;
#endif

		/*
		 * A highmem page has no direct map: vm_reset_perms() leaves it
		 * alone (set_area_direct_map() skips a NULL page_address()),
		 * and so does this check.
		 */
		if (!page_address(arr->pages[i]))
			continue;
		mapped++;
		ok = kernel_page_present(arr->pages[i]);
#ifdef CONFIG_X86
		pte = lookup_address((unsigned long)page_address(arr->pages[i]), &level);
		ok = ok && pte && pte_write(*pte);
#endif
		if (ok)
			continue;
		if (!bad++)
			first = i;
	}
	if (!mapped) {
		kgen_note_unchecked(test,
			"direct map not checked: every page of the area is highmem, without a direct map");
		return;
	}
	KUNIT_EXPECT_EQ_MSG(test, bad, 0,
		"expect.freed: after vfree() of a VM_FLUSH_RESET_PERMS area, %lu of its %lu pages have no present, writable direct map; first: page %lu (pfn %#lx)",
		bad, arr->nr, first, page_to_pfn(arr->pages[first]));
}

/**
 * kgen_vfree_area() - vfree() the area
 * @arr: pages of a kgen_vmalloc_area() or kgen_vmap_put_pages()
 * @bh_disabled: call vfree() with bottom halves disabled
 *
 * First records what vfree() must give back: the area's pages and the
 * pages of its pages[] array (vmalloc()ed above PAGE_SIZE, a large kmalloc
 * for a vmap() caller's big array; a slab object gives back no page).
 *
 * With bottom halves disabled in_interrupt() is true, so vfree() hands the
 * area to vfree_atomic(), whose work item on system_percpu_wq frees it
 * later.  That work item is private to mm/vmalloc.c, so the whole
 * workqueue is flushed before the checks look: flush_workqueue() refuses
 * system workqueues only because a caller holding a lock the work needs
 * would deadlock, and a test case holds none.  The deferral itself is
 * checked: the area still exists right after vfree() returns, and is gone
 * once the work item ran.
 */
void kgen_vfree_area(struct kgen_parr *arr, bool bh_disabled)
{
	struct vm_struct *area = find_vm_area(arr->addr);
	bool deferred;

	if (area) {
		arr->array_pages = kgen_backing_pages(area->pages);
		arr->back_pages = area->nr_pages + arr->array_pages;
	}
	kgen_settle();
	arr->free_before_free = kgen_nr_free_all();
	arr->given = true;
	arr->pgfree = kgen_pgfree();
	if (!bh_disabled) {
		kgen_free_api_call(KGEN_FREE_VFREE, 0, arr->nr, NULL, arr->addr);
		arr->pgfree = kgen_pgfree() - arr->pgfree;
		return;
	}
	local_bh_disable();
	kgen_free_api_call(KGEN_FREE_VFREE, 0, arr->nr, NULL, arr->addr);
	/*
	 * Still in interrupt context: vfree() may not have unmapped the area
	 * here (that sleeps), only queued it.  This CPU's kworker cannot run
	 * while bottom halves are off, so nothing has freed it yet.
	 */
	deferred = find_vm_area(arr->addr) != NULL;
	local_bh_enable();
	__flush_workqueue(system_percpu_wq);
	arr->pgfree = kgen_pgfree() - arr->pgfree;
	KUNIT_EXPECT_TRUE_MSG(arr->test, deferred,
		"vfree() with bottom halves off removed the area at once: in_interrupt() must defer it to vfree_atomic()");
	KUNIT_EXPECT_NULL_MSG(arr->test, find_vm_area(arr->addr),
		"the area vfree() deferred still exists after its work item ran");
}

/**
 * kgen_vfree_misuse_not_vmalloc() - vfree() of an address vmalloc never gave
 * @test: the test case
 * @arr: a vmalloc() or vmap() area, not yet freed
 * @warnings: WARN*() calls the kernel must make (vfree() defines an address
 *            that no vm area covers as WARN-and-return)
 *
 * Hands vfree() the direct-map address of the area's first page, as a
 * free_page()/vfree() mix-up does.  kmap_local_page() gives that address
 * for a page with a direct map; a highmem page (x86_32) has none, and its
 * kmap address is just as foreign to vmalloc.  The address is page aligned, so
 * remove_vm_area() looks it up, finds no area and vfree() must WARN and
 * return without touching anything: the page keeps its references, the
 * area stays registered and mapped to it.  The case then frees the area
 * properly, and its own checks (every page back, NR_VMALLOC balanced)
 * would also see a misuse that had freed or uncharged something.
 */
void kgen_vfree_misuse_not_vmalloc(struct kunit *test, struct kgen_parr *arr,
				   int warnings)
{
#if KGEN_HAVE_KUNIT_WARNING_SUPPRESS
	struct page *page = arr->pages[0];
	int refs = page_ref_count(page);
	void *addr = kmap_local_page(page);

	kunit_warning_suppress(test) {
		vfree(addr);
		KUNIT_EXPECT_EQ_MSG(test, KUNIT_SUPPRESSED_WARNING_COUNT(), warnings,
			"expect.warnings: vfree() of a direct-map address");
	}
	kunmap_local(addr);
	KUNIT_EXPECT_EQ_MSG(test, page_ref_count(page), refs,
		"expect.warnings: vfree() of a direct-map address changed the page's refcount");
	KUNIT_EXPECT_FALSE_MSG(test, PageBuddy(page),
		"expect.warnings: vfree() of a direct-map address gave the page to the buddy");
	KUNIT_EXPECT_NOT_NULL_MSG(test, find_vm_area(arr->addr),
		"expect.warnings: vfree() of a direct-map address removed the area");
	KUNIT_EXPECT_PTR_EQ_MSG(test, vmalloc_to_page(arr->addr), page,
		"expect.warnings: the area no longer maps its first page");
#else
	kunit_skip(test, "needs kunit_warning_suppress()");
#endif
}

/*
 * Interleaving and gaps need pages the array leaves out: those stay owned
 * and go back at cleanup.
 */
static struct page *kgen_block(struct kunit *test, unsigned int order)
{
	struct page *block = alloc_pages(GFP_KERNEL | __GFP_NOWARN, order);

	KUNIT_ASSERT_NOT_NULL_MSG(test, block, "cannot allocate an order-%u block",
				  order);
	split_page(block, order);
	return block;
}

/**
 * kgen_page_array() - order-0 pages in an array of a given layout
 * @test: the test case
 * @nr: pages in the array (a power of two)
 * @layout: sorted, reversed, every other page (gaps), or two blocks
 *          interleaved
 *
 * Return: the tracked pages, to be freed with kgen_free_array_bulk().
 */
struct kgen_parr *kgen_page_array(struct kunit *test, unsigned long nr,
				  enum kgen_array_layout layout)
{
	unsigned int order = ilog2(nr), i;
	struct kgen_parr *arr;
	struct page *a, *b;

	switch (layout) {
	case KGEN_ARRAY_SORTED:
	case KGEN_ARRAY_REVERSED:
		arr = kgen_parr_new(test, nr, nr);
		a = kgen_block(test, order);
		for (i = 0; i < nr; i++)
			arr->owned[i] = a + i;
		break;
	case KGEN_ARRAY_GAPS:
		arr = kgen_parr_new(test, nr, 2 * nr);
		a = kgen_block(test, order + 1);
		for (i = 0; i < 2 * nr; i++)
			arr->owned[i] = a + i;
		break;
	case KGEN_ARRAY_INTERLEAVED:
	default:
		arr = kgen_parr_new(test, nr, nr);
		a = kgen_block(test, order - 1);
		b = kgen_block(test, order - 1);
		for (i = 0; i < nr / 2; i++) {
			arr->owned[i] = a + i;
			arr->owned[nr / 2 + i] = b + i;
		}
		break;
	}
	for (i = 0; i < nr; i++) {
		switch (layout) {
		case KGEN_ARRAY_SORTED:
			arr->pages[i] = arr->owned[i];
			break;
		case KGEN_ARRAY_REVERSED:
			arr->pages[i] = arr->owned[nr - 1 - i];
			break;
		case KGEN_ARRAY_GAPS:
			arr->pages[i] = arr->owned[2 * i];
			break;
		case KGEN_ARRAY_INTERLEAVED:
			arr->pages[i] = arr->owned[(i % 2) * (nr / 2) + i / 2];
			break;
		}
	}
	kgen_pageset_ready(arr->set);
	return arr;
}

/**
 * kgen_free_array_bulk() - free_pages_bulk() on the array
 * @arr: pages of a kgen_page_array()
 */
void kgen_free_array_bulk(struct kgen_parr *arr)
{
	unsigned long i, j;

	/* The array's pages are no longer ours; the gaps' pages still are. */
	for (i = 0; i < arr->nr; i++)
		for (j = 0; j < arr->nr_owned; j++)
			if (arr->owned[j] == arr->pages[i])
				arr->owned[j] = NULL;
	arr->given = true;
	arr->back_pages = arr->nr;
	kgen_settle();
	arr->free_before_free = kgen_nr_free_all();
	arr->pgfree = kgen_pgfree();
	if (!kgen_free_api_call(KGEN_FREE_PAGES_BULK, 0, arr->nr, arr->pages,
				NULL))
		kunit_skip(arr->test, "free_pages_bulk() is not available in this kernel");
	arr->pgfree = kgen_pgfree() - arr->pgfree;
}

/**
 * kgen_expect_array_freed() - every page of the array is free, merged enough
 * @test: the test case
 * @arr: freed pages, after drain_all_pages()
 * @min_order: order each page's free block must reach at least: 0, or the
 *             vmalloc area's page order for huge mappings
 *
 * Also checks the pages the test kept (the gaps of a "gaps" array) are
 * untouched.
 */
void kgen_expect_array_freed(struct kunit *test, struct kgen_parr *arr,
			     int min_order)
{
	unsigned long i, bad = 0, first = 0;
	int got_first = 0;

	drain_all_pages(NULL);
	for (i = 0; i < arr->nr; i++) {
		int got = kgen_free_block_order(arr->pages[i]);

		if (got >= min_order)
			continue;
		if (!bad++) {
			first = i;
			got_first = got;
		}
	}
	KUNIT_EXPECT_EQ_MSG(test, bad, 0,
		"expect.freed: %lu of %lu pages not in a free block of order >= %d after drain; first: entry %lu (pfn %#lx) order %d",
		bad, arr->nr, min_order, first, page_to_pfn(arr->pages[first]),
		got_first);

	/*
	 * Pages the test still owns (the gaps between a "gaps" array's pages)
	 * are guards: the free must not have touched them.
	 */
	for (i = 0; i < arr->nr_owned; i++) {
		struct page *page = arr->owned[i];

		if (!page)
			continue;
		KUNIT_EXPECT_EQ_MSG(test, page_ref_count(page), 1,
			"expect.guards: page pfn %#lx between the array's pages: refcount",
			page_to_pfn(page));
		KUNIT_EXPECT_LT_MSG(test, kgen_free_block_order(page), 0,
			"expect.guards: page pfn %#lx between the array's pages is in the buddy",
			page_to_pfn(page));
	}
}

/*
 * Per node: the allocation charged each node exactly its own pages, and
 * the free took exactly those back.  A free that uncharges the wrong
 * node (this CPU's, or the first page's for all) keeps the total right.
 */
static void kgen_expect_vmalloc_nodes(struct kunit *test, struct kgen_parr *arr)
{
	int nid;

	for_each_online_node(nid) {
		long charged = arr->node_charged[nid] - arr->node_before[nid];
		long now = kgen_nr_vmalloc_node(nid) - arr->node_before[nid];

		if (arr->addr)
			kgen_expect_count(test, charged == arr->node_want[nid],
				"expect.nr_vmalloc: the allocation raised node %d's NR_VMALLOC by %ld, expected %ld (its pages on that node)",
				nid, charged, arr->node_want[nid]);
		kgen_expect_count(test, now == 0,
			"expect.nr_vmalloc: node %d's NR_VMALLOC is %+ld from before the case after the free (%ld of the area's pages were on that node)",
			nid, now, arr->node_want[nid]);
	}
}

/**
 * kgen_expect_vmalloc_balanced() - NR_VMALLOC is back where it was
 * @test: the test case
 * @arr: the case's pages, after the free
 *
 * For a vmalloc area it also checks that the allocation raised the counter
 * by exactly its size, so a counter that never moved cannot pass.
 */
void kgen_expect_vmalloc_balanced(struct kunit *test, struct kgen_parr *arr)
{
	long now = kgen_nr_vmalloc();

	if (!KGEN_HAVE_NR_VMALLOC && !KGEN_HAVE_VMALLOC_NR_PAGES)
		kunit_skip(test, "needs NR_VMALLOC or vmalloc_nr_pages(): neither is declared in this tree");

	/*
	 * The counter must have seen the area at all, or the check is empty.
	 * Above PAGE_SIZE the area's own pages[] array is vmalloc()ed too
	 * (__vmalloc_area_node()), and counted.
	 */
	if (arr->addr) {
		/* The size it was allocated with: a vrealloc() may have changed it. */
		unsigned long array_size = arr->alloc_nr * sizeof(struct page *);
		long want = arr->alloc_nr;

		if (array_size > PAGE_SIZE)
			want += PAGE_ALIGN(array_size) >> PAGE_SHIFT;
		if (arr->put_pages)
			want = 0;	/* vmap() charges nothing */
		kgen_expect_count(test,
			arr->vmalloc_after_alloc - arr->vmalloc_before == want,
			"expect.nr_vmalloc: vmalloc of %lu pages raised NR_VMALLOC by %ld, expected %ld",
			arr->alloc_nr, arr->vmalloc_after_alloc - arr->vmalloc_before, want);
	}
	kgen_expect_count(test, now == arr->vmalloc_before,
		"expect.nr_vmalloc: NR_VMALLOC is %ld, was %ld before the case (%+ld)",
		now, arr->vmalloc_before, now - arr->vmalloc_before);
	if (KGEN_HAVE_NR_VMALLOC)
		kgen_expect_vmalloc_nodes(test, arr);
}

/**
 * kgen_expect_array_batched() - the free handed whole chunks to the allocator
 * @test: the test case
 * @arr: the case's pages, right after the free, before any drain
 * @check: false where the free is not batched: only log where pages went
 *
 * The chunks follow the array as the free API sees it: runs of
 * consecutive pages (free_pages_bulk() cuts a reversed or interleaved
 * array into single pages, so those layouts can only show order-0
 * chunks), each cut into aligned chunks of at most MAX_PAGE_ORDER.
 */
void kgen_expect_array_batched(struct kunit *test, struct kgen_parr *arr,
			       bool check)
{
	kgen_expect_pageset_batched(test, arr->set,
				    arr->addr ? "vfree" : "free_pages_bulk", check);
}

/**
 * kgen_expect_array_prepared() - every freed page went through
 *                                free_pages_prepare()
 * @test: the test case
 * @arr: the case's pages, freed and drained
 */
void kgen_expect_array_prepared(struct kunit *test, struct kgen_parr *arr)
{
	kgen_expect_pages_prepared(test, arr->set, "freed");
}

/**
 * kgen_vmalloc_shadow_freed() - whether this kernel frees more than the
 *                               area's pages when it frees an area
 * @test: the test case, told why if so
 *
 * With KASAN_VMALLOC (arm64's --debug build) a vmalloc or vmap area has
 * shadow memory of its own, which kasan_release_vmalloc() frees when the
 * lazily freed areas are purged: inside vfree() when it must flush
 * (VM_FLUSH_RESET_PERMS), or whenever the lazy list is long.  How many
 * shadow pages go back depends on the area's neighbours, so the exact page
 * counts across the free cannot be checked there.
 *
 * Return: true if the caller must leave its exact page count out.
 */
bool kgen_vmalloc_shadow_freed(struct kunit *test)
{
	if (!IS_ENABLED(CONFIG_KASAN_VMALLOC))
		return false;
	kgen_note_unchecked(test,
		"expect.balanced/pgfree not checked: KASAN_VMALLOC frees shadow pages too");
	return true;
}

/**
 * kgen_expect_array_balanced() - every page allocated for the case is back
 * @test: the test case
 * @arr: the case's pages, freed
 *
 * The free must raise the zones' NR_FREE_PAGES by exactly the pages it
 * owns: the area's and its pages[] array's.  A page array's case then gives
 * back the pages it kept (the gaps) and must find every zone where it was
 * before the case.  A vmalloc area's allocation also takes page tables and
 * slab memory that vfree() keeps, so its case stops at the first check.
 */
void kgen_expect_array_balanced(struct kunit *test, struct kgen_parr *arr)
{
	long back = (long)(kgen_nr_free_all() - arr->free_before_free);

	if (kgen_vmalloc_shadow_freed(test))
		return;
	kgen_expect_count(test, back == (long)arr->back_pages,
		"expect.balanced: NR_FREE_PAGES rose by %ld across the free, expected %lu: %lu pages of the area and %lu of its own pages[] array",
		back, arr->back_pages, arr->back_pages - arr->array_pages,
		arr->array_pages);
	if (arr->addr)
		return;
	kgen_parr_release(arr);
	back = (long)(kgen_nr_free_all() - arr->free_at_start);
	kgen_expect_count(test, back == 0,
		"expect.balanced: after the case gave back every page, NR_FREE_PAGES is %+ld from before the case",
		back);
}

/**
 * kgen_expect_array_pgfree() - PGFREE rose by exactly the pages given back
 * @test: the test case
 * @arr: the case's pages, freed
 *
 * The same pages expect.balanced counts: the area's and its own pages[]
 * array's, or a page array's.
 */
void kgen_expect_array_pgfree(struct kunit *test, struct kgen_parr *arr)
{
	if (kgen_vmalloc_shadow_freed(test))
		return;
	kgen_expect_pgfree(test, arr->pgfree, arr->back_pages,
			   arr->addr ? "vfree" : "free_pages_bulk");
}
