/*
 * hmmdev: the gate, the job queue and the engine threads.
 *
 * The gate.  Every guest-visible access of an engine or of the command
 * thread -- a descriptor or command fetch, a piece of a job (translation,
 * mapping, the data operation), a completion record, a fault record, a
 * SYNC fence, the interrupt that announces them -- happens between
 * hmmdev_gate_enter() and hmmdev_gate_exit().  Entering fails once the
 * device generation moved (a reset) or the device is being unplugged, and
 * waits while the VM is stopped or a quiesce is in progress.  A quiesce
 * (hmmdev_quiesce, under the BQL) lets no new thread in and waits until
 * the ones inside have left: after a reset, a VM stop or bus mastering
 * turned off, no access from before reaches memory.  Nothing inside the
 * gate waits for the BQL or for another thread's progress (system memory
 * is reached only where it is RAM; an interrupt is latched inside and sent
 * after the gate is left, hmmdev-pci.c), so a quiesce is bounded by one
 * piece of work: at most HMMDEV_CHUNK bytes.  A thread takes the BQL only
 * to send interrupts, outside the gate, holding no lock and not counted
 * busy.
 *
 * Locking: jq_lock protects the ring registers, enable and busy.  One
 * engine at a time reads the head slot (jq_fetching), outside jq_lock;
 * JQ_HEAD moves past the slot only after it was read and only if the ring
 * was not reconfigured meanwhile (jq_ring_gen).  Lock order: jq_lock,
 * cq_lock, fq_write_lock and fq_lock before gate_lock; atc_lock and
 * sync_lock are leaves.  No lock is held while memory is accessed, except
 * fq_write_lock (hmmdev-queues.c), which only engines take.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/rcu.h"
#include "qemu/log.h"
#include "qemu/timer.h"
#include "qemu/bswap.h"
#include "hw/pci/pci.h"
#include "hmmdev.h"
#include "trace.h"

/* ---- the gate ---- */

uint32_t hmmdev_generation(HmmdevState *s)
{
    return qatomic_read(&s->generation);
}

/* gate_lock held */
static bool hmmdev_gate_gone(HmmdevState *s, uint32_t gen)
{
    return s->generation != gen || s->quit;
}

/*
 * A function that fell off the bus (hmmdev-link.c) keeps its threads
 * waiting here until it is unplugged: it makes no progress, ever.
 */
bool hmmdev_gate_enter(HmmdevState *s, uint32_t gen)
{
    bool ok;

    qemu_mutex_lock(&s->gate_lock);
    while ((s->gate_paused || s->gate_draining || hmmdev_gone(s)) &&
           !hmmdev_gate_gone(s, gen)) {
        qemu_cond_wait(&s->gate_cond, &s->gate_lock);
    }
    ok = !hmmdev_gate_gone(s, gen);
    s->gate_active += ok;
    qemu_mutex_unlock(&s->gate_lock);
    return ok;
}

void hmmdev_gate_exit(HmmdevState *s)
{
    qemu_mutex_lock(&s->gate_lock);
    if (--s->gate_active == 0) {
        qemu_cond_broadcast(&s->gate_cond);
    }
    qemu_mutex_unlock(&s->gate_lock);
}

/*
 * Inside the gate: sleep @us microseconds (fault injection).  Returns
 * false, early, when a reset, an unplug, a VM stop or a quiesce wants the
 * gate empty; the caller then abandons its piece of work and leaves.
 */
bool hmmdev_gate_sleep(HmmdevState *s, uint32_t gen, uint32_t us)
{
    int64_t end = qemu_clock_get_us(QEMU_CLOCK_REALTIME) + us;
    int64_t left;
    bool ok;

    qemu_mutex_lock(&s->gate_lock);
    for (;;) {
        ok = !hmmdev_gate_gone(s, gen) && !s->gate_paused &&
             !s->gate_draining && !hmmdev_gone(s);
        left = end - qemu_clock_get_us(QEMU_CLOCK_REALTIME);
        if (!ok || left <= 0) {
            break;
        }
        qemu_cond_timedwait(&s->gate_cond, &s->gate_lock,
                            MIN(DIV_ROUND_UP(left, 1000), 1000));
    }
    qemu_mutex_unlock(&s->gate_lock);
    return ok;
}

