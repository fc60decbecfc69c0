// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: copying pages between system memory and VRAM, for
 * migration (hmmdev_migrate.c), and device pages back into new system
 * pages (hmmdev_devmem_copy_back(): migrate_to_ram, MIGRATE_TO_SYS,
 * eviction).
 *
 * Copies are done by the device (by the CPU through BAR2 when the device
 * has a single engine, and to rescue the pages of a failed device,
 * hmmdev_devmem_cpu_copy()): a table of up to HMMDEV_COPY_BATCH pages
 * becomes one COPY_LIST job per engine and page size, each a table of
 * (source, destination) page addresses, so a chunk costs a few ring round
 * trips and interrupts rather than one per page.  A list job stops at its
 * first bad entry; its result says how many pages were copied before.
 */
#include <linux/dma-mapping.h>
#include <linux/mempolicy.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "hmmdev.h"

#define COPY_JOBS	4	/* list jobs per table at most (engines) */

/* One list job's worth of a size class: entries [first, first + count). */
struct hmmdev_copy_job {
	struct hmmdev_job_desc desc;
	unsigned long first;
	unsigned long count;
	u64 size;
	int tag;
};

/*
 * Start the list jobs of one size class: entries [first, first + n) of the
 * table, in up to @jobs slices, all in flight together.
 */
static int hmmdev_copy_jobs_start(struct hmmdev *hd,
				  struct hmmdev_copy_job *job, int jobs,
				  dma_addr_t list_dma,
				  unsigned long first, unsigned long n,
				  u64 size, bool to_vram)
{
	unsigned long per_job = DIV_ROUND_UP(n, jobs), done = 0;
	int j = 0;

	while (done < n && j < jobs) {
		job[j] = (struct hmmdev_copy_job) {
			.first = first + done,
			.count = min(per_job, n - done),
			.size = size,
		};
		job[j].desc = (struct hmmdev_job_desc) {
			.opcode = HMMDEV_OP_COPY_LIST,
			.flags = to_vram ? HMMDEV_JOB_DST_VRAM :
					   HMMDEV_JOB_SRC_VRAM,
			.src = list_dma + job[j].first *
			       sizeof(struct hmmdev_copy_entry),
			.length = job[j].count,
			.value = size,
		};
		job[j].tag = hmmdev_job_start(hd, &job[j].desc);
		done += job[j].count;
		j++;
	}
	return j;
}

/* A 2 MiB device folio of zeroes: one FILL job, waited for. */
static bool hmmdev_devmem_zero(struct hmmdev *hd, struct page *dev,
			       unsigned int order)
{
	struct hmmdev_job_desc desc = {
		.opcode = HMMDEV_OP_FILL,
		.flags = HMMDEV_JOB_DST_VRAM,
		.dst = hmmdev_devmem_offset(hd, dev),
		.length = PAGE_SIZE << order,
	};

	return !hmmdev_job_run(hd, &desc, NULL, NULL);
}

/*
 * A list job from VRAM ended with VRAM_POISONED after @result bytes: the
 * entry it stopped at holds the poisoned page (the entries before it were
 * copied, those after it were not tried).
 */
static void hmmdev_copy_poisoned(struct hmmdev *hd, struct page **dev,
				 const unsigned long *item,
				 const struct hmmdev_copy_job *job, u64 result)
{
	u64 entry = div64_u64(result, job->size);
	u64 within = result - entry * job->size;

	if (entry < job->count)
		hmmdev_devmem_poisoned(hd, dev[item[job->first + entry]] +
					   (within >> PAGE_SHIFT));
}

/*
 * hmmdev_devmem_copy_batch() - copy pages between system memory and VRAM
 * @hd: the device
 * @sys: system pages (heads of 2^@order); NULL entries (to VRAM only) zero
 *	the device page
 * @dev: our device pages (heads of 2^@order)
 * @order: per item: 0, or HMMDEV_DEVICE_THP_ORDER
 * @copied: out: which items were copied
 * @n: number of items, at most HMMDEV_COPY_BATCH (its tables stay small
 *	enough to allocate)
 * @to_vram: direction
 *
 * 4 KiB items and 2 MiB items go in list jobs of their own size (a list
 * job copies one size), the 4 KiB ones first in the table.  A 2 MiB item of
 * zeroes is a FILL job.
 *
 * Return: 0, or -ETIMEDOUT when the device stopped answering: then the
 * table and the mappings stay in place for ever (the device is failed and
 * may still write them), and nothing counts as copied.
 */
