/*
 * hmmdev: PCI glue -- QOM type, BARs, MSI-X, registers, reset.
 *
 * The vCPU's MMIO handler only latches registers and rings doorbells; the
 * work happens in the engine threads (hmmdev-engine.c).  Reset, VM stop
 * and bus mastering turned off quiesce the engines (the gate,
 * hmmdev-engine.c).  The PCIe link (AER, FLR, falling off the bus) is
 * hmmdev-link.c's.
 *
 * Interrupts.  Raising one latches its vector in irq_pending; the MSI-X
 * message goes out under the BQL, from the main loop (irq_bh) or, with
 * irq-direct (the default), from the thread that raised it: an engine or
 * the command thread calls hmmdev_irq_flush() once it has left the gate,
 * holds no device lock -- a vCPU's MMIO handler may hold the BQL and wait
 * for those -- and is not counted busy (a reset holds the BQL and waits
 * for busy engines: hmmdev_engine_irq_flush()).  Nothing else that holds
 * the BQL waits for such a thread, except the joins at unplug, which
 * first stop direct sends (hmmdev_irq_direct_stop()).  The device's
 * reentrancy guard is engaged while a message is sent either way: a
 * message aimed at the device's own BAR is dropped, as QEMU drops any
 * reentrant access.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/log.h"
#include "qemu/timer.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "hw/pci/pci.h"
#include "hw/pci/pcie.h"
#include "hw/pci/msix.h"
#include "hw/qdev-properties.h"
#include "hw/resettable.h"
#include "migration/blocker.h"
#include "hmmdev.h"
#include "trace.h"

static bool hmmdev_is_ctx_reg(hwaddr addr)
{
    return addr >= HMMDEV_REG_CTX_BASE &&
           addr < HMMDEV_REG_CTX_BASE + HMMDEV_NUM_CONTEXTS * HMMDEV_CTX_STRIDE;
}

/* The command- and fault-queue registers (not the reserved 0x06c). */
static bool hmmdev_is_queue_reg(hwaddr addr)
{
    switch (addr) {
    case HMMDEV_REG_CQ_BASE:
    case HMMDEV_REG_CQ_BASE + 4:
    case HMMDEV_REG_CQ_ENTRIES:
    case HMMDEV_REG_CQ_TAIL:
    case HMMDEV_REG_CQ_HEAD:
    case HMMDEV_REG_FQ_BASE:
    case HMMDEV_REG_FQ_BASE + 4:
    case HMMDEV_REG_FQ_ENTRIES:
    case HMMDEV_REG_FQ_HEAD:
    case HMMDEV_REG_FQ_TAIL:
        return true;
    }
    return false;
}

void hmmdev_count(HmmdevState *s, HmmdevCounter c, uint64_t n)
{
    stat64_add(&s->counters[c], n);
}

/* Any thread: ask the main loop to raise @vector. */
void hmmdev_raise(HmmdevState *s, unsigned vector)
{
    qatomic_or(&s->irq_pending, 1u << vector);
    qemu_bh_schedule(s->irq_bh);
}

/*
 * An engine or the command thread, inside the gate: raise @vector; the
 * caller calls hmmdev_irq_flush() once it is out of the gate and its locks.
 */
void hmmdev_raise_deferred(HmmdevState *s, unsigned vector)
{
    qatomic_or(&s->irq_pending, 1u << vector);
    if (!s->irq_direct) {
        qemu_bh_schedule(s->irq_bh);
    }
}

static void hmmdev_irq_bh(void *opaque);

/* BQL held: send what is pending, with the reentrancy guard engaged. */
static void hmmdev_irq_send(HmmdevState *s)
{
    MemReentrancyGuard *guard = &DEVICE(s)->mem_reentrancy_guard;
    bool engaged = guard->engaged_in_io;

    guard->engaged_in_io = true;
    hmmdev_irq_bh(s);
    guard->engaged_in_io = engaged;
}

/*
 * An engine or the command thread, outside the gate, holding no device
 * lock: send the interrupts it raised now, under the BQL, instead of
 * through the main loop (under TCG the main loop can take milliseconds to
 * get a host CPU).  At unplug the main loop sends them.
 */
