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
 *  - a fault from kernel mode or from another process on a shared or
 *    unmirrored 2 MiB page has no way back to user mode of its own to wait
 *    on.  The move, split, is queued on hmmdev_back_wq instead (struct
 *    hmmdev_back_work), where it holds no lock or reference of the fault,
 *    and the fault ends without a move: a device fault of this driver
 *    (hmm_range_fault() inside hmmdev_mirror_range_fault(), from a fault
 *    worker or an ioctl: a registered struct hmmdev_back_caller) returns
 *    VM_FAULT_SIGBUS, which hmm_range_fault() turns into -EFAULT, and the
 *    caller waits for the move without mmap_lock and tries again
 *    (hmmdev_back_caller_wait()); a fault that may be retried
 *    (FAULT_FLAG_ALLOW_RETRY: GUP, hmm_range_fault_unlocked_timeout())
 *    drops mmap_lock and returns VM_FAULT_RETRY.  Counter thp_back_queued.
 *    Such a fault on another device's page is how hmmdev-racer's fork
 *    right after a THP move met the bug.
 *
 * Left open: a fault from kernel mode that may not be retried and is not
 * ours (GUP without FAULT_FLAG_ALLOW_RETRY) still moves the page whole, as
 * Linux's own lib/test_hmm.c always does; a zap at that moment still meets
 * the bug, as does any such fault when there is no memory to queue the
 * move.  Counter thp_back_unsafe.
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
 * the range; @seq: from mmu_interval_read_begin().  Return: 1 yes, 0 no,
 * -EBUSY when an invalidation ran meanwhile (anywhere in the mm: the
 * caller reads again); when the CPU page tables cannot be read (an
 * error), the answer is yes.
 */
