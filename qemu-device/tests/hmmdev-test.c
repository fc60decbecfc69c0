/*
 * QTest for hmmdev: registers, MSI-X, the job queue and its DMA engines,
 * the device's answers to malformed input, and the coherence oracle.  No
 * guest kernel: the test plays the driver through config space, BAR0 and
 * guest memory.
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

/*
 * COPY between system-memory buffers whose offsets differ by 1 to 63 bytes
 * modulo 4 KiB (the engines' word copy, hmmdev_copy_bytes()) and by 0 or
 * 64 (memmove()), of a length that is no multiple of 8, and overlapping
 * copies both ways (memmove()'s semantics): each compared byte for byte,
 * the bytes around the destination untouched.
 */
static void test_dma_copy_skewed(void)
{
    static const struct { uint64_t src_off, dst_off; } cases[] = {
        { 0, 1 }, { 0, 16 }, { 3, 10 }, { 5, 68 }, { 0, 63 }, { 0, 64 },
        { 40, 0 }, { 8, 8 }, { 0, 4096 + 16 },
        { 0, 24 }, { 24, 0 },   /* within one buffer: overlapping */
    };
    const size_t len = 3 * 4096 + 13, span = 2 * len + 8192;
    g_autofree uint8_t *want = g_malloc(span);
    g_autofree uint8_t *got = g_malloc(span);
    Hmm h;
    size_t i;

    hmm_start(&h, NULL);
    ring_setup(&h);
    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        bool overlap = i >= G_N_ELEMENTS(cases) - 2;
        uint64_t a = ROUND_UP(guest_alloc(&h.qs->alloc, span + 4096), 4096);
        uint64_t b = ROUND_UP(guest_alloc(&h.qs->alloc, span + 4096), 4096);
        uint64_t src = a + cases[i].src_off;
        uint64_t dst = (overlap ? a : b) + cases[i].dst_off;

        fill_pattern(want, span, 40 + i);
        qtest_memwrite(h.qts, a, want, span);
        fill_pattern(got, span, 80 + i);
        qtest_memwrite(h.qts, b, got, span);
        if (!overlap) {
            memcpy(want, got, span);        /* b before the copy */
            qtest_memread(h.qts, src, got, len);
        } else {
            memcpy(got, want + cases[i].src_off, len);
        }
        memcpy(want + (dst - (overlap ? a : b)), got, len);
        g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_COPY, 0, src, dst,
                                             len, 0)),
                         ==, HMMDEV_JOB_OK);
        qtest_memread(h.qts, overlap ? a : b, got, span);
        g_assert_cmpmem(got, span, want, span);
    }
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

/* ---- the coherence oracle (SPEC.rst, "Coherence oracle") ---- */

#define OVA         0x7f1234400000ull   /* 2 MiB aligned */
#define OCTX        3
#define X86_P       (1ull << 0)
#define X86_RW      (1ull << 1)
#define X86_PS      (1ull << 7)
#define X86_ADDR    0x000ffffffffff000ull
#define SWP_PRIV_W  29                  /* any types, named by the driver */
#define SWP_PRIV_R  28
#define SWP_EXCL_W  27
#define PRIV_PFN    0x100000ull         /* the PFN of VRAM offset 0 */
#define DEV_PAGE    (2 * 1024 * 1024)   /* a VRAM page, below the tables */

/* Linux's x86-64 swap entry of @type and @offset (asm/pgtable_64.h). */
static uint64_t swp_pte(unsigned type, uint64_t offset)
{
    return (~offset << 14 >> 5) | (uint64_t)type << 59;
}

static uint64_t decoded(unsigned kind, bool write, unsigned type,
                        uint64_t pfn)
{
    return kind | (write ? HMMDEV_CPU_WRITE : 0) |
           (uint64_t)type << HMMDEV_CPU_TYPE_SHIFT |
           pfn << HMMDEV_CPU_PFN_SHIFT;
}

static void oracle_types(Hmm *h)
{
    wr32(h, HMMDEV_REG_ORACLE_SWP_TYPES,
         (HMMDEV_SWP_VALID | SWP_PRIV_W) << 8 * HMMDEV_SWP_PRIVATE_WRITE |
         (HMMDEV_SWP_VALID | SWP_PRIV_R) << 8 * HMMDEV_SWP_PRIVATE_READ |
         (HMMDEV_SWP_VALID | SWP_EXCL_W) << 8 * HMMDEV_SWP_EXCLUSIVE_WRITE);
}

