// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: the job ring.
 *
 * Descriptors are written in ring order under jq->lock, when the device has
 * fetched far enough (JQ_HEAD) to leave room.  Each job also takes a tag:
 * its completion record and waiter.  A submitter owns its tag until it has
 * reaped the record (hmmdev_job_run() returns), so a record is never reused
 * while the device may still write it; ring slots, on the other hand, are
 * free again as soon as the device has read them, so a job stalled on a
 * fault does not hold up the ring.  The device completes jobs out of order;
 * the job interrupt scans the busy tags and completes those whose record is
 * written.
 *
 * A waiter looks at its record every HMMDEV_IRQ_CHECK even without an
 * interrupt (and kicks the fault work, whose interrupt may be lost too):
 * a lost MSI-X message costs that much, not a timeout.  A job that does
 * not complete within HMMDEV_JOB_TIMEOUT marks the device failed
 * (hmmdev_declare_failed(): quiesced, reset, bus mastering off).  Waiters
 * of a failed device wake at once.  A job whose record never came -- timed
 * out, or cut off by the failure -- is abandoned: its submitter gets
 * -ETIMEDOUT and never frees the memory the job points at, and its tag
 * stays taken until recovery has reset the device (hmmdev_jobq_recover());
 * until then every submission fails with -EIO.
 */
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/sched.h>

#include "hmmdev.h"
#include "hmmdev_trace.h"

/* HMMDEV_JOB_TIMEOUT; fault-injection campaigns shorten it (engine hang) */
unsigned int hmmdev_job_timeout_s = 30;
module_param_named(job_timeout_s, hmmdev_job_timeout_s, uint, 0644);
MODULE_PARM_DESC(job_timeout_s,
		 "seconds a job may take before the device is declared failed (default 30)");

int hmmdev_jobq_init(struct hmmdev *hd)
{
	struct hmmdev_jobq *jq = &hd->jq;
	struct device *dev = &hd->pdev->dev;
	int i;

	spin_lock_init(&jq->lock);
	init_waitqueue_head(&jq->slot_wq);
	jq->ring = dmam_alloc_coherent(dev, HMMDEV_JQ_ENTRIES * sizeof(*jq->ring),
				       &jq->ring_dma, GFP_KERNEL);
	jq->comp = dmam_alloc_coherent(dev, HMMDEV_JQ_ENTRIES * sizeof(*jq->comp),
				       &jq->comp_dma, GFP_KERNEL);
	if (!jq->ring || !jq->comp)
		return -ENOMEM;
	for (i = 0; i < HMMDEV_JQ_ENTRIES; i++)
		init_completion(&jq->slots[i].done);
	return 0;
}

void hmmdev_jobq_start(struct hmmdev *hd)
{
	struct hmmdev_jobq *jq = &hd->jq;

	jq->tail = 0;
	writeq(jq->ring_dma, hd->regs + HMMDEV_REG_JQ_BASE);
	hmmdev_wr32(hd, HMMDEV_REG_JQ_ENTRIES, HMMDEV_JQ_ENTRIES);
}

/*
 * Stop fetching, let running jobs finish (for up to @ms), then reset.  A
 * device that reads all-ones (gone) is not waited for.
 */
void hmmdev_quiesce(struct hmmdev *hd, unsigned int ms)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(ms);
	bool busy;
	u32 status;

	hmmdev_wr32(hd, HMMDEV_REG_CTRL, 0);
	for (;;) {
		status = hmmdev_rd32(hd, HMMDEV_REG_STATUS);
		busy = status != ~0u && (status & HMMDEV_STATUS_BUSY);
		if (!busy || time_after(jiffies, deadline))
			break;
		usleep_range(1000, 2000);
	}
	if (busy)
		dev_err(&hd->pdev->dev, "engines still busy after %u ms; resetting\n",
			ms);
	hmmdev_wr32(hd, HMMDEV_REG_CTRL, HMMDEV_CTRL_RESET);
}

void hmmdev_jobq_stop(struct hmmdev *hd)
{
	hmmdev_quiesce(hd, 1000);
}

/*
 * Complete the waiter of every busy tag not yet signalled: those whose
 * record the device has written, or, with @all, every one (a failed
 * device; hmmdev_job_wait() sees the record still pending).
 */
