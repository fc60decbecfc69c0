/*
 * hmmdev: the device MMU -- contexts, page-table walks, the translation
 * cache (ATC) and its invalidation.
 *
 * Page tables live in VRAM (SPEC.rst, "Device MMU").  A translation is
 * used only from the ATC or from a fresh walk; once cached it stays until
 * an INVALIDATE or an eviction drops it.  The device never re-checks a
 * cached translation against the page tables, so a driver that forgets an
 * invalidation really does reach stale memory.
 *
 * Invalidation-completion protocol.  An engine publishes, for as long as
 * it uses a translation (lookup or walk, then the data access), the ATC
 * epoch it started in (hmmdev_xlate_begin/end).  INVALIDATE drops entries
 * and bumps the epoch under atc_lock.  SYNC (hmmdev_wait_translations)
 * waits until no engine holds a marker older than the current epoch: every
 * access that could have used a dropped translation has then finished.
 * A walk inserts its result only if the epoch did not move while it ran,
 * so a walk racing with an invalidation cannot resurrect a stale entry.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "hmmdev.h"
#include "trace.h"

#define PAGE_4K     (1ull << 12)
#define PAGE_2M     (1ull << 21)

void hmmdev_mmu_init(HmmdevState *s)
{
    qemu_mutex_init(&s->atc_lock);
    qemu_mutex_init(&s->sync_lock);
    qemu_cond_init(&s->sync_cond);
    s->atc = g_new0(HmmdevAtcEntry, s->atc_sets * s->atc_ways);
    s->atc_epoch = 1;               /* 0 means "no marker" */
    hmmdev_mmu_reset(s);
}

void hmmdev_mmu_free(HmmdevState *s)
{
    g_free(s->atc);
    qemu_cond_destroy(&s->sync_cond);
    qemu_mutex_destroy(&s->sync_lock);
    qemu_mutex_destroy(&s->atc_lock);
}

/* Reset: contexts off, ATC empty (an invalidation of everything). */
void hmmdev_mmu_reset(HmmdevState *s)
{
    unsigned i;

    for (i = 0; i < HMMDEV_NUM_CONTEXTS; i++) {
        qatomic_set(&s->contexts[i].enabled, false);
        qatomic_set(&s->contexts[i].root_pfn, HMMDEV_NO_ROOT);
        s->contexts[i].root = 0;
    }
    hmmdev_atc_invalidate(s, true, 0, true, 0, 0);
}

static bool hmmdev_root_valid(HmmdevState *s, uint64_t root)
{
    return root % PAGE_4K == 0 && root <= s->vram_size - PAGE_4K;
}

/* BQL held.  @off is relative to HMMDEV_REG_CTX_BASE. */
uint64_t hmmdev_ctx_read(HmmdevState *s, hwaddr off)
{
    HmmdevContext *c = &s->contexts[off / HMMDEV_CTX_STRIDE];

    switch (off % HMMDEV_CTX_STRIDE) {
    case HMMDEV_CTX_ROOT:
        return c->root;
    case HMMDEV_CTX_ROOT + 4:
        return c->root >> 32;
    case HMMDEV_CTX_CTRL:
        return qatomic_read(&c->enabled);
    }
    return 0;
}

/* BQL held.  @off is relative to HMMDEV_REG_CTX_BASE. */
void hmmdev_ctx_write(HmmdevState *s, hwaddr off, uint64_t val, unsigned size)
{
    unsigned ctx = off / HMMDEV_CTX_STRIDE;
    HmmdevContext *c = &s->contexts[ctx];
    uint64_t root = c->root;

    switch (off % HMMDEV_CTX_STRIDE) {
    case HMMDEV_CTX_ROOT:
    case HMMDEV_CTX_ROOT + 4:
        hmmdev_set_base(&root, off % HMMDEV_CTX_STRIDE, HMMDEV_CTX_ROOT, val,
                        size);
        break;
    case HMMDEV_CTX_CTRL:
        if ((val & 1) && !hmmdev_root_valid(s, root)) {
            /* enabling with a bad root leaves the context disabled */
            qatomic_set(&c->enabled, false);
            hmmdev_device_error(s, HMMDEV_ERR_BAD_CONTEXT);
            return;
        }
        qatomic_set(&c->enabled, val & 1);
        return;
    default:
        hmmdev_device_error(s, HMMDEV_ERR_BAD_REGISTER);
        return;
    }
    /*
     * A root may be half-written: the engines see it only once it is a
     * valid table offset, and walk nothing until then.
     */
    c->root = root;
    qatomic_set(&c->root_pfn, hmmdev_root_valid(s, root) ? root >> 12
                                                          : HMMDEV_NO_ROOT);
}

