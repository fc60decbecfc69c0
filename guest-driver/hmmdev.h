/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmmdev driver: internal definitions.
 */
#ifndef HMMDEV_DRV_H
#define HMMDEV_DRV_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/completion.h>
#include <linux/kref.h>
#include <linux/memremap.h>
#include <linux/miscdevice.h>
#include <linux/mmu_notifier.h>
#include <linux/workqueue.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/rwsem.h>
#include <linux/semaphore.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>

#include "hmmdev-hw.h"
#include "hmmdev_compat.h"

/*
 * Lock order -- the one place it is written; each lock's rules sit with its
 * kernel-doc and the file that uses it.  Outer to inner:
 *
 *   hmmdev_warm_lock (mutex, module-wide: the first open's self-test,
 *	hmmdev_dmirror.c; its mappings are made under it, with mmap_lock)
 *   hd->state_lock (rwsem: user operations read, remove writes; file
 *	release reads it around the mirror's teardown and flushes the fault
 *	work inside, which never takes it)
 *     hf->mirror_lock (first use of a /dev/hmmdevN file)
 *     mirror->job_lock (one VA job sequence per mirror)
 *       mmap_lock (hmm_range_fault(), GUP, user copies, migrate_vma_*())
 *         hd->map_lock (VRAM mmap faults)
 *         mirror->lock (device page tables; the invalidation callback,
 *		which runs under mmap_lock or from reclaim)
 *           cq.lock (INVALIDATE + SYNC, RESPOND; may sleep, never
 *		allocates)
 *         split->lock (spinlock: the cursor of a range two tasks move,
 *		hmmdev_migrate.c; only vma_lookup() inside)
 *             pt_lock, dm_lock, ctx_lock, mirror->back_lock (spinlocks,
 *		innermost)
 *   hd->files_lock (remove zaps the files' mappings under it)
 *   jq.lock (spinlock, taken in the job interrupt; innermost)
 *   hmmdev_back_lock (spinlock, innermost, under any of the above)
 *
 * The invalidation callback may wait for a 2 MiB page moving back to RAM
 * (hmmdev_back_wait()) under mmap_lock, before it takes mirror->lock; the
 * mover holds mmap_lock for reading and never waits for an invalidation
 * until it is done (its own callbacks take mirror->lock as usual).
 *
 * The helper that moves part of a MIGRATE_TO_SYS range beside its caller
 * (hmmdev_migrate_split()) takes mmap_lock and what is below it, nothing
 * above: it works for a caller that holds state_lock (read) and waits for
 * it, so remove and recovery, which take state_lock for writing, cannot
 * begin while it runs.
 *
 * The fault ring's drain (the FAULT vector's thread or the fault work)
 * holds hd->fault_lock and takes mmap_lock, mirror->lock and cq.lock in
 * that order, never state_lock or job_lock.  A
 * job's submitter serving a deferred fault (hmmdev_fault_serve_deferred())
 * holds state_lock and job_lock (not va_jobs) and takes the same three
 * after them.
 *
 * The recovery work (hmmdev_recover.c) takes state_lock for writing, then
 * cq.lock, then, one after the other, each mirror's mirror->lock; it
 * flushes the fault ring's drains (hmmdev_fault_flush(); they never take
 * state_lock) under state_lock.
 * The PCI core's slot_reset and reset_done do the same; reset_prepare
 * takes state_lock for writing and holds it until reset_done.
 *
 * hmmdev_bar_wait() (a reset has the BARs off) may sleep under
 * state_lock (read), mirror->lock or a device page's lock: what it waits
 * for -- the configuration restored, hd->bar_off cleared -- happens in the
 * PCI core's reset path before any of our locks is taken.
 */

#define HMMDEV_JQ_ENTRIES	64
#define HMMDEV_CQ_ENTRIES	64
#define HMMDEV_FQ_ENTRIES	16	/* > engines + 1: never overflows */
#define HMMDEV_JOB_TIMEOUT	(READ_ONCE(hmmdev_job_timeout_s) * HZ)
#define HMMDEV_IRQ_CHECK	(HZ / 10)	/* a lost interrupt costs this */
#define HMMDEV_FAULT_LOST_RETRIES 16	/* a job's resubmissions, fault lost */
#define HMMDEV_MAX_ENGINES	16	/* a fault id's engine field: 4 bits */
#define HMMDEV_RECOVER_BURST	3	/* recoveries per HMMDEV_RECOVER_WINDOW */
#define HMMDEV_RECOVER_WINDOW	(60 * HZ)
#define HMMDEV_BAR_WAIT		(10 * HZ)	/* a reset's BARs-off window */
#define HMMDEV_STATUS_PENDING	0xffffffffu
#define HMMDEV_VA_LIMIT		BIT_ULL(HMMDEV_VA_BITS)
#define HMMDEV_FAULT_AROUND_DEFAULT	16	/* pages */
#define HMMDEV_FAULT_LAT_SAMPLES	4096
#define HMMDEV_DEVMEM_BASE	(64ull << 20)	/* VRAM below: raw access */
#define HMMDEV_DM_BLOCK		(PMD_SIZE >> PAGE_SHIFT)  /* pages per 2 MiB */

