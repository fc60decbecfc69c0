// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: /dev/hmmdevN -- ioctls (include/uapi/linux/hmmdev.h) and
 * mmap of VRAM.
 *
 * Every ioctl runs with hd->state_lock held for reading and fails with
 * -ENODEV once remove has marked the device removed.  Each open file holds
 * a reference on struct hmmdev and sits on hd->files so that remove can
 * zap its VRAM mappings.  state_lock is never taken under mmap_lock (ioctls
 * fault on user memory while holding it); the mmap/fault path uses
 * hd->map_lock instead.
 */
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "hmmdev.h"
#include "include/uapi/linux/hmmdev.h"

#define HMMDEV_DMA_CHUNK	(1024 * 1024)

/**
 * struct hmmdev_file - one open /dev/hmmdevN
 * @hd: the device (a reference is held)
 * @filp: the file
 * @node: on hd->files
 * @mirror_lock: protects @mirror's creation
 * @mirror: the context mirroring the opener's mm, made by the first
 *	HMMDEV_IOC_JOB or HMMDEV_IOC_SET_POLICY; destroyed at release
 */
struct hmmdev_file {
	struct hmmdev *hd;
	struct file *filp;
	struct list_head node;
	struct mutex mirror_lock;	/* see the kernel-doc above */
	struct hmmdev_mirror *mirror;
};

static int hmmdev_open(struct inode *inode, struct file *filp)
{
	struct hmmdev *hd = container_of(filp->private_data, struct hmmdev, misc);
	struct hmmdev_file *hf;

	hf = kzalloc_obj(*hf, GFP_KERNEL);
	if (!hf)
		return -ENOMEM;
	down_read(&hd->state_lock);
	if (hd->removed) {
		up_read(&hd->state_lock);
		kfree(hf);
		return -ENODEV;
	}
	kref_get(&hd->ref);
	hf->hd = hd;
	hf->filp = filp;
	mutex_init(&hf->mirror_lock);
	mutex_lock(&hd->files_lock);
	list_add(&hf->node, &hd->files);
	mutex_unlock(&hd->files_lock);
	up_read(&hd->state_lock);
	filp->private_data = hf;
	return 0;
}

static int hmmdev_release_file(struct inode *inode, struct file *filp)
{
	struct hmmdev_file *hf = filp->private_data;
	struct hmmdev *hd = hf->hd;

	mutex_lock(&hd->files_lock);
	list_del(&hf->node);
	mutex_unlock(&hd->files_lock);
	if (hf->mirror)
		hmmdev_mirror_destroy(hf->mirror);
	kfree(hf);
	hmmdev_put(hd);
	return 0;
}

static long hmmdev_ioc_info(struct hmmdev *hd, void __user *arg)
{
	struct hmmdev_info info = {
		.version = hmmdev_rd32(hd, HMMDEV_REG_VERSION),
		.engines = hd->engines,
		.msix_vectors = HMMDEV_MSIX_VECTORS,
		.vram_size = hd->vram_size,
		.max_dma_length = HMMDEV_JOB_MAX_LENGTH,
		.raw_size = hd->raw_size,
	};

	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

/* Copy through a coherent bounce buffer, one job per chunk. */
static long hmmdev_ioc_dma(struct hmmdev *hd, void __user *arg)
{
	struct device *dev = &hd->pdev->dev;
	struct hmmdev_dma req;
	bool to_vram;
	u64 done, n;
	dma_addr_t dma;
	ktime_t t0;
	void *buf;
	long ret = 0;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags || (req.direction != HMMDEV_DMA_TO_VRAM &&
			  req.direction != HMMDEV_DMA_FROM_VRAM))
		return -EINVAL;
	if (!req.length || req.length > HMMDEV_JOB_MAX_LENGTH ||
	    req.vram_offset > hd->raw_size ||
	    req.length > hd->raw_size - req.vram_offset)
		return -EINVAL;
	to_vram = req.direction == HMMDEV_DMA_TO_VRAM;
	if (!access_ok(u64_to_user_ptr(req.addr), req.length))
		return -EFAULT;

	n = min_t(u64, req.length, HMMDEV_DMA_CHUNK);
	buf = dma_alloc_coherent(dev, n, &dma, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	req.jobs = 0;
	t0 = ktime_get();
	for (done = 0; done < req.length && !ret; done += n) {
		void __user *uaddr = u64_to_user_ptr(req.addr + done);

		n = min_t(u64, req.length - done, HMMDEV_DMA_CHUNK);
		if (to_vram && copy_from_user(buf, uaddr, n)) {
			ret = -EFAULT;
			break;
		}
		ret = hmmdev_dma_copy(hd, dma, req.vram_offset + done, n, to_vram);
		req.jobs++;
		if (!ret && !to_vram && copy_to_user(uaddr, buf, n))
			ret = -EFAULT;
	}
	req.device_ns = ktime_to_ns(ktime_sub(ktime_get(), t0));
	/* a timed-out job may still write the buffer: never free it then */
	if (ret != -ETIMEDOUT)
		dma_free_coherent(dev, min_t(u64, req.length, HMMDEV_DMA_CHUNK),
				  buf, dma);
	if (!ret && copy_to_user(arg, &req, sizeof(req)))
		ret = -EFAULT;
	return ret;
}

static long hmmdev_ioc_irq_test(struct hmmdev *hd, void __user *arg)
{
	struct hmmdev_irq_test req;
	long ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.vector >= HMMDEV_MSIX_VECTORS || !req.timeout_ms ||
	    req.timeout_ms > 10000)
		return -EINVAL;
	ret = hmmdev_irq_test(hd, req.vector, msecs_to_jiffies(req.timeout_ms),
			      &req.latency_ns);
	if (ret)
		return ret;
	return copy_to_user(arg, &req, sizeof(req)) ? -EFAULT : 0;
}

