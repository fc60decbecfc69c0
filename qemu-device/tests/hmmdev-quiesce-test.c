/*
 * QTest for hmmdev's lifetime rules: reset, VM stop, bus mastering turned
 * off and hot-unplug behind a PCIe root port, each in the middle of a
 * running job; migration refused; the details SPEC.rst promises about
 * reserved registers, commands, contexts and counters; fault injection.
 * Rings, records and job data in a ram_device region (tpm-crb's PPI page,
 * with QEMU's TPM emulator for qtests behind it) fail cleanly.
 *
 * "Nothing happens after X" is checked by watching for a while (WATCH_US)
 * after X completed: an engine that kept going would move bytes, records,
 * counters or interrupts in that window.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <glib/gstdio.h>
#include "qemu/module.h"
#include "hmmdev-qtest.h"
#include "hw/pci/pcie_regs.h"
#include "hw/acpi/tpm.h"
#include "tpm-emu.h"

#define CTX         3
#define VA          0x7f0000000000ull
#define PAGES       256
#define LEN         (PAGES * 4096)
#define DELAY_US    2000            /* per translation: a slow job */
#define WATCH_US    (200 * 1000)

/* A COPY job of LEN bytes through CTX, each 4 KiB page translated slowly */
typedef struct SlowJob {
    uint64_t src;
    uint64_t dst;
    uint64_t comp;
} SlowJob;

/* What a running engine changes: the observable state of the device. */
typedef struct Snapshot {
    uint64_t bytes;
    uint64_t walks;
    uint8_t *dst;
    HmmdevCompletion comp;
    uint32_t msi[HMMDEV_MSIX_VECTORS];
} Snapshot;

static void slow_job_start_us(Hmm *h, PageTables *pt, SlowJob *j,
                              uint32_t us)
{
    int i;

    j->src = guest_alloc(&h->qs->alloc, LEN);
    j->dst = guest_alloc(&h->qs->alloc, LEN);
    for (i = 0; i < PAGES; i++) {
        qtest_memset(h->qts, j->src + i * 4096, 0x40 + i, 4096);
        pt_map(pt, VA + i * 4096, (j->src + i * 4096) | HMMDEV_PTE_VALID);
    }
    qtest_memset(h->qts, j->dst, 0, LEN);
    pt_flush(h, pt);
    ctx_enable(h, CTX, pt->root);
    qom_set_u32(h, "x-inject-xlate-delay-us", us);
    j->comp = submit_ctx(h, HMMDEV_OP_COPY, HMMDEV_JOB_SRC_VA, CTX, VA,
                         j->dst, LEN, 0);
    /* running: translating, far from done */
    while (qom_get_u64(h, "stat-walks") == 0) {
        g_usleep(100);
    }
    g_assert_cmpuint(qom_get_u64(h, "stat-bytes"), <, LEN / 2);
}

static void slow_job_start(Hmm *h, PageTables *pt, SlowJob *j)
{
    slow_job_start_us(h, pt, j, DELAY_US);
    while (qom_get_u64(h, "stat-bytes") == 0) {
        g_usleep(100);
    }
}

static void snap(Hmm *h, SlowJob *j, Snapshot *s)
{
    s->bytes = qom_get_u64(h, "stat-bytes");
    s->walks = qom_get_u64(h, "stat-walks");
    s->dst = g_malloc(LEN);
    qtest_memread(h->qts, j->dst, s->dst, LEN);
    qtest_memread(h->qts, j->comp, &s->comp, sizeof(s->comp));
    qtest_memread(h->qts, h->msi, s->msi, sizeof(s->msi));
}

/* Watch for WATCH_US: nothing the engines write may change. */
static void assert_still(Hmm *h, SlowJob *j)
{
    Snapshot a, b;

    snap(h, j, &a);
    g_usleep(WATCH_US);
    snap(h, j, &b);
    g_assert_cmpuint(a.bytes, ==, b.bytes);
    g_assert_cmpuint(a.walks, ==, b.walks);
    g_assert_cmpint(memcmp(a.dst, b.dst, LEN), ==, 0);
    g_assert_cmpint(memcmp(&a.comp, &b.comp, sizeof(a.comp)), ==, 0);
    g_assert_cmpint(memcmp(a.msi, b.msi, sizeof(a.msi)), ==, 0);
    g_free(a.dst);
    g_free(b.dst);
}

static void setup_with(Hmm *h, PageTables *pt, const char *extra)
{
    hmm_start(h, extra);
    ring_setup(h);
    queues_setup(h, 16);
    pt_init(pt);
}

static void setup(Hmm *h, PageTables *pt)
{
    setup_with(h, pt, NULL);
}

static void teardown(Hmm *h, PageTables *pt)
{
    g_free(pt->shadow);
    hmm_stop(h);
}

/* CTRL.RESET mid-job: when the write returns, the engines are quiet. */
static void test_reset_mid_job(void)
{
    Hmm h;
    PageTables pt;
    SlowJob j;
    HmmdevCompletion c;

    setup(&h, &pt);
    slow_job_start(&h, &pt, &j);
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_RESET);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_STATUS), ==, 0);
    assert_still(&h, &j);
    g_assert_false(job_done(&h, j.comp, &c));
    /* and the device works again */
    ring_setup(&h);
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_NOP, 0, 0, 0, 0, 0)),
                     ==, HMMDEV_JOB_OK);
    teardown(&h, &pt);
}