/**
 * struct hmmdev_job_slot - driver side of one job tag (completion record)
 * @done: completed by the job interrupt once the record is written
 * @busy: the slot holds a job that has not been reaped by its submitter
 * @signalled: @done was completed for the current job
 * @abandoned: the submitter gave up on the job (the device failed or timed
 *	out): the tag is released when the device has been reset
 *	(hmmdev_jobq_recover())
 * @gen: @jq.gen when the job was submitted
 */
struct hmmdev_job_slot {
	struct completion done;
	bool busy;
	bool signalled;
	bool abandoned;
	u32 gen;
};

/**
 * struct hmmdev_jobq - the job ring shared with the device
 * @lock: protects @tail and the tags' @busy/@signalled
 * @ring: descriptors (coherent DMA memory)
 * @ring_dma: bus address of @ring
 * @comp: one completion record per tag (coherent DMA memory)
 * @comp_dma: bus address of @comp
 * @slots: per-tag waiters
 * @tail: next slot to fill
 * @slot_wq: woken when a tag is released
 * @gen: device resets by recovery; a job of an older one never completes
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
	u32 gen;
};

/**
 * struct hmmdev_cmdq - the command queue shared with the device
 * @lock: serialises submitters; may be taken under mirror->lock
 * @ring: commands (coherent DMA memory)
 * @ring_dma: bus address of @ring
 * @fence: where SYNC writes its sequence number (coherent DMA memory)
 * @fence_dma: bus address of @fence
 * @tail: next slot to fill
 * @head: CQ_HEAD as last read: the device has fetched at least this far,
 *	so CQ_HEAD is read again only when @tail catches up with it
 * @respond_reg: the device has FQ_RESPOND (HMMDEV_CAP_FQ_RESPOND)
 * @seq: last SYNC sequence number issued
 * @wq: woken by vector CMDQ
 */
struct hmmdev_cmdq {
	struct mutex lock;		/* see the kernel-doc above */
	struct hmmdev_command *ring;
	dma_addr_t ring_dma;
	u64 *fence;
	dma_addr_t fence_dma;
	u32 tail;
	u32 head;
	bool respond_reg;
	u64 seq;
	wait_queue_head_t wq;
};

struct hmmdev;

/**
 * struct hmmdev_mirror - a device context mirroring one process (see the
 * lifetime and locking rules in hmmdev_mirror.c)
 * @hd: the device (a reference is held)
 * @notifier: covers the whole address space of @mm
 * @mm: the mirrored mm (mmgrab()ed)
 * @lock: device page tables; the read_begin/read_retry lock
 * @job_lock: one compat READ/WRITE job at a time (the fault hint)
 * @ref: held by the owner and by the fault service while it works
 * @ctx: device context number
 * @root: VRAM offset of the level-4 table
 * @dead: the device is gone or the context torn down
 * @hint: ranges of the running job the fault service populates whole
 *	(start, one past the end; end 0: no hint), and whether faults there
 *	are left out of @job_faults (uncounted: a dmirror READ's buffer)
 * @fault_around: pages faulted in around an address without a hint
 * @populate_job: hint the whole range of each job (struct hmmdev_policy)
 * @migrate_on_fault: faults move pages to VRAM first (struct hmmdev_policy)
 * @pt_pages: table pages this mirror holds (under @lock), at most
 *	hmmdev_pt_quota() of them: one process cannot take the whole pool
 * @job_faults: faults serviced for the running job (counted ones)
 * @fault_error: errno of the last fault answered ABORT
 * @flags: HMMDEV_MIRROR_FAIL_ALLOC (HMM_DMIRROR_FLAGS): the next 2 MiB
 *	page allocation of a migration (device or system side) fails, once,
 *	so that the THP moves as 4 KiB pages; where migrations move 4 KiB
 *	pages only (6.12, coherent memory) there is none to fail
 * @deferred_lock: protects @deferred and @deferred_pending
 * @deferred: a fault on a userfaultfd range, for the job's submitter
 * @deferred_pending: @deferred waits for the submitter, which resumes the
 *	job it aborted (hmmdev_fault.c)
 */
