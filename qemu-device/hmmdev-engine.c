/*
 * hmmdev: the job queue and the engine threads.
 *
 * Locking: jq_lock protects the ring registers, enable, generation, busy
 * and quit.  Engines fetch a descriptor under jq_lock (so the head the
 * driver sees only passes a slot after the slot was read), then drop the
 * lock to execute the job (hmmdev-dma.c).  Engines never take the BQL:
 * system memory is reached only where it is RAM, and interrupts go
 * through hmmdev_raise() to the main loop.
 *
 * A device reset bumps the generation: a running job stops at its next
 * chunk boundary (at most HMMDEV_CHUNK bytes later) and writes neither a
 * completion record nor an interrupt.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/rcu.h"
#include "qemu/timer.h"
#include "qemu/bswap.h"
#include "hw/pci/pci.h"
#include "hmmdev.h"
#include "trace.h"

static void hmmdev_complete(HmmdevEngine *e, const HmmdevJobDesc *d,
                            uint32_t index, uint32_t status, uint64_t result)
{
    HmmdevState *s = e->s;
    HmmdevCompletion c = {
        .fence = cpu_to_le64(d->fence),
        .status = cpu_to_le32(status),
        .engine = cpu_to_le32(e->id),
        .result = cpu_to_le64(result),
        .timestamp = cpu_to_le64(qemu_clock_get_ns(QEMU_CLOCK_REALTIME)),
    };

    trace_hmmdev_job_end(e->id, index, status, d->fence, result);
    hmmdev_count(s, status == HMMDEV_JOB_OK ? HMMDEV_CNT_JOBS_DONE
                                            : HMMDEV_CNT_JOBS_FAILED, 1);
    if (d->completion &&
        (d->completion % sizeof(c) ||
         hmmdev_sysmem_rw(s, d->completion, &c, sizeof(c),
                          DMA_DIRECTION_FROM_DEVICE))) {
        hmmdev_device_error(s, HMMDEV_ERR_COMPLETION);
    }
    if (d->flags & HMMDEV_JOB_IRQ) {
        hmmdev_raise(s, HMMDEV_VEC_JOB);
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

static void *hmmdev_engine_thread(void *opaque)
{
    HmmdevEngine *e = opaque;
    HmmdevState *s = e->s;
    HmmdevJobDesc d;
    uint32_t index, gen;
    uint64_t done;
    bool fetched;
    int status;

    rcu_register_thread();
    qemu_mutex_lock(&s->jq_lock);
    while (!s->quit) {
        if (!s->jq_enabled || s->jq_head == s->jq_tail) {
            qemu_cond_wait(&s->jq_cond, &s->jq_lock);
            continue;
        }
        index = s->jq_head;
        gen = s->generation;
        fetched = hmmdev_sysmem_rw(s, s->jq_base + index * sizeof(d), &d,
                                   sizeof(d), DMA_DIRECTION_TO_DEVICE)
                  == MEMTX_OK;
        if (!fetched) {
            /* the ring is unreadable: stop it, as the spec says */
            s->jq_enabled = false;
            qemu_mutex_unlock(&s->jq_lock);
            hmmdev_device_error(s, HMMDEV_ERR_FETCH);
            qemu_mutex_lock(&s->jq_lock);
            continue;
        }
        s->jq_head = (index + 1) & (s->jq_entries - 1);
        s->busy++;
        qemu_mutex_unlock(&s->jq_lock);

        hmmdev_desc_to_cpu(&d);
        trace_hmmdev_job_start(e->id, index, d.opcode, d.src, d.dst,
                               d.length);
        status = hmmdev_job_check(s, &d);
        if (status == HMMDEV_JOB_OK) {
            status = hmmdev_job_execute(e, &d, gen, &done);
        } else {
            done = 0;
        }
        if (status < 0 || qatomic_read(&s->generation) != gen) {
            trace_hmmdev_job_dropped(e->id, index);
        } else {
            hmmdev_complete(e, &d, index, status, done);
        }

        qemu_mutex_lock(&s->jq_lock);
        s->busy--;
    }
    qemu_mutex_unlock(&s->jq_lock);
    rcu_unregister_thread();
    return NULL;
}

void hmmdev_engines_start(HmmdevState *s)
{
    unsigned i;

    s->quit = false;
    for (i = 0; i < s->num_engines; i++) {
        HmmdevEngine *e = &s->engines[i];

        e->s = s;
        e->id = i;
        e->bounce = g_malloc(HMMDEV_CHUNK + 8);
        qemu_thread_create(&e->thread, "hmmdev-engine", hmmdev_engine_thread,
                           e, QEMU_THREAD_JOINABLE);
    }
}

void hmmdev_engines_stop(HmmdevState *s)
{
    unsigned i;

    qemu_mutex_lock(&s->jq_lock);
    s->quit = true;
    s->generation++;
    qemu_cond_broadcast(&s->jq_cond);
    qemu_mutex_unlock(&s->jq_lock);
    hmmdev_queues_reset(s);         /* wakes engines stalled on a fault */
    for (i = 0; i < s->num_engines; i++) {
        qemu_thread_join(&s->engines[i].thread);
        g_free(s->engines[i].bounce);
    }
}

void hmmdev_jq_reset(HmmdevState *s)
{
    qemu_mutex_lock(&s->jq_lock);
    s->jq_enabled = false;
    s->jq_base = 0;
    s->jq_entries = 0;
    s->jq_head = 0;
    s->jq_tail = 0;
    qatomic_inc(&s->generation);
    qemu_mutex_unlock(&s->jq_lock);
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
        break;
    case HMMDEV_REG_JQ_TAIL:
        if (!s->jq_entries || val >= s->jq_entries) {
            err = HMMDEV_ERR_BAD_TAIL;
            break;
        }
        s->jq_tail = val;
        hmmdev_count(s, HMMDEV_CNT_DOORBELLS, 1);
        trace_hmmdev_jq_doorbell(s->jq_tail, s->jq_head);
        qemu_cond_broadcast(&s->jq_cond);
        break;
    }
    qemu_mutex_unlock(&s->jq_lock);
    if (err) {
        hmmdev_device_error(s, err);
    }
}