static int hmmdev_range_shares_thp(struct hmmdev_mirror *m, u64 start,
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
	int ret = hmm_range_fault(&range);

	if (ret)
		return ret == -EBUSY ? ret : 1;
	for (i = 0; i < npages; i++) {
		if (!(pfns[i] & HMM_PFN_VALID) ||
		    hmm_pfn_to_map_order(pfns[i]) != HMMDEV_DEVICE_THP_ORDER)
			continue;
		page = hmm_pfn_to_page(pfns[i]);
		if (hmmdev_devmem_ours(m->hd, page) &&
		    hmmdev_folio_maybe_shared(page_folio(page)))
			return 1;
	}
	return 0;
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
 * The sequence is the whole mm's: any invalidation in between -- one of
 * the other task's migrations of HMM_DMIRROR_MIGRATE_TO_SYS
 * (hmmdev_migrate_split()) is one every few tries -- means reading again;
 * HMMDEV_BACK_TRIES tries, then no (the move goes split: counter
 * thp_back_split).  With @pfns (scratch for the range), also no when a
 * page of the range may be shared (hmmdev_range_shares_thp()).
 */
#define HMMDEV_BACK_TRIES	16
static bool hmmdev_back_register(struct hmmdev_mirror *m,
				 struct hmmdev_back_move *mv,
				 unsigned long *pfns)
{
	unsigned long seq;
	int tries, shared;

	for (tries = 0; tries < HMMDEV_BACK_TRIES; tries++) {
		seq = mmu_interval_read_begin(&m->notifier);
		shared = pfns ? hmmdev_range_shares_thp(m, mv->start, mv->end,
							pfns, seq) : 0;
		if (shared == -EBUSY)
			continue;
		if (shared)
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
	atomic64_inc(&m->hd->thp_back_split);
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

/*
 * Move our pages of the 2 MiB page at @addr of @mm (a reference held) back,
 * 4 KiB at a time: the core splits the folio first (->folio_split) in
 * every process that maps it.  No lock or reference of a fault is held.
 */
static void hmmdev_back_split(struct hmmdev *hd, struct mm_struct *mm,
			      unsigned long addr)
{
	struct vm_area_struct *vma;
	unsigned long *pfns, moved;
	struct migrate_vma args = {
		.pgmap_owner = hd,
		.flags = hmmdev_devmem_select(hd) & ~HMMDEV_SELECT_COMPOUND,
	};

	pfns = kcalloc(2 * HMMDEV_DM_BLOCK, sizeof(*pfns), GFP_KERNEL);
	if (!pfns || mmap_read_lock_killable(mm)) {
		kfree(pfns);
		return;
	}
	vma = vma_lookup(mm, addr);
	if (vma) {
		args.vma = vma;
		args.start = max(addr, vma->vm_start);
		args.end = min(addr + PMD_SIZE, vma->vm_end);
		args.src = pfns;
		args.dst = pfns + HMMDEV_DM_BLOCK;
		if (!hmmdev_migrate_vma_back(hd, &args, NULL, &moved))
			atomic64_add(moved, &hd->migrations_to_ram);
		atomic64_inc(&hd->thp_unshares);
	}
	mmap_read_unlock(mm);
	kfree(pfns);
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

	if (current->mm)
		hmmdev_back_split(bl->hd, current->mm, bl->addr);
	hmmdev_put(bl->hd);
	kfree(bl);
	module_put(THIS_MODULE);
}

/* Ask for the move on the task's way back to user mode: false if not. */
static bool hmmdev_back_later(struct hmmdev *hd, unsigned long addr)
{
	struct hmmdev_back_later *bl = kzalloc_obj(*bl, GFP_KERNEL);

	if (!bl)
		return false;
	bl->hd = hd;
	bl->addr = addr;
	init_task_work(&bl->cb, hmmdev_back_later_run);
	__module_get(THIS_MODULE);
	kref_get(&hd->ref);
	if (!task_work_add(current, &bl->cb, TWA_RESUME))
		return true;
	hmmdev_put(hd);
	module_put(THIS_MODULE);
	kfree(bl);
	return false;
}

/**
 * struct hmmdev_back_work - a split move queued on hmmdev_back_wq
 * @work: on hmmdev_back_wq
 * @node: in hmmdev_back_works while queued or running
 * @ref: the queue's, and one per caller waiting (hmmdev_back_caller)
 * @done: completed when the move has run
 * @hd: the device (a reference)
 * @mm: the process (mmgrab())
 * @addr: the 2 MiB page
 *
 * One per (@mm, @addr) at a time: a fault that finds one waits for it.
 */
struct hmmdev_back_work {
	struct work_struct work;
	struct list_head node;
	struct kref ref;
	struct completion done;
	struct hmmdev *hd;
	struct mm_struct *mm;
	unsigned long addr;
};

/*
 * hmmdev_back_lock (a spinlock, innermost, taken under any of the driver's
 * locks and under mmap_lock) protects the two lists: the queued works and
 * the driver's callers of hmm_range_fault() (hmmdev_back_caller_begin()).
 * hmmdev_back_wq is unbound and made at module load, destroyed (after
 * every device is gone) at unload.
 */
static DEFINE_SPINLOCK(hmmdev_back_lock);
static LIST_HEAD(hmmdev_back_works);
static LIST_HEAD(hmmdev_back_callers);
static struct workqueue_struct *hmmdev_back_wq;

static void hmmdev_back_work_free(struct kref *ref)
{
	struct hmmdev_back_work *bw = container_of(ref, typeof(*bw), ref);

	mmdrop(bw->mm);
	hmmdev_put(bw->hd);
	kfree(bw);
}

static void hmmdev_back_work_run(struct work_struct *work)
{
	struct hmmdev_back_work *bw = container_of(work, typeof(*bw), work);

	if (mmget_not_zero(bw->mm)) {
		hmmdev_back_split(bw->hd, bw->mm, bw->addr);
		mmput(bw->mm);
	}
	spin_lock(&hmmdev_back_lock);
	list_del(&bw->node);
	spin_unlock(&hmmdev_back_lock);
	complete_all(&bw->done);
	kref_put(&bw->ref, hmmdev_back_work_free);
}

/*
 * The queued move of the 2 MiB page at @addr of @mm, queued now if there
 * is none, with a reference for the caller; NULL without memory.
 */
static struct hmmdev_back_work *hmmdev_back_queue(struct hmmdev *hd,
						  struct mm_struct *mm,
						  unsigned long addr)
{
	struct hmmdev_back_work *bw, *new = kzalloc_obj(*new, GFP_KERNEL);

	spin_lock(&hmmdev_back_lock);
	list_for_each_entry(bw, &hmmdev_back_works, node) {
		if (bw->mm == mm && bw->addr == addr) {
			kref_get(&bw->ref);
			spin_unlock(&hmmdev_back_lock);
			kfree(new);
			return bw;
		}
	}
	bw = new;
	if (bw) {
		INIT_WORK(&bw->work, hmmdev_back_work_run);
		kref_init(&bw->ref);
		kref_get(&bw->ref);
		init_completion(&bw->done);
		bw->hd = hd;
		kref_get(&hd->ref);
		bw->mm = mm;
		mmgrab(mm);
		bw->addr = addr;
		list_add(&bw->node, &hmmdev_back_works);
		atomic64_inc(&hd->thp_back_queued);
		queue_work(hmmdev_back_wq, &bw->work);
	}
	spin_unlock(&hmmdev_back_lock);
	return bw;
}

/**
 * hmmdev_back_caller_begin() - the current task calls hmm_range_fault()
 * @c: on the caller's stack until hmmdev_back_caller_end()
 *
 * A fault on one of our 2 MiB pages that must not move whole then ends
 * with VM_FAULT_SIGBUS and leaves @c the move to wait for
 * (hmmdev_back_caller_wait()).
 */
void hmmdev_back_caller_begin(struct hmmdev_back_caller *c)
{
	c->task = current;
	c->wait = NULL;
	spin_lock(&hmmdev_back_lock);
	list_add(&c->node, &hmmdev_back_callers);
	spin_unlock(&hmmdev_back_lock);
}

void hmmdev_back_caller_end(struct hmmdev_back_caller *c)
{
	spin_lock(&hmmdev_back_lock);
	list_del(&c->node);
	spin_unlock(&hmmdev_back_lock);
	if (c->wait)
		kref_put(&c->wait->ref, hmmdev_back_work_free);
	c->wait = NULL;
}

/**
 * hmmdev_back_caller_wait() - wait for the move a fault of @c queued
 * @c: the registration; mmap_lock not held
 * @timeout: jiffies at most
 *
 * Return: true if @c's hmm_range_fault() left a move (its -EFAULT is then
 * no error: try again), false if it did not.
 */
bool hmmdev_back_caller_wait(struct hmmdev_back_caller *c,
			     unsigned long timeout)
{
	struct hmmdev_back_work *bw = c->wait;

	if (!bw)
		return false;
	c->wait = NULL;
	wait_for_completion_timeout(&bw->done, timeout);
	kref_put(&bw->ref, hmmdev_back_work_free);
	return true;
}

/* The registration of the current task, if it has one; hmmdev_back_lock. */
static struct hmmdev_back_caller *hmmdev_back_caller_current(void)
{
	struct hmmdev_back_caller *c;

	list_for_each_entry(c, &hmmdev_back_callers, node)
		if (c->task == current)
			return c;
	return NULL;
}

/*
 * A fault that cannot wait for the task_work: queue the split move and say
 * what the fault returns (see "a fault from kernel mode" above), or false
 * to move the page whole now.
 */
static bool hmmdev_back_elsewhere(struct hmmdev *hd, struct vm_fault *vmf,
				  vm_fault_t *ret)
{
	struct mm_struct *mm = vmf->vma->vm_mm;
	unsigned long addr = vmf->address & PMD_MASK;
	struct hmmdev_back_caller *c;
	struct hmmdev_back_work *bw;
	bool ours;

	spin_lock(&hmmdev_back_lock);
	c = hmmdev_back_caller_current();
	ours = c && !c->wait;
	spin_unlock(&hmmdev_back_lock);
	if (!ours && !(vmf->flags & FAULT_FLAG_ALLOW_RETRY))
		goto whole;
	bw = hmmdev_back_queue(hd, mm, addr);
	if (!bw)
		goto whole;
	if (ours) {
		c->wait = bw;	/* only the task itself reads or sets it */
		*ret = VM_FAULT_SIGBUS;
		return true;
	}
	kref_put(&bw->ref, hmmdev_back_work_free);
	if (!(vmf->flags & FAULT_FLAG_RETRY_NOWAIT))
		release_fault_lock(vmf);
	*ret = VM_FAULT_RETRY;
	return true;
whole:
	atomic64_inc(&hd->thp_back_unsafe);
	return false;
}

/**
 * hmmdev_back_fault() - how a CPU fault on our 2 MiB page @folio moves it
 * @hd: the device
 * @vmf: the fault (mmap_lock held, @folio locked by the core)
 * @folio: the device folio the PMD maps
 * @mv: out: the registration; hmmdev_back_end() whatever the answer
 * @ret: out, when the answer is false: what the fault returns
 *
 * Return: true to move it now, whole; false when the move was left to the
 * task's way back to user mode or to hmmdev_back_wq (the fault then
 * returns *@ret without a move).
 */
bool hmmdev_back_fault(struct hmmdev *hd, struct vm_fault *vmf,
		       struct folio *folio, struct hmmdev_back_move *mv,
		       vm_fault_t *ret)
{
	struct mm_struct *mm = vmf->vma->vm_mm;
	struct hmmdev_mirror *m;

	mv->m = NULL;
	*ret = 0;
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
	if ((vmf->flags & FAULT_FLAG_USER) && current->mm == mm &&
	    !(current->flags & PF_KTHREAD) &&
	    hmmdev_back_later(hd, vmf->address & PMD_MASK))
		return false;
	return !hmmdev_back_elsewhere(hd, vmf, ret);
}

int hmmdev_back_init(void)
{
	hmmdev_back_wq = alloc_workqueue("hmmdev-back", WQ_UNBOUND, 0);
	return hmmdev_back_wq ? 0 : -ENOMEM;
}

/* After every device is gone: the queued moves run, then it goes. */
void hmmdev_back_exit(void)
{
	destroy_workqueue(hmmdev_back_wq);
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