struct hmmdev_mirror {
	struct hmmdev *hd;
	struct mmu_interval_notifier notifier;
	struct mm_struct *mm;
	struct mutex lock;		/* see the kernel-doc above */
	struct mutex job_lock;		/* see the kernel-doc above */
	struct kref ref;
	u16 ctx;
	u64 root;
	bool dead;
	struct {
		u64 start;
		u64 end;
		bool uncounted;
	} hint[2];
	u32 fault_around;
	bool populate_job;
	bool migrate_on_fault;
	unsigned int pt_pages;
	atomic_t job_faults;
	int fault_error;
	unsigned long flags;
	spinlock_t deferred_lock;	/* see the kernel-doc above */
	struct hmmdev_fault deferred;
	bool deferred_pending;
	spinlock_t back_lock;		/* the four below: hmmdev_back.c */
	struct list_head back_moves;
	wait_queue_head_t back_wq;
	bool back_closed;
};

/**
 * struct hmmdev_back_move - 2 MiB device pages moving back whole
 * @node: in the mirror's back_moves
 * @start: first byte of the range
 * @end: one past the last
 * @task: who moves them (its own invalidations do not wait)
 * @m: the mirror it is registered with (a reference), NULL if none
 */
struct hmmdev_back_move {
	struct list_head node;
	u64 start;
	u64 end;
	struct task_struct *task;
	struct hmmdev_mirror *m;
};

unsigned long hmmdev_back_begin(struct hmmdev_mirror *m, u64 start, u64 end,
				unsigned long *scratch,
				struct hmmdev_back_move *mv);
bool hmmdev_back_fault(struct hmmdev *hd, struct vm_fault *vmf,
		       struct folio *folio, struct hmmdev_back_move *mv,
		       vm_fault_t *ret);
void hmmdev_back_end(struct hmmdev_back_move *mv);
bool hmmdev_back_wait(struct hmmdev_mirror *m,
		      const struct mmu_notifier_range *range);
void hmmdev_back_close(struct hmmdev_mirror *m);

struct hmmdev_back_work;

/**
 * struct hmmdev_back_caller - a task of ours inside hmm_range_fault()
 * @node: in hmmdev_back.c's list of callers
 * @task: the task
 * @wait: the move one of its faults left it to wait for (a reference),
 *	or NULL; read and set by @task only
 */
struct hmmdev_back_caller {
	struct list_head node;
	struct task_struct *task;
	struct hmmdev_back_work *wait;
};

void hmmdev_back_caller_begin(struct hmmdev_back_caller *c);
bool hmmdev_back_caller_wait(struct hmmdev_back_caller *c,
			     unsigned long timeout);
void hmmdev_back_caller_end(struct hmmdev_back_caller *c);
int hmmdev_back_init(void);
void hmmdev_back_exit(void);

#define HMMDEV_MIRROR_FAIL_ALLOC	0	/* bit of hmmdev_mirror.flags */

/* Consume a pending HMM_DMIRROR_FLAG_FAIL_ALLOC (@m may be NULL). */
static inline bool hmmdev_mirror_fail_alloc(struct hmmdev_mirror *m)
{
	return m && test_and_clear_bit(HMMDEV_MIRROR_FAIL_ALLOC, &m->flags);
}

/* Where migration time goes (debugfs migrate_time), per direction. */
enum hmmdev_mig_phase {
	HMMDEV_MIG_SETUP,	/* migrate_vma_setup(): collect and unmap */
	HMMDEV_MIG_ALLOC,	/* destination pages */
	HMMDEV_MIG_COPY,	/* the device's copy lists */
	HMMDEV_MIG_PAGES,	/* migrate_vma_pages() */
	HMMDEV_MIG_FINALIZE,	/* migrate_vma_finalize(): remap, free */
	HMMDEV_MIG_MAP,		/* device PTEs for the moved pages */
	HMMDEV_MIG_PHASES
};

