// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: moving pages between system memory and VRAM.
 *
 * Copies are done by the device (by the CPU through BAR2 when the device
 * has a single engine, and to rescue the pages of a failed device,
 * hmmdev_devmem_cpu_copy()): a chunk of pages (up to MIGRATE_CHUNK)
 * becomes one COPY_LIST job per engine, each a table of (source,
 * destination) page addresses, so a chunk costs a few ring round trips and
 * interrupts rather than one per page.  A list job stops at its first bad
 * entry; its result says how many pages were copied before.
 *
 * To the device (HMM_DMIRROR_MIGRATE_TO_DEV, migrate-on-fault):
 * migrate_vma_setup() sends MMU_NOTIFY_MIGRATE to our own notifier too (we
 * do not filter it), so the device stops using the system pages before
 * they are copied.  The pages that moved are then mapped in the device
 * MMU at once, under the notifier protocol: the sequence is read right
 * after migrate_vma_setup() has invalidated the range, so anything that
 * changes the CPU side afterwards -- an munmap() or MADV_DONTNEED while
 * the pages are copied, after which finalize frees the device page --
 * makes us skip the mapping, and the device simply faults later.  (So
 * does migrate_vma_pages() when it fills holes: it invalidates them.)
 *
 * Back to system memory: hmmdev_devmem_copy_back() for migrate_to_ram,
 * HMM_DMIRROR_MIGRATE_TO_SYS and eviction (hmmdev_devmem.c).
 */
#include <linux/dma-mapping.h>
#include <linux/hmm.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "hmmdev.h"

#define MIGRATE_CHUNK	512	/* pages per migrate_vma_setup() */
#define COPY_JOBS	4	/* list jobs per chunk at most (engines) */

/**
 * hmmdev_mig_time() - account the time since *@t0 to a migration phase
 * @hd: the device
 * @dir: direction
 * @phase: what the time went to
 * @t0: start of the phase; set to now for the next one
 */
void hmmdev_mig_time(struct hmmdev *hd, enum hmmdev_mig_dir dir,
		     enum hmmdev_mig_phase phase, u64 *t0)
{
	u64 now = ktime_get_ns();

	atomic64_add(now - *t0, &hd->mig_ns[dir][phase]);
	*t0 = now;
}

/* The arrays of one migration chunk. */
struct hmmdev_migrate_buf {
	unsigned long src[MIGRATE_CHUNK];
	unsigned long dst[MIGRATE_CHUNK];
	struct page *sys[MIGRATE_CHUNK];
	struct page *dev[MIGRATE_CHUNK];
	unsigned long idx[MIGRATE_CHUNK];
	bool copied[MIGRATE_CHUNK];
};

/*
 * hmmdev_devmem_copy() - copy pages between system memory and VRAM
 * @hd: the device
 * @sys: system pages; NULL entries (to VRAM only) zero the device page
 * @dev: our device pages
 * @copied: out: which pages were copied
 * @n: number of pages, at most MIGRATE_CHUNK
 * @to_vram: direction
 *
 * Return: 0, or -ETIMEDOUT when the device stopped answering: then the
 * table and the mappings stay in place for ever (the device is failed and
 * may still write them), and nothing counts as copied.
 */
