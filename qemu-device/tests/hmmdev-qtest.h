/*
 * Helpers shared by the hmmdev qtests: start a q35 machine with one
 * hmmdev, map its BARs, route its MSI-X vectors into guest memory, drive
 * the job ring, the command queue and the fault queue.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HMMDEV_QTEST_H
#define HMMDEV_QTEST_H

#include "libqtest.h"
#include "libqos/libqos-pc.h"
#include "libqos/pci-pc.h"
#include "hw/pci/pci_regs.h"
#include "qobject/qdict.h"
#include "qemu/bswap.h"
#include "hw/misc/hmmdev/hmmdev-hw.h"

#define VRAM_SIZE       (16 * 1024 * 1024)
#define RING_ENTRIES    16
#define TIMEOUT_US      (20 * 1000 * 1000)

typedef struct Hmm {
    QOSState *qs;
    QTestState *qts;
    QPCIDevice *dev;
    QPCIBar bar0;
    QPCIBar bar2;
    uint64_t ring;
    uint32_t tail;
    uint64_t msi;           /* MSI-X vector v writes (v + 1) at msi + 4 * v */
    uint64_t comp;          /* RING_ENTRIES completion records */
    uint64_t cq;            /* command ring */
    uint32_t cq_tail;
    uint64_t fq;            /* fault ring */
    uint32_t fq_entries;
    uint32_t fq_head;
    uint64_t fence_addr;
    uint64_t fence;
} Hmm;

#define CQ_ENTRIES      64

static G_GNUC_UNUSED uint32_t rd32(Hmm *h, uint64_t off)
{
    return qpci_io_readl(h->dev, h->bar0, off);
}

static G_GNUC_UNUSED uint64_t rd64(Hmm *h, uint64_t off)
{
    return qpci_io_readq(h->dev, h->bar0, off);
}

static G_GNUC_UNUSED void wr32(Hmm *h, uint64_t off, uint32_t val)
{
    qpci_io_writel(h->dev, h->bar0, off, val);
}

static G_GNUC_UNUSED uint64_t qom_get_u64(Hmm *h, const char *property)
{
    QDict *r = qtest_qmp(h->qts, "{ 'execute': 'qom-get', 'arguments': "
                         "{ 'path': '/machine/peripheral/hd0', "
                         "'property': %s } }", property);
    uint64_t val;

    g_assert(qdict_haskey(r, "return"));
    val = qdict_get_int(r, "return");
    qobject_unref(r);
    return val;
}

static G_GNUC_UNUSED void qom_set_u32(Hmm *h, const char *property,
                                      uint32_t val)
{
    QDict *r = qtest_qmp(h->qts, "{ 'execute': 'qom-set', 'arguments': "
                         "{ 'path': '/machine/peripheral/hd0', "
                         "'property': %s, 'value': %u } }", property, val);

    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
}

static G_GNUC_UNUSED void qom_set_u64(Hmm *h, const char *property,
                                      uint64_t val)
{
    QDict *r = qtest_qmp(h->qts, "{ 'execute': 'qom-set', 'arguments': "
                         "{ 'path': '/machine/peripheral/hd0', "
                         "'property': %s, 'value': %" PRIu64 " } }",
                         property, val);

    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
}