static long hmmdev_ioc_counters(struct hmmdev *hd, void __user *arg)
{
	struct hmmdev_counters c = {};
	int i;

	BUILD_BUG_ON(HMMDEV_CNT_MAX > HMMDEV_MAX_COUNTERS);
	BUILD_BUG_ON(HMMDEV_MSIX_VECTORS > HMMDEV_MAX_VECTORS);
	for (i = 0; i < HMMDEV_CNT_MAX; i++)
		c.device[i] = hmmdev_rd64(hd, HMMDEV_REG_COUNTERS + 8 * i);
	for (i = 0; i < HMMDEV_MSIX_VECTORS; i++)
		c.irqs[i] = atomic64_read(&hd->irqs[i]);
	c.jobs = atomic64_read(&hd->jobs);
	c.job_errors = atomic64_read(&hd->job_errors);
	c.timeouts = atomic64_read(&hd->timeouts);
	c.device_errors = atomic64_read(&hd->device_errors);
	c.devmem_used = READ_ONCE(hd->dm_used);
	c.migrations_to_dev = atomic64_read(&hd->migrations_to_dev);
	c.migrations_to_ram = atomic64_read(&hd->migrations_to_ram);
	c.thp_to_dev = atomic64_read(&hd->thp_to_dev);
	c.thp_to_ram = atomic64_read(&hd->thp_to_ram);
	c.thp_fallbacks = atomic64_read(&hd->thp_fallbacks);
	c.folio_splits = atomic64_read(&hd->folio_splits);
	c.uffd_faults = atomic64_read(&hd->uffd_faults);
	return copy_to_user(arg, &c, sizeof(c)) ? -EFAULT : 0;
}

/* This file's mirror of the caller's mm, made on first use. */
static struct hmmdev_mirror *hmmdev_file_mirror(struct hmmdev_file *hf)
{
	struct hmmdev_mirror *m;

	mutex_lock(&hf->mirror_lock);
	if (!hf->mirror) {
		m = hmmdev_mirror_create(hf->hd);
		if (!IS_ERR(m))
			hf->mirror = m;
	} else {
		m = hf->mirror;
	}
	mutex_unlock(&hf->mirror_lock);
	/* a mirror is bound to the mm of the process that made it */
	if (!IS_ERR(m) && m->mm != current->mm)
		return ERR_PTR(-EINVAL);
	return m;
}

static long hmmdev_ioc_set_policy(struct hmmdev_file *hf, void __user *arg)
{
	struct hmmdev_policy p;
	struct hmmdev_mirror *m;

	if (copy_from_user(&p, arg, sizeof(p)))
		return -EFAULT;
	if (p.flags & ~(HMMDEV_POLICY_POPULATE_JOB |
			HMMDEV_POLICY_MIGRATE_ON_FAULT) || !p.fault_around ||
	    p.fault_around > 512 || !is_power_of_2(p.fault_around))
		return -EINVAL;
	m = hmmdev_file_mirror(hf);
	if (IS_ERR(m))
		return PTR_ERR(m);
	WRITE_ONCE(m->fault_around, p.fault_around);
	WRITE_ONCE(m->populate_job, p.flags & HMMDEV_POLICY_POPULATE_JOB);
	WRITE_ONCE(m->migrate_on_fault,
		   p.flags & HMMDEV_POLICY_MIGRATE_ON_FAULT);
	return 0;
}

