/*
 * hmmdev: the engines' data path -- what a job reads and writes.
 *
 * A job works on "ends": system memory (a bus address), VRAM (an offset)
 * or a virtual address of a context.  It proceeds in pieces; for each
 * piece every end is mapped to host memory directly (VRAM, or guest RAM
 * through pci_dma_map()), the operation runs on the mapped bytes, and the
 * mappings are released.  A VA end is translated by the device MMU, and
 * hmmdev_end_map() is the one place where a translation is used: whatever
 * checks translations (traces today, a coherence oracle tomorrow) hooks in
 * there.  The engine holds its translation marker from the translation to
 * the end of the piece's access.
 *
 * Only RAM is a DMA target: peer-to-peer MMIO is refused, so an engine
 * never needs the BQL.
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
    uint8_t *ptr;
    uint64_t len;
    dma_addr_t mapped;              /* pci_dma_map()ed length, 0 for VRAM */
    DMADirection dir;
} HmmdevSeg;

/* A translation fault, to be reported once no mapping is held. */
typedef struct HmmdevFaultInfo {
    uint64_t va;
    unsigned access;
    uint32_t reason;
} HmmdevFaultInfo;

#define HMMDEV_FAULTED  0x100       /* internal status: report, then retry */

static bool hmmdev_is_ram(HmmdevState *s, dma_addr_t addr, dma_addr_t *len,
                          bool is_write)
{
    AddressSpace *as = pci_get_address_space(PCI_DEVICE(s));
    hwaddr xlat, plen = *len;
    MemoryRegion *mr;

    RCU_READ_LOCK_GUARD();
    mr = address_space_translate(as, addr, &xlat, &plen, is_write,
                                 MEMTXATTRS_UNSPECIFIED);
    *len = plen;
    return memory_region_is_ram(mr) && !(is_write && mr->readonly) && plen;
}

/*
 * Copy to or from system memory (rings, records).  Only RAM is a valid
 * target; with bus mastering off, every access fails.
 */
MemTxResult hmmdev_sysmem_rw(HmmdevState *s, dma_addr_t addr, void *buf,
                             dma_addr_t len, DMADirection dir)
{
    bool is_write = dir == DMA_DIRECTION_FROM_DEVICE;
    MemTxResult res;

    if (addr + len < addr) {
        return MEMTX_DECODE_ERROR;
    }
    while (len) {
        dma_addr_t plen = len;

        if (!hmmdev_is_ram(s, addr, &plen, is_write)) {
            return MEMTX_DECODE_ERROR;
        }
        res = pci_dma_rw(PCI_DEVICE(s), addr, buf, plen, dir,
                         MEMTXATTRS_UNSPECIFIED);
        if (res != MEMTX_OK) {
            return res;
        }
        addr += plen;
        buf = (uint8_t *)buf + plen;
        len -= plen;
    }
    return MEMTX_OK;
}

static bool hmmdev_sysmem_map(HmmdevState *s, uint64_t addr, uint64_t len,
                              DMADirection dir, HmmdevSeg *seg)
{
    dma_addr_t plen = len;

    if (!hmmdev_is_ram(s, addr, &plen, dir == DMA_DIRECTION_FROM_DEVICE)) {
        return false;
    }
    seg->ptr = pci_dma_map(PCI_DEVICE(s), addr, &plen, dir);
    if (!seg->ptr) {
        return false;
    }
    seg->len = seg->mapped = plen;
    seg->dir = dir;
    return true;
}

static void hmmdev_seg_unmap(HmmdevState *s, HmmdevSeg *seg, uint64_t used)
{
    if (seg->mapped) {
        pci_dma_unmap(PCI_DEVICE(s), seg->ptr, seg->mapped, seg->dir, used);
        seg->mapped = 0;
    }
}

/*
 * Map up to @max bytes of @end at job offset @off.  Returns HMMDEV_JOB_OK
 * with @seg set, a job status, or HMMDEV_FAULTED with @fault set.
 */
