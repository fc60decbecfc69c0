// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: PCI glue -- probe, interrupts, self-test, debugfs, remove.
 *
 * Lifetime: struct hmmdev is allocated at probe and reference counted
 * (@ref): the PCI binding holds one reference, every open file another.
 * The binding's reference is a managed (devm) action registered first, so
 * it is dropped last: after every other managed resource -- BARs,
 * interrupt vectors, ring memory, the page-table pool, the device-memory
 * pgmap, which lives in struct hmmdev -- has been released, on a failed
 * probe as after remove.
 *
 * Remove unregisters /dev/hmmdevN, then takes @state_lock for writing,
 * which waits for every user operation in flight (they hold it for
 * reading), marks the device removed, zaps the VRAM mappings of the open
 * files, moves every device page back to RAM and resets the device.  It
 * then detaches every mirror (their tables go before the pool does) and
 * takes @state_lock for writing once more, which waits for a file release
 * that was tearing its mirror down meanwhile.  Files still open afterwards
 * get -ENODEV and never touch the device or its memory again; the last
 * hmmdev_put() frees the structure.
 *
 * The lock order of the whole driver is written once, in hmmdev.h.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "hmmdev.h"

#define HMMDEV_SELFTEST_BYTES	(64 * 1024)

static DEFINE_IDA(hmmdev_ida);
static struct dentry *hmmdev_debugfs_root;

unsigned int hmmdev_poll_us = 50;
module_param_named(poll_us, hmmdev_poll_us, uint, 0644);
MODULE_PARM_DESC(poll_us,
		 "spin this long for a job or SYNC before sleeping on its interrupt (us, 0: never; default 50)");

static void hmmdev_put_action(void *hd)
{
	hmmdev_put(hd);
}

static void hmmdev_release(struct kref *ref)
{
	struct hmmdev *hd = container_of(ref, struct hmmdev, ref);

	ida_free(&hmmdev_ida, hd->id);
	if (hd->fault_wq)
		destroy_workqueue(hd->fault_wq);
	pci_dev_put(hd->pdev);
	kfree(hd);
}

void hmmdev_put(struct hmmdev *hd)
{
	kref_put(&hd->ref, hmmdev_release);
}

static irqreturn_t hmmdev_error_irq(int irq, void *data)
{
	struct hmmdev_vector *vec = data;
	struct hmmdev *hd = vec->hd;
	u32 code = hmmdev_rd32(hd, HMMDEV_REG_ERR_CODE);

	atomic64_inc(&hd->irqs[vec->index]);
	if (code != HMMDEV_ERR_NONE) {
		atomic64_inc(&hd->device_errors);
		dev_err_ratelimited(&hd->pdev->dev, "device error %u (%u so far)\n",
				    code, hmmdev_rd32(hd, HMMDEV_REG_ERR_COUNT));
		hmmdev_wr32(hd, HMMDEV_REG_ERR_CODE, code);
	}
	wake_up_all(&hd->irq_wq);
	return IRQ_HANDLED;
}

/* Vectors without a user yet (fault queue, command queue): count only. */
static irqreturn_t hmmdev_count_irq(int irq, void *data)
{
	struct hmmdev_vector *vec = data;
	struct hmmdev *hd = vec->hd;

	atomic64_inc(&hd->irqs[vec->index]);
	wake_up_all(&hd->irq_wq);
	return IRQ_HANDLED;
}

/*
 * Every vector is MSI-X, never shared, so each handler returns
 * IRQ_HANDLED: an interrupt whose work a poller (hmmdev_poll()) already
 * did is normal here, and IRQ_NONE would make the core count it as
 * spurious and, after enough of them, disable a working vector.
 */