void hmmdev_irq_flush(HmmdevState *s)
{
    if (!s->irq_direct || !qatomic_read(&s->irq_pending)) {
        return;
    }
    qatomic_inc(&s->irq_direct_busy);
    smp_mb();   /* pairs with hmmdev_irq_direct_stop(): busy, or we stop */
    if (qatomic_read(&s->irq_direct_stop)) {
        qatomic_dec(&s->irq_direct_busy);
        qemu_bh_schedule(s->irq_bh);
        return;
    }
    bql_lock();
    hmmdev_irq_send(s);
    bql_unlock();
    qatomic_dec(&s->irq_direct_busy);
}

/*
 * BQL held, before the threads are joined: no thread may be waiting for
 * the BQL then.  One that is already in hmmdev_irq_flush() gets it for
 * the moment it needs (the device's BARs are gone by now: no vCPU reaches
 * its registers meanwhile).
 */
static void hmmdev_irq_direct_stop(HmmdevState *s)
{
    qatomic_set(&s->irq_direct_stop, true);
    smp_mb();   /* pairs with hmmdev_irq_flush(): it stops, or we see busy */
    while (qatomic_read(&s->irq_direct_busy)) {
        bql_unlock();
        g_usleep(100);
        bql_lock();
    }
}

/* Main loop.  A stopped VM gets its interrupts when it runs again. */
static void hmmdev_irq_bh(void *opaque)
{
    HmmdevState *s = opaque;
    PCIDevice *pdev = PCI_DEVICE(s);
    uint32_t pending;
    unsigned v;

    if (!runstate_is_running()) {
        return;                     /* hmmdev_vm_state_change() re-runs us */
    }
    if (hmmdev_gone(s)) {
        qatomic_set(&s->irq_pending, 0);    /* off the bus: no messages */
        return;
    }
    pending = qatomic_xchg(&s->irq_pending, 0);
    for (v = 0; v < HMMDEV_MSIX_VECTORS; v++) {
        if (!(pending & (1u << v))) {
            continue;
        }
        trace_hmmdev_irq(s->trace_name, hmmdev_now(), v, msix_enabled(pdev));
        if (hmmdev_inject_irq_lost(s, v)) {
            continue;
        }
        if (msix_enabled(pdev)) {
            /* a masked vector only sets its pending bit: not counted */
            if (!msix_is_masked(pdev, v)) {
                hmmdev_count(s, HMMDEV_CNT_IRQS, 1);
            }
            msix_notify(pdev, v);
        }
    }
}

static const char *hmmdev_error_name(uint32_t code)
{
    static const char *const names[] = {
        [HMMDEV_ERR_BAD_REGISTER] = "BAD_REGISTER",
        [HMMDEV_ERR_BAD_VECTOR] = "BAD_VECTOR",
        [HMMDEV_ERR_RING_BUSY] = "RING_BUSY",
        [HMMDEV_ERR_BAD_RING] = "BAD_RING",
        [HMMDEV_ERR_BAD_TAIL] = "BAD_TAIL",
        [HMMDEV_ERR_FETCH] = "FETCH",
        [HMMDEV_ERR_COMPLETION] = "COMPLETION",
        [HMMDEV_ERR_BAD_COMMAND] = "BAD_COMMAND",
        [HMMDEV_ERR_BAD_PTE] = "BAD_PTE",
        [HMMDEV_ERR_FQ_OVERFLOW] = "FQ_OVERFLOW",
        [HMMDEV_ERR_CMD_FETCH] = "CMD_FETCH",
        [HMMDEV_ERR_FQ_WRITE] = "FQ_WRITE",
        [HMMDEV_ERR_BAD_RESPONSE] = "BAD_RESPONSE",
        [HMMDEV_ERR_SYNC_WRITE] = "SYNC_WRITE",
        [HMMDEV_ERR_BAD_CONTEXT] = "BAD_CONTEXT",
        [HMMDEV_ERR_STALE_TRANSLATION] = "STALE_TRANSLATION",
    };

    return code < ARRAY_SIZE(names) && names[code] ? names[code] : "?";
}

