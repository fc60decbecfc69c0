/*
 * hmmdev: the command queue (INVALIDATE, SYNC, RESPOND) and the fault
 * queue.
 *
 * The command queue is served by a thread of its own, in ring order; each
 * command is complete when CQ_HEAD moves past it.  An engine that cannot
 * translate writes a fault record and stalls on its fault_cond (fq_lock)
 * until a RESPOND names its fault id, or the device is reset.  A stalled
 * engine holds no translation marker, so a SYNC never waits for a fault
 * that only a later command can answer.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/timer.h"
#include "qemu/rcu.h"
#include "hmmdev.h"
#include "trace.h"

/* A ring of @entries elements of @size bytes at bus address @base. */
bool hmmdev_ring_ok(uint64_t base, uint32_t entries, unsigned size)
{
    return base && base % size == 0 && entries >= 2 && entries <= 65536 &&
           is_power_of_2(entries) && base + (uint64_t)entries * size > base;
}

/* ---- fault queue ---- */

/*
 * Write the fault record @rec and publish it (FQ_TAIL, vector FAULT).
 * Returns false when it could not be reported (queue off, full, or the
 * record unwritable; *@err says which device error that is) or when the
 * device was reset meanwhile (*@dropped).
 */
static bool hmmdev_fault_report(HmmdevEngine *e, HmmdevFault *rec,
                                uint32_t *err, bool *dropped)
{
    HmmdevState *s = e->s;
    uint32_t ring_gen, limit;
    uint64_t addr;
    bool written, ok = false;

    /* one writer at a time, so records are published in ring order */
    qemu_mutex_lock(&s->fq_write_lock);
    if (!hmmdev_gate_enter(s, e->gen)) {
        qemu_mutex_unlock(&s->fq_write_lock);
        *dropped = true;
        return false;
    }
    qemu_mutex_lock(&s->fq_lock);
    if (!s->fq_enabled) {
        goto out;
    }
    if (hmmdev_inject_take(s, &s->inject_fq_full)) {
        trace_hmmdev_inject("fault queue full", s->fq_tail);
        s->fq_overflow = true;
        *err = HMMDEV_ERR_FQ_OVERFLOW;
        goto out;
    }
    limit = qatomic_read(&s->inject_fq_limit);
    if (limit && (s->fq_tail + s->fq_entries - s->fq_head) % s->fq_entries >=
        limit && (s->fq_tail + 1) % s->fq_entries != s->fq_head) {
        hmmdev_count(s, HMMDEV_CNT_INJECTED, 1);    /* lost to the limit */
        trace_hmmdev_inject("fault queue limit", limit);
        s->fq_overflow = true;
        *err = HMMDEV_ERR_FQ_OVERFLOW;
        goto out;
    }
    if ((s->fq_tail + 1) % s->fq_entries == s->fq_head) {
        s->fq_overflow = true;
        *err = HMMDEV_ERR_FQ_OVERFLOW;
        goto out;
    }
    ring_gen = s->fq_ring_gen;
    addr = s->fq_base + s->fq_tail * sizeof(*rec);
    qemu_mutex_unlock(&s->fq_lock);
    written = hmmdev_sysmem_rw(s, addr, rec, sizeof(*rec),
                               DMA_DIRECTION_FROM_DEVICE) == MEMTX_OK;
    qemu_mutex_lock(&s->fq_lock);
    if (!written) {
        *err = HMMDEV_ERR_FQ_WRITE;
    } else if (ring_gen == s->fq_ring_gen) {
        s->fq_tail = (s->fq_tail + 1) % s->fq_entries;
        if ((s->fq_tail + 1) % s->fq_entries != s->fq_head &&
            hmmdev_inject_take(s, &s->inject_duplicate_faults)) {
            /* fault injection: the same record once more */
            trace_hmmdev_inject("duplicate fault record", s->fq_tail);
            if (hmmdev_sysmem_rw(s, s->fq_base + s->fq_tail * sizeof(*rec),
                                 rec, sizeof(*rec),
                                 DMA_DIRECTION_FROM_DEVICE) == MEMTX_OK) {
                s->fq_tail = (s->fq_tail + 1) % s->fq_entries;
            }
        }
        e->fault_pending = true;
        e->fault_response = 0;
        hmmdev_count(s, HMMDEV_CNT_FAULTS, 1);
        hmmdev_raise_deferred(s, HMMDEV_VEC_FAULT);
        ok = true;
    }   /* else the ring was turned off or moved: the fault is lost */
out:
    qemu_mutex_unlock(&s->fq_lock);
    hmmdev_gate_exit(s);
    qemu_mutex_unlock(&s->fq_write_lock);
    return ok;
}

