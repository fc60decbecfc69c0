/*
 * hmmdev: the engines' data path -- what a job reads and writes.
 *
 * A job works on "ends": system memory (a bus address), VRAM (an offset)
 * or a virtual address of a context.  It proceeds in pieces; for each
 * piece every end is mapped to host memory directly, the operation runs on
 * the mapped bytes, and the mappings are released.  A VA end is translated
 * by the device MMU, and hmmdev_end_map() is the one place where a
 * translation is used: the trace and the coherence oracle
 * (hmmdev-oracle.c) check every use there.  The engine holds its
 * translation marker from the translation to the end of the piece's
 * access, and is inside the gate (hmmdev-engine.c) for the whole piece.
 *
 * Only RAM that can be accessed directly is a DMA target: peer-to-peer
 * MMIO and ram_device regions (VFIO BARs, the TPM PPI page) are refused,
 * so an engine never needs the BQL.  hmmdev_dma_map() checks the target
 * and maps it in one RCU section, so a remap in between cannot send the
 * access down the MMIO path.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/rcu.h"
#include "hw/pci/pci.h"
#include "system/dma.h"
#include "hmmdev.h"
#include "trace.h"

typedef enum HmmdevEndKind {
    HMMDEV_END_SYSMEM,
    HMMDEV_END_VRAM,
    HMMDEV_END_VA,
} HmmdevEndKind;

typedef struct HmmdevEnd {
    HmmdevEndKind kind;
    uint64_t addr;
} HmmdevEnd;

/* A mapped piece of memory. */
typedef struct HmmdevSeg {
    AddressSpace *as;               /* NULL: nothing mapped */
    uint8_t *ptr;
    uint64_t len;
    bool is_write;
} HmmdevSeg;

/* A translation fault, to be reported once no mapping is held. */
typedef struct HmmdevFaultInfo {
    uint64_t va;
    unsigned access;
    uint32_t reason;
} HmmdevFaultInfo;

#define HMMDEV_FAULTED      0x100   /* internal status: report, then retry */
#define HMMDEV_INTERRUPTED  0x101   /* internal: the gate wants to close */

/* ---- 64-bit little-endian words in memory the guest shares ---- */

#ifdef CONFIG_ATOMIC64
uint64_t hmmdev_read_le64(uint64_t *p)
{
    uint64_t v;

    hmmdev_guest_access_begin();
    v = le64_to_cpu(qatomic_read__nocheck(p));
    hmmdev_guest_access_end();
    return v;
}

/* Replace @old by @new (CPU order) if @p still holds @old. */
bool hmmdev_cmpxchg_le64(uint64_t *p, uint64_t old, uint64_t new)
{
    bool ok;

    hmmdev_guest_access_begin();
    ok = qatomic_cmpxchg__nocheck(p, cpu_to_le64(old), cpu_to_le64(new)) ==
         cpu_to_le64(old);
    hmmdev_guest_access_end();
    return ok;
}
#else
/*
 * Hosts without 64-bit atomics: one lock orders the engines; such hosts
 * are deprecated and cannot run 64-bit guests anyway.
 */
static QemuMutex hmmdev_atomic64_lock;

static void __attribute__((constructor)) hmmdev_atomic64_init(void)
{
    qemu_mutex_init(&hmmdev_atomic64_lock);
}

uint64_t hmmdev_read_le64(uint64_t *p)
{
    uint64_t v;

    qemu_mutex_lock(&hmmdev_atomic64_lock);
    v = le64_to_cpu(*p);
    qemu_mutex_unlock(&hmmdev_atomic64_lock);
    return v;
}

bool hmmdev_cmpxchg_le64(uint64_t *p, uint64_t old, uint64_t new)
{
    bool ok;

    qemu_mutex_lock(&hmmdev_atomic64_lock);
    ok = le64_to_cpu(*p) == old;
    if (ok) {
        *p = cpu_to_le64(new);
    }
    qemu_mutex_unlock(&hmmdev_atomic64_lock);
    return ok;
}
#endif

