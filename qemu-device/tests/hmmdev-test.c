/*
 * QTest for hmmdev: registers, MSI-X, the job queue and its DMA engines,
 * and the device's answers to malformed input.  No guest kernel: the test
 * plays the driver through config space, BAR0 and guest memory.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hmmdev-qtest.h"

static void test_registers(void)
{
    Hmm h;
    uint64_t t0, t1;
    uint32_t errs;

    hmm_start(&h, NULL);
    g_assert_cmphex(qpci_config_readw(h.dev, PCI_VENDOR_ID), ==,
                    HMMDEV_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(h.dev, PCI_DEVICE_ID), ==,
                    HMMDEV_DEVICE_ID);
    g_assert_cmphex(rd32(&h, HMMDEV_REG_ID), ==, HMMDEV_ID_MAGIC);
    g_assert_cmphex(rd32(&h, HMMDEV_REG_VERSION), ==, HMMDEV_VERSION);
    g_assert_cmphex(rd32(&h, HMMDEV_REG_CAPS) & HMMDEV_CAP_JOBQ, ==,
                    HMMDEV_CAP_JOBQ);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ENGINES), ==, 2);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_MSIX_VECTORS), ==,
                     HMMDEV_MSIX_VECTORS);
    g_assert_cmpuint(qpci_msix_table_size(h.dev), ==, HMMDEV_MSIX_VECTORS);
    g_assert_cmpuint(rd64(&h, HMMDEV_REG_VRAM_SIZE), ==, VRAM_SIZE);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_VRAM_SIZE + 4), ==, 0);

    wr32(&h, HMMDEV_REG_SCRATCH, 0xdeadbeef);
    g_assert_cmphex(rd32(&h, HMMDEV_REG_SCRATCH), ==, 0xdeadbeef);

    /* device time is the VM's virtual clock (qtest moves it by hand) */
    t0 = rd64(&h, HMMDEV_REG_TIMESTAMP);
    qtest_clock_step(h.qts, 2000 * 1000);
    t1 = rd64(&h, HMMDEV_REG_TIMESTAMP);
    g_assert_cmpuint(t1 - t0, >=, 2000 * 1000);
    g_assert_cmpuint(t1 - t0, <, 10ull * 1000 * 1000 * 1000);

    /* a write to a read-only register is an error, with the error vector */
    errs = rd32(&h, HMMDEV_REG_ERR_COUNT);
    wr32(&h, HMMDEV_REG_ID, 0);
    g_assert_cmphex(rd32(&h, HMMDEV_REG_ID), ==, HMMDEV_ID_MAGIC);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==,
                     HMMDEV_ERR_BAD_REGISTER);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_COUNT), ==, errs + 1);
    g_assert_true(rd32(&h, HMMDEV_REG_STATUS) & HMMDEV_STATUS_ERROR);
    g_assert_true(msix_wait(&h, HMMDEV_VEC_ERROR));
    wr32(&h, HMMDEV_REG_ERR_CODE, HMMDEV_ERR_BAD_REGISTER);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==, HMMDEV_ERR_NONE);

    /* counters are visible over QOM too */
    g_assert_cmpuint(qom_get_u64(&h, "stat-device-errors"), ==, 1);
    g_assert_cmpuint(qom_get_u64(&h, "stat-device-errors"), ==,
                     rd64(&h, HMMDEV_REG_COUNTERS +
                          8 * HMMDEV_CNT_DEVICE_ERRORS));
    hmm_stop(&h);
}

static void test_msix(void)
{
    Hmm h;
    int v;

    hmm_start(&h, NULL);
    for (v = 0; v < HMMDEV_MSIX_VECTORS; v++) {
        wr32(&h, HMMDEV_REG_IRQ_TEST, v);
        g_assert_true(msix_wait(&h, v));
    }
    /* an out-of-range vector raises the error vector instead */
    wr32(&h, HMMDEV_REG_IRQ_TEST, HMMDEV_MSIX_VECTORS);
    g_assert_true(msix_wait(&h, HMMDEV_VEC_ERROR));
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==, HMMDEV_ERR_BAD_VECTOR);
    g_assert_cmpuint(rd64(&h, HMMDEV_REG_COUNTERS + 8 * HMMDEV_CNT_IRQS),
                     ==, HMMDEV_MSIX_VECTORS + 1);
    hmm_stop(&h);
}

