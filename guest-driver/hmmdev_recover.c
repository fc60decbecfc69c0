// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: recovery -- a device declared failed (a job timeout: hung
 * engines; a SYNC that never completed; a fault-queue tail outside the
 * ring) is brought back without rebinding.
 *
 * hmmdev_declare_failed() (hmmdev_cmdq.c) has already quiesced and reset
 * the device, turned bus mastering off and woken every waiter: calls fail
 * with -EIO while hd->failed is set, and CPU faults on device pages copy
 * them back through BAR2.  The recovery work then
 *
 *   1. takes hd->state_lock for writing: the user operations that saw the
 *      failure have returned, new ones wait (and then see a working
 *      device); the fault work is flushed (it stops on a failed device);
 *   2. resets the device again (quiescent: nothing from before reaches
 *      memory afterwards), turns bus mastering on, restarts the job ring
 *      (abandoned tags become free), the command and the fault queue, and
 *      names the oracle's encodings again;
 *   3. zaps every mirror's device page tables and enables its context
 *      again, under mirror->lock (faults fill them again);
 *   4. clears hd->failed and enables the device.
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
#include <linux/workqueue.h>

#include "hmmdev.h"

static bool recover = true;
module_param(recover, bool, 0644);
MODULE_PARM_DESC(recover,
		 "bring a failed device back automatically (default Y)");

static void hmmdev_recover_work(struct work_struct *work)
{
	struct hmmdev *hd = container_of(work, struct hmmdev, recover_work);
	unsigned long t0 = jiffies, oldest;

	down_write(&hd->state_lock);
	if (hd->removed || !READ_ONCE(hd->failed))
		goto out;
	oldest = hd->recover_times[HMMDEV_RECOVER_BURST - 1];
	if (oldest && time_before(jiffies, oldest + HMMDEV_RECOVER_WINDOW)) {
		dev_err(&hd->pdev->dev, "not recovering: %d failures within %u s; the device stays failed\n",
			HMMDEV_RECOVER_BURST + 1,
			jiffies_to_msecs(HMMDEV_RECOVER_WINDOW) / 1000);
		goto out;
	}
	flush_workqueue(hd->fault_wq);
	mutex_lock(&hd->cq.lock);
	hmmdev_wr32(hd, HMMDEV_REG_CTRL, HMMDEV_CTRL_RESET);
	if (hmmdev_rd32(hd, HMMDEV_REG_ID) != HMMDEV_ID_MAGIC) {
		mutex_unlock(&hd->cq.lock);
		dev_err(&hd->pdev->dev, "recovery: the device does not answer; it stays failed\n");
		goto out;
	}
	pci_set_master(hd->pdev);
	hmmdev_jobq_recover(hd);
	hmmdev_cmdq_start(hd);
	hmmdev_faultq_start(hd);
	hmmdev_oracle_init(hd);
	mutex_unlock(&hd->cq.lock);
	hmmdev_mirrors_restart(hd);
	memmove(hd->recover_times + 1, hd->recover_times,
		sizeof(hd->recover_times) - sizeof(hd->recover_times[0]));
	hd->recover_times[0] = jiffies;
	WRITE_ONCE(hd->failed, false);
	hmmdev_wr32(hd, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE |
		    HMMDEV_CTRL_CQ_ENABLE | HMMDEV_CTRL_FQ_ENABLE);
	atomic64_inc(&hd->recoveries);
	dev_info(&hd->pdev->dev, "recovered: device reset, queues and contexts restarted in %u ms\n",
		 jiffies_to_msecs(jiffies - t0));
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
	if (READ_ONCE(recover) && !READ_ONCE(hd->removed))
		queue_work(system_unbound_wq, &hd->recover_work);
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
	queue_work(system_unbound_wq, &hd->recover_work);
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