static int hmmdev_devmem_copy(struct hmmdev *hd, struct page **sys,
			      struct page **dev, bool *copied,
			      unsigned long n, bool to_vram)
{
	enum dma_data_direction dir = to_vram ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
	struct device *d = &hd->pdev->dev;
	struct hmmdev_job_desc desc[COPY_JOBS];
	int tag[COPY_JOBS], jobs, j, ret = 0;
	unsigned long i, first, per_job, count, mapped, listed;
	bool list_ok;
	struct hmmdev_copy_entry *list;
	dma_addr_t list_dma, zero_dma = DMA_MAPPING_ERROR, *dma;
	u64 result;

	memset(copied, 0, n * sizeof(*copied));
	if (!n)
		return 0;
	/*
	 * One engine: a VA job may hold it, stalled on the very fault that
	 * asked for this migration.  The CPU copies through BAR2 instead.
	 */
	if (hd->engines < 2) {
		for (i = 0; i < n; i++) {
			hmmdev_devmem_cpu_copy(hd, dev[i], sys[i], to_vram);
			copied[i] = true;
		}
		return 0;
	}
	dma = kmalloc_array(n, sizeof(*dma), GFP_KERNEL | __GFP_NOFAIL);
	list = kmalloc_array(n, sizeof(*list), GFP_KERNEL | __GFP_NOFAIL);
	/* the table: a mapping failure ends it there */
	for (i = 0; i < n; i++) {
		u64 vram = hmmdev_devmem_offset(hd, dev[i]);
		dma_addr_t a;

		if (sys[i]) {
			a = dma_map_page(d, sys[i], 0, PAGE_SIZE, dir);
		} else {
			if (zero_dma == DMA_MAPPING_ERROR)
				zero_dma = dma_map_page(d, ZERO_PAGE(0), 0,
							PAGE_SIZE,
							DMA_TO_DEVICE);
			a = zero_dma;
		}
		if (dma_mapping_error(d, a))
			break;
		dma[i] = a;
		list[i].src = cpu_to_le64(to_vram ? a : vram);
		list[i].dst = cpu_to_le64(to_vram ? vram : a);
	}
	mapped = i;
	list_dma = dma_map_single(d, list, n * sizeof(*list), DMA_TO_DEVICE);
	list_ok = !dma_mapping_error(d, list_dma);
	listed = list_ok ? mapped : 0;
	/* the table in engines' worth of slices, all in flight together */
	jobs = clamp_t(int, hd->engines, 1, COPY_JOBS);
	per_job = DIV_ROUND_UP(listed, jobs);
	for (j = 0; j < jobs; j++) {
		first = j * per_job;
		count = first < listed ? min(per_job, listed - first) : 0;
		tag[j] = -1;
		if (!count)
			continue;
		desc[j] = (struct hmmdev_job_desc) {
			.opcode = HMMDEV_OP_COPY_LIST,
			.flags = to_vram ? HMMDEV_JOB_DST_VRAM :
					   HMMDEV_JOB_SRC_VRAM,
			.src = list_dma + first * sizeof(*list),
			.length = count,
			.value = PAGE_SIZE,
		};
		tag[j] = hmmdev_job_start(hd, &desc[j]);
	}
	for (j = 0; j < jobs; j++) {
		first = j * per_job;
		if (tag[j] < 0)
			continue;
		result = 0;
		if (hmmdev_job_wait(hd, tag[j], &desc[j], &result, NULL) ==
		    -ETIMEDOUT)
			ret = -ETIMEDOUT;
		count = min_t(u64, result >> PAGE_SHIFT, listed - first);
		for (i = first; i < first + count; i++)
			copied[i] = true;
	}
	if (ret == -ETIMEDOUT) {
		memset(copied, 0, n * sizeof(*copied));
		return ret;     /* the failed device may still use it all */
	}
	if (list_ok)
		dma_unmap_single(d, list_dma, n * sizeof(*list), DMA_TO_DEVICE);
	for (i = 0; i < mapped; i++)
		if (sys[i])
			dma_unmap_page(d, dma[i], PAGE_SIZE, dir);
	if (zero_dma != DMA_MAPPING_ERROR)
		dma_unmap_page(d, zero_dma, PAGE_SIZE, DMA_TO_DEVICE);
	kfree(list);
	kfree(dma);
	return listed == n ? 0 : -ENOMEM;
}

/**
 * hmmdev_devmem_copy_back() - device pages back into new system pages
 * @hd: the device
 * @src: migrate entries of our device pages (MIGRATE_PFN_MIGRATE set)
 * @dst: out: the new system pages, locked
 * @n: entries
 * @vma: where the pages will be mapped (NULL: eviction)
 * @start: address of entry 0 in @vma
 * @watch: a page whose loss the caller must know of (the CPU's fault
 *	page), or NULL
 *
 * A page the engines cannot copy (a failed device) is copied by the CPU
 * through BAR2 (hmmdev_devmem_rescue()).  A page that cannot be read at
 * all is lost: it stays a device page for migrate_to_ram (whose fault then
 * gets SIGBUS), and comes back zeroed at eviction, where it has to go; the
 * kernel log says so either way.
 *
 * Return: 0, or -EIO when @watch was lost.
 */
