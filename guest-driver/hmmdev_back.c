// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: when a 2 MiB device page may move back to RAM whole.
 *
 * Moving a 2 MiB device page back whole (MIGRATE_VMA_SELECT_COMPOUND)
 * replaces its PMD, in every process that maps it, with a PMD migration
 * entry until migrate_vma_finalize().  Linux 7.3's zap_huge_pmd()
 * (mm/huge_memory.c, zap_huge_pmd_folio()) takes a migration entry of a
 * device-private folio for a device-private entry: zapping one removes a
 * mapping and drops a reference that the entry does not hold, and the folio
 * is freed while it is still mapped (VM_BUG_ON in do_huge_pmd_device_private()
 * or folio_get() at the next fault).  A PTE migration entry is zapped right
 * (zap_nonpresent_ptes()).  Two ways to zap the PMD during the move, and
 * what is done about each:
 *
 *  - another process that maps the page (a fork() child) exits or unmaps
 *    it: a page that may be mapped by more than one process does not move
 *    whole.  The core then splits it (->folio_split) in every process, and
 *    it comes back as 4 KiB pages.  Under the migrating process's mmap_lock
 *    no page of it becomes shared (fork() takes that lock for writing).
 *    A CPU fault cannot have the core split the page it faults on (the
 *    fault's own reference makes split_folio() fail), so a user-mode fault
 *    on such a page moves nothing: it asks for the move on the task's way
 *    back to user mode (task_work), where no lock or reference is held,
 *    and the access is tried again after it (hmmdev_back_fault()).
 *  - a thread of the migrating process zaps the range itself
 *    (madvise(MADV_DONTNEED) takes mmap_lock only for reading): the move is
 *    registered with the process's mirror on this device (struct
 *    hmmdev_back_move), and the mirror's invalidation callback makes every
 *    MMU_NOTIFY_CLEAR or _UNMAP of an overlapping range by another task
 *    wait until the move is done (hmmdev_back_wait()); one that may not
 *    sleep is refused.  An invalidation that began before the move was
 *    registered ends before the move begins (hmmdev_back_register()).  A
 *    process this device does not mirror has no callback to wait in: its
 *    pages do not move whole (a user-mode fault: task_work, as above).
 *
 * Left open: a fault from kernel mode or from another process (GUP,
 * copy_to_user()) on a shared or unmirrored 2 MiB page cannot wait for the
 * task_work and moves the page whole, as Linux's own lib/test_hmm.c always
 * does; a zap at that moment still meets the bug.
 *
 * The callback waits before it takes mirror->lock, and a move never waits
 * for an invalidation: between hmmdev_back_begin() and _end() the migrating
 * task calls no mmu_interval_read_begin(), and the invalidations it causes
 * itself (migrate_vma_setup()'s MMU_NOTIFY_MIGRATE, a split's
 * try_to_migrate()) do not wait: the first is no zap, the second comes from
 * the registered task.  A mirror's file
 * release waits for its moves before removing the notifier
 * (hmmdev_back_close()).  Counter thp_zap_waits: invalidations that
 * waited.
 */
#include <linux/hmm.h>
#include <linux/migrate.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/task_work.h>

#include "hmmdev.h"

/*
 * Does [start, end) of the mirror's mm (mmap_lock held) hold one of our
 * 2 MiB device pages that another process may map too?  @pfns: scratch for
 * the range; @seq: from mmu_interval_read_begin().  When the CPU page
 * tables cannot be read (they changed, an error), the answer is yes.
 */
static bool hmmdev_range_shares_thp(struct hmmdev_mirror *m, u64 start,
				    u64 end, unsigned long *pfns,
				    unsigned long seq)
{
	struct hmm_range range = {
		.notifier = &m->notifier,
		.notifier_seq = seq,
		.start = start,
		.end = end,
		.hmm_pfns = pfns,
		.dev_private_owner = m->hd->pgmap_owner,
	};
	unsigned long i, npages = (end - start) >> PAGE_SHIFT;
	struct page *page;

	if (hmm_range_fault(&range))
		return true;
	for (i = 0; i < npages; i++) {
		if (!(pfns[i] & HMM_PFN_VALID) ||
		    hmm_pfn_to_map_order(pfns[i]) != HMMDEV_DEVICE_THP_ORDER)
			continue;
		page = hmm_pfn_to_page(pfns[i]);
		if (hmmdev_devmem_ours(m->hd, page) &&
		    hmmdev_folio_maybe_shared(page_folio(page)))
			return true;
	}
	return false;
}

