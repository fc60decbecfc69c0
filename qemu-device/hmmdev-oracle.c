/*
 * hmmdev: the coherence oracle -- every translation an engine uses is
 * checked against the CPU page tables of the process the context mirrors,
 * at the moment of use (SPEC.rst, "Coherence oracle").
 *
 * The check runs in hmmdev_end_map() (hmmdev-dma.c) after the piece is
 * mapped and before any byte moves, while the engine still holds its
 * translation marker: an invalidation that reached the device cannot have
 * completed yet, so the CPU side cannot have moved on legally.  The walker
 * reads the guest's x86-64 page tables from guest-physical memory directly
 * (address_space_memory, RAM only, one 8-byte atomic load per entry, no
 * BQL); the decoder of Linux's non-present entries is
 * hmmdev_oracle_decode(), the one place that knows their layout.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/rcu.h"
#include "qapi/error.h"
#include "system/address-spaces.h"
#include "system/memory.h"
#include "system/runstate.h"
#include "hmmdev.h"
#include "trace.h"

/* x86-64 page-table entry bits (Intel SDM vol. 3, 4.5) */
#define X86_PRESENT         (1ull << 0)
#define X86_RW              (1ull << 1)
#define X86_PS              (1ull << 7)     /* 2 MiB / 1 GiB leaf */
#define X86_PROTNONE        (1ull << 8)     /* Linux: present, no access */
#define X86_ADDR_MASK       0x000ffffffffff000ull

/*
 * Linux's x86-64 swap entries (arch/x86/include/asm/pgtable_64.h): type in
 * bits 63:59, the offset inverted in bits 58:9, software flags below.
 */
#define SWP_TYPE_BITS       5
#define SWP_OFFSET_SHIFT    14

static const char *const hmmdev_oracle_modes[] = {
    [HMMDEV_ORACLE_OFF] = "off",
    [HMMDEV_ORACLE_COUNT] = "count",
    [HMMDEV_ORACLE_FAIL] = "fail",
    [HMMDEV_ORACLE_STOP] = "stop",
};

static const char *const hmmdev_cpu_kinds[] = {
    [HMMDEV_CPU_NONE] = "none",
    [HMMDEV_CPU_PRESENT] = "present",
    [HMMDEV_CPU_PROTNONE] = "no-access",
    [HMMDEV_CPU_PRIVATE] = "device-private",
    [HMMDEV_CPU_EXCLUSIVE] = "device-exclusive",
    [HMMDEV_CPU_SWAP] = "swap",
    [HMMDEV_CPU_UNREADABLE] = "unreadable",
};

/* A CPU entry as the oracle understands it. */
typedef struct HmmdevCpuEntry {
    uint64_t raw;
    unsigned kind;                  /* HMMDEV_CPU_* */
    unsigned level;                 /* 1: PTE, 2: PMD, 3: PUD, ... */
    unsigned type;                  /* swap type of a non-present entry */
    bool write;                     /* writable at every level */
    uint64_t pfn;                   /* of the page at the walked VA */
    uint64_t span;                  /* bytes from the VA this entry covers */
} HmmdevCpuEntry;

/*
 * Decode one last-level entry.  @types is ORACLE_SWP_TYPES: which swap
 * types are device-private (write, read) and device-exclusive (write,
 * read) entries in this guest kernel.
 */
static void hmmdev_oracle_decode(uint64_t v, uint32_t types, HmmdevCpuEntry *c)
{
    unsigned i;

    c->raw = v;
    c->type = 0;
    c->write = false;
    c->pfn = 0;
    if (v & X86_PRESENT) {
        c->kind = HMMDEV_CPU_PRESENT;
        c->write = v & X86_RW;
        c->pfn = (v & X86_ADDR_MASK) >> 12;
        return;
    }
    if (!v) {
        c->kind = HMMDEV_CPU_NONE;
        return;
    }
    if (v & X86_PROTNONE) {
        /* PROT_NONE or a NUMA hint: the pfn is kept inverted (L1TF) */
        c->kind = HMMDEV_CPU_PROTNONE;
        c->pfn = (~v & X86_ADDR_MASK) >> 12;
        return;
    }
    c->kind = HMMDEV_CPU_SWAP;
    c->type = v >> (64 - SWP_TYPE_BITS);
    c->pfn = (~v << SWP_TYPE_BITS) >> SWP_OFFSET_SHIFT;
    for (i = 0; i < 4; i++) {
        uint32_t t = types >> (8 * i);

        if ((t & HMMDEV_SWP_VALID) && (t & HMMDEV_SWP_TYPE_MASK) == c->type) {
            c->kind = i < 2 ? HMMDEV_CPU_PRIVATE : HMMDEV_CPU_EXCLUSIVE;
            c->write = i % 2 == 0;
            return;
        }
    }
}

