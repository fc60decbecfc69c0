// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: tombstones -- where a device page whose data is gone
 * (poisoned VRAM, a device that fell off the bus) must still leave the
 * device (remove: nothing may stay in its VRAM), it moves to a tombstone:
 * a device-private page of the module's own dev_pagemap, which holds no
 * data and which a CPU access turns into SIGBUS (its migrate_to_ram), as
 * the device page did.  So the process sees SIGBUS on exactly that page
 * at every moment -- never a system page of zeroes, not even for the
 * moment before memory_failure() would have made it hwpoison.
 *
 * HMMDEV_TOMBSTONES pages, of a free physical range, are mapped at module
 * load; a bitmap under tomb_lock says which are in use.  Each one in use
 * holds a reference on the module, so rmmod fails (EBUSY) rather than
 * waits while a process still has one; its owner freeing it (munmap,
 * exit) gives it back.  4 KiB pages only: a lost 2 MiB device page, or
 * one that finds no tombstone free, comes back as hwpoison system memory
 * instead (hmmdev_devmem_evict()).
 */
#include <linux/ioport.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/spinlock.h>

#include "hmmdev.h"

#define HMMDEV_TOMBSTONES	4096	/* 16 MiB of lost pages at a time */

static struct dev_pagemap tomb_pgmap;
static struct resource *tomb_res;
static DECLARE_BITMAP(tomb_used, HMMDEV_TOMBSTONES);
static DEFINE_SPINLOCK(tomb_lock);
static unsigned long tomb_first_pfn;

static void hmmdev_tombstone_free(struct page *page)
{
	spin_lock(&tomb_lock);
	__clear_bit(page_to_pfn(page) - tomb_first_pfn, tomb_used);
	spin_unlock(&tomb_lock);
	module_put(THIS_MODULE);
}

HMMDEV_DEFINE_FREE_OP(hmmdev_tombstone_free_op, hmmdev_tombstone_free)

static vm_fault_t hmmdev_tombstone_fault(struct vm_fault *vmf)
{
	return VM_FAULT_SIGBUS;		/* the data is gone */
}

static const struct dev_pagemap_ops hmmdev_tombstone_ops = {
	HMMDEV_FREE_OP(hmmdev_tombstone_free_op),
	.migrate_to_ram = hmmdev_tombstone_fault,
};

/**
 * hmmdev_tombstone_alloc() - a tombstone for a lost 4 KiB device page
 *
 * Return: the page, initialised and locked (a migration destination), or
 * NULL when none is free (or none could be mapped at load).
 */
struct page *hmmdev_tombstone_alloc(void)
{
	unsigned long idx;
	struct page *page;

	if (!tomb_res || !try_module_get(THIS_MODULE))
		return NULL;
	spin_lock(&tomb_lock);
	idx = find_first_zero_bit(tomb_used, HMMDEV_TOMBSTONES);
	if (idx < HMMDEV_TOMBSTONES)
		__set_bit(idx, tomb_used);
	spin_unlock(&tomb_lock);
	if (idx >= HMMDEV_TOMBSTONES) {
		module_put(THIS_MODULE);
		return NULL;
	}
	page = pfn_to_page(tomb_first_pfn + idx);
	hmmdev_device_page_init(page, &tomb_pgmap, 0);
	return page;
}

/* Module load: the tombstones' pages (none: lost pages become hwpoison). */
void hmmdev_tombstone_init(void)
{
	unsigned long size = (unsigned long)HMMDEV_TOMBSTONES << PAGE_SHIFT;
	void *addr;

	tomb_res = request_free_mem_region(&iomem_resource, size,
					   "hmmdev-tombstones");
	if (IS_ERR(tomb_res))
		goto fail;
	tomb_pgmap.type = MEMORY_DEVICE_PRIVATE;
	tomb_pgmap.range.start = tomb_res->start;
	tomb_pgmap.range.end = tomb_res->start + size - 1;
	tomb_pgmap.nr_range = 1;
	tomb_pgmap.ops = &hmmdev_tombstone_ops;
	tomb_pgmap.owner = &tomb_pgmap;		/* nobody's device */
	addr = memremap_pages(&tomb_pgmap, NUMA_NO_NODE);
	if (IS_ERR(addr)) {
		release_mem_region(tomb_res->start, size);
		goto fail;
	}
	tomb_first_pfn = tomb_res->start >> PAGE_SHIFT;
	return;
fail:
	tomb_res = NULL;
	pr_warn("hmmdev: no tombstone pages: lost device pages come back as hwpoison memory at remove\n");
}

/* Module unload: no tombstone is in use (each holds a module reference). */
void hmmdev_tombstone_exit(void)
{
	if (!tomb_res)
		return;
	memunmap_pages(&tomb_pgmap);
	release_mem_region(tomb_res->start, resource_size(tomb_res));
}