/*
 * Any thread: latch a device error and raise the error vector.  Every
 * device error is the guest's doing (a register, a ring, a table or a
 * command it wrote), hence LOG_GUEST_ERROR.
 */
void hmmdev_device_error(HmmdevState *s, uint32_t code)
{
    trace_hmmdev_device_error(s->trace_name, hmmdev_now(), code);
    qemu_log_mask(LOG_GUEST_ERROR, "hmmdev: device error %u (%s)\n", code,
                  hmmdev_error_name(code));
    qatomic_set(&s->err_code, code);
    qatomic_inc(&s->err_count);
    hmmdev_count(s, HMMDEV_CNT_DEVICE_ERRORS, 1);
    hmmdev_raise(s, HMMDEV_VEC_ERROR);
}

/* 64-bit registers: TIMESTAMP, VRAM_SIZE, ring bases, roots, counters */
static bool hmmdev_reg64(HmmdevState *s, hwaddr addr, uint64_t *val)
{
    switch (addr) {
    case HMMDEV_REG_TIMESTAMP:
        *val = hmmdev_now();
        /* the driver's clock pairs name this value (hmmdev_trace.h) */
        trace_hmmdev_timestamp(s->trace_name, *val);
        return true;
    case HMMDEV_REG_VRAM_SIZE:
        *val = s->vram_size;
        return true;
    case HMMDEV_REG_JQ_BASE:
        *val = hmmdev_jq_read(s, addr);
        return true;
    case HMMDEV_REG_CQ_BASE:
    case HMMDEV_REG_FQ_BASE:
        *val = hmmdev_queue_read(s, addr);
        return true;
    }
    if (hmmdev_oracle_reg_read(s, addr, val)) {
        return true;
    }
    if (hmmdev_is_ctx_reg(addr) &&
        (addr - HMMDEV_REG_CTX_BASE) % HMMDEV_CTX_STRIDE == HMMDEV_CTX_ROOT) {
        *val = hmmdev_ctx_read(s, addr - HMMDEV_REG_CTX_BASE);
        return true;
    }
    if (addr >= HMMDEV_REG_COUNTERS &&
        addr < HMMDEV_REG_COUNTERS + 8 * HMMDEV_CNT_MAX) {
        *val = stat64_get(&s->counters[(addr - HMMDEV_REG_COUNTERS) / 8]);
        return true;
    }
    return false;
}

static uint32_t hmmdev_reg32(HmmdevState *s, hwaddr addr)
{
    switch (addr) {
    case HMMDEV_REG_ID:
        return HMMDEV_ID_MAGIC;
    case HMMDEV_REG_VERSION:
        return HMMDEV_VERSION;
    case HMMDEV_REG_CAPS:
        return HMMDEV_CAP_JOBQ | HMMDEV_CAP_MMU | HMMDEV_CAP_ATC |
               HMMDEV_CAP_CMDQ | HMMDEV_CAP_FAULTQ | HMMDEV_CAP_ORACLE |
               HMMDEV_CAP_FQ_RESPOND |
               (s->coherent ? HMMDEV_CAP_COHERENT : 0);
    case HMMDEV_REG_ATC_SETS:
        return s->atc_sets;
    case HMMDEV_REG_ATC_WAYS:
        return s->atc_ways;
    case HMMDEV_REG_CONTEXTS:
        return HMMDEV_NUM_CONTEXTS;
    case HMMDEV_REG_ENGINES:
        return s->num_engines;
    case HMMDEV_REG_SCRATCH:
        return s->scratch;
    case HMMDEV_REG_MSIX_VECTORS:
        return HMMDEV_MSIX_VECTORS;
    case HMMDEV_REG_ERR_CODE:
        return qatomic_read(&s->err_code);
    case HMMDEV_REG_ERR_COUNT:
        return qatomic_read(&s->err_count);
    case HMMDEV_REG_CTRL:
    case HMMDEV_REG_STATUS:
        /* CQ/FQ enable bits are STATUS bits 3-4 and CTRL bits 1-2 */
        return hmmdev_jq_read(s, addr) |
               (addr == HMMDEV_REG_STATUS ? hmmdev_queues_status(s)
                : (hmmdev_queues_status(s) >> 2) &
                  (HMMDEV_CTRL_CQ_ENABLE | HMMDEV_CTRL_FQ_ENABLE));
    case HMMDEV_REG_JQ_ENTRIES:
    case HMMDEV_REG_JQ_TAIL:
    case HMMDEV_REG_JQ_HEAD:
        return hmmdev_jq_read(s, addr);
    }
    if (hmmdev_is_queue_reg(addr)) {
        return hmmdev_queue_read(s, addr);
    }
    if (hmmdev_is_ctx_reg(addr)) {
        return hmmdev_ctx_read(s, addr - HMMDEV_REG_CTX_BASE);
    }
    return 0;   /* reserved offsets read as zero */
}

