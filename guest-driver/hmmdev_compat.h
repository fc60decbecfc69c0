/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmmdev driver: the kernel API differences between the two kernels it is
 * built and tested on, Linux 6.12 (LTS) and Linux 7.3.  Everything else in
 * the driver is written once, against the API both share.
 *
 * Which side a kernel is on, Kbuild tells from the kernel's own
 * include/linux/memremap.h: HMMDEV_FOLIO_PGMAP is 1 where dev_pagemap_ops
 * has folio_free (7.x), 0 where it has page_free (6.12).  The other
 * differences below arrived with or before it; kernels between the two are
 * not built or tested.
 *
 *   7.x                                   6.12
 *   dev_pagemap_ops.folio_free(folio)     .page_free(page)
 *   page_pgmap(page)                      page->pgmap
 *   zone_device_page_init(page, pgmap, 0) zone_device_page_init(page)
 *   make_device_exclusive(mm, addr, ...)  make_device_exclusive_range(mm,
 *     one page, large folios taken          start, end, pages, ...): no
 *     (a PMD is split to PTEs first)        page of a large folio (tail
 *                                           pages are rejected)
 *   do_swap_page() locks the device page  the page is not locked
 *     before ->migrate_to_ram()
 *   kzalloc_obj(), kvmalloc_obj()         kzalloc(sizeof()), kvmalloc()
 */
#ifndef HMMDEV_COMPAT_H
#define HMMDEV_COMPAT_H

#include <linux/err.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/rmap.h>
#include <linux/slab.h>

#ifndef HMMDEV_FOLIO_PGMAP
#error "HMMDEV_FOLIO_PGMAP is set by guest-driver/Kbuild"
#endif

/* 7.x's typed allocators (include/linux/slab.h), for one object */
#ifndef kzalloc_obj
#define kzalloc_obj(P, gfp)	kzalloc(sizeof(P), gfp)
#define kvmalloc_obj(P, gfp)	kvmalloc(sizeof(P), gfp)
#endif

/* hmmdev_devmem.c: one of our device pages is free again */
void hmmdev_devmem_page_free(struct page *page);

#if HMMDEV_FOLIO_PGMAP

static inline void hmmdev_devmem_folio_free(struct folio *folio)
{
	hmmdev_devmem_page_free(&folio->page);	/* ours are order 0 */
}

/* the free callback, as a designated initializer of dev_pagemap_ops */
#define HMMDEV_PGMAP_FREE_OP	.folio_free = hmmdev_devmem_folio_free

static inline struct dev_pagemap *hmmdev_page_pgmap(struct page *page)
{
	return page_pgmap(page);
}

static inline void hmmdev_device_page_init(struct page *page,
					   struct dev_pagemap *pgmap)
{
	zone_device_page_init(page, pgmap, 0);
}

/* ->migrate_to_ram() is called with the faulting device page locked */
static inline void hmmdev_assert_fault_page(struct page *page)
{
	VM_WARN_ON_ONCE_PAGE(!PageLocked(page), page);
}

/* Nothing to prepare: make_device_exclusive() takes large folios. */
static inline void hmmdev_exclusive_prepare(struct mm_struct *mm, u64 start,
					    u64 end, void *owner)
{
}

/*
 * The page at @addr for the device's exclusive use (mmap_lock held).
 * Return: the page, locked and referenced, or an ERR_PTR().
 */
static inline struct page *hmmdev_make_page_exclusive(struct mm_struct *mm,
						      u64 addr, void *owner)
{
	struct folio *folio;

	return make_device_exclusive(mm, addr, owner, &folio);
}

#else /* Linux 6.12 */

#define HMMDEV_PGMAP_FREE_OP	.page_free = hmmdev_devmem_page_free

static inline struct dev_pagemap *hmmdev_page_pgmap(struct page *page)
{
	return page->pgmap;
}

static inline void hmmdev_device_page_init(struct page *page,
					   struct dev_pagemap *pgmap)
{
	zone_device_page_init(page);
}

static inline void hmmdev_assert_fault_page(struct page *page)
{
}

/*
 * Split the PMD-mapped THPs of [start, end) (mmap_lock held), because
 * 6.12's make_device_exclusive_range() takes no page of a large folio.
 * 6.12 exports no split helper, but migrate_vma_setup() splits every THP
 * it collects (mm/migrate_device.c, migrate_vma_collect_pmd()), and
 * finalizing with no destination page puts the now small pages back.  A
 * large folio already mapped by PTEs is not split (migrate_vma_check_page()
 * refuses large folios): the exclusive request then fails with -EBUSY.
 */
static inline void hmmdev_exclusive_prepare(struct mm_struct *mm, u64 start,
					    u64 end, void *owner)
{
	unsigned long *pfns = kcalloc(2 * PTRS_PER_PMD, sizeof(*pfns),
				      GFP_KERNEL);
	struct vm_area_struct *vma;
	u64 addr, next;

	if (!pfns)
		return;
	for (addr = start; addr < end; addr = next) {
		struct migrate_vma args = {
			.src = pfns, .dst = pfns + PTRS_PER_PMD,
			.pgmap_owner = owner,
			.flags = MIGRATE_VMA_SELECT_SYSTEM,
		};

		next = min_t(u64, end, ALIGN_DOWN(addr, PMD_SIZE) + PMD_SIZE);
		vma = vma_lookup(mm, addr);
		if (!vma)
			continue;
		next = min_t(u64, next, vma->vm_end);
		args.vma = vma;
		args.start = addr;
		args.end = next;
		memset(pfns, 0, 2 * PTRS_PER_PMD * sizeof(*pfns));
		if (!migrate_vma_setup(&args))
			migrate_vma_finalize(&args);
	}
	kfree(pfns);
}

static inline struct page *hmmdev_make_page_exclusive(struct mm_struct *mm,
						      u64 addr, void *owner)
{
	struct page *page = NULL;
	int n;

	n = make_device_exclusive_range(mm, addr, addr + PAGE_SIZE, &page,
					owner);
	if (n < 0)
		return ERR_PTR(n);
	return n == 1 && page ? page : ERR_PTR(-EBUSY);
}

#endif /* HMMDEV_FOLIO_PGMAP */
#endif /* HMMDEV_COMPAT_H */
