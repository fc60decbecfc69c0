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
 * Pages move with migrate_vma_*(); every copy is a DMA job of the device,
 * a chunk's copies (up to MIGRATE_CHUNK pages) in flight together.
 * To the device: the MMU_NOTIFY_MIGRATE invalidation that
 * migrate_vma_setup() sends reaches our own notifier too (we do not filter
 * it), so the device stops using the system pages before they are copied.
 * Back to system memory: on a CPU fault (migrate_to_ram), on
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

#define MIGRATE_CHUNK	32	/* pages; the pfn arrays live on the stack */

static struct hmmdev *hmmdev_of_page(struct page *page)
{
	return container_of(page->pgmap, struct hmmdev, pgmap);
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
		is_device_coherent_page(page)) && page->pgmap == &hd->pgmap;
}

/* migrate_vma flag selecting our device pages */
static unsigned long hmmdev_devmem_select(struct hmmdev *hd)
{
	return hd->pgmap.type == MEMORY_DEVICE_COHERENT ?
	       MIGRATE_VMA_SELECT_DEVICE_COHERENT :
	       MIGRATE_VMA_SELECT_DEVICE_PRIVATE;
}

static struct page *hmmdev_devmem_alloc(struct hmmdev *hd)
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
		zone_device_page_init(page);
	return page;
}

static void hmmdev_devmem_page_free(struct page *page)
{
	struct hmmdev *hd = hmmdev_of_page(page);

	spin_lock(&hd->dm_lock);
	page->zone_device_data = hd->dm_free;
	hd->dm_free = page;
	hd->dm_used--;
	spin_unlock(&hd->dm_lock);
}

/* One page copy in flight. */
struct hmmdev_copy {
	struct hmmdev_job_desc desc;
	dma_addr_t dma;
	int tag;
};

/* Start copying a page between system memory and VRAM with the device. */
static int hmmdev_copy_start(struct hmmdev *hd, struct hmmdev_copy *c,
			     struct page *sys, struct page *dev, bool to_vram)
{
	struct device *d = &hd->pdev->dev;
	u64 vram = hmmdev_devmem_offset(hd, dev);

	c->dma = dma_map_page(d, sys, 0, PAGE_SIZE, DMA_BIDIRECTIONAL);
	if (dma_mapping_error(d, c->dma))
		return -ENOMEM;
	hmmdev_copy_desc(&c->desc, c->dma, vram, PAGE_SIZE, to_vram);
	c->tag = hmmdev_job_start(hd, &c->desc);
	if (c->tag < 0) {
		dma_unmap_page(d, c->dma, PAGE_SIZE, DMA_BIDIRECTIONAL);
		return c->tag;
	}
	return 0;
}

static int hmmdev_copy_wait(struct hmmdev *hd, struct hmmdev_copy *c)
{
	int ret = hmmdev_job_wait(hd, c->tag, &c->desc, NULL, NULL);

	/* a copy that timed out may still write the page: keep it mapped */
	if (ret != -ETIMEDOUT)
		dma_unmap_page(&hd->pdev->dev, c->dma, PAGE_SIZE,
			       DMA_BIDIRECTIONAL);
	return ret;
}

/* Zero one VRAM page with the device (migration of an empty page). */
static int hmmdev_devmem_zero(struct hmmdev *hd, struct page *dev)
{
	struct hmmdev_job_desc desc = {
		.opcode = HMMDEV_OP_FILL,
		.flags = HMMDEV_JOB_DST_VRAM,
		.dst = hmmdev_devmem_offset(hd, dev),
		.length = PAGE_SIZE,
	};

	return hmmdev_job_run(hd, &desc, NULL, NULL);
}

/*
 * Device pages -> system memory for the migrate entries in @src, up to
 * MIGRATE_CHUNK copies in flight at a time; a page the device can no
 * longer give back (failed device) comes back zeroed.
 */
