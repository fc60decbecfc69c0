/*
 * QTest for hmmdev's MMU: page-table walks and the ATC, 2 MiB leaves,
 * stale translations without an invalidation, INVALIDATE+SYNC racing a
 * running job, faults answered RETRY and ABORT, fault-queue overflow,
 * atomics, and every malformed PTE, context and command class.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hmmdev-qtest.h"

#define CTX     5
#define VA      0x7f0000000000ull
#define RW      (HMMDEV_PTE_VALID | HMMDEV_PTE_WRITE)

static void setup(Hmm *h, PageTables *pt, uint32_t fq_entries)
{
    hmm_start(h, NULL);
    ring_setup(h);
    queues_setup(h, fq_entries);
    pt_init(pt);
}

static void teardown(Hmm *h, PageTables *pt)
{
    g_free(pt->shadow);
    hmm_stop(h);
}

/* @pages of system memory filled with byte @seed + page index. */
static uint64_t sysmem_pages(Hmm *h, int pages, uint8_t seed)
{
    uint64_t addr = guest_alloc(&h->qs->alloc, pages * 4096);
    int i;

    for (i = 0; i < pages; i++) {
        qtest_memset(h->qts, addr + i * 4096, seed + i, 4096);
    }
    return addr;
}

static void test_walk_and_atc(void)
{
    Hmm h;
    PageTables pt;
    uint64_t src, dst, walks;
    uint8_t got[4 * 4096];
    int i;

    setup(&h, &pt, 16);
    src = sysmem_pages(&h, 4, 0x10);
    dst = guest_alloc(&h.qs->alloc, sizeof(got));
    for (i = 0; i < 4; i++) {
        pt_map(&pt, VA + i * 4096, (src + i * 4096) | HMMDEV_PTE_VALID);
    }
    pt_flush(&h, &pt);
    ctx_enable(&h, CTX, pt.root);

    g_assert_cmpuint(wait_job(&h, submit_ctx(&h, HMMDEV_OP_COPY,
                                             HMMDEV_JOB_SRC_VA, CTX, VA, dst,
                                             sizeof(got), 0)),
                     ==, HMMDEV_JOB_OK);
    qtest_memread(h.qts, dst, got, sizeof(got));
    for (i = 0; i < 4; i++) {
        g_assert_cmpuint(got[i * 4096], ==, 0x10 + i);
        g_assert_cmpuint(got[i * 4096 + 4095], ==, 0x10 + i);
    }
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_ATC_MISSES), ==, 4);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_ATC_HITS), ==, 0);
    walks = counter(&h, HMMDEV_CNT_WALKS);
    g_assert_cmpuint(walks, ==, 4);

    /* the same range again: all from the ATC, no walk */
    g_assert_cmpuint(wait_job(&h, submit_ctx(&h, HMMDEV_OP_COPY,
                                             HMMDEV_JOB_SRC_VA, CTX, VA, dst,
                                             sizeof(got), 0)),
                     ==, HMMDEV_JOB_OK);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_ATC_HITS), ==, 4);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_WALKS), ==, walks);

    /* the walk set ACCESSED, a read does not set DIRTY */
    g_assert_true(pt_read(&h, &pt, VA, 1) & HMMDEV_PTE_ACCESSED);
    g_assert_false(pt_read(&h, &pt, VA, 1) & HMMDEV_PTE_DIRTY);
    teardown(&h, &pt);
}

/* A write sets DIRTY; a read-cached entry is re-walked for the write. */
static void test_dirty(void)
{
    Hmm h;
    PageTables pt;
    uint64_t page, buf;

    setup(&h, &pt, 16);
    page = sysmem_pages(&h, 1, 0);
    buf = guest_alloc(&h.qs->alloc, 4096);
    pt_map(&pt, VA, page | RW);
    pt_flush(&h, &pt);
    ctx_enable(&h, CTX, pt.root);
    g_assert_cmpuint(wait_job(&h, submit_ctx(&h, HMMDEV_OP_COPY,
                                             HMMDEV_JOB_SRC_VA, CTX, VA, buf,
                                             4096, 0)), ==, HMMDEV_JOB_OK);
    g_assert_false(pt_read(&h, &pt, VA, 1) & HMMDEV_PTE_DIRTY);
    g_assert_cmpuint(wait_job(&h, submit_ctx(&h, HMMDEV_OP_FILL,
                                             HMMDEV_JOB_DST_VA, CTX, 0, VA,
                                             4096, 0x5a5a5a5a5a5a5a5aull)),
                     ==, HMMDEV_JOB_OK);
    g_assert_true(pt_read(&h, &pt, VA, 1) & HMMDEV_PTE_DIRTY);
    g_assert_cmpuint(qtest_readb(h.qts, page + 100), ==, 0x5a);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_WALKS), ==, 2);
    teardown(&h, &pt);
}

