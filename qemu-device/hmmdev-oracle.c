/*
 * hmmdev: the coherence oracle -- every translation an engine uses is
 * checked against the CPU page tables of the process the context mirrors,
 * at the moment of use (SPEC.rst, "Coherence oracle").
 *
 * The check runs in hmmdev_end_map() (hmmdev-dma.c) after the piece is
 * mapped and before any byte moves, while the engine still holds its
 * translation marker: an invalidation that reached the device cannot have
 * completed yet, so the CPU side cannot have moved on legally.  The CPU
 * side is read, and Linux's entries decoded, by hmmdev-cpu-pt.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/rcu.h"
#include "qapi/error.h"
#include "system/runstate.h"
#include "hmmdev.h"
#include "trace.h"

static const char *const hmmdev_oracle_modes[] = {
    [HMMDEV_ORACLE_OFF] = "off",
    [HMMDEV_ORACLE_COUNT] = "count",
    [HMMDEV_ORACLE_FAIL] = "fail",
    [HMMDEV_ORACLE_STOP] = "stop",
};

/* ORACLE_DECODED for ORACLE_PROBE = @v */
static uint64_t hmmdev_oracle_probe(HmmdevState *s, uint64_t v)
{
    HmmdevCpuEntry c;

    hmmdev_cpu_decode(v, qatomic_read(&s->oracle_swp_types), &c);
    return c.kind | (c.write ? HMMDEV_CPU_WRITE : 0) |
           (uint64_t)c.type << HMMDEV_CPU_TYPE_SHIFT |
           c.pfn << HMMDEV_CPU_PFN_SHIFT;
}

/* What a use of @x for @access needs of the CPU entry @c, or NULL. */
static const char *hmmdev_oracle_rule(HmmdevState *s, const HmmdevXlate *x,
                                      uint64_t delta, void *dev_ptr,
                                      unsigned access, const HmmdevCpuEntry *c)
{
    bool write = access != HMMDEV_ACCESS_READ;
    uint64_t priv_pfn;
    void *cpu_ptr;

    switch (c->kind) {
    case HMMDEV_CPU_NONE:
        return "the CPU maps nothing there";
    case HMMDEV_CPU_PROTNONE:
        return "the CPU entry allows no access";
    case HMMDEV_CPU_SWAP:
        return "the CPU entry is a swap, migration or marker entry";
    case HMMDEV_CPU_UNREADABLE:
        return "a CPU page table is not in RAM";
    case HMMDEV_CPU_PRIVATE:
        priv_pfn = qatomic_read(&s->oracle_priv_pfn);
        if (!x->vram || s->coherent ||
            c->pfn != priv_pfn + ((x->addr + delta) >> 12)) {
            return "the CPU entry is a device-private entry for another page";
        }
        break;
    case HMMDEV_CPU_PRESENT:
    case HMMDEV_CPU_EXCLUSIVE:
        if (x->vram && !s->coherent) {
            return "the CPU maps a system page where the device uses VRAM";
        }
        cpu_ptr = hmmdev_cpu_ram(c->pfn << 12, 4096);
        if (!cpu_ptr ||
            cpu_ptr != (uint8_t *)dev_ptr - ((x->addr + delta) & 4095)) {
            return "the CPU maps another page";
        }
        break;
    }
    if (write && !c->write) {
        return "the device writes a page the CPU has read-only";
    }
    return NULL;
}

static void hmmdev_oracle_report(HmmdevEngine *e, const HmmdevJobDesc *d,
                                 uint64_t va, unsigned access,
                                 const HmmdevXlate *x, uint64_t delta,
                                 const HmmdevCpuEntry *c, const char *why)
{
    HmmdevState *s = e->s;
    HmmdevOracleRecord *r;
    uint32_t epoch = qatomic_read(&s->atc_epoch);
    uint32_t xepoch = qatomic_read(&e->xlate_epoch);

    trace_hmmdev_oracle_violation(e->id, d->context, va, access,
                                  x->addr + delta, x->vram, c->raw, c->level,
                                  xepoch, epoch);
    qemu_log_mask(LOG_GUEST_ERROR, "hmmdev: oracle: stale translation: job %u "
                  "(fence %" PRIu64 ") engine %u ctx %u va 0x%" PRIx64
                  " access %u: device -> %s 0x%" PRIx64 ", CPU level-%u "
                  "entry 0x%" PRIx64 " (%s): %s; invalidation epoch %u at "
                  "translation, %u now\n", e->job_index, d->fence, e->id,
                  d->context, va, access, x->vram ? "VRAM" : "bus",
                  x->addr + delta, c->level, c->raw,
                  hmmdev_cpu_kind_name(c->kind), why, xepoch, epoch);
    qemu_mutex_lock(&s->oracle_lock);
    r = &s->oracle_log[s->oracle_logged++ % HMMDEV_ORACLE_LOG];
    *r = (HmmdevOracleRecord) {
        .job = e->job_index, .fence = d->fence, .engine = e->id,
        .ctx = d->context, .va = va, .access = access,
        .dev_addr = x->addr + delta, .vram = x->vram, .cpu_raw = c->raw,
        .cpu_level = c->level, .cpu_kind = c->kind, .why = why,
        .epoch_xlate = xepoch, .epoch_now = epoch,
    };
    qemu_mutex_unlock(&s->oracle_lock);
}