static int hmmdev_devmem_copy_batch(struct hmmdev *hd, struct page **sys,
				    struct page **dev, const u8 *order,
				    bool *copied, unsigned long n, bool to_vram)
{
	enum dma_data_direction dir = to_vram ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
	struct device *d = &hd->pdev->dev;
	struct hmmdev_copy_job *job;
	struct hmmdev_copy_entry *list;
	dma_addr_t list_dma, zero_dma = DMA_MAPPING_ERROR, *dma;
	unsigned long i, small = 0, mapped = 0, listed, *item;
	int jobs, j, pass, per_class, ret = 0;
	bool list_ok, map_failed = false;
	u32 status;
	u64 result;

	memset(copied, 0, n * sizeof(*copied));
	if (!n)
		return 0;
	/*
	 * One engine: a VA job may hold it, stalled on the very fault that
	 * asked for this migration.  The CPU copies through BAR2 instead.
	 */
	if (hd->engines < 2) {
		hmmdev_bar_wait(hd);
		for (i = 0; i < n; i++) {
			if (!to_vram &&
			    hmmdev_devmem_is_poisoned(hd, dev[i], order[i]))
				continue;
			hmmdev_devmem_cpu_copy(hd, dev[i], sys[i], order[i],
					       to_vram);
			copied[i] = true;
		}
		return 0;
	}
	/* one list job per engine and size class (on the heap: KASAN frames) */
	job = kmalloc_array(2 * COPY_JOBS, sizeof(*job),
			    GFP_KERNEL | __GFP_NOFAIL);
	dma = kmalloc_array(n, sizeof(*dma), GFP_KERNEL | __GFP_NOFAIL);
	list = kmalloc_array(n, sizeof(*list), GFP_KERNEL | __GFP_NOFAIL);
	item = kmalloc_array(n, sizeof(*item), GFP_KERNEL | __GFP_NOFAIL);
	/* the table: 4 KiB items, then 2 MiB ones; a mapping failure ends it */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n && !map_failed; i++) {
			size_t size = PAGE_SIZE << order[i];
			u64 vram = hmmdev_devmem_offset(hd, dev[i]);
			dma_addr_t a;

			if (!!order[i] != pass)
				continue;
			if (!sys[i] && order[i]) {
				copied[i] = hmmdev_devmem_zero(hd, dev[i],
							       order[i]);
				continue;
			}
			if (sys[i]) {
				a = dma_map_page(d, sys[i], 0, size, dir);
			} else {
				if (zero_dma == DMA_MAPPING_ERROR)
					zero_dma = dma_map_page(d, ZERO_PAGE(0),
								0, PAGE_SIZE,
								DMA_TO_DEVICE);
				a = zero_dma;
			}
			if (dma_mapping_error(d, a)) {
				map_failed = true;
				break;
			}
			dma[mapped] = a;
			item[mapped] = i;
			list[mapped].src = cpu_to_le64(to_vram ? a : vram);
			list[mapped].dst = cpu_to_le64(to_vram ? vram : a);
			mapped++;
		}
		if (!pass)
			small = mapped;
	}
	list_dma = dma_map_single(d, list, n * sizeof(*list), DMA_TO_DEVICE);
	list_ok = !dma_mapping_error(d, list_dma);
	listed = list_ok ? mapped : 0;
	/* each size class in engines' worth of slices, all in flight */
	per_class = clamp_t(int, hd->engines, 1, COPY_JOBS);
	jobs = hmmdev_copy_jobs_start(hd, job, per_class, list_dma, 0,
				      min(small, listed), PAGE_SIZE, to_vram);
	if (listed > small)
		jobs += hmmdev_copy_jobs_start(hd, job + jobs, per_class,
					       list_dma, small, listed - small,
					       PMD_SIZE, to_vram);
	for (j = 0; j < jobs; j++) {
		if (job[j].tag < 0)
			continue;
		result = 0;
		status = HMMDEV_JOB_OK;
		if (hmmdev_job_wait(hd, job[j].tag, &job[j].desc, &result,
				    &status) == -ETIMEDOUT)
			ret = -ETIMEDOUT;
		if (status == HMMDEV_JOB_VRAM_POISONED && !to_vram)
			hmmdev_copy_poisoned(hd, dev, item, &job[j], result);
		result = min_t(u64, div64_u64(result, job[j].size), job[j].count);
		for (i = job[j].first; i < job[j].first + result; i++)
			copied[item[i]] = true;
	}
	kfree(job);
	if (ret == -ETIMEDOUT) {
		memset(copied, 0, n * sizeof(*copied));
		return ret;     /* the failed device may still use it all */
	}
	if (list_ok)
		dma_unmap_single(d, list_dma, n * sizeof(*list), DMA_TO_DEVICE);
	for (i = 0; i < mapped; i++)
		if (dma[i] != zero_dma)
			dma_unmap_page(d, dma[i], PAGE_SIZE << order[item[i]],
				       dir);
	if (zero_dma != DMA_MAPPING_ERROR)
		dma_unmap_page(d, zero_dma, PAGE_SIZE, DMA_TO_DEVICE);
	kfree(item);
	kfree(list);
	kfree(dma);
	return map_failed || !list_ok ? -ENOMEM : 0;
}