static void fill_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
    size_t i;

    for (i = 0; i < len; i++) {
        buf[i] = (i * 7 + seed + (i >> 12)) & 0xff;
    }
}

/* system memory -> VRAM -> system memory, checked through BAR2 too */
static void test_dma_copy(void)
{
    static const size_t sizes[] = { 4096, 65536, 1024 * 1024 + 4096 };
    Hmm h;
    size_t i;

    hmm_start(&h, NULL);
    ring_setup(&h);
    for (i = 0; i < G_N_ELEMENTS(sizes); i++) {
        size_t len = sizes[i];
        uint64_t vram_off = 0x200000 + i * 0x10000;
        g_autofree uint8_t *want = g_malloc(len);
        g_autofree uint8_t *got = g_malloc(len);
        uint64_t src = guest_alloc(&h.qs->alloc, len);
        uint64_t dst = guest_alloc(&h.qs->alloc, len);

        fill_pattern(want, len, i);
        qtest_memwrite(h.qts, src, want, len);
        qtest_memset(h.qts, dst, 0, len);
        g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY,
                                             HMMDEV_JOB_DST_VRAM, src,
                                             vram_off, len, 0)),
                         ==, HMMDEV_JOB_OK);
        /* the VRAM copy, through the BAR as the CPU sees it */
        qpci_memread(h.dev, h.bar2, vram_off, got, len);
        g_assert_cmpmem(got, len, want, len);
        g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY,
                                             HMMDEV_JOB_SRC_VRAM, vram_off,
                                             dst, len, 0)),
                         ==, HMMDEV_JOB_OK);
        qtest_memread(h.qts, dst, got, len);
        g_assert_cmpmem(got, len, want, len);
        guest_free(&h.qs->alloc, src);
        guest_free(&h.qs->alloc, dst);
    }
    g_assert_cmpuint(rd64(&h, HMMDEV_REG_COUNTERS + 8 * HMMDEV_CNT_JOBS_DONE),
                     ==, 2 * G_N_ELEMENTS(sizes));
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_JQ_HEAD), ==, h.tail);
    hmm_stop(&h);
}

static void test_fill(void)
{
    Hmm h;
    uint8_t got[4100];
    size_t i;

    hmm_start(&h, NULL);
    ring_setup(&h);
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_FILL,
                                         HMMDEV_JOB_DST_VRAM, 0, 0x1000,
                                         sizeof(got), 0x0807060504030201ull)),
                     ==, HMMDEV_JOB_OK);
    qpci_memread(h.dev, h.bar2, 0x1000, got, sizeof(got));
    for (i = 0; i < sizeof(got); i++) {
        g_assert_cmpuint(got[i], ==, i % 8 + 1);
    }
    hmm_stop(&h);
}

/* The result of the job at @comp (after wait_job()). */
static uint64_t job_result(Hmm *h, uint64_t comp)
{
    HmmdevCompletion c;

    qtest_memread(h->qts, comp, &c, sizeof(c));
    return le64_to_cpu(c.result);
}

/*
 * COPY_LIST: scattered system pages -> scattered VRAM pages and back in
 * one job each; a bad entry ends the job with its status after the good
 * ones before it; malformed lists are refused.
 */
