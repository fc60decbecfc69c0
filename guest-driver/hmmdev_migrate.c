// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: moving pages between system memory and VRAM.
 *
 * A chunk of pages (up to MIGRATE_CHUNK) is copied in tables of up to
 * HMMDEV_COPY_BATCH by the device's engines (hmmdev_copy.c).
 *
 * Huge pages (kernels with HMMDEV_DEVICE_THP, device-private memory:
 * hmmdev_devmem_select() says why not coherent): migrate_vma_*() is asked to
 * collect PMD-mapped THPs whole (MIGRATE_VMA_SELECT_COMPOUND), and chunks
 * are 2 MiB aligned so that it can.  A THP then moves as one 2 MiB folio --
 * one list entry of 2 MiB (its own list job: a list has one entry size) and
 * one 2 MiB device leaf -- and comes back into a system THP.  Where the
 * other side has no 2 MiB page to give (no free VRAM block, no system THP,
 * HMM_DMIRROR_FLAG_FAIL_ALLOC), its 512 pages move as 4 KiB pages and the
 * core splits the source folio (counter thp_fallbacks).
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
 * Back to system memory: hmmdev_devmem_copy_back() (hmmdev_copy.c) for
 * migrate_to_ram, HMM_DMIRROR_MIGRATE_TO_SYS and eviction; a
 * MIGRATE_TO_SYS range of several chunks is moved by two tasks
 * (hmmdev_migrate_split()).
 */
#include <linux/delay.h>
#include <linux/hmm.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "hmmdev.h"
#include "hmmdev_trace.h"

#define MIGRATE_CHUNK	2048	/* pages per migrate_vma_setup(): 8 MiB */

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
	trace_hmmdev_migrate_phase(hd->id, dir, phase, *t0, now);
	*t0 = now;
}

/*
 * The arrays of one migration chunk to VRAM.  An item (sys, dev, order) is
 * one copy: a 4 KiB page, or a 2 MiB folio (order HMMDEV_DEVICE_THP_ORDER);
 * idx: the migrate entry it belongs to; pool: 4 KiB device pages taken
 * ahead (hmmdev_dev_page()).
 */
struct hmmdev_migrate_buf {
	unsigned long src[MIGRATE_CHUNK];
	unsigned long dst[MIGRATE_CHUNK];
	struct page *sys[MIGRATE_CHUNK];
	struct page *dev[MIGRATE_CHUNK];
	unsigned long idx[MIGRATE_CHUNK];
	u8 order[MIGRATE_CHUNK];
	bool copied[MIGRATE_CHUNK];
	struct hmmdev_page_pool pool;
};

/*
 * Map the pages of @args that moved to VRAM, unless the CPU side changed:
 * a 2 MiB device folio with one 2 MiB leaf (512 leaves where a table of
 * 4 KiB leaves is still in use there).
 */
static void hmmdev_map_migrated(struct hmmdev_mirror *m,
				struct migrate_vma *args, unsigned long seq)
{
	unsigned long i, p, nr;
	bool replaced;
	int ret = 0;

