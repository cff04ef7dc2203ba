/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kgen vmalloc family (kgen_vmalloc.c): vmalloc and vmap areas freed by
 * vfree(), and page arrays freed by free_pages_bulk(); the pages are
 * tracked as an array, not as one pfn span.
 */
#ifndef _MM_KGEN_VMALLOC_H
#define _MM_KGEN_VMALLOC_H

enum kgen_array_layout {
	KGEN_ARRAY_SORTED,		/* one split block, pfn order */
	KGEN_ARRAY_REVERSED,		/* the same, last page first */
	KGEN_ARRAY_GAPS,		/* every other page of a block */
	KGEN_ARRAY_INTERLEAVED,		/* two blocks, alternating */
};

/**
 * struct kgen_parr - pages of a vmalloc-family case
 * @test: the KUnit test
 * @pages: the pages, in the order the free API sees them
 * @nr: entries in @pages
 * @alloc_nr: pages the area was allocated with (a vrealloc() changes @nr)
 * @owned: pages the test allocated itself and still owns (NULL once given)
 * @nr_owned: entries in @owned
 * @order: allocation order backing the pages (vmalloc_huge: PMD order)
 * @addr: the vmalloc area, or NULL for a bare page array
 * @given: handed to vfree() or free_pages_bulk()
 * @put_pages: a vmap() with VM_MAP_PUT_PAGES owns the pages
 * @vmalloc_before: kgen_nr_vmalloc() before the allocation
 * @vmalloc_after_alloc: kgen_nr_vmalloc() right after a vmalloc
 * @taint_before: kernel taint flags before the allocation
 * @set: @pages, for the checks made right after the free
 * @free_at_start: kgen_nr_free_all() before the case allocated any page
 * @free_before_free: kgen_nr_free_all() just before the free
 * @back_pages: pages the free must give back (the area's, its array's)
 * @array_pages: of those, the pages of the area's own pages[] array
 * @pgfree: how far the free moved the PGFREE event (kgen_pgfree())
 * @node_before: per node, NR_VMALLOC before the allocation
 * @node_charged: per node, NR_VMALLOC right after it
 * @node_want: per node, the pages the allocation must have charged there
 */
struct kgen_parr {
	struct kunit *test;
	struct page **pages;
	unsigned long nr;
	unsigned long alloc_nr;
	struct page **owned;
	unsigned long nr_owned;
	unsigned int order;
	void *addr;
	bool given;
	bool put_pages;
	long vmalloc_before;
	long vmalloc_after_alloc;
	unsigned long taint_before;
	struct kgen_pageset *set;
	unsigned long free_at_start;
	unsigned long free_before_free;
	unsigned long back_pages;
	unsigned long array_pages;
	unsigned long pgfree;
	long *node_before;
	long *node_charged;
	long *node_want;
};

long kgen_nr_vmalloc(void);
long kgen_nr_vmalloc_node(int nid);
void kgen_nr_vmalloc_nodes(long *out);
void kgen_vmalloc_charge_by_node(const void *addr, long *want);
unsigned long kgen_backing_pages(const void *ptr);
void kgen_vrealloc_area(struct kunit *test, struct kgen_parr *arr,
			unsigned long to_pages);
struct kgen_parr *kgen_vmalloc_area(struct kunit *test, unsigned long nr_pages,
				    bool huge, bool remote);
struct kgen_parr *kgen_vmap_put_pages(struct kunit *test, unsigned long nr_pages,
				     bool contiguous);
void kgen_vm_flush_reset_perms(struct kunit *test, struct kgen_parr *arr);
void kgen_expect_direct_map_restored(struct kunit *test, struct kgen_parr *arr);
void kgen_vfree_area(struct kgen_parr *arr, bool bh_disabled);
void kgen_vfree_misuse_not_vmalloc(struct kunit *test, struct kgen_parr *arr,
				   int warnings);
struct kgen_parr *kgen_page_array(struct kunit *test, unsigned long nr,
				  enum kgen_array_layout layout);
void kgen_free_array_bulk(struct kgen_parr *arr);
void kgen_expect_array_freed(struct kunit *test, struct kgen_parr *arr,
			     int min_order);
void kgen_expect_vmalloc_balanced(struct kunit *test, struct kgen_parr *arr);
unsigned long kgen_nr_free_all(void);
void kgen_expect_array_batched(struct kunit *test, struct kgen_parr *arr,
			       bool check);
void kgen_expect_array_prepared(struct kunit *test, struct kgen_parr *arr);
void kgen_expect_array_balanced(struct kunit *test, struct kgen_parr *arr);
void kgen_expect_array_pgfree(struct kunit *test, struct kgen_parr *arr);
bool kgen_vmalloc_shadow_freed(struct kunit *test);

/**
 * kgen_expect_parr_no_warning() - no WARN, bad page or oops during the case
 * @test: the test case
 * @arr: the case's pages (their allocation recorded the taint flags)
 */
static inline void kgen_expect_parr_no_warning(struct kunit *test,
					       struct kgen_parr *arr)
{
	kgen_expect_no_new_taint(test, arr->taint_before, 0);
}

#endif /* _MM_KGEN_VMALLOC_H */
