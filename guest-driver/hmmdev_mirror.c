// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: a mirror -- one device context that mirrors one process's
 * page tables.
 *
 * Lifetime.  A mirror is created when /dev/hmm_dmirrorN (or a VA job on
 * /dev/hmmdevN) is first used by a process and is bound to that process's
 * mm: it holds mmgrab() on the mm (the struct, not the address space) and
 * one interval notifier covering the whole address space.  The device
 * context (ctx) and its page tables belong to the mirror.  The mirror holds
 * a reference on struct hmmdev; hd->mirrors[ctx] (ctx_lock) lets the fault
 * service find it, taking a reference of its own.  File release destroys
 * the mirror: notifier removed (no callback runs afterwards), context
 * unpublished, disabled and invalidated, page tables reaped and freed, mm
 * dropped.  When the PCI device goes away first, hmmdev_mirrors_detach()
 * reaps every published mirror's tables and marks it dead, and remove then
 * waits for a release that unpublished its mirror before (see
 * hmmdev_mirror_destroy()); a dead mirror never touches the device again.
 *
 * Locking.  mirror->lock serialises every change of the mirror's device
 * page tables with the invalidation callback, and is the lock of the
 * mmu_interval_read_begin()/mmu_interval_read_retry() protocol
 * (Documentation/mm/hmm.rst): the fault service installs entries only
 * under mirror->lock after read_retry() said the CPU page tables did not
 * change.  The callback runs under mmap_lock or from reclaim: under
 * mirror->lock nothing allocates memory, and it only ever takes cq.lock
 * and pt_lock inside.
 *
 * Engines.  A job on virtual addresses can stall its engine on a fault, and
 * the fault service can wait for a migration whose copy needs an engine
 * (hmm_range_fault() sleeps on migration entries).  hd->va_jobs admits at
 * most engines - 1 such jobs, so one engine is always free for copies:
 * the job ring is FIFO, so a copy behind stalled jobs still finds it.  A
 * device with a single engine admits one VA job, and its migrations copy
 * with the CPU (hmmdev_migrate.c), never waiting for that engine.
 */
#include <linux/hmm.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "hmmdev.h"
#include "hmmdev_trace.h"

/* Enable @ctx for @mm's mirror with page tables at @root, or disable it. */
static void hmmdev_ctx_program(struct hmmdev *hd, u16 ctx, u64 root,
			       struct mm_struct *mm)
{
	u32 reg = HMMDEV_REG_CTX_BASE + ctx * HMMDEV_CTX_STRIDE;

	if (mm) {
		writeq(root, hd->regs + reg + HMMDEV_CTX_ROOT);
		hmmdev_oracle_bind(hd, ctx, mm);
	}
	hmmdev_wr32(hd, reg + HMMDEV_CTX_CTRL, !!mm);
	if (!mm)
		hmmdev_oracle_bind(hd, ctx, NULL);
}

/*
 * Remove the device's view of [start, end): zap the leaves, make the
 * device drop and stop using their translations, unmap the pages.
 */
static void hmmdev_mirror_unmap(struct hmmdev_mirror *m, u64 start, u64 end)
{
	lockdep_assert_held(&m->lock);
	if (m->dead || !hmmdev_pt_zap(m, start, end))
		return;
	hmmdev_invalidate(m->hd, m->ctx, start, end);
	hmmdev_pt_reap(m, start, end);
}