	mutex_lock(&m->lock);
	if (m->dead || mmu_interval_read_retry(&m->notifier, seq)) {
		mutex_unlock(&m->lock);
		return;
	}
	for (i = 0; i < args->npages && !ret; i += nr) {
		struct page *dpage = migrate_pfn_to_page(args->dst[i]);
		u64 va = args->start + (i << PAGE_SHIFT), leaf;

		nr = args->dst[i] & MIGRATE_PFN_COMPOUND ? HMMDEV_DM_BLOCK : 1;
		if (!dpage || !(args->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		leaf = hmmdev_devmem_offset(m->hd, dpage) | HMMDEV_PTE_VALID |
		       HMMDEV_PTE_VRAM |
		       (args->src[i] & MIGRATE_PFN_WRITE ? HMMDEV_PTE_WRITE : 0);
		if (nr > 1) {
			ret = hmmdev_pt_map(m, va, leaf | HMMDEV_PTE_HUGE,
					    &replaced);
			if (ret != -EEXIST)
				continue;
		}
		for (p = 0, ret = 0; p < nr && !ret; p++)
			ret = hmmdev_pt_map(m, va + (p << PAGE_SHIFT),
					    leaf + (p << PAGE_SHIFT), &replaced);
	}
	/* an error (no table page left): the device faults later */
	mutex_unlock(&m->lock);
}

/*
 * A 4 KiB device page, initialised and locked, or NULL (VRAM is full);
 * @left: pages still to come (a hint)
 */
static struct page *hmmdev_dev_page(struct hmmdev_page_pool *pool,
				    struct hmmdev *hd, unsigned long left)
{
	struct page *page;

	if (pool->next == pool->count) {
		pool->next = 0;
		pool->count = hmmdev_devmem_reserve(hd, pool->page,
						    clamp_t(unsigned long, left,
							    1, HMMDEV_PAGE_POOL));
		if (!pool->count)
			return NULL;
	}
	page = pool->page[pool->next++];
	hmmdev_device_page_init(page, &hd->pgmap, 0);
	return page;
}

static void hmmdev_dev_pages_put(struct hmmdev_page_pool *pool,
				 struct hmmdev *hd)
{
	hmmdev_devmem_unreserve(hd, pool->page + pool->next,
				pool->count - pool->next);
	pool->next = 0;
	pool->count = 0;
}

/*
 * One entry of a chunk going to VRAM: a 2 MiB device folio for a THP (or a
 * 2 MiB hole), else @nr 4 KiB device pages -- for a THP that found no free
 * block the core splits it (MIGRATE_PFN_COMPOUND left off dst).  Adds the
 * items to @b at *@k; @left: pages of the chunk from @i on.  Return: false
 * when VRAM is full.
 */
static bool hmmdev_migrate_alloc(struct hmmdev_mirror *m,
				 struct hmmdev_migrate_buf *b, unsigned long i,
				 unsigned long nr, unsigned long left,
				 unsigned long *k)
{
	struct hmmdev *hd = m->hd;
	struct page *spage = migrate_pfn_to_page(b->src[i]), *dpage = NULL;
	bool huge = b->src[i] & MIGRATE_PFN_COMPOUND;
	unsigned long p;

	if (huge && !hmmdev_mirror_fail_alloc(m))
		dpage = hmmdev_devmem_alloc_huge(hd);
	if (dpage) {
		b->sys[*k] = spage;
		b->dev[*k] = dpage;
		b->order[*k] = HMMDEV_DEVICE_THP_ORDER;
		b->dst[i] = migrate_pfn(page_to_pfn(dpage)) |
			    MIGRATE_PFN_COMPOUND;
		b->idx[(*k)++] = i;
		return true;
	}
	if (huge)
		atomic64_inc(&hd->thp_fallbacks);
	for (p = 0; p < nr; p++) {
		dpage = hmmdev_dev_page(&b->pool, hd, left - p);
		if (!dpage)
			return false;
		b->sys[*k] = spage ? spage + p : NULL;
		b->dev[*k] = dpage;
		b->order[*k] = 0;
		b->dst[i + p] = migrate_pfn(page_to_pfn(dpage));
		b->idx[(*k)++] = i + p;
	}
	return true;
}

/* System pages of [start, end) (one VMA, one chunk) -> VRAM. */
/*
 * A 2 MiB block that moves as 4 KiB device pages (a THP or a hole with no
 * 2 MiB block free) moves whole or not at all: when one of its pages was
 * not copied, none of them counts as copied.  The core inserts a hole's
 * pages one by one from its head entry without looking at each
 * destination (migrate_vma_insert_page() on a cleared one oopses), and a
 * THP split for a partial move is not worth it here.
 */
static void hmmdev_migrate_fail_blocks(struct hmmdev_migrate_buf *b,
				       unsigned long k, u64 start)
{
	u64 head, failed[MIGRATE_CHUNK / HMMDEV_DM_BLOCK + 1];
	unsigned long i, j, n = 0;

	for (i = 0; i < k; i++) {
		if (b->copied[i] || b->order[i] || n == ARRAY_SIZE(failed))
			continue;
		head = ALIGN_DOWN(start + (b->idx[i] << PAGE_SHIFT), PMD_SIZE);
		if (head >= start &&
		    b->src[(head - start) >> PAGE_SHIFT] & MIGRATE_PFN_COMPOUND)
			failed[n++] = head;
	}
	for (i = 0; i < k && n; i++)
		for (j = 0; j < n; j++)
			if (ALIGN_DOWN(start + (b->idx[i] << PAGE_SHIFT),
				       PMD_SIZE) == failed[j])
				b->copied[i] = false;
}

static int hmmdev_migrate_chunk(struct hmmdev_mirror *m,
				struct hmmdev_migrate_buf *b,
				struct vm_area_struct *vma, u64 start, u64 end,
				u64 *cpages)
{
	struct hmmdev *hd = m->hd;
	struct migrate_vma args = {
		.vma = vma, .start = start, .end = end,
		.src = b->src, .dst = b->dst,
		.pgmap_owner = hd,
		.flags = MIGRATE_VMA_SELECT_SYSTEM |
			 hmmdev_devmem_select_huge(hd),
	};
	unsigned long i, k, nr, seq;
	u64 t0 = ktime_get_ns(), begin = t0, before = *cpages;
	int ret;

	memset(b->src, 0, sizeof(b->src));
	memset(b->dst, 0, sizeof(b->dst));
	ret = migrate_vma_setup(&args);
	if (ret)
		return ret;
	seq = mmu_interval_read_begin(&m->notifier);
	hmmdev_mig_time(hd, HMMDEV_MIG_TO_DEV, HMMDEV_MIG_SETUP, &t0);
	b->pool.next = 0;
	b->pool.count = 0;
	for (i = 0, k = 0; i < args.npages; i += nr) {
		nr = b->src[i] & MIGRATE_PFN_COMPOUND ?
		     min_t(unsigned long, HMMDEV_DM_BLOCK, args.npages - i) : 1;
		if (!(b->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		if (!hmmdev_migrate_alloc(m, b, i, nr, args.npages - i, &k))
			break;          /* VRAM full: the rest stays in RAM */
	}
	hmmdev_dev_pages_put(&b->pool, hd);
	hmmdev_mig_time(hd, HMMDEV_MIG_TO_DEV, HMMDEV_MIG_ALLOC, &t0);
	ret = hmmdev_devmem_copy(hd, b->sys, b->dev, b->order, b->copied, k,
				 true);
	hmmdev_mig_time(hd, HMMDEV_MIG_TO_DEV, HMMDEV_MIG_COPY, &t0);
	hmmdev_migrate_fail_blocks(b, k, start);
	/* a page that was not copied stays in RAM */
	for (i = 0; i < k; i++) {
		nr = 1UL << b->order[i];
		if (b->copied[i]) {
			atomic64_add(nr, &hd->migrations_to_dev);
			if (nr > 1)
				atomic64_inc(&hd->thp_to_dev);
			*cpages += nr;
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
	trace_hmmdev_migrate(hd->id, HMMDEV_MIG_TO_DEV, start, end, args.cpages,
			     *cpages - before, false, begin);
	return ret;
}

/*
 * Fault injection (debugfs back_delay_ms): a 2 MiB page moving back whole
 * stays unmapped -- a PMD migration entry in every process that maps it --
 * this long, so that a test can zap it meanwhile (hmmdev-huge).
 */
static void hmmdev_back_delay(struct hmmdev *hd, struct migrate_vma *args)
{
	unsigned int ms = READ_ONCE(hd->back_delay_ms);
	unsigned long i;

	for (i = 0; ms && i < args->npages; i++)
		if ((args->src[i] & MIGRATE_PFN_MIGRATE) &&
		    (args->src[i] & MIGRATE_PFN_COMPOUND)) {
			msleep(min(ms, 10000u));
			return;
		}
}

/**
 * hmmdev_migrate_vma_back() - our device pages of @args' range -> RAM
 * @hd: the device
 * @args: vma, start, end, src/dst arrays (src zeroed), pgmap_owner, flags
 *	and, for migrate_to_ram, fault_page, all set by the caller
 * @m: the mirror whose HMM_DMIRROR_FLAG_FAIL_ALLOC applies, or NULL
 * @moved: out: pages moved
 *
 * Return: 0, the error of migrate_vma_setup(), or -EIO when the fault page
 * was lost (hmmdev_devmem_copy_back()).
 */
int hmmdev_migrate_vma_back(struct hmmdev *hd, struct migrate_vma *args,
			    struct hmmdev_mirror *m, unsigned long *moved)
{
	u64 t0 = ktime_get_ns(), begin = t0;
	unsigned long i;
	int ret, lost;

	*moved = 0;
	ret = migrate_vma_setup(args);
	if (ret)
		return ret;
	hmmdev_mig_time(hd, HMMDEV_MIG_TO_RAM, HMMDEV_MIG_SETUP, &t0);
	hmmdev_back_delay(hd, args);
	lost = hmmdev_devmem_copy_back(hd, args->src, args->dst, args->npages,
				       args->vma, args->start, args->fault_page,
				       m, NULL);
	for (i = 0; i < args->npages; i++)
		if (args->dst[i])
			*moved += args->dst[i] & MIGRATE_PFN_COMPOUND ?
				  HMMDEV_DM_BLOCK : 1;
	t0 = ktime_get_ns();
	migrate_vma_pages(args);
	hmmdev_mig_time(hd, HMMDEV_MIG_TO_RAM, HMMDEV_MIG_PAGES, &t0);
	migrate_vma_finalize(args);
	hmmdev_mig_time(hd, HMMDEV_MIG_TO_RAM, HMMDEV_MIG_FINALIZE, &t0);
	trace_hmmdev_migrate(hd->id, HMMDEV_MIG_TO_RAM, args->start, args->end,
			     args->cpages, *moved, args->fault_page, begin);
	return lost;
}

/*
 * Our device pages of [start, end) (one VMA, one chunk) -> RAM, 2 MiB ones
 * whole where hmmdev_back_begin() lets them.
 */
static int hmmdev_migrate_back_chunk(struct hmmdev_mirror *m,
				     struct hmmdev_migrate_buf *b,
				     struct vm_area_struct *vma, u64 start,
				     u64 end, u64 *cpages)
{
	struct migrate_vma args = {
		.vma = vma, .start = start, .end = end,
		.src = b->src, .dst = b->dst,
		.pgmap_owner = m->hd,
	};
	struct hmmdev_back_move mv;
	unsigned long moved;
	int ret;

	args.flags = hmmdev_back_begin(m, start, end, b->dst, &mv);
	memset(b->src, 0, sizeof(b->src));
	ret = hmmdev_migrate_vma_back(m->hd, &args, m, &moved);
	hmmdev_back_end(&mv);
	*cpages += moved;
	return ret;
}

typedef int (*hmmdev_chunk_fn)(struct hmmdev_mirror *m,
			       struct hmmdev_migrate_buf *b,
			       struct vm_area_struct *vma, u64 start, u64 end,
			       u64 *cpages);

/* The end of the chunk of @vma at @addr, at most @end. */
static u64 hmmdev_chunk_end(struct vm_area_struct *vma, u64 addr, u64 end)
{
	/* chunks end on 2 MiB boundaries: a THP can move whole */
	return min3(end, vma->vm_end,
		    ALIGN_DOWN(addr, PMD_SIZE) + MIGRATE_CHUNK * PAGE_SIZE);
}

/*
 * The VMA at @addr of @mm (mmap_lock held) if a range that must be mapped
 * and readable may go on there, with *@next the end of its chunk; NULL
 * (-EINVAL for the caller) otherwise.
 */
static struct vm_area_struct *hmmdev_chunk_vma(struct mm_struct *mm, u64 addr,
					       u64 end, u64 *next)
{
	struct vm_area_struct *vma = vma_lookup(mm, addr);

	if (!vma || !(vma->vm_flags & VM_READ))
		return NULL;
	*next = hmmdev_chunk_end(vma, addr, end);
	return vma;
}

static bool parallel_migrate = true;
module_param(parallel_migrate, bool, 0644);
MODULE_PARM_DESC(parallel_migrate,
		 "HMM_DMIRROR_MIGRATE_TO_SYS of more than one chunk (8 MiB): a helper task moves chunks beside the caller (default on)");

/*
 * Two tasks moving one range back to system memory (HMM_DMIRROR_MIGRATE_
 * TO_SYS of more than one chunk): the caller and a helper on the unbound
 * workqueue each take the next chunk in turn.  Per 4 KiB page the kernel's
 * side of a migration -- migrate_vma_setup(), _pages(), _finalize(): rmap
 * walks, page table and LRU updates -- costs the CPU several times what
 * the engines' copy does (debugfs migrate_time), and a second CPU does it
 * beside the first: 64 MiB of 4 KiB pages, Linux 7.3 under TCG, 2 vCPUs,
 * 148 -> 291 MiB/s.  Not to the device: there the two tasks' page
 * unmapping (TLB flushes, LRU isolation) contended, and the time of
 * migrate_vma_setup() summed over both tripled.
 *
 * Each task takes mmap_lock (read) around each chunk itself: the caller
 * holds no lock while it waits for the helper, which could otherwise wait
 * behind a writer that waits for the caller.  @lock: the cursor and the
 * first error, which stops both tasks after their current chunk.  The
 * caller waits for the helper (flush_work()) before its mm reference and
 * the buffers go.
 */
struct hmmdev_split {
	struct hmmdev_mirror *m;
	hmmdev_chunk_fn fn;
	spinlock_t lock;	/* cursor, ret */
	u64 cursor, end;
	int ret;
	atomic64_t cpages;
	struct hmmdev_migrate_buf *helper_buf;
	struct work_struct work;
};

/* Claim the next chunk of @sp (mmap_lock held): false at the end or error. */
static bool hmmdev_split_next(struct hmmdev_split *sp,
			      struct vm_area_struct **vma, u64 *addr, u64 *next)
{
	bool ok = false;

	spin_lock(&sp->lock);
	*addr = sp->cursor;
	if (!sp->ret && *addr < sp->end) {
		*vma = hmmdev_chunk_vma(sp->m->mm, *addr, sp->end, next);
		if (!*vma) {
			sp->ret = -EINVAL;
		} else {
			sp->cursor = *next;
			ok = true;
		}
	}
	spin_unlock(&sp->lock);
	return ok;
}

static void hmmdev_split_stop(struct hmmdev_split *sp, int ret)
{
	spin_lock(&sp->lock);
	sp->ret = sp->ret ?: ret;
	spin_unlock(&sp->lock);
}

/* One task's share of @sp: chunks until the range ends or one fails. */
static void hmmdev_split_run(struct hmmdev_split *sp,
			     struct hmmdev_migrate_buf *b, bool caller)
{
	struct mm_struct *mm = sp->m->mm;
	struct vm_area_struct *vma;
	u64 addr, next, cpages = 0;
	int ret = 0;

	while (!ret) {
		mmap_read_lock(mm);
		if (!hmmdev_split_next(sp, &vma, &addr, &next)) {
			mmap_read_unlock(mm);
			break;
		}
		ret = sp->fn(sp->m, b, vma, addr, next, &cpages);
		mmap_read_unlock(mm);
		if (!ret && !caller)
			atomic64_inc(&sp->m->hd->split_chunks);
		if (!ret && caller && fatal_signal_pending(current))
			ret = -EINTR;	/* killed: the rest stays where it is */
		if (ret)
			hmmdev_split_stop(sp, ret);
	}
	atomic64_add(cpages, &sp->cpages);
}

static void hmmdev_split_helper(struct work_struct *work)
{
	struct hmmdev_split *sp = container_of(work, struct hmmdev_split, work);

	hmmdev_split_run(sp, sp->helper_buf, false);
}

/* [start, end) of the mirror's mm (mmget() held) by two tasks, as above. */
static int hmmdev_migrate_split(struct hmmdev_mirror *m, u64 start, u64 end,
				hmmdev_chunk_fn fn, struct hmmdev_migrate_buf *b,
				struct hmmdev_migrate_buf *helper_buf,
				u64 *cpages)
{
	struct hmmdev_split sp = {
		.m = m, .fn = fn, .cursor = start, .end = end,
		.cpages = ATOMIC64_INIT(0), .helper_buf = helper_buf,
	};

	spin_lock_init(&sp.lock);
	INIT_WORK_ONSTACK(&sp.work, hmmdev_split_helper);
	queue_work(system_dfl_wq, &sp.work);
	hmmdev_split_run(&sp, b, true);
	flush_work(&sp.work);
	destroy_work_on_stack(&sp.work);
	*cpages += atomic64_read(&sp.cpages);
	return sp.ret;
}

/*
 * Run @fn on [start, end) of the mirror's mm, chunk by chunk, VMA by VMA,
 * under mmap_lock.  Without @every_vma the range must be mapped and
 * readable (else -EINVAL) and the first error ends it; with @split, a
 * range of more than one chunk is moved by two tasks
 * (hmmdev_migrate_split()).  With @every_vma, gaps and VMAs migration
 * cannot work on (VM_IO/VM_PFNMAP, hugetlb) are skipped and every chunk is
 * tried, by the caller alone, under one mmap_lock hold.
 */
static int hmmdev_migrate_range(struct hmmdev_mirror *m, u64 start, u64 end,
				hmmdev_chunk_fn fn, bool every_vma, bool split,
				u64 *cpages)
{
	struct hmmdev_migrate_buf *b, *helper_buf = NULL;
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
	if (split && !every_vma && READ_ONCE(parallel_migrate) &&
	    end - start > MIGRATE_CHUNK * PAGE_SIZE)
		helper_buf = kvmalloc_obj(*helper_buf, GFP_KERNEL);
	if (helper_buf) {
		ret = hmmdev_migrate_split(m, start, end, fn, b, helper_buf,
					   cpages);
		kvfree(helper_buf);
		goto out;
	}
	/* one task (also when the helper's buffer could not be had) */
	mmap_read_lock(m->mm);
	for (addr = start; addr < end && !ret; addr = next) {
		if (!every_vma) {
			vma = hmmdev_chunk_vma(m->mm, addr, end, &next);
			if (!vma) {
				ret = -EINVAL;
				break;
			}
		} else {
			vma = find_vma(m->mm, addr);
			if (!vma)
				break;
			if ((vma->vm_flags & VM_SPECIAL) ||
			    is_vm_hugetlb_page(vma)) {
				next = vma->vm_end;	/* migration cannot work there */
				continue;
			}
			addr = max_t(u64, addr, vma->vm_start);
			next = hmmdev_chunk_end(vma, addr, end);
		}
		ret = fn(m, b, vma, addr, next, cpages);
		if (every_vma)
			ret = 0;	/* best effort: the next chunk */
		else if (!ret && fatal_signal_pending(current))
			ret = -EINTR;	/* killed: the rest stays where it is */
	}
	mmap_read_unlock(m->mm);
out:
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
				    false, &moved);
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
				    false, true, cpages);
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
				    hmmdev_migrate_back_chunk, true, false, cpages);
}