/*
 * Report a fault and stall until it is answered.  Returns
 * HMMDEV_RESPONSE_RETRY or _ABORT, 0 when the fault could not be reported
 * (queue off, full, or unwritable), or -1 when the device was reset under
 * the job.
 */
int hmmdev_fault_stall(HmmdevEngine *e, unsigned ctx, uint64_t va,
                       unsigned access, uint32_t reason)
{
    HmmdevState *s = e->s;
    HmmdevFault rec;
    uint32_t err = HMMDEV_ERR_NONE;
    bool dropped = false, reported;
    int response;

    qemu_mutex_lock(&s->fq_lock);
    e->fault_id = (++e->fault_seq << 4) | e->id;
    qemu_mutex_unlock(&s->fq_lock);
    rec = (HmmdevFault) {
        .va = cpu_to_le64(va),
        .context = cpu_to_le16(ctx),
        .access = access,
        .engine = e->id,
        .id = cpu_to_le32(e->fault_id),
        .timestamp = cpu_to_le64(hmmdev_now()),
        .reason = cpu_to_le32(reason),
    };
    trace_hmmdev_fault(s->trace_name, le64_to_cpu(rec.timestamp), e->id,
                       e->fault_id, ctx, va, access, reason);
    reported = hmmdev_fault_report(e, &rec, &err, &dropped);
    hmmdev_engine_irq_flush(e);
    if (!reported) {
        if (dropped) {
            return -1;
        }
        hmmdev_count(s, HMMDEV_CNT_FAULTS_LOST, 1);
        if (err) {
            hmmdev_device_error(s, err);
        }
        return 0;
    }

    qemu_mutex_lock(&s->fq_lock);
    while (!e->fault_response && hmmdev_generation(s) == e->gen &&
           !qatomic_read(&s->quit)) {
        qemu_cond_wait(&e->fault_cond, &s->fq_lock);
    }
    response = e->fault_response ? e->fault_response : -1;
    e->fault_pending = false;
    qemu_mutex_unlock(&s->fq_lock);
    trace_hmmdev_fault_answered(s->trace_name, hmmdev_now(), e->id, e->fault_id,
                                response);
    hmmdev_count(s, response == HMMDEV_RESPONSE_RETRY ?
                 HMMDEV_CNT_FAULT_RETRIES : HMMDEV_CNT_FAULT_ABORTS,
                 response > 0);
    return response;
}

/* cmdq thread: RESPOND */
static bool hmmdev_respond(HmmdevState *s, uint32_t id, uint64_t action)
{
    unsigned engine = id & 0xf;     /* guest-controlled: check first */
    HmmdevEngine *e;
    bool ok = false;

    if (engine >= s->num_engines ||
        (action != HMMDEV_RESPONSE_RETRY && action != HMMDEV_RESPONSE_ABORT)) {
        return false;
    }
    e = &s->engines[engine];
    qemu_mutex_lock(&s->fq_lock);
    if (e->fault_pending && !e->fault_response && e->fault_id == id) {
        e->fault_response = action;
        qemu_cond_signal(&e->fault_cond);
        ok = true;
    }
    qemu_mutex_unlock(&s->fq_lock);
    return ok;
}

