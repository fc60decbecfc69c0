// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: /dev/hmm_dmirrorN, speaking the kernel's test_hmm uapi
 * (lib/test_hmm_uapi.h) so that tools/testing/selftests/mm/hmm-tests runs
 * unmodified against real hardware (well, hmmdev).
 *
 * Each open file is a mirror of the opener's mm.  READ and WRITE are device
 * jobs: the engines copy between the process's range and its buffer, both
 * virtual addresses through the device MMU, and fault like hardware does.
 * The job's range is handed to the fault service as a hint, so the first fault
 * populates everything up to the end of the request -- one fault for the
 * whole range, as test_hmm counts them (cmd.faults).  SNAPSHOT reads the
 * CPU page tables through hmm_range_fault() without faulting.
 */
#include <linux/hmm.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/uaccess.h>

#include "hmmdev.h"
#include "test_hmm_uapi.h"	/* from the kernel source tree, lib/ */

/*
 * The ioctls of Linux 7.x's test_hmm uapi, the same on every kernel we
 * build for (6.12's header predates them).
 */
#ifndef HMM_DMIRROR_FLAGS
#define HMM_DMIRROR_FLAGS		_IOWR('H', 0x08, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_READ_UNLOCKED	_IOWR('H', 0x09, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_FLAG_FAIL_ALLOC	BIT_ULL(0)
#endif

#define HMMDEV_RW_CHUNK		(64u << 20)	/* bytes per job */
#define SNAPSHOT_CHUNK		512
#define HMMDEV_DMIRROR_MMAP_MAX	(64u << 20)

/*
 * READ (the device reads the process at cmd->addr into the user buffer at
 * cmd->ptr, @write false) or WRITE (the other way): one COPY job per chunk,
 * both ends virtual addresses of the process, through the device MMU -- no
 * bounce buffer, no CPU copy.  A fault in the user buffer is served like
 * any other but is not one test_hmm counts (cmd->faults: the faults on
 * cmd->addr's range).  A user buffer that is not mapped fails the job
 * with -EFAULT, one the process may not write (READ) with -EPERM (what
 * hmm_range_fault() says of it).
 */
static int hmmdev_dmirror_rw(struct hmmdev_mirror *m,
			     struct hmm_dmirror_cmd *cmd, bool write)
{
	u64 size = cmd->npages << PAGE_SHIFT, off, n, done;
	int ret = 0;