void hmmdev_xlate_begin(HmmdevEngine *e)
{
    qatomic_set(&e->xlate_epoch, qatomic_read(&e->s->atc_epoch));
    /* publish the marker before the ATC lookup; pairs with SYNC's smp_mb */
    smp_mb();
}

void hmmdev_xlate_end(HmmdevEngine *e)
{
    HmmdevState *s = e->s;

    qatomic_store_release(&e->xlate_epoch, 0);
    /* clear the marker before reading sync_waiters (Dekker with SYNC) */
    smp_mb();
    if (qatomic_read(&s->sync_waiters)) {
        qemu_mutex_lock(&s->sync_lock);
        qemu_cond_broadcast(&s->sync_cond);
        qemu_mutex_unlock(&s->sync_lock);
    }
}

/* Epochs are 32-bit and wrap; 0 is never an epoch. */
static uint32_t hmmdev_epoch_next(uint32_t epoch)
{
    return epoch + 1 ? epoch + 1 : 1;
}

static bool hmmdev_old_markers(HmmdevState *s, uint32_t epoch)
{
    unsigned i;

    for (i = 0; i < s->num_engines; i++) {
        uint32_t marker = qatomic_read(&s->engines[i].xlate_epoch);

        /* markers live for one piece: far less than 2^31 epochs */
        if (marker && (int32_t)(marker - epoch) < 0) {
            return true;
        }
    }
    return false;
}

/*
 * SYNC: wait until no engine uses a translation older than now.  False
 * when the device was reset (or unplugged) meanwhile.
 */
bool hmmdev_wait_translations(HmmdevState *s, uint32_t gen)
{
    uint32_t epoch = qatomic_read(&s->atc_epoch);
    bool ok = true;

    qemu_mutex_lock(&s->sync_lock);
    qatomic_inc(&s->sync_waiters);
    /* count ourselves before reading markers; pairs with xlate_end */
    smp_mb();
    while (hmmdev_old_markers(s, epoch)) {
        ok = hmmdev_generation(s) == gen && !qatomic_read(&s->quit);
        if (!ok) {
            break;
        }
        qemu_cond_timedwait(&s->sync_cond, &s->sync_lock, 10);
    }
    qatomic_dec(&s->sync_waiters);
    qemu_mutex_unlock(&s->sync_lock);
    return ok && hmmdev_generation(s) == gen;
}

static HmmdevAtcEntry *hmmdev_atc_set(HmmdevState *s, bool huge,
                                      unsigned ctx, uint64_t tag)
{
    uint64_t h = tag ^ ((uint64_t)ctx * 0x9e3779b97f4a7c15ull >> 40) ^ huge;

    return &s->atc[(h & (s->atc_sets - 1)) * s->atc_ways];
}

/* atc_lock held.  The entry that maps @va in @ctx, if any. */
static HmmdevAtcEntry *hmmdev_atc_lookup(HmmdevState *s, unsigned ctx,
                                         uint64_t va)
{
    int huge;
    unsigned w;

    for (huge = 0; huge <= 1; huge++) {
        uint64_t tag = va >> (huge ? 21 : 12);
        HmmdevAtcEntry *set = hmmdev_atc_set(s, huge, ctx, tag);

        for (w = 0; w < s->atc_ways; w++) {
            if (set[w].valid && set[w].huge == huge && set[w].ctx == ctx &&
                set[w].tag == tag) {
                return &set[w];
            }
        }
    }
    return NULL;
}

/* atc_lock held. */
static void hmmdev_atc_insert(HmmdevState *s, unsigned ctx, uint64_t va,
                              uint64_t pte, bool huge)
{
    uint64_t tag = va >> (huge ? 21 : 12);
    HmmdevAtcEntry *set = hmmdev_atc_set(s, huge, ctx, tag);
    HmmdevAtcEntry *old = hmmdev_atc_lookup(s, ctx, va);
    HmmdevAtcEntry *victim = NULL;
    unsigned w;

    if (old && old->huge == huge) {
        victim = old;               /* refresh, e.g. DIRTY now set */
    } else if (old) {
        old->valid = false;         /* the page size changed */
    }
    for (w = 0; !victim && w < s->atc_ways; w++) {
        if (!set[w].valid) {
            victim = &set[w];
        }
    }
    if (!victim) {
        victim = &set[0];
        for (w = 1; w < s->atc_ways; w++) {
            if (set[w].lru < victim->lru) {
                victim = &set[w];
            }
        }
    }
    if (victim->valid && (victim->tag != tag || victim->ctx != ctx)) {
        trace_hmmdev_atc_evict(victim->ctx, victim->tag, victim->huge);
        hmmdev_count(s, HMMDEV_CNT_ATC_EVICTIONS, 1);
    }
    *victim = (HmmdevAtcEntry) {
        .tag = tag, .pte = pte, .lru = ++s->atc_tick, .ctx = ctx,
        .valid = true, .huge = huge,
    };
}