/* ATOMIC_ADD on a little-endian u64, on any host byte order. */
void hmmdev_atomic_add_le64(uint64_t *p, uint64_t value, uint64_t *old)
{
    do {
        *old = hmmdev_read_le64(p);
    } while (!hmmdev_cmpxchg_le64(p, *old, *old + value));
}

/* ---- mapping ---- */

/*
 * Map up to *@len bytes at @addr of @as for direct access; *@len is set to
 * the contiguous length mapped.  In one RCU section: translate, refuse
 * anything memcpy cannot reach (MMIO, ram_device, ROM for a write), and
 * take the reference address_space_map() would take, so that
 * hmmdev_seg_unmap() -> address_space_unmap() marks the bytes dirty
 * (migration, TCG code) and drops it.
 */
static bool hmmdev_dma_map(AddressSpace *as, uint64_t addr, uint64_t *len,
                           bool is_write, HmmdevSeg *seg)
{
    hwaddr xlat, plen = *len;
    MemoryRegion *mr;

    if (!*len || addr + *len < addr) {
        return false;
    }
    RCU_READ_LOCK_GUARD();
    mr = address_space_translate(as, addr, &xlat, &plen, is_write,
                                 MEMTXATTRS_UNSPECIFIED);
    if (!plen || !memory_access_is_direct(mr, is_write,
                                          MEMTXATTRS_UNSPECIFIED)) {
        return false;
    }
    memory_region_ref(mr);
    *seg = (HmmdevSeg) {
        .as = as,
        .ptr = qemu_map_ram_ptr(mr->ram_block, xlat),
        .len = plen,
        .is_write = is_write,
    };
    *len = plen;
    return true;
}

static void hmmdev_seg_unmap(HmmdevSeg *seg, uint64_t used)
{
    if (seg->as) {
        address_space_unmap(seg->as, seg->ptr, seg->len, seg->is_write,
                            seg->is_write ? used : 0);
        seg->as = NULL;
    }
}

/*
 * Copy to or from system memory (rings, records).  Only directly
 * accessible RAM is a valid target; with bus mastering off, every access
 * fails.
 */
MemTxResult hmmdev_sysmem_rw(HmmdevState *s, dma_addr_t addr, void *buf,
                             dma_addr_t len, DMADirection dir)
{
    AddressSpace *as = pci_get_address_space(PCI_DEVICE(s));
    bool is_write = dir == DMA_DIRECTION_FROM_DEVICE;
    HmmdevSeg seg;

    while (len) {
        uint64_t plen = len;

        if (!hmmdev_dma_map(as, addr, &plen, is_write, &seg)) {
            return MEMTX_DECODE_ERROR;
        }
        hmmdev_guest_access_begin();
        if (is_write) {
            memcpy(seg.ptr, buf, plen);
        } else {
            memcpy(buf, seg.ptr, plen);
        }
        hmmdev_guest_access_end();
        hmmdev_seg_unmap(&seg, plen);
        addr += plen;
        buf = (uint8_t *)buf + plen;
        len -= plen;
    }
    return MEMTX_OK;
}

/*
 * Map up to @max bytes of VRAM (an offset the caller checked) or system
 * memory (a bus address).  VRAM is our own RAM region: mapped directly,
 * with the reference and the unmap that system memory gets, so that
 * address_space_unmap() (which finds the region from the host pointer)
 * marks what an engine wrote dirty there too.
 */
static uint32_t hmmdev_map(HmmdevState *s, bool vram, uint64_t addr,
                           uint64_t max, unsigned access, HmmdevSeg *seg)
{
    AddressSpace *as = pci_get_address_space(PCI_DEVICE(s));
    bool is_write = access != HMMDEV_ACCESS_READ;

    if (vram) {
        if (access == HMMDEV_ACCESS_READ &&
            hmmdev_inject_vram_poisoned(s, addr, &max)) {
            return HMMDEV_JOB_VRAM_POISONED;
        }
        memory_region_ref(s->vram);
        *seg = (HmmdevSeg) {
            .as = as,
            .ptr = s->vram_ptr + addr,
            .len = max,
            .is_write = is_write,
        };
        return HMMDEV_JOB_OK;
    }
    if (hmmdev_inject_dma_error(s, addr, &max)) {
        return HMMDEV_JOB_DMA_ERROR;
    }
    return hmmdev_dma_map(as, addr, &max, is_write, seg) ? HMMDEV_JOB_OK
                                                         : HMMDEV_JOB_DMA_ERROR;
}