/*
 * The same through the system reset (Resettable), with an engine in the
 * middle of a 100 ms translation delay: its piece must not land later.
 */
static void test_system_reset_mid_job(void)
{
    Hmm h;
    PageTables pt;
    SlowJob j;
    HmmdevCompletion c;

    setup(&h, &pt);
    slow_job_start_us(&h, &pt, &j, 100 * 1000);
    qtest_system_reset(h.qts);
    g_assert_cmpuint(qom_get_u64(&h, "stat-resets"), >=, 1);
    assert_still(&h, &j);
    g_assert_false(job_done(&h, j.comp, &c));
    teardown(&h, &pt);
}

static void qmp_ok(Hmm *h, const char *cmd)
{
    QDict *r = qtest_qmp(h->qts, "{ 'execute': %s }", cmd);

    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
}

/* stop: no DMA, no interrupt while stopped; cont: the job completes. */
static void test_stop_cont(void)
{
    Hmm h;
    PageTables pt;
    SlowJob j;
    uint8_t *want = g_malloc(LEN), *got = g_malloc(LEN);

    setup(&h, &pt);
    slow_job_start(&h, &pt, &j);
    qmp_ok(&h, "stop");
    assert_still(&h, &j);
    qmp_ok(&h, "cont");
    qom_set_u32(&h, "x-inject-xlate-delay-us", 0);
    g_assert_cmpuint(wait_job(&h, j.comp), ==, HMMDEV_JOB_OK);
    qtest_memread(h.qts, j.src, want, LEN);
    qtest_memread(h.qts, j.dst, got, LEN);
    g_assert_cmpint(memcmp(want, got, LEN), ==, 0);
    g_free(want);
    g_free(got);
    teardown(&h, &pt);
}

/* Bus mastering off mid-job: no access after the config write returns. */
static void test_bus_master_off(void)
{
    Hmm h;
    PageTables pt;
    SlowJob j;
    uint16_t cmd;
    gint64 end = g_get_monotonic_time() + TIMEOUT_US;

    setup(&h, &pt);
    slow_job_start(&h, &pt, &j);
    cmd = qpci_config_readw(h.dev, PCI_COMMAND);
    qpci_config_writew(h.dev, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
    assert_still(&h, &j);
    /* the job ends (DMA error), its record cannot be written: an error */
    qom_set_u32(&h, "x-inject-xlate-delay-us", 0);
    while (rd32(&h, HMMDEV_REG_STATUS) & HMMDEV_STATUS_BUSY) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(100);
    }
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==,
                     HMMDEV_ERR_COMPLETION);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_DMA_ERRORS), ==, 1);
    qpci_config_writew(h.dev, PCI_COMMAND, cmd);
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_NOP, 0, 0, 0, 0, 0)),
                     ==, HMMDEV_JOB_OK);
    teardown(&h, &pt);
}

/*
 * hmmdev behind a pcie-root-port (bus 1), its BARs placed by hand in the
 * port's windows: libqos enumerates bus 0 only.
 */
#define RP_DEVFN    QPCI_DEVFN(5, 0)
#define MMIO_BASE   0xe0000000ull   /* BAR0 and BAR4, 1 MiB window */
#define PREF_BASE   0xe1000000ull   /* BAR2 (VRAM), 16 MiB window */