static bool hmmdev_mirror_invalidate_range(struct hmmdev_mirror *m,
					   struct mmu_interval_notifier *mni,
					   const struct mmu_notifier_range *range,
					   unsigned long cur_seq)
{
	/*
	 * No MMU_NOTIFY_MIGRATE filtering, not even for our own migrations:
	 * this callback is what makes the device stop using a page before a
	 * migration copies it (migrate_vma_setup() unmaps the CPU side first,
	 * and the device must do the same before the copy).  Only our own
	 * hmmdev_make_page_exclusive() is ignored: it turns the CPU's entry
	 * for a page into one the device is about to map exclusively (the
	 * same page), and counting it would make hmmdev_make_exclusive()'s
	 * read_retry() fail forever.  The CPU taking the page back notifies
	 * with no owner and does reach the device.
	 */
	if (range->event == MMU_NOTIFY_EXCLUSIVE &&
	    range->owner == m->hd->pgmap_owner)
		return true;
	if (hmmdev_seeded(m->hd, HMMDEV_SEED_OWN_MIGRATION) &&
	    range->event == MMU_NOTIFY_MIGRATE &&
	    range->owner == m->hd->pgmap_owner)
		return true;            /* a seeded bug (hmmdev.h) */
	/*
	 * The sequence moves on first, before looking for moves it must wait
	 * for (hmmdev_back.c) and before mirror->lock: readers that check it
	 * under mirror->lock see it moved either way.
	 */
	mmu_interval_set_seq(mni, cur_seq);
	if (hmmdev_seeded(m->hd, HMMDEV_SEED_SKIP_INVALIDATE) &&
	    (range->event == MMU_NOTIFY_CLEAR ||
	     range->event == MMU_NOTIFY_UNMAP))
		return true;            /* a seeded bug (hmmdev.h) */
	if (!hmmdev_back_wait(m, range))
		return false;
	if (mmu_notifier_range_blockable(range)) {
		mutex_lock(&m->lock);
	} else if (!mutex_trylock(&m->lock)) {
		return false;
	} else if (!m->dead && hmmdev_pt_any(m, range->start, range->end)) {
		/* waiting for the device is not allowed here */
		mutex_unlock(&m->lock);
		return false;
	}
	hmmdev_mirror_unmap(m, range->start, range->end);
	atomic64_inc(&m->hd->notifier_calls);
	mutex_unlock(&m->lock);
	return true;
}

static bool hmmdev_mirror_invalidate(struct mmu_interval_notifier *mni,
				     const struct mmu_notifier_range *range,
				     unsigned long cur_seq)
{
	struct hmmdev_mirror *m = container_of(mni, struct hmmdev_mirror,
					       notifier);
	bool ret;

	trace_hmmdev_notifier_start(m->hd->id, m->ctx, range->event,
				    range->start, range->end,
				    range->owner == m->hd->pgmap_owner,
				    mmu_notifier_range_blockable(range));
	ret = hmmdev_mirror_invalidate_range(m, mni, range, cur_seq);
	trace_hmmdev_notifier_end(m->hd->id, m->ctx, ret);
	return ret;
}

static const struct mmu_interval_notifier_ops hmmdev_mirror_ops = {
	.invalidate = hmmdev_mirror_invalidate,
};

/*
 * Contexts one process may hold on one device, so that a process opening
 * file after file cannot take every context from the others.
 */
static unsigned int contexts_per_process = 16;
module_param(contexts_per_process, uint, 0644);
MODULE_PARM_DESC(contexts_per_process,
		 "device contexts one process may hold per device (default 16)");

/* ctx_lock held: contexts of @mm in use */
static unsigned int hmmdev_mm_contexts(struct hmmdev *hd, struct mm_struct *mm)
{
	unsigned int ctx, n = 0;

	lockdep_assert_held(&hd->ctx_lock);
	for (ctx = 0; ctx < HMMDEV_NUM_CONTEXTS; ctx++)
		n += hd->mirrors[ctx] && hd->mirrors[ctx]->mm == mm;
	return n;
}

/**
 * hmmdev_mirror_create() - a device context mirroring current->mm
 * @hd: the device
 *
 * Return: the mirror or an ERR_PTR (-EBUSY: all contexts in use, or the
 * process holds contexts_per_process of them; -ENOMEM).
 */
struct hmmdev_mirror *hmmdev_mirror_create(struct hmmdev *hd)
{
	struct hmmdev_mirror *m;
	int ctx, ret;

	m = kzalloc_obj(*m, GFP_KERNEL);
	if (!m)
		return ERR_PTR(-ENOMEM);
	kref_init(&m->ref);
	mutex_init(&m->lock);
	mutex_init(&m->job_lock);
	spin_lock_init(&m->deferred_lock);
	spin_lock_init(&m->back_lock);
	INIT_LIST_HEAD(&m->back_moves);
	init_waitqueue_head(&m->back_wq);
	m->hd = hd;
	m->fault_around = HMMDEV_FAULT_AROUND_DEFAULT;