/* 2 MiB leaves, to VRAM and to system memory: one walk each. */
static void test_huge(void)
{
    Hmm h;
    PageTables pt;
    uint64_t raw, sys2m, dst = 0;
    uint64_t sums[2];
    int i;

    setup(&h, &pt, 16);
    raw = guest_alloc(&h.qs->alloc, 4 << 20);
    sys2m = ROUND_UP(raw, 2 << 20);
    qtest_memset(h.qts, sys2m, 0x01, 2 << 20);
    /* VRAM 2..4 MiB holds 0x02 bytes */
    g_assert_cmpuint(wait_job(&h, submit(&h, HMMDEV_OP_FILL,
                                         HMMDEV_JOB_DST_VRAM, 0, 2 << 20,
                                         2 << 20, 0x0202020202020202ull)),
                     ==, HMMDEV_JOB_OK);
    pt_map(&pt, VA, (2 << 20) | HMMDEV_PTE_VALID | HMMDEV_PTE_VRAM |
           HMMDEV_PTE_HUGE);
    pt_map(&pt, VA + (2 << 20), sys2m | HMMDEV_PTE_VALID | HMMDEV_PTE_HUGE);
    pt_flush(&h, &pt);
    ctx_enable(&h, CTX, pt.root);
    for (i = 0; i < 2; i++) {
        uint64_t comp = submit_ctx(&h, HMMDEV_OP_CHECKSUM, HMMDEV_JOB_SRC_VA,
                                   CTX, VA + i * (2 << 20), dst, 2 << 20, 0);
        HmmdevCompletion c;

        g_assert_cmpuint(wait_job(&h, comp), ==, HMMDEV_JOB_OK);
        qtest_memread(h.qts, comp, &c, sizeof(c));
        sums[i] = le64_to_cpu(c.result);
    }
    /* 2 MiB of byte b: 2^18 words of b * 0x0101010101010101 */
    g_assert_cmphex(sums[0], ==, (1ull << 18) * 0x0202020202020202ull);
    g_assert_cmphex(sums[1], ==, (1ull << 18) * 0x0101010101010101ull);
    /* one walk per 2 MiB page; its other 256 KiB pieces hit the ATC */
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_WALKS), ==, 2);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_ATC_HITS), ==, 2 * (8 - 1));
    teardown(&h, &pt);
}

/*
 * The device never re-checks a cached translation: remapping a page
 * without INVALIDATE leaves the old target in use; INVALIDATE+SYNC ends it.
 */
static void test_stale_until_invalidated(void)
{
    Hmm h;
    PageTables pt;
    uint64_t a, b, buf;

    setup(&h, &pt, 16);
    a = sysmem_pages(&h, 1, 0xaa);
    b = sysmem_pages(&h, 1, 0xbb);
    buf = guest_alloc(&h.qs->alloc, 4096);
    pt_map(&pt, VA, a | HMMDEV_PTE_VALID);
    pt_flush(&h, &pt);
    ctx_enable(&h, CTX, pt.root);
    g_assert_cmpuint(wait_job(&h, submit_ctx(&h, HMMDEV_OP_COPY,
                                             HMMDEV_JOB_SRC_VA, CTX, VA, buf,
                                             64, 0)), ==, HMMDEV_JOB_OK);
    g_assert_cmpuint(qtest_readb(h.qts, buf), ==, 0xaa);

    pt_map(&pt, VA, b | HMMDEV_PTE_VALID);
    pt_flush(&h, &pt);
    g_assert_cmpuint(wait_job(&h, submit_ctx(&h, HMMDEV_OP_COPY,
                                             HMMDEV_JOB_SRC_VA, CTX, VA, buf,
                                             64, 0)), ==, HMMDEV_JOB_OK);
    g_assert_cmpuint(qtest_readb(h.qts, buf), ==, 0xaa);  /* stale */

    invalidate(&h, CTX, VA, 4096);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_ATC_INVALIDATED), ==, 1);
    g_assert_cmpuint(wait_job(&h, submit_ctx(&h, HMMDEV_OP_COPY,
                                             HMMDEV_JOB_SRC_VA, CTX, VA, buf,
                                             64, 0)), ==, HMMDEV_JOB_OK);
    g_assert_cmpuint(qtest_readb(h.qts, buf), ==, 0xbb);
    teardown(&h, &pt);
}

/* One page whose u64 word sum is @sum (first word @sum, rest zero). */
static uint64_t sum_page(Hmm *h, uint64_t sum)
{
    uint64_t page = guest_alloc(&h->qs->alloc, 4096);

    qtest_memset(h->qts, page, 0, 4096);
    qtest_writeq(h->qts, page, sum);
    return page;
}