static QPCIDevice *unplug_setup(Hmm *h)
{
    QPCIDevice *rp;

    memset(h, 0, sizeof(*h));
    h->qs = qtest_pc_boot("-M q35 -nodefaults "
                          /* native PCIe hotplug, not ACPI's */
                          "-global ICH9-LPC.acpi-pci-hotplug-with-bridge-"
                          "support=off "
                          "-device pcie-root-port,id=rp0,chassis=1,addr=05.0 "
                          "-device hmmdev,id=hd0,bus=rp0,vram-size=%d",
                          VRAM_SIZE);
    h->qts = h->qs->qts;
    rp = qpci_device_find(h->qs->pcibus, RP_DEVFN);
    g_assert(rp);
    qpci_config_writeb(rp, PCI_PRIMARY_BUS, 0);
    qpci_config_writeb(rp, PCI_SECONDARY_BUS, 1);
    qpci_config_writeb(rp, PCI_SUBORDINATE_BUS, 1);
    qpci_config_writew(rp, PCI_MEMORY_BASE, MMIO_BASE >> 16);
    qpci_config_writew(rp, PCI_MEMORY_LIMIT, (MMIO_BASE + 0xfffff) >> 16);
    qpci_config_writew(rp, PCI_PREF_MEMORY_BASE, PREF_BASE >> 16);
    qpci_config_writew(rp, PCI_PREF_MEMORY_LIMIT,
                       (PREF_BASE + VRAM_SIZE - 1) >> 16);
    qpci_config_writel(rp, PCI_PREF_BASE_UPPER32, 0);
    qpci_config_writel(rp, PCI_PREF_LIMIT_UPPER32, 0);
    qpci_config_writew(rp, PCI_COMMAND,
                       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);

    /* bus 1, device 0: the config cycle's devfn carries the bus number */
    h->dev = g_new0(QPCIDevice, 1);
    h->dev->bus = h->qs->pcibus;
    h->dev->devfn = 1 << 8;
    g_assert_cmphex(qpci_config_readw(h->dev, PCI_DEVICE_ID), ==,
                    HMMDEV_DEVICE_ID);
    qpci_config_writel(h->dev, PCI_BASE_ADDRESS_0, MMIO_BASE);
    qpci_config_writel(h->dev, PCI_BASE_ADDRESS_2, PREF_BASE);
    qpci_config_writel(h->dev, PCI_BASE_ADDRESS_3, 0);
    qpci_config_writew(h->dev, PCI_COMMAND,
                       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    h->bar0 = (QPCIBar) { .addr = MMIO_BASE };
    h->bar2 = (QPCIBar) { .addr = PREF_BASE };
    g_assert_cmphex(rd32(h, HMMDEV_REG_ID), ==, HMMDEV_ID_MAGIC);
    return rp;
}

/* device_del, then the guest powers the slot off (as pciehp does). */
static double unplug(Hmm *h, QPCIDevice *rp)
{
    uint8_t cap = qpci_find_capability(rp, PCI_CAP_ID_EXP, 0);
    uint16_t ctl = qpci_config_readw(rp, cap + PCI_EXP_SLTCTL);
    gint64 t0 = g_get_monotonic_time();
    QDict *r;

    qtest_qmp_device_del_send(h->qts, "hd0");
    ctl &= ~(PCI_EXP_SLTCTL_PCC | PCI_EXP_SLTCTL_PIC);
    qpci_config_writew(rp, cap + PCI_EXP_SLTCTL,
                       ctl | PCI_EXP_SLTCTL_PWR_OFF |
                       PCI_EXP_SLTCTL_PWR_IND_OFF);
    r = qtest_qmp_eventwait_ref(h->qts, "DEVICE_DELETED");
    qobject_unref(r);
    return (g_get_monotonic_time() - t0) / 1e6;
}

/* Unplug while an engine sleeps in a long injected translation delay. */
static void test_unplug_running(void)
{
    Hmm h;
    QPCIDevice *rp = unplug_setup(&h);
    PageTables pt;
    uint64_t src = guest_alloc(&h.qs->alloc, 4096);
    uint64_t dst = guest_alloc(&h.qs->alloc, 4096);

    ring_setup(&h);
    queues_setup(&h, 16);
    pt_init(&pt);
    pt_map(&pt, VA, src | HMMDEV_PTE_VALID);
    pt_flush(&h, &pt);
    ctx_enable(&h, CTX, pt.root);
    qom_set_u32(&h, "x-inject-xlate-delay-us", 30 * 1000 * 1000);
    submit_ctx(&h, HMMDEV_OP_COPY, HMMDEV_JOB_SRC_VA, CTX, VA, dst, 4096, 0);
    while (qom_get_u64(&h, "stat-walks") == 0) {
        g_usleep(100);
    }
    /* the engine is in its 30 s delay: unplug must not wait for it */
    g_assert_cmpfloat(unplug(&h, rp), <, 5.0);
    g_free(pt.shadow);
    g_free(rp);
    hmm_stop(&h);
}

/* Program BAR0/BAR2 and decoding again (after an FLR cleared them). */
static void bars_again(Hmm *h)
{
    qpci_config_writel(h->dev, PCI_BASE_ADDRESS_0, MMIO_BASE);
    qpci_config_writel(h->dev, PCI_BASE_ADDRESS_2, PREF_BASE);
    qpci_config_writel(h->dev, PCI_BASE_ADDRESS_3, 0);
    qpci_config_writew(h->dev, PCI_COMMAND,
                       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

/*
 * The PCIe link (hmmdev-link.c): error reporting enables, FLR resetting
 * the function, and a surprise removal -- the
 * function all-ones, the slot above it empty with presence and link
 * changes, no way back, and device_del completing.
 */
static void test_link(void)
{
    Hmm h;
    QPCIDevice *rp = unplug_setup(&h);
    uint8_t cap = qpci_find_capability(h.dev, PCI_CAP_ID_EXP, 0);
    uint8_t rpcap = qpci_find_capability(rp, PCI_CAP_ID_EXP, 0);
    uint64_t resets = qom_get_u64(&h, "stat-resets");
    uint16_t sltsta;
    QDict *r;

    /*
     * error reporting enables (the AER capability itself is in extended
     * configuration space, which this port-I/O accessor does not reach:
     * the campaign's aer-* cells use it end to end)
     */
    qpci_config_writew(h.dev, cap + PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_CERE |
                       PCI_EXP_DEVCTL_NFERE | PCI_EXP_DEVCTL_FERE);
    g_assert_cmphex(qpci_config_readw(h.dev, cap + PCI_EXP_DEVCTL) & 7,
                    ==, 7);

    /* FLR: the function is reset (SCRATCH, error enables, BARs) */
    g_assert(qpci_config_readl(h.dev, cap + PCI_EXP_DEVCAP) &
             PCI_EXP_DEVCAP_FLR);
    wr32(&h, HMMDEV_REG_SCRATCH, 0x1234);
    qpci_config_writew(h.dev, cap + PCI_EXP_DEVCTL,
                       PCI_EXP_DEVCTL_BCR_FLR);
    g_assert_cmpuint(qom_get_u64(&h, "stat-resets"), ==, resets + 1);
    g_assert_cmphex(qpci_config_readw(h.dev, cap + PCI_EXP_DEVCTL) &
                    (PCI_EXP_DEVCTL_BCR_FLR | 7), ==, 0);
    bars_again(&h);
    g_assert_cmphex(rd32(&h, HMMDEV_REG_SCRATCH), ==, 0);

    /* the slot reports link changes once its driver enables them */
    qpci_config_writew(rp, rpcap + PCI_EXP_SLTCTL,
                       qpci_config_readw(rp, rpcap + PCI_EXP_SLTCTL) |
                       PCI_EXP_SLTCTL_DLLSCE | PCI_EXP_SLTCTL_HPIE);
    g_assert(qpci_config_readw(rp, rpcap + PCI_EXP_SLTCTL) &
             PCI_EXP_SLTCTL_DLLSCE);
    g_assert(qpci_config_readw(rp, rpcap + PCI_EXP_SLTSTA) &
             PCI_EXP_SLTSTA_PDS);

    /* surprise removal */
    r = qtest_qmp(h.qts, "{ 'execute': 'qom-set', 'arguments': "
                  "{ 'path': '/machine/peripheral/hd0', "
                  "'property': 'x-inject-surprise-removal', 'value': true } }");
    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
    g_assert_cmphex(rd32(&h, HMMDEV_REG_ID), ==, 0xffffffff);
    g_assert_cmphex(rd32(&h, HMMDEV_REG_SCRATCH), ==, 0xffffffff);
    wr32(&h, HMMDEV_REG_SCRATCH, 0);                /* dropped */
    g_assert_cmphex(qpci_config_readw(h.dev, PCI_VENDOR_ID), ==, 0xffff);
    g_assert_cmphex(qtest_readl(h.qts, PREF_BASE), ==, 0xffffffff);
    sltsta = qpci_config_readw(rp, rpcap + PCI_EXP_SLTSTA);
    g_assert_cmphex(sltsta & (PCI_EXP_SLTSTA_PDS | PCI_EXP_SLTSTA_PDC |
                              PCI_EXP_SLTSTA_DLLSC), ==,
                    PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_DLLSC);
    g_assert(!(qpci_config_readw(rp, rpcap + PCI_EXP_LNKSTA) &
               PCI_EXP_LNKSTA_DLLLA));
    /* write-1-to-clear, as pciehp clears them */
    qpci_config_writew(rp, rpcap + PCI_EXP_SLTSTA,
                       PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_DLLSC);
    g_assert_cmphex(qpci_config_readw(rp, rpcap + PCI_EXP_SLTSTA) &
                    (PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_DLLSC), ==, 0);
    /* no way back */
    r = qtest_qmp(h.qts, "{ 'execute': 'qom-set', 'arguments': "
                  "{ 'path': '/machine/peripheral/hd0', "
                  "'property': 'x-inject-surprise-removal', "
                  "'value': false } }");
    g_assert(qdict_haskey(r, "error"));
    qobject_unref(r);
    g_assert_cmphex(rd32(&h, HMMDEV_REG_ID), ==, 0xffffffff);
    /* pciehp powers the empty slot off; device_del is then at once */
    qpci_config_writew(rp, rpcap + PCI_EXP_SLTCTL,
                       (qpci_config_readw(rp, rpcap + PCI_EXP_SLTCTL) &
                        ~(PCI_EXP_SLTCTL_PCC | PCI_EXP_SLTCTL_PIC)) |
                       PCI_EXP_SLTCTL_PWR_OFF | PCI_EXP_SLTCTL_PWR_IND_OFF);
    qtest_qmp_device_del_send(h.qts, "hd0");
    r = qtest_qmp_eventwait_ref(h.qts, "DEVICE_DELETED");
    qobject_unref(r);
    g_free(rp);
    hmm_stop(&h);
}

/* Unplug while an engine is stalled on a fault nobody answers. */
static void test_unplug_stalled(void)
{
    Hmm h;
    QPCIDevice *rp = unplug_setup(&h);
    PageTables pt;
    HmmdevFault f;
    uint64_t dst = guest_alloc(&h.qs->alloc, 4096);

    ring_setup(&h);
    queues_setup(&h, 16);
    pt_init(&pt);
    pt_flush(&h, &pt);
    ctx_enable(&h, CTX, pt.root);
    submit_ctx(&h, HMMDEV_OP_COPY, HMMDEV_JOB_SRC_VA, CTX, VA, dst, 4096, 0);
    g_assert_true(fault_wait(&h, &f));
    g_assert_cmpfloat(unplug(&h, rp), <, 5.0);
    g_free(pt.shadow);
    g_free(rp);
    hmm_stop(&h);
}

/*
 * The command ring re-sized while a SYNC at slot 0 waits for an engine:
 * when the SYNC ends, CQ_HEAD stays at the new ring's 0 (it used to see
 * "still at 0" and move on, skipping the new ring's first command).
 */
static void test_cq_resize_while_running(void)
{
    Hmm h;
    PageTables pt;
    SlowJob j;
    uint64_t fence;
    uint32_t errs;

    setup(&h, &pt);
    fence = guest_alloc(&h.qs->alloc, 8);
    qtest_writeq(h.qts, fence, 0);
    while (h.cq_tail != CQ_ENTRIES - 1) {
        g_assert_true(sync_wait(&h));
    }
    /* an engine holds a translation for 500 ms */
    slow_job_start_us(&h, &pt, &j, 500 * 1000);
    command(&h, HMMDEV_CMD_INVALIDATE, HMMDEV_INV_ALL_ADDRESSES, CTX, 0, 0);
    command(&h, HMMDEV_CMD_SYNC, 0, 0, fence, 0xabc);
    g_assert_cmpuint(h.cq_tail, ==, 1);
    g_usleep(50 * 1000);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_CQ_HEAD), ==, 0);  /* in the SYNC */
    g_assert_cmpuint(qtest_readq(h.qts, fence), ==, 0);

    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE | HMMDEV_CTRL_FQ_ENABLE);
    wr32(&h, HMMDEV_REG_CQ_ENTRIES, CQ_ENTRIES);
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE | HMMDEV_CTRL_CQ_ENABLE |
         HMMDEV_CTRL_FQ_ENABLE);
    h.cq_tail = 0;
    /* a device that ran the new ring's empty slots would complain */
    qtest_memset(h.qts, h.cq, 0, CQ_ENTRIES * HMMDEV_CMD_SIZE);
    errs = rd32(&h, HMMDEV_REG_ERR_COUNT);
    while (qtest_readq(h.qts, fence) != 0xabc) {
        g_usleep(1000);
    }
    g_usleep(50 * 1000);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_CQ_HEAD), ==, 0);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_COUNT), ==, errs);
    g_assert_true(sync_wait(&h));
    teardown(&h, &pt);
}

