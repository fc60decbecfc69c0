/*
 * hmmdev: fault injection -- the x-inject-* QOM properties (SPEC.rst,
 * "Fault injection"), settable with qom-set while the guest runs, and the
 * helpers the engines, the command thread and the interrupt path ask.
 *
 * Every knob is read atomically where it is used; a count ("the next N")
 * is taken with hmmdev_inject_take(), so concurrent users never take more
 * than N.  Each injected event is counted (stat-injected).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bitops.h"
#include "qemu/log.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "hmmdev.h"
#include "trace.h"

/* One event of a "next N" knob, if any is left. */
bool hmmdev_inject_take(HmmdevState *s, uint32_t *knob)
{
    uint32_t n = qatomic_read(knob);

    while (n) {
        uint32_t old = qatomic_cmpxchg(knob, n, n - 1);

        if (old == n) {
            hmmdev_count(s, HMMDEV_CNT_INJECTED, 1);
            return true;
        }
        n = old;
    }
    return false;
}

/* Every @every-th call on @calls (0: never). */
static bool hmmdev_inject_every(HmmdevState *s, uint32_t every,
                                uint32_t *calls)
{
    if (!every || (qatomic_fetch_inc(calls) + 1) % every) {
        return false;
    }
    hmmdev_count(s, HMMDEV_CNT_INJECTED, 1);
    return true;
}

/* Main loop: is this MSI-X message on @vector lost? */
bool hmmdev_inject_irq_lost(HmmdevState *s, unsigned vector)
{
    if (!(qatomic_read(&s->inject_drop_irq_vectors) & (1u << vector))) {
        return false;
    }
    if (hmmdev_inject_take(s, &s->inject_drop_irqs) ||
        hmmdev_inject_every(s, qatomic_read(&s->inject_drop_irq_every),
                            &s->irq_messages)) {
        trace_hmmdev_inject("irq lost", vector);
        return true;
    }
    return false;
}

/*
 * An engine is about to access up to *@max bytes of system memory at bus
 * address @addr: true when that access fails (DMA_ERROR).  An injected
 * range further on shortens *@max, so the bytes before it still move.
 */
bool hmmdev_inject_dma_error(HmmdevState *s, uint64_t addr, uint64_t *max)
{
    uint64_t base = qatomic_read(&s->inject_dma_error_base);
    uint64_t len = qatomic_read(&s->inject_dma_error_len);

    if (len && addr >= base && addr - base < len) {
        hmmdev_count(s, HMMDEV_CNT_INJECTED, 1);
        trace_hmmdev_inject("dma error in range", addr);
        return true;
    }
    if (len && addr < base && base - addr < *max) {
        *max = base - addr;
    }
    if (hmmdev_inject_every(s, qatomic_read(&s->inject_dma_error_every),
                            &s->dma_accesses)) {
        trace_hmmdev_inject("dma error, every nth", addr);
        return true;
    }
    return false;
}

/*
 * An engine is about to read up to *@max bytes of VRAM at @off: true when
 * its first page is poisoned; a poisoned page further on shortens *@max.
 */
bool hmmdev_inject_vram_poisoned(HmmdevState *s, uint64_t off, uint64_t *max)
{
    uint64_t first = off >> 12, last = (off + *max - 1) >> 12, page;

    if (!qatomic_read(&s->poisoned)) {
        return false;
    }
    for (page = first; page <= last; page++) {
        if (test_bit(page, s->poison)) {
            if (page == first) {
                trace_hmmdev_inject("poisoned VRAM read", off);
                return true;
            }
            *max = (page << 12) - off;
            break;
        }
    }
    return false;
}

/* A translation that hit: fault anyway (a spurious fault)? */
bool hmmdev_inject_spurious_fault(HmmdevState *s)
{
    return hmmdev_inject_take(s, &s->inject_spurious_faults);
}

/*
 * An engine before a piece: while engines hang, wait outside the gate
 * (reset, VM stop and unplug go on) until a reset or an unplug.
 */
void hmmdev_inject_hang(HmmdevEngine *e)
{
    HmmdevState *s = e->s;

    if (!qatomic_read(&s->inject_engine_hang)) {
        return;
    }
    hmmdev_count(s, HMMDEV_CNT_INJECTED, 1);
    trace_hmmdev_inject("engine hangs", e->id);
    while (qatomic_read(&s->inject_engine_hang) &&
           hmmdev_generation(s) == e->gen && !qatomic_read(&s->quit)) {
        g_usleep(1000);
    }
}