	hmmdev_mirror_jobs_begin(m);
	for (off = 0; off < size && !ret; off += n) {
		if (off && fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		struct hmmdev_job_desc desc = {
			.opcode = HMMDEV_OP_COPY,
			.flags = HMMDEV_JOB_SRC_VA | HMMDEV_JOB_DST_VA,
			.src = (write ? cmd->ptr : cmd->addr) + off,
			.dst = (write ? cmd->addr : cmd->ptr) + off,
		};

		n = min_t(u64, size - off, HMMDEV_RW_CHUNK);
		desc.length = n;
		/* a fault populates the rest of the request, as test_hmm does */
		hmmdev_mirror_hint(m, 0, cmd->addr + off, cmd->addr + size);
		hmmdev_mirror_hint_uncounted(m, 1, cmd->ptr + off,
					     cmd->ptr + size);
		ret = hmmdev_mirror_run(m, &desc, &done);
		cmd->cpages += (ret ? done : n) >> PAGE_SHIFT;
	}
	cmd->faults = atomic_read(&m->job_faults);
	hmmdev_mirror_jobs_end(m);
	return ret;
}

/* The HMM_DMIRROR_PROT_* byte for one hmm_range_fault() entry. */
static u8 hmmdev_snapshot_prot(struct hmmdev *hd, unsigned long entry)
{
	unsigned int order;
	struct page *page;
	u8 prot;

	if (entry & HMM_PFN_ERROR)
		return HMM_DMIRROR_PROT_ERROR;
	if (!(entry & HMM_PFN_VALID))
		return HMM_DMIRROR_PROT_NONE;
	page = hmm_pfn_to_page(entry);
	if (is_device_private_page(page))
		prot = hmmdev_page_pgmap(page)->owner == hd->pgmap_owner ?
		       HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL :
		       HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE;
	else if (is_device_coherent_page(page))
		prot = hmmdev_page_pgmap(page)->owner == hd->pgmap_owner ?
		       HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL :
		       HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE;
	else if (is_zero_pfn(page_to_pfn(page)))
		prot = HMM_DMIRROR_PROT_ZERO;
	else
		prot = HMM_DMIRROR_PROT_NONE;
	prot |= entry & HMM_PFN_WRITE ? HMM_DMIRROR_PROT_WRITE :
					HMM_DMIRROR_PROT_READ;
	order = hmm_pfn_to_map_order(entry);
	if (order + PAGE_SHIFT == PMD_SHIFT)
		prot |= HMM_DMIRROR_PROT_PMD;
	else if (order + PAGE_SHIFT == PUD_SHIFT)
		prot |= HMM_DMIRROR_PROT_PUD;
	return prot;
}

/* One chunk of SNAPSHOT: the CPU page tables, read consistently. */
static int hmmdev_snapshot_chunk(struct hmmdev_mirror *m, u64 start, u64 end,
				 unsigned long *pfns, u8 *prot)
{
	struct hmm_range range = {
		.notifier = &m->notifier,
		.start = start,
		.end = end,
		.hmm_pfns = pfns,
		.dev_private_owner = m->hd->pgmap_owner,
	};
	unsigned long i;
	int ret;

	ret = hmmdev_mirror_range_fault(m, &range, false);
	if (ret)
		return ret;
	for (i = 0; i < (end - start) >> PAGE_SHIFT; i++)
		prot[i] = hmmdev_snapshot_prot(m->hd, pfns[i]);
	mutex_unlock(&m->lock);
	return 0;
}

static int hmmdev_dmirror_snapshot(struct hmmdev_mirror *m,
				   struct hmm_dmirror_cmd *cmd)
{
	u64 start = cmd->addr, end = start + (cmd->npages << PAGE_SHIFT), next;
	void __user *uptr = u64_to_user_ptr(cmd->ptr);
	unsigned long *pfns;
	u8 *prot;
	int ret = 0;

	if (!mmget_not_zero(m->mm))
		return -EINVAL;
	pfns = kmalloc_array(SNAPSHOT_CHUNK, sizeof(*pfns), GFP_KERNEL);
	prot = kmalloc(SNAPSHOT_CHUNK, GFP_KERNEL);
	if (!pfns || !prot)
		ret = -ENOMEM;
	for (; start < end && !ret; start = next) {
		next = min(end, start + (SNAPSHOT_CHUNK << PAGE_SHIFT));
		ret = hmmdev_snapshot_chunk(m, start, next, pfns, prot);
		if (!ret && copy_to_user(uptr, prot, (next - start) >> PAGE_SHIFT))
			ret = -EFAULT;
		uptr += (next - start) >> PAGE_SHIFT;
		if (!ret)
			cmd->cpages += (next - start) >> PAGE_SHIFT;
	}
	kfree(pfns);
	kfree(prot);
	mmput(m->mm);
	return ret;
}

/* Is every page of [start, end) in this device's memory now? */
static int hmmdev_dmirror_all_local(struct hmmdev_mirror *m, u64 start,
				    u64 end)
{
	unsigned long *pfns = kmalloc_array(SNAPSHOT_CHUNK, sizeof(*pfns),
					    GFP_KERNEL);
	u64 addr, next, i;
	int ret = pfns ? 0 : -ENOMEM;

	for (addr = start; addr < end && !ret; addr = next) {
		struct hmm_range range = {
			.notifier = &m->notifier,
			.start = addr,
			.hmm_pfns = pfns,
			.dev_private_owner = m->hd->pgmap_owner,
		};

		next = min(end, addr + (SNAPSHOT_CHUNK << PAGE_SHIFT));
		range.end = next;
		ret = hmmdev_mirror_range_fault(m, &range, false);
		if (ret)
			break;
		for (i = 0; i < (next - addr) >> PAGE_SHIFT; i++)
			if (!(pfns[i] & HMM_PFN_VALID) ||
			    !hmmdev_devmem_ours(m->hd, hmm_pfn_to_page(pfns[i])))
				ret = -ENOENT;
		mutex_unlock(&m->lock);
	}
	kfree(pfns);
	return ret;
}

/*
 * MIGRATE_TO_DEV, as test_hmm: migrate, then read the range back through
 * the device -- -ENOENT when a page did not move to device memory.
 */
static int hmmdev_dmirror_migrate(struct hmmdev_mirror *m,
				  struct hmm_dmirror_cmd *cmd)
{
	u64 end = cmd->addr + (cmd->npages << PAGE_SHIFT);
	int ret;