/* Migration and savevm are refused, with the device's reason. */
static void test_migration_blocked(void)
{
    Hmm h;
    QDict *r;
    g_autofree char *out = NULL;

    hmm_start(&h, NULL);
    r = qtest_qmp(h.qts, "{ 'execute': 'migrate', 'arguments': "
                  "{ 'uri': 'exec:cat >/dev/null' } }");
    g_assert(qdict_haskey(r, "error"));
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(r, "error"),
                                          "desc"), "hmmdev"));
    qobject_unref(r);
    out = qtest_hmp(h.qts, "savevm snap0");
    g_assert_nonnull(strstr(out, "hmmdev"));
    hmm_stop(&h);
}

static void msix_mask(Hmm *h, int v, bool mask)
{
    qpci_io_writel(h->dev, h->dev->msix_table_bar,
                   h->dev->msix_table_off + v * PCI_MSIX_ENTRY_SIZE +
                   PCI_MSIX_ENTRY_VECTOR_CTRL,
                   mask ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
}

/* SPEC.rst's words, checked one by one. */
static void test_spec_details(void)
{
    Hmm h;
    PageTables pt;
    uint64_t reg = HMMDEV_REG_CTX_BASE + CTX * HMMDEV_CTX_STRIDE;
    gint64 end = g_get_monotonic_time() + TIMEOUT_US;
    uint64_t irqs;

    setup(&h, &pt);
    /* "VERSION ... 0x00010005"; "Legacy INTx is not used" */
    g_assert_cmphex(rd32(&h, HMMDEV_REG_VERSION), ==, 0x00010005);
    g_assert_cmpuint(qpci_config_readb(h.dev, PCI_INTERRUPT_PIN), ==, 0);

    /* 0x06c is reserved: reads 0; a write is BAD_REGISTER, no effect */
    g_assert_cmphex(rd32(&h, 0x06c), ==, 0);
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE);          /* CQ off */
    wr32(&h, 0x06c, 0x12345678);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==,
                     HMMDEV_ERR_BAD_REGISTER);
    g_assert_cmphex(rd64(&h, HMMDEV_REG_CQ_BASE), ==, h.cq);

    /* RESPOND with reserved flags is BAD_COMMAND, like other commands */
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE | HMMDEV_CTRL_CQ_ENABLE |
         HMMDEV_CTRL_FQ_ENABLE);
    command(&h, HMMDEV_CMD_RESPOND, 1, 0, 0, HMMDEV_RESPONSE_RETRY);
    g_assert_true(sync_wait(&h));
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==,
                     HMMDEV_ERR_BAD_COMMAND);

    /* enabling an enabled context with a bad root leaves it disabled */
    pt_flush(&h, &pt);
    ctx_enable(&h, CTX, pt.root);
    g_assert_cmpuint(rd32(&h, reg + HMMDEV_CTX_CTRL), ==, 1);
    ctx_enable(&h, CTX, VRAM_SIZE);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==,
                     HMMDEV_ERR_BAD_CONTEXT);
    g_assert_cmpuint(rd32(&h, reg + HMMDEV_CTX_CTRL), ==, 0);

    /* "irqs: MSI-X messages sent": a masked vector's is not counted */
    irqs = counter(&h, HMMDEV_CNT_IRQS);
    msix_mask(&h, HMMDEV_VEC_CMDQ, true);
    wr32(&h, HMMDEV_REG_IRQ_TEST, HMMDEV_VEC_CMDQ);
    while (!qpci_msix_pending(h.dev, HMMDEV_VEC_CMDQ)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(100);
    }
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_IRQS), ==, irqs);
    msix_mask(&h, HMMDEV_VEC_CMDQ, false);
    g_assert_true(msix_wait(&h, HMMDEV_VEC_CMDQ));

    /* a reset sets CPU_ROOT and the oracle's registers to 0 */
    qpci_io_writeq(h.dev, h.bar0, HMMDEV_REG_CPU_ROOT + 8 * CTX, 0x5000 | 5);
    qpci_io_writeq(h.dev, h.bar0, HMMDEV_REG_ORACLE_PRIV_PFN, 0x1234);
    wr32(&h, HMMDEV_REG_ORACLE_SWP_TYPES, 0x9d);
    qpci_io_writeq(h.dev, h.bar0, HMMDEV_REG_ORACLE_PROBE, 0x1025);
    g_assert_cmphex(rd64(&h, HMMDEV_REG_CPU_ROOT + 8 * CTX), ==, 0x5005);
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_RESET);
    g_assert_cmphex(rd64(&h, HMMDEV_REG_CPU_ROOT + 8 * CTX), ==, 0);
    g_assert_cmphex(rd64(&h, HMMDEV_REG_ORACLE_PRIV_PFN), ==, 0);
    g_assert_cmphex(rd32(&h, HMMDEV_REG_ORACLE_SWP_TYPES), ==, 0);
    g_assert_cmphex(rd64(&h, HMMDEV_REG_ORACLE_PROBE), ==, 0);
    teardown(&h, &pt);
}

