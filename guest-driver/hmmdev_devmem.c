// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: device memory -- VRAM as MEMORY_DEVICE_PRIVATE pages, or
 * MEMORY_DEVICE_COHERENT pages when the device says the CPU may cache its
 * BAR (HMMDEV_CAP_COHERENT: the model of large-BAR and CXL devices).
 *
 * VRAM layout: [0, raw_size) stays raw -- the only part a process reaches
 * (HMMDEV_IOC_DMA, mmap: bring-up access); raw_size is HMMDEV_DEVMEM_BASE,
 * or less on a small VRAM.  [HMMDEV_DEVMEM_BASE, pt_base) backs the device
 * pages, and the top eighth holds page tables.  Device-private
 * pages get a free physical range of their own (not CPU addressable);
 * coherent pages are the BAR's own physical addresses, which the CPU maps
 * and reads directly.
 *
 * Device memory is handed out in 2 MiB blocks (aligned in VRAM and in pfn
 * space): a block is one 2 MiB device folio -- a THP migrated whole, on
 * kernels with huge device pages (HMMDEV_DEVICE_THP, hmmdev_compat.h) -- or
 * is carved into 4 KiB pages.  A bitmap says which pages are in use and a
 * count per block how many; a block whose pages are all free is whole
 * again.  When the core splits a 2 MiB device folio (hmmdev_devmem_folio_
 * split()), its pieces are freed one by one.  dm_lock (a spinlock, never
 * held while a page is initialised) protects the bitmap and the counts.
 *
 * Pages move with migrate_vma_*() and the device's copy lists
 * (hmmdev_migrate.c).  Back to system memory: on a CPU fault
 * (migrate_to_ram: a PMD-mapped device THP comes back whole where a system
 * THP can be had, otherwise the block of migrate_back_pages around the
 * fault), on HMM_DMIRROR_MIGRATE_TO_SYS, for every page of the caller at
 * RELEASE, and for every page at remove (hmmdev_devmem_evict()), so that
 * nothing is lost when the device goes.
 */
#include <linux/dma-mapping.h>
#include <linux/hmm.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "hmmdev.h"

/*
 * A CPU fault on a device page brings back the aligned block of this many
 * pages around it (our device pages among them; clamped to the VMA).
 */
static unsigned int migrate_back_pages = 64;
module_param(migrate_back_pages, uint, 0644);
MODULE_PARM_DESC(migrate_back_pages,
		 "device pages moved back to RAM per CPU fault (1..512, a power of two; default 64)");

static struct hmmdev *hmmdev_of_page(struct page *page)
{
	return container_of(hmmdev_page_pgmap(page), struct hmmdev, pgmap);
}

/* VRAM offset of one of our device pages. */
u64 hmmdev_devmem_offset(struct hmmdev *hd, struct page *page)
{
	return HMMDEV_DEVMEM_BASE +
	       ((page_to_pfn(page) - hd->dm_first_pfn) << PAGE_SHIFT);
}

bool hmmdev_devmem_ours(struct hmmdev *hd, struct page *page)
{
	return (is_device_private_page(page) ||
		is_device_coherent_page(page)) &&
	       hmmdev_page_pgmap(page) == &hd->pgmap;
}

/*
 * migrate_vma flags selecting our device pages -- private ones whole where
 * they are 2 MiB (HMMDEV_SELECT_COMPOUND).  Coherent pages stay 4 KiB, for
 * two reasons in Linux 7.3's core: a PMD-mapped coherent folio is not
 * collected for migration back to RAM (mm/migrate_device.c,
 * migrate_vma_collect_huge_pmd(): a present huge PMD is taken only with
 * MIGRATE_VMA_SELECT_SYSTEM), and splitting one loses the new folios'
 * pgmap (zone_device_private_split_cb() restores it for private folios
 * only; the free then warns in free_zone_device_folio() and the page is
 * never given back -- seen here with a 2 MiB coherent page moved back as
 * 4 KiB pages).
 */
unsigned long hmmdev_devmem_select(struct hmmdev *hd)
{
	return hd->pgmap.type == MEMORY_DEVICE_COHERENT ?
	       MIGRATE_VMA_SELECT_DEVICE_COHERENT :
	       MIGRATE_VMA_SELECT_DEVICE_PRIVATE | HMMDEV_SELECT_COMPOUND;
}