/* ORACLE_DECODED for ORACLE_PROBE = @v */
static uint64_t hmmdev_oracle_probe(HmmdevState *s, uint64_t v)
{
    HmmdevCpuEntry c;

    hmmdev_oracle_decode(v, qatomic_read(&s->oracle_swp_types), &c);
    return c.kind | (c.write ? HMMDEV_CPU_WRITE : 0) |
           (uint64_t)c.type << HMMDEV_CPU_TYPE_SHIFT |
           c.pfn << HMMDEV_CPU_PFN_SHIFT;
}

/* Host pointer to guest-physical @gpa, if it is RAM.  RCU read lock held. */
static void *hmmdev_oracle_ram(hwaddr gpa, hwaddr len)
{
    hwaddr xlat, plen = len;
    MemoryRegion *mr;

    mr = address_space_translate(&address_space_memory, gpa, &xlat, &plen,
                                 false, MEMTXATTRS_UNSPECIFIED);
    if (plen < len || !memory_access_is_direct(mr, false,
                                               MEMTXATTRS_UNSPECIFIED)) {
        return NULL;
    }
    return qemu_map_ram_ptr(mr->ram_block, xlat);
}

/*
 * Walk @levels levels of CPU page tables from @root for @va.  RCU read
 * lock held.
 */
static void hmmdev_oracle_walk(uint64_t root, unsigned levels, uint64_t va,
                               uint32_t types, HmmdevCpuEntry *c)
{
    uint64_t table = root & X86_ADDR_MASK, e, size;
    bool write = true;
    uint64_t *ptr;
    unsigned level;

    for (level = levels; ; level--) {
        size = 1ull << (12 + 9 * (level - 1));
        c->level = level;
        c->span = size - (va & (size - 1));
        ptr = hmmdev_oracle_ram(table, 4096);
        if (!ptr) {
            *c = (HmmdevCpuEntry) {
                .raw = table, .kind = HMMDEV_CPU_UNREADABLE, .level = level,
                .span = c->span,
            };
            return;
        }
        e = hmmdev_read_le64(ptr + ((va >> (12 + 9 * (level - 1))) & 511));
        if (level == 1 || (level == 2 && !(e & X86_PRESENT))) {
            /* a leaf, or a non-present PMD: a huge swap or device entry */
            hmmdev_oracle_decode(e & (level == 2 ? ~X86_PS : ~0ull), types, c);
            c->raw = e;
            if (level == 2 && (e & X86_PS) && c->kind != HMMDEV_CPU_NONE) {
                c->kind = HMMDEV_CPU_PROTNONE;  /* an invalidated huge PMD */
            }
            c->write &= write;
            if (c->kind != HMMDEV_CPU_NONE && c->kind != HMMDEV_CPU_SWAP) {
                c->pfn += (va & (size - 1)) >> 12;
            }
            return;
        }
        if (!(e & X86_PRESENT)) {
            *c = (HmmdevCpuEntry) {
                .raw = e, .kind = e ? HMMDEV_CPU_SWAP : HMMDEV_CPU_NONE,
                .level = level, .span = c->span,
            };
            return;
        }
        write &= !!(e & X86_RW);
        if ((e & X86_PS) && (level == 2 || level == 3)) {
            *c = (HmmdevCpuEntry) {
                .raw = e, .kind = HMMDEV_CPU_PRESENT, .level = level,
                .write = write && (e & X86_RW), .span = c->span,
                .pfn = ((e & X86_ADDR_MASK & ~(size - 1)) +
                        (va & (size - 1))) >> 12,
            };
            return;
        }
        table = e & X86_ADDR_MASK;
    }
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
        cpu_ptr = hmmdev_oracle_ram(c->pfn << 12, 4096);
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
                  x->addr + delta, c->level, c->raw, hmmdev_cpu_kinds[c->kind],
                  why, xepoch, epoch);
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
        hmmdev_oracle_walk(root, root & HMMDEV_CPU_ROOT_LEVELS, va + delta,
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
                               hmmdev_cpu_kinds[r->cpu_kind], r->why,
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