static uint32_t wait_error(Hmm *h, uint32_t code)
{
    gint64 end = g_get_monotonic_time() + TIMEOUT_US;

    /* each poll is a register read by the "vCPU" holding the BQL */
    while (rd32(h, HMMDEV_REG_ERR_CODE) != code) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(100);
    }
    wr32(h, HMMDEV_REG_ERR_CODE, code);
    return code;
}

/*
 * A ram_device region is RAM that must not be accessed with memcpy: job
 * data, a completion record, a SYNC fence, each ring placed there fails
 * with its error, and nothing hangs.
 */
static void test_ram_device_target(void)
{
    g_autofree char *dir = g_dir_make_tmp("hmmdev-tpm.XXXXXX", NULL);
    g_autofree char *extra = NULL;
    const uint64_t ppi = TPM_PPI_ADDR_BASE;
    TPMTestState tpm = { 0 };
    GThread *thread;
    PageTables pt;
    HmmdevJobDesc d = {
        .opcode = HMMDEV_OP_NOP,
        .completion = cpu_to_le64(ppi),
    };
    Hmm h;
    uint64_t buf;

    tpm.addr = g_new0(SocketAddress, 1);
    tpm.addr->type = SOCKET_ADDRESS_TYPE_UNIX;
    tpm.addr->u.q_unix.path = g_build_filename(dir, "sock", NULL);
    g_mutex_init(&tpm.data_mutex);
    g_cond_init(&tpm.data_cond);
    tpm.tpm_version = TPM_VERSION_2_0;
    thread = g_thread_new(NULL, tpm_emu_ctrl_thread, &tpm);
    tpm_emu_test_wait_cond(&tpm);
    extra = g_strdup_printf(" -chardev socket,id=chr,path=%s -tpmdev "
                            "emulator,id=tpm0,chardev=chr -device "
                            "tpm-crb,tpmdev=tpm0", tpm.addr->u.q_unix.path);
    setup_with(&h, &pt, extra);
    buf = guest_alloc(&h.qs->alloc, 4096);

    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_FILL, 0, 0, ppi, 64,
                                         0)), ==, HMMDEV_JOB_DMA_ERROR);
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY, 0, ppi, buf, 64,
                                         0)), ==, HMMDEV_JOB_DMA_ERROR);
    command(&h, HMMDEV_CMD_SYNC, 0, 0, ppi, 1);
    g_assert_true(sync_wait(&h));
    wait_error(&h, HMMDEV_ERR_SYNC_WRITE);
    qtest_memwrite(h.qts, h.ring + h.tail * HMMDEV_JOB_DESC_SIZE, &d,
                   sizeof(d));
    h.tail = (h.tail + 1) % RING_ENTRIES;
    wr32(&h, HMMDEV_REG_JQ_TAIL, h.tail);
    wait_error(&h, HMMDEV_ERR_COMPLETION);

    /* a fault record there: the fault is lost, the job fails */
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE);
    qpci_io_writeq(h.dev, h.bar0, HMMDEV_REG_FQ_BASE, ppi);
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE | HMMDEV_CTRL_FQ_ENABLE);
    pt_flush(&h, &pt);
    ctx_enable(&h, CTX, pt.root);
    g_assert_cmpuint(wait_job(&h, submit_ctx(&h, HMMDEV_OP_COPY,
                                             HMMDEV_JOB_SRC_VA, CTX, VA, buf,
                                             64, 0)),
                     ==, HMMDEV_JOB_FAULT_LOST);
    wait_error(&h, HMMDEV_ERR_FQ_WRITE);

    /* the command ring, then the job ring: each stops with its error */
    qpci_io_writeq(h.dev, h.bar0, HMMDEV_REG_CQ_BASE, ppi);
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE | HMMDEV_CTRL_CQ_ENABLE);
    wr32(&h, HMMDEV_REG_CQ_TAIL, 1);
    wait_error(&h, HMMDEV_ERR_CMD_FETCH);
    g_assert_false(rd32(&h, HMMDEV_REG_STATUS) & HMMDEV_STATUS_CQ_ENABLED);
    wr32(&h, HMMDEV_REG_CTRL, 0);
    qpci_io_writeq(h.dev, h.bar0, HMMDEV_REG_JQ_BASE, ppi);
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE);
    wr32(&h, HMMDEV_REG_JQ_TAIL, 1);
    wait_error(&h, HMMDEV_ERR_FETCH);
    g_assert_false(rd32(&h, HMMDEV_REG_STATUS) & HMMDEV_STATUS_ENABLED);

    teardown(&h, &pt);
    g_thread_join(thread);
    g_unlink(tpm.addr->u.q_unix.path);
    qapi_free_SocketAddress(tpm.addr);
    g_rmdir(dir);
}

