// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: the command queue -- INVALIDATE + SYNC, RESPOND.
 *
 * Commands are written under cq.lock (a mutex: callers sleep waiting for
 * SYNC).  The ring never overflows: every submitter waits for its SYNC,
 * or, for RESPOND, for CQ_HEAD to leave room, before it returns.
 *
 * A SYNC that does not complete within HMMDEV_SYNC_TIMEOUT means the
 * device can no longer be trusted to have dropped translations: the device
 * is declared failed (hmmdev_declare_failed()): it stops fetching, its
 * running jobs get a bounded time to finish, then it is reset (engines
 * stopped, ATC emptied) and bus mastering is turned off, so that nothing
 * reaches memory through a stale translation afterwards.  The caller of
 * a failed invalidation may then free the pages.
 *
 * cq.lock may be taken inside mirror->lock (invalidation callbacks) and
 * from reclaim: nothing here allocates memory.
 */
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>

#include "hmmdev.h"
#include "hmmdev_trace.h"

#define HMMDEV_SYNC_TIMEOUT	(10 * HZ)
#define HMMDEV_FAIL_QUIESCE_MS	100

int hmmdev_cmdq_init(struct hmmdev *hd)
{
	struct hmmdev_cmdq *cq = &hd->cq;
	struct device *dev = &hd->pdev->dev;

	mutex_init(&cq->lock);
	init_waitqueue_head(&cq->wq);
	cq->respond_reg = hmmdev_rd32(hd, HMMDEV_REG_CAPS) &
			  HMMDEV_CAP_FQ_RESPOND;
	cq->ring = dmam_alloc_coherent(dev, HMMDEV_CQ_ENTRIES * sizeof(*cq->ring),
				       &cq->ring_dma, GFP_KERNEL);
	cq->fence = dmam_alloc_coherent(dev, sizeof(*cq->fence), &cq->fence_dma,
					GFP_KERNEL);
	return cq->ring && cq->fence ? 0 : -ENOMEM;
}

void hmmdev_cmdq_start(struct hmmdev *hd)
{
	struct hmmdev_cmdq *cq = &hd->cq;

	cq->tail = 0;
	cq->head = 0;
	cq->seq = 0;
	WRITE_ONCE(*cq->fence, 0);
	writeq(cq->ring_dma, hd->regs + HMMDEV_REG_CQ_BASE);
	hmmdev_wr32(hd, HMMDEV_REG_CQ_ENTRIES, HMMDEV_CQ_ENTRIES);
}

irqreturn_t hmmdev_cmdq_irq(int irq, void *data)
{
	struct hmmdev_vector *vec = data;
	struct hmmdev *hd = vec->hd;

	atomic64_inc(&hd->irqs[vec->index]);
	wake_up_all(&hd->cq.wq);
	wake_up_all(&hd->irq_wq);
	return IRQ_HANDLED;
}

/*
 * cq.lock held.  The device only moves CQ_HEAD forward, so room seen once
 * stays: the register (an MMIO read, a trip to the device) is read only
 * when the ring looks full.
 */
static bool hmmdev_cmdq_room(struct hmmdev *hd)
{
	struct hmmdev_cmdq *cq = &hd->cq;

	if ((cq->tail + 1) % HMMDEV_CQ_ENTRIES != cq->head)
		return true;
	cq->head = hmmdev_rd32(hd, HMMDEV_REG_CQ_HEAD);
	return (cq->tail + 1) % HMMDEV_CQ_ENTRIES != cq->head ||
	       READ_ONCE(hd->failed);
}

/* cq.lock held: queue one command (does not ring the doorbell). */
static int hmmdev_cmdq_put(struct hmmdev *hd, u8 op, u8 flags, u16 ctx,
			   u64 arg0, u64 arg1)
{
	struct hmmdev_cmdq *cq = &hd->cq;
	int i;

	lockdep_assert_held(&cq->lock);
	for (i = 0; !hmmdev_cmdq_room(hd); i++) {
		if (i == 10000)
			return -EIO;
		usleep_range(10, 100);
	}
	if (READ_ONCE(hd->failed))
		return -EIO;
	cq->ring[cq->tail] = (struct hmmdev_command) {
		.opcode = op, .flags = flags, .context = ctx,
		.arg0 = arg0, .arg1 = arg1,
	};
	trace_hmmdev_cmd_submit(hd->id, cq->tail, op, ctx, arg0, arg1);
	cq->tail = (cq->tail + 1) % HMMDEV_CQ_ENTRIES;
	return 0;
}

static void hmmdev_cmdq_kick(struct hmmdev *hd)
{
	/* writel orders the command stores before the doorbell */
	hmmdev_wr32(hd, HMMDEV_REG_CQ_TAIL, hd->cq.tail);
}

/*
 * The device stopped answering: stop it (hmmdev_recover_schedule() may
 * bring it back, hmmdev_recover.c).  Fetching stops, running
 * jobs get HMMDEV_FAIL_QUIESCE_MS to reach their end (the spec lets a job
 * that is told to stop finish its current chunk), then reset and no more
 * bus mastering.  Waiters wake at once.  May sleep (no spinlock held).
 */
void hmmdev_declare_failed(struct hmmdev *hd, const char *why)
{
	if (xchg(&hd->failed, true))
		return;
	trace_hmmdev_device_failed(hd->id, why);
	if (READ_ONCE(hd->gone))
		dev_err(&hd->pdev->dev, "%s: device declared failed\n", why);
	else
		dev_err(&hd->pdev->dev, "%s: device declared failed and reset; calls fail with -EIO until it recovers\n",
			why);
	hmmdev_quiesce(hd, HMMDEV_FAIL_QUIESCE_MS);
	pci_clear_master(hd->pdev);
	wake_up_all(&hd->cq.wq);
	hmmdev_jobq_fail(hd);
	hmmdev_recover_schedule(hd);
}