/*
 * Map up to @max bytes of @end at job offset @off.  Returns HMMDEV_JOB_OK
 * with @seg set, a job status, HMMDEV_FAULTED with @fault set, or
 * HMMDEV_INTERRUPTED.
 */
static uint32_t hmmdev_end_map(HmmdevEngine *e, const HmmdevJobDesc *d,
                               const HmmdevEnd *end, uint64_t off,
                               uint64_t max, unsigned access, HmmdevSeg *seg,
                               HmmdevFaultInfo *fault)
{
    HmmdevState *s = e->s;
    uint64_t va = end->addr + off;
    uint32_t reason = 0, delay, status;
    HmmdevXlate x;

    switch (end->kind) {
    case HMMDEV_END_VRAM:
    case HMMDEV_END_SYSMEM:
        return hmmdev_map(s, end->kind == HMMDEV_END_VRAM, va, max, access,
                          seg);
    case HMMDEV_END_VA:
        break;
    }
    switch (hmmdev_translate(e, d->context, va, access, max, &x, &reason)) {
    case HMMDEV_XLATE_OK:
        if (hmmdev_inject_spurious_fault(s)) {
            *fault = (HmmdevFaultInfo) { va, access,
                                         HMMDEV_FAULT_NOT_PRESENT };
            return HMMDEV_FAULTED;
        }
        break;
    case HMMDEV_XLATE_FAULT:
        *fault = (HmmdevFaultInfo) { va, access, reason };
        return HMMDEV_FAULTED;
    case HMMDEV_XLATE_BAD_PTE:
        hmmdev_device_error(s, HMMDEV_ERR_BAD_PTE);
        return HMMDEV_JOB_BAD_PTE;
    default:
        return HMMDEV_JOB_BAD_CONTEXT;
    }
    /* the translation is used here, and only here */
    trace_hmmdev_xlate_use(e->id, d->context, va, x.addr, x.vram, access,
                           MIN(max, x.len));
    delay = qatomic_read(&s->inject_xlate_delay_us);
    if (delay && !hmmdev_gate_sleep(s, e->gen, delay)) {
        return HMMDEV_INTERRUPTED;
    }
    /* the walks checked that VRAM pages lie inside VRAM */
    status = hmmdev_map(s, x.vram, x.addr, MIN(max, x.len), access, seg);
    if (status == HMMDEV_JOB_OK &&
        !hmmdev_oracle_check(e, d, va, seg->len, access, &x, seg->ptr)) {
        hmmdev_seg_unmap(seg, 0);
        return HMMDEV_JOB_STALE_TRANSLATION;
    }
    return status;
}

static void hmmdev_end_of(const HmmdevJobDesc *d, bool src, HmmdevEnd *end)
{
    uint8_t vram = src ? HMMDEV_JOB_SRC_VRAM : HMMDEV_JOB_DST_VRAM;
    uint8_t va = src ? HMMDEV_JOB_SRC_VA : HMMDEV_JOB_DST_VA;

    end->kind = d->flags & vram ? HMMDEV_END_VRAM :
                d->flags & va ? HMMDEV_END_VA : HMMDEV_END_SYSMEM;
    end->addr = src ? d->src : d->dst;
}

static bool hmmdev_end_ok(HmmdevState *s, const HmmdevEnd *end, uint64_t len)
{
    switch (end->kind) {
    case HMMDEV_END_VRAM:
        return end->addr <= s->vram_size && len <= s->vram_size - end->addr;
    case HMMDEV_END_VA:
        return end->addr < (1ull << HMMDEV_VA_BITS) &&
               len <= (1ull << HMMDEV_VA_BITS) - end->addr;
    default:
        return end->addr + len >= end->addr;
    }
}