/*
 * INVALIDATE + SYNC while a long job runs.  A CHECKSUM job reads pages
 * pages that all map to page A (sum 1).  While it runs, the test remaps
 * every page to B (sum 2^20), invalidates, syncs, and the moment the SYNC
 * fence lands overwrites A with poison (sum 2^40).  The job's checksum
 * counts how many pages it read from A, B and the poison: after SYNC no
 * page may come from the old translation, so the poison count must be 0.
 * The device is told to wait @delay_us between each translation and its
 * use, so a SYNC that did not wait for accesses in flight would be caught.
 * Returns whether the race happened (the job was still running at SYNC,
 * and read B after it); the caller repeats an attempt that lost it (on a
 * loaded host the job can finish before the test has remapped its pages).
 */
static bool invalidate_race(uint64_t pages, uint32_t delay_us)
{
    Hmm h;
    PageTables pt;
    HmmdevCompletion c;
    uint64_t a, b, comp, sum, from_a, from_b, poison;
    bool running_at_sync;
    int i;

    setup(&h, &pt, 16);
    qom_set_u32(&h, "x-inject-xlate-delay-us", delay_us);
    a = sum_page(&h, 1);
    b = sum_page(&h, 1ull << 20);
    for (i = 0; i < pages; i++) {
        pt_map(&pt, VA + i * 4096ull, a | HMMDEV_PTE_VALID);
    }
    pt_flush(&h, &pt);
    ctx_enable(&h, CTX, pt.root);

    comp = submit_ctx(&h, HMMDEV_OP_CHECKSUM, HMMDEV_JOB_SRC_VA, CTX, VA, 0,
                      pages * 4096ull, 0);
    /* let the job get going, then pull the mapping from under it */
    while (counter(&h, HMMDEV_CNT_BYTES) < pages * 4096ull / 8) {
        g_usleep(100);
    }
    for (i = 0; i < pages; i++) {
        pt_map(&pt, VA + i * 4096ull, b | HMMDEV_PTE_VALID);
    }
    pt_flush(&h, &pt);
    command(&h, HMMDEV_CMD_INVALIDATE, 0, CTX, VA, pages * 4096ull);
    g_assert_true(sync_wait(&h));
    qtest_writeq(h.qts, a, 1ull << 40);
    running_at_sync = !job_done(&h, comp, &c);

    g_assert_cmpuint(wait_job(&h, comp), ==, HMMDEV_JOB_OK);
    qtest_memread(h.qts, comp, &c, sizeof(c));
    sum = le64_to_cpu(c.result);
    from_a = sum & 0xfffff;
    from_b = (sum >> 20) & 0xfffff;
    poison = sum >> 40;
    g_test_message("pages from A %" PRIu64 ", from B %" PRIu64
                   ", poison %" PRIu64 ", job still running at SYNC: %d",
                   from_a, from_b, poison, running_at_sync);
    g_assert_cmpuint(poison, ==, 0);
    g_assert_cmpuint(from_a + from_b, ==, pages);
    g_assert_cmpuint(from_a, >, 0);
    teardown(&h, &pt);
    /* the race was real: the job went on past the SYNC, through B */
    return running_at_sync && from_b > 0;
}

#define RACE_ATTEMPTS 5

/* invalidate_race() until it wins the race, RACE_ATTEMPTS at most */
static void invalidate_race_won(uint64_t pages, uint32_t delay_us)
{
    int i;

    for (i = 0; i < RACE_ATTEMPTS && !invalidate_race(pages, delay_us); i++) {
        g_test_message("attempt %d lost the race; again", i + 1);
    }
    g_assert_cmpint(i, <, RACE_ATTEMPTS);
}

static void test_invalidate_race(void)
{
    invalidate_race_won(65536, 0);
}

static void test_invalidate_race_slow_engine(void)
{
    invalidate_race_won(256, 10000);
}

static void test_fault_retry(void)
{
    Hmm h;
    PageTables pt;
    HmmdevFault f;
    uint64_t page, buf, comp;
    HmmdevCompletion c;

    setup(&h, &pt, 16);
    page = sysmem_pages(&h, 1, 0x42);
    buf = guest_alloc(&h.qs->alloc, 4096);
    pt_map(&pt, VA + 4096, page | HMMDEV_PTE_VALID);  /* VA is not mapped */
    pt_flush(&h, &pt);
    ctx_enable(&h, CTX, pt.root);

    comp = submit_ctx(&h, HMMDEV_OP_COPY, HMMDEV_JOB_SRC_VA, CTX, VA + 8, buf,
                      64, 0);
    g_assert_true(fault_wait(&h, &f));
    g_assert_cmphex(le64_to_cpu(f.va), ==, VA + 8);
    g_assert_cmpuint(le16_to_cpu(f.context), ==, CTX);
    g_assert_cmpuint(f.access, ==, HMMDEV_ACCESS_READ);
    g_assert_cmpuint(le32_to_cpu(f.reason), ==, HMMDEV_FAULT_NOT_PRESENT);
    g_assert_true(msix_wait(&h, HMMDEV_VEC_FAULT));
    g_assert_false(job_done(&h, comp, &c));             /* stalled */

    pt_map(&pt, VA, page | HMMDEV_PTE_VALID);
    pt_flush(&h, &pt);
    respond(&h, le32_to_cpu(f.id), HMMDEV_RESPONSE_RETRY);
    g_assert_cmpuint(wait_job(&h, comp), ==, HMMDEV_JOB_OK);
    g_assert_cmpuint(qtest_readb(h.qts, buf + 63), ==, 0x42);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_FAULTS), ==, 1);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_FAULT_RETRIES), ==, 1);
    teardown(&h, &pt);
}