	ret = hmmdev_migrate_to_dev(m, cmd->addr, end);
	if (!ret && mmget_not_zero(m->mm)) {
		ret = hmmdev_dmirror_all_local(m, cmd->addr, end);
		mmput(m->mm);
	}
	if (!ret)
		ret = hmmdev_dmirror_rw(m, cmd, false);
	return ret;
}

/* EXCLUSIVE, as test_hmm: exclusive access, then read the range back. */
static int hmmdev_dmirror_exclusive(struct hmmdev_mirror *m,
				    struct hmm_dmirror_cmd *cmd)
{
	u64 end = cmd->addr + (cmd->npages << PAGE_SHIFT);
	int ret;

	if (!mmget_not_zero(m->mm))
		return -EINVAL;
	ret = hmmdev_make_exclusive(m, cmd->addr, end);
	mmput(m->mm);
	return ret ?: hmmdev_dmirror_rw(m, cmd, false);
}

/* CHECK_EXCLUSIVE: -EPERM while the device still holds exclusive access. */
static int hmmdev_dmirror_check_exclusive(struct hmmdev_mirror *m,
					  struct hmm_dmirror_cmd *cmd)
{
	bool held;

	mutex_lock(&m->lock);
	held = !m->dead && hmmdev_pt_any_atomic(m, cmd->addr, cmd->addr +
						(cmd->npages << PAGE_SHIFT));
	mutex_unlock(&m->lock);
	return held ? -EPERM : 0;
}

/*
 * The first open of a /dev/hmm_dmirrorN after the module is loaded runs
 * the paths of virtual addresses once, and checks them: in a temporary
 * mapping of the opener's own address space, with a device context of its
 * own, a READ job whose device faults map a transparent huge page (where
 * the system gives one), that page to VRAM (MIGRATE_TO_DEV, with its READ)
 * and back by ioctl, to VRAM again and back by a CPU fault, and 4 KiB pages
 * to VRAM and back by a CPU fault.  A bring-up check -- the mirror, the
 * fault service, the device page tables and both migrations work before a
 * process depends on them -- and, under an emulator such as QEMU's TCG,
 * the first run of the module's code (and of the kernel's HMM code), which
 * the emulator translates first: without it the first process after a
 * load read and migrated up to half as fast as the next ones
 * (hmmdev-bench --cold).
 *
 * It runs on the opener's way back to user mode (task_work: open() itself
 * runs under misc_mtx, which every misc device's open takes), and once: a
 * wrong result is logged and the device stays as usable as without the
 * check.  It is tried again at a later open only when it could not start
 * (no memory, no free context, the opener was being killed).
 */
#define WARM_THP	PMD_SIZE		/* the huge page, and the READ */
#define WARM_SMALL	(16 * PAGE_SIZE)	/* the 4 KiB pages */

static DEFINE_MUTEX(hmmdev_warm_lock);
static bool hmmdev_warm_done;	/* written under hmmdev_warm_lock */

struct hmmdev_warm {
	struct callback_head cb;
	struct hmmdev *hd;
};

static int hmmdev_warm_fill(u64 addr, u64 size, u64 seed)
{
	u64 off;

	for (off = 0; off < size; off += PAGE_SIZE)
		if (put_user(seed ^ off, (u64 __user *)(addr + off)))
			return -EFAULT;
	return 0;
}

/* -EIO when a page's first word is not what hmmdev_warm_fill() wrote */
static int hmmdev_warm_check(u64 addr, u64 size, u64 seed)
{
	u64 off, word;

	for (off = 0; off < size; off += PAGE_SIZE) {
		if (get_user(word, (u64 __user *)(addr + off)))
			return -EFAULT;
		if (word != (seed ^ off))
			return -EIO;
	}
	return 0;
}

/*
 * [thp, +WARM_THP): the source, 2 MiB aligned; [dst, +WARM_THP): READ's
 * buffer; [small, +WARM_SMALL): the 4 KiB pages.
 */
static int hmmdev_warm_run(struct hmmdev_mirror *m, u64 thp, u64 dst,
			   u64 small)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = thp, .ptr = dst, .npages = WARM_THP >> PAGE_SHIFT,
	};
	u64 cpages = 0, seed = 0x9e3779b97f4a7c15ull;
	int ret;

	ret = hmmdev_warm_fill(thp, WARM_THP, seed) ?:
	      hmmdev_warm_fill(small, WARM_SMALL, ~seed) ?:
	      hmmdev_dmirror_rw(m, &cmd, false) ?:
	      hmmdev_warm_check(dst, WARM_THP, seed);
	if (ret || !m->hd->dm_pages)
		return ret;	/* no device memory: nothing migrates */
	return hmmdev_dmirror_migrate(m, &cmd) ?:
	       hmmdev_migrate_to_sys(m, thp, thp + WARM_THP, &cpages) ?:
	       hmmdev_migrate_to_dev(m, thp, thp + WARM_THP) ?:
	       hmmdev_warm_check(thp, WARM_THP, seed) ?:
	       hmmdev_migrate_to_dev(m, small, small + WARM_SMALL) ?:
	       hmmdev_warm_check(small, WARM_SMALL, ~seed);
}

