// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: the device's coherence oracle (qemu-device/SPEC.rst,
 * "Coherence oracle").  The device checks every translation it uses
 * against the CPU page tables of the context's process; this file tells it
 * where they are and how this kernel encodes its device entries, tests the
 * device's decoder against entries this kernel makes (debugfs
 * oracle_selftest), and holds the seeded protocol bugs the oracle must
 * catch (debugfs seed_bug, for tests only).
 */
#include <linux/debugfs.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <linux/uaccess.h>

#include "hmmdev.h"

/* ORACLE_PROBE/ORACLE_DECODED are one pair per device: one user at a time */
static DEFINE_MUTEX(hmmdev_probe_lock);

static u32 hmmdev_swp_byte(unsigned int slot, int type)
{
	return type < 0 ? 0 : (HMMDEV_SWP_VALID | type) << (8 * slot);
}

/**
 * hmmdev_oracle_init() - tell the device this kernel's entry encoding
 * @hd: the device, its device memory set up
 *
 * Without CAPS.ORACLE (a device before 1.4) nothing is written and no
 * context is checked.
 */
void hmmdev_oracle_init(struct hmmdev *hd)
{
	if (!(hmmdev_rd32(hd, HMMDEV_REG_CAPS) & HMMDEV_CAP_ORACLE))
		return;
	hd->oracle = true;
	hmmdev_wr32(hd, HMMDEV_REG_ORACLE_SWP_TYPES,
		    hmmdev_swp_byte(HMMDEV_SWP_PRIVATE_WRITE, SWP_DEVICE_WRITE) |
		    hmmdev_swp_byte(HMMDEV_SWP_PRIVATE_READ, SWP_DEVICE_READ) |
		    hmmdev_swp_byte(HMMDEV_SWP_EXCLUSIVE_WRITE,
				    HMMDEV_SWP_EXCL_WRITE) |
		    hmmdev_swp_byte(HMMDEV_SWP_EXCLUSIVE_READ,
				    HMMDEV_SWP_EXCL_READ));
	if (hd->dm_pages && hd->pgmap.type == MEMORY_DEVICE_PRIVATE)
		writeq(hd->dm_first_pfn - (HMMDEV_DEVMEM_BASE >> PAGE_SHIFT),
		       hd->regs + HMMDEV_REG_ORACLE_PRIV_PFN);
}

/**
 * hmmdev_oracle_bind() - name @mm's CPU page tables for context @ctx
 * @hd: the device
 * @ctx: the context
 * @mm: the process it mirrors, or NULL: the context is checked no more
 */
void hmmdev_oracle_bind(struct hmmdev *hd, u16 ctx, struct mm_struct *mm)
{
	u64 root = 0;

	if (!hd->oracle)
		return;
#ifdef CONFIG_X86_64
	if (mm)
		root = __pa(mm->pgd) | (pgtable_l5_enabled() ? 5 : 4);
#endif
	writeq(root, hd->regs + HMMDEV_REG_CPU_ROOT + 8 * ctx);
}

/* ---- the decoder's self-test ---- */

struct hmmdev_probe_case {
	const char *name;
	pte_t pte;
	u64 want;		/* ORACLE_DECODED */
};

static u64 hmmdev_decoded(u64 kind, bool write, int type, unsigned long pfn)
{
	return kind | (write ? HMMDEV_CPU_WRITE : 0) |
	       (u64)type << HMMDEV_CPU_TYPE_SHIFT |
	       (u64)pfn << HMMDEV_CPU_PFN_SHIFT;
}

/* The entries this kernel makes for @pfn, and what each must decode to. */
static unsigned int hmmdev_probe_cases(unsigned long pfn,
				       struct hmmdev_probe_case *c)
{
	pte_t priv_w = swp_entry_to_pte(make_writable_device_private_entry(pfn));
	pte_t priv_r = swp_entry_to_pte(make_readable_device_private_entry(pfn));
	unsigned int n = 0;

	c[n++] = (struct hmmdev_probe_case) { "present, writable",
		pfn_pte(pfn, PAGE_SHARED),
		hmmdev_decoded(HMMDEV_CPU_PRESENT, true, 0, pfn) };
	c[n++] = (struct hmmdev_probe_case) { "present, read-only",
		pfn_pte(pfn, PAGE_READONLY),
		hmmdev_decoded(HMMDEV_CPU_PRESENT, false, 0, pfn) };
	c[n++] = (struct hmmdev_probe_case) { "PROT_NONE",
		pfn_pte(pfn, PAGE_NONE),
		hmmdev_decoded(HMMDEV_CPU_PROTNONE, false, 0, pfn) };
	c[n++] = (struct hmmdev_probe_case) { "empty", __pte(0),
		hmmdev_decoded(HMMDEV_CPU_NONE, false, 0, 0) };
	c[n++] = (struct hmmdev_probe_case) { "device-private, writable",
		priv_w, hmmdev_decoded(HMMDEV_CPU_PRIVATE, true,
				       SWP_DEVICE_WRITE, pfn) };
	c[n++] = (struct hmmdev_probe_case) { "device-private, read-only",
		priv_r, hmmdev_decoded(HMMDEV_CPU_PRIVATE, false,
				       SWP_DEVICE_READ, pfn) };
	c[n++] = (struct hmmdev_probe_case) {
		"device-private, soft-dirty",
		pte_swp_mksoft_dirty(priv_w),
		hmmdev_decoded(HMMDEV_CPU_PRIVATE, true, SWP_DEVICE_WRITE,
			       pfn) };
	c[n++] = (struct hmmdev_probe_case) { "device-exclusive, writable",
		swp_entry_to_pte(hmmdev_exclusive_entry(pfn)),
		hmmdev_decoded(HMMDEV_CPU_EXCLUSIVE, true,
			       HMMDEV_SWP_EXCL_WRITE, pfn) };
	c[n++] = (struct hmmdev_probe_case) { "migration, writable",
		swp_entry_to_pte(make_writable_migration_entry(pfn)),
		hmmdev_decoded(HMMDEV_CPU_SWAP, false, SWP_MIGRATION_WRITE,
			       pfn) };
	c[n++] = (struct hmmdev_probe_case) { "swap, exclusive",
		pte_swp_mkexclusive(swp_entry_to_pte(swp_entry(1, pfn))),
		hmmdev_decoded(HMMDEV_CPU_SWAP, false, 1, pfn) };
	return n;
}