/* VRAM from a memory backend; one of a bad size is refused clearly. */
static void test_memdev(void)
{
    g_autofree char *cmd = g_strdup_printf(
        "%s -M q35 -nodefaults -display none -accel qtest "
        "-object memory-backend-ram,id=m0,size=3M -device hmmdev,memdev=m0",
        getenv("QTEST_QEMU_BINARY"));
    g_autofree char *out = NULL, *err = NULL;
    Hmm h;
    int status;

    hmm_start(&h, ",memdev=vram0 -object memory-backend-ram,id=vram0,"
              "size=32M");
    g_assert_cmpuint(rd64(&h, HMMDEV_REG_VRAM_SIZE), ==, 32 * 1024 * 1024);
    qpci_io_writel(h.dev, h.bar2, 0x100000, 0xfeedf00d);
    ring_setup(&h);
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY,
                                         HMMDEV_JOB_SRC_VRAM |
                                         HMMDEV_JOB_DST_VRAM, 0x100000,
                                         0x200000, 4, 0)), ==, HMMDEV_JOB_OK);
    g_assert_cmphex(qpci_io_readl(h.dev, h.bar2, 0x200000), ==, 0xfeedf00d);
    hmm_stop(&h);

    g_assert_true(g_spawn_command_line_sync(cmd, &out, &err, &status, NULL));
    g_assert_false(g_spawn_check_exit_status(status, NULL));
    g_assert_nonnull(strstr(err, "hmmdev: "));
}