/* The decoder, against entries laid out as the spec says Linux does. */
static void test_oracle_decode(void)
{
    uint64_t pfn = 0x1234, big = 0xfffffffffull;
    struct { uint64_t pte, want; } cases[] = {
        { 0x8000000000000067ull | pfn << 12,
          decoded(HMMDEV_CPU_PRESENT, true, 0, pfn) },
        { 0x25 | pfn << 12, decoded(HMMDEV_CPU_PRESENT, false, 0, pfn) },
        { (~(pfn << 12) & X86_ADDR) | 0x120,
          decoded(HMMDEV_CPU_PROTNONE, false, 0, pfn) },
        { 0, decoded(HMMDEV_CPU_NONE, false, 0, 0) },
        { swp_pte(SWP_PRIV_W, pfn) | 2,         /* soft-dirty */
          decoded(HMMDEV_CPU_PRIVATE, true, SWP_PRIV_W, pfn) },
        { swp_pte(SWP_PRIV_R, big),
          decoded(HMMDEV_CPU_PRIVATE, false, SWP_PRIV_R, big) },
        { swp_pte(SWP_EXCL_W, pfn) | 8,         /* exclusive */
          decoded(HMMDEV_CPU_EXCLUSIVE, true, SWP_EXCL_W, pfn) },
        { swp_pte(26, pfn), decoded(HMMDEV_CPU_SWAP, false, 26, pfn) },
        { swp_pte(1, big), decoded(HMMDEV_CPU_SWAP, false, 1, big) },
    };
    Hmm h;
    size_t i;

    hmm_start(&h, NULL);
    g_assert_cmphex(rd32(&h, HMMDEV_REG_CAPS) & HMMDEV_CAP_ORACLE, ==,
                    HMMDEV_CAP_ORACLE);
    oracle_types(&h);
    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        qpci_io_writeq(h.dev, h.bar0, HMMDEV_REG_ORACLE_PROBE, cases[i].pte);
        g_assert_cmphex(rd64(&h, HMMDEV_REG_ORACLE_DECODED), ==,
                        cases[i].want);
    }
    /* without the driver's types a device-private entry is just a swap */
    wr32(&h, HMMDEV_REG_ORACLE_SWP_TYPES, 0);
    qpci_io_writeq(h.dev, h.bar0, HMMDEV_REG_ORACLE_PROBE,
                   swp_pte(SWP_PRIV_W, pfn));
    g_assert_cmphex(rd64(&h, HMMDEV_REG_ORACLE_DECODED), ==,
                    decoded(HMMDEV_CPU_SWAP, false, SWP_PRIV_W, pfn));
    /* written whole or not at all; DECODED is read-only */
    wr32(&h, HMMDEV_REG_ORACLE_PROBE, 5);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==,
                     HMMDEV_ERR_BAD_REGISTER);
    wr32(&h, HMMDEV_REG_ERR_CODE, HMMDEV_ERR_BAD_REGISTER);
    qpci_io_writeq(h.dev, h.bar0, HMMDEV_REG_ORACLE_DECODED, 1);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==,
                     HMMDEV_ERR_BAD_REGISTER);
    hmm_stop(&h);
}

/* x86-64 page tables in guest memory, from a pool of zeroed pages. */
typedef struct CpuTables {
    uint64_t pool;
    int used;
    uint64_t root;
    int levels;
} CpuTables;

static uint64_t cpu_table(Hmm *h, CpuTables *t)
{
    uint64_t page = t->pool + 4096 * t->used++;

    g_assert_cmpint(t->used, <=, 32);
    qtest_memset(h->qts, page, 0, 4096);
    return page;
}

static void cpu_tables_init(Hmm *h, CpuTables *t, int levels)
{
    t->pool = ROUND_UP(guest_alloc(&h->qs->alloc, 33 * 4096), 4096);
    t->used = 0;
    t->levels = levels;
    t->root = cpu_table(h, t);
}

/* Guest-physical address of @va's entry at @level (1: PTE). */
static uint64_t cpu_slot(Hmm *h, CpuTables *t, uint64_t va, int level)
{
    uint64_t table = t->root, slot, e;
    int l;

    for (l = t->levels; ; l--) {
        slot = table + 8 * ((va >> (12 + 9 * (l - 1))) & 511);
        if (l == level) {
            return slot;
        }
        e = qtest_readq(h->qts, slot);
        if (!(e & X86_P)) {
            e = cpu_table(h, t) | X86_P | X86_RW;
            qtest_writeq(h->qts, slot, e);
        }
        table = e & X86_ADDR;
    }
}