/* ... and the flag that lets THPs move to VRAM whole (see above) */
unsigned long hmmdev_devmem_select_huge(struct hmmdev *hd)
{
	return hd->pgmap.type == MEMORY_DEVICE_COHERENT ? 0 :
	       HMMDEV_SELECT_COMPOUND;
}

/* dm_lock held: a block with no page in use, or dm_blocks */
static unsigned long hmmdev_dm_free_block(struct hmmdev *hd, bool from_top)
{
	unsigned long i, b;

	for (i = 0; i < hd->dm_blocks; i++) {
		b = from_top ? hd->dm_blocks - 1 - i : i;
		if (!hd->dm_block_used[b])
			return b;
	}
	return hd->dm_blocks;
}

/* dm_lock held: the block to carve a 4 KiB page from, or dm_blocks */
static unsigned long hmmdev_dm_small_block(struct hmmdev *hd)
{
	unsigned long b = hd->dm_hint;

	if (b < hd->dm_blocks && hd->dm_block_used[b] &&
	    hd->dm_block_used[b] < HMMDEV_DM_BLOCK)
		return b;
	/* an open block first, so that free blocks stay whole */
	for (b = 0; b < hd->dm_blocks; b++)
		if (hd->dm_block_used[b] && hd->dm_block_used[b] < HMMDEV_DM_BLOCK)
			return b;
	return hmmdev_dm_free_block(hd, false);
}

/* dm_lock held: mark [idx, idx + nr) of block @b in use */
static void hmmdev_dm_take(struct hmmdev *hd, unsigned long b,
			   unsigned long idx, unsigned long nr)
{
	bitmap_set(hd->dm_bitmap, idx, nr);
	hd->dm_block_used[b] += nr;
	hd->dm_used += nr;
}

/*
 * dm_lock held: [idx, idx + nr) (within one block) is free again; a
 * poisoned page is retired instead -- in use for the allocator, for ever.
 * Return: the pages retired.
 */
static unsigned long hmmdev_dm_release(struct hmmdev *hd, unsigned long idx,
				       unsigned long nr)
{
	unsigned long b = idx / HMMDEV_DM_BLOCK, end = idx + nr, retired = 0;

	bitmap_clear(hd->dm_bitmap, idx, nr);
	for_each_set_bit_from(idx, hd->dm_poison, end) {
		__set_bit(idx, hd->dm_bitmap);
		__set_bit(idx, hd->dm_retired);
		retired++;
	}
	hd->dm_block_used[b] -= nr - retired;
	hd->dm_used -= nr;
	return retired;
}

/**
 * hmmdev_devmem_alloc_huge() - a 2 MiB device folio: a whole free block
 * @hd: the device
 *
 * 2 MiB folios take a free block, highest first, and 4 KiB pages are
 * carved from blocks already open, lowest first (hmmdev_devmem_reserve()),
 * so the two meet late.  It fails when no block is wholly free (the caller
 * then migrates 4 KiB pages, as the kernel expects).
 *
 * Return: the head page, initialised and locked, or NULL.
 */
struct page *hmmdev_devmem_alloc_huge(struct hmmdev *hd)
{
	struct page *head;
	unsigned long b;

	spin_lock(&hd->dm_lock);
	b = hmmdev_dm_free_block(hd, true);
	if (b < hd->dm_blocks)
		hmmdev_dm_take(hd, b, b * HMMDEV_DM_BLOCK, HMMDEV_DM_BLOCK);
	spin_unlock(&hd->dm_lock);
	if (b >= hd->dm_blocks)
		return NULL;
	head = pfn_to_page(hd->dm_first_pfn + b * HMMDEV_DM_BLOCK);
	hmmdev_device_page_init(head, &hd->pgmap, HMMDEV_DEVICE_THP_ORDER);
	return head;
}

/**
 * hmmdev_devmem_reserve() - up to @n 4 KiB device pages at once
 * @hd: the device
 * @pages: out: the pages
 * @n: how many are wanted
 *
 * One dm_lock hold for them all, carved from blocks already open, lowest
 * first (a free block is opened when none is).  The pages are in use for
 * the allocator but not initialised: each one used goes through
 * hmmdev_device_page_init() first, and those not used go back with
 * hmmdev_devmem_unreserve().
 *
 * Return: how many pages @pages holds (fewer than @n: VRAM is full).
 */