	spin_lock(&hd->ctx_lock);
	ctx = find_first_zero_bit(hd->ctx_used, HMMDEV_NUM_CONTEXTS);
	if (hmmdev_mm_contexts(hd, current->mm) >=
	    READ_ONCE(contexts_per_process))
		ctx = HMMDEV_NUM_CONTEXTS;
	if (ctx < HMMDEV_NUM_CONTEXTS)
		__set_bit(ctx, hd->ctx_used);
	spin_unlock(&hd->ctx_lock);
	if (ctx >= HMMDEV_NUM_CONTEXTS) {
		kfree(m);
		return ERR_PTR(-EBUSY);
	}
	m->ctx = ctx;
	m->root = hmmdev_pt_alloc(hd);
	ret = m->root ? 0 : -ENOMEM;
	if (!ret)
		ret = mmu_interval_notifier_insert(&m->notifier, current->mm, 0,
						   ULONG_MAX & PAGE_MASK,
						   &hmmdev_mirror_ops);
	if (ret) {
		if (m->root)
			hmmdev_pt_destroy(m);
		spin_lock(&hd->ctx_lock);
		__clear_bit(ctx, hd->ctx_used);
		spin_unlock(&hd->ctx_lock);
		kfree(m);
		return ERR_PTR(ret);
	}
	m->mm = current->mm;
	mmgrab(m->mm);
	kref_get(&hd->ref);
	hmmdev_ctx_program(hd, ctx, m->root, m->mm);
	spin_lock(&hd->ctx_lock);
	hd->mirrors[ctx] = m;
	spin_unlock(&hd->ctx_lock);
	return m;
}

/* Start a job sequence: one at a time per mirror (fault hint, counters). */
void hmmdev_mirror_jobs_begin(struct hmmdev_mirror *m)
{
	mutex_lock(&m->job_lock);
	atomic_set(&m->job_faults, 0);
	WRITE_ONCE(m->fault_error, 0);
}

void hmmdev_mirror_jobs_end(struct hmmdev_mirror *m)
{
	mutex_unlock(&m->job_lock);
}

/*
 * For the next job: a fault in [start, end) populates the range from the
 * faulting page to @end (the caller holds job_lock).
 */
void hmmdev_mirror_hint(struct hmmdev_mirror *m, int i, u64 start, u64 end)
{
	lockdep_assert_held(&m->job_lock);
	WRITE_ONCE(m->hint[i].start, start);
	WRITE_ONCE(m->hint[i].end, end);
	WRITE_ONCE(m->hint[i].uncounted, false);
}

/* ... and faults there are not counted in job_faults (a dmirror buffer). */
void hmmdev_mirror_hint_uncounted(struct hmmdev_mirror *m, int i, u64 start,
				  u64 end)
{
	hmmdev_mirror_hint(m, i, start, end);
	WRITE_ONCE(m->hint[i].uncounted, true);
}

/*
 * A job aborted after @done bytes, to run again for the rest: COPY and
 * FILL go on where they stopped (FILL's pattern turned to stay in step),
 * CHECKSUM starts again.
 */
static void hmmdev_job_resume(struct hmmdev_job_desc *desc, u64 done)
{
	if (desc->opcode == HMMDEV_OP_COPY) {
		desc->src += done;
		desc->dst += done;
		desc->length -= done;
	} else if (desc->opcode == HMMDEV_OP_FILL) {
		desc->dst += done;
		desc->length -= done;
		desc->value = ror64(desc->value, 8 * (done % 8));
	}
}

/**
 * hmmdev_mirror_run() - run one job in the mirror's context
 * @m: the mirror (hmmdev_mirror_jobs_begin() done, hints set)
 * @desc: the job; its context is set here
 * @result: out: the job's result (COPY, FILL: bytes, over every run)
 *
 * A fault on a userfaultfd range may wait for the process's handler as
 * long as it likes; the fault service aborts such a job at once and hands
 * the fault back (hmmdev_fault.c).  The submitter then serves it here, in
 * the process's own thread -- killable, holding no engine and no va_jobs
 * slot, so that other contexts go on -- and runs the rest of the job.
 * A job whose fault the device could not report (a full fault queue:
 * FAULT_LOST) runs again from where it stopped, up to
 * HMMDEV_FAULT_LOST_RETRIES times.
 *
 * Return: 0, the errno of an aborted fault (-EFAULT, -EPERM, ...), -EIO or
 * -ETIMEDOUT as hmmdev_job_run(), -EINTR.
 */
