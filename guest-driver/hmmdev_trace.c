// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev: the tracepoints (hmmdev_trace.h) and the clock pairs that put
 * the driver's and the device's trace events on one time axis.
 *
 * A pair is the guest's CLOCK_MONOTONIC just before and just after one
 * read of the device's TIMESTAMP register, with interrupts off: the device
 * took its time between the two, so the offset between the clocks is known
 * to within half that window.  While the hmmdev_clock_pair event is
 * enabled, pairs are taken at probe, after a recovery and every
 * HMMDEV_CLOCK_PERIOD (the work notices the event turned on within
 * HMMDEV_CLOCK_IDLE); between two pairs the merge tool interpolates (the
 * clocks may drift apart a little: the guest's is calibrated against the
 * VM's timers).
 */
#include <linux/pci.h>
#include <linux/timekeeping.h>

#include "hmmdev.h"

#define CREATE_TRACE_POINTS
#include "hmmdev_trace.h"

/* While tracing: a pair every 20 ms; else the work only looks 4 times a second. */
#define HMMDEV_CLOCK_PERIOD	msecs_to_jiffies(20)
#define HMMDEV_CLOCK_IDLE	(HZ / 4)

/**
 * hmmdev_clock_pair() - trace one (guest time, device time) pair
 * @hd: the device
 *
 * Nothing is traced while the device is in a reset or gone (its registers
 * read all-ones then).
 */
void hmmdev_clock_pair(struct hmmdev *hd)
{
	unsigned long flags;
	u64 before, device, after;

	if (!trace_hmmdev_clock_pair_enabled() || READ_ONCE(hd->gone) ||
	    READ_ONCE(hd->bar_off))
		return;
	local_irq_save(flags);
	before = ktime_get_mono_fast_ns();
	device = hmmdev_rd64(hd, HMMDEV_REG_TIMESTAMP);
	after = ktime_get_mono_fast_ns();
	local_irq_restore(flags);
	if (device != ~0ULL)
		trace_hmmdev_clock_pair(hd->id, before, device, after);
}

static void hmmdev_clock_work(struct work_struct *work)
{
	struct hmmdev *hd = container_of(to_delayed_work(work), struct hmmdev,
					 clock_work);

	hmmdev_clock_pair(hd);
	schedule_delayed_work(&hd->clock_work,
			      trace_hmmdev_clock_pair_enabled() ?
			      HMMDEV_CLOCK_PERIOD : HMMDEV_CLOCK_IDLE);
}

/* At probe, once the device answers: the first pair, then the periodic ones. */
void hmmdev_clock_start(struct hmmdev *hd)
{
	INIT_DELAYED_WORK(&hd->clock_work, hmmdev_clock_work);
	hmmdev_clock_pair(hd);
	schedule_delayed_work(&hd->clock_work, HMMDEV_CLOCK_PERIOD);
}

/* At remove (and when probe fails after hmmdev_clock_start()). */
void hmmdev_clock_stop(struct hmmdev *hd)
{
	cancel_delayed_work_sync(&hd->clock_work);
}