/*
 * vCPU, BQL held: a write of FQ_RESPOND -- RESPOND without the command
 * queue, so the engine resumes without waiting for the command thread.
 * Ignored while the command queue is off, as its commands would be.
 */
void hmmdev_respond_reg(HmmdevState *s, uint64_t val)
{
    uint32_t id = val;
    bool on;

    qemu_mutex_lock(&s->cq_lock);
    on = s->cq_enabled;
    qemu_mutex_unlock(&s->cq_lock);
    if (!on) {
        return;
    }
    trace_hmmdev_command(s->trace_name, hmmdev_now(), UINT32_MAX,
                         HMMDEV_CMD_RESPOND, 0, id, val >> 32);
    if (!hmmdev_respond(s, id, val >> 32)) {
        hmmdev_device_error(s, HMMDEV_ERR_BAD_RESPONSE);
    }
}

/* ---- command queue ---- */

/*
 * Run one command fetched in generation @gen; false when it is malformed
 * (BAD_COMMAND).
 */
static bool hmmdev_run_command(HmmdevState *s, HmmdevCommand *c, uint32_t gen)
{
    uint64_t va = le64_to_cpu(c->arg0), len = le64_to_cpu(c->arg1);
    uint64_t fence;
    uint32_t delay;
    unsigned ctx = le16_to_cpu(c->context);
    bool all_ctx = c->flags & HMMDEV_INV_ALL_CONTEXTS;
    bool all_va = c->flags & HMMDEV_INV_ALL_ADDRESSES;

    if (c->rsvd) {
        return false;
    }
    switch (c->opcode) {
    case HMMDEV_CMD_INVALIDATE:
        if (c->flags & ~(HMMDEV_INV_ALL_CONTEXTS | HMMDEV_INV_ALL_ADDRESSES) ||
            (!all_ctx && ctx >= HMMDEV_NUM_CONTEXTS) ||
            (!all_va && (len == 0 || va >= (1ull << HMMDEV_VA_BITS) ||
                         len > (1ull << HMMDEV_VA_BITS) - va))) {
            return false;
        }
        delay = qatomic_read(&s->inject_invalidate_delay_us);
        if (delay && hmmdev_gate_enter(s, gen)) {
            /* cut short by a VM stop; a reset empties the ATC anyway */
            hmmdev_count(s, HMMDEV_CNT_INJECTED, 1);
            hmmdev_gate_sleep(s, gen, delay);
            hmmdev_gate_exit(s);
        }
        hmmdev_count(s, HMMDEV_CNT_INVALIDATES, 1);
        hmmdev_atc_invalidate(s, all_ctx, ctx, all_va, va, len);
        return true;
    case HMMDEV_CMD_SYNC:
        if (c->flags & ~HMMDEV_SYNC_IRQ || va % 8) {
            return false;
        }
        /* a reset during the wait or before the fence drops the SYNC */
        if (!hmmdev_wait_translations(s, gen)) {
            return true;
        }
        if (hmmdev_inject_take(s, &s->inject_drop_syncs)) {
            /* fault injection: this completion is lost */
            trace_hmmdev_sync_dropped(s->trace_name, hmmdev_now(), va);
            return true;
        }
        delay = qatomic_read(&s->inject_sync_delay_us);
        if (delay && hmmdev_gate_enter(s, gen)) {
            /* a VM stop cuts the wait short, a reset drops the SYNC */
            hmmdev_count(s, HMMDEV_CNT_INJECTED, 1);
            hmmdev_gate_sleep(s, gen, delay);
            hmmdev_gate_exit(s);
        }
        if (!hmmdev_gate_enter(s, gen)) {
            return true;
        }
        hmmdev_count(s, HMMDEV_CNT_SYNCS, 1);
        fence = c->arg1;            /* already little endian */
        trace_hmmdev_sync(s->trace_name, hmmdev_now(), va, le64_to_cpu(fence));
        if (va && hmmdev_sysmem_rw(s, va, &fence, sizeof(fence),
                                   DMA_DIRECTION_FROM_DEVICE)) {
            hmmdev_device_error(s, HMMDEV_ERR_SYNC_WRITE);
        }
        if (c->flags & HMMDEV_SYNC_IRQ) {
            hmmdev_raise_deferred(s, HMMDEV_VEC_CMDQ);
        }
        hmmdev_gate_exit(s);
        return true;
    case HMMDEV_CMD_RESPOND:
        if (c->flags) {
            return false;
        }
        if (va > UINT32_MAX || !hmmdev_respond(s, va, len)) {
            hmmdev_device_error(s, HMMDEV_ERR_BAD_RESPONSE);
        }
        return true;
    }
    return false;
}

