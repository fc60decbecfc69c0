// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: the device fault service.
 *
 * Vector FAULT wakes its interrupt thread (hmmdev_fault_thread(): a
 * real-time thread that follows the vector's CPU affinity, so it runs
 * right after the interrupt, ahead of ordinary tasks), which drains the
 * fault ring in batches; fault_work, on a per-CPU high-priority
 * workqueue, drains it too, for the rest of a long run and when a stalled
 * job's submitter looks for a lost interrupt.  The two never drain at once
 * (fault_lock), and hmmdev_fault_flush() waits for both.  For each record
 * the drain finds the mirror of the record's context, faults the CPU
 * pages in with hmm_range_fault() and,
 * under mirror->lock with mmu_interval_read_retry() saying nothing changed,
 * installs device PTEs (2 MiB leaves where the CPU maps a PMD), then
 * answers RETRY.  A bad address or permission answers ABORT and leaves the
 * errno in the mirror for the job's submitter; a dying mm answers ABORT.
 *
 * How much is faulted in: the range of the job that faulted, when its
 * submitter gave one (mirror->hint: "populate the job's whole range"),
 * else fault_around pages around the address, clamped to the VMA.  With
 * the migrate-on-fault policy that range first moves to VRAM (pages that
 * cannot move stay in RAM); hmm_range_fault() then reports our own device
 * pages and the leaves point into VRAM.
 *
 * A fault on a userfaultfd-registered range is not served here: the job is
 * aborted and the fault handed back to its submitter (hmmdev_fault_defer()),
 * which may wait for the process's handler without holding up the device.
 */
#include <linux/dma-mapping.h>
#include <linux/hmm.h>
#include <linux/interrupt.h>
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/userfaultfd_k.h>

#include "hmmdev.h"
#include "hmmdev_trace.h"

#define HMMDEV_FAULT_CHUNK	2048	/* pages per hmm_range_fault() call */
#define PMD_PAGES		(PMD_SIZE >> PAGE_SHIFT)
#define HMMDEV_FAULT_BUDGET	(4 * HMMDEV_FQ_ENTRIES)	/* records per run */

int hmmdev_faultq_init(struct hmmdev *hd)
{
	struct device *dev = &hd->pdev->dev;

	hd->fq_ring = dmam_alloc_coherent(dev, HMMDEV_FQ_ENTRIES *
					  sizeof(*hd->fq_ring), &hd->fq_dma,
					  GFP_KERNEL);
	hd->fault_pfns = devm_kcalloc(dev, HMMDEV_FAULT_CHUNK,
				      sizeof(*hd->fault_pfns), GFP_KERNEL);
	if (!hd->fq_ring || !hd->fault_pfns)
		return -ENOMEM;
	INIT_WORK(&hd->fault_work, hmmdev_fault_work);
	mutex_init(&hd->fault_lock);
	return 0;
}

void hmmdev_faultq_start(struct hmmdev *hd)
{
	hd->fq_head = 0;
	memset(hd->fault_last_id, 0xff, sizeof(hd->fault_last_id));
	writeq(hd->fq_dma, hd->regs + HMMDEV_REG_FQ_BASE);
	hmmdev_wr32(hd, HMMDEV_REG_FQ_ENTRIES, HMMDEV_FQ_ENTRIES);
}

irqreturn_t hmmdev_fault_irq(int irq, void *data)
{
	struct hmmdev_vector *vec = data;
	struct hmmdev *hd = vec->hd;

	atomic64_inc(&hd->irqs[vec->index]);
	wake_up_all(&hd->irq_wq);
	return IRQ_WAKE_THREAD;
}

/*
 * Does system-memory leaf @pte map @page?  Its address is a DMA address:
 * behind an IOMMU each dma_map_page() of the same page gives a new one,
 * so the IOMMU says which page it is.
 */
static bool hmmdev_leaf_maps(struct device *dev, u64 pte, struct page *page)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(dev);
	dma_addr_t dma = pte & HMMDEV_PTE_ADDR_MASK;
	phys_addr_t phys = domain ? iommu_iova_to_phys(domain, dma) : dma;

	return !(pte & HMMDEV_PTE_VRAM) && phys == page_to_phys(page);
}

/*
 * mirror->lock held: map one leaf of @size bytes at @va to @page.  ATOMIC
 * is granted only with exclusive access (hmmdev_make_exclusive()).  A leaf
 * that already maps @page keeps its DMA mapping and gets the new
 * permissions (an upgrade, or fault-around over mapped pages).
 */