/*
 * FQ_RESPOND (CAPS bit 7): RETRY and ABORT at the register write, with no
 * command queued; a 32-bit write, or an id that names no stalled fault, is
 * a device error; with the command queue off the write is ignored.
 */
static void test_fault_respond_register(void)
{
    Hmm h;
    PageTables pt;
    HmmdevFault f;
    uint64_t page, buf, comp;
    HmmdevCompletion c;

    setup(&h, &pt, 16);
    g_assert_true(rd32(&h, HMMDEV_REG_CAPS) & HMMDEV_CAP_FQ_RESPOND);
    page = sysmem_pages(&h, 1, 0x37);
    buf = guest_alloc(&h.qs->alloc, 4096);
    ctx_enable(&h, CTX, pt.root);

    comp = submit_ctx(&h, HMMDEV_OP_COPY, HMMDEV_JOB_SRC_VA, CTX, VA, buf,
                      64, 0);
    g_assert_true(fault_wait(&h, &f));
    /* the queue off: ignored, the job stays stalled */
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE | HMMDEV_CTRL_FQ_ENABLE);
    qpci_io_writeq(h.dev, h.bar0, HMMDEV_REG_FQ_RESPOND,
                   le32_to_cpu(f.id) | (uint64_t)HMMDEV_RESPONSE_RETRY << 32);
    g_usleep(20000);
    g_assert_false(job_done(&h, comp, &c));
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE | HMMDEV_CTRL_CQ_ENABLE |
         HMMDEV_CTRL_FQ_ENABLE);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==, HMMDEV_ERR_NONE);

    pt_map(&pt, VA, page | HMMDEV_PTE_VALID);
    pt_flush(&h, &pt);
    qpci_io_writeq(h.dev, h.bar0, HMMDEV_REG_FQ_RESPOND,
                   le32_to_cpu(f.id) | (uint64_t)HMMDEV_RESPONSE_RETRY << 32);
    g_assert_cmpuint(wait_job(&h, comp), ==, HMMDEV_JOB_OK);
    g_assert_cmpuint(qtest_readb(h.qts, buf + 63), ==, 0x37);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_FAULT_RETRIES), ==, 1);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_COMMANDS), ==, 0);

    comp = submit_ctx(&h, HMMDEV_OP_FILL, HMMDEV_JOB_DST_VA, CTX, 0, VA, 8, 0);
    g_assert_true(fault_wait(&h, &f));      /* read-only: a write faults */
    qpci_io_writeq(h.dev, h.bar0, HMMDEV_REG_FQ_RESPOND,
                   le32_to_cpu(f.id) | (uint64_t)HMMDEV_RESPONSE_ABORT << 32);
    g_assert_cmpuint(wait_job(&h, comp), ==, HMMDEV_JOB_FAULT_ABORTED);

    /* no stalled fault by that id */
    qpci_io_writeq(h.dev, h.bar0, HMMDEV_REG_FQ_RESPOND,
                   le32_to_cpu(f.id) | (uint64_t)HMMDEV_RESPONSE_RETRY << 32);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==,
                     HMMDEV_ERR_BAD_RESPONSE);
    wr32(&h, HMMDEV_REG_ERR_CODE, HMMDEV_ERR_BAD_RESPONSE);
    /* 64-bit only */
    wr32(&h, HMMDEV_REG_FQ_RESPOND, le32_to_cpu(f.id));
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==,
                     HMMDEV_ERR_BAD_REGISTER);
    teardown(&h, &pt);
}

