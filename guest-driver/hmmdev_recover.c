// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: recovery -- a device declared failed (a job timeout: hung
 * engines; a SYNC that never completed; a fault-queue tail outside the
 * ring) is brought back without rebinding; the PCI core's error recovery
 * (AER) and function resets (FLR, sysfs reset) go the same way; a function
 * that fell off the bus is noticed and declared gone.
 *
 * hmmdev_declare_failed() (hmmdev_cmdq.c) has already quiesced and reset
 * the device, turned bus mastering off and woken every waiter: calls fail
 * with -EIO while hd->failed is set, and CPU faults on device pages copy
 * them back through BAR2.  The recovery work then
 *
 *   1. takes hd->state_lock for writing: the user operations that saw the
 *      failure have returned, new ones wait (and then see a working
 *      device); the fault ring's drains are flushed (hmmdev_fault_flush():
 *      they stop on a failed device);
 *   2. resets the device again (quiescent: nothing from before reaches
 *      memory afterwards), turns bus mastering on, restarts the job ring
 *      (abandoned tags become free), the command and the fault queue, and
 *      names the oracle's encodings again;
 *   3. zaps every mirror's device page tables and enables its context
 *      again, under mirror->lock (faults fill them again);
 *   4. clears hd->failed and enables the device.
 *
 * Steps 2-4 are hmmdev_restart_locked(), which the PCI core's callbacks
 * use too:
 *
 *   - a fatal error (error_detected, pci_channel_io_frozen): the device is
 *     declared failed and hd->pci_recovery set, so the recovery work keeps
 *     out; the core resets the link; slot_reset restores the configuration
 *     saved at probe and restarts under state_lock; resume clears
 *     hd->pci_recovery.  From error_detected until the configuration is
 *     back, hd->bar_off makes VRAM page-table walks and CPU copies wait
 *     (hmmdev_bar_wait()): BAR reads are all-ones then.
 *   - a non-fatal error (pci_channel_io_normal): the link still works;
 *     mmio_enabled checks that the device answers, else asks for a reset.
 *   - a correctable error: counted.
 *   - a function reset (reset_prepare/reset_done around FLR): the device
 *     is declared failed before it (jobs in flight end with -EIO),
 *     state_lock is held for writing across it, hd->bar_off set once it
 *     is held (the core then turns decoding off), and the device restarted
 *     after it.
 *
 * hd->bar_off is cleared as soon as the configuration is restored, before
 * any of our locks is taken, so a walker that waits for it holding
 * mirror->lock or state_lock for reading is not what the reset waits for.
 *
 * A function that reads all-ones (or that the PCI core marked
 * disconnected: pciehp's surprise removal) is gone for good
 * (hmmdev_check_gone(): waits look every HMMDEV_IRQ_CHECK): declared
 * failed, never recovered, user operations fail with -ENODEV.
 *
 * VRAM survives a reset, so device pages stay where they are.  Locks
 * (the order is in hmmdev.h): state_lock, under it cq.lock for step 2,
 * released, then each mirror->lock in turn for step 3; no mmap_lock.
 *
 * At most HMMDEV_RECOVER_BURST recoveries run within HMMDEV_RECOVER_WINDOW
 * (checked by the work under state_lock): a device that keeps failing
 * stays failed (the log says so).  Module parameter recover=0 turns
 * automatic recovery off; writing 1 to debugfs recover asks for one on a
 * failed device, within the same limit.
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/pci.h>
#include <linux/workqueue.h>

#include "hmmdev.h"
#include "hmmdev_trace.h"

static bool recover = true;
module_param(recover, bool, 0644);
MODULE_PARM_DESC(recover,
		 "bring a failed device back automatically (default Y)");

/*
 * state_lock held for writing, the fault work flushed: steps 2-4 above.
 * Return: false when the device does not answer (it stays failed).
 */
static bool hmmdev_restart_locked(struct hmmdev *hd, const char *why)
{
	unsigned long t0 = jiffies;
	u64 begin = ktime_get_ns();

	mutex_lock(&hd->cq.lock);
	hmmdev_wr32(hd, HMMDEV_REG_CTRL, HMMDEV_CTRL_RESET);
	if (hmmdev_rd32(hd, HMMDEV_REG_ID) != HMMDEV_ID_MAGIC) {
		mutex_unlock(&hd->cq.lock);
		dev_err(&hd->pdev->dev, "%s: the device does not answer; it stays failed\n",
			why);
		hmmdev_check_gone(hd);
		trace_hmmdev_recovery(hd->id, false, begin);
		return false;
	}
	pci_set_master(hd->pdev);
	hmmdev_jobq_recover(hd);
	hmmdev_cmdq_start(hd);
	hmmdev_faultq_start(hd);
	hmmdev_oracle_init(hd);
	mutex_unlock(&hd->cq.lock);
	hmmdev_mirrors_restart(hd);
	WRITE_ONCE(hd->failed, false);
	hmmdev_wr32(hd, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE |
		    HMMDEV_CTRL_CQ_ENABLE | HMMDEV_CTRL_FQ_ENABLE);
	dev_info(&hd->pdev->dev, "%s: device reset, queues and contexts restarted in %u ms\n",
		 why, jiffies_to_msecs(jiffies - t0));
	trace_hmmdev_recovery(hd->id, true, begin);
	hmmdev_clock_pair(hd);
	return true;
}

static void hmmdev_recover_work(struct work_struct *work)
{
	struct hmmdev *hd = container_of(work, struct hmmdev, recover_work);
	unsigned long oldest;

	down_write(&hd->state_lock);
	if (hd->removed || READ_ONCE(hd->gone) || READ_ONCE(hd->pci_recovery) ||
	    !READ_ONCE(hd->failed))
		goto out;
	oldest = hd->recover_times[HMMDEV_RECOVER_BURST - 1];
	if (oldest && time_before(jiffies, oldest + HMMDEV_RECOVER_WINDOW)) {
		dev_err(&hd->pdev->dev, "not recovering: %d failures within %u s; the device stays failed\n",
			HMMDEV_RECOVER_BURST + 1,
			jiffies_to_msecs(HMMDEV_RECOVER_WINDOW) / 1000);
		goto out;
	}
	hmmdev_fault_flush(hd);
	if (!hmmdev_restart_locked(hd, "recovered"))
		goto out;
	memmove(hd->recover_times + 1, hd->recover_times,
		sizeof(hd->recover_times) - sizeof(hd->recover_times[0]));
	hd->recover_times[0] = jiffies;
	atomic64_inc(&hd->recoveries);
out:
	up_write(&hd->state_lock);
}

void hmmdev_recover_init(struct hmmdev *hd)
{
	INIT_WORK(&hd->recover_work, hmmdev_recover_work);
}

/*
 * The device failed (hmmdev_declare_failed()): recover, within limits --
 * checked by the work itself, under state_lock, so that failures while a
 * recovery runs cannot slip past them.
 */
void hmmdev_recover_schedule(struct hmmdev *hd)
{
	if (READ_ONCE(recover) && !READ_ONCE(hd->removed) &&
	    !READ_ONCE(hd->gone) && !READ_ONCE(hd->pci_recovery))
		queue_work(system_dfl_wq, &hd->recover_work);
}

static ssize_t hmmdev_recover_write(struct file *file, const char __user *buf,
				    size_t len, loff_t *ppos)
{
	struct hmmdev *hd = file_inode(file)->i_private;
	bool on;
	int ret = kstrtobool_from_user(buf, len, &on);

	if (ret)
		return ret;
	if (!on)
		return len;
	if (!READ_ONCE(hd->failed))
		return -EINVAL;
	queue_work(system_dfl_wq, &hd->recover_work);
	flush_work(&hd->recover_work);
	return READ_ONCE(hd->failed) ? -EIO : len;
}

static const struct file_operations hmmdev_recover_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = hmmdev_recover_write,
	.llseek = noop_llseek,
};