int hmmdev_devmem_copy_back(struct hmmdev *hd, unsigned long *src,
			    unsigned long *dst, unsigned long n,
			    struct vm_area_struct *vma, u64 start,
			    struct page *watch)
{
	struct hmmdev_migrate_buf *b = kvmalloc(sizeof(*b),
						 GFP_KERNEL | __GFP_NOFAIL);
	unsigned long base, i, j, cnt, k;
	u64 t0 = ktime_get_ns();
	int ret = 0;

	for (base = 0; base < n; base += MIGRATE_CHUNK) {
		cnt = min_t(unsigned long, n - base, MIGRATE_CHUNK);
		for (i = 0, k = 0; i < cnt; i++) {
			struct page *dpage, *spage;

			j = base + i;
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
			b->sys[k] = spage;
			b->dev[k] = dpage;
			b->idx[k++] = j;
		}
		hmmdev_mig_time(hd, HMMDEV_MIG_TO_RAM, HMMDEV_MIG_ALLOC, &t0);
		hmmdev_devmem_copy(hd, b->sys, b->dev, b->copied, k, false);
		hmmdev_mig_time(hd, HMMDEV_MIG_TO_RAM, HMMDEV_MIG_COPY, &t0);
		for (i = 0; i < k; i++) {
			if (b->copied[i] ||
			    hmmdev_devmem_rescue(hd, b->dev[i], b->sys[i]))
				continue;
			dev_err_ratelimited(&hd->pdev->dev,
					    "device page lost: neither the engines nor the CPU could read it back\n");
			atomic64_inc(&hd->pages_lost);
			if (!vma) {
				clear_highpage(b->sys[i]);
				continue;
			}
			if (b->dev[i] == watch)
				ret = -EIO;
			dst[b->idx[i]] = 0;
			unlock_page(b->sys[i]);
			put_page(b->sys[i]);
		}
	}
	kvfree(b);
	return ret;
}

/* Map the pages of @args that moved to VRAM, unless the CPU side changed. */
static void hmmdev_map_migrated(struct hmmdev_mirror *m,
				struct migrate_vma *args, unsigned long seq)
{
	unsigned long i;
	bool replaced;