/*
 * Wait for fence @seq (or a failure), looking every HMMDEV_IRQ_CHECK
 * whether it landed without its interrupt: false after
 * HMMDEV_SYNC_TIMEOUT.
 */
static bool hmmdev_cmdq_wait_fence(struct hmmdev *hd, u64 seq)
{
	struct hmmdev_cmdq *cq = &hd->cq;
	unsigned long deadline = jiffies + HMMDEV_SYNC_TIMEOUT;
	long left;

	for (;;) {
		left = wait_event_timeout(cq->wq, READ_ONCE(*cq->fence) >= seq ||
					  READ_ONCE(hd->failed),
					  HMMDEV_IRQ_CHECK);
		if (left)
			break;
		if (time_after(jiffies, deadline))
			return false;
		hmmdev_check_gone(hd);	/* gone: declared failed, we wake */
	}
	/* 1: true only once the slice had run out -- no interrupt came */
	if (left == 1 && READ_ONCE(*cq->fence) >= seq)
		atomic64_inc(&hd->irqs_missed);
	return true;
}

/* cq.lock held: SYNC and wait for it (bounded). */
static int hmmdev_cmdq_sync_locked(struct hmmdev *hd)
{
	struct hmmdev_cmdq *cq = &hd->cq;
	u64 seq = ++cq->seq;
	int ret;

	ret = hmmdev_cmdq_put(hd, HMMDEV_CMD_SYNC, HMMDEV_SYNC_IRQ, 0,
			      cq->fence_dma, seq);
	if (ret)
		return ret;
	hmmdev_cmdq_kick(hd);
	if (!hmmdev_poll(READ_ONCE(*cq->fence) >= seq) &&
	    !hmmdev_cmdq_wait_fence(hd, seq)) {
		atomic64_inc(&hd->sync_timeouts);
		hmmdev_declare_failed(hd, "SYNC did not complete in 10 s");
	}
	ret = READ_ONCE(*cq->fence) >= seq ? 0 : -EIO;
	trace_hmmdev_sync_done(hd->id, seq, ret);
	return ret;
}

/**
 * hmmdev_invalidate() - drop the device's translations of a range
 * @hd: the device
 * @ctx: context
 * @start: first byte
 * @end: one past the last byte; 0 and ~0 for "everything"
 *
 * Returns when no engine can use a translation of the range any more
 * (INVALIDATE + SYNC), or with -EIO when the device failed (it is then
 * reset, which has the same effect).
 */
int hmmdev_invalidate(struct hmmdev *hd, u16 ctx, u64 start, u64 end)
{
	bool all = start == 0 && end >= HMMDEV_VA_LIMIT;
	int ret;

	mutex_lock(&hd->cq.lock);
	ret = hmmdev_cmdq_put(hd, HMMDEV_CMD_INVALIDATE,
			      all ? HMMDEV_INV_ALL_ADDRESSES : 0, ctx,
			      start, all ? 0 : min(end, HMMDEV_VA_LIMIT) - start);
	if (!ret && hmmdev_seeded(hd, HMMDEV_SEED_SKIP_SYNC))
		hmmdev_cmdq_kick(hd);   /* a seeded bug (hmmdev.h): no wait */
	else if (!ret)
		ret = hmmdev_cmdq_sync_locked(hd);
	mutex_unlock(&hd->cq.lock);
	atomic64_inc(&hd->invalidations);
	return ret;
}

/**
 * hmmdev_sync_round_trip() - one empty SYNC, with its interrupt, timed
 * @hd: the device
 * @ns: out: from the command's doorbell to the waiter seeing its fence
 *
 * The floor of every invalidation (debugfs sync_latency).
 * Return: 0 or -EIO.
 */
int hmmdev_sync_round_trip(struct hmmdev *hd, u64 *ns)
{
	u64 t0;
	int ret;

	mutex_lock(&hd->cq.lock);
	t0 = ktime_get_ns();
	ret = hmmdev_cmdq_sync_locked(hd);
	*ns = ktime_get_ns() - t0;
	mutex_unlock(&hd->cq.lock);
	return ret;
}

/**
 * hmmdev_respond() - answer a fault record
 * @hd: the device
 * @id: the record's id
 * @action: HMMDEV_RESPONSE_RETRY or HMMDEV_RESPONSE_ABORT
 *
 * Through FQ_RESPOND where the device has it: the engine resumes without
 * the device's command thread (a RESPOND needs no order with the commands
 * before it: whatever the fault service invalidated, it waited for the
 * SYNC of); else a RESPOND command.
 *
 * Return: 0 or -EIO.
 */
int hmmdev_respond(struct hmmdev *hd, u32 id, u32 action)
{
	int ret;

	if (hd->cq.respond_reg) {
		if (READ_ONCE(hd->failed))
			return -EIO;
		trace_hmmdev_cmd_submit(hd->id, U32_MAX, HMMDEV_CMD_RESPOND, 0,
					id, action);
		writeq(id | (u64)action << 32,
		       hd->regs + HMMDEV_REG_FQ_RESPOND);
		return 0;
	}
	mutex_lock(&hd->cq.lock);
	ret = hmmdev_cmdq_put(hd, HMMDEV_CMD_RESPOND, 0, 0, id, action);
	if (!ret)
		hmmdev_cmdq_kick(hd);
	mutex_unlock(&hd->cq.lock);
	return ret;
}