enum hmmdev_mig_dir { HMMDEV_MIG_TO_DEV, HMMDEV_MIG_TO_RAM, HMMDEV_MIG_DIRS };

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
 * @dmirror_name: "hmm_dmirrorN"
 * @dmirror_misc: /dev/hmm_dmirrorN, lib/test_hmm_uapi.h compatible
 * @ref: held by the PCI binding and by each open file
 * @state_lock: read-held by every user operation, write-held by remove
 * @removed: the PCI function is gone; user operations fail with -ENODEV
 * @failed: the device stopped answering; user operations fail with -EIO
 * @gone: the function fell off the bus (all-ones reads, or the PCI core
 *	says it is disconnected); user operations fail with -ENODEV
 * @pci_recovery: the PCI core's error recovery (AER) or a function reset
 *	owns the device: hmmdev_recover_work() stays out of its way
 * @bar_off: within @pci_recovery, the BARs do not answer (the link or the
 *	function is being reset, the configuration not yet restored): VRAM
 *	page-table walks and CPU copies wait (hmmdev_bar_wait())
 * @bar_wq: woken when @bar_off clears
 * @map_lock: read-held by VRAM page faults, write-held by remove
 * @unmapped: VRAM is no longer mappable (set by remove under @map_lock)
 * @files_lock: protects @files
 * @files: open files, for zapping their VRAM mappings on remove
 * @jq: the job queue
 * @cq: the command queue
 * @va_jobs: admits engines - 1 jobs on virtual addresses (hmmdev_mirror.c)
 * @fq_ring: fault records (coherent DMA memory)
 * @fq_dma: bus address of @fq_ring
 * @fq_head: next record to read (under @fault_lock; hmmdev_faultq_start()
 *	resets it where no drain runs: at probe, or failed and flushed)
 * @fault_pfns: hmm_range_fault() output of the drain (under @fault_lock)
 * @fault_lock: one drain of the fault ring at a time: the FAULT vector's
 *	thread or @fault_work (hmmdev_fault.c)
 * @fault_wq: the workqueue of @fault_work (per-CPU, high priority)
 * @fault_work: drains the fault ring too (the rest of a long run, a lost
 *	interrupt)
 * @fault_lat_us: recent fault round trips (record to RETRY), us
 * @fault_lat_count: samples recorded so far
 * @ctx_lock: protects @ctx_used and @mirrors
 * @ctx_used: contexts in use
 * @mirrors: the mirror of each context
 * @pgmap_owner: owner of our device-private pages (device memory)
 * @pgmap: VRAM above HMMDEV_DEVMEM_BASE as MEMORY_DEVICE_PRIVATE pages
 * @dm_lock: protects @dm_bitmap, @dm_block_used, @dm_hint and @dm_used
 * @dm_bitmap: device pages in use, one bit per 4 KiB
 * @dm_block_used: pages in use in each 2 MiB block (HMMDEV_DM_BLOCK pages)
 * @dm_blocks: number of 2 MiB blocks
 * @dm_hint: the block 4 KiB pages were last carved from
 * @dm_used: device pages in use
 * @dm_first_pfn: pfn of the first device page
 * @dm_pages: number of device pages (0: no device memory), a whole number
 *	of blocks
 * @dm_virt: the device pages' VRAM, mapped for the CPU (device-private:
 *	BAR2; coherent pages are in the kernel's own map)
 * @dm_poison: device pages an engine found poisoned (VRAM_POISONED), one
 *	bit per 4 KiB; set under @dm_lock, never cleared
 * @dm_retired: poisoned pages freed by their owner: never handed out again
 *	(they stay set in @dm_bitmap, out of @dm_used)
 * @pages_poisoned: bits set in @dm_poison
 * @pages_retired: bits set in @dm_retired
 * @pages_tombstoned: lost device pages moved at remove to tombstones
 *	(hmmdev_tombstone.c: SIGBUS on access)
 * @pages_hwpoisoned: lost device pages that came back at remove as
 *	hwpoison system pages instead (2 MiB ones, or no tombstone free:
 *	memory_failure(), SIGBUS on access)
 * @pages_lost: device pages that could not be read back at all
 * @pages_rescued: device pages copied back by the CPU (failed engines)
 * @migrations_to_dev: pages migrated to VRAM
 * @migrations_to_ram: pages migrated back on CPU faults
 * @cow_breaks: device write faults on read-only (COW) device pages
 * @thp_to_dev: huge pages migrated to VRAM whole (one 2 MiB device folio)
 * @thp_to_ram: device huge pages migrated back whole (one system THP)
 * @thp_fallbacks: huge pages that moved as 4 KiB pages instead (no free
 *	2 MiB block, no system THP, or HMM_DMIRROR_FLAG_FAIL_ALLOC)
 * @split_chunks: chunks of a MIGRATE_TO_SYS range that the helper task
 *	moved beside the caller (hmmdev_migrate_split())
 * @folio_splits: device huge pages split by the core (partial munmap,
 *	mprotect, mremap, ...)
 * @uffd_faults: device faults on userfaultfd ranges, served by the job's
 *	submitter
 * @thp_zap_waits: invalidations held back by a 2 MiB page moving back
 *	(hmmdev_back.c)
 * @thp_unshares: faults on a shared or unmirrored 2 MiB page that moved it
 *	split, on the task's way back to user mode or on hmmdev_back_wq
 *	(hmmdev_back.c)
 * @thp_back_queued: such moves queued on hmmdev_back_wq (a fault from
 *	kernel mode or another process)
 * @thp_back_unsafe: such pages moved whole all the same (a fault from
 *	kernel mode that may not be retried and is not ours, or no memory
 *	to queue the move)
 * @thp_back_split: moves back whose 2 MiB pages went split because they
 *	could not be registered (hmmdev_back_register(): invalidations kept
 *	coming)
 * @back_delay_ms: fault injection (debugfs back_delay_ms): a whole move
 *	back holds its pages unmapped this long
 * @mig_ns: time spent per direction and phase (enum hmmdev_mig_phase)
 * @pt_lock: protects @pt_bitmap
 * @pt_virt: the page-table pool in VRAM, mapped
 * @pt_base: VRAM offset of the pool
 * @pt_size: bytes of the pool
 * @raw_size: bytes of raw VRAM at offset 0 (mmap, HMMDEV_IOC_DMA): up to
 *	HMMDEV_DEVMEM_BASE, never into the pool
 * @pt_bitmap: allocated pool pages
 * @pt_pages: pool pages in use
 * @invalidations: INVALIDATE+SYNC issued
 * @notifier_calls: invalidation callbacks that reached the device side
 * @sync_timeouts: SYNCs that did not complete
 * @fault_retries: faults answered RETRY
 * @fault_passes: drains of the fault ring that served at least one record
 *	(records served / passes: how many faults one pass batches)
 * @fault_aborts: faults answered ABORT
 * @range_fault_retries: hmm_range_fault() rounds repeated (range changed)
 * @range_fault_timeouts: faults and snapshots given up after fault_busy_ms
 * @vectors: per-vector handler data
 * @irq_wq: woken by every interrupt
 * @irqs: interrupts handled, per vector
 * @jobs: jobs submitted
 * @job_errors: jobs completed with an error status
 * @timeouts: jobs that did not complete in HMMDEV_JOB_TIMEOUT
 * @device_errors: error interrupts
 * @recover_work: brings a failed device back (hmmdev_recover.c)
 * @clock_work: traces clock pairs for the timeline (hmmdev_trace.c)
 * @recover_times: when the last recoveries ran (jiffies), for the limit
 * @recoveries: failures the device was brought back from
 * @aer_correctable: correctable PCIe errors reported to us (AER)
 * @aer_nonfatal: uncorrectable non-fatal PCIe errors (the link still works)
 * @aer_fatal: fatal PCIe errors (the core resets the link, we restart)
 * @function_resets: resets through the PCI core (FLR, sysfs reset, AER)
 * @irqs_missed: completions found without their interrupt (lost MSI-X)
 * @faults_lost: VA jobs resubmitted after a fault the device could not
 *	report (a full fault queue)
 * @faults_duplicate: fault records dropped as duplicates
 * @fault_last_id: per engine, the id of the fault last answered (the fault
 *	work only; ~0: none -- an id's low 4 bits are its engine, < 8)
 * @stale_translations: jobs the device's coherence oracle failed
 *	(HMMDEV_JOB_STALE_TRANSLATION, -ESTALE)
 * @oracle: the device checks translations against CPU page tables
 *	(CAPS.ORACLE; hmmdev_oracle.c)
 * @seed_bug: the protocol bug seeded for a test (enum hmmdev_seed_bug,
 *	debugfs seed_bug), HMMDEV_SEED_NONE otherwise
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
	char dmirror_name[24];
	struct miscdevice dmirror_misc;
	struct kref ref;
	struct rw_semaphore state_lock;
	bool removed;
	bool failed;
	bool gone;
	bool pci_recovery;
	bool bar_off;
	wait_queue_head_t bar_wq;
	struct rw_semaphore map_lock;
	bool unmapped;
	struct mutex files_lock;	/* protects @files */
	struct list_head files;
	struct hmmdev_jobq jq;
	struct hmmdev_cmdq cq;
	struct semaphore va_jobs;
	struct hmmdev_fault *fq_ring;
	dma_addr_t fq_dma;
	u32 fq_head;
	unsigned long *fault_pfns;
	struct mutex fault_lock;		/* one drain of the fault ring */
	struct workqueue_struct *fault_wq;
	struct work_struct fault_work;
	u32 fault_lat_us[HMMDEV_FAULT_LAT_SAMPLES];
	atomic_t fault_lat_count;
	spinlock_t ctx_lock;		/* @ctx_used, @mirrors */
	DECLARE_BITMAP(ctx_used, HMMDEV_NUM_CONTEXTS);
	struct hmmdev_mirror *mirrors[HMMDEV_NUM_CONTEXTS];
	void *pgmap_owner;
	struct dev_pagemap pgmap;
	spinlock_t dm_lock;		/* see the kernel-doc above */
	unsigned long *dm_bitmap;
	u16 *dm_block_used;
	unsigned long dm_blocks;
	unsigned long dm_hint;
	unsigned long dm_used;
	unsigned long dm_first_pfn;
	unsigned long dm_pages;
	void __iomem *dm_virt;
	unsigned long *dm_poison;
	unsigned long *dm_retired;
	atomic64_t pages_poisoned;
	atomic64_t pages_retired;
	atomic64_t pages_tombstoned;
	atomic64_t pages_hwpoisoned;
	atomic64_t pages_lost;
	atomic64_t pages_rescued;
	atomic64_t migrations_to_dev;
	atomic64_t migrations_to_ram;
	atomic64_t cow_breaks;
	atomic64_t thp_to_dev;
	atomic64_t thp_to_ram;
	atomic64_t thp_fallbacks;
	atomic64_t split_chunks;
	atomic64_t folio_splits;
	atomic64_t uffd_faults;
	atomic64_t thp_zap_waits;
	atomic64_t thp_unshares;
	atomic64_t thp_back_queued;
	atomic64_t thp_back_unsafe;
	atomic64_t thp_back_split;
	u32 back_delay_ms;
	atomic64_t mig_ns[HMMDEV_MIG_DIRS][HMMDEV_MIG_PHASES];
	spinlock_t pt_lock;		/* @pt_bitmap */
	void __iomem *pt_virt;
	u64 pt_base;
	u64 pt_size;
	u64 raw_size;
	unsigned long *pt_bitmap;
	atomic_t pt_pages;
	atomic64_t invalidations;
	atomic64_t notifier_calls;
	atomic64_t sync_timeouts;
	atomic64_t fault_retries;
	atomic64_t fault_passes;
	atomic64_t fault_aborts;
	atomic64_t range_fault_retries;
	atomic64_t range_fault_timeouts;
	struct hmmdev_vector vectors[HMMDEV_MSIX_VECTORS];
	wait_queue_head_t irq_wq;
	atomic64_t irqs[HMMDEV_MSIX_VECTORS];
	atomic64_t jobs;
	atomic64_t job_errors;
	atomic64_t timeouts;
	atomic64_t device_errors;
	struct work_struct recover_work;
	struct delayed_work clock_work;
	unsigned long recover_times[HMMDEV_RECOVER_BURST];
	atomic64_t recoveries;
	atomic64_t aer_correctable;
	atomic64_t aer_nonfatal;
	atomic64_t aer_fatal;
	atomic64_t function_resets;
	atomic64_t irqs_missed;
	atomic64_t faults_lost;
	atomic64_t faults_duplicate;
	u32 fault_last_id[HMMDEV_MAX_ENGINES];
	atomic64_t stale_translations;
	bool oracle;
	int seed_bug;
	struct dentry *debugfs;
};