static uint64_t hmmdev_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    HmmdevState *s = opaque;
    uint64_t val;

    if (hmmdev_gone(s)) {
        return size == 8 ? ~0ull : 0xffffffffull;   /* off the bus */
    }
    if (hmmdev_reg64(s, addr & ~7ull, &val)) {
        if (size == 4) {
            val = (addr & 4) ? val >> 32 : (uint32_t)val;
        }
    } else {
        val = hmmdev_reg32(s, addr);
        if (size == 8) {
            val |= (uint64_t)hmmdev_reg32(s, addr + 4) << 32;
        }
    }
    trace_hmmdev_mmio_read(addr, size, val);
    return val;
}

static void hmmdev_reg_write32(HmmdevState *s, hwaddr addr, uint32_t val)
{
    switch (addr) {
    case HMMDEV_REG_SCRATCH:
        s->scratch = val;
        return;
    case HMMDEV_REG_IRQ_TEST:
        if (val >= HMMDEV_MSIX_VECTORS) {
            hmmdev_device_error(s, HMMDEV_ERR_BAD_VECTOR);
            return;
        }
        /* a vCPU in our MMIO handler: the BQL is held already */
        if (s->irq_direct) {
            qatomic_or(&s->irq_pending, 1u << val);
            hmmdev_irq_send(s);
        } else {
            hmmdev_raise(s, val);
        }
        return;
    case HMMDEV_REG_ERR_CODE:
        /* write the current code back to clear it */
        qatomic_cmpxchg(&s->err_code, val, HMMDEV_ERR_NONE);
        return;
    case HMMDEV_REG_CTRL:
        if (val & HMMDEV_CTRL_RESET) {
            hmmdev_reset_state(s);
            return;
        }
        hmmdev_jq_write(s, addr, val, 4);
        hmmdev_queues_enable(s, val);
        return;
    case HMMDEV_REG_JQ_BASE:
    case HMMDEV_REG_JQ_BASE + 4:
    case HMMDEV_REG_JQ_ENTRIES:
    case HMMDEV_REG_JQ_TAIL:
        hmmdev_jq_write(s, addr, val, 4);
        return;
    }
    if (hmmdev_is_queue_reg(addr) && addr != HMMDEV_REG_CQ_HEAD &&
        addr != HMMDEV_REG_FQ_TAIL) {
        hmmdev_queue_write(s, addr, val, 4);
        return;
    }
    if (hmmdev_is_ctx_reg(addr)) {
        hmmdev_ctx_write(s, addr - HMMDEV_REG_CTX_BASE, val, 4);
        return;
    }
    hmmdev_device_error(s, HMMDEV_ERR_BAD_REGISTER);
}