int hmmdev_mirror_run(struct hmmdev_mirror *m, struct hmmdev_job_desc *desc,
		      u64 *result)
{
	u32 status = HMMDEV_JOB_OK;
	u64 done = 0, part;
	int ret, lost = 0;

	lockdep_assert_held(&m->job_lock);
	desc->context = m->ctx;
	for (;;) {
		/* keep one engine free for copies that fault service may wait on */
		if (down_killable(&m->hd->va_jobs))
			return -EINTR;
		part = 0;
		ret = hmmdev_job_run(m->hd, desc, &part, &status);
		up(&m->hd->va_jobs);
		if (desc->opcode == HMMDEV_OP_COPY ||
		    desc->opcode == HMMDEV_OP_FILL)
			done += part;
		else
			done = part;
		if (ret == -EIO && status == HMMDEV_JOB_FAULT_LOST &&
		    ++lost <= HMMDEV_FAULT_LOST_RETRIES) {
			/* the fault queue was full: the rest of the job again */
			atomic64_inc(&m->hd->faults_lost);
			hmmdev_job_resume(desc, part);
			continue;
		}
		if (ret != -EIO || status != HMMDEV_JOB_FAULT_ABORTED ||
		    !READ_ONCE(m->deferred_pending))
			break;
		ret = hmmdev_fault_serve_deferred(m);
		if (ret)
			break;
		hmmdev_job_resume(desc, part);
	}
	*result = done;
	hmmdev_mirror_hint(m, 0, 0, 0);
	hmmdev_mirror_hint(m, 1, 0, 0);
	if (ret == -EIO && status == HMMDEV_JOB_FAULT_ABORTED)
		ret = READ_ONCE(m->fault_error) ?: -EFAULT;
	return ret;
}

/*
 * How long hmm_range_fault() may keep finding the range changing under it
 * before a fault or snapshot gives up with -EBUSY.  The kernel's
 * HMM_RANGE_DEFAULT_TIMEOUT (1 s) is sized for hardware; under TCG a few
 * forks or THP collapses (each holds mmap_lock for writing and invalidates
 * the whole range) can take that long, and a job then failed with EBUSY
 * in the racer.
 */
static unsigned int fault_busy_ms = 10000;
module_param(fault_busy_ms, uint, 0644);
MODULE_PARM_DESC(fault_busy_ms,
		 "give up a device fault after the CPU side kept changing this long (ms, default 10000)");

/**
 * hmmdev_mirror_range_fault() - hmm_range_fault() under the notifier protocol
 * @m: the mirror
 * @range: notifier, start, end, pfns and flags set by the caller
 * @unlocked: let the fault drop mmap_lock (hmmdev_range_fault_unlocked():
 *	a userfaultfd range, whose handler the fault then waits for); only
 *	from the process's own thread, without mmap_lock
 *
 * Retries while the CPU page tables change under it (Documentation/mm/
 * hmm.rst).  On success it returns 0 with m->lock held, the pfns still
 * valid: the caller uses them and unlocks.  The mm must be pinned.
 *
 * Return: 0 (m->lock held), -EBUSY after fault_busy_ms, or the error of
 * hmm_range_fault().
 */
int hmmdev_mirror_range_fault(struct hmmdev_mirror *m, struct hmm_range *range,
			      bool unlocked)
{
	unsigned long busy = msecs_to_jiffies(READ_ONCE(fault_busy_ms));
	unsigned long timeout = jiffies + busy;
	struct hmmdev_back_caller back;
	int ret;

	hmmdev_back_caller_begin(&back);
	for (;;) {
		if (time_after(jiffies, timeout)) {
			atomic64_inc(&m->hd->range_fault_timeouts);
			ret = -EBUSY;
			break;
		}
		if (unlocked) {
			/* it reads the sequence itself, and retries -EBUSY */
			ret = hmmdev_range_fault_unlocked(range, busy);
		} else {
			range->notifier_seq =
				mmu_interval_read_begin(&m->notifier);
			mmap_read_lock(m->mm);
			ret = hmm_range_fault(range);
			mmap_read_unlock(m->mm);
		}
		/* another device's 2 MiB page moving back (hmmdev_back.c) */
		if (hmmdev_back_caller_wait(&back, busy))
			continue;
		if (ret == -EBUSY) {
			atomic64_inc(&m->hd->range_fault_retries);
			continue;
		}
		if (ret)
			break;
		mutex_lock(&m->lock);
		if (!mmu_interval_read_retry(&m->notifier, range->notifier_seq))
			break;
		mutex_unlock(&m->lock);
		atomic64_inc(&m->hd->range_fault_retries);
	}
	hmmdev_back_caller_end(&back);
	return ret;
}

/* The mirror of @ctx with a reference, or NULL. */
struct hmmdev_mirror *hmmdev_mirror_get(struct hmmdev *hd, unsigned int ctx)
{
	struct hmmdev_mirror *m = NULL;

