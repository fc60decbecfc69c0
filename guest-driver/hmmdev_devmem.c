// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: device memory -- VRAM as MEMORY_DEVICE_PRIVATE pages, or
 * MEMORY_DEVICE_COHERENT pages when the device says the CPU may cache its
 * BAR (HMMDEV_CAP_COHERENT: the model of large-BAR and CXL devices).
 *
 * VRAM layout: [0, raw_size) stays raw -- the only part a process reaches
 * (HMMDEV_IOC_DMA, mmap: bring-up access); raw_size is HMMDEV_DEVMEM_BASE,
 * or less on a small VRAM.  [HMMDEV_DEVMEM_BASE, pt_base) backs the device
 * pages, one per 4 KiB, and the top eighth holds page tables.  Device-private
 * pages get a free physical range of their own (not CPU addressable);
 * coherent pages are the BAR's own physical addresses, which the CPU maps
 * and reads directly.
 *
 * Pages move with migrate_vma_*() and the device's copy lists
 * (hmmdev_migrate.c).  Back to system memory: on a CPU fault
 * (migrate_to_ram, with the block of migrate_back_pages around it), on
 * HMM_DMIRROR_MIGRATE_TO_SYS, for every page of the caller at RELEASE, and
 * for every page at remove (hmmdev_devmem_evict()), so that nothing is lost
 * when the device goes.
 *
 * dm_lock (a spinlock) protects the free list, linked through
 * page->zone_device_data.
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
static unsigned int migrate_back_pages = 16;
module_param(migrate_back_pages, uint, 0644);
MODULE_PARM_DESC(migrate_back_pages,
		 "device pages moved back to RAM per CPU fault (1..512, a power of two; default 16)");

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

/* migrate_vma flag selecting our device pages */
unsigned long hmmdev_devmem_select(struct hmmdev *hd)
{
	return hd->pgmap.type == MEMORY_DEVICE_COHERENT ?
	       MIGRATE_VMA_SELECT_DEVICE_COHERENT :
	       MIGRATE_VMA_SELECT_DEVICE_PRIVATE;
}

struct page *hmmdev_devmem_alloc(struct hmmdev *hd)
{
	struct page *page;

	spin_lock(&hd->dm_lock);
	page = hd->dm_free;
	if (page) {
		hd->dm_free = page->zone_device_data;
		hd->dm_used++;
	}
	spin_unlock(&hd->dm_lock);
	if (page)
		hmmdev_device_page_init(page, &hd->pgmap);
	return page;
}

void hmmdev_devmem_page_free(struct page *page)
{
	struct hmmdev *hd = hmmdev_of_page(page);

	spin_lock(&hd->dm_lock);
	page->zone_device_data = hd->dm_free;
	hd->dm_free = page;
	hd->dm_used--;
	spin_unlock(&hd->dm_lock);
}

/*
 * CPU access to a page in VRAM: bring it back, and our pages of the block
 * of migrate_back_pages around it with it (one chunk of copies).  Without
 * memory for the pfn arrays, just the faulting page.
 */
static vm_fault_t hmmdev_devmem_fault(struct vm_fault *vmf)
{
	struct hmmdev *hd = hmmdev_of_page(vmf->page);
	unsigned long around = rounddown_pow_of_two(clamp_t(unsigned long,
				READ_ONCE(migrate_back_pages), 1, 512));
	unsigned long block = around << PAGE_SHIFT, one_src = 0, one_dst = 0;
	struct vm_area_struct *vma = vmf->vma;
	unsigned long *pfns, moved;
	struct migrate_vma args = {
		.vma = vma,
		.src = &one_src,
		.dst = &one_dst,
		.start = vmf->address & PAGE_MASK,
		.end = (vmf->address & PAGE_MASK) + PAGE_SIZE,
		.pgmap_owner = hd,
		.flags = hmmdev_devmem_select(hd),
		.fault_page = vmf->page,
	};

	hmmdev_assert_fault_page(vmf->page);
	pfns = kcalloc(2 * around, sizeof(*pfns), GFP_KERNEL);
	if (pfns) {
		args.start = max(ALIGN_DOWN(vmf->address, block), vma->vm_start);
		args.end = min(ALIGN_DOWN(vmf->address, block) + block,
			       vma->vm_end);
		args.src = pfns;
		args.dst = pfns + around;
	}
	if (hmmdev_migrate_vma_back(hd, &args, &moved)) {
		kfree(pfns);
		return VM_FAULT_SIGBUS;
	}
	atomic64_add(moved, &hd->migrations_to_ram);
	kfree(pfns);
	return 0;
}