static int hmmdev_install(struct hmmdev_mirror *m, u64 va, struct page *page,
			  size_t size, bool writable, bool exclusive,
			  bool *replaced)
{
	struct device *dev = &m->hd->pdev->dev;
	u64 huge = size == PMD_SIZE ? HMMDEV_PTE_HUGE : 0;
	u64 flags = HMMDEV_PTE_VALID | huge |
		    (writable ? HMMDEV_PTE_WRITE : 0) |
		    (exclusive ? HMMDEV_PTE_WRITE | HMMDEV_PTE_ATOMIC : 0);
	dma_addr_t dma;
	u64 old;
	int ret;

	/* our own device memory: the leaf points into VRAM */
	if (hmmdev_devmem_ours(m->hd, page))
		return hmmdev_pt_map(m, va, hmmdev_devmem_offset(m->hd, page) |
				     flags | HMMDEV_PTE_VRAM, replaced);
	old = hmmdev_pt_lookup(m, va);
	if ((old & HMMDEV_PTE_VALID) && (old & HMMDEV_PTE_HUGE) == huge &&
	    hmmdev_leaf_maps(dev, old, page))
		return hmmdev_pt_map(m, va, (old & HMMDEV_PTE_ADDR_MASK) | flags,
				     replaced);
	dma = dma_map_page(dev, page, 0, size, DMA_BIDIRECTIONAL);
	if (dma_mapping_error(dev, dma))
		return -ENOMEM;
	ret = hmmdev_pt_map(m, va, dma | flags, replaced);
	if (ret || *replaced)
		dma_unmap_page(dev, dma, size, DMA_BIDIRECTIONAL);
	return ret;
}

/*
 * The page that hmm_range_fault() entry @entry stands for at @va.  For an
 * entry of a PMD mapping it is taken from the folio: Linux 7.3's
 * hmm_vma_handle_absent_pmd() (mm/hmm.c) fills the entries of a
 * device-private PMD counting from the head's pfn at the range's first
 * address, not at the PMD's, so a range that begins inside the 2 MiB gets
 * every page of it shifted -- which the racer caught as device copies of
 * the wrong data.  A PMD maps its folio at a 2 MiB boundary, so the page of
 * @va is the folio's page at @va's offset in the 2 MiB, whichever way the
 * kernel filled the entry.
 */
static struct page *hmmdev_hmm_page(unsigned long entry, u64 va)
{
	struct page *page = hmm_pfn_to_page(entry);

	if (hmm_pfn_to_map_order(entry) != PMD_SHIFT - PAGE_SHIFT)
		return page;
	return folio_page(page_folio(page), (va & ~PMD_MASK) >> PAGE_SHIFT);
}

/* mirror->lock held: install what hmm_range_fault() returned. */
static int hmmdev_install_range(struct hmmdev_mirror *m,
				struct hmm_range *range)
{
	unsigned long npages = (range->end - range->start) >> PAGE_SHIFT;
	unsigned long *pfns = range->hmm_pfns, i = 0;
	bool write_fault = range->default_flags & HMM_PFN_REQ_WRITE;
	bool replaced;
	int ret;

	lockdep_assert_held(&m->lock);
	if (m->dead)
		return -ENODEV;
	while (i < npages) {
		u64 va = range->start + (i << PAGE_SHIFT);
		struct page *page = hmmdev_hmm_page(pfns[i], va);
		/*
		 * A system page is writable for the device only after a write
		 * fault, which dirtied the CPU's entry: the device's own DIRTY
		 * bit is not passed on, so a device write to a page the CPU
		 * still thought clean could be lost at reclaim.  Our device
		 * pages are copied back whole, dirty or not.
		 */
		bool writable = ((pfns[i] & HMM_PFN_WRITE) &&
				 (write_fault ||
				  hmmdev_devmem_ours(m->hd, page))) ||
				hmmdev_seeded(m->hd, HMMDEV_SEED_WRITABLE);

		if (hmm_pfn_to_map_order(pfns[i]) == PMD_SHIFT - PAGE_SHIFT &&
		    IS_ALIGNED(va, PMD_SIZE) && npages - i >= PMD_PAGES &&
		    page == compound_head(page)) {
			ret = hmmdev_install(m, va, page, PMD_SIZE, writable,
					     false, &replaced);
			if (!ret) {
				i += PMD_PAGES;
				continue;
			}
			if (ret != -EEXIST)
				return ret;
		}
		ret = hmmdev_install(m, va, page, PAGE_SIZE, writable, false,
				     &replaced);
		if (ret)
			return ret;
		i++;
	}
	return 0;
}