#define HMMDEV_PROBE_CASES	10

static int hmmdev_oracle_selftest_show(struct seq_file *s, void *unused)
{
	struct hmmdev *hd = s->private;
	struct hmmdev_probe_case c[HMMDEV_PROBE_CASES];
	/* a RAM page, our first device page, a frame above 1 TiB */
	unsigned long pfns[] = { page_to_pfn(ZERO_PAGE(0)), hd->dm_first_pfn,
				 (1ul << 28) + 0x12345 };
	unsigned int i, j, n, checked = 0, wrong = 0;
	u64 got;

	if (!hd->oracle)
		return -EOPNOTSUPP;
	down_read(&hd->state_lock);
	if (hd->removed) {
		up_read(&hd->state_lock);
		return -ENODEV;
	}
	mutex_lock(&hmmdev_probe_lock);
	for (j = 0; j < ARRAY_SIZE(pfns); j++) {
		n = hmmdev_probe_cases(pfns[j], c);
		for (i = 0; i < n; i++) {
			writeq(pte_val(c[i].pte),
			       hd->regs + HMMDEV_REG_ORACLE_PROBE);
			got = hmmdev_rd64(hd, HMMDEV_REG_ORACLE_DECODED);
			checked++;
			wrong += got != c[i].want;
			seq_printf(s, "%s %s, pfn %#lx: entry %#llx decoded %#llx want %#llx\n",
				   got == c[i].want ? "ok" : "WRONG", c[i].name,
				   pfns[j], (u64)pte_val(c[i].pte), got,
				   c[i].want);
		}
	}
	mutex_unlock(&hmmdev_probe_lock);
	up_read(&hd->state_lock);
	seq_printf(s, "checked %u, wrong %u\n", checked, wrong);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hmmdev_oracle_selftest);

/* ---- seeded protocol bugs ---- */

static const char *const hmmdev_seed_names[] = {
	[HMMDEV_SEED_NONE] = "none",
	[HMMDEV_SEED_SKIP_INVALIDATE] = "skip-invalidate",
	[HMMDEV_SEED_SKIP_SYNC] = "skip-sync",
	[HMMDEV_SEED_WRITABLE] = "writable-always",
	[HMMDEV_SEED_OWN_MIGRATION] = "ignore-own-migration",
};

static int hmmdev_seed_show(struct seq_file *s, void *unused)
{
	struct hmmdev *hd = s->private;

	seq_printf(s, "%s\n", hmmdev_seed_names[READ_ONCE(hd->seed_bug)]);
	return 0;
}

static ssize_t hmmdev_seed_write(struct file *file, const char __user *ubuf,
				 size_t len, loff_t *ppos)
{
	struct hmmdev *hd = file_inode(file)->i_private;
	char buf[32];
	int i;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = 0;
	i = sysfs_match_string(hmmdev_seed_names, strim(buf));
	if (i < 0)
		return i;
	WRITE_ONCE(hd->seed_bug, i);
	if (i != HMMDEV_SEED_NONE)
		dev_warn(&hd->pdev->dev, "seeded protocol bug: %s\n",
			 hmmdev_seed_names[i]);
	return len;
}

static int hmmdev_seed_open(struct inode *inode, struct file *file)
{
	return single_open(file, hmmdev_seed_show, inode->i_private);
}

static const struct file_operations hmmdev_seed_fops = {
	.owner = THIS_MODULE,
	.open = hmmdev_seed_open,
	.read = seq_read,
	.write = hmmdev_seed_write,
	.llseek = seq_lseek,
	.release = single_release,
};

/* The oracle's debugfs files, in the device's directory. */
void hmmdev_oracle_debugfs(struct hmmdev *hd)
{
	debugfs_create_file("oracle_selftest", 0444, hd->debugfs, hd,
			    &hmmdev_oracle_selftest_fops);
	debugfs_create_file("seed_bug", 0600, hd->debugfs, hd,
			    &hmmdev_seed_fops);
}