/* ---- fault injection (SPEC.rst, "Fault injection") ---- */

/* A completion record at @comp within @us, or false. */
static bool done_within(Hmm *h, uint64_t comp, gint64 us, HmmdevCompletion *c)
{
    gint64 end = g_get_monotonic_time() + us;

    while (!job_done(h, comp, c)) {
        if (g_get_monotonic_time() > end) {
            return false;
        }
        g_usleep(100);
    }
    return true;
}

/* SYNC late, INVALIDATE late, MSI-X lost, engines hung until reset. */
static void test_inject_timing(void)
{
    Hmm h;
    uint64_t buf, comp, want, injected;
    HmmdevCompletion c;
    gint64 t0;

    hmm_start(&h, NULL);
    ring_setup(&h);
    queues_setup(&h, 16);
    buf = guest_alloc(&h.qs->alloc, 2 * 4096);

    /* a SYNC 0.2 s late: no fence at 0.05 s, a fence later */
    qom_set_u32(&h, "x-inject-sync-delay-us", 200000);
    want = ++h.fence;
    t0 = g_get_monotonic_time();
    command(&h, HMMDEV_CMD_SYNC, 0, 0, h.fence_addr, want);
    g_usleep(50000);
    g_assert_cmpuint(qtest_readq(h.qts, h.fence_addr), !=, want);
    while (qtest_readq(h.qts, h.fence_addr) != want) {
        g_assert_cmpint(g_get_monotonic_time() - t0, <, TIMEOUT_US);
        g_usleep(1000);
    }
    g_assert_cmpint(g_get_monotonic_time() - t0, >=, 200000);
    qom_set_u32(&h, "x-inject-sync-delay-us", 0);

    /* the next job interrupt is lost, its record is not; the next one comes */
    injected = counter(&h, HMMDEV_CNT_INJECTED);
    qom_set_u32(&h, "x-inject-drop-irq-vectors", 1u << HMMDEV_VEC_JOB);
    qom_set_u32(&h, "x-inject-drop-irqs", 1);
    comp = submit(&h, HMMDEV_OP_FILL, 0, 0, buf, 4096, 1);
    g_assert_true(done_within(&h, comp, TIMEOUT_US, &c));
    g_assert_false(msix_wait_us(&h, HMMDEV_VEC_JOB, WATCH_US));
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_FILL, 0, 0, buf,
                                         4096, 2)), ==, HMMDEV_JOB_OK);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_INJECTED), ==, injected + 1);

    /* hung engines: no completion until a reset, which ends the hang */
    qom_set_u32(&h, "x-inject-engine-hang", 1);
    comp = submit(&h, HMMDEV_OP_FILL, 0, 0, buf, 4096, 3);
    g_assert_false(done_within(&h, comp, WATCH_US, &c));
    g_assert_cmphex(rd32(&h, HMMDEV_REG_STATUS) & HMMDEV_STATUS_BUSY, ==,
                    HMMDEV_STATUS_BUSY);
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_RESET);
    g_assert_cmpuint(qom_get_u64(&h, "x-inject-engine-hang"), ==, 0);
    g_assert_false(job_done(&h, comp, &c));
    ring_setup(&h);
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_FILL, 0, 0, buf,
                                         4096, 4)), ==, HMMDEV_JOB_OK);
    hmm_stop(&h);
}