static bool hmmdev_op_reads(uint8_t op)
{
    return op == HMMDEV_OP_COPY || op == HMMDEV_OP_CHECKSUM;
}

static bool hmmdev_op_writes(uint8_t op)
{
    return op == HMMDEV_OP_COPY || op == HMMDEV_OP_FILL ||
           op == HMMDEV_OP_ATOMIC_ADD;
}

/* Everything about a descriptor that can be checked before it runs. */
uint32_t hmmdev_job_check(HmmdevState *s, const HmmdevJobDesc *d)
{
    uint8_t both_src = HMMDEV_JOB_SRC_VRAM | HMMDEV_JOB_SRC_VA;
    uint8_t both_dst = HMMDEV_JOB_DST_VRAM | HMMDEV_JOB_DST_VA;
    HmmdevEnd src, dst;

    if (d->flags & ~HMMDEV_JOB_FLAGS_VALID || d->rsvd0 || d->rsvd1 ||
        (d->flags & both_src) == both_src ||
        (d->flags & both_dst) == both_dst) {
        return HMMDEV_JOB_BAD_FLAGS;
    }
    if (d->context >= HMMDEV_NUM_CONTEXTS ||
        (d->context && !(d->flags & (HMMDEV_JOB_SRC_VA | HMMDEV_JOB_DST_VA)))) {
        return HMMDEV_JOB_BAD_CONTEXT;
    }
    if (d->opcode == HMMDEV_OP_NOP) {
        return HMMDEV_JOB_OK;
    }
    if (d->opcode == HMMDEV_OP_COPY_LIST) {
        /* the entries are checked one by one as they run */
        if (d->flags & (HMMDEV_JOB_SRC_VA | HMMDEV_JOB_DST_VA) || d->dst) {
            return HMMDEV_JOB_BAD_FLAGS;
        }
        if (!d->length || d->length > HMMDEV_COPY_LIST_MAX ||
            !d->value || d->value > HMMDEV_COPY_ENTRY_MAX) {
            return HMMDEV_JOB_BAD_LENGTH;
        }
        return d->src % sizeof(HmmdevCopyEntry) ? HMMDEV_JOB_BAD_ADDRESS
                                                : HMMDEV_JOB_OK;
    }
    if (d->opcode > HMMDEV_OP_COPY_LIST) {
        return HMMDEV_JOB_BAD_OPCODE;
    }
    if (d->length == 0 || d->length > HMMDEV_JOB_MAX_LENGTH ||
        (d->opcode == HMMDEV_OP_ATOMIC_ADD && d->length != 8)) {
        return HMMDEV_JOB_BAD_LENGTH;
    }
    hmmdev_end_of(d, true, &src);
    hmmdev_end_of(d, false, &dst);
    if ((hmmdev_op_reads(d->opcode) && !hmmdev_end_ok(s, &src, d->length)) ||
        (hmmdev_op_writes(d->opcode) && !hmmdev_end_ok(s, &dst, d->length)) ||
        (d->opcode == HMMDEV_OP_ATOMIC_ADD && d->dst % 8)) {
        return HMMDEV_JOB_BAD_ADDRESS;
    }
    return HMMDEV_JOB_OK;
}

/*
 * COPY's bytes.  Where the destination is 1 to 63 bytes past the source
 * modulo 4 KiB -- a malloc()ed buffer against a page-aligned one, as the
 * user buffer of a READ often is -- a host's memmove() may stall on 4K
 * aliasing (the CPU takes each load for one that may read the store just
 * before it, as their low 12 address bits say).  Measured on the AMD EPYC
 * host of this project's CI, glibc 2.36's memmove (rep movsb): 64 MiB in
 * 256 KiB pieces in 23 ms with the destination 16 bytes past, 7 ms at 0 or
 * 64 bytes.  Such pieces, when they do not overlap, are copied in 8-byte
 * words with aligned stores instead: 6 ms.
 */
