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
 *     (HMMDEV_DEFINE_FREE_OP, HMMDEV_FREE_OP for a 4 KiB-page pgmap)
 *   page_pgmap(page)                      page->pgmap
 *   zone_device_page_init(page, pgmap, 0) zone_device_page_init(page)
 *   make_device_exclusive(mm, addr, ...)  make_device_exclusive_range(mm,
 *     one page, large folios taken          start, end, pages, ...): no
 *     (a PMD is split to PTEs first)        page of a large folio (tail
 *                                           pages are rejected)
 *   do_swap_page() locks the device page  the page is not locked
 *     before ->migrate_to_ram()
 *   kzalloc_obj(), kvmalloc_obj()         kzalloc(sizeof()), kvmalloc()
 *   SWP_DEVICE_EXCLUSIVE (writable)       SWP_DEVICE_EXCLUSIVE_WRITE, _READ
 *
 * Two later arrivals have switches of their own, also set by Kbuild from
 * the kernel's headers:
 *
 *   HMMDEV_DEVICE_THP (migrate.h has       4 KiB device pages only: every
 *     MIGRATE_PFN_COMPOUND, about 6.19):    THP is split when it migrates
 *     MIGRATE_VMA_SELECT_COMPOUND, large
 *     device folios (zone_device_folio_init
 *     with an order, ->folio_split),
 *     device-private PMDs,
 *     migrate_device_pfns()
 *   HMMDEV_UNLOCKED_FAULT (hmm.h has       a device fault on a userfaultfd
 *     hmm_range_fault_unlocked_timeout()):  range fails with -EFAULT
 *     a fault that may drop mmap_lock, so
 *     a userfaultfd handler can answer it
 */
#ifndef HMMDEV_COMPAT_H
#define HMMDEV_COMPAT_H

#include <linux/err.h>
#include <linux/hmm.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/rmap.h>
#include <linux/slab.h>
#include <linux/swapops.h>

#if !defined(HMMDEV_FOLIO_PGMAP) || !defined(HMMDEV_DEVICE_THP) || \
	!defined(HMMDEV_UNLOCKED_FAULT)
#error "HMMDEV_FOLIO_PGMAP, _DEVICE_THP, _UNLOCKED_FAULT: guest-driver/Kbuild"
#endif

#if HMMDEV_DEVICE_THP
/* migrate_vma flag: collect PMD-mapped THPs (and 2 MiB holes) whole */
#define HMMDEV_SELECT_COMPOUND	MIGRATE_VMA_SELECT_COMPOUND
#define HMMDEV_DEVICE_THP_ORDER	HPAGE_PMD_ORDER
#else
#define HMMDEV_SELECT_COMPOUND	0
#define MIGRATE_PFN_COMPOUND	0	/* never set: no huge device pages */
#define HMMDEV_DEVICE_THP_ORDER	0
#endif

/* 7.x's typed allocators (include/linux/slab.h), for one object */
#ifndef kzalloc_obj
#define kzalloc_obj(P, gfp)	kzalloc(sizeof(P), gfp)
#define kvmalloc_obj(P, gfp)	kvmalloc(sizeof(P), gfp)
#endif

/* order-0 pages into the NULL slots of an array (6.14 renamed it) */
#ifdef alloc_pages_bulk_array
#define hmmdev_alloc_pages_bulk(gfp, n, pages) \
	alloc_pages_bulk_array(gfp, n, pages)
#else
#define hmmdev_alloc_pages_bulk(gfp, n, pages) alloc_pages_bulk(gfp, n, pages)
#endif

/* hmmdev_devmem.c: one of our device pages (of 2^@order) is free again */
void hmmdev_devmem_page_free(struct page *page, unsigned int order);

#if HMMDEV_FOLIO_PGMAP

/* a dev_pagemap free callback @name calling fn(page) for 4 KiB pages */
#define HMMDEV_DEFINE_FREE_OP(name, fn) \
	static void name(struct folio *folio) { fn(&folio->page); }
#define HMMDEV_FREE_OP(name)	.folio_free = name

static inline void hmmdev_devmem_folio_free(struct folio *folio)
{
	hmmdev_devmem_page_free(&folio->page, folio_order(folio));
}

#if HMMDEV_DEVICE_THP
/* hmmdev_devmem.c: the core splits one of our huge device folios */
void hmmdev_devmem_folio_split(struct folio *head, struct folio *tail);
#define HMMDEV_PGMAP_SPLIT_OP	.folio_split = hmmdev_devmem_folio_split,
#else
#define HMMDEV_PGMAP_SPLIT_OP
#endif

/* the free and split callbacks, as initializers of dev_pagemap_ops */
#define HMMDEV_PGMAP_FREE_OP	HMMDEV_PGMAP_SPLIT_OP \
				.folio_free = hmmdev_devmem_folio_free