static void test_copy_list(void)
{
    enum { N = 5, PAGE = 4096 };
    static const uint64_t vram_pages[N] = { 7, 2, 40, 3, 100 };
    HmmdevCopyEntry list[N];
    g_autofree uint8_t *want = g_malloc(N * PAGE);
    g_autofree uint8_t *got = g_malloc(PAGE);
    uint64_t sys[N], back[N], tab, comp;
    Hmm h;
    int i;

    hmm_start(&h, NULL);
    ring_setup(&h);
    tab = guest_alloc(&h.qs->alloc, sizeof(list));
    fill_pattern(want, N * PAGE, 9);
    for (i = 0; i < N; i++) {
        sys[i] = guest_alloc(&h.qs->alloc, PAGE);
        back[i] = guest_alloc(&h.qs->alloc, PAGE);
        qtest_memwrite(h.qts, sys[i], want + i * PAGE, PAGE);
        qtest_memset(h.qts, back[i], 0, PAGE);
        list[i].src = cpu_to_le64(sys[i]);
        list[i].dst = cpu_to_le64(vram_pages[i] * PAGE);
    }
    qtest_memwrite(h.qts, tab, list, sizeof(list));
    comp = submit(&h, HMMDEV_OP_COPY_LIST, HMMDEV_JOB_DST_VRAM, tab, 0, N,
                  PAGE);
    g_assert_cmpuint(wait_job(&h, comp), ==, HMMDEV_JOB_OK);
    g_assert_cmpuint(job_result(&h, comp), ==, N * PAGE);
    for (i = 0; i < N; i++) {
        qpci_memread(h.dev, h.bar2, vram_pages[i] * PAGE, got, PAGE);
        g_assert_cmpmem(got, PAGE, want + i * PAGE, PAGE);
        list[i].src = cpu_to_le64(vram_pages[i] * PAGE);
        list[i].dst = cpu_to_le64(back[i]);
    }
    qtest_memwrite(h.qts, tab, list, sizeof(list));
    comp = submit(&h, HMMDEV_OP_COPY_LIST, HMMDEV_JOB_SRC_VRAM, tab, 0, N,
                  PAGE);
    g_assert_cmpuint(wait_job(&h, comp), ==, HMMDEV_JOB_OK);
    for (i = 0; i < N; i++) {
        qtest_memread(h.qts, back[i], got, PAGE);
        g_assert_cmpmem(got, PAGE, want + i * PAGE, PAGE);
    }

    /* entry 3 points past VRAM: 3 pages copied, then BAD_ADDRESS */
    list[3].src = cpu_to_le64(VRAM_SIZE);
    qtest_memwrite(h.qts, tab, list, sizeof(list));
    comp = submit(&h, HMMDEV_OP_COPY_LIST, HMMDEV_JOB_SRC_VRAM, tab, 0, N,
                  PAGE);
    g_assert_cmpuint(wait_job(&h, comp), ==, HMMDEV_JOB_BAD_ADDRESS);
    g_assert_cmpuint(job_result(&h, comp), ==, 3 * PAGE);
    /* entry 1 names system memory that does not exist: DMA_ERROR */
    list[1].dst = cpu_to_le64(1ull << 50);
    qtest_memwrite(h.qts, tab, list, sizeof(list));
    comp = submit(&h, HMMDEV_OP_COPY_LIST, HMMDEV_JOB_SRC_VRAM, tab, 0, N,
                  PAGE);
    g_assert_cmpuint(wait_job(&h, comp), ==, HMMDEV_JOB_DMA_ERROR);
    g_assert_cmpuint(job_result(&h, comp), ==, PAGE);
    /* malformed lists */
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY_LIST,
                                         HMMDEV_JOB_SRC_VRAM, tab, 0, 0,
                                         PAGE)),
                     ==, HMMDEV_JOB_BAD_LENGTH);
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY_LIST,
                                         HMMDEV_JOB_SRC_VRAM, tab, 0,
                                         HMMDEV_COPY_LIST_MAX + 1, PAGE)),
                     ==, HMMDEV_JOB_BAD_LENGTH);
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY_LIST,
                                         HMMDEV_JOB_SRC_VRAM, tab, 0, N,
                                         HMMDEV_COPY_ENTRY_MAX + 1)),
                     ==, HMMDEV_JOB_BAD_LENGTH);
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY_LIST,
                                         HMMDEV_JOB_SRC_VA, tab, 0, N, PAGE)),
                     ==, HMMDEV_JOB_BAD_FLAGS);
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY_LIST,
                                         HMMDEV_JOB_SRC_VRAM, tab + 8, 0, N,
                                         PAGE)),
                     ==, HMMDEV_JOB_BAD_ADDRESS);
    /* the list itself unreadable */
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY_LIST,
                                         HMMDEV_JOB_SRC_VRAM, 1ull << 50, 0,
                                         N, PAGE)),
                     ==, HMMDEV_JOB_DMA_ERROR);
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_NOP, 0, 0, 0, 0, 0)),
                     ==, HMMDEV_JOB_OK);
    hmm_stop(&h);
}