/* Return: the check's result, or -EAGAIN when it could not start. */
static int hmmdev_warm_mapped(struct hmmdev *hd, u64 big, u64 small)
{
	struct hmmdev_mirror *m;
	int ret;

	down_read(&hd->state_lock);
	if (hd->removed || READ_ONCE(hd->gone) || READ_ONCE(hd->failed)) {
		up_read(&hd->state_lock);
		return -ENODEV;
	}
	m = hmmdev_mirror_create(hd);
	if (IS_ERR(m)) {
		up_read(&hd->state_lock);
		return -EAGAIN;
	}
	ret = hmmdev_warm_run(m, ALIGN(big, WARM_THP),
			      ALIGN(big, WARM_THP) + WARM_THP, small);
	up_read(&hd->state_lock);
	hmmdev_mirror_destroy(m);
	return ret;
}

static void hmmdev_warm_task(struct callback_head *cb)
{
	struct hmmdev_warm *w = container_of(cb, struct hmmdev_warm, cb);
	struct hmmdev *hd = w->hd;
	unsigned long big = -ENOMEM, small = -ENOMEM;
	ktime_t t0 = ktime_get();
	int ret = -EAGAIN;

	mutex_lock(&hmmdev_warm_lock);
	if (hmmdev_warm_done || !current->mm)
		goto out;
	big = vm_mmap(NULL, 0, 3 * WARM_THP, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, 0);
	/* a VMA of its own (other flags: not merged), too small for a THP */
	small = vm_mmap(NULL, 0, WARM_SMALL, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, 0);
	if (!IS_ERR_VALUE(big) && !IS_ERR_VALUE(small))
		ret = hmmdev_warm_mapped(hd, big, small);
	if (ret == -EINTR || fatal_signal_pending(current))
		ret = -EAGAIN;
	if (!ret)
		dev_info(&hd->pdev->dev, "first open: virtual-address self-test passed in %lld us\n",
			 ktime_us_delta(ktime_get(), t0));
	else if (ret != -EAGAIN)
		dev_err(&hd->pdev->dev, "first open: virtual-address self-test failed (%d)\n",
			ret);
	hmmdev_warm_done = ret != -EAGAIN;
out:
	mutex_unlock(&hmmdev_warm_lock);
	if (!IS_ERR_VALUE(big))
		vm_munmap(big, 3 * WARM_THP);
	if (!IS_ERR_VALUE(small))
		vm_munmap(small, WARM_SMALL);
	hmmdev_put(hd);
	kfree(w);
	module_put(THIS_MODULE);
}