static void cpu_set(Hmm *h, CpuTables *t, uint64_t va, int level,
                    uint64_t e)
{
    qtest_writeq(h->qts, cpu_slot(h, t, va, level), e);
}

static void oracle_mode(Hmm *h, const char *mode)
{
    QDict *r = qtest_qmp(h->qts, "{ 'execute': 'qom-set', 'arguments': "
                         "{ 'path': '/machine/peripheral/hd0', "
                         "'property': 'oracle', 'value': %s } }", mode);

    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
}

static char *oracle_log(Hmm *h)
{
    QDict *r = qtest_qmp(h->qts, "{ 'execute': 'qom-get', 'arguments': "
                         "{ 'path': '/machine/peripheral/hd0', "
                         "'property': 'oracle-log' } }");
    char *log = g_strdup(qdict_get_str(r, "return"));

    qobject_unref(r);
    return log;
}

/* Four system pages mapped at OVA by the device and by the CPU. */
static uint64_t oracle_setup(Hmm *h, PageTables *pt, CpuTables *cpu,
                             int levels)
{
    uint64_t src = ROUND_UP(guest_alloc(&h->qs->alloc, 5 * 4096), 4096);
    int i;

    ring_setup(h);
    queues_setup(h, 16);
    pt_init(pt);
    cpu_tables_init(h, cpu, levels);
    for (i = 0; i < 4; i++) {
        qtest_memset(h->qts, src + i * 4096, 0x30 + i, 4096);
        pt_map(pt, OVA + i * 4096, (src + i * 4096) | HMMDEV_PTE_VALID |
               HMMDEV_PTE_WRITE);
        cpu_set(h, cpu, OVA + i * 4096, 1, (src + i * 4096) | X86_P | X86_RW);
    }
    pt_flush(h, pt);
    ctx_enable(h, OCTX, pt->root);
    qpci_io_writeq(h->dev, h->bar0, HMMDEV_REG_CPU_ROOT + 8 * OCTX,
                   cpu->root | levels);
    oracle_types(h);
    qpci_io_writeq(h->dev, h->bar0, HMMDEV_REG_ORACLE_PRIV_PFN, PRIV_PFN);
    return src;
}

static uint32_t oracle_job(Hmm *h, uint8_t op, uint64_t dst)
{
    uint8_t flags = op == HMMDEV_OP_COPY ? HMMDEV_JOB_SRC_VA
                                         : HMMDEV_JOB_DST_VA;

    return wait_job(h, submit_ctx(h, op, flags, OCTX, OVA,
                                  op == HMMDEV_OP_COPY ? dst : OVA,
                                  4 * 4096, 0x5a5a5a5a5a5a5a5aull));
}