static uint32_t hmmdev_end_map(HmmdevEngine *e, const HmmdevJobDesc *d,
                               const HmmdevEnd *end, uint64_t off,
                               uint64_t max, unsigned access, HmmdevSeg *seg,
                               HmmdevFaultInfo *fault)
{
    HmmdevState *s = e->s;
    DMADirection dir = access == HMMDEV_ACCESS_READ ? DMA_DIRECTION_TO_DEVICE
                                                    : DMA_DIRECTION_FROM_DEVICE;
    uint64_t va = end->addr + off;
    HmmdevXlate x;
    uint32_t reason = 0;

    switch (end->kind) {
    case HMMDEV_END_VRAM:
        *seg = (HmmdevSeg) { .ptr = s->vram_ptr + va, .len = max };
        return HMMDEV_JOB_OK;
    case HMMDEV_END_SYSMEM:
        return hmmdev_sysmem_map(s, va, max, dir, seg) ? HMMDEV_JOB_OK
                                                       : HMMDEV_JOB_DMA_ERROR;
    case HMMDEV_END_VA:
        break;
    }
    switch (hmmdev_translate(e, d->context, va, access, max, &x, &reason)) {
    case HMMDEV_XLATE_OK:
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
    if (qatomic_read(&s->inject_xlate_delay_us)) {
        g_usleep(qatomic_read(&s->inject_xlate_delay_us));
    }
    max = MIN(max, x.len);
    if (x.vram) {
        /* the walks checked that the pages lie inside VRAM */
        *seg = (HmmdevSeg) { .ptr = s->vram_ptr + x.addr, .len = max };
        return HMMDEV_JOB_OK;
    }
    return hmmdev_sysmem_map(s, x.addr, max, dir, seg) ? HMMDEV_JOB_OK
                                                       : HMMDEV_JOB_DMA_ERROR;
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

/* Apply the job's operation to one mapped piece at job offset @off. */
static void hmmdev_piece_op(HmmdevEngine *e, const HmmdevJobDesc *d,
                            HmmdevSeg *src, HmmdevSeg *dst, uint64_t off,
                            uint64_t n, uint64_t *result)
{
    uint64_t i;

    switch (d->opcode) {
    case HMMDEV_OP_COPY:
        memmove(dst->ptr, src->ptr, n);
        *result += n;
        break;
    case HMMDEV_OP_FILL:
        memcpy(dst->ptr, e->bounce + off % 8, n);
        *result += n;
        break;
    case HMMDEV_OP_ATOMIC_ADD:
        *result = le64_to_cpu(qatomic_fetch_add((uint64_t *)dst->ptr,
                                                cpu_to_le64(d->value)));
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
                            uint32_t gen, uint64_t *result)
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
            if (hmmdev_sysmem_rw(e->s, d->src + i * sizeof(batch[0]), batch,
                                 n * sizeof(batch[0]),
                                 DMA_DIRECTION_TO_DEVICE) != MEMTX_OK) {
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
        ret = hmmdev_job_execute(e, &one, gen, &done);
        *result += done;
        if (ret != HMMDEV_JOB_OK) {
            return ret;
        }
    }
    return HMMDEV_JOB_OK;
}

/*
 * Run a checked job.  Returns a HMMDEV_JOB_* status, or -1 when the device
 * was reset under the job.  @result: bytes done, old value or checksum.
 */
int hmmdev_job_execute(HmmdevEngine *e, const HmmdevJobDesc *d, uint32_t gen,
                       uint64_t *result)
{
    HmmdevState *s = e->s;
    bool reads = hmmdev_op_reads(d->opcode);
    bool writes = hmmdev_op_writes(d->opcode);
    unsigned dst_access = d->opcode == HMMDEV_OP_ATOMIC_ADD ?
                          HMMDEV_ACCESS_ATOMIC : HMMDEV_ACCESS_WRITE;
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
        return hmmdev_copy_list(e, d, gen, result);
    }
    hmmdev_end_of(d, true, &src);
    hmmdev_end_of(d, false, &dst);
    if (d->opcode == HMMDEV_OP_FILL) {
        for (i = 0; i < HMMDEV_CHUNK + 8; i++) {
            e->bounce[i] = d->value >> (8 * (i % 8));
        }
    }
    while (off < d->length) {
        HmmdevSeg in = { 0 }, out = { 0 };

        if (qatomic_read(&s->generation) != gen) {
            return -1;
        }
        n = MIN(d->length - off, HMMDEV_CHUNK);
        hmmdev_xlate_begin(e);
        status = reads ? hmmdev_end_map(e, d, &src, off, n,
                                        HMMDEV_ACCESS_READ, &in, &fault)
                       : HMMDEV_JOB_OK;
        n = reads && status == HMMDEV_JOB_OK ? in.len : n;
        if (status == HMMDEV_JOB_OK && writes) {
            status = hmmdev_end_map(e, d, &dst, off, n, dst_access, &out,
                                    &fault);
            n = MIN(n, out.len);
        }
        if (status == HMMDEV_JOB_OK && d->opcode == HMMDEV_OP_ATOMIC_ADD &&
            n < 8) {
            status = HMMDEV_JOB_DMA_ERROR;
        }
        if (status == HMMDEV_JOB_OK) {
            hmmdev_piece_op(e, d, &in, &out, off, n, result);
        }
        hmmdev_seg_unmap(s, &in, 0);
        hmmdev_seg_unmap(s, &out, status == HMMDEV_JOB_OK ? n : 0);
        hmmdev_xlate_end(e);

        if (status == HMMDEV_FAULTED) {
            answer = hmmdev_fault_stall(e, gen, d->context, fault.va,
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