/*
 * cq_lock held, the ring not empty: read the command at CQ_HEAD without
 * the lock.  False when it was not read: the ring was reset, turned off or
 * reconfigured meanwhile (fetch again), or unreadable (the queue stops).
 */
static bool hmmdev_fetch_command(HmmdevState *s, HmmdevCommand *c,
                                 uint32_t *ring_gen, uint32_t *gen)
{
    uint64_t addr = s->cq_base + s->cq_head * sizeof(*c);
    int read;

    *ring_gen = s->cq_ring_gen;
    *gen = hmmdev_generation(s);
    qemu_mutex_unlock(&s->cq_lock);
    read = hmmdev_gate_read(s, *gen, addr, c, sizeof(*c));
    qemu_mutex_lock(&s->cq_lock);
    if (read < 0 || *ring_gen != s->cq_ring_gen) {
        return false;
    }
    if (!read) {
        s->cq_enabled = false;
        s->cq_ring_gen++;
        qemu_mutex_unlock(&s->cq_lock);
        hmmdev_device_error(s, HMMDEV_ERR_CMD_FETCH);
        qemu_mutex_lock(&s->cq_lock);
    }
    return read > 0;
}

static void *hmmdev_cq_thread(void *opaque)
{
    HmmdevState *s = opaque;
    HmmdevCommand c;
    uint32_t index, ring_gen, gen;

    rcu_register_thread();
    qemu_mutex_lock(&s->cq_lock);
    while (!qatomic_read(&s->quit)) {
        if (!s->cq_enabled || s->cq_head == s->cq_tail) {
            qemu_cond_wait(&s->cq_cond, &s->cq_lock);
            continue;
        }
        index = s->cq_head;
        if (!hmmdev_fetch_command(s, &c, &ring_gen, &gen)) {
            continue;
        }
        qemu_mutex_unlock(&s->cq_lock);

        trace_hmmdev_command(s->trace_name, hmmdev_now(), index, c.opcode,
                             le16_to_cpu(c.context), le64_to_cpu(c.arg0),
                             le64_to_cpu(c.arg1));
        hmmdev_count(s, HMMDEV_CNT_COMMANDS, 1);
        if (!hmmdev_run_command(s, &c, gen)) {
            hmmdev_device_error(s, HMMDEV_ERR_BAD_COMMAND);
        }
        hmmdev_irq_flush(s);

        qemu_mutex_lock(&s->cq_lock);
        /* a reset or a new ring while the command ran: leave CQ_HEAD */
        if (ring_gen == s->cq_ring_gen) {
            s->cq_head = (index + 1) & (s->cq_entries - 1);
        }
    }
    qemu_mutex_unlock(&s->cq_lock);
    rcu_unregister_thread();
    return NULL;
}

void hmmdev_queues_start(HmmdevState *s)
{
    unsigned i;

    qemu_mutex_init(&s->cq_lock);
    qemu_cond_init(&s->cq_cond);
    qemu_mutex_init(&s->fq_write_lock);
    qemu_mutex_init(&s->fq_lock);
    for (i = 0; i < s->num_engines; i++) {
        qemu_cond_init(&s->engines[i].fault_cond);
    }
    qemu_thread_create(&s->cq_thread, "hmmdev-cmdq", hmmdev_cq_thread, s,
                       QEMU_THREAD_JOINABLE);
}