/**
 * hmmdev_devmem_copy() - copy pages between system memory and VRAM
 * @hd: the device
 * @sys: system pages (heads of 2^@order); NULL entries (to VRAM only) zero
 *	the device page
 * @dev: our device pages (heads of 2^@order)
 * @order: per item: 0, or HMMDEV_DEVICE_THP_ORDER
 * @copied: out: which items were copied
 * @n: number of items
 * @to_vram: direction
 *
 * hmmdev_devmem_copy_batch() for each HMMDEV_COPY_BATCH of them.
 *
 * Return: the first error; -ETIMEDOUT (the device stopped answering) stops
 * it.
 */
int hmmdev_devmem_copy(struct hmmdev *hd, struct page **sys,
		       struct page **dev, const u8 *order, bool *copied,
		       unsigned long n, bool to_vram)
{
	unsigned long i, cnt;
	int ret = 0, err;

	memset(copied, 0, n * sizeof(*copied));
	for (i = 0; i < n && ret != -ETIMEDOUT; i += cnt) {
		cnt = min_t(unsigned long, n - i, HMMDEV_COPY_BATCH);
		err = hmmdev_devmem_copy_batch(hd, sys + i, dev + i, order + i,
					       copied + i, cnt, to_vram);
		ret = ret ?: err;
	}
	return ret;
}

/*
 * The items of one batch of device pages coming back (the same fields),
 * and the system pages allocated for them ahead (pool).
 */
struct hmmdev_back_items {
	struct page *sys[HMMDEV_COPY_BATCH];
	struct page *dev[HMMDEV_COPY_BATCH];
	unsigned long idx[HMMDEV_COPY_BATCH];
	u8 order[HMMDEV_COPY_BATCH];
	bool copied[HMMDEV_COPY_BATCH];
	struct hmmdev_page_pool pool;
};

/*
 * A system page (or THP, @order) for a device page coming back to @vma at
 * @addr (eviction: no VMA), or NULL.
 */
static struct page *hmmdev_sys_alloc(struct vm_area_struct *vma, u64 addr,
				     unsigned int order)
{
	if (order)
		return hmmdev_alloc_thp(vma, addr);
	return vma ? alloc_page_vma(GFP_HIGHUSER_MOVABLE, vma, addr) :
		     alloc_page(GFP_HIGHUSER_MOVABLE | __GFP_NOFAIL);
}

