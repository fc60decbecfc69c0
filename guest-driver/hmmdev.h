/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmmdev driver: internal definitions.
 */
#ifndef HMMDEV_DRV_H
#define HMMDEV_DRV_H

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>

#include "hmmdev-hw.h"

#define HMMDEV_JQ_ENTRIES	64
#define HMMDEV_JOB_TIMEOUT	(30 * HZ)
#define HMMDEV_STATUS_PENDING	0xffffffffu

/**
 * struct hmmdev_job_slot - driver side of one job-ring slot
 * @done: completed by the job interrupt once the record is written
 * @busy: the slot holds a job that has not been reaped by its submitter
 * @signalled: @done was completed for the current job
 */
struct hmmdev_job_slot {
	struct completion done;
	bool busy;
	bool signalled;
};

/**
 * struct hmmdev_jobq - the job ring shared with the device
 * @lock: protects @tail and the slots' @busy/@signalled
 * @ring: descriptors (coherent DMA memory)
 * @ring_dma: bus address of @ring
 * @comp: one completion record per slot (coherent DMA memory)
 * @comp_dma: bus address of @comp
 * @slots: per-slot waiters
 * @tail: next slot to fill
 * @slot_wq: woken when a slot is released
 */
struct hmmdev_jobq {
	spinlock_t lock;		/* see the kernel-doc above */
	struct hmmdev_job_desc *ring;
	dma_addr_t ring_dma;
	struct hmmdev_completion *comp;
	dma_addr_t comp_dma;
	struct hmmdev_job_slot slots[HMMDEV_JQ_ENTRIES];
	u32 tail;
	wait_queue_head_t slot_wq;
};

/**
 * struct hmmdev_vector - the dev_id of one MSI-X vector's handler
 * @hd: the device
 * @index: the vector (HMMDEV_VEC_*)
 */
struct hmmdev_vector {
	struct hmmdev *hd;
	unsigned int index;
};

/**
 * struct hmmdev - one hmmdev PCI function
 * @pdev: the PCI device
 * @regs: BAR0
 * @vram_phys: bus/physical address of BAR2
 * @vram_size: bytes of BAR2
 * @engines: DMA engines the device reports
 * @id: N of /dev/hmmdevN
 * @name: "hmmdevN"
 * @misc: the character device
 * @ref: held by the PCI binding and by each open file
 * @state_lock: read-held by every user operation, write-held by remove
 * @removed: the PCI function is gone; user operations fail with -ENODEV
 * @failed: the device stopped answering; user operations fail with -EIO
 * @map_lock: read-held by VRAM page faults, write-held by remove
 * @unmapped: VRAM is no longer mappable (set by remove under @map_lock)
 * @files_lock: protects @files
 * @files: open files, for zapping their VRAM mappings on remove
 * @jq: the job queue
 * @vectors: per-vector handler data
 * @irq_wq: woken by every interrupt
 * @irqs: interrupts handled, per vector
 * @jobs: jobs submitted
 * @job_errors: jobs completed with an error status
 * @timeouts: jobs that did not complete in HMMDEV_JOB_TIMEOUT
 * @device_errors: error interrupts
 * @debugfs: debugfs directory
 */
struct hmmdev {
	struct pci_dev *pdev;
	void __iomem *regs;
	phys_addr_t vram_phys;
	u64 vram_size;
	u32 engines;
	int id;
	char name[24];
	struct miscdevice misc;
	struct kref ref;
	struct rw_semaphore state_lock;
	bool removed;
	bool failed;
	struct rw_semaphore map_lock;
	bool unmapped;
	struct mutex files_lock;	/* protects @files */
	struct list_head files;
	struct hmmdev_jobq jq;
	struct hmmdev_vector vectors[HMMDEV_MSIX_VECTORS];
	wait_queue_head_t irq_wq;
	atomic64_t irqs[HMMDEV_MSIX_VECTORS];
	atomic64_t jobs;
	atomic64_t job_errors;
	atomic64_t timeouts;
	atomic64_t device_errors;
	struct dentry *debugfs;
};

static inline u32 hmmdev_rd32(struct hmmdev *hd, u32 reg)
{
	return readl(hd->regs + reg);
}

static inline u64 hmmdev_rd64(struct hmmdev *hd, u32 reg)
{
	return readq(hd->regs + reg);
}

static inline void hmmdev_wr32(struct hmmdev *hd, u32 reg, u32 val)
{
	writel(val, hd->regs + reg);
}

/* hmmdev_main.c */
void hmmdev_put(struct hmmdev *hd);
int hmmdev_irq_test(struct hmmdev *hd, u32 vector, long timeout, u64 *latency);

/* hmmdev_jobq.c */
int hmmdev_jobq_init(struct hmmdev *hd);
void hmmdev_jobq_start(struct hmmdev *hd);
void hmmdev_jobq_stop(struct hmmdev *hd);
irqreturn_t hmmdev_jobq_irq(int irq, void *data);
int hmmdev_job_run(struct hmmdev *hd, struct hmmdev_job_desc *desc, u64 *result);
int hmmdev_dma_copy(struct hmmdev *hd, dma_addr_t sysmem, u64 vram_offset,
		    u64 length, bool to_vram);

/* hmmdev_chardev.c */
int hmmdev_chardev_register(struct hmmdev *hd);
void hmmdev_chardev_unregister(struct hmmdev *hd);

#endif /* HMMDEV_DRV_H */