/*
 * Protocol bugs a test seeds on purpose (debugfs seed_bug), each one the
 * coherence oracle must catch at the device's first use of a stale
 * translation:
 * @HMMDEV_SEED_SKIP_INVALIDATE: unmap invalidations (munmap,
 *	MADV_DONTNEED) leave the device's page tables and ATC alone
 * @HMMDEV_SEED_SKIP_SYNC: INVALIDATE without SYNC: the callback returns
 *	while an engine may still use the translation
 * @HMMDEV_SEED_WRITABLE: system pages are mapped writable for the device
 *	whatever the CPU allows (a COW page after fork())
 * @HMMDEV_SEED_OWN_MIGRATION: our own migrations' invalidations are
 *	ignored, as lib/test_hmm.c does (safe there, not here: the device
 *	keeps translations of the pages that moved)
 */
enum hmmdev_seed_bug {
	HMMDEV_SEED_NONE,
	HMMDEV_SEED_SKIP_INVALIDATE,
	HMMDEV_SEED_SKIP_SYNC,
	HMMDEV_SEED_WRITABLE,
	HMMDEV_SEED_OWN_MIGRATION,
};

static inline bool hmmdev_seeded(struct hmmdev *hd, enum hmmdev_seed_bug bug)
{
	return unlikely(READ_ONCE(hd->seed_bug) == bug);
}