static void hmmdev_jobq_signal(struct hmmdev_jobq *jq, bool all)
{
	unsigned long flags;
	int i;

	spin_lock_irqsave(&jq->lock, flags);
	for (i = 0; i < HMMDEV_JQ_ENTRIES; i++) {
		struct hmmdev_job_slot *slot = &jq->slots[i];

		if (!slot->busy || slot->signalled ||
		    (!all && READ_ONCE(jq->comp[i].status) ==
			     HMMDEV_STATUS_PENDING))
			continue;
		slot->signalled = true;
		complete(&slot->done);
	}
	spin_unlock_irqrestore(&jq->lock, flags);
}

/* The device failed: wake every waiter. */
void hmmdev_jobq_fail(struct hmmdev *hd)
{
	hmmdev_jobq_signal(&hd->jq, true);
	wake_up_all(&hd->jq.slot_wq);
}

irqreturn_t hmmdev_jobq_irq(int irq, void *data)
{
	struct hmmdev_vector *vec = data;
	struct hmmdev *hd = vec->hd;

	atomic64_inc(&hd->irqs[vec->index]);
	hmmdev_jobq_signal(&hd->jq, false);
	wake_up_all(&hd->irq_wq);
	return IRQ_HANDLED;
}

/* jq->lock held: a free job tag, or -1. */
static int hmmdev_free_tag(struct hmmdev_jobq *jq)
{
	int tag;

	for (tag = 0; tag < HMMDEV_JQ_ENTRIES; tag++)
		if (!jq->slots[tag].busy)
			return tag;
	return -1;
}

/* jq->lock held: room in the ring (the device has fetched up to JQ_HEAD). */
static bool hmmdev_ring_room(struct hmmdev *hd)
{
	return (hd->jq.tail + 1) % HMMDEV_JQ_ENTRIES !=
	       hmmdev_rd32(hd, HMMDEV_REG_JQ_HEAD);
}

/*
 * Queue @desc; returns its tag or a negative errno.  A job's completion
 * record and waiter belong to its tag, not to its ring slot, so a job that
 * stalls on a fault never blocks the ring: the device is done with a slot
 * once JQ_HEAD has passed it.
 */
static int hmmdev_job_submit(struct hmmdev *hd, struct hmmdev_job_desc *desc)
{
	struct hmmdev_jobq *jq = &hd->jq;
	unsigned long deadline = jiffies + HMMDEV_JOB_TIMEOUT;
	struct hmmdev_job_slot *slot;
	int tag;

	spin_lock_irq(&jq->lock);
	while (!READ_ONCE(hd->failed) &&
	       ((tag = hmmdev_free_tag(jq)) < 0 || !hmmdev_ring_room(hd))) {
		spin_unlock_irq(&jq->lock);
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
		/* completions wake slot_wq; ring room is polled */
		wait_event_timeout(jq->slot_wq, READ_ONCE(hd->failed), HZ / 100);
		hmmdev_check_gone(hd);
		spin_lock_irq(&jq->lock);
	}
	if (READ_ONCE(hd->failed)) {
		spin_unlock_irq(&jq->lock);
		return -EIO;
	}
	slot = &jq->slots[tag];
	slot->busy = true;
	slot->signalled = false;
	slot->abandoned = false;
	slot->gen = jq->gen;
	reinit_completion(&slot->done);
	jq->comp[tag].status = HMMDEV_STATUS_PENDING;
	desc->completion = jq->comp_dma + tag * sizeof(*jq->comp);
	desc->fence = atomic64_inc_return(&hd->jobs);
	desc->flags |= HMMDEV_JOB_IRQ;
	jq->ring[jq->tail] = *desc;
	trace_hmmdev_job_submit(hd->id, tag, jq->tail, desc->fence,
				desc->opcode, desc->flags, desc->src, desc->dst,
				desc->length);
	jq->tail = (jq->tail + 1) % HMMDEV_JQ_ENTRIES;
	/* writel orders the descriptor stores before the doorbell */
	hmmdev_wr32(hd, HMMDEV_REG_JQ_TAIL, jq->tail);
	spin_unlock_irq(&jq->lock);
	return tag;
}