/*
 * Read @len bytes of system memory at @addr in the gate of generation
 * @gen: 1 when read, 0 when unreadable, -1 when the device was reset.
 */
int hmmdev_gate_read(HmmdevState *s, uint32_t gen, uint64_t addr, void *buf,
                     size_t len)
{
    MemTxResult res;

    if (!hmmdev_gate_enter(s, gen)) {
        return -1;
    }
    res = hmmdev_sysmem_rw(s, addr, buf, len, DMA_DIRECTION_TO_DEVICE);
    hmmdev_gate_exit(s);
    return res == MEMTX_OK;
}

/* BQL held.  Let no thread in, wait for those inside, open again. */
void hmmdev_quiesce(HmmdevState *s)
{
    qemu_mutex_lock(&s->gate_lock);
    trace_hmmdev_quiesce(s->gate_active);
    s->gate_draining++;
    qemu_cond_broadcast(&s->gate_cond);     /* ends injected sleeps */
    while (s->gate_active) {
        qemu_cond_wait(&s->gate_cond, &s->gate_lock);
    }
    s->gate_draining--;
    qemu_cond_broadcast(&s->gate_cond);
    qemu_mutex_unlock(&s->gate_lock);
}

/* BQL held: the VM stops (nothing passes the gate until it runs again). */
void hmmdev_gate_pause(HmmdevState *s, bool paused)
{
    trace_hmmdev_pause(paused);
    qemu_mutex_lock(&s->gate_lock);
    s->gate_paused = paused;
    qemu_cond_broadcast(&s->gate_cond);
    qemu_mutex_unlock(&s->gate_lock);
    if (paused) {
        hmmdev_quiesce(s);
    }
}

/* Reset or unplug: everything in flight drops at its next gate entry. */
static void hmmdev_gate_new_generation(HmmdevState *s, bool quit)
{
    qemu_mutex_lock(&s->gate_lock);
    qatomic_set(&s->generation, s->generation + 1);
    if (quit) {
        qatomic_set(&s->quit, true);
    }
    qemu_cond_broadcast(&s->gate_cond);
    qemu_mutex_unlock(&s->gate_lock);
}

/* ---- jobs ---- */

/* Job statuses that mean the guest wrote a bad descriptor. */
static bool hmmdev_status_is_guest_error(uint32_t status)
{
    return status != HMMDEV_JOB_OK && status != HMMDEV_JOB_DMA_ERROR &&
           status != HMMDEV_JOB_FAULT_ABORTED &&
           status != HMMDEV_JOB_FAULT_LOST &&
           status != HMMDEV_JOB_STALE_TRANSLATION;
}

/* Inside the gate. */
static void hmmdev_complete(HmmdevEngine *e, const HmmdevJobDesc *d,
                            uint32_t index, uint32_t status, uint64_t result)
{
    HmmdevState *s = e->s;
    HmmdevCompletion c = {
        .fence = cpu_to_le64(d->fence),
        .status = cpu_to_le32(status),
        .engine = cpu_to_le32(e->id),
        .result = cpu_to_le64(result),
        .timestamp = cpu_to_le64(hmmdev_now()),
    };

    trace_hmmdev_job_end(s->trace_name, le64_to_cpu(c.timestamp), e->id, index,
                         status, d->fence, result);
    if (hmmdev_status_is_guest_error(status)) {
        qemu_log_mask(LOG_GUEST_ERROR, "hmmdev: job %u (opcode %u) failed "
                      "its checks: status %u\n", index, d->opcode, status);
    }
    hmmdev_count(s, status == HMMDEV_JOB_OK ? HMMDEV_CNT_JOBS_DONE
                                            : HMMDEV_CNT_JOBS_FAILED, 1);
    if (d->completion &&
        (d->completion % sizeof(c) ||
         hmmdev_sysmem_rw(s, d->completion, &c, sizeof(c),
                          DMA_DIRECTION_FROM_DEVICE))) {
        hmmdev_device_error(s, HMMDEV_ERR_COMPLETION);
    }
    if (d->flags & HMMDEV_JOB_IRQ) {
        hmmdev_raise_deferred(s, HMMDEV_VEC_JOB);
    }
}