extern unsigned int hmmdev_poll_us;
extern unsigned int hmmdev_job_timeout_s;

/*
 * Hybrid completion wait: spin up to hmmdev_poll_us for @cond before the
 * caller sleeps on the interrupt.  An interrupt round trip costs 100-400
 * us under TCG; a short device operation (a page copy, a SYNC) a few us.
 * Evaluates to @cond's last value.
 */
#define hmmdev_poll(cond)						\
({									\
	u64 __end = ktime_get_ns() + READ_ONCE(hmmdev_poll_us) * 1000ull; \
	bool __done;							\
									\
	while (!(__done = (cond)) && ktime_get_ns() < __end)		\
		cpu_relax();						\
	__done;								\
})

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
void hmmdev_jobq_fail(struct hmmdev *hd);
void hmmdev_jobq_recover(struct hmmdev *hd);
void hmmdev_quiesce(struct hmmdev *hd, unsigned int ms);
irqreturn_t hmmdev_jobq_irq(int irq, void *data);
int hmmdev_job_run(struct hmmdev *hd, struct hmmdev_job_desc *desc, u64 *result,
		   u32 *status);
int hmmdev_job_start(struct hmmdev *hd, struct hmmdev_job_desc *desc);
int hmmdev_job_wait(struct hmmdev *hd, int tag, struct hmmdev_job_desc *desc,
		    u64 *result, u32 *status_out);

