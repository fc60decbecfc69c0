// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev driver: device page tables in VRAM.
 *
 * The top eighth of VRAM is a pool of 4 KiB page-table pages, mapped
 * uncached and handed out by a bitmap allocator (pt_lock, a spinlock: it is
 * used inside invalidation callbacks, where nothing may allocate memory).
 * Table pages are freed when their context is destroyed, after the context
 * is disabled and invalidated: the device may walk a table at any time.
 * The one exception is an empty level-1 table where a 2 MiB leaf goes
 * (hmmdev_pt_retire()): it is unlinked first, and INVALIDATE + SYNC of its
 * 2 MiB then guarantee that no walk still reads it (SPEC.rst, "Invalidation
 * completion": an engine publishes its epoch from the walk on).
 *
 * Leaves map system-memory pages through the DMA API.  Removing leaves is
 * two-phase: hmmdev_pt_zap() clears VALID but keeps the address (the device
 * then sees "not present"), and after INVALIDATE + SYNC hmmdev_pt_reap()
 * unmaps the DMA addresses and clears the entries.  The page tables
 * themselves record what is left to unmap.
 *
 * Everything that changes a context's tables holds mirror->lock.
 */
#include <linux/bitmap.h>
#include <linux/dma-mapping.h>
#include <linux/io.h>

#include "hmmdev.h"

#define PT_PAGE		4096ull
#define PTE_ADDR(pte)	((pte) & HMMDEV_PTE_ADDR_MASK)

int hmmdev_pt_init(struct hmmdev *hd)
{
	struct device *dev = &hd->pdev->dev;

	spin_lock_init(&hd->pt_lock);
	hd->pt_size = hd->vram_size / 8;
	hd->pt_base = hd->vram_size - hd->pt_size;
	hd->raw_size = min_t(u64, hd->pt_base, HMMDEV_DEVMEM_BASE);
	hd->pt_virt = devm_ioremap(dev, hd->vram_phys + hd->pt_base, hd->pt_size);
	hd->pt_bitmap = devm_bitmap_zalloc(dev, hd->pt_size / PT_PAGE, GFP_KERNEL);
	return hd->pt_virt && hd->pt_bitmap ? 0 : -ENOMEM;
}

/* A zeroed table page (VRAM offset), or 0 when the pool is empty. */
u64 hmmdev_pt_alloc(struct hmmdev *hd)
{
	unsigned long n = hd->pt_size / PT_PAGE, bit;

	spin_lock(&hd->pt_lock);
	bit = find_first_zero_bit(hd->pt_bitmap, n);
	if (bit < n)
		__set_bit(bit, hd->pt_bitmap);
	spin_unlock(&hd->pt_lock);
	if (bit >= n)
		return 0;
	memset_io(hd->pt_virt + bit * PT_PAGE, 0, PT_PAGE);
	atomic_inc(&hd->pt_pages);
	return hd->pt_base + bit * PT_PAGE;
}

/* Table pages one mirror may hold: a quarter of the pool. */
static unsigned long hmmdev_pt_quota(struct hmmdev *hd)
{
	return max(hd->pt_size / PT_PAGE / 4, 4ull);
}

static void hmmdev_pt_free_page(struct hmmdev *hd, u64 table)
{
	spin_lock(&hd->pt_lock);
	__clear_bit((table - hd->pt_base) / PT_PAGE, hd->pt_bitmap);
	spin_unlock(&hd->pt_lock);
	atomic_dec(&hd->pt_pages);
}

static u64 __iomem *hmmdev_pte(struct hmmdev *hd, u64 table, unsigned int i)
{
	return hd->pt_virt + (table - hd->pt_base) + i * 8;
}

/*
 * An entry as read from VRAM, which a device can break: all-ones (a device
 * that fell off the bus reads so) is no entry, and a table entry must name
 * one of our table pages -- anything else is ignored (and said once), not
 * followed out of the pool.
 */
static u64 hmmdev_pt_read(struct hmmdev *hd, u64 __iomem *slot, int level)
{
	u64 pte = readq(slot), table = PTE_ADDR(pte);
	bool leaf = level == 1 || (level == 2 && (pte & HMMDEV_PTE_HUGE));

	if (pte == ~0ull)
		return 0;
	if (leaf || !(pte & HMMDEV_PTE_VALID))
		return pte;
	if (table >= hd->pt_base && table < hd->pt_base + hd->pt_size &&
	    !((table - hd->pt_base) % PT_PAGE) &&
	    test_bit((table - hd->pt_base) / PT_PAGE, hd->pt_bitmap))
		return pte;
	dev_err_once(&hd->pdev->dev, "page-table entry %#llx (level %d) names no table page of ours: ignored\n",
		     pte, level);
	return 0;
}

static unsigned int hmmdev_pt_index(u64 va, int level)
{
	return (va >> (12 + 9 * (level - 1))) & 511;
}

static u64 hmmdev_pt_span(int level)
{
	return 1ull << (12 + 9 * (level - 1));
}

/**
 * hmmdev_pt_lookup() - the leaf that maps @va, if any
 * @m: the mirror (lock held)
 * @va: virtual address
 *
 * Return: the leaf entry (VALID or zapped; HMMDEV_PTE_HUGE for a 2 MiB
 * leaf), or 0 when no leaf covers @va.
 */
u64 hmmdev_pt_lookup(struct hmmdev_mirror *m, u64 va)
{
	struct hmmdev *hd = m->hd;
	u64 table = m->root, pte = 0;
	int level;

	lockdep_assert_held(&m->lock);
	if (va >= HMMDEV_VA_LIMIT)
		return 0;
	hmmdev_bar_wait(hd);
	for (level = 4; level >= 1; level--) {
		pte = hmmdev_pt_read(hd, hmmdev_pte(hd, table,
						    hmmdev_pt_index(va, level)),
				     level);
		if (!(pte & HMMDEV_PTE_VALID) || level == 1 ||
		    (level == 2 && (pte & HMMDEV_PTE_HUGE)))
			break;
		table = PTE_ADDR(pte);
	}
	return level <= 2 ? pte : 0;
}

/*
 * A level-1 table where a 2 MiB leaf is to go: if none of its entries is in
 * use (all zapped and reaped), unlink it, make the device forget it and free
 * it.  Return: true when the slot is free now.
 */
static bool hmmdev_pt_retire(struct hmmdev_mirror *m, u64 va, u64 __iomem *slot,
			     u64 pte)
{
	struct hmmdev *hd = m->hd;
	u64 table = PTE_ADDR(pte);
	unsigned int i;

	for (i = 0; i < 512; i++)
		if (hmmdev_pt_read(hd, hmmdev_pte(hd, table, i), 1))
			return false;
	writeq(0, slot);
	if (hmmdev_invalidate(hd, m->ctx, ALIGN_DOWN(va, PMD_SIZE),
			      ALIGN_DOWN(va, PMD_SIZE) + PMD_SIZE)) {
		writeq(pte, slot);	/* the device may still read it */
		return false;
	}
	hmmdev_pt_free_page(hd, table);
	m->pt_pages--;
	return true;
}

/**
 * hmmdev_pt_map() - install a leaf
 * @m: the mirror (lock held)
 * @va: virtual address, aligned to the leaf size
 * @leaf: the entry (address | flags); HMMDEV_PTE_HUGE for a 2 MiB leaf
 * @replaced: out: a leaf for the same address was there (the caller's
 *	new DMA mapping is then redundant)
 *
 * A leaf already present for the same address is replaced (a permission
 * upgrade); the caller never replaces a leaf that maps another page (the
 * invalidation callback removed it first).  A 2 MiB leaf replaces a table
 * of 4 KiB leaves none of which is in use (hmmdev_pt_retire(): an
 * INVALIDATE + SYNC, so it may sleep); where one is in use it is refused
 * with -EEXIST.
 *
 * Return: 0, -ENOMEM (no table page left, or the mirror holds its quota
 * of them: hmmdev_pt_quota()), -EFAULT (@va beyond the
 * device's 48-bit address space) or -EEXIST (also for a leaf that maps
 * another page: the CPU side changed without an invalidation reaching us,
 * which the notifier protocol rules out).
 */
int hmmdev_pt_map(struct hmmdev_mirror *m, u64 va, u64 leaf, bool *replaced)
{
	struct hmmdev *hd = m->hd;
	int target = leaf & HMMDEV_PTE_HUGE ? 2 : 1, level;
	u64 table = m->root, pte, next;
	u64 __iomem *slot;

	lockdep_assert_held(&m->lock);
	/* the table index would wrap: 2^48 + x is not x */
	if (va >= HMMDEV_VA_LIMIT)
		return -EFAULT;
	if (!hmmdev_bar_wait(hd))
		return -EIO;
	for (level = 4; level > target; level--) {
		slot = hmmdev_pte(hd, table, hmmdev_pt_index(va, level));
		pte = hmmdev_pt_read(hd, slot, level);
		if (pte & HMMDEV_PTE_HUGE)
			return -EEXIST;
		if (!(pte & HMMDEV_PTE_VALID)) {
			if (m->pt_pages >= hmmdev_pt_quota(hd))
				return -ENOMEM;
			next = hmmdev_pt_alloc(hd);
			if (!next)
				return -ENOMEM;
			m->pt_pages++;
			pte = next | HMMDEV_PTE_VALID;
			writeq(pte, slot);
		}
		table = PTE_ADDR(pte);
	}
	slot = hmmdev_pte(hd, table, hmmdev_pt_index(va, target));
	pte = hmmdev_pt_read(hd, slot, target);
	if (target == 2 && (pte & HMMDEV_PTE_VALID) && !(pte & HMMDEV_PTE_HUGE)) {
		/* a table of 4 KiB leaves */
		if (!hmmdev_pt_retire(m, va, slot, pte))
			return -EEXIST;
		pte = 0;
	}
	*replaced = pte & HMMDEV_PTE_VALID;
	if (*replaced && (PTE_ADDR(pte) != PTE_ADDR(leaf) ||
			  (pte & HMMDEV_PTE_HUGE) != (leaf & HMMDEV_PTE_HUGE))) {
		dev_warn_ratelimited(&hd->pdev->dev,
				     "ctx %u va %#llx: leaf %#llx already maps another page\n",
				     m->ctx, va, pte);
		return -EEXIST;
	}
	writeq(leaf, slot);
	return 0;
}

enum hmmdev_pt_op { PT_ZAP, PT_REAP, PT_ANY, PT_ANY_ATOMIC };

/* Walk [start, end) of the tree under @table; returns the leaves seen. */
static unsigned long hmmdev_pt_walk(struct hmmdev_mirror *m, u64 table,
				    int level, u64 base, u64 start, u64 end,
				    enum hmmdev_pt_op op)
{
	struct hmmdev *hd = m->hd;
	u64 span = hmmdev_pt_span(level), va, pte;
	unsigned long seen = 0;
	unsigned int i;

	for (i = hmmdev_pt_index(max(start, base), level); i < 512; i++) {
		u64 __iomem *slot = hmmdev_pte(hd, table, i);
		bool leaf;

		va = base + i * span;
		if (va >= end)
			break;
		pte = hmmdev_pt_read(hd, slot, level);
		leaf = level == 1 || (level == 2 && (pte & HMMDEV_PTE_HUGE));
		if (!leaf) {
			if (pte & HMMDEV_PTE_VALID)
				seen += hmmdev_pt_walk(m, PTE_ADDR(pte), level - 1,
						       va, start, end, op);
			continue;
		}
		if (op == PT_ANY) {
			seen += !!(pte & HMMDEV_PTE_VALID);
		} else if (op == PT_ANY_ATOMIC) {
			seen += (pte & (HMMDEV_PTE_VALID | HMMDEV_PTE_ATOMIC)) ==
				(HMMDEV_PTE_VALID | HMMDEV_PTE_ATOMIC);
		} else if (op == PT_ZAP && (pte & HMMDEV_PTE_VALID)) {
			writeq(pte & ~HMMDEV_PTE_VALID, slot);
			seen++;
		} else if (op == PT_REAP && !(pte & HMMDEV_PTE_VALID) &&
			   PTE_ADDR(pte)) {
			if (!(pte & HMMDEV_PTE_VRAM))
				dma_unmap_page(&hd->pdev->dev, PTE_ADDR(pte),
					       hmmdev_pt_span(level),
					       DMA_BIDIRECTIONAL);
			writeq(0, slot);
			seen++;
		}
	}
	return seen;
}

/*
 * The walk of [start, end) clipped to the device's address space: an
 * address at or above HMMDEV_VA_LIMIT (a 5-level guest) would wrap in the
 * table index onto the low addresses.
 */
static unsigned long hmmdev_pt_range(struct hmmdev_mirror *m, u64 start,
				     u64 end, enum hmmdev_pt_op op)
{
	if (start >= HMMDEV_VA_LIMIT || start >= end)
		return 0;
	/* a reset's window: "any" may not sleep -- say yes, ask again */
	if ((op == PT_ANY || op == PT_ANY_ATOMIC) && READ_ONCE(m->hd->bar_off))
		return 1;
	if (op != PT_ANY && op != PT_ANY_ATOMIC)
		hmmdev_bar_wait(m->hd);
	return hmmdev_pt_walk(m, m->root, 4, 0, start,
			      min(end, HMMDEV_VA_LIMIT), op);
}

/* Clear VALID on the leaves in [start, end); returns how many. */
unsigned long hmmdev_pt_zap(struct hmmdev_mirror *m, u64 start, u64 end)
{
	lockdep_assert_held(&m->lock);
	return hmmdev_pt_range(m, start, end, PT_ZAP);
}

/* After INVALIDATE + SYNC: unmap and clear the zapped leaves. */
void hmmdev_pt_reap(struct hmmdev_mirror *m, u64 start, u64 end)
{
	lockdep_assert_held(&m->lock);
	hmmdev_pt_range(m, start, end, PT_REAP);
}

/* Any valid leaf in [start, end)?  (No sleeping, no allocation.) */
bool hmmdev_pt_any(struct hmmdev_mirror *m, u64 start, u64 end)
{
	return hmmdev_pt_range(m, start, end, PT_ANY) > 0;
}

/* Any valid leaf with ATOMIC (exclusive access) in [start, end)? */
bool hmmdev_pt_any_atomic(struct hmmdev_mirror *m, u64 start, u64 end)
{
	return hmmdev_pt_range(m, start, end, PT_ANY_ATOMIC) > 0;
}

static void hmmdev_pt_free_tree(struct hmmdev *hd, u64 table, int level)
{
	unsigned int i;
	u64 pte;

	for (i = 0; level > 1 && i < 512; i++) {
		pte = hmmdev_pt_read(hd, hmmdev_pte(hd, table, i), level);
		if ((pte & HMMDEV_PTE_VALID) && !(pte & HMMDEV_PTE_HUGE))
			hmmdev_pt_free_tree(hd, PTE_ADDR(pte), level - 1);
	}
	hmmdev_pt_free_page(hd, table);
}

/* The context is disabled, invalidated and reaped: free its tables. */
void hmmdev_pt_destroy(struct hmmdev_mirror *m)
{
	hmmdev_bar_wait(m->hd);
	hmmdev_pt_free_tree(m->hd, m->root, 4);
	m->pt_pages = 0;
	m->root = 0;
}