static void hmmdev_copy_bytes(uint8_t *dst, const uint8_t *src, uint64_t n)
{
    uintptr_t skew = ((uintptr_t)dst - (uintptr_t)src) & 4095;
    uint64_t head, w[4];

    if (skew == 0 || skew >= 64 || (dst < src + n && src < dst + n)) {
        memmove(dst, src, n);
        return;
    }
    head = MIN(-(uintptr_t)dst & 7, n);
    memcpy(dst, src, head);
    dst += head;
    src += head;
    n -= head;
    while (n >= sizeof(w)) {
        memcpy(w, src, sizeof(w));
        ((uint64_t *)dst)[0] = w[0];
        ((uint64_t *)dst)[1] = w[1];
        ((uint64_t *)dst)[2] = w[2];
        ((uint64_t *)dst)[3] = w[3];
        barrier();  /* a loop, not a call to memcpy() again */
        dst += sizeof(w);
        src += sizeof(w);
        n -= sizeof(w);
    }
    memcpy(dst, src, n);
}

/* Apply the job's operation to one mapped piece at job offset @off. */
static void hmmdev_piece_op(HmmdevEngine *e, const HmmdevJobDesc *d,
                            HmmdevSeg *src, HmmdevSeg *dst, uint64_t off,
                            uint64_t n, uint64_t *result)
{
    uint64_t i;

    switch (d->opcode) {
    case HMMDEV_OP_COPY:
        hmmdev_copy_bytes(dst->ptr, src->ptr, n);
        *result += n;
        break;
    case HMMDEV_OP_FILL:
        memcpy(dst->ptr, e->bounce + off % 8, n);
        *result += n;
        break;
    case HMMDEV_OP_ATOMIC_ADD:
        hmmdev_atomic_add_le64((uint64_t *)dst->ptr, d->value, result);
        break;
    case HMMDEV_OP_CHECKSUM:
        /* the sum of the little-endian u64 words of the source */
        for (i = 0; i < n; i++) {
            *result += (uint64_t)src->ptr[i] << (8 * ((off + i) % 8));
        }
        break;
    }
}

#define HMMDEV_LIST_BATCH   64      /* entries fetched at a time */

/*
 * COPY_LIST: each entry is run as the COPY job it describes (same flags,
 * checked the same way), in order; the first one that fails ends the job
 * with its status.  @result: bytes copied before that.
 */
static int hmmdev_copy_list(HmmdevEngine *e, const HmmdevJobDesc *d,
                            uint64_t *result)
{
    HmmdevCopyEntry batch[HMMDEV_LIST_BATCH];
    HmmdevJobDesc one = *d;
    uint64_t i, n, done;
    uint32_t status;
    int ret;

    one.opcode = HMMDEV_OP_COPY;
    one.length = d->value;
    for (i = 0; i < d->length; i++) {
        if (i % HMMDEV_LIST_BATCH == 0) {
            n = MIN(d->length - i, HMMDEV_LIST_BATCH);
            ret = hmmdev_gate_read(e->s, e->gen,
                                   d->src + i * sizeof(batch[0]), batch,
                                   n * sizeof(batch[0]));
            if (ret < 0) {
                return -1;
            }
            if (!ret) {
                hmmdev_count(e->s, HMMDEV_CNT_DMA_ERRORS, 1);
                return HMMDEV_JOB_DMA_ERROR;
            }
        }
        one.src = le64_to_cpu(batch[i % HMMDEV_LIST_BATCH].src);
        one.dst = le64_to_cpu(batch[i % HMMDEV_LIST_BATCH].dst);
        status = hmmdev_job_check(e->s, &one);
        if (status != HMMDEV_JOB_OK) {
            return status;
        }
        ret = hmmdev_job_execute(e, &one, &done);
        *result += done;
        if (ret != HMMDEV_JOB_OK) {
            return ret;
        }
    }
    return HMMDEV_JOB_OK;
}

/*
 * Inside the gate: map the piece of @d at @off (at most *@n bytes; *@n is
 * set to what was mapped), run the operation, unmap.
 */