static int hmmdev_setup_irqs(struct hmmdev *hd)
{
	struct pci_dev *pdev = hd->pdev;
	irq_handler_t handler;
	int ret, v;

	ret = pci_alloc_irq_vectors(pdev, HMMDEV_MSIX_VECTORS,
				    HMMDEV_MSIX_VECTORS, PCI_IRQ_MSIX);
	if (ret < 0) {
		dev_err(&pdev->dev, "cannot get %d MSI-X vectors: %d\n",
			HMMDEV_MSIX_VECTORS, ret);
		return ret;
	}
	for (v = 0; v < HMMDEV_MSIX_VECTORS; v++) {
		if (v == HMMDEV_VEC_ERROR)
			handler = hmmdev_error_irq;
		else if (v == HMMDEV_VEC_JOB)
			handler = hmmdev_jobq_irq;
		else if (v == HMMDEV_VEC_FAULT)
			handler = hmmdev_fault_irq;
		else if (v == HMMDEV_VEC_CMDQ)
			handler = hmmdev_cmdq_irq;
		else
			handler = hmmdev_count_irq;
		hd->vectors[v].hd = hd;
		hd->vectors[v].index = v;
		/* faults are served in the vector's thread (hmmdev_fault.c) */
		ret = devm_request_threaded_irq(&pdev->dev,
						pci_irq_vector(pdev, v), handler,
						v == HMMDEV_VEC_FAULT ?
						hmmdev_fault_thread : NULL,
						0, hd->name, &hd->vectors[v]);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * hmmdev_irq_test() - have the device raise @vector and wait for it
 * @hd: the device
 * @vector: MSI-X vector
 * @timeout: jiffies
 * @latency: out: doorbell to handler, ns
 *
 * Return: 0, -EINVAL for a bad vector, -ETIMEDOUT.
 */
int hmmdev_irq_test(struct hmmdev *hd, u32 vector, long timeout, u64 *latency)
{
	s64 before;
	ktime_t t0;

	if (vector >= HMMDEV_MSIX_VECTORS)
		return -EINVAL;
	before = atomic64_read(&hd->irqs[vector]);
	t0 = ktime_get();
	hmmdev_wr32(hd, HMMDEV_REG_IRQ_TEST, vector);
	if (!wait_event_timeout(hd->irq_wq,
				atomic64_read(&hd->irqs[vector]) != before,
				timeout))
		return -ETIMEDOUT;
	*latency = ktime_to_ns(ktime_sub(ktime_get(), t0));
	return 0;
}

/* Probe-time check: every vector fires, a pattern survives VRAM and back. */
static int hmmdev_selftest(struct hmmdev *hd)
{
	struct device *dev = &hd->pdev->dev;
	u64 vram_offset = 0;	/* raw VRAM */
	dma_addr_t dma;
	u64 latency;
	u32 *buf;
	ktime_t t0;
	int ret, v, i;

	for (v = 0; v < HMMDEV_MSIX_VECTORS; v++) {
		ret = hmmdev_irq_test(hd, v, HZ, &latency);
		if (ret) {
			dev_err(dev, "self-test: MSI-X vector %d did not fire\n", v);
			return ret;
		}
	}
	buf = dma_alloc_coherent(dev, HMMDEV_SELFTEST_BYTES, &dma, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < HMMDEV_SELFTEST_BYTES / 4; i++)
		buf[i] = i * 2654435761u;
	t0 = ktime_get();
	ret = hmmdev_dma_copy(hd, dma, vram_offset, HMMDEV_SELFTEST_BYTES, true);
	if (!ret) {
		memset(buf, 0, HMMDEV_SELFTEST_BYTES);
		ret = hmmdev_dma_copy(hd, dma, vram_offset,
				      HMMDEV_SELFTEST_BYTES, false);
	}
	for (i = 0; !ret && i < HMMDEV_SELFTEST_BYTES / 4; i++) {
		if (buf[i] != i * 2654435761u) {
			dev_err(dev, "self-test: word %d reads %#x after DMA round trip\n",
				i, buf[i]);
			ret = -EIO;
		}
	}
	if (!ret)
		dev_info(dev, "self-test passed: %d MSI-X vectors, %d KiB DMA round trip in %lld us\n",
			 HMMDEV_MSIX_VECTORS, HMMDEV_SELFTEST_BYTES / 1024,
			 ktime_us_delta(ktime_get(), t0));
	dma_free_coherent(dev, HMMDEV_SELFTEST_BYTES, buf, dma);
	return ret;
}

static int hmmdev_counters_show(struct seq_file *m, void *unused)
{
	struct hmmdev *hd = m->private;
	int i;

	down_read(&hd->state_lock);
	if (hd->removed) {
		up_read(&hd->state_lock);
		return -ENODEV;
	}
	for (i = 0; i < HMMDEV_CNT_MAX; i++)
		seq_printf(m, "device.%s %llu\n", hmmdev_counter_name(i),
			   hmmdev_rd64(hd, HMMDEV_REG_COUNTERS + 8 * i));
	up_read(&hd->state_lock);
	for (i = 0; i < HMMDEV_MSIX_VECTORS; i++)
		seq_printf(m, "driver.irqs.%d %lld\n", i,
			   atomic64_read(&hd->irqs[i]));
	seq_printf(m, "driver.jobs %lld\n", atomic64_read(&hd->jobs));
	seq_printf(m, "driver.job_errors %lld\n", atomic64_read(&hd->job_errors));
	seq_printf(m, "driver.timeouts %lld\n", atomic64_read(&hd->timeouts));
	seq_printf(m, "driver.device_errors %lld\n",
		   atomic64_read(&hd->device_errors));
	seq_printf(m, "driver.recoveries %lld\n",
		   atomic64_read(&hd->recoveries));
	seq_printf(m, "driver.irqs_missed %lld\n",
		   atomic64_read(&hd->irqs_missed));
	seq_printf(m, "driver.faults_lost %lld\n",
		   atomic64_read(&hd->faults_lost));
	seq_printf(m, "driver.faults_duplicate %lld\n",
		   atomic64_read(&hd->faults_duplicate));
	seq_printf(m, "driver.stale_translations %lld\n",
		   atomic64_read(&hd->stale_translations));
	seq_printf(m, "driver.failed %d\n", READ_ONCE(hd->failed));
	seq_printf(m, "driver.gone %d\n", READ_ONCE(hd->gone));
	seq_printf(m, "driver.aer_correctable %lld\n",
		   atomic64_read(&hd->aer_correctable));
	seq_printf(m, "driver.aer_nonfatal %lld\n",
		   atomic64_read(&hd->aer_nonfatal));
	seq_printf(m, "driver.aer_fatal %lld\n", atomic64_read(&hd->aer_fatal));
	seq_printf(m, "driver.function_resets %lld\n",
		   atomic64_read(&hd->function_resets));
	seq_printf(m, "driver.invalidations %lld\n",
		   atomic64_read(&hd->invalidations));
	seq_printf(m, "driver.notifier_calls %lld\n",
		   atomic64_read(&hd->notifier_calls));
	seq_printf(m, "driver.sync_timeouts %lld\n",
		   atomic64_read(&hd->sync_timeouts));
	seq_printf(m, "driver.fault_retries %lld\n",
		   atomic64_read(&hd->fault_retries));
	seq_printf(m, "driver.fault_passes %lld\n",
		   atomic64_read(&hd->fault_passes));
	seq_printf(m, "driver.fault_aborts %lld\n",
		   atomic64_read(&hd->fault_aborts));
	seq_printf(m, "driver.range_fault_retries %lld\n",
		   atomic64_read(&hd->range_fault_retries));
	seq_printf(m, "driver.range_fault_timeouts %lld\n",
		   atomic64_read(&hd->range_fault_timeouts));
	seq_printf(m, "driver.pt_pages %d\n", atomic_read(&hd->pt_pages));
	seq_printf(m, "driver.devmem_pages %lu\n", hd->dm_pages);
	seq_printf(m, "driver.devmem_used %lu\n", READ_ONCE(hd->dm_used));
	seq_printf(m, "driver.migrations_to_dev %lld\n",
		   atomic64_read(&hd->migrations_to_dev));
	seq_printf(m, "driver.migrations_to_ram %lld\n",
		   atomic64_read(&hd->migrations_to_ram));
	seq_printf(m, "driver.cow_breaks %lld\n",
		   atomic64_read(&hd->cow_breaks));
	seq_printf(m, "driver.thp_to_dev %lld\n",
		   atomic64_read(&hd->thp_to_dev));
	seq_printf(m, "driver.thp_to_ram %lld\n",
		   atomic64_read(&hd->thp_to_ram));
	seq_printf(m, "driver.thp_fallbacks %lld\n",
		   atomic64_read(&hd->thp_fallbacks));
	seq_printf(m, "driver.split_chunks %lld\n",
		   atomic64_read(&hd->split_chunks));
	seq_printf(m, "driver.folio_splits %lld\n",
		   atomic64_read(&hd->folio_splits));
	seq_printf(m, "driver.uffd_faults %lld\n",
		   atomic64_read(&hd->uffd_faults));
	seq_printf(m, "driver.thp_zap_waits %lld\n",
		   atomic64_read(&hd->thp_zap_waits));
	seq_printf(m, "driver.thp_unshares %lld\n",
		   atomic64_read(&hd->thp_unshares));
	seq_printf(m, "driver.thp_back_queued %lld\n",
		   atomic64_read(&hd->thp_back_queued));
	seq_printf(m, "driver.thp_back_unsafe %lld\n",
		   atomic64_read(&hd->thp_back_unsafe));
	seq_printf(m, "driver.thp_back_split %lld\n",
		   atomic64_read(&hd->thp_back_split));
	seq_printf(m, "driver.pages_rescued %lld\n",
		   atomic64_read(&hd->pages_rescued));
	seq_printf(m, "driver.pages_lost %lld\n",
		   atomic64_read(&hd->pages_lost));
	seq_printf(m, "driver.pages_poisoned %lld\n",
		   atomic64_read(&hd->pages_poisoned));
	seq_printf(m, "driver.pages_retired %lld\n",
		   atomic64_read(&hd->pages_retired));
	seq_printf(m, "driver.pages_tombstoned %lld\n",
		   atomic64_read(&hd->pages_tombstoned));
	seq_printf(m, "driver.pages_hwpoisoned %lld\n",
		   atomic64_read(&hd->pages_hwpoisoned));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hmmdev_counters);

/* Migration time per direction and phase, in microseconds. */
static int hmmdev_migrate_time_show(struct seq_file *m, void *unused)
{
	static const char * const dirs[] = { "to_dev", "to_ram" };
	static const char * const phases[] = {
		"setup", "alloc", "copy", "pages", "finalize", "map",
	};
	struct hmmdev *hd = m->private;
	int d, p;

	BUILD_BUG_ON(ARRAY_SIZE(phases) != HMMDEV_MIG_PHASES);
	for (d = 0; d < HMMDEV_MIG_DIRS; d++)
		for (p = 0; p < HMMDEV_MIG_PHASES; p++)
			seq_printf(m, "%s.%s_us %lld\n", dirs[d], phases[p],
				   atomic64_read(&hd->mig_ns[d][p]) / 1000);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hmmdev_migrate_time);

static int hmmdev_u32_cmp(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/* Fault round trips (record to RETRY, device clock): p50/p99/CDF in us. */
static int hmmdev_fault_latency_show(struct seq_file *m, void *unused)
{
	struct hmmdev *hd = m->private;
	int n = min(atomic_read(&hd->fault_lat_count), HMMDEV_FAULT_LAT_SAMPLES);
	u32 *v;
	int i;

	seq_printf(m, "samples %d\n", n);
	if (!n)
		return 0;
	v = kmemdup(hd->fault_lat_us, n * sizeof(*v), GFP_KERNEL);
	if (!v)
		return -ENOMEM;
	sort(v, n, sizeof(*v), hmmdev_u32_cmp, NULL);
	seq_printf(m, "p50_us %u\np99_us %u\nmax_us %u\n", v[n / 2],
		   v[(n * 99) / 100], v[n - 1]);
	/* the distribution, for a plot: every 5th percentile */
	for (i = 0; i <= 100; i += 5)
		seq_printf(m, "cdf_%d %u\n", i, v[min(n - 1, n * i / 100)]);
	kfree(v);
	return 0;
}

static int hmmdev_fault_latency_open(struct inode *inode, struct file *file)
{
	return single_open(file, hmmdev_fault_latency_show, inode->i_private);
}

/* Writing anything starts a new measurement. */
static ssize_t hmmdev_fault_latency_write(struct file *file,
					  const char __user *buf, size_t len,
					  loff_t *pos)
{
	struct hmmdev *hd = ((struct seq_file *)file->private_data)->private;

	atomic_set(&hd->fault_lat_count, 0);
	return len;
}

#define HMMDEV_SYNC_SAMPLES	200

/* Reading it runs HMMDEV_SYNC_SAMPLES empty SYNCs: p50/p99 in us. */
static int hmmdev_sync_latency_show(struct seq_file *m, void *unused)
{
	struct hmmdev *hd = m->private;
	u32 *v = kcalloc(HMMDEV_SYNC_SAMPLES, sizeof(*v), GFP_KERNEL);
	int i, ret = 0;
	u64 ns = 0;

	if (!v)
		return -ENOMEM;
	down_read(&hd->state_lock);
	for (i = 0; i < HMMDEV_SYNC_SAMPLES && !ret; i++) {
		ret = hd->removed ? -ENODEV : hmmdev_sync_round_trip(hd, &ns);
		v[i] = min_t(u64, ns / 1000, U32_MAX);
	}
	up_read(&hd->state_lock);
	if (!ret) {
		sort(v, HMMDEV_SYNC_SAMPLES, sizeof(*v), hmmdev_u32_cmp, NULL);
		seq_printf(m, "samples %d\np50_us %u\np99_us %u\nmax_us %u\n",
			   HMMDEV_SYNC_SAMPLES, v[HMMDEV_SYNC_SAMPLES / 2],
			   v[HMMDEV_SYNC_SAMPLES * 99 / 100],
			   v[HMMDEV_SYNC_SAMPLES - 1]);
	}
	kfree(v);
	return ret;
}
DEFINE_SHOW_ATTRIBUTE(hmmdev_sync_latency);

static const struct file_operations hmmdev_fault_latency_fops = {
	.owner = THIS_MODULE,
	.open = hmmdev_fault_latency_open,
	.read = seq_read,
	.write = hmmdev_fault_latency_write,
	.llseek = seq_lseek,
	.release = single_release,
};

static int hmmdev_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	struct hmmdev *hd;
	u32 magic, version;
	int ret;

	hd = kzalloc_obj(*hd, GFP_KERNEL);
	if (!hd)
		return -ENOMEM;
	kref_init(&hd->ref);
	spin_lock_init(&hd->ctx_lock);
	init_rwsem(&hd->state_lock);
	init_rwsem(&hd->map_lock);
	mutex_init(&hd->files_lock);
	INIT_LIST_HEAD(&hd->files);
	hmmdev_recover_init(hd);
	init_waitqueue_head(&hd->irq_wq);
	init_waitqueue_head(&hd->bar_wq);
	hd->pdev = pci_dev_get(pdev);
	ret = ida_alloc(&hmmdev_ida, GFP_KERNEL);
	if (ret < 0) {
		pci_dev_put(pdev);
		kfree(hd);
		return ret;
	}
	hd->id = ret;
	snprintf(hd->name, sizeof(hd->name), "hmmdev%d", hd->id);
	/* from here on, a failed probe drops the binding's reference last */
	ret = devm_add_action_or_reset(dev, hmmdev_put_action, hd);
	if (ret)
		return ret;
	pci_set_drvdata(pdev, hd);

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	hd->regs = pcim_iomap_region(pdev, HMMDEV_BAR_REGS, hd->name);
	if (IS_ERR(hd->regs))
		return PTR_ERR(hd->regs);
	magic = hmmdev_rd32(hd, HMMDEV_REG_ID);
	version = hmmdev_rd32(hd, HMMDEV_REG_VERSION);
	/* same major; minor 2 brought COPY_LIST, which migration needs */
	if (magic != HMMDEV_ID_MAGIC || version >> 16 != HMMDEV_VERSION >> 16 ||
	    version < 0x00010002u) {
		dev_err(dev, "not an hmmdev 1.2 or later 1.x: ID %#x version %#x\n",
			magic, version);
		return -ENODEV;
	}
	ret = pcim_request_region(pdev, HMMDEV_BAR_VRAM, hd->name);
	if (ret)
		return ret;
	hd->vram_phys = pci_resource_start(pdev, HMMDEV_BAR_VRAM);
	hd->vram_size = hmmdev_rd64(hd, HMMDEV_REG_VRAM_SIZE);
	if (hd->vram_size != pci_resource_len(pdev, HMMDEV_BAR_VRAM) ||
	    hd->vram_size < 2 * HMMDEV_SELFTEST_BYTES) {
		dev_err(dev, "VRAM_SIZE %#llx does not match BAR2 (%pR)\n",
			hd->vram_size, &pdev->resource[HMMDEV_BAR_VRAM]);
		return -ENODEV;
	}
	hd->engines = hmmdev_rd32(hd, HMMDEV_REG_ENGINES);
	sema_init(&hd->va_jobs, max(hd->engines, 2u) - 1);

	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	pci_set_master(pdev);
	hmmdev_wr32(hd, HMMDEV_REG_CTRL, HMMDEV_CTRL_RESET);

	ret = hmmdev_jobq_init(hd);
	if (!ret)
		ret = hmmdev_cmdq_init(hd);
	if (!ret)
		ret = hmmdev_faultq_init(hd);
	if (!ret)
		ret = hmmdev_pt_init(hd);
	if (!ret)
		ret = hmmdev_devmem_init(hd);
	if (ret)
		return ret;
	hmmdev_oracle_init(hd);
	/*
	 * Per-CPU and high priority: fault_work (the rest of a long drain, a
	 * look for a lost interrupt: hmmdev_fault.c) runs soon, on the CPU
	 * that queued it, not on whichever CPU an unbound worker wakes on.
	 */
	hd->fault_wq = alloc_workqueue("%s-fault", WQ_PERCPU | WQ_MEM_RECLAIM |
				       WQ_HIGHPRI,
				       1, hd->name);
	if (!hd->fault_wq)
		return -ENOMEM;
	ret = hmmdev_setup_irqs(hd);
	if (ret)
		return ret;
	hmmdev_jobq_start(hd);
	hmmdev_cmdq_start(hd);
	hmmdev_faultq_start(hd);
	hmmdev_wr32(hd, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE |
		    HMMDEV_CTRL_CQ_ENABLE | HMMDEV_CTRL_FQ_ENABLE);
	ret = hmmdev_selftest(hd);
	if (ret)
		goto err_stop;
	/* restored after the link reset of a fatal error (hmmdev_recover.c) */
	pci_save_state(pdev);

	hd->debugfs = debugfs_create_dir(pci_name(pdev), hmmdev_debugfs_root);
	debugfs_create_file("counters", 0444, hd->debugfs, hd,
			    &hmmdev_counters_fops);
	debugfs_create_file("fault_latency", 0644, hd->debugfs, hd,
			    &hmmdev_fault_latency_fops);
	debugfs_create_file("migrate_time", 0444, hd->debugfs, hd,
			    &hmmdev_migrate_time_fops);
	debugfs_create_file("sync_latency", 0400, hd->debugfs, hd,
			    &hmmdev_sync_latency_fops);
	debugfs_create_u32("back_delay_ms", 0600, hd->debugfs,
			   &hd->back_delay_ms);
	hmmdev_oracle_debugfs(hd);
	hmmdev_recover_debugfs(hd);
	ret = hmmdev_chardev_register(hd);
	if (ret)
		goto err_debugfs;
	ret = hmmdev_dmirror_register(hd);
	if (ret) {
		hmmdev_chardev_unregister(hd);
		goto err_debugfs;
	}
	hmmdev_clock_start(hd);
	dev_info(dev, "/dev/%s: %llu MiB VRAM, %u engines, %d MSI-X vectors\n",
		 hd->name, hd->vram_size >> 20, hd->engines, HMMDEV_MSIX_VECTORS);
	return 0;

err_debugfs:
	debugfs_remove_recursive(hd->debugfs);
err_stop:
	hmmdev_jobq_stop(hd);
	return ret;
}

static void hmmdev_remove(struct pci_dev *pdev)
{
	struct hmmdev *hd = pci_get_drvdata(pdev);

	/* a surprise removal (pciehp): nothing waits for the device below */
	hmmdev_check_gone(hd);
	hmmdev_clock_stop(hd);
	hmmdev_dmirror_unregister(hd);
	hmmdev_chardev_unregister(hd);		/* sets hd->removed */
	/* nothing may stay in VRAM: the engines copy it back first */
	hmmdev_devmem_evict(hd);
	cancel_work_sync(&hd->fault_work);
	hmmdev_fault_flush(hd);
	debugfs_remove_recursive(hd->debugfs);
	/* after the debugfs files: "recover" may have queued it */
	cancel_work_sync(&hd->recover_work);
	hmmdev_jobq_stop(hd);			/* resets the device */
	/*
	 * No job runs on a stopped device: a CPU fault on a device page
	 * that eviction could not take (the fault held it) copies it back
	 * through BAR2 at once instead of waiting out a job timeout.
	 */
	WRITE_ONCE(hd->failed, true);
	hmmdev_jobq_fail(hd);
	hmmdev_mirrors_detach(hd);
	/* a file release that unpublished its mirror before the detach */
	down_write(&hd->state_lock);
	up_write(&hd->state_lock);
	/* the binding's reference goes with the managed resources */
}

static const struct pci_device_id hmmdev_ids[] = {
	{ PCI_DEVICE(HMMDEV_VENDOR_ID, HMMDEV_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, hmmdev_ids);

static struct pci_driver hmmdev_driver = {
	.name = "hmmdev",
	.id_table = hmmdev_ids,
	.probe = hmmdev_probe,
	.remove = hmmdev_remove,
	.err_handler = &hmmdev_err_handlers,
};

static int __init hmmdev_init(void)
{
	int ret;

	ret = hmmdev_back_init();
	if (ret)
		return ret;
	hmmdev_debugfs_root = debugfs_create_dir("hmmdev", NULL);
	hmmdev_tombstone_init();
	ret = pci_register_driver(&hmmdev_driver);
	if (ret) {
		hmmdev_tombstone_exit();
		debugfs_remove_recursive(hmmdev_debugfs_root);
		hmmdev_back_exit();
	}
	return ret;
}

static void __exit hmmdev_exit(void)
{
	pci_unregister_driver(&hmmdev_driver);
	hmmdev_back_exit();
	hmmdev_tombstone_exit();
	debugfs_remove_recursive(hmmdev_debugfs_root);
}

module_init(hmmdev_init);
module_exit(hmmdev_exit);
MODULE_DESCRIPTION("hmmdev: SVM/HMM rehearsal device");
MODULE_LICENSE("GPL");