/* ABORT fails the job; permission faults report the access type. */
static void test_fault_abort_and_permissions(void)
{
    Hmm h;
    PageTables pt;
    HmmdevFault f;
    HmmdevCompletion c;
    uint64_t page, comp;

    setup(&h, &pt, 16);
    page = sysmem_pages(&h, 1, 0);
    pt_map(&pt, VA, page | HMMDEV_PTE_VALID);                   /* RO */
    pt_map(&pt, VA + 4096, page | RW);                          /* no A */
    pt_flush(&h, &pt);
    ctx_enable(&h, CTX, pt.root);

    comp = submit_ctx(&h, HMMDEV_OP_FILL, HMMDEV_JOB_DST_VA, CTX, 0, VA, 4096,
                      0);
    g_assert_true(fault_wait(&h, &f));
    g_assert_cmpuint(f.access, ==, HMMDEV_ACCESS_WRITE);
    g_assert_cmpuint(le32_to_cpu(f.reason), ==, HMMDEV_FAULT_PERMISSION);
    respond(&h, le32_to_cpu(f.id), HMMDEV_RESPONSE_ABORT);
    g_assert_cmpuint(wait_job(&h, comp), ==, HMMDEV_JOB_FAULT_ABORTED);
    qtest_memread(h.qts, comp, &c, sizeof(c));
    g_assert_cmpuint(le64_to_cpu(c.result), ==, 0);

    comp = submit_ctx(&h, HMMDEV_OP_ATOMIC_ADD, HMMDEV_JOB_DST_VA, CTX, 0,
                      VA + 4096, 8, 1);
    g_assert_true(fault_wait(&h, &f));
    g_assert_cmpuint(f.access, ==, HMMDEV_ACCESS_ATOMIC);
    g_assert_cmpuint(le32_to_cpu(f.reason), ==, HMMDEV_FAULT_PERMISSION);
    respond(&h, le32_to_cpu(f.id), HMMDEV_RESPONSE_ABORT);
    g_assert_cmpuint(wait_job(&h, comp), ==, HMMDEV_JOB_FAULT_ABORTED);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_FAULT_ABORTS), ==, 2);

    /* a RESPOND that names no stalled fault is a device error */
    respond(&h, le32_to_cpu(f.id), HMMDEV_RESPONSE_RETRY);
    g_assert_true(sync_wait(&h));
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==,
                     HMMDEV_ERR_BAD_RESPONSE);
    teardown(&h, &pt);
}

static void test_atomic_add(void)
{
    Hmm h;
    PageTables pt;
    HmmdevCompletion c;
    uint64_t page, comp;

    setup(&h, &pt, 16);
    page = sysmem_pages(&h, 1, 0);
    qtest_writeq(h.qts, page + 16, 1000);
    pt_map(&pt, VA, page | RW | HMMDEV_PTE_ATOMIC);
    pt_flush(&h, &pt);
    ctx_enable(&h, CTX, pt.root);
    comp = submit_ctx(&h, HMMDEV_OP_ATOMIC_ADD, HMMDEV_JOB_DST_VA, CTX, 0,
                      VA + 16, 8, 234);
    g_assert_cmpuint(wait_job(&h, comp), ==, HMMDEV_JOB_OK);
    qtest_memread(h.qts, comp, &c, sizeof(c));
    g_assert_cmpuint(le64_to_cpu(c.result), ==, 1000);
    g_assert_cmpuint(qtest_readq(h.qts, page + 16), ==, 1234);
    /* unaligned, and a length other than 8 */
    g_assert_cmpuint(wait_job(&h, submit_ctx(&h, HMMDEV_OP_ATOMIC_ADD,
                                             HMMDEV_JOB_DST_VA, CTX, 0,
                                             VA + 4, 8, 1)),
                     ==, HMMDEV_JOB_BAD_ADDRESS);
    g_assert_cmpuint(wait_job(&h, submit_ctx(&h, HMMDEV_OP_ATOMIC_ADD,
                                             HMMDEV_JOB_DST_VA, CTX, 0,
                                             VA, 16, 1)),
                     ==, HMMDEV_JOB_BAD_LENGTH);
    teardown(&h, &pt);
}

/*
 * A fault queue with 2 slots holds one record: with both engines faulting,
 * the second fault is lost -- its job fails FAULT_LOST, STATUS shows the
 * overflow, the error vector fires.  With the queue off, faults are lost.
 */