static void hmmdev_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                              unsigned size)
{
    HmmdevState *s = opaque;

    trace_hmmdev_mmio_write(addr, size, val);
    if (hmmdev_gone(s)) {
        return;                     /* off the bus: the write is lost */
    }
    if (hmmdev_is_oracle_reg(addr)) {
        if (!hmmdev_oracle_reg_write(s, addr, val, size)) {
            hmmdev_device_error(s, HMMDEV_ERR_BAD_REGISTER);
        }
    } else if (addr == HMMDEV_REG_FQ_RESPOND && size == 8) {
        hmmdev_respond_reg(s, val);
    } else if (addr == HMMDEV_REG_FQ_RESPOND ||
               addr == HMMDEV_REG_FQ_RESPOND + 4) {
        hmmdev_device_error(s, HMMDEV_ERR_BAD_REGISTER);  /* 64-bit only */
    } else if (size == 8 && addr == HMMDEV_REG_JQ_BASE) {
        hmmdev_jq_write(s, addr, val, 8);
    } else if (size == 8 && (addr == HMMDEV_REG_CQ_BASE ||
                             addr == HMMDEV_REG_FQ_BASE)) {
        hmmdev_queue_write(s, addr, val, 8);
    } else if (size == 8 && hmmdev_is_ctx_reg(addr) &&
               (addr - HMMDEV_REG_CTX_BASE) % HMMDEV_CTX_STRIDE ==
               HMMDEV_CTX_ROOT) {
        hmmdev_ctx_write(s, addr - HMMDEV_REG_CTX_BASE, val, 8);
    } else if (size == 8) {
        hmmdev_reg_write32(s, addr, val);
        hmmdev_reg_write32(s, addr + 4, val >> 32);
    } else {
        hmmdev_reg_write32(s, addr, val);
    }
}

static const MemoryRegionOps hmmdev_mmio_ops = {
    .read = hmmdev_mmio_read,
    .write = hmmdev_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 4,
        .max_access_size = 8,
    },
    .impl = {
        .min_access_size = 4,
        .max_access_size = 8,
    },
};

/* Main loop, BQL held: park the engines while the VM is stopped. */
static void hmmdev_vm_state_change(void *opaque, bool running,
                                   RunState state)
{
    HmmdevState *s = opaque;

    hmmdev_gate_pause(s, !running);
    if (running && qatomic_read(&s->irq_pending)) {
        qemu_bh_schedule(s->irq_bh);
    }
}

/* VRAM: the memdev's memory, or our own RAM region committed now. */
static bool hmmdev_vram_init(HmmdevState *s, Error **errp)
{
    if (s->memdev) {
        if (host_memory_backend_is_mapped(s->memdev)) {
            error_setg(errp, "hmmdev: memdev '%s' is already in use",
                       object_get_canonical_path_component(OBJECT(s->memdev)));
            return false;
        }
        s->vram = host_memory_backend_get_memory(s->memdev);
        s->vram_size = memory_region_size(s->vram);
    }
    if (s->vram_size < 2 * MiB || s->vram_size > 64 * GiB ||
        !is_power_of_2(s->vram_size)) {
        error_setg(errp, "hmmdev: vram-size (or the memdev's size) must be a "
                   "power of two between 2 MiB and 64 GiB (got %" PRIu64 ")",
                   s->vram_size);
        return false;
    }
    if (s->memdev) {
        host_memory_backend_set_mapped(s->memdev, true);
    } else {
        if (!memory_region_init_ram(&s->vram_own, OBJECT(s), "hmmdev-vram",
                                    s->vram_size, errp)) {
            return false;
        }
        s->vram = &s->vram_own;
        /*
         * Commit the host memory now: real VRAM costs the same on first use
         * as later, and a first-touch host page fault inside an engine
         * would distort every first-use measurement (about 8x on a
         * migration copy).  This runs at realize, under the BQL; for large
         * VRAM use memdev= with a backend (prealloc=on does the same work
         * with threads, or leave it off).  prefault=off skips it (tests
         * that measure nothing boot faster).
         */
        if (s->prefault) {
            memset(memory_region_get_ram_ptr(s->vram), 0, s->vram_size);
        }
    }
    s->vram_ptr = memory_region_get_ram_ptr(s->vram);
    hmmdev_inject_init(s);
    return true;
}