static inline struct dev_pagemap *hmmdev_page_pgmap(struct page *page)
{
	return page_pgmap(page);
}

/* a free device page (of 2^@order) becomes a folio in use, locked */
static inline void hmmdev_device_page_init(struct page *page,
					   struct dev_pagemap *pgmap,
					   unsigned int order)
{
	zone_device_folio_init((struct folio *)page, pgmap, order);
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

/* the one device-exclusive entry type: always writable (about 6.15) */
#define HMMDEV_SWP_EXCL_WRITE	SWP_DEVICE_EXCLUSIVE
#define HMMDEV_SWP_EXCL_READ	(-1)

static inline swp_entry_t hmmdev_exclusive_entry(unsigned long pfn)
{
	return make_device_exclusive_entry(pfn);
}

#else /* Linux 6.12 */

#define HMMDEV_DEFINE_FREE_OP(name, fn) \
	static void name(struct page *page) { fn(page); }
#define HMMDEV_FREE_OP(name)	.page_free = name

static inline void hmmdev_devmem_page_free_612(struct page *page)
{
	hmmdev_devmem_page_free(page, 0);
}

#define HMMDEV_PGMAP_FREE_OP	.page_free = hmmdev_devmem_page_free_612

static inline struct dev_pagemap *hmmdev_page_pgmap(struct page *page)
{
	return page->pgmap;
}

static inline void hmmdev_device_page_init(struct page *page,
					   struct dev_pagemap *pgmap,
					   unsigned int order)
{
	zone_device_page_init(page);	/* order is 0 here */
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

/* a writable and a read-only device-exclusive entry type */
#define HMMDEV_SWP_EXCL_WRITE	SWP_DEVICE_EXCLUSIVE_WRITE
#define HMMDEV_SWP_EXCL_READ	SWP_DEVICE_EXCLUSIVE_READ

static inline swp_entry_t hmmdev_exclusive_entry(unsigned long pfn)
{
	return make_writable_device_exclusive_entry(pfn);
}

#endif /* HMMDEV_FOLIO_PGMAP */

/*
 * A system THP for a 2 MiB device page coming back to @vma at @addr
 * (eviction: no VMA, reclaim allowed), or NULL; never asked for without
 * huge device pages.  No warning when there is none: the caller falls back.
 */
static inline struct page *hmmdev_alloc_thp(struct vm_area_struct *vma,
					    unsigned long addr)
{
#if HMMDEV_DEVICE_THP
	struct folio *folio;

	folio = vma ? vma_alloc_folio(GFP_TRANSHUGE_LIGHT, HPAGE_PMD_ORDER,
				      vma, addr) :
		      folio_alloc(GFP_TRANSHUGE | __GFP_RETRY_MAYFAIL,
				  HPAGE_PMD_ORDER);
	return folio ? &folio->page : NULL;
#else
	return NULL;
#endif
}

/* Might huge device folio @folio be mapped by more than one process? */
static inline bool hmmdev_folio_maybe_shared(struct folio *folio)
{
#if HMMDEV_DEVICE_THP
	return folio_maybe_mapped_shared(folio);
#else
	return false;
#endif
}

/*
 * hmm_range_fault() that may drop mmap_lock (not held by the caller), so a
 * userfaultfd handler can answer the fault; -EBUSY retries end after
 * @timeout jiffies.  Where the kernel has none, a userfaultfd range cannot
 * be faulted from the device's side (-EFAULT).
 */
static inline int hmmdev_range_fault_unlocked(struct hmm_range *range,
					      unsigned long timeout)
{
#if HMMDEV_UNLOCKED_FAULT
	return hmm_range_fault_unlocked_timeout(range, timeout);
#else
	return -EFAULT;
#endif
}

/*
 * Lock the device pages in use for eviction (hmmdev_devmem_evict()).
 * @src holds the pfns of the folios in use (2^order - 1 free slots after
 * each huge head), @n entries; the device pages are @first_pfn and the
 * @npages after it.  Return: the entries of @src to migrate.
 *
 * With huge device folios the core's pfn-range walk cannot be used: it
 * reads the folio of free pages too, and a free page of a freed 2 MiB folio
 * still names that folio's head (and its order), so in-use pages after it
 * would be skipped.  Without them, the range walk is all 6.12 has.
 */
static inline unsigned long hmmdev_migrate_device_lock(unsigned long *src,
						       unsigned long n,
						       unsigned long first_pfn,
						       unsigned long npages)
{
#if HMMDEV_DEVICE_THP
	migrate_device_pfns(src, n);
	return n;
#else
	migrate_device_range(src, first_pfn, npages);
	return npages;
#endif
}

#endif /* HMMDEV_COMPAT_H */