/*
 * A user VA range the device may be asked to touch: the process's, and
 * inside the device's 48-bit address space (a 5-level guest has more).
 */
static bool hmmdev_user_range_ok(u64 addr, u64 len)
{
	return addr + len > addr && addr + len <= HMMDEV_VA_LIMIT &&
	       access_ok(u64_to_user_ptr(addr), len);
}

/* Check a user job and turn it into a device descriptor. */
static long hmmdev_job_to_desc(const struct hmmdev_job *job,
			       struct hmmdev_job_desc *desc)
{
	bool reads = job->op == HMMDEV_JOB_COPY || job->op == HMMDEV_JOB_CHECKSUM;
	bool writes = job->op != HMMDEV_JOB_CHECKSUM;

	if (job->flags || job->op < HMMDEV_JOB_COPY ||
	    job->op > HMMDEV_JOB_CHECKSUM)
		return -EINVAL;
	if (!job->length || job->length > HMMDEV_JOB_MAX_LENGTH ||
	    (job->op == HMMDEV_JOB_ATOMIC_ADD &&
	     (job->length != 8 || job->dst % 8)))
		return -EINVAL;
	if ((reads && !hmmdev_user_range_ok(job->src, job->length)) ||
	    (writes && !hmmdev_user_range_ok(job->dst, job->length)))
		return -EFAULT;
	/* the uapi's op numbers are the device's opcodes */
	BUILD_BUG_ON(HMMDEV_OP_COPY != HMMDEV_JOB_COPY);
	BUILD_BUG_ON(HMMDEV_OP_CHECKSUM != HMMDEV_JOB_CHECKSUM);
	*desc = (struct hmmdev_job_desc) {
		.opcode = job->op,
		.flags = (reads ? HMMDEV_JOB_SRC_VA : 0) |
			 (writes ? HMMDEV_JOB_DST_VA : 0),
		.src = job->src,
		.dst = job->dst,
		.length = job->length,
		.value = job->value,
	};
	return 0;
}

static long hmmdev_ioc_job(struct hmmdev_file *hf, void __user *arg)
{
	struct hmmdev_job_desc desc;
	struct hmmdev_mirror *m;
	struct hmmdev_job job;
	ktime_t t0;
	long ret;

	if (copy_from_user(&job, arg, sizeof(job)))
		return -EFAULT;
	ret = hmmdev_job_to_desc(&job, &desc);
	if (ret)
		return ret;
	m = hmmdev_file_mirror(hf);
	if (IS_ERR(m))
		return PTR_ERR(m);
	hmmdev_mirror_jobs_begin(m);
	if (READ_ONCE(m->populate_job)) {
		if (desc.flags & HMMDEV_JOB_SRC_VA)
			hmmdev_mirror_hint(m, 0, job.src, job.src + job.length);
		if (desc.flags & HMMDEV_JOB_DST_VA)
			hmmdev_mirror_hint(m, 1, job.dst, job.dst + job.length);
	}
	t0 = ktime_get();
	ret = hmmdev_mirror_run(m, &desc, &job.result);
	job.device_ns = ktime_to_ns(ktime_sub(ktime_get(), t0));
	job.faults = atomic_read(&m->job_faults);
	hmmdev_mirror_jobs_end(m);
	if (!ret && copy_to_user(arg, &job, sizeof(job)))
		ret = -EFAULT;
	return ret;
}