static void hmmdev_desc_to_cpu(HmmdevJobDesc *d)
{
    le16_to_cpus(&d->context);
    le32_to_cpus(&d->rsvd0);
    le64_to_cpus(&d->src);
    le64_to_cpus(&d->dst);
    le64_to_cpus(&d->length);
    le64_to_cpus(&d->value);
    le64_to_cpus(&d->completion);
    le64_to_cpus(&d->fence);
    le64_to_cpus(&d->rsvd1);
}

/*
 * An engine in the middle of a job (counted in busy), out of the gate and
 * holding no lock: send its interrupts now (hmmdev_irq_flush()).  While it
 * waits for the BQL it does not count as busy: a reset holds the BQL and
 * waits for busy engines.  Whatever the job does next goes through the gate
 * of its generation, which such a reset has ended.
 */
void hmmdev_engine_irq_flush(HmmdevEngine *e)
{
    HmmdevState *s = e->s;

    if (!s->irq_direct || !qatomic_read(&s->irq_pending)) {
        return;
    }
    qemu_mutex_lock(&s->jq_lock);
    if (--s->busy == 0) {
        qemu_cond_broadcast(&s->jq_cond);
    }
    qemu_mutex_unlock(&s->jq_lock);
    hmmdev_irq_flush(s);
    qemu_mutex_lock(&s->jq_lock);
    s->busy++;
    qemu_mutex_unlock(&s->jq_lock);
}

/* Run the job fetched from slot @index, then complete it. */
static void hmmdev_run_job(HmmdevEngine *e, HmmdevJobDesc *d, uint32_t index)
{
    HmmdevState *s = e->s;
    uint64_t done = 0;
    int status;

    hmmdev_desc_to_cpu(d);
    e->job_index = index;
    trace_hmmdev_job_start(s->trace_name, hmmdev_now(), e->id, index, d->fence,
                           d->opcode, d->src, d->dst, d->length);
    status = hmmdev_job_check(s, d);
    if (status == HMMDEV_JOB_OK) {
        status = hmmdev_job_execute(e, d, &done);
    }
    if (status >= 0 && hmmdev_gate_enter(s, e->gen)) {
        hmmdev_complete(e, d, index, status, done);
        hmmdev_gate_exit(s);
    } else {
        trace_hmmdev_job_dropped(s->trace_name, hmmdev_now(), e->id, index);
    }
}

/*
 * jq_lock held, the head slot is ours to read (jq_fetching).  Read it
 * without the lock; true when it was read and the ring is unchanged, with
 * JQ_HEAD moved past it.
 */
static bool hmmdev_fetch_job(HmmdevEngine *e, HmmdevJobDesc *d,
                             uint32_t *index)
{
    HmmdevState *s = e->s;
    uint32_t ring_gen = s->jq_ring_gen;
    uint64_t addr;
    int read;

    *index = s->jq_head;
    addr = s->jq_base + *index * sizeof(*d);
    e->gen = hmmdev_generation(s);
    qemu_mutex_unlock(&s->jq_lock);
    read = hmmdev_gate_read(s, e->gen, addr, d, sizeof(*d));
    qemu_mutex_lock(&s->jq_lock);
    s->jq_fetching = false;
    qemu_cond_broadcast(&s->jq_cond);
    if (read < 0 || ring_gen != s->jq_ring_gen || !s->jq_enabled) {
        return false;               /* reset or reconfigured: fetch again */
    }
    if (!read) {
        /* the ring is unreadable: stop it, as the spec says */
        s->jq_enabled = false;
        s->jq_ring_gen++;
        qemu_mutex_unlock(&s->jq_lock);
        hmmdev_device_error(s, HMMDEV_ERR_FETCH);
        qemu_mutex_lock(&s->jq_lock);
        return false;
    }
    s->jq_head = (*index + 1) & (s->jq_entries - 1);
    return true;
}