static void hmmdev_devmem_copy_back(struct hmmdev *hd, unsigned long *src,
				    unsigned long *dst, unsigned long n,
				    struct vm_area_struct *vma, u64 start)
{
	struct hmmdev_copy *c = kcalloc(MIGRATE_CHUNK, sizeof(*c),
					GFP_KERNEL | __GFP_NOFAIL);
	bool started[MIGRATE_CHUNK];
	unsigned long base, i, j, cnt;

	for (base = 0; base < n; base += MIGRATE_CHUNK) {
		cnt = min_t(unsigned long, n - base, MIGRATE_CHUNK);
		for (i = 0; i < cnt; i++) {
			struct page *dpage, *spage;

			j = base + i;
			started[i] = false;
			dst[j] = 0;
			dpage = migrate_pfn_to_page(src[j]);
			if (!dpage || !(src[j] & MIGRATE_PFN_MIGRATE))
				continue;
			spage = vma ? alloc_page_vma(GFP_HIGHUSER_MOVABLE, vma,
						     start + (j << PAGE_SHIFT))
				    : alloc_page(GFP_HIGHUSER_MOVABLE |
						 __GFP_NOFAIL);
			if (!spage)
				continue;
			lock_page(spage);
			dst[j] = migrate_pfn(page_to_pfn(spage));
			started[i] = !hmmdev_copy_start(hd, &c[i], spage, dpage,
							false);
			if (!started[i])
				clear_highpage(spage);
		}
		for (i = 0; i < cnt; i++) {
			if (!started[i] || !hmmdev_copy_wait(hd, &c[i]))
				continue;
			dev_err_ratelimited(&hd->pdev->dev,
					    "device page lost: it could not be copied back\n");
			clear_highpage(migrate_pfn_to_page(dst[base + i]));
		}
	}
	kfree(c);
}

/* CPU access to a page in VRAM: bring it back. */
static vm_fault_t hmmdev_devmem_fault(struct vm_fault *vmf)
{
	struct hmmdev *hd = hmmdev_of_page(vmf->page);
	unsigned long src = 0, dst = 0;
	struct migrate_vma args = {
		.vma = vmf->vma,
		.start = vmf->address & PAGE_MASK,
		.end = (vmf->address & PAGE_MASK) + PAGE_SIZE,
		.src = &src,
		.dst = &dst,
		.pgmap_owner = hd,
		.flags = hmmdev_devmem_select(hd),
		.fault_page = vmf->page,
	};

	if (migrate_vma_setup(&args))
		return VM_FAULT_SIGBUS;
	hmmdev_devmem_copy_back(hd, &src, &dst, 1, vmf->vma, args.start);
	migrate_vma_pages(&args);
	migrate_vma_finalize(&args);
	atomic64_inc(&hd->migrations_to_ram);
	return 0;
}