/*
 * hmm_range_fault() reports our own device-private pages as they are, even
 * for a write when the entry is read-only (after fork() the parent's entry
 * is copy-on-write).  Installing that read-only leaf would send the device
 * back with the same write fault for ever: such a page has to be faulted
 * as any other page, which migrates it to RAM and breaks the COW.
 */
static bool hmmdev_needs_cow_break(struct hmmdev_mirror *m,
				   struct hmm_range *range)
{
	unsigned long npages = (range->end - range->start) >> PAGE_SHIFT, i;

	if (!(range->default_flags & HMM_PFN_REQ_WRITE))
		return false;
	for (i = 0; i < npages; i++)
		if (!(range->hmm_pfns[i] & HMM_PFN_WRITE) &&
		    hmmdev_devmem_ours(m->hd,
				       hmm_pfn_to_page(range->hmm_pfns[i])))
			return true;
	return false;
}

/* Fault in [start, end) of @m's mm and mirror it (one chunk). */
static int hmmdev_fault_chunk(struct hmmdev_mirror *m, u64 start, u64 end,
			      bool write, bool unlocked)
{
	struct hmm_range range = {
		.notifier = &m->notifier,
		.start = start,
		.end = end,
		.hmm_pfns = m->hd->fault_pfns,
		.default_flags = HMM_PFN_REQ_FAULT |
				 (write ? HMM_PFN_REQ_WRITE : 0),
		.dev_private_owner = m->hd->pgmap_owner,
	};
	int ret;

	ret = hmmdev_mirror_range_fault(m, &range, unlocked);
	if (ret)
		return ret;
	if (hmmdev_needs_cow_break(m, &range)) {
		mutex_unlock(&m->lock);
		atomic64_inc(&m->hd->cow_breaks);
		range.dev_private_owner = NULL;
		ret = hmmdev_mirror_range_fault(m, &range, unlocked);
		if (ret)
			return ret;
	}
	ret = hmmdev_install_range(m, &range);
	mutex_unlock(&m->lock);
	return ret;
}

#define HMMDEV_EXCLUSIVE_TRIES	64	/* attempts per page */

/**
 * hmmdev_make_exclusive() - give the device exclusive access for atomics
 * @m: the mirror; its mm is pinned by the caller
 * @start: first byte, page aligned
 * @end: one past the last
 *
 * Page by page, the CPU mapping becomes a device-exclusive entry
 * (hmmdev_make_page_exclusive(), hmmdev_compat.h) and the device gets a
 * WRITE|ATOMIC leaf for the page, under the notifier protocol.  A CPU
 * access later restores the CPU mapping and invalidates (owner = us), and
 * the notifier takes ATOMIC away again.  Large folios: 7.x takes them as
 * they are; on 6.12 hmmdev_exclusive_prepare() splits PMD-mapped THPs
 * first.
 *
 * Each attempt first faults the page in writable and PTE-mapped, before
 * the sequence is read: the conversion must then cause no invalidation but
 * its own MMU_NOTIFY_EXCLUSIVE (which our notifier ignores).  Without that step
 * an attempt that must be repeated never succeeds: the GUP inside
 * make_device_exclusive() splits a PMD-mapped THP (an invalidation), and
 * on the next attempt it reverts the previous attempt's device-exclusive
 * entry (another one), each time after the sequence was read.  A page
 * still revoked after HMMDEV_EXCLUSIVE_TRIES attempts gives -EBUSY.
 *
 * Return: 0, -EBUSY (6.12: a page of a large folio that could not be
 * split; a page revoked on every attempt), or an error of get_user_pages.
 */