static void *hmmdev_engine_thread(void *opaque)
{
    HmmdevEngine *e = opaque;
    HmmdevState *s = e->s;
    HmmdevJobDesc d;
    uint32_t index;

    rcu_register_thread();
    qemu_mutex_lock(&s->jq_lock);
    while (!qatomic_read(&s->quit)) {
        if (!s->jq_enabled || s->jq_head == s->jq_tail || s->jq_fetching) {
            qemu_cond_wait(&s->jq_cond, &s->jq_lock);
            continue;
        }
        s->jq_fetching = true;
        if (!hmmdev_fetch_job(e, &d, &index)) {
            continue;
        }
        s->busy++;
        qemu_mutex_unlock(&s->jq_lock);

        hmmdev_run_job(e, &d, index);

        qemu_mutex_lock(&s->jq_lock);
        if (--s->busy == 0) {
            qemu_cond_broadcast(&s->jq_cond);   /* a reset may wait */
        }
        /* the completion's interrupt: not busy, out of the gate, no lock */
        if (qatomic_read(&s->irq_pending)) {
            qemu_mutex_unlock(&s->jq_lock);
            hmmdev_irq_flush(s);
            qemu_mutex_lock(&s->jq_lock);
        }
    }
    qemu_mutex_unlock(&s->jq_lock);
    rcu_unregister_thread();
    return NULL;
}

void hmmdev_engines_start(HmmdevState *s)
{
    unsigned i;

    qatomic_set(&s->quit, false);
    for (i = 0; i < s->num_engines; i++) {
        HmmdevEngine *e = &s->engines[i];

        e->s = s;
        e->id = i;
        e->bounce = g_malloc(HMMDEV_CHUNK + 8);
        qemu_thread_create(&e->thread, "hmmdev-engine", hmmdev_engine_thread,
                           e, QEMU_THREAD_JOINABLE);
    }
}

/* Wake every thread that may wait for something a reset or unplug ends. */
static void hmmdev_wake_all(HmmdevState *s)
{
    qemu_mutex_lock(&s->jq_lock);
    qemu_cond_broadcast(&s->jq_cond);
    qemu_mutex_unlock(&s->jq_lock);
    hmmdev_queues_reset(s);         /* stalled engines, the command thread */
    qemu_mutex_lock(&s->sync_lock);
    qemu_cond_broadcast(&s->sync_cond);
    qemu_mutex_unlock(&s->sync_lock);
}

void hmmdev_engines_stop(HmmdevState *s)
{
    unsigned i;

    hmmdev_gate_new_generation(s, true);
    hmmdev_wake_all(s);
    for (i = 0; i < s->num_engines; i++) {
        qemu_thread_join(&s->engines[i].thread);
        g_free(s->engines[i].bounce);
    }
}

/*
 * BQL held.  Device reset (SPEC.rst "Reset"): everything in flight drops;
 * returns once no engine runs a job and no thread is inside the gate.
 */