static void test_fault_overflow(void)
{
    Hmm h;
    PageTables pt;
    HmmdevFault f;
    HmmdevCompletion c;
    uint64_t buf, comp[2];
    int lost;

    setup(&h, &pt, 2);
    buf = guest_alloc(&h.qs->alloc, 4096);
    pt_flush(&h, &pt);                                  /* nothing mapped */
    ctx_enable(&h, CTX, pt.root);
    comp[0] = submit_ctx(&h, HMMDEV_OP_COPY, HMMDEV_JOB_SRC_VA, CTX, VA, buf,
                         64, 0);
    comp[1] = submit_ctx(&h, HMMDEV_OP_COPY, HMMDEV_JOB_SRC_VA, CTX,
                         VA + 4096, buf, 64, 0);
    g_assert_true(msix_wait(&h, HMMDEV_VEC_ERROR));
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==,
                     HMMDEV_ERR_FQ_OVERFLOW);
    g_assert_true(rd32(&h, HMMDEV_REG_STATUS) & HMMDEV_STATUS_FQ_OVERFLOW);
    g_assert_cmpuint(counter(&h, HMMDEV_CNT_FAULTS_LOST), ==, 1);
    /* exactly one job failed, the other is stalled on its recorded fault */
    while (!job_done(&h, comp[0], &c) && !job_done(&h, comp[1], &c)) {
        g_usleep(100);
    }
    lost = job_done(&h, comp[0], &c) ? 0 : 1;
    g_assert_cmpuint(wait_job(&h, comp[lost]), ==, HMMDEV_JOB_FAULT_LOST);
    g_assert_false(job_done(&h, comp[!lost], &c));
    g_assert_true(fault_wait(&h, &f));
    respond(&h, le32_to_cpu(f.id), HMMDEV_RESPONSE_ABORT);
    g_assert_cmpuint(wait_job(&h, comp[!lost]), ==,
                     HMMDEV_JOB_FAULT_ABORTED);

    /* fault queue off: the fault cannot be reported */
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_ENABLE | HMMDEV_CTRL_CQ_ENABLE);
    g_assert_cmpuint(wait_job(&h, submit_ctx(&h, HMMDEV_OP_COPY,
                                             HMMDEV_JOB_SRC_VA, CTX, VA, buf,
                                             64, 0)),
                     ==, HMMDEV_JOB_FAULT_LOST);
    teardown(&h, &pt);
}

/*
 * A reset releases a job stalled on a fault; it writes no completion.
 * The reset is complete when the register write returns: nothing to wait
 * for.
 */
static void test_reset_while_stalled(void)
{
    Hmm h;
    PageTables pt;
    HmmdevFault f;
    HmmdevCompletion c;
    uint64_t buf, comp;

    setup(&h, &pt, 16);
    buf = guest_alloc(&h.qs->alloc, 4096);
    pt_flush(&h, &pt);
    ctx_enable(&h, CTX, pt.root);
    comp = submit_ctx(&h, HMMDEV_OP_COPY, HMMDEV_JOB_SRC_VA, CTX, VA, buf, 64,
                      0);
    g_assert_true(fault_wait(&h, &f));
    g_assert_true(rd32(&h, HMMDEV_REG_STATUS) & HMMDEV_STATUS_BUSY);
    wr32(&h, HMMDEV_REG_CTRL, HMMDEV_CTRL_RESET);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_STATUS), ==, 0);
    g_assert_false(job_done(&h, comp, &c));
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_CTX_BASE + CTX * HMMDEV_CTX_STRIDE +
                          HMMDEV_CTX_CTRL), ==, 0);
    teardown(&h, &pt);
}