/* Queue the check on the opener's way back to user mode, if it is due. */
static void hmmdev_dmirror_warm(struct hmmdev *hd)
{
	struct hmmdev_warm *w;

	if (READ_ONCE(hmmdev_warm_done))
		return;
	w = kzalloc_obj(*w, GFP_KERNEL);
	if (!w)
		return;
	w->hd = hd;
	init_task_work(&w->cb, hmmdev_warm_task);
	__module_get(THIS_MODULE);
	kref_get(&hd->ref);
	if (!task_work_add(current, &w->cb, TWA_RESUME))
		return;
	hmmdev_put(hd);
	module_put(THIS_MODULE);
	kfree(w);
}

static int hmmdev_dmirror_open(struct inode *inode, struct file *filp)
{
	struct hmmdev *hd = container_of(filp->private_data, struct hmmdev,
					 dmirror_misc);
	struct hmmdev_mirror *m;

	down_read(&hd->state_lock);
	m = hd->removed ? ERR_PTR(-ENODEV) : hmmdev_mirror_create(hd);
	up_read(&hd->state_lock);
	if (IS_ERR(m))
		return PTR_ERR(m);
	filp->private_data = m;
	hmmdev_dmirror_warm(hd);
	return 0;
}

static int hmmdev_dmirror_release(struct inode *inode, struct file *filp)
{
	hmmdev_mirror_destroy(filp->private_data);
	return 0;
}