void hmmdev_atc_invalidate(HmmdevState *s, bool all_ctx, unsigned ctx,
                           bool all_va, uint64_t va, uint64_t len)
{
    unsigned i, dropped = 0;

    qemu_mutex_lock(&s->atc_lock);
    for (i = 0; i < s->atc_sets * s->atc_ways; i++) {
        HmmdevAtcEntry *e = &s->atc[i];
        uint64_t size = e->huge ? PAGE_2M : PAGE_4K;
        uint64_t start = e->tag * size;

        if (!e->valid || (!all_ctx && e->ctx != ctx) ||
            (!all_va && (start >= va + len || start + size <= va))) {
            continue;
        }
        e->valid = false;
        dropped++;
    }
    qatomic_set(&s->atc_epoch, hmmdev_epoch_next(s->atc_epoch));
    qemu_mutex_unlock(&s->atc_lock);
    hmmdev_count(s, HMMDEV_CNT_ATC_INVALIDATED, dropped);
    trace_hmmdev_atc_invalidate(s->trace_name, hmmdev_now(), all_ctx, ctx,
                                all_va, va, len, dropped);
}

static bool hmmdev_leaf_permits(uint64_t pte, unsigned access)
{
    if ((access & (HMMDEV_ACCESS_WRITE | HMMDEV_ACCESS_ATOMIC)) &&
        !(pte & HMMDEV_PTE_WRITE)) {
        return false;
    }
    return !(access & HMMDEV_ACCESS_ATOMIC) || (pte & HMMDEV_PTE_ATOMIC);
}

/* A cached leaf serves @access without a walk (writes need DIRTY set). */
static bool hmmdev_leaf_serves(uint64_t pte, unsigned access)
{
    return hmmdev_leaf_permits(pte, access) &&
           (access == HMMDEV_ACCESS_READ || (pte & HMMDEV_PTE_DIRTY));
}

/*
 * Walk @ctx's tables for @va.  Sets ACCESSED (and DIRTY for a write) in the
 * leaf with a compare-and-swap, as hardware does.
 */
static HmmdevXlateStatus hmmdev_walk(HmmdevState *s, unsigned ctx,
                                     uint64_t va, unsigned access,
                                     uint64_t *leaf, bool *huge,
                                     uint32_t *reason)
{
    uint32_t root_pfn = qatomic_read(&s->contexts[ctx].root_pfn);
    uint64_t table = (uint64_t)root_pfn << 12;
    uint64_t pte, want, page, addr, off;
    uint64_t *slot;
    int level;

    hmmdev_count(s, HMMDEV_CNT_WALKS, 1);
    if (root_pfn == HMMDEV_NO_ROOT) {
        return HMMDEV_XLATE_BAD_CONTEXT;
    }
    for (level = 4; level >= 1; level--) {
        unsigned index = (va >> (12 + 9 * (level - 1))) & 511;

        off = table + 8 * index;
        slot = (uint64_t *)(s->vram_ptr + off);
retry:
        pte = hmmdev_read_le64(slot);
        trace_hmmdev_walk(ctx, va, level, pte);
        if (!(pte & HMMDEV_PTE_VALID)) {
            *reason = HMMDEV_FAULT_NOT_PRESENT;
            return HMMDEV_XLATE_FAULT;
        }
        if (level > 2 || (level == 2 && !(pte & HMMDEV_PTE_HUGE))) {
            table = pte & HMMDEV_PTE_ADDR_MASK;
            if (pte & ~(HMMDEV_PTE_ADDR_MASK | HMMDEV_PTE_TABLE_FLAGS) ||
                table > s->vram_size - PAGE_4K) {
                return HMMDEV_XLATE_BAD_PTE;
            }
            continue;
        }
        page = level == 2 ? PAGE_2M : PAGE_4K;
        addr = pte & HMMDEV_PTE_ADDR_MASK;
        if (pte & ~(HMMDEV_PTE_ADDR_MASK | HMMDEV_PTE_LEAF_FLAGS) ||
            (level == 1 && (pte & HMMDEV_PTE_HUGE)) || addr % page ||
            ((pte & HMMDEV_PTE_VRAM) &&
             (s->vram_size < page || addr > s->vram_size - page))) {
            return HMMDEV_XLATE_BAD_PTE;
        }
        if (!hmmdev_leaf_permits(pte, access)) {
            *reason = HMMDEV_FAULT_PERMISSION;
            return HMMDEV_XLATE_FAULT;
        }
        want = pte | HMMDEV_PTE_ACCESSED |
               (access == HMMDEV_ACCESS_READ ? 0 : HMMDEV_PTE_DIRTY);
        if (want != pte) {
            if (!hmmdev_cmpxchg_le64(slot, pte, want)) {
                goto retry;     /* the driver changed the entry under us */
            }
            memory_region_set_dirty(s->vram, off, 8);
        }
        *leaf = want;
        *huge = level == 2;
        return HMMDEV_XLATE_OK;
    }
    g_assert_not_reached();
}