/* Malformed PTEs, contexts and commands: statuses and device errors. */
static void test_malformed(void)
{
    static const uint64_t bad_leaf[] = {
        HMMDEV_PTE_VALID | (1ull << 6),                 /* reserved bit */
        HMMDEV_PTE_VALID | (1ull << 60),                /* reserved bit */
        HMMDEV_PTE_VALID | HMMDEV_PTE_HUGE,             /* huge at level 1 */
        HMMDEV_PTE_VALID | HMMDEV_PTE_VRAM | (64ull << 20),  /* past VRAM */
    };
    static const HmmdevCommand bad_cmd[] = {
        { .opcode = 0x7f },
        { .opcode = HMMDEV_CMD_INVALIDATE, .flags = 0x80 },
        { .opcode = HMMDEV_CMD_INVALIDATE, .context = 64, .arg1 = 4096 },
        { .opcode = HMMDEV_CMD_INVALIDATE, .arg0 = 1ull << 48, .arg1 = 1 },
        { .opcode = HMMDEV_CMD_INVALIDATE, .arg1 = 0 },
        { .opcode = HMMDEV_CMD_SYNC, .arg0 = 4 },
        { .opcode = HMMDEV_CMD_SYNC, .rsvd = 1 },
    };
    Hmm h;
    PageTables pt;
    uint64_t page, buf;
    uint32_t errs;
    size_t i;

    setup(&h, &pt, 16);
    page = sysmem_pages(&h, 1, 0);
    buf = guest_alloc(&h.qs->alloc, 4096);
    ctx_enable(&h, CTX, pt.root);
    for (i = 0; i < G_N_ELEMENTS(bad_leaf); i++) {
        *pt_slot(&pt, VA, 1) = bad_leaf[i] |
                               (bad_leaf[i] & HMMDEV_PTE_VRAM ? 0 : page);
        pt_flush(&h, &pt);
        invalidate(&h, CTX, VA, 4096);
        errs = rd32(&h, HMMDEV_REG_ERR_COUNT);
        g_assert_cmpuint(wait_job(&h, submit_ctx(&h, HMMDEV_OP_COPY,
                                                 HMMDEV_JOB_SRC_VA, CTX, VA,
                                                 buf, 64, 0)),
                         ==, HMMDEV_JOB_BAD_PTE);
        g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==,
                         HMMDEV_ERR_BAD_PTE);
        g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_COUNT), ==, errs + 1);
    }
    /* a table entry pointing past VRAM */
    *pt_slot(&pt, VA, 2) = (63ull << 20) | HMMDEV_PTE_VALID;
    pt_flush(&h, &pt);
    invalidate(&h, CTX, VA, 4096);
    g_assert_cmpuint(wait_job(&h, submit_ctx(&h, HMMDEV_OP_COPY,
                                             HMMDEV_JOB_SRC_VA, CTX, VA, buf,
                                             64, 0)), ==, HMMDEV_JOB_BAD_PTE);
    /* VA beyond 48 bits; a disabled context; context 64 */
    g_assert_cmpuint(wait_job(&h, submit_ctx(&h, HMMDEV_OP_COPY,
                                             HMMDEV_JOB_SRC_VA, CTX,
                                             1ull << 48, buf, 64, 0)),
                     ==, HMMDEV_JOB_BAD_ADDRESS);
    g_assert_cmpuint(wait_job(&h, submit_ctx(&h, HMMDEV_OP_COPY,
                                             HMMDEV_JOB_SRC_VA, CTX + 1, VA,
                                             buf, 64, 0)),
                     ==, HMMDEV_JOB_BAD_CONTEXT);
    g_assert_cmpuint(wait_job(&h, submit_ctx(&h, HMMDEV_OP_COPY,
                                             HMMDEV_JOB_SRC_VA, 64, VA, buf,
                                             64, 0)),
                     ==, HMMDEV_JOB_BAD_CONTEXT);
    /* enabling a context whose root lies outside VRAM */
    ctx_enable(&h, 7, VRAM_SIZE);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==,
                     HMMDEV_ERR_BAD_CONTEXT);
    g_assert_cmpuint(rd32(&h, HMMDEV_REG_CTX_BASE + 7 * HMMDEV_CTX_STRIDE +
                          HMMDEV_CTX_CTRL), ==, 0);
    /* malformed commands: each a BAD_COMMAND, the queue goes on */
    for (i = 0; i < G_N_ELEMENTS(bad_cmd); i++) {
        errs = rd32(&h, HMMDEV_REG_ERR_COUNT);
        qtest_memwrite(h.qts, h.cq + h.cq_tail * HMMDEV_CMD_SIZE, &bad_cmd[i],
                       sizeof(bad_cmd[i]));
        h.cq_tail = (h.cq_tail + 1) % CQ_ENTRIES;
        wr32(&h, HMMDEV_REG_CQ_TAIL, h.cq_tail);
        g_assert_true(sync_wait(&h));
        g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_CODE), ==,
                         HMMDEV_ERR_BAD_COMMAND);
        g_assert_cmpuint(rd32(&h, HMMDEV_REG_ERR_COUNT), ==, errs + 1);
    }
    teardown(&h, &pt);
}

/*
 * Benchmark (run with -m perf): VA->VA copy bandwidth with a warm ATC,
 * against memcpy() of the same size in this process, on the same machine,
 * in memory allocated like guest RAM (2 MiB aligned, THP).
 * Device time comes from the device's clock: TIMESTAMP before the doorbell
 * to the completion record's timestamp.
 */
/* Host memory like QEMU's guest RAM: 2 MiB aligned, transparent huge pages. */
static uint8_t *bench_alloc(size_t len)
{
    void *p = NULL;

    g_assert_cmpint(posix_memalign(&p, 2 << 20, len), ==, 0);
    madvise(p, len, MADV_HUGEPAGE);
    return p;
}

static double best_memcpy_mibs(size_t len, int runs)
{
    uint8_t *a = bench_alloc(len);
    uint8_t *b = bench_alloc(len);
    double best = 0;
    int i;

    memset(a, 1, len);
    memset(b, 2, len);
    for (i = 0; i < runs; i++) {
        gint64 t0 = g_get_monotonic_time();

        memcpy(b, a, len);
        best = MAX(best, len / 1048576.0 /
                   ((g_get_monotonic_time() - t0) / 1e6));
        a[i] = b[len - 1 - i];      /* keep the copies observable */
    }
    free(a);
    free(b);
    return best;
}

/*
 * One COPY job of @len bytes between two VA ranges (@page pages), the
 * destination @skew bytes into its first page, best of five with a warm
 * ATC, against the host's memcpy() of aligned buffers.
 */
