/*
 * Randomized qtest for hmmdev: random register writes, random ring
 * contents (jobs, commands), random page tables and fault answers, resets
 * (CTRL.RESET and system resets), VM stop/cont and bus mastering toggled
 * in the middle of it all, rings and tables placed at every kind of guest
 * address (RAM, ROM, MMIO, VRAM through its BAR, nothing).
 * QEMU must neither crash nor hang nor stop answering; run against a QEMU
 * built with ASan+UBSan (images/fuzz.sh), any sanitizer report aborts QEMU
 * and fails the test.
 *
 *   HMMDEV_FUZZ_OPS=100000 HMMDEV_FUZZ_SEED=1 hmmdev-fuzz
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hmmdev-qtest.h"

#define DATA_SIZE   (64 * 1024)
#define FUZZ_VA     0x7f0000000000ull
#define FUZZ_CTX    5

typedef struct Fuzz {
    Hmm h;
    GRand *rand;
    uint64_t data;              /* guest RAM the jobs may use */
    uint64_t ops[8];
    uint32_t bars[6];           /* config space BARs, restored after reset */
    bool stopped;
} Fuzz;

static uint32_t pick(Fuzz *f, uint32_t n)
{
    return g_rand_int_range(f->rand, 0, n);
}

static uint64_t rand64(Fuzz *f)
{
    return (uint64_t)g_rand_int(f->rand) << 32 | g_rand_int(f->rand);
}

/* A value that is often meaningful to the device, sometimes garbage. */
static uint64_t interesting(Fuzz *f)
{
    Hmm *h = &f->h;
    const uint64_t vals[] = {
        0, 1, 2, 3, 4, 7, 8, 16, 64, 4096, 65536, 1 << 20, VRAM_SIZE,
        VRAM_SIZE - 8, h->ring, h->comp, h->cq, h->fq, f->data,
        f->data + pick(f, DATA_SIZE), PT_BASE, PT_BASE + 4096,
        FUZZ_VA, FUZZ_VA + 4096, 1ull << 48, UINT32_MAX, UINT64_MAX,
        HMMDEV_JOB_MAX_LENGTH, rand64(f), g_rand_int(f->rand),
        /*
         * other kinds of guest addresses: MMIO (BAR0, MSI-X, the MSI
         * window), VRAM through its own BAR, the BIOS ROM, nothing
         */
        h->bar0.addr, h->bar0.addr + HMMDEV_REG_JQ_TAIL, h->bar2.addr,
        h->bar2.addr + PT_BASE, h->dev->msix_table_bar.addr, 0xfee00000,
        0xfffc0000, 0xfffff000, 1ull << 40,
    };

    return vals[pick(f, G_N_ELEMENTS(vals))];
}

static void fuzz_register(Fuzz *f)
{
    static const uint32_t regs[] = {
        HMMDEV_REG_SCRATCH, HMMDEV_REG_IRQ_TEST, HMMDEV_REG_CTRL,
        HMMDEV_REG_ERR_CODE, HMMDEV_REG_JQ_BASE, HMMDEV_REG_JQ_BASE + 4,
        HMMDEV_REG_JQ_ENTRIES, HMMDEV_REG_JQ_TAIL, HMMDEV_REG_CQ_BASE,
        HMMDEV_REG_CQ_ENTRIES, HMMDEV_REG_CQ_TAIL, HMMDEV_REG_FQ_BASE,
        HMMDEV_REG_FQ_ENTRIES, HMMDEV_REG_FQ_HEAD, HMMDEV_REG_ID,
        HMMDEV_REG_CTX_BASE + FUZZ_CTX * HMMDEV_CTX_STRIDE,
        HMMDEV_REG_CTX_BASE + FUZZ_CTX * HMMDEV_CTX_STRIDE + HMMDEV_CTX_CTRL,
    };
    uint64_t off = pick(f, 4) ? regs[pick(f, G_N_ELEMENTS(regs))]
                              : pick(f, HMMDEV_REGS_SIZE / 4) * 4;
    uint64_t val = interesting(f);

    if (off == HMMDEV_REG_CTRL && (val & HMMDEV_CTRL_RESET) && pick(f, 8)) {
        val &= ~HMMDEV_CTRL_RESET;      /* resets, but not too often */
    }
    if (off % 8 == 0 && pick(f, 2)) {
        qpci_io_writeq(f->h.dev, f->h.bar0, off, val);
    } else {
        qpci_io_writel(f->h.dev, f->h.bar0, off, val);
    }
}