	spin_lock(&hd->ctx_lock);
	if (ctx < HMMDEV_NUM_CONTEXTS && hd->mirrors[ctx]) {
		m = hd->mirrors[ctx];
		kref_get(&m->ref);
	}
	spin_unlock(&hd->ctx_lock);
	return m;
}

static void hmmdev_mirror_free(struct kref *ref)
{
	struct hmmdev_mirror *m = container_of(ref, struct hmmdev_mirror, ref);

	mmdrop(m->mm);
	hmmdev_put(m->hd);
	kfree(m);
}

void hmmdev_mirror_put(struct hmmdev_mirror *m)
{
	kref_put(&m->ref, hmmdev_mirror_free);
}

/* Tear the device side down (remove, or destroy of a live mirror). */
static void hmmdev_mirror_teardown(struct hmmdev_mirror *m, bool device_alive)
{
	struct hmmdev *hd = m->hd;

	mutex_lock(&m->lock);
	if (!m->dead) {
		hmmdev_pt_zap(m, 0, HMMDEV_VA_LIMIT);
		if (device_alive) {
			hmmdev_ctx_program(hd, m->ctx, 0, NULL);
			hmmdev_invalidate(hd, m->ctx, 0, HMMDEV_VA_LIMIT);
		}
		hmmdev_pt_reap(m, 0, HMMDEV_VA_LIMIT);
		hmmdev_pt_destroy(m);
		m->dead = true;
	}
	mutex_unlock(&m->lock);
}

/* File release: see "Lifetime" above. */
void hmmdev_mirror_destroy(struct hmmdev_mirror *m)
{
	struct hmmdev *hd = m->hd;

	hmmdev_back_close(m);
	mmu_interval_notifier_remove(&m->notifier);
	/*
	 * Unpublish and tear down in one read section of state_lock: remove
	 * either detaches this mirror itself (it is still published) or
	 * waits for this section before the page-table pool goes.  The fault
	 * ring's drains never take state_lock, so flushing them here cannot
	 * deadlock with remove's down_write().
	 */
	down_read(&hd->state_lock);
	spin_lock(&hd->ctx_lock);
	if (hd->mirrors[m->ctx] == m)
		hd->mirrors[m->ctx] = NULL;
	spin_unlock(&hd->ctx_lock);
	/* a fault being serviced for this mirror finishes first */
	hmmdev_fault_flush(hd);
	hmmdev_mirror_teardown(m, !hd->removed);
	up_read(&hd->state_lock);
	spin_lock(&hd->ctx_lock);
	__clear_bit(m->ctx, hd->ctx_used);
	spin_unlock(&hd->ctx_lock);
	hmmdev_mirror_put(m);
}

/* @fn on every published mirror, each with a reference held. */
static void hmmdev_mirrors_each(struct hmmdev *hd,
				void (*fn)(struct hmmdev_mirror *m))
{
	struct hmmdev_mirror *m;
	int ctx;

	for (ctx = 0; ctx < HMMDEV_NUM_CONTEXTS; ctx++) {
		m = hmmdev_mirror_get(hd, ctx);
		if (!m)
			continue;
		fn(m);
		hmmdev_mirror_put(m);
	}
}

static void hmmdev_mirror_restart(struct hmmdev_mirror *m)
{
	mutex_lock(&m->lock);
	if (!m->dead) {
		hmmdev_pt_zap(m, 0, HMMDEV_VA_LIMIT);
		hmmdev_pt_reap(m, 0, HMMDEV_VA_LIMIT);
		hmmdev_ctx_program(m->hd, m->ctx, m->root, m->mm);
	}
	mutex_unlock(&m->lock);
}

/*
 * Recovery (hmmdev_recover.c): the device has been reset, state_lock is
 * held for writing.  Every live mirror loses its device page tables
 * (faults fill them again) and gets its context back.
 */
void hmmdev_mirrors_restart(struct hmmdev *hd)
{
	hmmdev_mirrors_each(hd, hmmdev_mirror_restart);
}

static void hmmdev_mirror_detach(struct hmmdev_mirror *m)
{
	hmmdev_mirror_teardown(m, false);
}

/* PCI remove: the device is reset; drop every mirror's device state. */
void hmmdev_mirrors_detach(struct hmmdev *hd)
{
	hmmdev_mirrors_each(hd, hmmdev_mirror_detach);
}