static void hmmdev_slot_release(struct hmmdev *hd, u32 index)
{
	struct hmmdev_jobq *jq = &hd->jq;

	spin_lock_irq(&jq->lock);
	jq->slots[index].busy = false;
	spin_unlock_irq(&jq->lock);
	wake_up(&jq->slot_wq);
}

/*
 * The submitter of tag @index gives up on it.  If recovery has reset the
 * device since the job was submitted, nothing will write its record: the
 * tag is free at once; else hmmdev_jobq_recover() frees it.
 */
static void hmmdev_slot_abandon(struct hmmdev *hd, u32 index)
{
	struct hmmdev_jobq *jq = &hd->jq;
	struct hmmdev_job_slot *slot = &jq->slots[index];
	bool free;

	spin_lock_irq(&jq->lock);
	free = slot->gen != jq->gen;
	slot->busy = !free;
	slot->abandoned = !free;
	spin_unlock_irq(&jq->lock);
	if (free)
		wake_up(&jq->slot_wq);
}

/**
 * hmmdev_jobq_recover() - the job ring after a quiescent device reset
 * @hd: the device, reset: no record of an older job will be written
 *
 * Abandoned tags are free again, the ring starts over.
 */
void hmmdev_jobq_recover(struct hmmdev *hd)
{
	struct hmmdev_jobq *jq = &hd->jq;
	int i;

	spin_lock_irq(&jq->lock);
	jq->gen++;
	for (i = 0; i < HMMDEV_JQ_ENTRIES; i++) {
		if (jq->slots[i].abandoned) {
			jq->slots[i].abandoned = false;
			jq->slots[i].busy = false;
		}
	}
	spin_unlock_irq(&jq->lock);
	hmmdev_jobq_start(hd);
	wake_up_all(&jq->slot_wq);
}

/*
 * Wait for the record of tag @index (its waiter is signalled by the job
 * interrupt or by a failure), looking at the record every
 * HMMDEV_IRQ_CHECK: false after HMMDEV_JOB_TIMEOUT without it.
 */
static bool hmmdev_job_wait_record(struct hmmdev *hd, int index)
{
	struct hmmdev_jobq *jq = &hd->jq;
	unsigned long deadline = jiffies + HMMDEV_JOB_TIMEOUT;

	for (;;) {
		if (wait_for_completion_timeout(&jq->slots[index].done,
						HMMDEV_IRQ_CHECK))
			return true;
		if (READ_ONCE(jq->comp[index].status) != HMMDEV_STATUS_PENDING) {
			atomic64_inc(&hd->irqs_missed);
			return true;
		}
		if (time_after(jiffies, deadline))
			return false;
		if (hmmdev_check_gone(hd))
			continue;	/* declared failed: the slot is signalled */
		/* a fault whose interrupt was lost stalls the job: look */
		queue_work(hd->fault_wq, &hd->fault_work);
	}
}

/**
 * hmmdev_job_start() - submit a job without waiting
 * @hd: the device
 * @desc: the job; completion, fence and the IRQ flag are filled in here
 *
 * Return: a tag for hmmdev_job_wait(), or -EIO / -ETIMEDOUT.
 */
int hmmdev_job_start(struct hmmdev *hd, struct hmmdev_job_desc *desc)
{
	return hmmdev_job_submit(hd, desc);
}

/**
 * hmmdev_job_wait() - wait for a started job and reap its record
 * @hd: the device
 * @tag: from hmmdev_job_start()
 * @desc: the job as started
 * @result: out (may be NULL): the completion record's result field
 * @status_out: out (may be NULL): the job's HMMDEV_JOB_* status
 *
 * Return: 0, -EIO for a job the device failed (or a failed device),
 * -ESTALE for one the device's coherence oracle failed, -ETIMEDOUT when
 * the device did not answer (it is then marked failed and the job's
 * memory must not be freed).
 */
