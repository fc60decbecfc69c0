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
#include "qemu/timer.h"
#include "qemu/stats64.h"
#include "qemu/tsan.h"
#include "system/dma.h"
#include "system/hostmem.h"
#include "system/runstate.h"
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
    uint8_t *bounce;                /* HMMDEV_CHUNK + 8 bytes: FILL pattern */
    /*
     * ATC epoch when this engine started its current use of a translation,
     * 0 when it uses none.  SYNC waits for the markers older than its
     * INVALIDATEs (see hmmdev-mmu.c).
     */
    uint32_t xlate_epoch;
    uint32_t gen;                   /* device generation of the current job */
    uint32_t job_index;             /* ring slot of the current job */
    /* fault stall, under fq_lock */
    QemuCond fault_cond;
    uint32_t fault_seq;
    uint32_t fault_id;
    bool fault_pending;
    int fault_response;             /* HMMDEV_RESPONSE_*, 0: none yet */
};

/* One ATC entry: a leaf translation of one context. */
typedef struct HmmdevAtcEntry {
    uint64_t tag;                   /* VA >> 12, or VA >> 21 when huge */
    uint64_t pte;                   /* the leaf as walked, A/D included */
    uint64_t lru;
    uint16_t ctx;
    bool valid;
    bool huge;
} HmmdevAtcEntry;

#define HMMDEV_NO_ROOT              UINT32_MAX

typedef struct HmmdevContext {
    uint64_t root;                  /* the ROOT register, BQL only */
    uint32_t root_pfn;              /* engines: root >> 12, or NO_ROOT */
    uint64_t cpu_root;              /* CPU_ROOT: BQL writes, engines read */
    bool enabled;
} HmmdevContext;

/* Result of a translation */
typedef struct HmmdevXlate {
    uint64_t addr;                  /* bus address or VRAM offset */
    uint64_t len;                   /* bytes mapped contiguously from there */
    bool vram;
} HmmdevXlate;

typedef enum HmmdevOracleMode {
    HMMDEV_ORACLE_OFF,
    HMMDEV_ORACLE_COUNT,            /* count, trace, log */
    HMMDEV_ORACLE_FAIL,             /* also fail the job */
    HMMDEV_ORACLE_STOP,             /* also stop the VM */
} HmmdevOracleMode;

#define HMMDEV_ORACLE_LOG           16      /* violations kept for QOM */
#define HMMDEV_MAX_POISON           64      /* poisoned VRAM pages */
#define HMMDEV_AER_OFFSET           0x100   /* extended config space */

/* One violation, as oracle-log shows it. */
typedef struct HmmdevOracleRecord {
    uint64_t fence;
    uint64_t va;
    uint64_t dev_addr;
    uint64_t cpu_raw;
    const char *why;
    uint32_t job;
    uint32_t epoch_xlate;
    uint32_t epoch_now;
    uint16_t ctx;
    uint8_t engine;
    uint8_t access;
    uint8_t cpu_level;
    uint8_t cpu_kind;
    bool vram;
} HmmdevOracleRecord;

typedef enum HmmdevXlateStatus {
    HMMDEV_XLATE_OK,
    HMMDEV_XLATE_FAULT,             /* not present or not permitted */
    HMMDEV_XLATE_BAD_PTE,
    HMMDEV_XLATE_BAD_CONTEXT,
} HmmdevXlateStatus;

struct HmmdevState {
    PCIDevice parent_obj;

    MemoryRegion regs;
    MemoryRegion vram_own;          /* VRAM without a memdev */
    MemoryRegion *vram;             /* BAR2: vram_own or the memdev's */
    uint8_t *vram_ptr;
    Error *migration_blocker;
    VMChangeStateEntry *vmstate_entry;
    const char *trace_name;         /* "dev=" of the trace events: QOM id */