/* After the engines stopped (s->quit is set). */
void hmmdev_queues_stop(HmmdevState *s)
{
    unsigned i;

    qemu_mutex_lock(&s->cq_lock);
    qemu_cond_broadcast(&s->cq_cond);
    qemu_mutex_unlock(&s->cq_lock);
    qemu_thread_join(&s->cq_thread);
    for (i = 0; i < s->num_engines; i++) {
        qemu_cond_destroy(&s->engines[i].fault_cond);
    }
    qemu_mutex_destroy(&s->fq_lock);
    qemu_mutex_destroy(&s->fq_write_lock);
    qemu_cond_destroy(&s->cq_cond);
    qemu_mutex_destroy(&s->cq_lock);
}

/* Wake stalled engines (their job is dropped: the generation moved). */
static void hmmdev_wake_stalled(HmmdevState *s)
{
    unsigned i;

    qemu_mutex_lock(&s->fq_lock);
    for (i = 0; i < s->num_engines; i++) {
        qemu_cond_broadcast(&s->engines[i].fault_cond);
    }
    qemu_mutex_unlock(&s->fq_lock);
}

void hmmdev_queues_reset(HmmdevState *s)
{
    qemu_mutex_lock(&s->cq_lock);
    s->cq_enabled = false;
    s->cq_base = 0;
    s->cq_entries = s->cq_head = s->cq_tail = 0;
    s->cq_ring_gen++;
    qemu_cond_broadcast(&s->cq_cond);
    qemu_mutex_unlock(&s->cq_lock);
    qemu_mutex_lock(&s->fq_lock);
    s->fq_enabled = s->fq_overflow = false;
    s->fq_base = 0;
    s->fq_entries = s->fq_head = s->fq_tail = 0;
    s->fq_ring_gen++;
    qemu_mutex_unlock(&s->fq_lock);
    hmmdev_wake_stalled(s);
}

/* CTRL bits CQ_ENABLE and FQ_ENABLE */
void hmmdev_queues_enable(HmmdevState *s, uint32_t ctrl)
{
    bool cq_on = ctrl & HMMDEV_CTRL_CQ_ENABLE;
    bool fq_on = ctrl & HMMDEV_CTRL_FQ_ENABLE;
    bool bad = false;

    qemu_mutex_lock(&s->cq_lock);
    if (cq_on && !s->cq_enabled &&
        !hmmdev_ring_ok(s->cq_base, s->cq_entries, HMMDEV_CMD_SIZE)) {
        bad = true;
    } else {
        s->cq_ring_gen += s->cq_enabled && !cq_on;
        s->cq_enabled = cq_on;
        qemu_cond_broadcast(&s->cq_cond);
    }
    qemu_mutex_unlock(&s->cq_lock);

    qemu_mutex_lock(&s->fq_lock);
    if (fq_on && !s->fq_enabled &&
        !hmmdev_ring_ok(s->fq_base, s->fq_entries, HMMDEV_FAULT_SIZE)) {
        bad = true;
    } else {
        s->fq_ring_gen += s->fq_enabled && !fq_on;
        s->fq_enabled = fq_on;
    }
    qemu_mutex_unlock(&s->fq_lock);
    if (bad) {
        hmmdev_device_error(s, HMMDEV_ERR_BAD_RING);
    }
}

uint32_t hmmdev_queues_status(HmmdevState *s)
{
    uint32_t st = 0;

    qemu_mutex_lock(&s->cq_lock);
    st |= s->cq_enabled ? HMMDEV_STATUS_CQ_ENABLED : 0;
    qemu_mutex_unlock(&s->cq_lock);
    qemu_mutex_lock(&s->fq_lock);
    st |= s->fq_enabled ? HMMDEV_STATUS_FQ_ENABLED : 0;
    st |= s->fq_overflow ? HMMDEV_STATUS_FQ_OVERFLOW : 0;
    qemu_mutex_unlock(&s->fq_lock);
    return st;
}