unsigned int hmmdev_devmem_reserve(struct hmmdev *hd, struct page **pages,
				   unsigned int n)
{
	unsigned long b, idx;
	unsigned int got;

	spin_lock(&hd->dm_lock);
	for (got = 0; got < n; got++) {
		b = hmmdev_dm_small_block(hd);
		if (b >= hd->dm_blocks)
			break;
		idx = find_next_zero_bit(hd->dm_bitmap,
					 (b + 1) * HMMDEV_DM_BLOCK,
					 b * HMMDEV_DM_BLOCK);
		hmmdev_dm_take(hd, b, idx, 1);
		hd->dm_hint = b;
		pages[got] = pfn_to_page(hd->dm_first_pfn + idx);
	}
	spin_unlock(&hd->dm_lock);
	return got;
}

/* Give back @n pages that hmmdev_devmem_reserve() gave and were not used. */
void hmmdev_devmem_unreserve(struct hmmdev *hd, struct page **pages,
			     unsigned int n)
{
	unsigned long retired = 0;
	unsigned int i;

	spin_lock(&hd->dm_lock);
	for (i = 0; i < n; i++)
		retired += hmmdev_dm_release(hd, page_to_pfn(pages[i]) -
					     hd->dm_first_pfn, 1);
	spin_unlock(&hd->dm_lock);
	atomic64_add(retired, &hd->pages_retired);
}

void hmmdev_devmem_page_free(struct page *page, unsigned int order)
{
	struct hmmdev *hd = hmmdev_of_page(page);
	unsigned long retired;

	spin_lock(&hd->dm_lock);
	retired = hmmdev_dm_release(hd, page_to_pfn(page) - hd->dm_first_pfn,
				    1UL << order);
	spin_unlock(&hd->dm_lock);
	atomic64_add(retired, &hd->pages_retired);
}

/**
 * hmmdev_devmem_poisoned() - an engine found @dpage poisoned
 * @hd: the device
 * @dpage: the 4 KiB device page whose read failed (HMMDEV_JOB_VRAM_POISONED)
 *
 * Its data is lost: it is never copied (by the engines or the CPU) again,
 * and once its owner frees it, it is retired (hmmdev_devmem_page_free()).
 */
void hmmdev_devmem_poisoned(struct hmmdev *hd, struct page *dpage)
{
	unsigned long idx = page_to_pfn(dpage) - hd->dm_first_pfn;
	bool first;

	spin_lock(&hd->dm_lock);
	first = !__test_and_set_bit(idx, hd->dm_poison);
	spin_unlock(&hd->dm_lock);
	if (!first)
		return;
	atomic64_inc(&hd->pages_poisoned);
	dev_err(&hd->pdev->dev, "VRAM page at %#llx is poisoned: its data is lost, the page is retired once freed\n",
		hmmdev_devmem_offset(hd, dpage));
}

/* Is any of the 2^@order pages at @dpage known to be poisoned? */
bool hmmdev_devmem_is_poisoned(struct hmmdev *hd, struct page *dpage,
			       unsigned int order)
{
	unsigned long idx = page_to_pfn(dpage) - hd->dm_first_pfn;
	unsigned long end = idx + (1UL << order);

	return find_next_bit(hd->dm_poison, end, idx) < end;
}

#if HMMDEV_DEVICE_THP
/*
 * The core splits one of our 2 MiB folios into 4 KiB ones (a partial
 * munmap, mprotect or mremap, or a migration whose destination is 4 KiB
 * pages): called for each new folio, then once with @tail NULL.  Each
 * piece is freed on its own from now on.  Device-private pages keep no
 * data of ours in the page, so the tail gets what the core's default
 * gives it (include/linux/memremap.h, zone_device_private_split_cb()).
 */
void hmmdev_devmem_folio_split(struct folio *head, struct folio *tail)
{
	struct hmmdev *hd = container_of(head->pgmap, struct hmmdev, pgmap);

	if (tail) {
		tail->pgmap = head->pgmap;
		tail->page.mapping = head->page.mapping;
		return;
	}
	atomic64_inc(&hd->folio_splits);
}
#endif

/*
 * CPU access to a page in VRAM: bring it back.  A device THP mapped by a
 * PMD comes back whole (one system THP where one can be had); otherwise our
 * pages of the block of migrate_back_pages around the fault come with it (one
 * chunk of copies).  Without memory for the pfn arrays, just the faulting
 * page.
 */