    /* properties */
    HostMemoryBackend *memdev;
    uint64_t vram_size;
    uint32_t num_engines;
    uint32_t atc_sets;
    uint32_t atc_ways;
    bool coherent;
    bool prefault;                  /* commit VRAM at realize */
    bool irq_direct;                /* threads send MSI-X themselves */
    /* fault injection (hmmdev-inject.c; QOM, settable while running) */
    uint32_t inject_xlate_delay_us; /* between a translation and its use */
    uint32_t inject_drop_syncs;     /* SYNCs that never complete */
    uint32_t inject_sync_delay_us;  /* before a SYNC completes */
    uint32_t inject_invalidate_delay_us; /* before an INVALIDATE acts */
    uint32_t inject_bad_fq_tail;    /* FQ_TAIL reads all-ones */
    uint32_t inject_drop_irqs;      /* next N MSI-X messages lost */
    uint32_t inject_drop_irq_every; /* every Nth MSI-X message lost */
    uint32_t inject_drop_irq_vectors; /* of these vectors */
    uint32_t irq_messages;          /* messages of those vectors so far */
    uint32_t inject_dma_error_every; /* every Nth system-memory access */
    uint32_t dma_accesses;          /* engine system-memory accesses */
    uint64_t inject_dma_error_base; /* accesses to this bus range fail */
    uint64_t inject_dma_error_len;
    uint32_t inject_spurious_faults; /* next N hits fault anyway */
    uint32_t inject_duplicate_faults; /* next N records written twice */
    uint32_t inject_fq_limit;       /* fault queue capacity, 0: ring's */
    uint32_t inject_fq_full;        /* next N faults find the queue full */
    uint32_t inject_engine_hang;    /* engines stop until a reset */
    unsigned long *poison;          /* poisoned VRAM pages; BQL sets */
    uint32_t poisoned;              /* how many */
    MemoryRegion poison_mr[HMMDEV_MAX_POISON]; /* their all-ones pages */
    bool gone;                      /* fell off the bus (hmmdev-link.c) */
    MemoryRegion gone_mr;           /* then: all-ones over all of BAR2 */

    /* coherence oracle (hmmdev-oracle.c): engines read these atomically */
    uint32_t oracle_mode;           /* HmmdevOracleMode, QOM "oracle" */
    uint64_t oracle_priv_pfn;       /* ORACLE_PRIV_PFN */
    uint32_t oracle_swp_types;      /* ORACLE_SWP_TYPES */
    uint64_t oracle_probe;          /* ORACLE_PROBE, BQL */
    QemuMutex oracle_lock;          /* the log */
    HmmdevOracleRecord oracle_log[HMMDEV_ORACLE_LOG];
    uint32_t oracle_logged;         /* violations logged since creation */

    /* BQL */
    uint32_t scratch;

    /* written by any thread, atomically */
    uint32_t err_code;
    uint32_t err_count;
    uint32_t irq_pending;           /* vectors raised, not yet sent */
    uint32_t irq_direct_busy;       /* threads in hmmdev_irq_flush() */
    bool irq_direct_stop;           /* unplug: hmmdev_irq_flush() defers */
    Stat64 counters[HMMDEV_CNT_MAX];

    /*
     * The gate (hmmdev-engine.c): every guest-visible access of an engine
     * or of the command thread happens inside it.  gate_lock protects the
     * fields below; generation and quit are also read atomically.
     */
    QemuMutex gate_lock;
    QemuCond gate_cond;
    uint32_t gate_active;           /* threads inside */
    uint32_t gate_draining;         /* quiesces in progress: entries wait */
    bool gate_paused;               /* the VM is stopped: entries wait */
    uint32_t generation;            /* bumped by reset: work in flight drops */
    bool quit;                      /* unplug: the threads end */

    /* job queue: jq_lock protects everything below */
    QemuMutex jq_lock;
    QemuCond jq_cond;
    bool jq_enabled;
    bool jq_fetching;               /* an engine is reading the head slot */
    uint32_t jq_ring_gen;           /* bumped when the ring is reconfigured */
    uint64_t jq_base;
    uint32_t jq_entries;
    uint32_t jq_head;
    uint32_t jq_tail;
    uint32_t busy;                  /* engines executing a job */

    HmmdevEngine engines[HMMDEV_MAX_ENGINES];
    QEMUBH *irq_bh;

    /* contexts: written under the BQL, read by engines atomically */
    HmmdevContext contexts[HMMDEV_NUM_CONTEXTS];

    /* translation cache: atc_lock protects entries, tick, epoch writes */
    QemuMutex atc_lock;
    HmmdevAtcEntry *atc;            /* atc_sets * atc_ways */
    uint64_t atc_tick;
    uint32_t atc_epoch;             /* bumped by every invalidation, never 0 */

    /* SYNC waiting for engines' translation markers */
    QemuMutex sync_lock;
    QemuCond sync_cond;
    uint32_t sync_waiters;