static void hmmdev_sys_pages_init(struct hmmdev_page_pool *sp,
				  struct vm_area_struct *vma)
{
	sp->next = 0;
	sp->count = 0;
	sp->bulk = vma && !vma_policy(vma);
#ifdef CONFIG_NUMA
	sp->bulk &= !current->mempolicy;
#endif
}

/*
 * A page for @addr of @vma (NULL: eviction, hmmdev_sys_alloc()); @left:
 * pages still to come (a hint)
 */
static struct page *hmmdev_sys_page(struct hmmdev_page_pool *sp,
				    struct vm_area_struct *vma, u64 addr,
				    unsigned long left)
{
	if (!sp->bulk)
		return hmmdev_sys_alloc(vma, addr, 0);
	if (sp->next == sp->count) {
		memset(sp->page, 0, sizeof(sp->page));
		sp->next = 0;
		sp->count = hmmdev_alloc_pages_bulk(GFP_HIGHUSER_MOVABLE,
						    clamp_t(unsigned long, left,
							    1, HMMDEV_PAGE_POOL),
						    sp->page);
		if (!sp->count)
			return hmmdev_sys_alloc(vma, addr, 0);
	}
	return sp->page[sp->next++];
}

static void hmmdev_sys_pages_put(struct hmmdev_page_pool *sp)
{
	while (sp->next < sp->count)
		put_page(sp->page[sp->next++]);
}

/**
 * hmmdev_devmem_copy_back() - device pages back into new system pages
 * @hd: the device
 * @src: migrate entries of our device pages (MIGRATE_PFN_MIGRATE set;
 *	MIGRATE_PFN_COMPOUND on the head of a 2 MiB folio, whose 511 entries
 *	after it are empty)
 * @dst: out: the new system pages, locked
 * @n: entries
 * @vma: where the pages will be mapped (NULL: eviction)
 * @start: address of entry 0 in @vma
 * @watch: a page whose loss the caller must know of (the CPU's fault
 *	page), or NULL
 * @m: the mirror whose HMM_DMIRROR_FLAG_FAIL_ALLOC applies, or NULL
 * @lost: out (eviction; may be NULL): a bit per entry whose page was lost
 *
 * A 2 MiB device folio comes back into a system THP when one can be had,
 * else (with a VMA: the core then splits the device folio) into 4 KiB
 * pages.  A page the engines cannot copy (a failed device) is copied by the
 * CPU through BAR2 (hmmdev_devmem_rescue()).  A page that cannot be read at
 * all (poisoned VRAM, a device gone) is lost: it stays a device page for
 * migrate_to_ram (whose fault then gets SIGBUS; a page known to be poisoned
 * is not tried again); at eviction, where it has to go, it moves to a
 * tombstone (hmmdev_tombstone.c: SIGBUS on access), or, a 2 MiB page or
 * with no tombstone free, comes back zeroed and marked in @lost
 * (hmmdev_devmem_evict() makes it hwpoison); the kernel log says so either
 * way.
 *
 * Return: 0, or -EIO when @watch was lost.
 */