/*
 * Check the use of @x for @access at @va, @len bytes, mapped at host
 * @dev_ptr.  Returns false when the job must fail (mode fail or stop).
 */
bool hmmdev_oracle_check(HmmdevEngine *e, const HmmdevJobDesc *d,
                         uint64_t va, uint64_t len, unsigned access,
                         const HmmdevXlate *x, void *dev_ptr)
{
    HmmdevState *s = e->s;
    uint32_t mode = qatomic_read(&s->oracle_mode);
    uint64_t root, delta;
    uint32_t types;
    HmmdevCpuEntry c;
    const char *why = NULL;

    if (mode == HMMDEV_ORACLE_OFF || d->context >= HMMDEV_NUM_CONTEXTS) {
        return true;
    }
    root = qatomic_read(&s->contexts[d->context].cpu_root);
    if (!(root & HMMDEV_CPU_ROOT_LEVELS)) {
        return true;                /* the driver named no CPU tables */
    }
    types = qatomic_read(&s->oracle_swp_types);
    hmmdev_count(s, HMMDEV_CNT_ORACLE_CHECKS, 1);
    RCU_READ_LOCK_GUARD();
    hmmdev_guest_access_begin();
    /*
     * One walk per CPU entry: a huge leaf or a huge device-private entry
     * maps its pages contiguously, as the device translation does.
     */
    for (delta = 0; delta < len; delta += c.span) {
        hmmdev_cpu_walk(root, root & HMMDEV_CPU_ROOT_LEVELS, va + delta,
                           types, &c);
        why = hmmdev_oracle_rule(s, x, delta, (uint8_t *)dev_ptr + delta,
                                 access, &c);
        if (why) {
            break;
        }
    }
    hmmdev_guest_access_end();
    if (!why) {
        return true;
    }
    hmmdev_count(s, HMMDEV_CNT_ORACLE_VIOLATIONS, 1);
    hmmdev_oracle_report(e, d, va + delta, access, x, delta, &c, why);
    if (mode == HMMDEV_ORACLE_COUNT) {
        return true;
    }
    hmmdev_device_error(s, HMMDEV_ERR_STALE_TRANSLATION);
    if (mode == HMMDEV_ORACLE_STOP) {
        qemu_system_vmstop_request_prepare();
        qemu_system_vmstop_request(RUN_STATE_PAUSED);
    }
    return false;
}

/* ---- registers (BQL held) ---- */

bool hmmdev_is_oracle_reg(hwaddr addr)
{
    return (addr >= HMMDEV_REG_ORACLE_PRIV_PFN &&
            addr < HMMDEV_REG_ORACLE_DECODED + 8) ||
           (addr >= HMMDEV_REG_CPU_ROOT &&
            addr < HMMDEV_REG_CPU_ROOT + 8 * HMMDEV_NUM_CONTEXTS);
}

static bool hmmdev_cpu_root_valid(uint64_t v)
{
    unsigned levels = v & HMMDEV_CPU_ROOT_LEVELS;

    return !(v & ~(HMMDEV_CPU_ROOT_ADDR | HMMDEV_CPU_ROOT_LEVELS)) &&
           (levels == 0 || levels == 4 || levels == 5);
}

bool hmmdev_oracle_reg_read(HmmdevState *s, hwaddr addr, uint64_t *val)
{
    if (addr >= HMMDEV_REG_CPU_ROOT &&
        addr < HMMDEV_REG_CPU_ROOT + 8 * HMMDEV_NUM_CONTEXTS) {
        *val = qatomic_read(&s->contexts[(addr - HMMDEV_REG_CPU_ROOT) / 8]
                            .cpu_root);
        return true;
    }
    switch (addr) {
    case HMMDEV_REG_ORACLE_PRIV_PFN:
        *val = qatomic_read(&s->oracle_priv_pfn);
        return true;
    case HMMDEV_REG_ORACLE_SWP_TYPES:
        *val = qatomic_read(&s->oracle_swp_types);
        return true;
    case HMMDEV_REG_ORACLE_PROBE:
        *val = s->oracle_probe;
        return true;
    case HMMDEV_REG_ORACLE_DECODED:
        *val = hmmdev_oracle_probe(s, s->oracle_probe);
        return true;
    }
    return false;
}