/* A COPY_LIST a driver could have written, with some bad entries. */
static void plausible_list(Fuzz *f, HmmdevJobDesc *d)
{
    HmmdevCopyEntry list[8];
    uint64_t table = f->data + pick(f, DATA_SIZE / 2 / 16) * 16;
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(list); i++) {
        list[i].src = cpu_to_le64(pick(f, 8) ? pick(f, VRAM_SIZE / 2)
                                             : interesting(f));
        list[i].dst = cpu_to_le64(pick(f, 8) ? f->data + pick(f, DATA_SIZE / 2)
                                             : interesting(f));
    }
    qtest_memwrite(f->h.qts, table, list, sizeof(list));
    d->opcode = HMMDEV_OP_COPY_LIST;
    d->flags = pick(f, 2) ? HMMDEV_JOB_SRC_VRAM : HMMDEV_JOB_DST_VRAM;
    d->context = 0;
    d->src = table;
    d->dst = 0;
    d->length = 1 + pick(f, G_N_ELEMENTS(list));
    d->value = 1 + pick(f, 8192);
    d->rsvd0 = 0;
}

/* A job a driver could have written: VA pages, some of them unmapped. */
static void plausible_job(Fuzz *f, HmmdevJobDesc *d)
{
    static const uint8_t flags[] = {
        HMMDEV_JOB_SRC_VA, HMMDEV_JOB_DST_VA,
        HMMDEV_JOB_SRC_VA | HMMDEV_JOB_DST_VA,
        HMMDEV_JOB_SRC_VA | HMMDEV_JOB_DST_VRAM,
        HMMDEV_JOB_SRC_VRAM | HMMDEV_JOB_DST_VA,
    };

    d->opcode = 1 + pick(f, 4);
    d->flags = flags[pick(f, G_N_ELEMENTS(flags))];
    d->context = FUZZ_CTX;
    d->src = d->flags & HMMDEV_JOB_SRC_VA ? FUZZ_VA + pick(f, 8 * 4096)
                                          : pick(f, VRAM_SIZE / 2);
    d->dst = d->flags & HMMDEV_JOB_DST_VA ? FUZZ_VA + pick(f, 8 * 4096)
                                          : pick(f, VRAM_SIZE / 2);
    d->length = d->opcode == HMMDEV_OP_ATOMIC_ADD ? 8 : 1 + pick(f, 16384);
    d->rsvd0 = 0;
}

static void fuzz_job(Fuzz *f)
{
    Hmm *h = &f->h;
    HmmdevJobDesc d = {
        .opcode = pick(f, 4) ? pick(f, 6) : pick(f, 256),
        .flags = pick(f, 4) ? pick(f, 0x20) : pick(f, 256),
        .context = pick(f, 4) ? FUZZ_CTX : interesting(f),
        .src = interesting(f),
        .dst = interesting(f),
        .length = pick(f, 2) ? pick(f, 8192) : interesting(f),
        .value = rand64(f),
        .completion = pick(f, 4) ? h->comp + pick(f, RING_ENTRIES) * 32
                                 : interesting(f),
        .fence = rand64(f),
    };
    uint32_t slot = pick(f, RING_ENTRIES);

    if (!pick(f, 8)) {
        d.rsvd0 = g_rand_int(f->rand);
    }
    if (!pick(f, 8)) {
        plausible_list(f, &d);
    } else if (pick(f, 2)) {
        plausible_job(f, &d);
    }
    qtest_memwrite(h->qts, h->ring + slot * HMMDEV_JOB_DESC_SIZE, &d,
                   sizeof(d));
    qpci_io_writel(h->dev, h->bar0, HMMDEV_REG_JQ_TAIL,
                   pick(f, 8) ? (slot + 1) % RING_ENTRIES : interesting(f));
}

static void fuzz_command(Fuzz *f)
{
    Hmm *h = &f->h;
    HmmdevCommand c = {
        .opcode = pick(f, 4) ? pick(f, 4) : pick(f, 256),
        .flags = pick(f, 4) ? pick(f, 4) : pick(f, 256),
        .context = pick(f, 4) ? FUZZ_CTX : interesting(f),
        .arg0 = interesting(f),
        .arg1 = pick(f, 2) ? pick(f, 3) : interesting(f),
    };
    uint32_t slot = pick(f, CQ_ENTRIES);

    if (!pick(f, 8)) {
        c.rsvd = g_rand_int(f->rand);
    }
    qtest_memwrite(h->qts, h->cq + slot * HMMDEV_CMD_SIZE, &c, sizeof(c));
    qpci_io_writel(h->dev, h->bar0, HMMDEV_REG_CQ_TAIL,
                   pick(f, 8) ? (slot + 1) % CQ_ENTRIES : interesting(f));
}