static long hmmdev_dmirror_ioctl(struct file *filp, unsigned int command,
				 unsigned long arg)
{
	struct hmmdev_mirror *m = filp->private_data;
	struct hmmdev *hd = m->hd;
	void __user *uarg = (void __user *)arg;
	struct hmm_dmirror_cmd cmd;
	long ret;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	if (cmd.addr & ~PAGE_MASK || !cmd.npages ||
	    cmd.npages > (HMMDEV_VA_LIMIT >> PAGE_SHIFT) ||
	    cmd.addr >= cmd.addr + (cmd.npages << PAGE_SHIFT))
		return -EINVAL;
	/* beyond the device's 48-bit address space (a 5-level guest) */
	if (cmd.addr + (cmd.npages << PAGE_SHIFT) > HMMDEV_VA_LIMIT)
		return -EFAULT;
	/* a mirror is bound to the mm of the process that opened it */
	if (current->mm != m->mm)
		return -EINVAL;
	cmd.cpages = 0;
	cmd.faults = 0;

	down_read(&hd->state_lock);
	if (hd->removed || READ_ONCE(hd->gone) || m->dead) {
		ret = -ENODEV;
	} else if (READ_ONCE(hd->failed)) {
		ret = -EIO;
	} else {
		switch (command) {
		case HMM_DMIRROR_READ:
		case HMM_DMIRROR_READ_UNLOCKED:
			/*
			 * the same job: our fault service hands a fault on a
			 * userfaultfd range to this thread, which waits for
			 * the handler (hmmdev_fault_defer())
			 */
			ret = hmmdev_dmirror_rw(m, &cmd, false);
			break;
		case HMM_DMIRROR_WRITE:
			ret = hmmdev_dmirror_rw(m, &cmd, true);
			break;
		case HMM_DMIRROR_SNAPSHOT:
			ret = hmmdev_dmirror_snapshot(m, &cmd);
			break;
		case HMM_DMIRROR_MIGRATE_TO_DEV:
			ret = hmmdev_dmirror_migrate(m, &cmd);
			break;
		case HMM_DMIRROR_MIGRATE_TO_SYS:
			ret = hmmdev_migrate_to_sys(m, cmd.addr, cmd.addr +
						    (cmd.npages << PAGE_SHIFT),
						    &cmd.cpages);
			break;
		case HMM_DMIRROR_RELEASE:
			/*
			 * every device page of the caller back to system
			 * memory (test_hmm: all of the device's; hmm-tests
			 * only looks at the caller's)
			 */
			ret = hmmdev_migrate_all_to_sys(m, &cmd.cpages);
			break;
		case HMM_DMIRROR_EXCLUSIVE:
			ret = hmmdev_dmirror_exclusive(m, &cmd);
			break;
		case HMM_DMIRROR_CHECK_EXCLUSIVE:
			ret = hmmdev_dmirror_check_exclusive(m, &cmd);
			break;
		case HMM_DMIRROR_FLAGS:
			/* FAIL_ALLOC: the next 2 MiB page of a migration */
			ret = cmd.npages & ~HMM_DMIRROR_FLAG_FAIL_ALLOC ?
			      -EINVAL : 0;
			if (!ret)
				assign_bit(HMMDEV_MIRROR_FAIL_ALLOC, &m->flags,
					   cmd.npages);
			break;
		default:
			ret = -EINVAL;
		}
	}
	up_read(&hd->state_lock);
	/* a job the device never completed: to the caller, an I/O error */
	if (ret == -ETIMEDOUT)
		ret = -EIO;
	if (ret)
		return ret;
	return copy_to_user(uarg, &cmd, sizeof(cmd)) ? -EFAULT : 0;
}

/*
 * As test_hmm once did: a mapping of zeroed pages, inserted one by one, at
 * most HMMDEV_DMIRROR_MMAP_MAX bytes (each mmap() allocates them all).
 */
static int hmmdev_dmirror_mmap(struct file *filp, struct vm_area_struct *vma)
{
	unsigned long addr;
	struct page *page;
	int ret;

	if (vma->vm_end - vma->vm_start > HMMDEV_DMIRROR_MMAP_MAX)
		return -EINVAL;
	for (addr = vma->vm_start; addr < vma->vm_end; addr += PAGE_SIZE) {
		page = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!page)
			return -ENOMEM;
		ret = vm_insert_page(vma, addr, page);
		put_page(page);
		if (ret)
			return ret;
	}
	return 0;
}

static const struct file_operations hmmdev_dmirror_fops = {
	.owner = THIS_MODULE,
	.open = hmmdev_dmirror_open,
	.release = hmmdev_dmirror_release,
	.unlocked_ioctl = hmmdev_dmirror_ioctl,
	.mmap = hmmdev_dmirror_mmap,
	.llseek = default_llseek,
};

int hmmdev_dmirror_register(struct hmmdev *hd)
{
	snprintf(hd->dmirror_name, sizeof(hd->dmirror_name), "hmm_dmirror%d",
		 hd->id);
	hd->dmirror_misc.minor = MISC_DYNAMIC_MINOR;
	hd->dmirror_misc.name = hd->dmirror_name;
	hd->dmirror_misc.fops = &hmmdev_dmirror_fops;
	hd->dmirror_misc.parent = &hd->pdev->dev;
	return misc_register(&hd->dmirror_misc);
}

void hmmdev_dmirror_unregister(struct hmmdev *hd)
{
	misc_deregister(&hd->dmirror_misc);
}