/* Every malformed-job class gets its status; the queue keeps running. */
static void test_bad_jobs(void)
{
    Hmm h;
    uint64_t buf;

    hmm_start(&h, NULL);
    ring_setup(&h);
    buf = guest_alloc(&h.qs->alloc, 4096);
    g_assert_cmpuint(wait_job(&h, submit(&h, 0x7f, 0, buf, buf, 4096, 0)),
                     ==, HMMDEV_JOB_BAD_OPCODE);
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY, 0x80, buf, buf,
                                         4096, 0)),
                     ==, HMMDEV_JOB_BAD_FLAGS);
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY, 0, buf, buf,
                                         0, 0)),
                     ==, HMMDEV_JOB_BAD_LENGTH);
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY, 0, buf, buf,
                                         HMMDEV_JOB_MAX_LENGTH + 1, 0)),
                     ==, HMMDEV_JOB_BAD_LENGTH);
    /* VRAM ranges: past the end, and wrapping around */
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY,
                                         HMMDEV_JOB_DST_VRAM, buf,
                                         VRAM_SIZE - 4095, 4096, 0)),
                     ==, HMMDEV_JOB_BAD_ADDRESS);
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY,
                                         HMMDEV_JOB_SRC_VRAM, -4096ull,
                                         buf, 8192, 0)),
                     ==, HMMDEV_JOB_BAD_ADDRESS);
    /* system memory that does not exist, and that wraps */
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY,
                                         HMMDEV_JOB_DST_VRAM, 1ull << 50,
                                         0, 4096, 0)),
                     ==, HMMDEV_JOB_DMA_ERROR);
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY,
                                         HMMDEV_JOB_SRC_VRAM, 0,
                                         -4096ull, 8192, 0)),
                     ==, HMMDEV_JOB_BAD_ADDRESS);
    /* DMA into MMIO (our own BAR0) is refused, not performed */
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_FILL, 0, 0,
                                         qpci_config_readl(h.dev,
                                                           PCI_BASE_ADDRESS_0)
                                         & PCI_BASE_ADDRESS_MEM_MASK,
                                         64, 0)),
                     !=, HMMDEV_JOB_OK);
    g_assert_cmphex(rd32(&h, HMMDEV_REG_ID), ==, HMMDEV_ID_MAGIC);
    /* and a good job still works */
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_NOP, 0, 0, 0, 0, 0)),
                     ==, HMMDEV_JOB_OK);
    g_assert_cmpuint(rd64(&h, HMMDEV_REG_COUNTERS +
                          8 * HMMDEV_CNT_JOBS_FAILED), ==, 9);
    hmm_stop(&h);
}

/* A completion record that cannot be written is a device error. */
static void test_bad_completion(void)
{
    Hmm h;
    HmmdevJobDesc d = {
        .opcode = HMMDEV_OP_NOP,
        .flags = HMMDEV_JOB_IRQ,
        .completion = cpu_to_le64(0x1008),      /* not 32-byte aligned */
    };

    hmm_start(&h, NULL);
    ring_setup(&h);
    qtest_memwrite(h.qts, h.ring, &d, sizeof(d));
    wr32(&h, HMMDEV_REG_JQ_TAIL, 1);
    g_assert_true(msix_wait(&h, HMMDEV_VEC_ERROR));
    g_assert_true(msix_wait(&h, HMMDEV_VEC_JOB));
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==,
                     HMMDEV_ERR_COMPLETION);
    hmm_stop(&h);
}