void hmmdev_jq_reset(HmmdevState *s)
{
    hmmdev_gate_new_generation(s, false);
    qemu_mutex_lock(&s->jq_lock);
    s->jq_enabled = false;
    s->jq_base = 0;
    s->jq_entries = 0;
    s->jq_head = 0;
    s->jq_tail = 0;
    s->jq_ring_gen++;
    qemu_mutex_unlock(&s->jq_lock);
    hmmdev_wake_all(s);
    qemu_mutex_lock(&s->jq_lock);
    while (s->busy) {
        qemu_cond_wait(&s->jq_cond, &s->jq_lock);
    }
    qemu_mutex_unlock(&s->jq_lock);
    hmmdev_quiesce(s);              /* the command thread's fence writes */
}

uint64_t hmmdev_jq_read(HmmdevState *s, hwaddr addr)
{
    uint64_t val = 0;

    qemu_mutex_lock(&s->jq_lock);
    switch (addr) {
    case HMMDEV_REG_CTRL:
        val = s->jq_enabled ? HMMDEV_CTRL_ENABLE : 0;
        break;
    case HMMDEV_REG_STATUS:
        val = (s->jq_enabled ? HMMDEV_STATUS_ENABLED : 0) |
              (s->busy || (s->jq_enabled && s->jq_head != s->jq_tail) ?
               HMMDEV_STATUS_BUSY : 0) |
              (qatomic_read(&s->err_code) ? HMMDEV_STATUS_ERROR : 0);
        break;
    case HMMDEV_REG_JQ_BASE:
        val = s->jq_base;
        break;
    case HMMDEV_REG_JQ_ENTRIES:
        val = s->jq_entries;
        break;
    case HMMDEV_REG_JQ_TAIL:
        val = s->jq_tail;
        break;
    case HMMDEV_REG_JQ_HEAD:
        val = s->jq_head;
        break;
    }
    qemu_mutex_unlock(&s->jq_lock);
    return val;
}

/* CTRL (enable), JQ_BASE (32 or 64 bit), JQ_ENTRIES, JQ_TAIL */
void hmmdev_jq_write(HmmdevState *s, hwaddr addr, uint64_t val, unsigned size)
{
    uint32_t err = HMMDEV_ERR_NONE;

    qemu_mutex_lock(&s->jq_lock);
    switch (addr) {
    case HMMDEV_REG_CTRL:
        if (!(val & HMMDEV_CTRL_ENABLE)) {
            s->jq_ring_gen += s->jq_enabled;
            s->jq_enabled = false;
        } else if (!hmmdev_ring_ok(s->jq_base, s->jq_entries,
                                   HMMDEV_JOB_DESC_SIZE)) {
            err = HMMDEV_ERR_BAD_RING;
        } else {
            s->jq_enabled = true;
            qemu_cond_broadcast(&s->jq_cond);
        }
        trace_hmmdev_jq_enable(s->jq_enabled, s->jq_base, s->jq_entries);
        break;
    case HMMDEV_REG_JQ_BASE:
    case HMMDEV_REG_JQ_BASE + 4:
    case HMMDEV_REG_JQ_ENTRIES:
        if (s->jq_enabled) {
            err = HMMDEV_ERR_RING_BUSY;
        } else if (addr == HMMDEV_REG_JQ_ENTRIES) {
            s->jq_entries = val;
            s->jq_head = s->jq_tail = 0;
        } else {
            hmmdev_set_base(&s->jq_base, addr, HMMDEV_REG_JQ_BASE, val, size);
        }
        s->jq_ring_gen++;
        break;
    case HMMDEV_REG_JQ_TAIL:
        if (!s->jq_entries || val >= s->jq_entries) {
            err = HMMDEV_ERR_BAD_TAIL;
            break;
        }
        s->jq_tail = val;
        hmmdev_count(s, HMMDEV_CNT_DOORBELLS, 1);
        trace_hmmdev_jq_doorbell(s->trace_name, hmmdev_now(), s->jq_tail,
                                 s->jq_head);
        qemu_cond_broadcast(&s->jq_cond);
        break;
    }
    qemu_mutex_unlock(&s->jq_lock);
    if (err) {
        hmmdev_device_error(s, err);
    }
}