int hmmdev_devmem_copy_back(struct hmmdev *hd, unsigned long *src,
			    unsigned long *dst, unsigned long n,
			    struct vm_area_struct *vma, u64 start,
			    struct page *watch, struct hmmdev_mirror *m,
			    unsigned long *lost)
{
	struct hmmdev_back_items *b = kvmalloc(sizeof(*b),
						GFP_KERNEL | __GFP_NOFAIL);
	unsigned long base, i, j, cnt, k, nr, p, left;
	u64 t0 = ktime_get_ns();
	int ret = 0;

	hmmdev_sys_pages_init(&b->pool, vma);
	memset(dst, 0, n * sizeof(*dst));
	for (base = 0; base < n; base += cnt) {
		cnt = 0;
		/* a batch of up to HMMDEV_COPY_BATCH entries; a folio stays whole */
		for (j = base, k = 0; j < n && cnt < HMMDEV_COPY_BATCH; j += nr) {
			struct page *dpage = migrate_pfn_to_page(src[j]);
			bool huge = src[j] & MIGRATE_PFN_COMPOUND;
			struct page *spage = NULL;

			nr = huge ? min_t(unsigned long, HMMDEV_DM_BLOCK, n - j) : 1;
			if (cnt + nr > HMMDEV_COPY_BATCH)
				break;
			cnt += nr;
			if (!dpage || !(src[j] & MIGRATE_PFN_MIGRATE))
				continue;
			if (vma && hmmdev_devmem_is_poisoned(hd, dpage,
							     huge ? HMMDEV_DEVICE_THP_ORDER : 0)) {
				/* lost already: it stays, the fault gets SIGBUS */
				if (watch && page_to_pfn(watch) -
					     page_to_pfn(dpage) < nr)
					ret = -EIO;
				continue;
			}
			if (huge && !hmmdev_mirror_fail_alloc(m))
				spage = hmmdev_sys_alloc(vma,
							 start + (j << PAGE_SHIFT),
							 HMMDEV_DEVICE_THP_ORDER);
			if (spage) {
				lock_page(spage);
				dst[j] = migrate_pfn(page_to_pfn(spage)) |
					 MIGRATE_PFN_COMPOUND;
				b->sys[k] = spage;
				b->dev[k] = dpage;
				b->order[k] = HMMDEV_DEVICE_THP_ORDER;
				b->idx[k++] = j;
				atomic64_inc(&hd->thp_to_ram);
				continue;
			}
			if (huge && !vma) {
				/* the core cannot split it here: it stays */
				dev_warn_ratelimited(&hd->pdev->dev,
						     "eviction: no system THP for a 2 MiB device page\n");
				continue;
			}
			if (huge)
				atomic64_inc(&hd->thp_fallbacks);
			for (p = 0; p < nr; p++) {
				u64 addr = start + ((j + p) << PAGE_SHIFT);

				/* at most what is left of the batch */
				left = min(n, base + HMMDEV_COPY_BATCH) - j - p;
				spage = hmmdev_sys_page(&b->pool, vma, addr,
							left);
				if (!spage)
					continue;
				lock_page(spage);
				dst[j + p] = migrate_pfn(page_to_pfn(spage));
				b->sys[k] = spage;
				b->dev[k] = dpage + p;
				b->order[k] = 0;
				b->idx[k++] = j + p;
			}
		}
		hmmdev_sys_pages_put(&b->pool);
		hmmdev_mig_time(hd, HMMDEV_MIG_TO_RAM, HMMDEV_MIG_ALLOC, &t0);
		hmmdev_devmem_copy(hd, b->sys, b->dev, b->order, b->copied, k,
				   false);
		hmmdev_mig_time(hd, HMMDEV_MIG_TO_RAM, HMMDEV_MIG_COPY, &t0);
		for (i = 0; i < k; i++) {
			if (b->copied[i] ||
			    hmmdev_devmem_rescue(hd, b->dev[i], b->sys[i],
						 b->order[i]))
				continue;
			dev_err_ratelimited(&hd->pdev->dev,
					    "device page lost: neither the engines nor the CPU could read it back\n");
			atomic64_add(1UL << b->order[i], &hd->pages_lost);
			if (!vma) {
				/* it has to go: to a tombstone, else hwpoison */
				struct page *tomb = b->order[i] ? NULL :
					hmmdev_tombstone_alloc();

				if (tomb) {
					unlock_page(b->sys[i]);
					put_page(b->sys[i]);
					dst[b->idx[i]] =
						migrate_pfn(page_to_pfn(tomb));
					atomic64_inc(&hd->pages_tombstoned);
					continue;
				}
				for (p = 0; p < 1UL << b->order[i]; p++)
					clear_highpage(b->sys[i] + p);
				if (lost)
					__set_bit(b->idx[i], lost);
				continue;
			}
			if (b->dev[i] == watch)
				ret = -EIO;
			dst[b->idx[i]] = 0;
			unlock_page(b->sys[i]);
			put_page(b->sys[i]);
		}
	}
	kvfree(b);
	return ret;
}