/* hmmdev_recover.c */
void hmmdev_recover_init(struct hmmdev *hd);
void hmmdev_recover_schedule(struct hmmdev *hd);
void hmmdev_recover_debugfs(struct hmmdev *hd);
bool hmmdev_check_gone(struct hmmdev *hd);
bool hmmdev_bar_wait(struct hmmdev *hd);
extern const struct pci_error_handlers hmmdev_err_handlers;

/* hmmdev_trace.c */
void hmmdev_clock_pair(struct hmmdev *hd);
void hmmdev_clock_start(struct hmmdev *hd);
void hmmdev_clock_stop(struct hmmdev *hd);

/* hmmdev_tombstone.c */
struct page *hmmdev_tombstone_alloc(void);
void hmmdev_tombstone_init(void);
void hmmdev_tombstone_exit(void);

/* hmmdev_oracle.c */
void hmmdev_oracle_init(struct hmmdev *hd);
void hmmdev_oracle_bind(struct hmmdev *hd, u16 ctx, struct mm_struct *mm);
void hmmdev_oracle_debugfs(struct hmmdev *hd);

/* hmmdev_cmdq.c */
int hmmdev_cmdq_init(struct hmmdev *hd);
void hmmdev_cmdq_start(struct hmmdev *hd);
irqreturn_t hmmdev_cmdq_irq(int irq, void *data);
void hmmdev_declare_failed(struct hmmdev *hd, const char *why);
int hmmdev_invalidate(struct hmmdev *hd, u16 ctx, u64 start, u64 end);
int hmmdev_sync_round_trip(struct hmmdev *hd, u64 *ns);
int hmmdev_respond(struct hmmdev *hd, u32 id, u32 action);

/* hmmdev_pt.c */
int hmmdev_pt_init(struct hmmdev *hd);
u64 hmmdev_pt_alloc(struct hmmdev *hd);
u64 hmmdev_pt_lookup(struct hmmdev_mirror *m, u64 va);
int hmmdev_pt_map(struct hmmdev_mirror *m, u64 va, u64 leaf, bool *replaced);
unsigned long hmmdev_pt_zap(struct hmmdev_mirror *m, u64 start, u64 end);
void hmmdev_pt_reap(struct hmmdev_mirror *m, u64 start, u64 end);
bool hmmdev_pt_any(struct hmmdev_mirror *m, u64 start, u64 end);
bool hmmdev_pt_any_atomic(struct hmmdev_mirror *m, u64 start, u64 end);
void hmmdev_pt_destroy(struct hmmdev_mirror *m);

/* hmmdev_mirror.c */
struct hmmdev_mirror *hmmdev_mirror_create(struct hmmdev *hd);
struct hmmdev_mirror *hmmdev_mirror_get(struct hmmdev *hd, unsigned int ctx);
void hmmdev_mirror_put(struct hmmdev_mirror *m);
void hmmdev_mirror_destroy(struct hmmdev_mirror *m);
void hmmdev_mirrors_restart(struct hmmdev *hd);
void hmmdev_mirrors_detach(struct hmmdev *hd);
void hmmdev_mirror_jobs_begin(struct hmmdev_mirror *m);
void hmmdev_mirror_jobs_end(struct hmmdev_mirror *m);
void hmmdev_mirror_hint(struct hmmdev_mirror *m, int i, u64 start, u64 end);
void hmmdev_mirror_hint_uncounted(struct hmmdev_mirror *m, int i, u64 start,
				  u64 end);
struct hmm_range;
int hmmdev_mirror_range_fault(struct hmmdev_mirror *m, struct hmm_range *range,
			      bool unlocked);
int hmmdev_mirror_run(struct hmmdev_mirror *m, struct hmmdev_job_desc *desc,
		      u64 *result);