/* Random page-table entries in the page-table area of VRAM. */
static void fuzz_pte(Fuzz *f)
{
    uint64_t off = PT_BASE + pick(f, 64) * 4096 + pick(f, 512) * 8;
    uint64_t pte = pick(f, 2) ? (PT_BASE + pick(f, 64) * 4096) |
                                HMMDEV_PTE_VALID
                              : (interesting(f) & ~0xfffull) | pick(f, 256);

    qpci_io_writeq(f->h.dev, f->h.bar2, off, pte);
}

/* Answer faults, with their id or with garbage. */
static void fuzz_faults(Fuzz *f)
{
    HmmdevFault rec;
    Hmm *h = &f->h;
    uint32_t tail = qpci_io_readl(h->dev, h->bar0, HMMDEV_REG_FQ_TAIL);

    if (tail < h->fq_entries && tail != h->fq_head) {
        qtest_memread(h->qts, h->fq + h->fq_head * HMMDEV_FAULT_SIZE, &rec,
                      sizeof(rec));
        h->fq_head = (h->fq_head + 1) % h->fq_entries;
        qpci_io_writel(h->dev, h->bar0, HMMDEV_REG_FQ_HEAD, h->fq_head);
        command(h, HMMDEV_CMD_RESPOND, 0, 0,
                pick(f, 4) ? le32_to_cpu(rec.id) : interesting(f),
                1 + pick(f, 2));
    } else {
        command(h, HMMDEV_CMD_RESPOND, 0, 0, interesting(f), pick(f, 4));
    }
}

static void fuzz_memory(Fuzz *f)
{
    Hmm *h = &f->h;
    uint64_t areas[] = { h->ring, h->cq, h->fq, f->data };
    uint8_t buf[64];
    size_t i;

    for (i = 0; i < sizeof(buf); i++) {
        buf[i] = g_rand_int(f->rand);
    }
    qtest_memwrite(h->qts, areas[pick(f, G_N_ELEMENTS(areas))] +
                   pick(f, 16) * 64, buf, sizeof(buf));
}

/* Make the device usable again after a system reset cleared its config. */
static void restore_pci(Fuzz *f)
{
    Hmm *h = &f->h;
    int i;

    for (i = 0; i < 6; i++) {
        qpci_config_writel(h->dev, PCI_BASE_ADDRESS_0 + 4 * i, f->bars[i]);
    }
    qpci_device_enable(h->dev);
    msix_setup(h);
}

/*
 * The VM's life around the device: stop and cont, a system reset, bus
 * mastering off and on -- each while jobs, commands and faults are in
 * flight.
 */
static void fuzz_lifecycle(Fuzz *f)
{
    Hmm *h = &f->h;
    uint16_t cmd;
    QDict *r;

    switch (pick(f, 4)) {
    case 0:
        r = qtest_qmp(h->qts, "{ 'execute': %s }", f->stopped ? "cont"
                                                             : "stop");
        g_assert(qdict_haskey(r, "return"));
        qobject_unref(r);
        f->stopped = !f->stopped;
        break;
    case 1:
        qtest_system_reset(h->qts);
        restore_pci(f);
        break;
    default:
        cmd = qpci_config_readw(h->dev, PCI_COMMAND);
        qpci_config_writew(h->dev, PCI_COMMAND, cmd ^ PCI_COMMAND_MASTER);
        break;
    }
}

/* What a driver does after trouble: reset, rings, context, page tables. */
static void fuzz_recover(Fuzz *f, PageTables *pt)
{
    Hmm *h = &f->h;

    qpci_io_writel(h->dev, h->bar0, HMMDEV_REG_CTRL, HMMDEV_CTRL_RESET);
    qpci_device_enable(h->dev);             /* bus mastering on */
    ring_setup(h);
    queues_setup(h, 4);
    pt_flush(h, pt);
    ctx_enable(h, FUZZ_CTX, pt->root);
}