/* ---- VRAM poison: CPU reads of a poisoned BAR2 page return all-ones ---- */

static uint64_t hmmdev_all_ones_read(void *opaque, hwaddr addr, unsigned size)
{
    return ~0ull;
}

static void hmmdev_all_ones_write(void *opaque, hwaddr addr, uint64_t val,
                                  unsigned size)
{
    /* dropped: the page (or the function) is broken */
}

/* A broken region: reads all-ones, writes dropped (poison, removal) */
const MemoryRegionOps hmmdev_all_ones_ops = {
    .read = hmmdev_all_ones_read,
    .write = hmmdev_all_ones_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8 },
    .impl = { .min_access_size = 1, .max_access_size = 8 },
};

/* BQL held (qom-set): poison the VRAM page at @off. */
static bool hmmdev_poison_page(HmmdevState *s, uint64_t off, Error **errp)
{
    uint64_t page = off >> 12;
    MemoryRegion *mr;

    if (off >= s->vram_size) {
        error_setg(errp, "hmmdev: x-inject-poison-vram: offset 0x%" PRIx64
                   " is beyond VRAM", off);
        return false;
    }
    if (test_bit(page, s->poison)) {
        return true;
    }
    if (s->poisoned == HMMDEV_MAX_POISON) {
        error_setg(errp, "hmmdev: x-inject-poison-vram: %d pages are "
                   "poisoned already", HMMDEV_MAX_POISON);
        return false;
    }
    mr = &s->poison_mr[s->poisoned];
    memory_region_init_io(mr, OBJECT(s), &hmmdev_all_ones_ops, s,
                          "hmmdev-vram-poison", 4096);
    memory_region_add_subregion_overlap(s->vram, page << 12, mr, 1);
    set_bit_atomic(page, s->poison);
    qatomic_inc(&s->poisoned);
    hmmdev_count(s, HMMDEV_CNT_INJECTED, 1);
    trace_hmmdev_inject("VRAM page poisoned", page << 12);
    qemu_log_mask(LOG_GUEST_ERROR, "hmmdev: fault injection: VRAM page at "
                  "0x%" PRIx64 " poisoned\n", page << 12);
    return true;
}

void hmmdev_inject_init(HmmdevState *s)
{
    s->poison = bitmap_new(s->vram_size >> 12);
}

void hmmdev_inject_free(HmmdevState *s)
{
    unsigned i;

    for (i = 0; i < s->poisoned; i++) {
        memory_region_del_subregion(s->vram, &s->poison_mr[i]);
        object_unparent(OBJECT(&s->poison_mr[i]));
    }
    g_free(s->poison);
}

/* Reset: hung engines come back; VRAM stays poisoned (it is hardware). */
void hmmdev_inject_reset(HmmdevState *s)
{
    qatomic_set(&s->inject_engine_hang, 0);
}

/* ---- QOM ---- */

static void hmmdev_get_u32(Object *obj, Visitor *v, const char *name,
                           void *opaque, Error **errp)
{
    uint32_t val = qatomic_read((uint32_t *)((char *)obj + (uintptr_t)opaque));

    visit_type_uint32(v, name, &val, errp);
}

static void hmmdev_set_u32(Object *obj, Visitor *v, const char *name,
                           void *opaque, Error **errp)
{
    uint32_t val;

    if (visit_type_uint32(v, name, &val, errp)) {
        qatomic_set((uint32_t *)((char *)obj + (uintptr_t)opaque), val);
    }
}

static void hmmdev_get_u64(Object *obj, Visitor *v, const char *name,
                           void *opaque, Error **errp)
{
    uint64_t val = qatomic_read((uint64_t *)((char *)obj + (uintptr_t)opaque));

    visit_type_uint64(v, name, &val, errp);
}

static void hmmdev_set_u64(Object *obj, Visitor *v, const char *name,
                           void *opaque, Error **errp)
{
    uint64_t val;

    if (visit_type_uint64(v, name, &val, errp)) {
        qatomic_set((uint64_t *)((char *)obj + (uintptr_t)opaque), val);
    }
}