int hmmdev_make_exclusive(struct hmmdev_mirror *m, u64 start, u64 end)
{
	unsigned int tries = 0;
	unsigned long seq;
	struct page *page;
	bool replaced;
	u64 addr = start;
	int ret = 0;

	mmap_read_lock(m->mm);
	hmmdev_exclusive_prepare(m->mm, start, end, m->hd->pgmap_owner);
	while (addr < end && !ret) {
		/* an error here is make_device_exclusive()'s error too */
		get_user_pages_remote(m->mm, addr, 1,
				      FOLL_WRITE | FOLL_SPLIT_PMD, NULL, NULL);
		seq = mmu_interval_read_begin(&m->notifier);
		page = hmmdev_make_page_exclusive(m->mm, addr,
						  m->hd->pgmap_owner);
		if (IS_ERR(page)) {
			ret = PTR_ERR(page);
			break;
		}
		mutex_lock(&m->lock);
		if (mmu_interval_read_retry(&m->notifier, seq))
			ret = -EAGAIN;      /* revoked meanwhile: again */
		else
			ret = hmmdev_install(m, addr, page, PAGE_SIZE, true,
					     true, &replaced);
		mutex_unlock(&m->lock);
		unlock_page(page);
		put_page(page);
		if (ret == -EAGAIN) {
			ret = ++tries < HMMDEV_EXCLUSIVE_TRIES ? 0 : -EBUSY;
		} else if (!ret) {
			addr += PAGE_SIZE;
			tries = 0;
		}
	}
	mmap_read_unlock(m->mm);
	return ret;
}

/* Does a fault at @va count in job_faults?  Not in an uncounted hint. */
static bool hmmdev_fault_counted(struct hmmdev_mirror *m, u64 va)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(m->hint); i++)
		if (va >= READ_ONCE(m->hint[i].start) &&
		    va < READ_ONCE(m->hint[i].end))
			return !READ_ONCE(m->hint[i].uncounted);
	return true;
}

/*
 * The range to fault in for @va, page aligned (an unaligned end would be a
 * chunk of no pages: nothing mapped, RETRY, the same fault for ever): the
 * job's range, or fault-around.
 */
static void hmmdev_fault_range(struct hmmdev_mirror *m, u64 va, u64 *start,
			       u64 *end)
{
	u64 around = (u64)READ_ONCE(m->fault_around) << PAGE_SHIFT;
	struct vm_area_struct *vma;
	int i;

	for (i = 0; i < ARRAY_SIZE(m->hint); i++) {
		u64 hint_start = READ_ONCE(m->hint[i].start);
		u64 hint_end = READ_ONCE(m->hint[i].end);

		if (va >= hint_start && va < hint_end) {
			/* a job's range need not end on a page boundary */
			*start = va & PAGE_MASK;
			*end = PAGE_ALIGN(hint_end);
			return;
		}
	}
	*start = ALIGN_DOWN(va, around);
	*end = *start + around;
	mmap_read_lock(m->mm);
	vma = vma_lookup(m->mm, va);
	if (vma) {
		*start = max_t(u64, *start, vma->vm_start);
		*end = min_t(u64, *end, vma->vm_end);
	}
	mmap_read_unlock(m->mm);
}

/* Is @va in a userfaultfd-registered VMA of @m's mm (pinned)? */
static bool hmmdev_fault_on_uffd(struct hmmdev_mirror *m, u64 va)
{
	struct vm_area_struct *vma;
	bool armed;

	mmap_read_lock(m->mm);
	vma = vma_lookup(m->mm, va);
	armed = vma && userfaultfd_armed(vma);
	mmap_read_unlock(m->mm);
	return armed;
}

/*
 * Fault in and mirror what @rec needs: 0 (RETRY) or the errno to report
 * (ABORT).  @unlocked: the job's submitter serves it (a userfaultfd range).
 */
static int hmmdev_fault_resolve(struct hmmdev_mirror *m,
				struct hmmdev_fault *rec, bool unlocked)
{
	bool write = rec->access & (HMMDEV_ACCESS_WRITE | HMMDEV_ACCESS_ATOMIC);
	u64 start, end, addr, next, failed = 0;
	int ret = 0;