/* hmmdev_fault.c */
int hmmdev_faultq_init(struct hmmdev *hd);
void hmmdev_faultq_start(struct hmmdev *hd);
irqreturn_t hmmdev_fault_irq(int irq, void *data);
irqreturn_t hmmdev_fault_thread(int irq, void *data);
void hmmdev_fault_work(struct work_struct *work);
void hmmdev_fault_flush(struct hmmdev *hd);
void hmmdev_fault_latency_record(struct hmmdev *hd, u64 ns);
int hmmdev_make_exclusive(struct hmmdev_mirror *m, u64 start, u64 end);
int hmmdev_fault_serve_deferred(struct hmmdev_mirror *m);

/* hmmdev_devmem.c */
int hmmdev_devmem_init(struct hmmdev *hd);
void hmmdev_devmem_evict(struct hmmdev *hd);
u64 hmmdev_devmem_offset(struct hmmdev *hd, struct page *page);
bool hmmdev_devmem_ours(struct hmmdev *hd, struct page *page);
unsigned long hmmdev_devmem_select(struct hmmdev *hd);
unsigned long hmmdev_devmem_select_huge(struct hmmdev *hd);
struct page *hmmdev_devmem_alloc_huge(struct hmmdev *hd);
unsigned int hmmdev_devmem_reserve(struct hmmdev *hd, struct page **pages,
				   unsigned int n);
void hmmdev_devmem_unreserve(struct hmmdev *hd, struct page **pages,
			     unsigned int n);
bool hmmdev_devmem_rescue(struct hmmdev *hd, struct page *dpage,
			  struct page *spage, unsigned int order);
void hmmdev_devmem_poisoned(struct hmmdev *hd, struct page *dpage);
bool hmmdev_devmem_is_poisoned(struct hmmdev *hd, struct page *dpage,
			       unsigned int order);
void hmmdev_devmem_cpu_copy(struct hmmdev *hd, struct page *dpage,
			    struct page *spage, unsigned int order,
			    bool to_vram);

/* hmmdev_copy.c */
#define HMMDEV_COPY_BATCH	512	/* items per copy table */
int hmmdev_devmem_copy(struct hmmdev *hd, struct page **sys,
		       struct page **dev, const u8 *order, bool *copied,
		       unsigned long n, bool to_vram);

/* hmmdev_migrate.c, hmmdev_copy.c */
/*
 * Pages taken from an allocator up to HMMDEV_PAGE_POOL at a time, in one
 * call instead of one call per page: 4 KiB device pages for a chunk going
 * to VRAM (hmmdev_devmem_reserve()), and system pages for 4 KiB device
 * pages coming back into a VMA -- where no memory policy applies: a VMA's
 * (mbind()) or the task's, which only alloc_page_vma() follows (@bulk).
 * What is not used is given back (hmmdev_dev_pages_put(),
 * hmmdev_sys_pages_put()).
 */
#define HMMDEV_PAGE_POOL	64

struct hmmdev_page_pool {
	struct page *page[HMMDEV_PAGE_POOL];
	unsigned int next, count;
	bool bulk;
};

void hmmdev_mig_time(struct hmmdev *hd, enum hmmdev_mig_dir dir,
		     enum hmmdev_mig_phase phase, u64 *t0);
int hmmdev_devmem_copy_back(struct hmmdev *hd, unsigned long *src,
			    unsigned long *dst, unsigned long n,
			    struct vm_area_struct *vma, u64 start,
			    struct page *watch, struct hmmdev_mirror *m,
			    unsigned long *lost);
struct migrate_vma;
int hmmdev_migrate_vma_back(struct hmmdev *hd, struct migrate_vma *args,
			    struct hmmdev_mirror *m, unsigned long *moved);
int hmmdev_migrate_to_dev(struct hmmdev_mirror *m, u64 start, u64 end);
int hmmdev_migrate_to_sys(struct hmmdev_mirror *m, u64 start, u64 end,
			  u64 *cpages);
int hmmdev_migrate_all_to_sys(struct hmmdev_mirror *m, u64 *cpages);

/* hmmdev_dmirror.c */
int hmmdev_dmirror_register(struct hmmdev *hd);
void hmmdev_dmirror_unregister(struct hmmdev *hd);
int hmmdev_dma_copy(struct hmmdev *hd, dma_addr_t sysmem, u64 vram_offset,
		    u64 length, bool to_vram);

/* hmmdev_chardev.c */
int hmmdev_chardev_register(struct hmmdev *hd);
void hmmdev_chardev_unregister(struct hmmdev *hd);

#endif /* HMMDEV_DRV_H */