/* Ring pointers and ring registers are validated. */
static void test_bad_ring(void)
{
    Hmm h;

    hmm_start(&h, NULL);
    wr32(&h, HMMDEV_REG_JQ_TAIL, 0);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==, HMMDEV_ERR_BAD_TAIL);
    g_assert_true(msix_wait(&h, HMMDEV_VEC_ERROR));

    qpci_io_writeq(h.dev, h.bar0, HMMDEV_REG_JQ_BASE, 0x1008);
    wr32(&h, HMMDEV_REG_JQ_ENTRIES, 16);
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==, HMMDEV_ERR_BAD_RING);
    g_assert_false(rd32(&h, HMMDEV_REG_STATUS) & HMMDEV_STATUS_ENABLED);

    qpci_io_writeq(h.dev, h.bar0, HMMDEV_REG_JQ_BASE, 0x1000);
    wr32(&h, HMMDEV_REG_JQ_ENTRIES, 3);
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==, HMMDEV_ERR_BAD_RING);

    ring_setup(&h);
    wr32(&h, HMMDEV_REG_JQ_TAIL, RING_ENTRIES);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==, HMMDEV_ERR_BAD_TAIL);
    wr32(&h, HMMDEV_REG_JQ_ENTRIES, 32);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==, HMMDEV_ERR_RING_BUSY);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_JQ_ENTRIES), ==, RING_ENTRIES);

    /* reset returns the queue to its defined idle state */
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_RESET);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_STATUS), ==, 0);
    g_assert_cmpuint(rd64(&h, HMMDEV_REG_JQ_BASE), ==, 0);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_JQ_ENTRIES), ==, 0);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==, 0);
    hmm_stop(&h);
}

/* A descriptor ring in unreadable memory stops the queue with an error. */
static void test_ring_fetch_error(void)
{
    Hmm h;

    hmm_start(&h, NULL);
    qpci_io_writeq(h.dev, h.bar0, HMMDEV_REG_JQ_BASE, 1ull << 50);
    wr32(&h, HMMDEV_REG_JQ_ENTRIES, 4);
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE);
    wr32(&h, HMMDEV_REG_JQ_TAIL, 1);
    g_assert_true(msix_wait(&h, HMMDEV_VEC_ERROR));
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==, HMMDEV_ERR_FETCH);
    g_assert_false(rd32(&h, HMMDEV_REG_STATUS) & HMMDEV_STATUS_ENABLED);
    hmm_stop(&h);
}

/* Bad properties stop QEMU with a clear message. */
static void test_bad_properties(void)
{
    static const char *const bad[] = {
        "vram-size=3M", "vram-size=1M", "vram-size=128G", "engines=0",
        "engines=99",
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *cmd = g_strdup_printf(
            "%s -M q35 -nodefaults -display none -accel qtest "
            "-device hmmdev,%s", getenv("QTEST_QEMU_BINARY"), bad[i]);
        g_autofree char *out = NULL;
        g_autofree char *err = NULL;
        int status;

        g_assert_true(g_spawn_command_line_sync(cmd, &out, &err, &status,
                                                NULL));
        g_assert_false(g_spawn_check_exit_status(status, NULL));
        g_assert_nonnull(strstr(err, "hmmdev: "));
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/hmmdev/registers", test_registers);
    qtest_add_func("/hmmdev/msix", test_msix);
    qtest_add_func("/hmmdev/dma-copy", test_dma_copy);
    qtest_add_func("/hmmdev/fill", test_fill);
    qtest_add_func("/hmmdev/copy-list", test_copy_list);
    qtest_add_func("/hmmdev/bad-jobs", test_bad_jobs);
    qtest_add_func("/hmmdev/bad-completion", test_bad_completion);
    qtest_add_func("/hmmdev/bad-ring", test_bad_ring);
    qtest_add_func("/hmmdev/ring-fetch-error", test_ring_fetch_error);
    qtest_add_func("/hmmdev/bad-properties", test_bad_properties);
    return g_test_run();
}