	mutex_lock(&m->lock);
	if (m->dead || mmu_interval_read_retry(&m->notifier, seq)) {
		mutex_unlock(&m->lock);
		return;
	}
	for (i = 0; i < args->npages; i++) {
		struct page *dpage = migrate_pfn_to_page(args->dst[i]);
		u64 leaf;

		if (!dpage || !(args->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		leaf = hmmdev_devmem_offset(m->hd, dpage) | HMMDEV_PTE_VALID |
		       HMMDEV_PTE_VRAM |
		       (args->src[i] & MIGRATE_PFN_WRITE ? HMMDEV_PTE_WRITE : 0);
		if (hmmdev_pt_map(m, args->start + (i << PAGE_SHIFT), leaf,
				  &replaced))
			break;  /* no table page left: the device faults later */
	}
	mutex_unlock(&m->lock);
}

/* System pages of [start, end) (one VMA, one chunk) -> VRAM. */
static int hmmdev_migrate_chunk(struct hmmdev_mirror *m,
				struct hmmdev_migrate_buf *b,
				struct vm_area_struct *vma, u64 start, u64 end,
				u64 *cpages)
{
	struct hmmdev *hd = m->hd;
	struct migrate_vma args = {
		.vma = vma, .start = start, .end = end,
		.src = b->src, .dst = b->dst,
		.pgmap_owner = hd, .flags = MIGRATE_VMA_SELECT_SYSTEM,
	};
	unsigned long i, k, seq;
	u64 t0 = ktime_get_ns();
	int ret;

	memset(b->src, 0, sizeof(b->src));
	memset(b->dst, 0, sizeof(b->dst));
	ret = migrate_vma_setup(&args);
	if (ret)
		return ret;
	seq = mmu_interval_read_begin(&m->notifier);
	hmmdev_mig_time(hd, HMMDEV_MIG_TO_DEV, HMMDEV_MIG_SETUP, &t0);
	for (i = 0, k = 0; i < args.npages; i++) {
		struct page *dpage;

		if (!(b->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		dpage = hmmdev_devmem_alloc(hd);
		if (!dpage)
			break;          /* VRAM full: the rest stays in RAM */
		b->sys[k] = migrate_pfn_to_page(b->src[i]);
		b->dev[k] = dpage;
		b->dst[i] = migrate_pfn(page_to_pfn(dpage));
		b->idx[k++] = i;
	}
	hmmdev_mig_time(hd, HMMDEV_MIG_TO_DEV, HMMDEV_MIG_ALLOC, &t0);
	ret = hmmdev_devmem_copy(hd, b->sys, b->dev, b->copied, k, true);
	hmmdev_mig_time(hd, HMMDEV_MIG_TO_DEV, HMMDEV_MIG_COPY, &t0);
	/* a page that was not copied stays in RAM */
	for (i = 0; i < k; i++) {
		if (b->copied[i]) {
			atomic64_inc(&hd->migrations_to_dev);
			*cpages += 1;
			continue;
		}
		b->dst[b->idx[i]] = 0;
		unlock_page(b->dev[i]);
		put_page(b->dev[i]);
		ret = ret ?: -EIO;
	}
	migrate_vma_pages(&args);
	hmmdev_mig_time(hd, HMMDEV_MIG_TO_DEV, HMMDEV_MIG_PAGES, &t0);
	migrate_vma_finalize(&args);
	hmmdev_mig_time(hd, HMMDEV_MIG_TO_DEV, HMMDEV_MIG_FINALIZE, &t0);
	hmmdev_map_migrated(m, &args, seq);
	hmmdev_mig_time(hd, HMMDEV_MIG_TO_DEV, HMMDEV_MIG_MAP, &t0);
	return ret;
}

/**
 * hmmdev_migrate_vma_back() - our device pages of @args' range -> RAM
 * @hd: the device
 * @args: vma, start, end, src/dst arrays (src zeroed), pgmap_owner, flags
 *	and, for migrate_to_ram, fault_page, all set by the caller
 * @moved: out: pages moved
 *
 * Return: 0, the error of migrate_vma_setup(), or -EIO when the fault page
 * was lost (hmmdev_devmem_copy_back()).
 */
int hmmdev_migrate_vma_back(struct hmmdev *hd, struct migrate_vma *args,
			    unsigned long *moved)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;
	int ret, lost;

	*moved = 0;
	ret = migrate_vma_setup(args);
	if (ret)
		return ret;
	hmmdev_mig_time(hd, HMMDEV_MIG_TO_RAM, HMMDEV_MIG_SETUP, &t0);
	lost = hmmdev_devmem_copy_back(hd, args->src, args->dst, args->npages,
				       args->vma, args->start, args->fault_page);
	for (i = 0; i < args->npages; i++)
		*moved += !!args->dst[i];
	t0 = ktime_get_ns();
	migrate_vma_pages(args);
	hmmdev_mig_time(hd, HMMDEV_MIG_TO_RAM, HMMDEV_MIG_PAGES, &t0);
	migrate_vma_finalize(args);
	hmmdev_mig_time(hd, HMMDEV_MIG_TO_RAM, HMMDEV_MIG_FINALIZE, &t0);
	return lost;
}

/* Our device pages of [start, end) (one VMA, one chunk) -> RAM. */
static int hmmdev_migrate_back_chunk(struct hmmdev_mirror *m,
				     struct hmmdev_migrate_buf *b,
				     struct vm_area_struct *vma, u64 start,
				     u64 end, u64 *cpages)
{
	struct migrate_vma args = {
		.vma = vma, .start = start, .end = end,
		.src = b->src, .dst = b->dst,
		.pgmap_owner = m->hd, .flags = hmmdev_devmem_select(m->hd),
	};
	unsigned long moved;
	int ret;

	memset(b->src, 0, sizeof(b->src));
	ret = hmmdev_migrate_vma_back(m->hd, &args, &moved);
	*cpages += moved;
	return ret;
}

typedef int (*hmmdev_chunk_fn)(struct hmmdev_mirror *m,
			       struct hmmdev_migrate_buf *b,
			       struct vm_area_struct *vma, u64 start, u64 end,
			       u64 *cpages);

/*
 * Run @fn on [start, end) of the mirror's mm, chunk by chunk, VMA by VMA,
 * under mmap_lock.  Without @every_vma the range must be mapped and
 * readable (else -EINVAL) and the first error ends it; with it, gaps and
 * VMAs migration cannot work on (VM_IO/VM_PFNMAP, hugetlb) are skipped and
 * every chunk is tried.
 */
static int hmmdev_migrate_range(struct hmmdev_mirror *m, u64 start, u64 end,
				hmmdev_chunk_fn fn, bool every_vma, u64 *cpages)
{
	struct hmmdev_migrate_buf *b;
	struct vm_area_struct *vma;
	u64 addr, next;
	int ret = 0;

	if (!mmget_not_zero(m->mm))
		return -EINVAL;
	b = kvmalloc_obj(*b, GFP_KERNEL);
	if (!b) {
		mmput(m->mm);
		return -ENOMEM;
	}
	mmap_read_lock(m->mm);
	for (addr = start; addr < end && !ret; addr = next) {
		vma = every_vma ? find_vma(m->mm, addr) : vma_lookup(m->mm, addr);
		if (every_vma && !vma)
			break;
		if (every_vma && ((vma->vm_flags & VM_SPECIAL) ||
				  is_vm_hugetlb_page(vma))) {
			next = vma->vm_end;	/* migration cannot work there */
			continue;
		}
		if (!every_vma && (!vma || !(vma->vm_flags & VM_READ))) {
			ret = -EINVAL;
			break;
		}
		addr = max_t(u64, addr, vma->vm_start);
		next = min3(end, vma->vm_end, addr + MIGRATE_CHUNK * PAGE_SIZE);
		ret = fn(m, b, vma, addr, next, cpages);
		if (every_vma)
			ret = 0;	/* best effort: the next chunk */
	}
	mmap_read_unlock(m->mm);
	mmput(m->mm);
	kvfree(b);
	return ret;
}

/**
 * hmmdev_migrate_to_dev() - move [start, end) of the mirror's mm to VRAM
 * @m: the mirror
 * @start: first byte, page aligned
 * @end: one past the last
 *
 * Pages that cannot move (VRAM full, file-backed, busy) stay in RAM.
 *
 * Return: 0, -EINVAL for a hole or an unreadable VMA, -ENOMEM without
 * device memory, -EIO when the device failed a copy.
 */
int hmmdev_migrate_to_dev(struct hmmdev_mirror *m, u64 start, u64 end)
{
	u64 moved = 0;

	if (!m->hd->dm_pages)
		return -ENOMEM;
	return hmmdev_migrate_range(m, start, end, hmmdev_migrate_chunk, false,
				    &moved);
}

/**
 * hmmdev_migrate_to_sys() - move [start, end) back from VRAM
 * @m: the mirror
 * @start: first byte, page aligned
 * @end: one past the last
 * @cpages: out: incremented by the pages moved
 *
 * Return: 0, -EINVAL for a hole or an unreadable VMA, -ENOMEM.
 */
int hmmdev_migrate_to_sys(struct hmmdev_mirror *m, u64 start, u64 end,
			  u64 *cpages)
{
	return hmmdev_migrate_range(m, start, end, hmmdev_migrate_back_chunk,
				    false, cpages);
}

/**
 * hmmdev_migrate_all_to_sys() - every device page of @m's process -> RAM
 * @m: the mirror
 * @cpages: out: pages moved (added to)
 *
 * Walks every VMA of the process under mmap_lock, so that no page can be
 * unmapped, and its anon_vma freed, while it moves (which
 * migrate_device_range() cannot promise: hmmdev_devmem_evict()).  VMAs
 * migration cannot work on (VM_IO/VM_PFNMAP, hugetlb) are skipped.
 *
 * Return: 0, -EINVAL for a process that is gone, -ENOMEM.
 */
int hmmdev_migrate_all_to_sys(struct hmmdev_mirror *m, u64 *cpages)
{
	return hmmdev_migrate_range(m, 0, TASK_SIZE_MAX,
				    hmmdev_migrate_back_chunk, true, cpages);
}
