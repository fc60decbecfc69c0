/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * hmmdev user API: /dev/hmmdevN.
 *
 * Every ioctl argument is validated: unknown flags or reserved fields that
 * are not zero give -EINVAL, an unreadable or unwritable user buffer
 * -EFAULT, a device that failed or was removed -EIO / -ENODEV.
 */
#ifndef _UAPI_LINUX_HMMDEV_H
#define _UAPI_LINUX_HMMDEV_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

/**
 * struct hmmdev_info - what the device is
 * @version: the device's VERSION register (major << 16 | minor)
 * @engines: number of DMA engines
 * @msix_vectors: MSI-X vectors the driver uses
 * @reserved: zero
 * @vram_size: bytes of device memory (BAR2)
 * @max_dma_length: largest @length HMMDEV_IOC_DMA accepts
 * @raw_size: bytes at the start of VRAM open to mmap() (MAP_SHARED, at
 *	offset 0) and HMMDEV_IOC_DMA; the rest holds the driver's device
 *	pages and page tables, which no process may reach
 */
struct hmmdev_info {
	__u32 version;
	__u32 engines;
	__u32 msix_vectors;
	__u32 reserved;
	__u64 vram_size;
	__u64 max_dma_length;
	__u64 raw_size;
};

#define HMMDEV_DMA_TO_VRAM	1	/* user memory -> VRAM */
#define HMMDEV_DMA_FROM_VRAM	2	/* VRAM -> user memory */

/**
 * struct hmmdev_dma - copy between user memory and VRAM with the DMA engines
 * @addr: user buffer
 * @vram_offset: offset in VRAM; @vram_offset + @length <= raw_size
 * @length: bytes, 1..max_dma_length
 * @direction: HMMDEV_DMA_TO_VRAM or HMMDEV_DMA_FROM_VRAM
 * @flags: zero
 * @jobs: out: device jobs the copy took
 * @device_ns: out: device time from first submission to last completion
 */
struct hmmdev_dma {
	__u64 addr;
	__u64 vram_offset;
	__u64 length;
	__u32 direction;
	__u32 flags;
	__u64 jobs;
	__u64 device_ns;
};

/**
 * struct hmmdev_irq_test - ask the device to raise an MSI-X vector
 * @vector: 0..msix_vectors-1
 * @timeout_ms: how long to wait for it, 1..10000
 * @latency_ns: out: doorbell write to interrupt handler
 */
struct hmmdev_irq_test {
	__u32 vector;
	__u32 timeout_ms;
	__u64 latency_ns;
};

#define HMMDEV_MAX_VECTORS	8
#define HMMDEV_MAX_COUNTERS	32

/**
 * struct hmmdev_counters - device and driver counters
 * @device: the device's own counters (BAR0), in the order of SPEC.rst
 * @irqs: interrupts the driver handled, per vector
 * @jobs: jobs the driver submitted
 * @job_errors: jobs that completed with an error status
 * @timeouts: jobs that did not complete in time
 * @device_errors: error interrupts seen
 * @devmem_used: device pages (4 KiB) in use
 * @migrations_to_dev: pages migrated to device memory
 * @migrations_to_ram: pages migrated back on CPU faults
 * @thp_to_dev: huge pages migrated to device memory whole (2 MiB pages)
 * @thp_to_ram: 2 MiB device pages migrated back whole, into a system THP
 * @thp_fallbacks: huge pages that migrated as 4 KiB pages instead
 * @folio_splits: 2 MiB device pages split by the kernel
 * @uffd_faults: device faults on userfaultfd ranges
 */
struct hmmdev_counters {
	__u64 device[HMMDEV_MAX_COUNTERS];
	__u64 irqs[HMMDEV_MAX_VECTORS];
	__u64 jobs;
	__u64 job_errors;
	__u64 timeouts;
	__u64 device_errors;
	__u64 devmem_used;
	__u64 migrations_to_dev;
	__u64 migrations_to_ram;
	__u64 thp_to_dev;
	__u64 thp_to_ram;
	__u64 thp_fallbacks;
	__u64 folio_splits;
	__u64 uffd_faults;
};

/* Engine jobs on the caller's virtual addresses (HMMDEV_IOC_JOB) */
#define HMMDEV_JOB_COPY		1	/* length bytes from src to dst */
#define HMMDEV_JOB_FILL		2	/* dst: the 8 bytes of value, repeated */
#define HMMDEV_JOB_ATOMIC_ADD	3	/* u64 at dst += value (length 8) */
#define HMMDEV_JOB_CHECKSUM	4	/* sum of the LE u64 words at src */

/**
 * struct hmmdev_job - one device job on the caller's virtual addresses
 * @op: HMMDEV_JOB_*
 * @flags: zero
 * @src: source address (COPY, CHECKSUM)
 * @dst: destination address (COPY, FILL, ATOMIC_ADD; 8-byte aligned for it)
 * @length: bytes, 1..max_dma_length; 8 for ATOMIC_ADD
 * @value: FILL pattern, ATOMIC_ADD addend
 * @result: out: COPY/FILL bytes done, ATOMIC_ADD old value, CHECKSUM sum
 * @faults: out: device faults serviced while the job ran
 * @device_ns: out: submission to completion
 *
 * The device translates the addresses with its MMU, mirroring the
 * caller's page tables; what is not mapped yet faults on the device and is
 * serviced by the driver (see struct hmmdev_policy).  An address the
 * process may not access fails the job: -EFAULT, or -EPERM for a write to
 * read-only memory.
 */
struct hmmdev_job {
	__u32 op;
	__u32 flags;
	__u64 src;
	__u64 dst;
	__u64 length;
	__u64 value;
	__u64 result;
	__u64 faults;
	__u64 device_ns;
};

#define HMMDEV_POLICY_POPULATE_JOB	_BITUL(0)
#define HMMDEV_POLICY_MIGRATE_ON_FAULT	_BITUL(1)

/**
 * struct hmmdev_policy - how the driver services this file's device faults
 * @fault_around: pages faulted in around a faulting address: a power of
 *	two, 1..512
 * @flags: HMMDEV_POLICY_POPULATE_JOB: the first fault of a job populates
 *	the job's whole range; HMMDEV_POLICY_MIGRATE_ON_FAULT: a device fault
 *	first moves the range it faults in to the device's memory (first
 *	touch by the device migrates; pages that cannot move -- VRAM full,
 *	file-backed, shared, pinned -- stay where they are and are mirrored)
 */
struct hmmdev_policy {
	__u32 fault_around;
	__u32 flags;
};

#define HMMDEV_IOC_MAGIC	'h'
#define HMMDEV_IOC_INFO		_IOR(HMMDEV_IOC_MAGIC, 0x40, struct hmmdev_info)
#define HMMDEV_IOC_DMA		_IOWR(HMMDEV_IOC_MAGIC, 0x41, struct hmmdev_dma)
#define HMMDEV_IOC_IRQ_TEST	_IOWR(HMMDEV_IOC_MAGIC, 0x42, struct hmmdev_irq_test)
#define HMMDEV_IOC_COUNTERS	_IOR(HMMDEV_IOC_MAGIC, 0x43, struct hmmdev_counters)
#define HMMDEV_IOC_JOB		_IOWR(HMMDEV_IOC_MAGIC, 0x44, struct hmmdev_job)
#define HMMDEV_IOC_SET_POLICY	_IOW(HMMDEV_IOC_MAGIC, 0x45, struct hmmdev_policy)

#endif /* _UAPI_LINUX_HMMDEV_H */