static void test_fuzz(void)
{
    const char *env_ops = g_getenv("HMMDEV_FUZZ_OPS");
    const char *env_seed = g_getenv("HMMDEV_FUZZ_SEED");
    uint64_t ops = env_ops ? g_ascii_strtoull(env_ops, NULL, 10) : 20000;
    uint32_t seed = env_seed ? g_ascii_strtoull(env_seed, NULL, 10) : 1;
    Fuzz f = { 0 };
    Hmm *h = &f.h;
    PageTables pt;
    uint64_t i;

    f.rand = g_rand_new_with_seed(seed);
    hmm_start(h, NULL);
    ring_setup(h);
    queues_setup(h, 4);
    f.data = guest_alloc(&h->qs->alloc, DATA_SIZE);
    for (i = 0; i < 6; i++) {
        f.bars[i] = qpci_config_readl(h->dev, PCI_BASE_ADDRESS_0 + 4 * i);
    }
    pt_init(&pt);
    /* pages 0-3 mapped (read-only, read-write, atomic, VRAM), 4-7 not */
    pt_map(&pt, FUZZ_VA, f.data | HMMDEV_PTE_VALID);
    pt_map(&pt, FUZZ_VA + 4096, (f.data + 4096) | HMMDEV_PTE_VALID |
           HMMDEV_PTE_WRITE);
    pt_map(&pt, FUZZ_VA + 8192, (f.data + 8192) | HMMDEV_PTE_VALID |
           HMMDEV_PTE_WRITE | HMMDEV_PTE_ATOMIC);
    pt_map(&pt, FUZZ_VA + 12288, (1 << 20) | HMMDEV_PTE_VALID |
           HMMDEV_PTE_WRITE | HMMDEV_PTE_VRAM);
    pt_flush(h, &pt);
    ctx_enable(h, FUZZ_CTX, pt.root);

    for (i = 0; i < ops; i++) {
        uint32_t kind = pick(&f, 100);

        if (kind < 2) {
            fuzz_recover(&f, &pt);
        } else if (kind < 3) {
            fuzz_lifecycle(&f);
        } else if (kind < 30) {
            fuzz_register(&f);
        } else if (kind < 55) {
            fuzz_job(&f);
        } else if (kind < 70) {
            fuzz_command(&f);
        } else if (kind < 80) {
            fuzz_pte(&f);
        } else if (kind < 88) {
            fuzz_faults(&f);
        } else if (kind < 93) {
            qpci_io_readl(h->dev, h->bar0, pick(&f, HMMDEV_REGS_SIZE / 4) * 4);
        } else {
            fuzz_memory(&f);
        }
        if (i % 1000 == 999) {
            /* still there, still answering */
            g_assert_cmphex(qpci_io_readl(h->dev, h->bar0, HMMDEV_REG_ID), ==,
                            HMMDEV_ID_MAGIC);
        }
    }
    /* a reset brings it back to a defined, working state */
    if (f.stopped) {
        qobject_unref(qtest_qmp(h->qts, "{ 'execute': 'cont' }"));
    }
    qpci_io_writel(h->dev, h->bar0, HMMDEV_REG_CTRL, HMMDEV_CTRL_RESET);
    qpci_device_enable(h->dev);
    ring_setup(h);
    g_assert_cmpuint(wait_job(h, submit(h, HMMDEV_OP_NOP, 0, 0, 0, 0, 0)), ==,
                     HMMDEV_JOB_OK);
    g_test_message("seed %u: %" PRIu64 " operations; device errors %" PRIu64
                   ", jobs done %" PRIu64 ", failed %" PRIu64 ", faults %"
                   PRIu64 ", walks %" PRIu64 ", commands %" PRIu64, seed, ops,
                   counter(h, HMMDEV_CNT_DEVICE_ERRORS),
                   counter(h, HMMDEV_CNT_JOBS_DONE),
                   counter(h, HMMDEV_CNT_JOBS_FAILED),
                   counter(h, HMMDEV_CNT_FAULTS),
                   counter(h, HMMDEV_CNT_WALKS),
                   counter(h, HMMDEV_CNT_COMMANDS));
    g_free(pt.shadow);
    g_rand_free(f.rand);
    hmm_stop(h);
}

int main(int argc, char **argv)
{
    /* any sanitizer report ends QEMU, which fails the test */
    g_setenv("UBSAN_OPTIONS", "halt_on_error=1:abort_on_error=1:"
             "print_stacktrace=1", false);
    g_setenv("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=0", false);
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/hmmdev/fuzz", test_fuzz);
    return g_test_run();
}