static const struct dev_pagemap_ops hmmdev_devmem_ops = {
	HMMDEV_PGMAP_FREE_OP,
	.migrate_to_ram = hmmdev_devmem_fault,
};

int hmmdev_devmem_init(struct hmmdev *hd)
{
	struct device *dev = &hd->pdev->dev;
	unsigned long i, npages;
	struct resource *res;
	void *addr;

	spin_lock_init(&hd->dm_lock);
	if (hd->pt_base <= HMMDEV_DEVMEM_BASE)
		return 0;               /* a small VRAM: no device memory */
	npages = (hd->pt_base - HMMDEV_DEVMEM_BASE) >> PAGE_SHIFT;
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
	for (i = npages; i-- > 0;) {
		struct page *page = pfn_to_page(hd->dm_first_pfn + i);

		page->zone_device_data = hd->dm_free;
		hd->dm_free = page;
	}
	return 0;
}

/**
 * hmmdev_devmem_cpu_copy() - copy between a device page and a system page
 *	with the CPU, through BAR2
 * @hd: the device
 * @dpage: our device page
 * @spage: a system page; NULL with @to_vram zeroes @dpage
 * @to_vram: direction
 *
 * For a device with one engine (which a VA job may hold while its fault
 * needs a migration) and for rescuing data from a failed device.
 */
void hmmdev_devmem_cpu_copy(struct hmmdev *hd, struct page *dpage,
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
 * hmmdev_devmem_rescue() - copy a device page to @spage with the CPU
 * @hd: the device
 * @dpage: our device page
 * @spage: a system page
 *
 * For when the engines cannot copy (a failed device): VRAM stays readable
 * through BAR2 as long as the function answers its ID register.
 *
 * Return: true when copied.
 */
bool hmmdev_devmem_rescue(struct hmmdev *hd, struct page *dpage,
			  struct page *spage)
{
	if (hmmdev_rd32(hd, HMMDEV_REG_ID) != HMMDEV_ID_MAGIC)
		return false;	/* gone: BAR reads are not VRAM */
	hmmdev_devmem_cpu_copy(hd, dpage, spage, false);
	atomic64_inc(&hd->pages_rescued);
	return true;
}

/*
 * Every device page back to system memory (remove).  First each mirrored
 * process's pages, through its VMAs under its mmap_lock
 * (hmmdev_migrate_all_to_sys()); then migrate_device_range() for what is
 * left: pages of processes without a mirror, e.g. children after fork().
 * That second pass does not hold the pages' anon_vma: a process unmapping
 * such a page at that moment can make migrate_device_finalize() walk a
 * freed anon_vma (KASAN: slab-use-after-free in rmap_walk_anon -- which the
 * uapi fuzzer found when HMM_DMIRROR_RELEASE still used this pass).
 */
void hmmdev_devmem_evict(struct hmmdev *hd)
{
	unsigned long npages = hd->dm_pages, *src, *dst;
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
	migrate_device_range(src, hd->dm_first_pfn, npages);
	hmmdev_devmem_copy_back(hd, src, dst, npages, NULL, 0, NULL);
	migrate_device_pages(src, dst, npages);
	migrate_device_finalize(src, dst, npages);
	kvfree(src);
	kvfree(dst);
}