void hmmdev_recover_debugfs(struct hmmdev *hd)
{
	debugfs_create_file("recover", 0200, hd->debugfs, hd,
			    &hmmdev_recover_fops);
}

/**
 * hmmdev_check_gone() - has the function fallen off the bus?
 * @hd: the device
 *
 * A function the PCI core marked disconnected (pciehp, surprise removal),
 * or whose ID register reads all-ones, is gone: declared failed (waiters
 * wake) and never recovered.  May sleep; called where waits look again
 * (every HMMDEV_IRQ_CHECK) and at remove.
 *
 * Return: true when gone.
 */
bool hmmdev_check_gone(struct hmmdev *hd)
{
	if (READ_ONCE(hd->gone))
		return true;
	if (!pci_dev_is_disconnected(hd->pdev) &&
	    hmmdev_rd32(hd, HMMDEV_REG_ID) != ~0u)
		return false;
	if (xchg(&hd->gone, true))
		return true;
	dev_err(&hd->pdev->dev, "the function fell off the bus (%s): calls fail with -ENODEV\n",
		pci_dev_is_disconnected(hd->pdev) ? "disconnected" :
		"all-ones reads");
	hmmdev_declare_failed(hd, "device gone");
	return true;
}

/* ---- the PCI core's error recovery and function resets ---- */

/**
 * hmmdev_bar_wait() - wait for the BARs to answer again
 * @hd: the device
 *
 * Within a reset (hd->bar_off) BAR reads are all-ones and writes are lost;
 * sleeps until the configuration is restored, at most HMMDEV_BAR_WAIT.
 *
 * Return: false when the BARs still do not answer.
 */
bool hmmdev_bar_wait(struct hmmdev *hd)
{
	if (!READ_ONCE(hd->bar_off))
		return true;
	might_sleep();
	return wait_event_timeout(hd->bar_wq, !READ_ONCE(hd->bar_off),
				  HMMDEV_BAR_WAIT) > 0;
}