static void bench_copy(uint64_t page, uint64_t len, uint64_t skew,
                       const char *extra)
{
    Hmm h;
    PageTables pt;
    uint64_t src, dst, off, hits = 0, misses = 0, best_ns = UINT64_MAX;
    uint64_t flags = HMMDEV_PTE_VALID | HMMDEV_PTE_WRITE |
                     (page == (2 << 20) ? HMMDEV_PTE_HUGE : 0);
    double engine, host;
    int i;

    hmm_start(&h, extra);
    ring_setup(&h);
    queues_setup(&h, 16);
    pt_init(&pt);
    src = ROUND_UP(guest_alloc(&h.qs->alloc, len + page), page);
    dst = ROUND_UP(guest_alloc(&h.qs->alloc, len + 2 * page), page);
    qtest_memset(h.qts, src, 0x3c, len);
    for (off = 0; off < len + (skew ? page : 0); off += page) {
        if (off < len) {
            pt_map(&pt, VA + off, (src + off) | flags);
        }
        pt_map(&pt, VA + (1ull << 36) + off, (dst + off) | flags);
    }
    pt_flush(&h, &pt);
    ctx_enable(&h, CTX, pt.root);
    /*
     * Host time around submission and completion: under -accel qtest the
     * device's TIMESTAMP (the virtual clock) does not move by itself.
     */
    for (i = 0; i < 6; i++) {
        uint64_t t0 = g_get_monotonic_time() * 1000, comp;

        if (i == 1) {   /* the first run warms the ATC */
            hits = counter(&h, HMMDEV_CNT_ATC_HITS);
            misses = counter(&h, HMMDEV_CNT_ATC_MISSES);
        }
        comp = submit_ctx(&h, HMMDEV_OP_COPY,
                          HMMDEV_JOB_SRC_VA | HMMDEV_JOB_DST_VA, CTX, VA,
                          VA + (1ull << 36) + skew, len, 0);
        g_assert_cmpuint(wait_job(&h, comp), ==, HMMDEV_JOB_OK);
        if (i > 0) {
            best_ns = MIN(best_ns, g_get_monotonic_time() * 1000 - t0);
        }
    }
    g_assert_cmpuint(qtest_readb(h.qts, dst + skew + len - 1), ==, 0x3c);
    hits = counter(&h, HMMDEV_CNT_ATC_HITS) - hits;
    misses = counter(&h, HMMDEV_CNT_ATC_MISSES) - misses;
    engine = len / 1048576.0 / (best_ns / 1e9);
    host = best_memcpy_mibs(len, 5);
    g_assert_cmpuint(best_ns, >, 0);
    g_test_message("bench copy VA->VA %" PRIu64 " MiB, %s pages%s: engine "
                   "%.0f MiB/s, host memcpy %.0f MiB/s, ratio %.2f; ATC hit "
                   "rate %.4f (%" PRIu64 " hits, %" PRIu64 " misses)",
                   len >> 20, page == 4096 ? "4 KiB" : "2 MiB",
                   skew ? ", destination 16 bytes into its page" : "",
                   engine, host,
                   engine / host, (double)hits / (hits + misses), hits,
                   misses);
    g_free(pt.shadow);
    hmm_stop(&h);
}

static void bench_copy_2m(void)
{
    bench_copy(2 << 20, 64 << 20, 0, " -m 512M");
}

/* as READ into a malloc()ed buffer (hmmdev_copy_bytes()) */
static void bench_copy_2m_skewed(void)
{
    bench_copy(2 << 20, 64 << 20, 16, " -m 512M");
}

static void bench_copy_4k(void)
{
    /* an ATC large enough for both 32 MiB ranges: 16384 entries */
    bench_copy(4096, 32 << 20, 0, ",atc-sets=2048,atc-ways=8 -m 512M");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/hmmdev/mmu/walk-and-atc", test_walk_and_atc);
    qtest_add_func("/hmmdev/mmu/dirty", test_dirty);
    qtest_add_func("/hmmdev/mmu/huge", test_huge);
    qtest_add_func("/hmmdev/mmu/stale-until-invalidated",
                   test_stale_until_invalidated);
    qtest_add_func("/hmmdev/mmu/invalidate-race", test_invalidate_race);
    qtest_add_func("/hmmdev/mmu/invalidate-race-slow-engine",
                   test_invalidate_race_slow_engine);
    qtest_add_func("/hmmdev/mmu/fault-retry", test_fault_retry);
    qtest_add_func("/hmmdev/mmu/fault-respond-register",
                   test_fault_respond_register);
    qtest_add_func("/hmmdev/mmu/fault-abort-permissions",
                   test_fault_abort_and_permissions);
    qtest_add_func("/hmmdev/mmu/atomic-add", test_atomic_add);
    qtest_add_func("/hmmdev/mmu/fault-overflow", test_fault_overflow);
    qtest_add_func("/hmmdev/mmu/reset-while-stalled",
                   test_reset_while_stalled);
    qtest_add_func("/hmmdev/mmu/malformed", test_malformed);
    if (g_test_perf()) {
        qtest_add_func("/hmmdev/mmu/bench-copy-2m", bench_copy_2m);
        qtest_add_func("/hmmdev/mmu/bench-copy-2m-skewed",
                       bench_copy_2m_skewed);
        qtest_add_func("/hmmdev/mmu/bench-copy-4k", bench_copy_4k);
    }
    return g_test_run();
}