static const struct dev_pagemap_ops hmmdev_devmem_ops = {
	.page_free = hmmdev_devmem_page_free,
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

/* System pages of [start, end) (one VMA) -> VRAM. */
static int hmmdev_migrate_chunk(struct hmmdev_mirror *m,
				struct vm_area_struct *vma, u64 start, u64 end)
{
	struct hmmdev *hd = m->hd;
	unsigned long src[MIGRATE_CHUNK] = { 0 }, dst[MIGRATE_CHUNK] = { 0 };
	struct migrate_vma args = {
		.vma = vma, .start = start, .end = end, .src = src, .dst = dst,
		.pgmap_owner = hd, .flags = MIGRATE_VMA_SELECT_SYSTEM,
	};
	bool started[MIGRATE_CHUNK];
	struct hmmdev_copy *c;
	unsigned long i;
	int ret;

	ret = migrate_vma_setup(&args);
	if (ret)
		return ret;
	c = kcalloc(MIGRATE_CHUNK, sizeof(*c), GFP_KERNEL | __GFP_NOFAIL);
	for (i = 0; i < args.npages; i++) {
		struct page *spage = migrate_pfn_to_page(src[i]), *dpage;

		started[i] = false;
		if (!(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		dpage = hmmdev_devmem_alloc(hd);
		if (!dpage)
			break;          /* VRAM full: the rest stays in RAM */
		if (spage)
			ret = hmmdev_copy_start(hd, &c[i], spage, dpage, true);
		else
			ret = hmmdev_devmem_zero(hd, dpage);
		if (ret) {
			unlock_page(dpage);
			put_page(dpage);
			break;
		}
		started[i] = !!spage;
		dst[i] = migrate_pfn(page_to_pfn(dpage));
	}
	/* all copies of the chunk run at once; a failed one stays in RAM */
	for (i = 0; i < args.npages; i++) {
		struct page *dpage = migrate_pfn_to_page(dst[i]);

		if (started[i] && hmmdev_copy_wait(hd, &c[i])) {
			dst[i] = 0;
			unlock_page(dpage);
			put_page(dpage);
			ret = ret ?: -EIO;
		} else if (dst[i]) {
			atomic64_inc(&hd->migrations_to_dev);
		}
	}
	kfree(c);
	migrate_vma_pages(&args);
	migrate_vma_finalize(&args);
	return ret;
}

/* [start, end) of the mirror's mm to VRAM (HMM_DMIRROR_MIGRATE_TO_DEV). */
int hmmdev_migrate_to_dev(struct hmmdev_mirror *m, u64 start, u64 end)
{
	struct vm_area_struct *vma;
	u64 addr, next;
	int ret = 0;

	if (!m->hd->dm_pages)
		return -ENOMEM;
	if (!mmget_not_zero(m->mm))
		return -EINVAL;
	mmap_read_lock(m->mm);
	for (addr = start; addr < end && !ret; addr = next) {
		vma = vma_lookup(m->mm, addr);
		if (!vma || !(vma->vm_flags & VM_READ)) {
			ret = -EINVAL;
			break;
		}
		next = min3(end, vma->vm_end, addr + MIGRATE_CHUNK * PAGE_SIZE);
		ret = hmmdev_migrate_chunk(m, vma, addr, next);
	}
	mmap_read_unlock(m->mm);
	mmput(m->mm);
	return ret;
}

/* [start, end) back from VRAM (HMM_DMIRROR_MIGRATE_TO_SYS). */
int hmmdev_migrate_to_sys(struct hmmdev_mirror *m, u64 start, u64 end,
			  u64 *cpages)
{
	struct hmmdev *hd = m->hd;
	unsigned long src[MIGRATE_CHUNK], dst[MIGRATE_CHUNK], i;
	struct vm_area_struct *vma;
	u64 addr, next;
	int ret = 0;

	if (!mmget_not_zero(m->mm))
		return -EINVAL;
	mmap_read_lock(m->mm);
	for (addr = start; addr < end && !ret; addr = next) {
		struct migrate_vma args = {
			.src = src, .dst = dst, .pgmap_owner = hd,
			.flags = hmmdev_devmem_select(hd),
		};

		vma = vma_lookup(m->mm, addr);
		if (!vma || !(vma->vm_flags & VM_READ)) {
			ret = -EINVAL;
			break;
		}
		next = min3(end, vma->vm_end, addr + MIGRATE_CHUNK * PAGE_SIZE);
		args.vma = vma;
		args.start = addr;
		args.end = next;
		memset(src, 0, sizeof(src));
		ret = migrate_vma_setup(&args);
		if (ret)
			break;
		hmmdev_devmem_copy_back(hd, src, dst, args.npages, vma, addr);
		for (i = 0; i < args.npages; i++)
			*cpages += !!dst[i];
		migrate_vma_pages(&args);
		migrate_vma_finalize(&args);
	}
	mmap_read_unlock(m->mm);
	mmput(m->mm);
	return ret;
}