static long hmmdev_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct hmmdev_file *hf = filp->private_data;
	struct hmmdev *hd = hf->hd;
	void __user *uarg = (void __user *)arg;
	long ret;

	down_read(&hd->state_lock);
	if (hd->removed || READ_ONCE(hd->gone)) {
		ret = -ENODEV;
		goto out;
	}
	if (READ_ONCE(hd->failed) && cmd != HMMDEV_IOC_COUNTERS) {
		ret = -EIO;
		goto out;
	}
	switch (cmd) {
	case HMMDEV_IOC_INFO:
		ret = hmmdev_ioc_info(hd, uarg);
		break;
	case HMMDEV_IOC_DMA:
		ret = hmmdev_ioc_dma(hd, uarg);
		break;
	case HMMDEV_IOC_IRQ_TEST:
		ret = hmmdev_ioc_irq_test(hd, uarg);
		break;
	case HMMDEV_IOC_COUNTERS:
		ret = hmmdev_ioc_counters(hd, uarg);
		break;
	case HMMDEV_IOC_JOB:
		ret = hmmdev_ioc_job(hf, uarg);
		break;
	case HMMDEV_IOC_SET_POLICY:
		ret = hmmdev_ioc_set_policy(hf, uarg);
		break;
	default:
		ret = -ENOTTY;
	}
out:
	up_read(&hd->state_lock);
	/*
	 * a job the device never completed: to the caller, an I/O error (an
	 * interrupt that did not come stays -ETIMEDOUT)
	 */
	if (ret == -ETIMEDOUT && cmd != HMMDEV_IOC_IRQ_TEST)
		ret = -EIO;
	return ret;
}

/*
 * VRAM mappings are filled on fault, one page at a time, under map_lock
 * (taken inside mmap_lock).  Remove sets hd->unmapped under map_lock and
 * then zaps every open file's mappings, so no fault can install a VRAM page
 * after the zap: later accesses get SIGBUS.
 */
static vm_fault_t hmmdev_vram_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct hmmdev_file *hf = vma->vm_file->private_data;
	struct hmmdev *hd = hf->hd;
	vm_fault_t ret = VM_FAULT_SIGBUS;
	unsigned long pfn;

	down_read(&hd->map_lock);
	if (!hd->unmapped) {
		pfn = (hd->vram_phys >> PAGE_SHIFT) + vmf->pgoff;
		ret = vmf_insert_pfn(vma, vmf->address, pfn);
	}
	up_read(&hd->map_lock);
	return ret;
}

static const struct vm_operations_struct hmmdev_vram_vm_ops = {
	.fault = hmmdev_vram_fault,
};

/*
 * The raw VRAM region [0, raw_size), write-combined.  Only shared mappings:
 * a private (copy-on-write) mapping of device memory has no meaning, and
 * vmf_insert_pfn() refuses to put a pfn into one (a kernel BUG).  Never
 * executable (EPERM, and no mprotect() to it later).  The rest
 * of VRAM -- device pages of every process, page tables -- is the
 * driver's alone.
 */
static int hmmdev_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct hmmdev_file *hf = filp->private_data;
	struct hmmdev *hd = hf->hd;
	u64 offset = (u64)vma->vm_pgoff << PAGE_SHIFT;
	u64 size = vma->vm_end - vma->vm_start;

	if (READ_ONCE(hd->unmapped))
		return -ENODEV;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (offset > hd->raw_size || size > hd->raw_size - offset)
		return -EINVAL;
	vm_flags_clear(vma, VM_MAYEXEC);
	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_page_prot = pgprot_writecombine(vm_get_page_prot(vma->vm_flags));
	vma->vm_ops = &hmmdev_vram_vm_ops;
	return 0;
}

static const struct file_operations hmmdev_fops = {
	.owner = THIS_MODULE,
	.open = hmmdev_open,
	.release = hmmdev_release_file,
	.unlocked_ioctl = hmmdev_ioctl,
	.mmap = hmmdev_mmap,
};

int hmmdev_chardev_register(struct hmmdev *hd)
{
	hd->misc.minor = MISC_DYNAMIC_MINOR;
	hd->misc.name = hd->name;
	hd->misc.fops = &hmmdev_fops;
	hd->misc.parent = &hd->pdev->dev;
	return misc_register(&hd->misc);
}

/* Called by remove: no new opens, no operation in flight, no mapping left. */
void hmmdev_chardev_unregister(struct hmmdev *hd)
{
	struct hmmdev_file *hf;

	misc_deregister(&hd->misc);
	down_write(&hd->state_lock);
	hd->removed = true;
	up_write(&hd->state_lock);

	down_write(&hd->map_lock);
	hd->unmapped = true;
	up_write(&hd->map_lock);
	mutex_lock(&hd->files_lock);
	list_for_each_entry(hf, &hd->files, node)
		unmap_mapping_range(hf->filp->f_mapping, 0, 0, 1);
	mutex_unlock(&hd->files_lock);
}