static vm_fault_t hmmdev_devmem_fault(struct vm_fault *vmf)
{
	struct hmmdev *hd = hmmdev_of_page(vmf->page);
	unsigned long around = rounddown_pow_of_two(clamp_t(unsigned long,
				READ_ONCE(migrate_back_pages), 1, 512));
	unsigned long one_src = 0, one_dst = 0, block, *pfns, moved;
	struct vm_area_struct *vma = vmf->vma;
	struct migrate_vma args = {
		.vma = vma,
		.src = &one_src,
		.dst = &one_dst,
		.start = vmf->address & PAGE_MASK,
		.end = (vmf->address & PAGE_MASK) + PAGE_SIZE,
		.pgmap_owner = hd,
		.fault_page = vmf->page,
	};
	bool whole = HMMDEV_DEVICE_THP && !vmf->pte &&
		     folio_test_large(page_folio(vmf->page));
	struct hmmdev_back_move mv = { .m = NULL };
	vm_fault_t later;
	int ret;

	hmmdev_assert_fault_page(vmf->page);
	if (whole)
		around = HMMDEV_DM_BLOCK;   /* vmf->page is the head: no PTE */
	block = around << PAGE_SHIFT;
	pfns = kcalloc(2 * around, sizeof(*pfns), GFP_KERNEL);
	if (pfns) {
		args.start = max(ALIGN_DOWN(vmf->address, block), vma->vm_start);
		args.end = min(ALIGN_DOWN(vmf->address, block) + block,
			       vma->vm_end);
		args.src = pfns;
		args.dst = pfns + around;
	} else if (whole) {
		return VM_FAULT_OOM;	/* a PMD cannot move as one page */
	}
	args.flags = hmmdev_devmem_select(hd);
	if (whole &&
	    !hmmdev_back_fault(hd, vmf, page_folio(vmf->page), &mv, &later)) {
		kfree(pfns);
		return later;	/* it moves elsewhere (hmmdev_back.c) */
	}
	ret = hmmdev_migrate_vma_back(hd, &args, NULL, &moved);
	hmmdev_back_end(&mv);
	kfree(pfns);
	if (ret)
		return VM_FAULT_SIGBUS;
	atomic64_add(moved, &hd->migrations_to_ram);
	return 0;
}

static const struct dev_pagemap_ops hmmdev_devmem_ops = {
	HMMDEV_PGMAP_FREE_OP,
	.migrate_to_ram = hmmdev_devmem_fault,
};

int hmmdev_devmem_init(struct hmmdev *hd)
{
	struct device *dev = &hd->pdev->dev;
	unsigned long npages;
	struct resource *res;
	void *addr;

	spin_lock_init(&hd->dm_lock);
	if (hd->pt_base <= HMMDEV_DEVMEM_BASE)
		return 0;               /* a small VRAM: no device memory */
	npages = round_down((hd->pt_base - HMMDEV_DEVMEM_BASE) >> PAGE_SHIFT,
			    HMMDEV_DM_BLOCK);
	hd->dm_blocks = npages / HMMDEV_DM_BLOCK;
	hd->dm_bitmap = devm_bitmap_zalloc(dev, npages, GFP_KERNEL);
	hd->dm_poison = devm_bitmap_zalloc(dev, npages, GFP_KERNEL);
	hd->dm_retired = devm_bitmap_zalloc(dev, npages, GFP_KERNEL);
	hd->dm_block_used = devm_kcalloc(dev, hd->dm_blocks,
					 sizeof(*hd->dm_block_used), GFP_KERNEL);
	if (!hd->dm_bitmap || !hd->dm_poison || !hd->dm_retired ||
	    !hd->dm_block_used)
		return -ENOMEM;
	if (hmmdev_rd32(hd, HMMDEV_REG_CAPS) & HMMDEV_CAP_COHERENT) {
		hd->pgmap.type = MEMORY_DEVICE_COHERENT;
		hd->pgmap.range.start = hd->vram_phys + HMMDEV_DEVMEM_BASE;
	} else {
		/* for the CPU's rescue copies when the engines cannot copy */
		hd->dm_virt = devm_ioremap_wc(dev, hd->vram_phys +
					      HMMDEV_DEVMEM_BASE,
					      npages << PAGE_SHIFT);
		if (!hd->dm_virt)
			return -ENOMEM;
		res = devm_request_free_mem_region(dev, &iomem_resource,
						   npages << PAGE_SHIFT);
		if (IS_ERR(res))
			return PTR_ERR(res);
		hd->pgmap.type = MEMORY_DEVICE_PRIVATE;
		hd->pgmap.range.start = res->start;
	}
	hd->pgmap.range.end = hd->pgmap.range.start + (npages << PAGE_SHIFT) - 1;
	hd->pgmap.nr_range = 1;
	hd->pgmap.ops = &hmmdev_devmem_ops;
	hd->pgmap.owner = hd;
	addr = devm_memremap_pages(dev, &hd->pgmap);
	if (IS_ERR(addr))
		return PTR_ERR(addr);
	hd->pgmap_owner = hd;
	hd->dm_first_pfn = PHYS_PFN(hd->pgmap.range.start);
	hd->dm_pages = npages;
	return 0;
}