/* Each rule, broken and kept, in each mode. */
static void test_oracle_rules(void)
{
    Hmm h;
    PageTables pt;
    CpuTables cpu;
    uint64_t src, dst, v;
    g_autofree char *log = NULL;

    hmm_start(&h, ",oracle=fail");
    src = oracle_setup(&h, &pt, &cpu, 4);
    dst = guest_alloc(&h.qs->alloc, 4 * 4096);

    /* both views agree */
    g_assert_cmpuint(oracle_job(&h, HMMDEV_OP_COPY, dst), ==, HMMDEV_JOB_OK);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_ORACLE_CHECKS), >=, 1);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_ORACLE_VIOLATIONS), ==, 0);

    /* the CPU dropped page 2: the job fails there, the device says so */
    cpu_set(&h, &cpu, OVA + 2 * 4096, 1, 0);
    g_assert_cmpuint(oracle_job(&h, HMMDEV_OP_COPY, dst), ==,
                     HMMDEV_JOB_STALE_TRANSLATION);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_ORACLE_VIOLATIONS), ==, 1);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==,
                     HMMDEV_ERR_STALE_TRANSLATION);
    wr32(&h, HMMDEV_REG_ERR_CODE, HMMDEV_ERR_STALE_TRANSLATION);
    log = oracle_log(&h);
    g_assert_nonnull(strstr(log, "#1 job"));
    g_assert_nonnull(strstr(log, "va 0x7f1234402000"));
    g_assert_nonnull(strstr(log, "maps nothing"));

    /* read-only at the CPU: reads pass, a device write does not */
    cpu_set(&h, &cpu, OVA + 2 * 4096, 1, (src + 2 * 4096) | X86_P);
    g_assert_cmpuint(oracle_job(&h, HMMDEV_OP_COPY, dst), ==, HMMDEV_JOB_OK);
    g_assert_cmpuint(oracle_job(&h, HMMDEV_OP_FILL, 0), ==,
                     HMMDEV_JOB_STALE_TRANSLATION);
    g_assert_cmpuint(qtest_readb(h.qts, src + 2 * 4096), ==, 0x32);
    /* read-only one level up is read-only too */
    cpu_set(&h, &cpu, OVA + 2 * 4096, 1, (src + 2 * 4096) | X86_P | X86_RW);
    v = qtest_readq(h.qts, cpu_slot(&h, &cpu, OVA, 2));
    cpu_set(&h, &cpu, OVA, 2, v & ~X86_RW);
    g_assert_cmpuint(oracle_job(&h, HMMDEV_OP_FILL, 0), ==,
                     HMMDEV_JOB_STALE_TRANSLATION);
    cpu_set(&h, &cpu, OVA, 2, v);

    /* the CPU maps another page there */
    cpu_set(&h, &cpu, OVA + 3 * 4096, 1, dst | X86_P | X86_RW);
    g_assert_cmpuint(oracle_job(&h, HMMDEV_OP_COPY, dst), ==,
                     HMMDEV_JOB_STALE_TRANSLATION);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_ORACLE_VIOLATIONS), ==, 4);

    /* count: counted, not failed; off: not even counted */
    oracle_mode(&h, "count");
    g_assert_cmpuint(oracle_job(&h, HMMDEV_OP_COPY, dst), ==, HMMDEV_JOB_OK);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_ORACLE_VIOLATIONS), ==, 5);
    oracle_mode(&h, "off");
    g_assert_cmpuint(oracle_job(&h, HMMDEV_OP_COPY, dst), ==, HMMDEV_JOB_OK);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_ORACLE_VIOLATIONS), ==, 5);
    oracle_mode(&h, "fail");
    cpu_set(&h, &cpu, OVA + 3 * 4096, 1, (src + 3 * 4096) | X86_P | X86_RW);

    /* page 3 in VRAM: the CPU entry must be device-private for it */
    pt_map(&pt, OVA + 3 * 4096, DEV_PAGE | HMMDEV_PTE_VALID |
           HMMDEV_PTE_WRITE | HMMDEV_PTE_VRAM);
    pt_flush(&h, &pt);
    invalidate(&h, OCTX, OVA + 3 * 4096, 4096);
    g_assert_true(sync_wait(&h));
    g_assert_cmpuint(oracle_job(&h, HMMDEV_OP_COPY, dst), ==,
                     HMMDEV_JOB_STALE_TRANSLATION);
    cpu_set(&h, &cpu, OVA + 3 * 4096, 1,
            swp_pte(SWP_PRIV_W, PRIV_PFN + DEV_PAGE / 4096));
    g_assert_cmpuint(oracle_job(&h, HMMDEV_OP_FILL, 0), ==, HMMDEV_JOB_OK);
    cpu_set(&h, &cpu, OVA + 3 * 4096, 1,
            swp_pte(SWP_PRIV_R, PRIV_PFN + DEV_PAGE / 4096));
    g_assert_cmpuint(oracle_job(&h, HMMDEV_OP_COPY, dst), ==, HMMDEV_JOB_OK);
    g_assert_cmpuint(oracle_job(&h, HMMDEV_OP_FILL, 0), ==,
                     HMMDEV_JOB_STALE_TRANSLATION);
    cpu_set(&h, &cpu, OVA + 3 * 4096, 1,
            swp_pte(SWP_PRIV_W, PRIV_PFN + DEV_PAGE / 4096 + 1));
    g_assert_cmpuint(oracle_job(&h, HMMDEV_OP_COPY, dst), ==,
                     HMMDEV_JOB_STALE_TRANSLATION);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_ORACLE_VIOLATIONS), ==, 8);

    /* a CPU_ROOT with other bits or another depth is refused */
    qpci_io_writeq(h.dev, h.bar0, HMMDEV_REG_CPU_ROOT + 8 * OCTX,
                   cpu.root | 3);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==,
                     HMMDEV_ERR_BAD_REGISTER);
    g_assert_cmphex(rd64(&h, HMMDEV_REG_CPU_ROOT + 8 * OCTX), ==,
                    cpu.root | 4);
    g_free(pt.shadow);
    hmm_stop(&h);
}