/* DMA errors every Nth access or in a range; a poisoned VRAM page. */
static void test_inject_errors(void)
{
    Hmm h;
    uint64_t src, dst, comp;
    HmmdevCompletion c;

    hmm_start(&h, NULL);
    ring_setup(&h);
    src = guest_alloc(&h.qs->alloc, 4 * 4096);
    dst = guest_alloc(&h.qs->alloc, 4 * 4096);
    qtest_memset(h.qts, src, 0x11, 4 * 4096);

    /* every access fails */
    qom_set_u32(&h, "x-inject-dma-error-every", 1);
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY, 0, src, dst,
                                         4096, 0)), ==, HMMDEV_JOB_DMA_ERROR);
    qom_set_u32(&h, "x-inject-dma-error-every", 0);

    /* a failing range in the middle: the bytes before it move */
    qom_set_u64(&h, "x-inject-dma-error-base", dst + 2 * 4096);
    qom_set_u64(&h, "x-inject-dma-error-len", 4096);
    comp = submit(&h, HMMDEV_OP_COPY, 0, src, dst, 4 * 4096, 0);
    g_assert_cmpuint(wait_job(&h, comp), ==, HMMDEV_JOB_DMA_ERROR);
    qtest_memread(h.qts, comp, &c, sizeof(c));
    g_assert_cmpuint(le64_to_cpu(c.result), ==, 2 * 4096);
    g_assert_cmpuint(qtest_readb(h.qts, dst + 2 * 4096 - 1), ==, 0x11);
    qom_set_u64(&h, "x-inject-dma-error-len", 0);

    /* poison VRAM page 1: engine reads stop there, CPU reads all-ones */
    qpci_memwrite(h.dev, h.bar2, 0, (uint8_t [4096]) { 0x22 }, 4096);
    qom_set_u64(&h, "x-inject-poison-vram", 4096 + 123);
    g_assert_cmpuint(qom_get_u64(&h, "x-inject-poison-vram"), ==, 1);
    comp = submit(&h, HMMDEV_OP_COPY, HMMDEV_JOB_SRC_VRAM, 0, dst,
                  2 * 4096, 0);
    g_assert_cmpuint(wait_job(&h, comp), ==, HMMDEV_JOB_VRAM_POISONED);
    qtest_memread(h.qts, comp, &c, sizeof(c));
    g_assert_cmpuint(le64_to_cpu(c.result), ==, 4096);
    g_assert_cmphex(qpci_io_readl(h.dev, h.bar2, 4096 + 8), ==, 0xffffffff);
    qpci_io_writel(h.dev, h.bar2, 4096 + 8, 0);
    g_assert_cmphex(qpci_io_readl(h.dev, h.bar2, 4096 + 8), ==, 0xffffffff);
    g_assert_cmphex(qpci_io_readb(h.dev, h.bar2, 0), ==, 0x22);
    /* writes by the engines still go in; a reset does not repair it */
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_FILL,
                                         HMMDEV_JOB_DST_VRAM, 0, 4096, 8,
                                         0)), ==, HMMDEV_JOB_OK);
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_RESET);
    ring_setup(&h);
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY,
                                         HMMDEV_JOB_SRC_VRAM, 4096, dst, 8,
                                         0)), ==, HMMDEV_JOB_VRAM_POISONED);
    hmm_stop(&h);
}

int main(int argc, char **argv)
{
    module_call_init(MODULE_INIT_QOM);      /* the TPM emulator's sockets */
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/hmmdev/quiesce/reset-mid-job", test_reset_mid_job);
    qtest_add_func("/hmmdev/quiesce/system-reset-mid-job",
                   test_system_reset_mid_job);
    qtest_add_func("/hmmdev/quiesce/stop-cont", test_stop_cont);
    qtest_add_func("/hmmdev/quiesce/bus-master-off", test_bus_master_off);
    qtest_add_func("/hmmdev/quiesce/unplug-running", test_unplug_running);
    qtest_add_func("/hmmdev/quiesce/unplug-stalled", test_unplug_stalled);
    qtest_add_func("/hmmdev/quiesce/cq-resize-while-running",
                   test_cq_resize_while_running);
    qtest_add_func("/hmmdev/quiesce/migration-blocked",
                   test_migration_blocked);
    qtest_add_func("/hmmdev/quiesce/spec-details", test_spec_details);
    qtest_add_func("/hmmdev/inject/timing", test_inject_timing);
    qtest_add_func("/hmmdev/inject/errors", test_inject_errors);
    qtest_add_func("/hmmdev/inject/link", test_link);
    qtest_add_func("/hmmdev/quiesce/memdev", test_memdev);
    qtest_add_func("/hmmdev/quiesce/ram-device-target",
                   test_ram_device_target);
    return g_test_run();
}