static void hmmdev_bar_on(struct hmmdev *hd)
{
	WRITE_ONCE(hd->bar_off, false);
	wake_up_all(&hd->bar_wq);
}

static pci_ers_result_t hmmdev_error_detected(struct pci_dev *pdev,
					      pci_channel_state_t state)
{
	struct hmmdev *hd = pci_get_drvdata(pdev);

	switch (state) {
	case pci_channel_io_normal:
		atomic64_inc(&hd->aer_nonfatal);
		dev_warn(&pdev->dev, "uncorrectable non-fatal PCIe error: checking the device\n");
		return PCI_ERS_RESULT_CAN_RECOVER;
	case pci_channel_io_frozen:
		atomic64_inc(&hd->aer_fatal);
		WRITE_ONCE(hd->pci_recovery, true);
		WRITE_ONCE(hd->bar_off, true);
		hmmdev_declare_failed(hd, "fatal PCIe error");
		return PCI_ERS_RESULT_NEED_RESET;
	default:	/* pci_channel_io_perm_failure */
		WRITE_ONCE(hd->pci_recovery, true);
		hmmdev_check_gone(hd);
		hmmdev_declare_failed(hd, "permanent PCIe failure");
		return PCI_ERS_RESULT_DISCONNECT;
	}
}

/* After a non-fatal error: the device must still answer. */
static pci_ers_result_t hmmdev_mmio_enabled(struct pci_dev *pdev)
{
	struct hmmdev *hd = pci_get_drvdata(pdev);

	if (hmmdev_rd32(hd, HMMDEV_REG_ID) == HMMDEV_ID_MAGIC &&
	    !READ_ONCE(hd->failed))
		return PCI_ERS_RESULT_RECOVERED;
	WRITE_ONCE(hd->pci_recovery, true);
	hmmdev_declare_failed(hd, "PCIe error, then no answer");
	return PCI_ERS_RESULT_NEED_RESET;
}

/* The link was reset: configuration back, then restart. */
static pci_ers_result_t hmmdev_slot_reset(struct pci_dev *pdev)
{
	struct hmmdev *hd = pci_get_drvdata(pdev);
	bool ok;

	pci_restore_state(pdev);
	pci_save_state(pdev);
	hmmdev_bar_on(hd);
	atomic64_inc(&hd->function_resets);
	down_write(&hd->state_lock);
	hmmdev_fault_flush(hd);
	ok = !hd->removed && !READ_ONCE(hd->gone) &&
	     hmmdev_restart_locked(hd, "after the link reset");
	if (ok)
		atomic64_inc(&hd->recoveries);
	up_write(&hd->state_lock);
	return ok ? PCI_ERS_RESULT_RECOVERED : PCI_ERS_RESULT_DISCONNECT;
}

static void hmmdev_resume(struct pci_dev *pdev)
{
	struct hmmdev *hd = pci_get_drvdata(pdev);

	hmmdev_bar_on(hd);
	WRITE_ONCE(hd->pci_recovery, false);
	dev_info(&pdev->dev, "PCIe error recovery done: the device is %s\n",
		 READ_ONCE(hd->failed) ? "failed" : "working");
}

static void hmmdev_cor_error_detected(struct pci_dev *pdev)
{
	struct hmmdev *hd = pci_get_drvdata(pdev);

	atomic64_inc(&hd->aer_correctable);
}

/*
 * Around a function reset (FLR: pci_reset_function(), sysfs reset): the
 * device is declared failed (quiesced, waiters woken), user operations are
 * kept out (state_lock for writing) until it is running again.
 */
static void hmmdev_reset_prepare(struct pci_dev *pdev)
{
	struct hmmdev *hd = pci_get_drvdata(pdev);

	WRITE_ONCE(hd->pci_recovery, true);
	/* jobs in flight end with -EIO (CPU faults copy through BAR2) */
	hmmdev_declare_failed(hd, "function reset");
	down_write(&hd->state_lock);
	hmmdev_fault_flush(hd);
	WRITE_ONCE(hd->bar_off, true);	/* the core turns decoding off now */
}

static void hmmdev_reset_done(struct pci_dev *pdev)
{
	struct hmmdev *hd = pci_get_drvdata(pdev);

	hmmdev_bar_on(hd);	/* the core restored the configuration */
	atomic64_inc(&hd->function_resets);
	if (!hd->removed && !READ_ONCE(hd->gone))
		hmmdev_restart_locked(hd, "after the function reset");
	WRITE_ONCE(hd->pci_recovery, false);
	up_write(&hd->state_lock);
}

const struct pci_error_handlers hmmdev_err_handlers = {
	.error_detected = hmmdev_error_detected,
	.mmio_enabled = hmmdev_mmio_enabled,
	.slot_reset = hmmdev_slot_reset,
	.resume = hmmdev_resume,
	.cor_error_detected = hmmdev_cor_error_detected,
	.reset_prepare = hmmdev_reset_prepare,
	.reset_done = hmmdev_reset_done,
};