/*
 * atc_lock held.  Grow @x over the pages after it while they are cached,
 * serve @access and continue it contiguously, up to @max bytes: one run,
 * one DMA mapping for the engine.
 */
static void hmmdev_atc_extend(HmmdevState *s, unsigned ctx, uint64_t va,
                              unsigned access, uint64_t max, HmmdevXlate *x)
{
    HmmdevAtcEntry *next;
    uint64_t page, addr;

    while (x->len < max && va + x->len < (1ull << HMMDEV_VA_BITS)) {
        next = hmmdev_atc_lookup(s, ctx, va + x->len);
        if (!next || !hmmdev_leaf_serves(next->pte, access) ||
            !(next->pte & HMMDEV_PTE_VRAM) != !x->vram) {
            return;
        }
        page = next->huge ? PAGE_2M : PAGE_4K;
        addr = (next->pte & HMMDEV_PTE_ADDR_MASK) +
               ((va + x->len) & (page - 1));
        if (addr != x->addr + x->len) {
            return;
        }
        next->lru = ++s->atc_tick;
        x->len += page - ((va + x->len) & (page - 1));
        hmmdev_count(s, HMMDEV_CNT_ATC_HITS, 1);
    }
}

/*
 * Translate @va of @ctx for @access; @x covers at least the rest of @va's
 * page and, where cached translations continue it, up to @max bytes.  The
 * caller holds a translation marker (hmmdev_xlate_begin) until it has
 * finished using the result.
 */
HmmdevXlateStatus hmmdev_translate(HmmdevEngine *e, unsigned ctx, uint64_t va,
                                   unsigned access, uint64_t max,
                                   HmmdevXlate *x, uint32_t *reason)
{
    HmmdevState *s = e->s;
    HmmdevAtcEntry *hit;
    HmmdevXlateStatus st;
    uint64_t pte = 0, page;
    bool huge = false;

    if (ctx >= HMMDEV_NUM_CONTEXTS ||
        !qatomic_read(&s->contexts[ctx].enabled)) {
        return HMMDEV_XLATE_BAD_CONTEXT;
    }
    qemu_mutex_lock(&s->atc_lock);
    hit = hmmdev_atc_lookup(s, ctx, va);
    if (hit && hmmdev_leaf_serves(hit->pte, access)) {
        hit->lru = ++s->atc_tick;
        pte = hit->pte;
        huge = hit->huge;
    }
    qemu_mutex_unlock(&s->atc_lock);

    if (pte) {
        hmmdev_count(s, HMMDEV_CNT_ATC_HITS, 1);
        trace_hmmdev_atc_hit(e->id, ctx, va, pte);
    } else {
        hmmdev_count(s, HMMDEV_CNT_ATC_MISSES, 1);
        trace_hmmdev_atc_miss(e->id, ctx, va, access);
        st = hmmdev_walk(s, ctx, va, access, &pte, &huge, reason);
        if (st != HMMDEV_XLATE_OK) {
            return st;
        }
        qemu_mutex_lock(&s->atc_lock);
        if (s->atc_epoch == qatomic_read(&e->xlate_epoch)) {
            hmmdev_atc_insert(s, ctx, va, pte, huge);
        }
        qemu_mutex_unlock(&s->atc_lock);
    }
    page = huge ? PAGE_2M : PAGE_4K;
    x->addr = (pte & HMMDEV_PTE_ADDR_MASK) + (va & (page - 1));
    x->len = page - (va & (page - 1));
    x->vram = pte & HMMDEV_PTE_VRAM;
    if (max > x->len) {
        qemu_mutex_lock(&s->atc_lock);
        hmmdev_atc_extend(s, ctx, va, access, max, x);
        qemu_mutex_unlock(&s->atc_lock);
    }
    return HMMDEV_XLATE_OK;
}