/* One 4 KiB page of hmmdev_devmem_cpu_copy(). */
static void hmmdev_devmem_cpu_copy_page(struct hmmdev *hd, struct page *dpage,
					struct page *spage, bool to_vram)
{
	u64 off = hmmdev_devmem_offset(hd, dpage) - HMMDEV_DEVMEM_BASE;
	void *sys = spage ? kmap_local_page(spage) : NULL;
	void *dev;

	if (hd->pgmap.type == MEMORY_DEVICE_COHERENT) {
		dev = kmap_local_page(dpage);
		if (!to_vram)
			memcpy(sys, dev, PAGE_SIZE);
		else if (sys)
			memcpy(dev, sys, PAGE_SIZE);
		else
			memset(dev, 0, PAGE_SIZE);
		kunmap_local(dev);
	} else if (!to_vram) {
		memcpy_fromio(sys, hd->dm_virt + off, PAGE_SIZE);
	} else if (sys) {
		memcpy_toio(hd->dm_virt + off, sys, PAGE_SIZE);
	} else {
		memset_io(hd->dm_virt + off, 0, PAGE_SIZE);
	}
	if (sys)
		kunmap_local(sys);
}

/**
 * hmmdev_devmem_cpu_copy() - copy between device pages and system pages
 *	with the CPU, through BAR2
 * @hd: the device
 * @dpage: our device page (the head of 2^@order)
 * @spage: a system page (of 2^@order); NULL with @to_vram zeroes @dpage
 * @order: 0, or HMMDEV_DEVICE_THP_ORDER
 * @to_vram: direction
 *
 * For a device with one engine (which a VA job may hold while its fault
 * needs a migration) and for rescuing data from a failed device.
 */
void hmmdev_devmem_cpu_copy(struct hmmdev *hd, struct page *dpage,
			    struct page *spage, unsigned int order,
			    bool to_vram)
{
	unsigned long i;

	for (i = 0; i < 1UL << order; i++)
		hmmdev_devmem_cpu_copy_page(hd, dpage + i,
					    spage ? spage + i : NULL, to_vram);
}

/**
 * hmmdev_devmem_rescue() - copy device pages to @spage with the CPU
 * @hd: the device
 * @dpage: our device page (the head of 2^@order)
 * @spage: a system page (of 2^@order)
 * @order: 0, or HMMDEV_DEVICE_THP_ORDER
 *
 * For when the engines cannot copy (a failed device): VRAM stays readable
 * through BAR2 as long as the function answers its ID register -- except
 * a poisoned page, whose BAR2 reads are not its data.  Within a reset it
 * waits for the BARs to come back (hmmdev_bar_wait()).
 *
 * Return: true when copied.
 */
bool hmmdev_devmem_rescue(struct hmmdev *hd, struct page *dpage,
			  struct page *spage, unsigned int order)
{
	if (hmmdev_devmem_is_poisoned(hd, dpage, order))
		return false;
	hmmdev_bar_wait(hd);	/* a reset in progress: BAR2 comes back */
	if (hmmdev_rd32(hd, HMMDEV_REG_ID) != HMMDEV_ID_MAGIC)
		return false;	/* gone: BAR reads are not VRAM */
	hmmdev_devmem_cpu_copy(hd, dpage, spage, order, false);
	atomic64_add(1UL << order, &hd->pages_rescued);
	return true;
}

/*
 * The pfns of our pages in use, in order, for hmmdev_migrate_device_lock()
 * (the pages of a 2 MiB folio stand together: the core takes its head and
 * skips the rest).  Free pages are left out: a free page of a freed 2 MiB
 * folio still names that folio's head.  The device is being removed:
 * nothing allocates any more, but owners may still split or free pages; the
 * core skips a page freed after this look.
 */