	if (rec->access & HMMDEV_ACCESS_ATOMIC) {
		/* atomics need exclusive access, page by page */
		ret = hmmdev_make_exclusive(m, rec->va & PAGE_MASK,
					    (rec->va & PAGE_MASK) + PAGE_SIZE);
		start = 0;
		end = 0;
	} else {
		hmmdev_fault_range(m, rec->va, &start, &end);
		/* best effort: what does not move is mirrored where it is */
		if (READ_ONCE(m->migrate_on_fault) && !unlocked)
			hmmdev_migrate_to_dev(m, start, end);
	}
	/*
	 * chunks of up to 8 MiB, ending on 2 MiB boundaries (a THP is
	 * mirrored whole): each costs a notifier sequence, mmap_lock and
	 * mirror->lock; in 2 MiB ones the service of a 64 MiB read fault
	 * took about twice as long (hmmdev-bench --cold, the timeline)
	 */
	for (addr = start; addr < end && !ret; addr = next) {
		next = min_t(u64, end, ALIGN_DOWN(addr, PMD_SIZE) +
				       HMMDEV_FAULT_CHUNK * PAGE_SIZE);
		ret = hmmdev_fault_chunk(m, addr, next, write, unlocked);
		/*
		 * A fault-around page may be refused where the faulting one
		 * is not: a failed chunk before the faulting page is skipped,
		 * one after it ends the loop.  Only the faulting page's own
		 * chunk decides the answer -- stopping before it would answer
		 * RETRY with the page still unmapped, and the device would
		 * fault on it for ever.  When that chunk held other pages
		 * too, the faulting page is tried alone below.
		 */
		if (ret && rec->va >= next) {
			ret = 0;
		} else if (ret && rec->va < addr) {
			ret = 0;
			break;
		} else if (ret) {
			failed = next - addr;
		}
	}
	if (ret && failed > PAGE_SIZE)
		ret = hmmdev_fault_chunk(m, rec->va & PAGE_MASK,
					 (rec->va & PAGE_MASK) + PAGE_SIZE, write,
					 unlocked);
	trace_hmmdev_fault_resolve(m->hd->id, rec->id, start, end, ret,
				   unlocked);
	if (ret)
		WRITE_ONCE(m->fault_error, ret);
	else if (hmmdev_fault_counted(m, rec->va))
		atomic_inc(&m->job_faults);
	return ret;
}

/*
 * A fault on a userfaultfd range may have to wait for the process's
 * handler, for as long as the handler takes.  Neither the fault ring's
 * drain (which serves every context of the device) nor the job's engine
 * may wait that long, so the job is aborted at once and the record goes
 * to its submitter, which serves it in its own thread and runs the rest
 * of the job (hmmdev_mirror_run()).  Without a fault that may drop mmap_lock in
 * the kernel (6.12), or for atomics (exclusive access takes the page with
 * a fault that cannot drop mmap_lock), the fault fails with -EFAULT.  A
 * record is written only for a running job, and a mirror runs one job at a
 * time (job_lock): there is always a submitter, and one record at most.
 * Return: the errno the fault is aborted with.
 */
static int hmmdev_fault_defer(struct hmmdev_mirror *m, struct hmmdev_fault *rec)
{
	if (!HMMDEV_UNLOCKED_FAULT || (rec->access & HMMDEV_ACCESS_ATOMIC)) {
		WRITE_ONCE(m->fault_error, -EFAULT);
		return -EFAULT;
	}
	spin_lock(&m->deferred_lock);
	m->deferred = *rec;
	WRITE_ONCE(m->deferred_pending, true);
	spin_unlock(&m->deferred_lock);
	return -EAGAIN;
}

/**
 * hmmdev_fault_serve_deferred() - serve the fault handed back to the job
 * @m: the mirror; called by its job's submitter (hmmdev_mirror_run()),
 *	without mmap_lock, after the device ended the job
 *
 * Faults the range in with a fault that may drop mmap_lock, so that the
 * userfaultfd handler can answer, and mirrors it.
 *
 * Return: 0, or the errno of the fault (-EINTR when the process was
 * killed while the handler had not answered).
 */
int hmmdev_fault_serve_deferred(struct hmmdev_mirror *m)
{
	struct hmmdev_fault rec;

	spin_lock(&m->deferred_lock);
	rec = m->deferred;
	WRITE_ONCE(m->deferred_pending, false);
	spin_unlock(&m->deferred_lock);
	atomic64_inc(&m->hd->uffd_faults);
	return hmmdev_fault_resolve(m, &rec, true);
}

/* Service one fault: 0 (RETRY) or the errno to report (ABORT). */
static int hmmdev_fault_service(struct hmmdev *hd, struct hmmdev_fault *rec)
{
	struct hmmdev_mirror *m = hmmdev_mirror_get(hd, rec->context);
	int ret;

	if (!m)
		return -ENODEV;
	if (!mmget_not_zero(m->mm)) {
		hmmdev_mirror_put(m);
		return -ESRCH;
	}
	if (hmmdev_fault_on_uffd(m, rec->va))
		ret = hmmdev_fault_defer(m, rec);
	else
		ret = hmmdev_fault_resolve(m, rec, false);
	mmput(m->mm);
	hmmdev_mirror_put(m);
	return ret;
}