    /* command queue: cq_lock protects the ring state */
    QemuMutex cq_lock;
    QemuCond cq_cond;
    QemuThread cq_thread;
    bool cq_enabled;
    uint32_t cq_ring_gen;           /* bumped when the ring is reconfigured */
    uint64_t cq_base;
    uint32_t cq_entries;
    uint32_t cq_head;
    uint32_t cq_tail;

    /*
     * fault queue: fq_lock protects the ring and engines' fault state;
     * fq_write_lock (taken first, engines only) orders record writers.
     */
    QemuMutex fq_write_lock;
    QemuMutex fq_lock;
    bool fq_enabled;
    uint32_t fq_ring_gen;           /* bumped when the ring is reconfigured */
    bool fq_overflow;
    uint64_t fq_base;
    uint32_t fq_entries;
    uint32_t fq_head;
    uint32_t fq_tail;
};

/*
 * Guest memory (system RAM and VRAM) is shared with the vCPUs and other
 * devices by design: a race on it is the guest's to avoid, as with real
 * hardware, and not a race in QEMU's state.  ThreadSanitizer does not
 * check the accesses between these two calls.
 */
static inline void hmmdev_guest_access_begin(void)
{
    QEMU_TSAN_ANNOTATE_IGNORE_READS_BEGIN();
    QEMU_TSAN_ANNOTATE_IGNORE_WRITES_BEGIN();
}

static inline void hmmdev_guest_access_end(void)
{
    QEMU_TSAN_ANNOTATE_IGNORE_WRITES_END();
    QEMU_TSAN_ANNOTATE_IGNORE_READS_END();
}

/*
 * The device's clock (the TIMESTAMP register): the VM's virtual clock, in
 * ns.  Every protocol trace event carries it as "ts".
 */
static inline uint64_t hmmdev_now(void)
{
    return qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
}

/* hmmdev-pci.c */
void hmmdev_count(HmmdevState *s, HmmdevCounter c, uint64_t n);
void hmmdev_raise(HmmdevState *s, unsigned vector);
void hmmdev_raise_deferred(HmmdevState *s, unsigned vector);
void hmmdev_irq_flush(HmmdevState *s);
void hmmdev_engine_irq_flush(HmmdevEngine *e);
void hmmdev_device_error(HmmdevState *s, uint32_t code);

/* hmmdev-dma.c */
void hmmdev_atomic_add_le64(uint64_t *p, uint64_t value, uint64_t *old);
bool hmmdev_cmpxchg_le64(uint64_t *p, uint64_t old, uint64_t new);
uint64_t hmmdev_read_le64(uint64_t *p);
MemTxResult hmmdev_sysmem_rw(HmmdevState *s, dma_addr_t addr, void *buf,
                             dma_addr_t len, DMADirection dir);
uint32_t hmmdev_job_check(HmmdevState *s, const HmmdevJobDesc *d);
int hmmdev_job_execute(HmmdevEngine *e, const HmmdevJobDesc *d,
                       uint64_t *result);

/* hmmdev-mmu.c */
void hmmdev_mmu_init(HmmdevState *s);
void hmmdev_mmu_free(HmmdevState *s);
void hmmdev_mmu_reset(HmmdevState *s);
uint64_t hmmdev_ctx_read(HmmdevState *s, hwaddr off);
void hmmdev_ctx_write(HmmdevState *s, hwaddr off, uint64_t val, unsigned size);
void hmmdev_xlate_begin(HmmdevEngine *e);
void hmmdev_xlate_end(HmmdevEngine *e);
HmmdevXlateStatus hmmdev_translate(HmmdevEngine *e, unsigned ctx, uint64_t va,
                                   unsigned access, uint64_t max,
                                   HmmdevXlate *x, uint32_t *reason);
void hmmdev_atc_invalidate(HmmdevState *s, bool all_ctx, unsigned ctx,
                           bool all_va, uint64_t va, uint64_t len);
bool hmmdev_wait_translations(HmmdevState *s, uint32_t gen);

/* A CPU page-table entry, as the oracle reads it (hmmdev-cpu-pt.c). */
typedef struct HmmdevCpuEntry {
    uint64_t raw;
    unsigned kind;                  /* HMMDEV_CPU_* */
    unsigned level;                 /* 1: PTE, 2: PMD, 3: PUD, ... */
    unsigned type;                  /* swap type of a non-present entry */
    bool write;                     /* writable at every level */
    uint64_t pfn;                   /* of the page at the walked VA */
    uint64_t span;                  /* bytes from the VA this entry covers */
} HmmdevCpuEntry;

