// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: device memory -- VRAM as MEMORY_DEVICE_PRIVATE pages, or
 * MEMORY_DEVICE_COHERENT pages when the device says the CPU may cache its
 * BAR (HMMDEV_CAP_COHERENT: the model of large-BAR and CXL devices).
 *
 * VRAM layout: [0, HMMDEV_DEVMEM_BASE) stays raw (HMMDEV_IOC_DMA, mmap:
 * bring-up access), [HMMDEV_DEVMEM_BASE, pt_base) backs the device pages,
 * one per 4 KiB, and the top eighth holds page tables.  Device-private
 * pages get a free physical range of their own (not CPU addressable);
 * coherent pages are the BAR's own physical addresses, which the CPU maps
 * and reads directly.
 *
 * Pages move with migrate_vma_*() and the device's copy lists
 * (hmmdev_migrate.c).  Back to system memory: on a CPU fault
 * (migrate_to_ram, with the block of migrate_back_pages around it), on
 * HMM_DMIRROR_MIGRATE_TO_SYS, and for every page at RELEASE and at remove
 * (migrate_device_range()), so that nothing is lost when the device goes.
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

/* Every device page back to system memory (RELEASE, remove). */
void hmmdev_devmem_evict(struct hmmdev *hd)
{
	unsigned long npages = hd->dm_pages, *src, *dst;

	if (!npages)
		return;
	src = kvcalloc(npages, sizeof(*src), GFP_KERNEL | __GFP_NOFAIL);
	dst = kvcalloc(npages, sizeof(*dst), GFP_KERNEL | __GFP_NOFAIL);
	migrate_device_range(src, hd->dm_first_pfn, npages);
	hmmdev_devmem_copy_back(hd, src, dst, npages, NULL, 0);
	migrate_device_pages(src, dst, npages);
	migrate_device_finalize(src, dst, npages);
	kvfree(src);
	kvfree(dst);
}