uint64_t hmmdev_queue_read(HmmdevState *s, hwaddr addr)
{
    uint64_t val = 0;

    if (addr < HMMDEV_REG_FQ_BASE) {
        qemu_mutex_lock(&s->cq_lock);
        val = addr == HMMDEV_REG_CQ_BASE ? s->cq_base :
              addr == HMMDEV_REG_CQ_ENTRIES ? s->cq_entries :
              addr == HMMDEV_REG_CQ_TAIL ? s->cq_tail :
              addr == HMMDEV_REG_CQ_HEAD ? s->cq_head : 0;
        qemu_mutex_unlock(&s->cq_lock);
    } else {
        qemu_mutex_lock(&s->fq_lock);
        val = addr == HMMDEV_REG_FQ_BASE ? s->fq_base :
              addr == HMMDEV_REG_FQ_ENTRIES ? s->fq_entries :
              addr == HMMDEV_REG_FQ_HEAD ? s->fq_head : s->fq_tail;
        if (addr == HMMDEV_REG_FQ_TAIL && s->fq_tail != s->fq_head &&
            qatomic_read(&s->inject_bad_fq_tail)) {
            val = UINT32_MAX;   /* fault injection: a broken tail */
        }
        qemu_mutex_unlock(&s->fq_lock);
    }
    return val;
}

/* A 64-bit register at @reg written as a whole or as 32-bit halves. */
void hmmdev_set_base(uint64_t *base, hwaddr addr, hwaddr reg, uint64_t val,
                     unsigned size)
{
    if (size == 8) {
        *base = val;
    } else {
        *base = deposit64(*base, addr == reg ? 0 : 32, 32, val);
    }
}

/* CQ_BASE/ENTRIES/TAIL, FQ_BASE/ENTRIES/HEAD (hmmdev_is_queue_reg) */
void hmmdev_queue_write(HmmdevState *s, hwaddr addr, uint64_t val,
                        unsigned size)
{
    uint32_t err = HMMDEV_ERR_NONE;

    if (addr < HMMDEV_REG_FQ_BASE) {
        qemu_mutex_lock(&s->cq_lock);
        if (addr == HMMDEV_REG_CQ_TAIL) {
            if (!s->cq_entries || val >= s->cq_entries) {
                err = HMMDEV_ERR_BAD_TAIL;
            } else {
                s->cq_tail = val;
                qemu_cond_broadcast(&s->cq_cond);
            }
        } else if (s->cq_enabled) {
            err = HMMDEV_ERR_RING_BUSY;
        } else if (addr == HMMDEV_REG_CQ_ENTRIES) {
            s->cq_entries = val;
            s->cq_head = s->cq_tail = 0;
            s->cq_ring_gen++;
        } else {
            hmmdev_set_base(&s->cq_base, addr, HMMDEV_REG_CQ_BASE, val, size);
            s->cq_ring_gen++;
        }
        qemu_mutex_unlock(&s->cq_lock);
    } else {
        qemu_mutex_lock(&s->fq_lock);
        if (addr == HMMDEV_REG_FQ_HEAD) {
            if (!s->fq_entries || val >= s->fq_entries) {
                err = HMMDEV_ERR_BAD_TAIL;
            } else {
                s->fq_head = val;
            }
        } else if (s->fq_enabled) {
            err = HMMDEV_ERR_RING_BUSY;
        } else if (addr == HMMDEV_REG_FQ_ENTRIES) {
            s->fq_entries = val;
            s->fq_head = s->fq_tail = 0;
            s->fq_overflow = false;
            s->fq_ring_gen++;
        } else {
            hmmdev_set_base(&s->fq_base, addr, HMMDEV_REG_FQ_BASE, val, size);
            s->fq_ring_gen++;
        }
        qemu_mutex_unlock(&s->fq_lock);
    }
    if (err) {
        hmmdev_device_error(s, err);
    }
}