static void hmmdev_get_poisoned(Object *obj, Visitor *v, const char *name,
                                void *opaque, Error **errp)
{
    uint64_t val = qatomic_read(&HMMDEV(obj)->poisoned);

    visit_type_uint64(v, name, &val, errp);
}

static void hmmdev_set_poison(Object *obj, Visitor *v, const char *name,
                              void *opaque, Error **errp)
{
    HmmdevState *s = HMMDEV(obj);
    uint64_t off;

    if (!DEVICE(obj)->realized) {
        error_setg(errp, "hmmdev: x-inject-poison-vram is set at run time");
        return;
    }
    if (visit_type_uint64(v, name, &off, errp)) {
        hmmdev_poison_page(s, off, errp);
    }
}

#define KNOB32(n, f, d)  { n, offsetof(HmmdevState, f), d, false }
#define KNOB64(n, f, d)  { n, offsetof(HmmdevState, f), d, true }

static const struct {
    const char *name;
    size_t offset;
    const char *desc;
    bool is64;
} hmmdev_knobs[] = {
    KNOB32("x-inject-xlate-delay-us", inject_xlate_delay_us,
           "wait this long between a translation and its use"),
    KNOB32("x-inject-drop-syncs", inject_drop_syncs,
           "the next N SYNC commands never complete"),
    KNOB32("x-inject-sync-delay-us", inject_sync_delay_us,
           "every SYNC completes this much later"),
    KNOB32("x-inject-invalidate-delay-us", inject_invalidate_delay_us,
           "every INVALIDATE takes effect this much later"),
    KNOB32("x-inject-bad-fq-tail", inject_bad_fq_tail,
           "FQ_TAIL reads all-ones while the fault ring holds a record"),
    KNOB32("x-inject-drop-irqs", inject_drop_irqs,
           "the next N MSI-X messages (of x-inject-drop-irq-vectors) are lost"),
    KNOB32("x-inject-drop-irq-every", inject_drop_irq_every,
           "every Nth MSI-X message (of x-inject-drop-irq-vectors) is lost"),
    KNOB32("x-inject-drop-irq-vectors", inject_drop_irq_vectors,
           "mask of the vectors whose messages may be lost (default all)"),
    KNOB32("x-inject-dma-error-every", inject_dma_error_every,
           "every Nth engine access to system memory fails"),
    KNOB64("x-inject-dma-error-base", inject_dma_error_base,
           "engine accesses to this bus range fail (with -len)"),
    KNOB64("x-inject-dma-error-len", inject_dma_error_len,
           "length of the failing bus range (0: none)"),
    KNOB32("x-inject-spurious-faults", inject_spurious_faults,
           "the next N translations that hit fault anyway"),
    KNOB32("x-inject-duplicate-faults", inject_duplicate_faults,
           "the next N fault records are written twice"),
    KNOB32("x-inject-fq-limit", inject_fq_limit,
           "the fault queue holds at most N records (0: the ring's size)"),
    KNOB32("x-inject-fq-full", inject_fq_full,
           "the next N faults find the fault queue full"),
    KNOB32("x-inject-engine-hang", inject_engine_hang,
           "non-zero: engines stop making progress until a reset"),
};

void hmmdev_inject_class_init(ObjectClass *klass)
{
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(hmmdev_knobs); i++) {
        bool is64 = hmmdev_knobs[i].is64;

        object_class_property_add(klass, hmmdev_knobs[i].name,
                                  is64 ? "uint64" : "uint32",
                                  is64 ? hmmdev_get_u64 : hmmdev_get_u32,
                                  is64 ? hmmdev_set_u64 : hmmdev_set_u32,
                                  NULL, (void *)hmmdev_knobs[i].offset);
        object_class_property_set_description(klass, hmmdev_knobs[i].name,
                                              hmmdev_knobs[i].desc);
    }
    object_class_property_add(klass, "x-inject-poison-vram", "uint64",
                              hmmdev_get_poisoned, hmmdev_set_poison,
                              NULL, NULL);
    object_class_property_set_description(klass, "x-inject-poison-vram",
        "write a VRAM offset: its page becomes uncorrectable (engine reads "
        "fail, CPU reads all-ones); reads the number of poisoned pages");
}