/*
 * The oracle's registers are written whole: 8 bytes at once, or 4 for
 * ORACLE_SWP_TYPES.  Returns false for any other offset or size.
 */
bool hmmdev_oracle_reg_write(HmmdevState *s, hwaddr addr, uint64_t val,
                             unsigned size)
{
    if (addr >= HMMDEV_REG_CPU_ROOT &&
        addr < HMMDEV_REG_CPU_ROOT + 8 * HMMDEV_NUM_CONTEXTS &&
        addr % 8 == 0 && size == 8) {
        if (!hmmdev_cpu_root_valid(val)) {
            return false;
        }
        qatomic_set(&s->contexts[(addr - HMMDEV_REG_CPU_ROOT) / 8].cpu_root,
                    val);
        return true;
    }
    switch (addr) {
    case HMMDEV_REG_ORACLE_PRIV_PFN:
        if (size != 8) {
            return false;
        }
        qatomic_set(&s->oracle_priv_pfn, val);
        return true;
    case HMMDEV_REG_ORACLE_SWP_TYPES:
        if (size != 4) {
            return false;
        }
        qatomic_set(&s->oracle_swp_types, val);
        return true;
    case HMMDEV_REG_ORACLE_PROBE:
        if (size != 8) {
            return false;
        }
        s->oracle_probe = val;
        return true;
    }
    return false;
}

void hmmdev_oracle_reset(HmmdevState *s)
{
    unsigned i;

    for (i = 0; i < HMMDEV_NUM_CONTEXTS; i++) {
        qatomic_set(&s->contexts[i].cpu_root, 0);
    }
    qatomic_set(&s->oracle_priv_pfn, 0);
    qatomic_set(&s->oracle_swp_types, 0);
    s->oracle_probe = 0;
}

/* ---- QOM: oracle (mode) and oracle-log ---- */

static char *hmmdev_oracle_get_mode(Object *obj, Error **errp)
{
    return g_strdup(hmmdev_oracle_modes[qatomic_read(&HMMDEV(obj)->
                                                     oracle_mode)]);
}

static void hmmdev_oracle_set_mode(Object *obj, const char *value,
                                   Error **errp)
{
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(hmmdev_oracle_modes); i++) {
        if (!strcmp(value, hmmdev_oracle_modes[i])) {
            qatomic_set(&HMMDEV(obj)->oracle_mode, i);
            return;
        }
    }
    error_setg(errp, "hmmdev: oracle must be off, count, fail or stop "
               "(got '%s')", value);
}

/* The last HMMDEV_ORACLE_LOG violations, oldest first, a line each. */
static char *hmmdev_oracle_get_log(Object *obj, Error **errp)
{
    HmmdevState *s = HMMDEV(obj);
    GString *out = g_string_new("");
    uint32_t i, first;

    qemu_mutex_lock(&s->oracle_lock);
    first = s->oracle_logged > HMMDEV_ORACLE_LOG ?
            s->oracle_logged - HMMDEV_ORACLE_LOG : 0;
    for (i = first; i < s->oracle_logged; i++) {
        HmmdevOracleRecord *r = &s->oracle_log[i % HMMDEV_ORACLE_LOG];

        g_string_append_printf(out, "#%u job %u fence %" PRIu64 " engine %u "
                               "ctx %u va 0x%" PRIx64 " access %u device %s "
                               "0x%" PRIx64 " cpu L%u 0x%" PRIx64 " %s: %s; "
                               "epoch %u/%u\n", i + 1, r->job, r->fence,
                               r->engine, r->ctx, r->va, r->access,
                               r->vram ? "vram" : "bus", r->dev_addr,
                               r->cpu_level, r->cpu_raw,
                               hmmdev_cpu_kind_name(r->cpu_kind), r->why,
                               r->epoch_xlate, r->epoch_now);
    }
    qemu_mutex_unlock(&s->oracle_lock);
    return g_string_free(out, false);
}

void hmmdev_oracle_class_init(ObjectClass *klass)
{
    object_class_property_add_str(klass, "oracle", hmmdev_oracle_get_mode,
                                  hmmdev_oracle_set_mode);
    object_class_property_set_description(klass, "oracle",
        "what a stale translation does: off, count, fail or stop");
    object_class_property_add_str(klass, "oracle-log", hmmdev_oracle_get_log,
                                  NULL);
    object_class_property_set_description(klass, "oracle-log",
        "the last violations the oracle found, oldest first");
}

void hmmdev_oracle_init(HmmdevState *s)
{
    qemu_mutex_init(&s->oracle_lock);
    s->oracle_mode = HMMDEV_ORACLE_COUNT;
}

void hmmdev_oracle_finalize(HmmdevState *s)
{
    qemu_mutex_destroy(&s->oracle_lock);
}