/* 5-level tables and a 2 MiB CPU mapping over the device's 4 KiB ones. */
static void test_oracle_huge_5level(void)
{
    Hmm h;
    PageTables pt;
    CpuTables cpu;
    uint64_t dst, big;
    int i;

    hmm_start(&h, ",oracle=fail");
    oracle_setup(&h, &pt, &cpu, 5);
    dst = guest_alloc(&h.qs->alloc, 4 * 4096);
    g_assert_cmpuint(oracle_job(&h, HMMDEV_OP_COPY, dst), ==, HMMDEV_JOB_OK);

    big = ROUND_UP(guest_alloc(&h.qs->alloc, 4 << 20), 2 << 20);
    for (i = 0; i < 4; i++) {
        pt_map(&pt, OVA + i * 4096, (big + i * 4096) | HMMDEV_PTE_VALID |
               HMMDEV_PTE_WRITE);
    }
    pt_flush(&h, &pt);
    invalidate(&h, OCTX, OVA, 4 * 4096);
    g_assert_true(sync_wait(&h));
    cpu_set(&h, &cpu, OVA, 2, big | X86_P | X86_RW | X86_PS);
    g_assert_cmpuint(oracle_job(&h, HMMDEV_OP_FILL, 0), ==, HMMDEV_JOB_OK);
    cpu_set(&h, &cpu, OVA, 2, (big + (2 << 20)) | X86_P | X86_RW | X86_PS);
    g_assert_cmpuint(oracle_job(&h, HMMDEV_OP_COPY, dst), ==,
                     HMMDEV_JOB_STALE_TRANSLATION);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_ORACLE_VIOLATIONS), ==, 1);
    g_free(pt.shadow);
    hmm_stop(&h);
}

/* stop: the VM pauses at the violation; cont ends the job. */
static void test_oracle_stop(void)
{
    Hmm h;
    PageTables pt;
    CpuTables cpu;
    uint64_t dst, comp;
    QDict *r;
    bool paused = false;
    int i;

    hmm_start(&h, ",oracle=stop");
    oracle_setup(&h, &pt, &cpu, 4);
    dst = guest_alloc(&h.qs->alloc, 4 * 4096);
    cpu_set(&h, &cpu, OVA, 1, 0);
    comp = submit_ctx(&h, HMMDEV_OP_COPY, HMMDEV_JOB_SRC_VA, OCTX, OVA, dst,
                      4096, 0);
    for (i = 0; i < 2000 && !paused; i++) {
        r = qtest_qmp(h.qts, "{ 'execute': 'query-status' }");
        paused = !strcmp(qdict_get_str(qdict_get_qdict(r, "return"),
                                       "status"), "paused");
        qobject_unref(r);
        g_usleep(1000);
    }
    g_assert_true(paused);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_ORACLE_VIOLATIONS), ==, 1);
    qtest_qmp_assert_success(h.qts, "{ 'execute': 'cont' }");
    g_assert_cmpuint(wait_job(&h, comp), ==, HMMDEV_JOB_STALE_TRANSLATION);
    g_free(pt.shadow);
    hmm_stop(&h);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/hmmdev/registers", test_registers);
    qtest_add_func("/hmmdev/msix", test_msix);
    qtest_add_func("/hmmdev/dma-copy", test_dma_copy);
    qtest_add_func("/hmmdev/dma-copy-skewed", test_dma_copy_skewed);
    qtest_add_func("/hmmdev/fill", test_fill);
    qtest_add_func("/hmmdev/copy-list", test_copy_list);
    qtest_add_func("/hmmdev/bad-jobs", test_bad_jobs);
    qtest_add_func("/hmmdev/bad-completion", test_bad_completion);
    qtest_add_func("/hmmdev/bad-ring", test_bad_ring);
    qtest_add_func("/hmmdev/ring-fetch-error", test_ring_fetch_error);
    qtest_add_func("/hmmdev/bad-properties", test_bad_properties);
    qtest_add_func("/hmmdev/oracle/decode", test_oracle_decode);
    qtest_add_func("/hmmdev/oracle/rules", test_oracle_rules);
    qtest_add_func("/hmmdev/oracle/huge-5level", test_oracle_huge_5level);
    qtest_add_func("/hmmdev/oracle/stop", test_oracle_stop);
    return g_test_run();
}