static uint32_t hmmdev_piece(HmmdevEngine *e, const HmmdevJobDesc *d,
                             const HmmdevEnd *src, const HmmdevEnd *dst,
                             uint64_t off, uint64_t *n, uint64_t *result,
                             HmmdevFaultInfo *fault)
{
    bool reads = hmmdev_op_reads(d->opcode);
    bool writes = hmmdev_op_writes(d->opcode);
    unsigned dst_access = d->opcode == HMMDEV_OP_ATOMIC_ADD ?
                          HMMDEV_ACCESS_ATOMIC : HMMDEV_ACCESS_WRITE;
    HmmdevSeg in = { 0 }, out = { 0 };
    uint32_t status = HMMDEV_JOB_OK;

    hmmdev_xlate_begin(e);
    if (reads) {
        status = hmmdev_end_map(e, d, src, off, *n, HMMDEV_ACCESS_READ, &in,
                                fault);
        *n = MIN(*n, in.len);
    }
    if (status == HMMDEV_JOB_OK && writes) {
        status = hmmdev_end_map(e, d, dst, off, *n, dst_access, &out, fault);
        *n = MIN(*n, out.len);
    }
    if (status == HMMDEV_JOB_OK && d->opcode == HMMDEV_OP_ATOMIC_ADD &&
        *n < 8) {
        status = HMMDEV_JOB_DMA_ERROR;
    }
    if (status == HMMDEV_JOB_OK) {
        hmmdev_guest_access_begin();
        hmmdev_piece_op(e, d, &in, &out, off, *n, result);
        hmmdev_guest_access_end();
    }
    hmmdev_seg_unmap(&in, 0);
    hmmdev_seg_unmap(&out, status == HMMDEV_JOB_OK ? *n : 0);
    hmmdev_xlate_end(e);
    return status;
}

/*
 * Run a checked job.  Returns a HMMDEV_JOB_* status, or -1 when the device
 * was reset under the job.  @result: bytes done, old value or checksum.
 */
int hmmdev_job_execute(HmmdevEngine *e, const HmmdevJobDesc *d,
                       uint64_t *result)
{
    HmmdevState *s = e->s;
    HmmdevEnd src, dst;
    HmmdevFaultInfo fault;
    uint64_t off = 0, n, i;
    uint32_t status;
    int answer;

    *result = 0;
    if (d->opcode == HMMDEV_OP_NOP) {
        return HMMDEV_JOB_OK;
    }
    if (d->opcode == HMMDEV_OP_COPY_LIST) {
        return hmmdev_copy_list(e, d, result);
    }
    hmmdev_end_of(d, true, &src);
    hmmdev_end_of(d, false, &dst);
    if (d->opcode == HMMDEV_OP_FILL) {
        for (i = 0; i < HMMDEV_CHUNK + 8; i++) {
            e->bounce[i] = d->value >> (8 * (i % 8));
        }
    }
    while (off < d->length) {
        hmmdev_inject_hang(e);
        if (!hmmdev_gate_enter(s, e->gen)) {
            return -1;
        }
        n = MIN(d->length - off, HMMDEV_CHUNK);
        status = hmmdev_piece(e, d, &src, &dst, off, &n, result, &fault);
        hmmdev_gate_exit(s);

        if (status == HMMDEV_INTERRUPTED) {
            continue;               /* nothing moved; enter again */
        }
        if (status == HMMDEV_FAULTED) {
            answer = hmmdev_fault_stall(e, d->context, fault.va,
                                        fault.access, fault.reason);
            if (answer == HMMDEV_RESPONSE_RETRY) {
                continue;
            }
            return answer == HMMDEV_RESPONSE_ABORT ? HMMDEV_JOB_FAULT_ABORTED :
                   answer == 0 ? HMMDEV_JOB_FAULT_LOST : -1;
        }
        if (status != HMMDEV_JOB_OK) {
            if (status == HMMDEV_JOB_DMA_ERROR) {
                hmmdev_count(s, HMMDEV_CNT_DMA_ERRORS, 1);
            }
            return status;
        }
        off += n;
        hmmdev_count(s, HMMDEV_CNT_BYTES, n);
    }
    return HMMDEV_JOB_OK;
}