static unsigned long hmmdev_devmem_used_pfns(struct hmmdev *hd,
					     unsigned long *src)
{
	unsigned long idx, n = 0;

	spin_lock(&hd->dm_lock);
	for_each_set_bit(idx, hd->dm_bitmap, hd->dm_pages)
		if (!test_bit(idx, hd->dm_retired))
			src[n++] = hd->dm_first_pfn + idx;
	spin_unlock(&hd->dm_lock);
	return n;
}

/*
 * Eviction: the system pages standing in for lost device pages (@lost, of
 * @dst's @n entries; zeroed) become hwpoison pages: memory_failure() unmaps
 * them, and a process touching one gets SIGBUS (BUS_MCEERR_AR), as after a
 * machine check on its own memory, instead of reading zeroes.
 */
static void hmmdev_devmem_hwpoison(struct hmmdev *hd, unsigned long *dst,
				   unsigned long *lost, unsigned long n)
{
	unsigned long i, p, nr, pfn;

	for_each_set_bit(i, lost, n) {
		if (!dst[i])
			continue;
		pfn = migrate_pfn_to_page(dst[i]) ?
		      page_to_pfn(migrate_pfn_to_page(dst[i])) : 0;
		nr = dst[i] & MIGRATE_PFN_COMPOUND ? HMMDEV_DM_BLOCK : 1;
		for (p = 0; p < nr && pfn; p++) {
			if (!IS_ENABLED(CONFIG_MEMORY_FAILURE) ||
			    memory_failure(pfn + p, 0)) {
				dev_err_ratelimited(&hd->pdev->dev,
						    "eviction: a lost page could not be made hwpoison: it reads as zeroes\n");
				continue;
			}
			atomic64_inc(&hd->pages_hwpoisoned);
		}
	}
}

/*
 * Every device page back to system memory (remove).  First each mirrored
 * process's pages, through its VMAs under its mmap_lock
 * (hmmdev_migrate_all_to_sys()); then, by pfn, what is left: pages of
 * processes without a mirror, e.g. children after fork().  That second
 * pass does not hold the pages' anon_vma: a process unmapping such a page
 * at that moment can make migrate_device_finalize() walk a freed anon_vma
 * (KASAN: slab-use-after-free in rmap_walk_anon -- which the uapi fuzzer
 * found when HMM_DMIRROR_RELEASE still used this pass).  A 2 MiB page of
 * that pass needs a system THP (the core cannot split it there): without
 * one it stays, and the kernel log says so; and one that moves there while
 * its process exits meets Linux 7.3's zap_huge_pmd() bug (hmmdev_back.c),
 * which the first pass avoids.
 */
void hmmdev_devmem_evict(struct hmmdev *hd)
{
	unsigned long npages = hd->dm_pages, n, i, *src, *dst, *lost;
	s64 tombs;
	struct hmmdev_mirror *m;
	u64 moved = 0;
	int ctx;

	if (!npages)
		return;
	for (ctx = 0; ctx < HMMDEV_NUM_CONTEXTS; ctx++) {
		m = hmmdev_mirror_get(hd, ctx);
		if (!m)
			continue;
		hmmdev_migrate_all_to_sys(m, &moved);
		hmmdev_mirror_put(m);
	}
	src = kvcalloc(npages, sizeof(*src), GFP_KERNEL | __GFP_NOFAIL);
	dst = kvcalloc(npages, sizeof(*dst), GFP_KERNEL | __GFP_NOFAIL);
	lost = bitmap_zalloc(npages, GFP_KERNEL | __GFP_NOFAIL);
	tombs = atomic64_read(&hd->pages_tombstoned);
	n = hmmdev_devmem_used_pfns(hd, src);
	n = hmmdev_migrate_device_lock(src, n, hd->dm_first_pfn, npages);
	hmmdev_devmem_copy_back(hd, src, dst, n, NULL, 0, NULL, NULL, lost);
	migrate_device_pages(src, dst, n);
	for_each_set_bit(i, lost, n)
		if (!(src[i] & MIGRATE_PFN_MIGRATE))
			__clear_bit(i, lost);	/* it did not move after all */
	migrate_device_finalize(src, dst, n);
	hmmdev_devmem_hwpoison(hd, dst, lost, n);
	tombs = atomic64_read(&hd->pages_tombstoned) - tombs;
	if (tombs)
		dev_warn(&hd->pdev->dev, "remove: %lld lost pages moved to tombstones (SIGBUS on access)\n",
			 tombs);
	bitmap_free(lost);
	kvfree(src);
	kvfree(dst);
}