/* A published mirror of @mm on @hd, with a reference, or NULL. */
static struct hmmdev_mirror *hmmdev_mirror_of_mm(struct hmmdev *hd,
						 struct mm_struct *mm)
{
	struct hmmdev_mirror *m = NULL;
	unsigned int ctx;

	spin_lock(&hd->ctx_lock);
	for (ctx = 0; ctx < HMMDEV_NUM_CONTEXTS && !m; ctx++)
		if (hd->mirrors[ctx] && hd->mirrors[ctx]->mm == mm)
			m = hd->mirrors[ctx];
	if (m)
		kref_get(&m->ref);
	spin_unlock(&hd->ctx_lock);
	return m;
}

static void hmmdev_back_unlink(struct hmmdev_mirror *m,
			       struct hmmdev_back_move *mv)
{
	spin_lock(&m->back_lock);
	list_del(&mv->node);
	spin_unlock(&m->back_lock);
	wake_up_all(&m->back_wq);
}

/*
 * Register @mv with @m, so that invalidations that start from now on wait
 * for it, once no invalidation that started before is still running: the
 * sequence is read (mmu_interval_read_begin() waits for those to end)
 * before the registration and checked after it, and the callback moves
 * the sequence on before it looks for moves (hmmdev_mirror_invalidate()).
 * A few tries, then no.  With @pfns (scratch for the range), also no when
 * a page of the range may be shared (hmmdev_range_shares_thp()).
 */
static bool hmmdev_back_register(struct hmmdev_mirror *m,
				 struct hmmdev_back_move *mv,
				 unsigned long *pfns)
{
	unsigned long seq;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		seq = mmu_interval_read_begin(&m->notifier);
		if (pfns && hmmdev_range_shares_thp(m, mv->start, mv->end,
						    pfns, seq))
			return false;
		spin_lock(&m->back_lock);
		if (m->back_closed) {
			spin_unlock(&m->back_lock);
			return false;
		}
		list_add(&mv->node, &m->back_moves);
		spin_unlock(&m->back_lock);
		if (!mmu_interval_read_retry(&m->notifier, seq))
			return true;
		hmmdev_back_unlink(m, mv);
	}
	return false;
}

/**
 * hmmdev_back_begin() - the migrate_vma flags for moving a mirror's pages back
 * @m: the mirror (HMM_DMIRROR_MIGRATE_TO_SYS, eviction); its mm's mmap_lock
 *	held
 * @start: first byte of the range
 * @end: one past the last
 * @scratch: (@end - @start) / PAGE_SIZE entries
 * @mv: out: the registration; hmmdev_back_end() whatever the flags
 *
 * Return: hmmdev_devmem_select(), without MIGRATE_VMA_SELECT_COMPOUND when a
 * 2 MiB page must not move whole (see above).
 */
unsigned long hmmdev_back_begin(struct hmmdev_mirror *m, u64 start, u64 end,
				unsigned long *scratch,
				struct hmmdev_back_move *mv)
{
	unsigned long flags = hmmdev_devmem_select(m->hd);

	mv->m = NULL;
	if (!(flags & HMMDEV_SELECT_COMPOUND))
		return flags;
	mv->start = start;
	mv->end = end;
	mv->task = current;
	if (!hmmdev_back_register(m, mv, scratch))
		return flags & ~HMMDEV_SELECT_COMPOUND;
	kref_get(&m->ref);
	mv->m = m;
	return flags;
}

/* A move asked for by a CPU fault, run on the way back to user mode. */
struct hmmdev_back_later {
	struct callback_head cb;
	struct hmmdev *hd;
	unsigned long addr;	/* of the 2 MiB page */
};

static void hmmdev_back_later_run(struct callback_head *cb)
{
	struct hmmdev_back_later *bl = container_of(cb, typeof(*bl), cb);
	struct hmmdev *hd = bl->hd;
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	unsigned long *pfns, moved;
	struct migrate_vma args = {
		.pgmap_owner = hd,
		.flags = hmmdev_devmem_select(hd) & ~HMMDEV_SELECT_COMPOUND,
	};

	pfns = kcalloc(2 * HMMDEV_DM_BLOCK, sizeof(*pfns), GFP_KERNEL);
	if (pfns && mm && !mmap_read_lock_killable(mm)) {
		vma = vma_lookup(mm, bl->addr);
		if (vma) {
			args.vma = vma;
			args.start = max(bl->addr, vma->vm_start);
			args.end = min(bl->addr + PMD_SIZE, vma->vm_end);
			args.src = pfns;
			args.dst = pfns + HMMDEV_DM_BLOCK;
			if (!hmmdev_migrate_vma_back(hd, &args, NULL, &moved))
				atomic64_add(moved, &hd->migrations_to_ram);
			atomic64_inc(&hd->thp_unshares);
		}
		mmap_read_unlock(mm);
	}
	kfree(pfns);
	hmmdev_put(hd);
	kfree(bl);
	module_put(THIS_MODULE);
}

