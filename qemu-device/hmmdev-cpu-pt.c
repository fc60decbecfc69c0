/*
 * hmmdev: the guest's CPU page tables as Linux writes them -- an x86-64
 * walker over guest-physical memory and the decoder of Linux's entries,
 * for the coherence oracle (hmmdev-oracle.c; SPEC.rst, "Coherence
 * oracle").  This file is the one place that knows their layout.
 *
 * The walker reads guest-physical memory directly (address_space_memory,
 * RAM only, one 8-byte atomic load per entry, no BQL): the vCPUs change
 * these tables while it reads them, as they would under a real page-table
 * walker, and every entry is read whole.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "system/address-spaces.h"
#include "system/memory.h"
#include "hmmdev.h"

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

static const char *const hmmdev_cpu_kinds[] = {
    [HMMDEV_CPU_NONE] = "none",
    [HMMDEV_CPU_PRESENT] = "present",
    [HMMDEV_CPU_PROTNONE] = "no-access",
    [HMMDEV_CPU_PRIVATE] = "device-private",
    [HMMDEV_CPU_EXCLUSIVE] = "device-exclusive",
    [HMMDEV_CPU_SWAP] = "swap",
    [HMMDEV_CPU_UNREADABLE] = "unreadable",
};

const char *hmmdev_cpu_kind_name(unsigned kind)
{
    return kind < ARRAY_SIZE(hmmdev_cpu_kinds) ? hmmdev_cpu_kinds[kind] : "?";
}

/*
 * Decode one last-level entry.  @types is ORACLE_SWP_TYPES: which swap
 * types are device-private (write, read) and device-exclusive (write,
 * read) entries in this guest kernel.
 */
void hmmdev_cpu_decode(uint64_t v, uint32_t types, HmmdevCpuEntry *c)
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

/* Host pointer to guest-physical @gpa, if it is RAM.  RCU read lock held. */
void *hmmdev_cpu_ram(hwaddr gpa, hwaddr len)
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
void hmmdev_cpu_walk(uint64_t root, unsigned levels, uint64_t va,
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
        ptr = hmmdev_cpu_ram(table, 4096);
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
            hmmdev_cpu_decode(e & (level == 2 ? ~X86_PS : ~0ull), types, c);
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