static G_GNUC_UNUSED void msix_setup(Hmm *h)
{
    int v;

    qpci_msix_enable(h->dev);
    h->msi = guest_alloc(&h->qs->alloc, 4 * HMMDEV_MSIX_VECTORS);
    qtest_memset(h->qts, h->msi, 0, 4 * HMMDEV_MSIX_VECTORS);
    for (v = 0; v < HMMDEV_MSIX_VECTORS; v++) {
        uint64_t off = h->dev->msix_table_off + v * PCI_MSIX_ENTRY_SIZE;

        qpci_io_writel(h->dev, h->dev->msix_table_bar,
                       off + PCI_MSIX_ENTRY_LOWER_ADDR, h->msi + 4 * v);
        qpci_io_writel(h->dev, h->dev->msix_table_bar,
                       off + PCI_MSIX_ENTRY_UPPER_ADDR, 0);
        qpci_io_writel(h->dev, h->dev->msix_table_bar,
                       off + PCI_MSIX_ENTRY_DATA, v + 1);
        qpci_io_writel(h->dev, h->dev->msix_table_bar,
                       off + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
    }
}

/* Wait until vector @v fired (its message landed in memory); clear it. */
/* Vector @v's message within @us (consumed), or false. */
static G_GNUC_UNUSED bool msix_wait_us(Hmm *h, int v, gint64 us)
{
    gint64 end = g_get_monotonic_time() + us;

    while (qtest_readl(h->qts, h->msi + 4 * v) != (uint32_t)(v + 1)) {
        if (g_get_monotonic_time() > end) {
            return false;
        }
        g_usleep(100);
    }
    qtest_writel(h->qts, h->msi + 4 * v, 0);
    return true;
}

static G_GNUC_UNUSED bool msix_wait(Hmm *h, int v)
{
    return msix_wait_us(h, v, TIMEOUT_US);
}

static G_GNUC_UNUSED uint64_t counter(Hmm *h, int i)
{
    return rd64(h, HMMDEV_REG_COUNTERS + 8 * i);
}

static G_GNUC_UNUSED void hmm_start(Hmm *h, const char *extra)
{
    memset(h, 0, sizeof(*h));
    h->qs = qtest_pc_boot("-M q35 -nodefaults -device hmmdev,id=hd0,addr=04.0,"
                          "vram-size=%d%s", VRAM_SIZE, extra ? extra : "");
    h->qts = h->qs->qts;
    h->dev = qpci_device_find(h->qs->pcibus, QPCI_DEVFN(4, 0));
    g_assert(h->dev);
    qpci_device_enable(h->dev);
    h->bar0 = qpci_iomap(h->dev, HMMDEV_BAR_REGS, NULL);
    h->bar2 = qpci_iomap(h->dev, HMMDEV_BAR_VRAM, NULL);
    msix_setup(h);
}

static G_GNUC_UNUSED void ring_setup(Hmm *h)
{
    h->ring = guest_alloc(&h->qs->alloc, RING_ENTRIES * HMMDEV_JOB_DESC_SIZE);
    g_assert_cmpint(h->ring % HMMDEV_JOB_DESC_SIZE, ==, 0);
    h->comp = guest_alloc(&h->qs->alloc, RING_ENTRIES * 32);
    g_assert_cmpint(h->comp % 32, ==, 0);
    qpci_io_writeq(h->dev, h->bar0, HMMDEV_REG_JQ_BASE, h->ring);
    wr32(h, HMMDEV_REG_JQ_ENTRIES, RING_ENTRIES);
    wr32(h, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE);
    g_assert_cmphex(rd32(h, HMMDEV_REG_STATUS) & HMMDEV_STATUS_ENABLED, ==,
                    HMMDEV_STATUS_ENABLED);
    h->tail = 0;
}

static G_GNUC_UNUSED void hmm_stop(Hmm *h)
{
    g_free(h->dev);
    qtest_shutdown(h->qs);
}

/* Queue one job in @ctx; returns the address of its completion record. */
static G_GNUC_UNUSED uint64_t submit_ctx(Hmm *h, uint8_t op, uint8_t flags,
                                         uint16_t ctx, uint64_t src,
                                         uint64_t dst, uint64_t len,
                                         uint64_t value)
{
    uint32_t index = h->tail;
    uint64_t slot = h->ring + index * HMMDEV_JOB_DESC_SIZE;
    uint64_t comp = h->comp + index * 32;
    HmmdevJobDesc d = {
        .opcode = op,
        .flags = flags | HMMDEV_JOB_IRQ,
        .context = cpu_to_le16(ctx),
        .src = cpu_to_le64(src),
        .dst = cpu_to_le64(dst),
        .length = cpu_to_le64(len),
        .value = cpu_to_le64(value),
        .completion = cpu_to_le64(comp),
        .fence = cpu_to_le64(0x1000 + index),
    };

    qtest_memset(h->qts, comp, 0xff, 32);
    qtest_memwrite(h->qts, slot, &d, sizeof(d));
    h->tail = (index + 1) % RING_ENTRIES;
    wr32(h, HMMDEV_REG_JQ_TAIL, h->tail);
    return comp;
}

/* Queue one physical job (context 0). */
static G_GNUC_UNUSED uint64_t submit(Hmm *h, uint8_t op, uint8_t flags,
                                     uint64_t src, uint64_t dst, uint64_t len,
                                     uint64_t value)
{
    return submit_ctx(h, op, flags, 0, src, dst, len, value);
}

/* The record at @comp, once written (status != 0xffffffff), or false. */
static G_GNUC_UNUSED bool job_done(Hmm *h, uint64_t comp, HmmdevCompletion *c)
{
    qtest_memread(h->qts, comp, c, sizeof(*c));
    return c->status != 0xffffffffu;
}

/* Wait for the completion record at @comp; returns its status. */
static G_GNUC_UNUSED uint32_t wait_job(Hmm *h, uint64_t comp)
{
    gint64 end = g_get_monotonic_time() + TIMEOUT_US;
    HmmdevCompletion c;

    do {
        if (job_done(h, comp, &c)) {
            g_assert_cmphex(le64_to_cpu(c.fence), ==,
                            0x1000 + (comp - h->comp) / 32);
            g_assert_true(msix_wait(h, HMMDEV_VEC_JOB));
            return le32_to_cpu(c.status);
        }
        g_usleep(100);
    } while (g_get_monotonic_time() < end);
    g_assert_not_reached();
}

/* Command queue, fault queue (with @fq_entries slots), all three enabled. */
static G_GNUC_UNUSED void queues_setup(Hmm *h, uint32_t fq_entries)
{
    h->cq = guest_alloc(&h->qs->alloc, CQ_ENTRIES * HMMDEV_CMD_SIZE);
    h->fq = guest_alloc(&h->qs->alloc, fq_entries * HMMDEV_FAULT_SIZE);
    h->fence_addr = guest_alloc(&h->qs->alloc, 8);
    h->fq_entries = fq_entries;
    h->cq_tail = h->fq_head = 0;
    qpci_io_writeq(h->dev, h->bar0, HMMDEV_REG_CQ_BASE, h->cq);
    wr32(h, HMMDEV_REG_CQ_ENTRIES, CQ_ENTRIES);
    qpci_io_writeq(h->dev, h->bar0, HMMDEV_REG_FQ_BASE, h->fq);
    wr32(h, HMMDEV_REG_FQ_ENTRIES, fq_entries);
    wr32(h, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE | HMMDEV_CTRL_CQ_ENABLE |
         HMMDEV_CTRL_FQ_ENABLE);
    g_assert_cmphex(rd32(h, HMMDEV_REG_STATUS) &
                    (HMMDEV_STATUS_CQ_ENABLED | HMMDEV_STATUS_FQ_ENABLED), ==,
                    HMMDEV_STATUS_CQ_ENABLED | HMMDEV_STATUS_FQ_ENABLED);
}

static G_GNUC_UNUSED void command(Hmm *h, uint8_t op, uint8_t flags,
                                  uint16_t ctx, uint64_t arg0, uint64_t arg1)
{
    HmmdevCommand c = {
        .opcode = op,
        .flags = flags,
        .context = cpu_to_le16(ctx),
        .arg0 = cpu_to_le64(arg0),
        .arg1 = cpu_to_le64(arg1),
    };

    qtest_memwrite(h->qts, h->cq + h->cq_tail * HMMDEV_CMD_SIZE, &c,
                   sizeof(c));
    h->cq_tail = (h->cq_tail + 1) % CQ_ENTRIES;
    wr32(h, HMMDEV_REG_CQ_TAIL, h->cq_tail);
}

/* SYNC and wait for its fence; false on timeout. */
static G_GNUC_UNUSED bool sync_wait(Hmm *h)
{
    gint64 end = g_get_monotonic_time() + TIMEOUT_US;
    uint64_t want = ++h->fence;

    command(h, HMMDEV_CMD_SYNC, 0, 0, h->fence_addr, want);
    while (qtest_readq(h->qts, h->fence_addr) != want) {
        if (g_get_monotonic_time() > end) {
            return false;
        }
        g_usleep(50);
    }
    return true;
}

static G_GNUC_UNUSED void invalidate(Hmm *h, uint16_t ctx, uint64_t va,
                                     uint64_t len)
{
    command(h, HMMDEV_CMD_INVALIDATE, 0, ctx, va, len);
    g_assert_true(sync_wait(h));
}

/* The next fault record, consumed; false when none came in time. */
static G_GNUC_UNUSED bool fault_wait(Hmm *h, HmmdevFault *f)
{
    gint64 end = g_get_monotonic_time() + TIMEOUT_US;

    while (rd32(h, HMMDEV_REG_FQ_TAIL) == h->fq_head) {
        if (g_get_monotonic_time() > end) {
            return false;
        }
        g_usleep(50);
    }
    qtest_memread(h->qts, h->fq + h->fq_head * HMMDEV_FAULT_SIZE, f,
                  sizeof(*f));
    h->fq_head = (h->fq_head + 1) % h->fq_entries;
    wr32(h, HMMDEV_REG_FQ_HEAD, h->fq_head);
    return true;
}

static G_GNUC_UNUSED void respond(Hmm *h, uint32_t id, int action)
{
    command(h, HMMDEV_CMD_RESPOND, 0, 0, id, action);
}

/*
 * Page tables, built in a host-side shadow of a VRAM area and written to
 * VRAM through BAR2 by pt_flush().
 */
#define PT_BASE         (8 * 1024 * 1024)
#define PT_AREA         (4 * 1024 * 1024)

typedef struct PageTables {
    uint64_t *shadow;
    uint64_t used;
    uint64_t root;              /* VRAM offset */
} PageTables;

static G_GNUC_UNUSED uint64_t pt_alloc(PageTables *pt)
{
    uint64_t off = PT_BASE + pt->used;

    g_assert_cmpuint(pt->used + 4096, <=, PT_AREA);
    pt->used += 4096;
    return off;
}

static G_GNUC_UNUSED void pt_init(PageTables *pt)
{
    pt->shadow = g_malloc0(PT_AREA);
    pt->used = 0;
    pt->root = pt_alloc(pt);
}

/* The slot of the entry for @va at @level, allocating tables above it. */
static G_GNUC_UNUSED uint64_t *pt_slot(PageTables *pt, uint64_t va, int level)
{
    uint64_t table = pt->root;
    int l;

    for (l = 4; ; l--) {
        uint64_t *slot = &pt->shadow[(table - PT_BASE) / 8 +
                                     ((va >> (12 + 9 * (l - 1))) & 511)];

        if (l == level) {
            return slot;
        }
        if (!(*slot & HMMDEV_PTE_VALID)) {
            *slot = pt_alloc(pt) | HMMDEV_PTE_VALID;
        }
        table = *slot & HMMDEV_PTE_ADDR_MASK;
    }
}

/* Map a 4 KiB page (or a 2 MiB one when @pte has HMMDEV_PTE_HUGE). */
static G_GNUC_UNUSED void pt_map(PageTables *pt, uint64_t va, uint64_t pte)
{
    *pt_slot(pt, va, pte & HMMDEV_PTE_HUGE ? 2 : 1) = pte;
}

static G_GNUC_UNUSED void pt_flush(Hmm *h, PageTables *pt)
{
    qpci_memwrite(h->dev, h->bar2, PT_BASE, pt->shadow, pt->used);
}

static G_GNUC_UNUSED uint64_t pt_read(Hmm *h, PageTables *pt, uint64_t va,
                                      int level)
{
    uint64_t *slot = pt_slot(pt, va, level);
    uint64_t off = PT_BASE + (slot - pt->shadow) * 8;

    return qpci_io_readq(h->dev, h->bar2, off);
}

static G_GNUC_UNUSED void ctx_enable(Hmm *h, unsigned ctx, uint64_t root)
{
    uint64_t reg = HMMDEV_REG_CTX_BASE + ctx * HMMDEV_CTX_STRIDE;

    qpci_io_writeq(h->dev, h->bar0, reg + HMMDEV_CTX_ROOT, root);
    wr32(h, reg + HMMDEV_CTX_CTRL, 1);
}

#endif