/**
 * hmmdev_back_fault() - how a CPU fault on our 2 MiB page @folio moves it
 * @hd: the device
 * @vmf: the fault (mmap_lock held, @folio locked by the core)
 * @folio: the device folio the PMD maps
 * @mv: out: the registration; hmmdev_back_end() whatever the answer
 *
 * Return: true to move it now, whole; false when the move was left to the
 * task's way back to user mode (the fault then returns without a move).
 */
bool hmmdev_back_fault(struct hmmdev *hd, struct vm_fault *vmf,
		       struct folio *folio, struct hmmdev_back_move *mv)
{
	struct mm_struct *mm = vmf->vma->vm_mm;
	struct hmmdev_back_later *bl;
	struct hmmdev_mirror *m;

	mv->m = NULL;
	m = hmmdev_folio_maybe_shared(folio) ? NULL :
	    hmmdev_mirror_of_mm(hd, mm);
	if (m) {
		mv->start = vmf->address & PMD_MASK;
		mv->end = mv->start + PMD_SIZE;
		mv->task = current;
		if (hmmdev_back_register(m, mv, NULL)) {
			mv->m = m;
			return true;
		}
		hmmdev_mirror_put(m);
	}
	if (!(vmf->flags & FAULT_FLAG_USER) || current->mm != mm ||
	    (current->flags & PF_KTHREAD))
		return true;	/* cannot wait: see "Left open" above */
	bl = kzalloc_obj(*bl, GFP_KERNEL);
	if (!bl)
		return true;
	bl->hd = hd;
	bl->addr = vmf->address & PMD_MASK;
	init_task_work(&bl->cb, hmmdev_back_later_run);
	__module_get(THIS_MODULE);
	kref_get(&hd->ref);
	if (task_work_add(current, &bl->cb, TWA_RESUME)) {
		hmmdev_put(hd);
		module_put(THIS_MODULE);
		kfree(bl);
		return true;
	}
	return false;
}

/* The move registered by hmmdev_back_begin() is done. */
void hmmdev_back_end(struct hmmdev_back_move *mv)
{
	struct hmmdev_mirror *m = mv->m;

	if (!m)
		return;
	hmmdev_back_unlink(m, mv);
	hmmdev_mirror_put(m);
}

/* Does a move of another task overlap [start, end)? */
static bool hmmdev_back_busy(struct hmmdev_mirror *m, u64 start, u64 end)
{
	struct hmmdev_back_move *mv;
	bool busy = false;

	spin_lock(&m->back_lock);
	list_for_each_entry(mv, &m->back_moves, node)
		busy |= mv->task != current && mv->start < end &&
			start < mv->end;
	spin_unlock(&m->back_lock);
	return busy;
}

/**
 * hmmdev_back_wait() - hold back an invalidation that may zap a moving page
 * @m: the mirror whose callback runs
 * @range: the invalidation
 *
 * Return: false when it would have to wait but may not sleep.
 */
bool hmmdev_back_wait(struct hmmdev_mirror *m,
		      const struct mmu_notifier_range *range)
{
	if ((range->event != MMU_NOTIFY_CLEAR &&
	     range->event != MMU_NOTIFY_UNMAP) ||
	    !hmmdev_back_busy(m, range->start, range->end))
		return true;
	if (!mmu_notifier_range_blockable(range))
		return false;
	atomic64_inc(&m->hd->thp_zap_waits);
	wait_event(m->back_wq, !hmmdev_back_busy(m, range->start, range->end));
	return true;
}

static bool hmmdev_back_idle(struct hmmdev_mirror *m)
{
	bool idle;

	spin_lock(&m->back_lock);
	idle = list_empty(&m->back_moves);
	spin_unlock(&m->back_lock);
	return idle;
}

/* File release: no new moves for @m, and the ones running end first. */
void hmmdev_back_close(struct hmmdev_mirror *m)
{
	spin_lock(&m->back_lock);
	m->back_closed = true;
	spin_unlock(&m->back_lock);
	wait_event(m->back_wq, hmmdev_back_idle(m));
}