static void hmmdev_realize(PCIDevice *pdev, Error **errp)
{
    HmmdevState *s = HMMDEV(pdev);
    unsigned v;

    s->trace_name = DEVICE(pdev)->id ? DEVICE(pdev)->id : "hmmdev";
    if (s->num_engines < 1 || s->num_engines > HMMDEV_MAX_ENGINES) {
        error_setg(errp, "hmmdev: engines must be 1..%d (got %u)",
                   HMMDEV_MAX_ENGINES, s->num_engines);
        return;
    }
    if (!is_power_of_2(s->atc_sets) || s->atc_sets > 4096 ||
        s->atc_ways < 1 || s->atc_ways > 32) {
        error_setg(errp, "hmmdev: atc-sets must be a power of two up to 4096 "
                   "and atc-ways 1..32 (got %u, %u)", s->atc_sets,
                   s->atc_ways);
        return;
    }
    error_setg(&s->migration_blocker, "hmmdev: jobs, faults and translations "
               "in flight in the engine threads cannot be migrated");
    if (migrate_add_blocker(&s->migration_blocker, errp) < 0) {
        return;
    }
    if (!hmmdev_vram_init(s, errp)) {
        goto fail_blocker;
    }

    memory_region_init_io(&s->regs, OBJECT(s), &hmmdev_mmio_ops, s,
                          "hmmdev-regs", HMMDEV_REGS_SIZE);
    pci_register_bar(pdev, HMMDEV_BAR_REGS, PCI_BASE_ADDRESS_SPACE_MEMORY,
                     &s->regs);
    pci_register_bar(pdev, HMMDEV_BAR_VRAM,
                     PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64 |
                     PCI_BASE_ADDRESS_MEM_PREFETCH, s->vram);

    if (pci_bus_is_express(pci_get_bus(pdev)) &&
        pcie_endpoint_cap_init(pdev, 0x80) < 0) {
        error_setg(errp, "hmmdev: cannot add the PCIe capability");
        goto fail_vram;
    }
    if (!hmmdev_link_realize(s, errp)) {
        goto fail_vram;
    }
    if (msix_init_exclusive_bar(pdev, HMMDEV_MSIX_VECTORS,
                                HMMDEV_BAR_MSIX, errp)) {
        goto fail_link;
    }
    for (v = 0; v < HMMDEV_MSIX_VECTORS; v++) {
        msix_vector_use(pdev, v);
    }

    s->irq_bh = qemu_bh_new_guarded(hmmdev_irq_bh, s,
                                    &DEVICE(pdev)->mem_reentrancy_guard);
    hmmdev_mmu_init(s);
    hmmdev_gate_pause(s, !runstate_is_running());
    s->vmstate_entry = qdev_add_vm_change_state_handler(DEVICE(s),
                                                        hmmdev_vm_state_change,
                                                        NULL, s);
    hmmdev_queues_start(s);
    hmmdev_engines_start(s);
    return;

fail_link:
    hmmdev_link_exit(s);
fail_vram:
    if (s->memdev) {
        host_memory_backend_set_mapped(s->memdev, false);
    }
fail_blocker:
    migrate_del_blocker(&s->migration_blocker);
}

static void hmmdev_exit(PCIDevice *pdev)
{
    HmmdevState *s = HMMDEV(pdev);

    hmmdev_irq_direct_stop(s);
    hmmdev_engines_stop(s);
    hmmdev_queues_stop(s);
    qemu_del_vm_change_state_handler(s->vmstate_entry);
    hmmdev_mmu_free(s);
    hmmdev_inject_free(s);
    qemu_bh_delete(s->irq_bh);
    msix_uninit_exclusive_bar(pdev);
    hmmdev_link_exit(s);
    if (s->memdev) {
        host_memory_backend_set_mapped(s->memdev, false);
    }
    migrate_del_blocker(&s->migration_blocker);
}

/*
 * Device reset, also CTRL.RESET: see "Reset" in the spec.  BQL held;
 * returns once the engines and the command thread are quiescent.
 */
void hmmdev_reset_state(HmmdevState *s)
{
    trace_hmmdev_reset(s->trace_name, hmmdev_now());
    hmmdev_jq_reset(s);
    hmmdev_queues_reset(s);
    hmmdev_mmu_reset(s);
    hmmdev_oracle_reset(s);
    hmmdev_inject_reset(s);
    s->scratch = 0;
    qatomic_set(&s->err_code, HMMDEV_ERR_NONE);
    qatomic_set(&s->irq_pending, 0);
    hmmdev_count(s, HMMDEV_CNT_RESETS, 1);
}