/* hmmdev-inject.c */
void hmmdev_inject_init(HmmdevState *s);
void hmmdev_inject_free(HmmdevState *s);
void hmmdev_inject_reset(HmmdevState *s);
void hmmdev_inject_class_init(ObjectClass *klass);
bool hmmdev_inject_take(HmmdevState *s, uint32_t *knob);
bool hmmdev_inject_irq_lost(HmmdevState *s, unsigned vector);
bool hmmdev_inject_dma_error(HmmdevState *s, uint64_t addr, uint64_t *max);
bool hmmdev_inject_vram_poisoned(HmmdevState *s, uint64_t off, uint64_t *max);
bool hmmdev_inject_spurious_fault(HmmdevState *s);
void hmmdev_inject_hang(HmmdevEngine *e);
extern const MemoryRegionOps hmmdev_all_ones_ops;

/* hmmdev-link.c */
bool hmmdev_gone(HmmdevState *s);
bool hmmdev_link_realize(HmmdevState *s, Error **errp);
void hmmdev_link_reset(HmmdevState *s);
void hmmdev_link_exit(HmmdevState *s);
void hmmdev_link_class_init(ObjectClass *klass);

/* hmmdev-cpu-pt.c */
const char *hmmdev_cpu_kind_name(unsigned kind);
void hmmdev_cpu_decode(uint64_t v, uint32_t types, HmmdevCpuEntry *c);
void *hmmdev_cpu_ram(hwaddr gpa, hwaddr len);
void hmmdev_cpu_walk(uint64_t root, unsigned levels, uint64_t va,
                     uint32_t types, HmmdevCpuEntry *c);

/* hmmdev-oracle.c */
void hmmdev_oracle_init(HmmdevState *s);
void hmmdev_oracle_finalize(HmmdevState *s);
void hmmdev_oracle_class_init(ObjectClass *klass);
void hmmdev_oracle_reset(HmmdevState *s);
bool hmmdev_is_oracle_reg(hwaddr addr);
bool hmmdev_oracle_reg_read(HmmdevState *s, hwaddr addr, uint64_t *val);
bool hmmdev_oracle_reg_write(HmmdevState *s, hwaddr addr, uint64_t val,
                             unsigned size);
bool hmmdev_oracle_check(HmmdevEngine *e, const HmmdevJobDesc *d,
                         uint64_t va, uint64_t len, unsigned access,
                         const HmmdevXlate *x, void *dev_ptr);

/* hmmdev-queues.c */
bool hmmdev_ring_ok(uint64_t base, uint32_t entries, unsigned size);
void hmmdev_set_base(uint64_t *base, hwaddr addr, hwaddr reg, uint64_t val,
                     unsigned size);
void hmmdev_queues_start(HmmdevState *s);
void hmmdev_queues_stop(HmmdevState *s);
void hmmdev_queues_reset(HmmdevState *s);
uint64_t hmmdev_queue_read(HmmdevState *s, hwaddr addr);
void hmmdev_respond_reg(HmmdevState *s, uint64_t val);
void hmmdev_queue_write(HmmdevState *s, hwaddr addr, uint64_t val,
                        unsigned size);
void hmmdev_queues_enable(HmmdevState *s, uint32_t ctrl);
uint32_t hmmdev_queues_status(HmmdevState *s);
int hmmdev_fault_stall(HmmdevEngine *e, unsigned ctx, uint64_t va,
                       unsigned access, uint32_t reason);

/* hmmdev-engine.c */
bool hmmdev_gate_enter(HmmdevState *s, uint32_t gen);
void hmmdev_gate_exit(HmmdevState *s);
bool hmmdev_gate_sleep(HmmdevState *s, uint32_t gen, uint32_t us);
int hmmdev_gate_read(HmmdevState *s, uint32_t gen, uint64_t addr, void *buf,
                     size_t len);
void hmmdev_gate_pause(HmmdevState *s, bool paused);
void hmmdev_quiesce(HmmdevState *s);
uint32_t hmmdev_generation(HmmdevState *s);
void hmmdev_engines_start(HmmdevState *s);
void hmmdev_engines_stop(HmmdevState *s);
void hmmdev_jq_reset(HmmdevState *s);
uint64_t hmmdev_jq_read(HmmdevState *s, hwaddr addr);
void hmmdev_jq_write(HmmdevState *s, hwaddr addr, uint64_t val, unsigned size);
void hmmdev_reset_state(HmmdevState *s);

#endif
