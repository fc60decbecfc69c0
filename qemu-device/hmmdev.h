/*
 * hmmdev: a PCIe device for rehearsing SVM/HMM drivers -- device state.
 * The hardware interface is in hmmdev-hw.h, the contract in SPEC.rst.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_MISC_HMMDEV_H
#define HW_MISC_HMMDEV_H

#include "hw/pci/pci_device.h"
#include "qemu/thread.h"
#include "qom/object.h"
#include "hmmdev-hw.h"

#define TYPE_HMMDEV "hmmdev"
OBJECT_DECLARE_SIMPLE_TYPE(HmmdevState, HMMDEV)
typedef struct HmmdevEngine HmmdevEngine;

QEMU_BUILD_BUG_ON(sizeof(HmmdevJobDesc) != HMMDEV_JOB_DESC_SIZE);
QEMU_BUILD_BUG_ON(sizeof(HmmdevCompletion) != 32);

#define HMMDEV_MAX_ENGINES          8
#define HMMDEV_CHUNK                (256 * 1024)

struct HmmdevEngine {
    HmmdevState *s;
    unsigned id;
    QemuThread thread;
    uint8_t *bounce;                /* HMMDEV_CHUNK bytes */
};

struct HmmdevState {
    PCIDevice parent_obj;

    MemoryRegion regs;
    MemoryRegion vram;
    uint8_t *vram_ptr;

    /* properties */
    uint64_t vram_size;
    uint32_t num_engines;

    /* BQL */
    uint32_t scratch;

    /* written by any thread, atomically */
    uint32_t err_code;
    uint32_t err_count;
    uint32_t irq_pending;           /* vectors for irq_bh to raise */
    uint64_t counters[HMMDEV_CNT_MAX];

    /* job queue: jq_lock protects everything below */
    QemuMutex jq_lock;
    QemuCond jq_cond;
    bool jq_enabled;
    bool quit;
    uint64_t jq_base;
    uint32_t jq_entries;
    uint32_t jq_head;
    uint32_t jq_tail;
    uint32_t generation;            /* bumped by reset: running jobs drop */
    uint32_t busy;                  /* engines executing a job */

    HmmdevEngine engines[HMMDEV_MAX_ENGINES];
    QEMUBH *irq_bh;
};

/* hmmdev-pci.c */
void hmmdev_count(HmmdevState *s, HmmdevCounter c, uint64_t n);
void hmmdev_raise(HmmdevState *s, unsigned vector);
void hmmdev_device_error(HmmdevState *s, uint32_t code);

/* hmmdev-engine.c */
void hmmdev_engines_start(HmmdevState *s);
void hmmdev_engines_stop(HmmdevState *s);
void hmmdev_jq_reset(HmmdevState *s);
uint64_t hmmdev_jq_read(HmmdevState *s, hwaddr addr);
void hmmdev_jq_write(HmmdevState *s, hwaddr addr, uint64_t val, unsigned size);
void hmmdev_reset_state(HmmdevState *s);

#endif