/*
 * Drain the fault ring.  FQ_TAIL comes from the device and is checked: a
 * value outside the ring (all-ones: the device is gone) fails the device
 * instead of spinning here for ever.  A record whose id is the one last
 * answered for its engine is a duplicate (an engine's next fault always
 * has a new id): it is dropped, neither served nor answered.  One run
 * handles at most HMMDEV_FAULT_BUDGET records and queues fault_work for
 * the rest, so hmmdev_fault_flush() always makes progress.
 */
static void hmmdev_fault_drain(struct hmmdev *hd)
{
	unsigned int budget = HMMDEV_FAULT_BUDGET;
	struct hmmdev_fault rec;
	bool served = false;
	u32 tail;
	u64 now;
	int err;

	mutex_lock(&hd->fault_lock);
	while (!READ_ONCE(hd->removed) && !READ_ONCE(hd->failed)) {
		tail = hmmdev_rd32(hd, HMMDEV_REG_FQ_TAIL);
		if (tail >= HMMDEV_FQ_ENTRIES) {
			dev_err(&hd->pdev->dev, "FQ_TAIL %#x outside the %u-entry fault ring\n",
				tail, HMMDEV_FQ_ENTRIES);
			hmmdev_declare_failed(hd, "bad fault-queue tail");
			break;
		}
		if (tail == hd->fq_head)
			break;
		if (!budget--) {
			queue_work(hd->fault_wq, &hd->fault_work);
			break;
		}
		dma_rmb();
		rec = hd->fq_ring[hd->fq_head];
		hd->fq_head = (hd->fq_head + 1) % HMMDEV_FQ_ENTRIES;
		hmmdev_wr32(hd, HMMDEV_REG_FQ_HEAD, hd->fq_head);
		if (rec.id == hd->fault_last_id[rec.engine % HMMDEV_MAX_ENGINES]) {
			atomic64_inc(&hd->faults_duplicate);
			continue;
		}
		hd->fault_last_id[rec.engine % HMMDEV_MAX_ENGINES] = rec.id;
		trace_hmmdev_fault_read(hd->id, rec.id, rec.engine, rec.context,
					rec.va, rec.access, rec.timestamp);
		trace_hmmdev_fault_service_start(hd->id, rec.id, 0);
		err = hmmdev_fault_service(hd, &rec);
		trace_hmmdev_fault_service_end(hd->id, rec.id, err);
		hmmdev_respond(hd, rec.id, err ? HMMDEV_RESPONSE_ABORT :
			       HMMDEV_RESPONSE_RETRY);
		/* round trip on the device's clock: record to answer */
		now = hmmdev_rd64(hd, HMMDEV_REG_TIMESTAMP);
		hmmdev_fault_latency_record(hd, now - rec.timestamp);
		atomic64_inc(err ? &hd->fault_aborts : &hd->fault_retries);
		served = true;
	}
	mutex_unlock(&hd->fault_lock);
	if (served)
		atomic64_inc(&hd->fault_passes);
}

irqreturn_t hmmdev_fault_thread(int irq, void *data)
{
	struct hmmdev_vector *vec = data;

	hmmdev_fault_drain(vec->hd);
	return IRQ_HANDLED;
}

void hmmdev_fault_work(struct work_struct *work)
{
	hmmdev_fault_drain(container_of(work, struct hmmdev, fault_work));
}

/**
 * hmmdev_fault_flush() - wait for every drain of the fault ring under way
 * @hd: the device
 *
 * The interrupt thread's and fault_work's.  A drain that starts later sees
 * what the caller changed before (a mirror taken out of hd->mirrors, the
 * device failed or removed).  Never call it from a drain.
 */
void hmmdev_fault_flush(struct hmmdev *hd)
{
	int irq = pci_irq_vector(hd->pdev, HMMDEV_VEC_FAULT);

	if (irq > 0)	/* else the vectors are gone, and their thread */
		synchronize_irq(irq);
	flush_workqueue(hd->fault_wq);
}

void hmmdev_fault_latency_record(struct hmmdev *hd, u64 ns)
{
	int i = atomic_inc_return(&hd->fault_lat_count) - 1;
	u64 us = min_t(u64, ns / 1000, U32_MAX);

	hd->fault_lat_us[i % HMMDEV_FAULT_LAT_SAMPLES] = us;
}