int hmmdev_job_wait(struct hmmdev *hd, int tag, struct hmmdev_job_desc *desc,
		    u64 *result, u32 *status_out)
{
	struct hmmdev_jobq *jq = &hd->jq;
	struct hmmdev_completion *rec = &jq->comp[tag];
	int index = tag;
	u32 status;

	if (!hmmdev_poll(READ_ONCE(rec->status) != HMMDEV_STATUS_PENDING) &&
	    !hmmdev_job_wait_record(hd, index)) {
		atomic64_inc(&hd->timeouts);
		dev_err(&hd->pdev->dev, "job %llu (slot %d) timed out after %d s\n",
			desc->fence, index, READ_ONCE(hmmdev_job_timeout_s));
		hmmdev_declare_failed(hd, "job timeout");
		hmmdev_slot_abandon(hd, index);
		trace_hmmdev_job_complete(hd->id, tag, desc->fence,
					  HMMDEV_STATUS_PENDING, 0, -ETIMEDOUT);
		return -ETIMEDOUT;
	}
	dma_rmb();
	status = READ_ONCE(rec->status);
	if (status == HMMDEV_STATUS_PENDING) {
		/* woken by hmmdev_jobq_fail(): the record will never come */
		hmmdev_slot_abandon(hd, index);
		trace_hmmdev_job_complete(hd->id, tag, desc->fence, status, 0,
					  -ETIMEDOUT);
		return -ETIMEDOUT;
	}
	if (result)
		*result = READ_ONCE(rec->result);
	if (READ_ONCE(rec->fence) != desc->fence) {
		dev_err(&hd->pdev->dev, "slot %d: fence %llu, expected %llu\n",
			index, rec->fence, desc->fence);
		status = HMMDEV_STATUS_PENDING;	/* not OK */
	}
	hmmdev_slot_release(hd, index);
	if (status_out)
		*status_out = status;
	trace_hmmdev_job_complete(hd->id, tag, desc->fence, status,
				  READ_ONCE(rec->result),
				  status == HMMDEV_JOB_OK ? 0 :
				  status == HMMDEV_JOB_STALE_TRANSLATION ?
				  -ESTALE : -EIO);
	if (status != HMMDEV_JOB_OK) {
		atomic64_inc(&hd->job_errors);
		dev_dbg(&hd->pdev->dev, "job %llu failed: status %u\n",
			desc->fence, status);
		if (status != HMMDEV_JOB_STALE_TRANSLATION)
			return -EIO;
		atomic64_inc(&hd->stale_translations);
		dev_err_ratelimited(&hd->pdev->dev,
				    "job %llu: stale translation (coherence oracle)\n",
				    desc->fence);
		return -ESTALE;
	}
	return 0;
}

/**
 * hmmdev_job_run() - submit one job and wait for its completion
 * @hd: the device
 * @desc: the job; completion, fence and the IRQ flag are filled in here
 * @result: out (may be NULL): the completion record's result field
 * @status_out: out (may be NULL): the job's HMMDEV_JOB_* status
 *
 * Return: as hmmdev_job_wait(), or the error of hmmdev_job_start().
 */
int hmmdev_job_run(struct hmmdev *hd, struct hmmdev_job_desc *desc, u64 *result,
		   u32 *status_out)
{
	int tag = hmmdev_job_start(hd, desc);

	if (tag < 0)
		return tag;
	return hmmdev_job_wait(hd, tag, desc, result, status_out);
}

/* A COPY job between system memory (bus address) and a VRAM offset. */
static void hmmdev_copy_desc(struct hmmdev_job_desc *desc, dma_addr_t sysmem,
			     u64 vram_offset, u64 length, bool to_vram)
{
	*desc = (struct hmmdev_job_desc) {
		.opcode = HMMDEV_OP_COPY,
		.flags = to_vram ? HMMDEV_JOB_DST_VRAM : HMMDEV_JOB_SRC_VRAM,
		.src = to_vram ? sysmem : vram_offset,
		.dst = to_vram ? vram_offset : sysmem,
		.length = length,
	};
}

/**
 * hmmdev_dma_copy() - copy between system memory and VRAM with one job
 * @hd: the device
 * @sysmem: bus address of the system-memory side
 * @vram_offset: VRAM side
 * @length: bytes
 * @to_vram: direction
 *
 * Return: as hmmdev_job_run().
 */
int hmmdev_dma_copy(struct hmmdev *hd, dma_addr_t sysmem, u64 vram_offset,
		    u64 length, bool to_vram)
{
	struct hmmdev_job_desc desc;

	hmmdev_copy_desc(&desc, sysmem, vram_offset, length, to_vram);
	return hmmdev_job_run(hd, &desc, NULL, NULL);
}