/* The function's reset (FLR, bus reset, system reset), BQL held. */
static void hmmdev_reset_hold(Object *obj, ResetType type)
{
    hmmdev_reset_state(HMMDEV(obj));
    hmmdev_link_reset(HMMDEV(obj));
}

/* QOM accessor of the counters (opaque: the index) */
static void hmmdev_get_stat(Object *obj, Visitor *v, const char *name,
                            void *opaque, Error **errp)
{
    uint64_t val = stat64_get(&HMMDEV(obj)->counters[(uintptr_t)opaque]);

    visit_type_uint64(v, name, &val, errp);
}

static void hmmdev_instance_init(Object *obj)
{
    HmmdevState *s = HMMDEV(obj);
    int i;

    qemu_mutex_init(&s->gate_lock);
    qemu_cond_init(&s->gate_cond);
    qemu_mutex_init(&s->jq_lock);
    qemu_cond_init(&s->jq_cond);
    for (i = 0; i < HMMDEV_CNT_MAX; i++) {
        stat64_init(&s->counters[i], 0);
    }
    hmmdev_oracle_init(s);
    s->inject_drop_irq_vectors = (1u << HMMDEV_MSIX_VECTORS) - 1;
}

static void hmmdev_instance_finalize(Object *obj)
{
    HmmdevState *s = HMMDEV(obj);

    hmmdev_oracle_finalize(s);
    qemu_cond_destroy(&s->jq_cond);
    qemu_mutex_destroy(&s->jq_lock);
    qemu_cond_destroy(&s->gate_cond);
    qemu_mutex_destroy(&s->gate_lock);
}

static const Property hmmdev_properties[] = {
    DEFINE_PROP_LINK("memdev", HmmdevState, memdev, TYPE_MEMORY_BACKEND,
                     HostMemoryBackend *),
    DEFINE_PROP_SIZE("vram-size", HmmdevState, vram_size, 256 * MiB),
    DEFINE_PROP_UINT32("engines", HmmdevState, num_engines, 2),
    DEFINE_PROP_UINT32("atc-sets", HmmdevState, atc_sets, 64),
    DEFINE_PROP_UINT32("atc-ways", HmmdevState, atc_ways, 8),
    DEFINE_PROP_BOOL("coherent", HmmdevState, coherent, false),
    DEFINE_PROP_BOOL("prefault", HmmdevState, prefault, true),
    DEFINE_PROP_BOOL("irq-direct", HmmdevState, irq_direct, true),
};

static void hmmdev_class_init(ObjectClass *klass, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    char name[32];
    uintptr_t i;

    k->realize = hmmdev_realize;
    k->exit = hmmdev_exit;
    k->vendor_id = HMMDEV_VENDOR_ID;
    k->device_id = HMMDEV_DEVICE_ID;
    k->revision = 1;
    k->class_id = HMMDEV_CLASS_ACCELERATOR;
    dc->desc = "hmmdev SVM/HMM rehearsal device";
    rc->phases.hold = hmmdev_reset_hold;
    device_class_set_props(dc, hmmdev_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);

    for (i = 0; i < HMMDEV_CNT_MAX; i++) {
        snprintf(name, sizeof(name), "stat-%s", hmmdev_counter_name(i));
        object_class_property_add(klass, name, "uint64", hmmdev_get_stat,
                                  NULL, NULL, (void *)i);
    }
    hmmdev_inject_class_init(klass);
    hmmdev_oracle_class_init(klass);
    hmmdev_link_class_init(klass);
}

static const TypeInfo hmmdev_info = {
    .name = TYPE_HMMDEV,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(HmmdevState),
    .instance_init = hmmdev_instance_init,
    .instance_finalize = hmmdev_instance_finalize,
    .class_init = hmmdev_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_PCIE_DEVICE },
        { },
    },
};

static void hmmdev_register_types(void)
{
    type_register_static(&hmmdev_info);
}

type_init(hmmdev_register_types)
