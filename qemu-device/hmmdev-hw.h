/*
 * hmmdev hardware interface: register map, descriptor and completion
 * formats, status and error codes.  The contract is qemu-device/SPEC.rst;
 * keep the two in step.
 *
 * This header has no dependencies beyond fixed-width integer types so the
 * device model, its qtests and the guest driver share one definition.
 * All multi-byte fields are little endian.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HMMDEV_HW_H
#define HMMDEV_HW_H

#define HMMDEV_VENDOR_ID            0x1234
#define HMMDEV_DEVICE_ID            0x4844
#define HMMDEV_CLASS_ACCELERATOR    0x1200  /* processing accelerator */

#define HMMDEV_ID_MAGIC             0x484d4d44u     /* "HMMD" */
#define HMMDEV_VERSION              0x00010005u     /* 1.5 */

/* BARs */
#define HMMDEV_BAR_REGS             0
#define HMMDEV_BAR_VRAM             2
#define HMMDEV_BAR_MSIX             4
#define HMMDEV_REGS_SIZE            0x1000

/* BAR0 registers (offsets) */
#define HMMDEV_REG_ID               0x000   /* RO  32 */
#define HMMDEV_REG_VERSION          0x004   /* RO  32 */
#define HMMDEV_REG_CAPS             0x008   /* RO  32 */
#define HMMDEV_REG_ENGINES          0x00c   /* RO  32 */
#define HMMDEV_REG_SCRATCH          0x010   /* RW  32 */
#define HMMDEV_REG_MSIX_VECTORS     0x014   /* RO  32 */
#define HMMDEV_REG_TIMESTAMP        0x018   /* RO  64, host ns */
#define HMMDEV_REG_VRAM_SIZE        0x020   /* RO  64 */
#define HMMDEV_REG_IRQ_TEST         0x028   /* WO  32, vector to raise */
#define HMMDEV_REG_CTRL             0x030   /* RW  32 */
#define HMMDEV_REG_STATUS           0x034   /* RO  32 */
#define HMMDEV_REG_ERR_CODE         0x038   /* RW1C 32, last error */
#define HMMDEV_REG_ERR_COUNT        0x03c   /* RO  32 */
#define HMMDEV_REG_JQ_BASE          0x040   /* RW  64 */
#define HMMDEV_REG_JQ_ENTRIES       0x048   /* RW  32 */
#define HMMDEV_REG_JQ_TAIL          0x04c   /* RW  32, doorbell */
#define HMMDEV_REG_JQ_HEAD          0x050   /* RO  32 */
#define HMMDEV_REG_CQ_BASE          0x058   /* RW  64 */
#define HMMDEV_REG_CQ_ENTRIES       0x060   /* RW  32 */
#define HMMDEV_REG_CQ_TAIL          0x064   /* RW  32, doorbell */
#define HMMDEV_REG_CQ_HEAD          0x068   /* RO  32 */
#define HMMDEV_REG_FQ_BASE          0x070   /* RW  64 */
#define HMMDEV_REG_FQ_ENTRIES       0x078   /* RW  32 */
#define HMMDEV_REG_FQ_HEAD          0x07c   /* RW  32, records consumed */
#define HMMDEV_REG_FQ_TAIL          0x080   /* RO  32, records written */
#define HMMDEV_REG_ATC_SETS         0x084   /* RO  32 */
#define HMMDEV_REG_ATC_WAYS         0x088   /* RO  32 */
#define HMMDEV_REG_CONTEXTS         0x08c   /* RO  32 */
#define HMMDEV_REG_ORACLE_PRIV_PFN  0x090   /* RW  64, PFN of VRAM offset 0 */
#define HMMDEV_REG_ORACLE_SWP_TYPES 0x098   /* RW  32, HMMDEV_SWP_* bytes */
#define HMMDEV_REG_ORACLE_PROBE     0x0a0   /* RW  64, a CPU entry */
#define HMMDEV_REG_ORACLE_DECODED   0x0a8   /* RO  64, its HMMDEV_CPU_* */
#define HMMDEV_REG_FQ_RESPOND       0x0b0   /* WO  64, id | action << 32 */
#define HMMDEV_REG_CTX_BASE         0x400   /* 16 bytes per context: */
#define HMMDEV_CTX_ROOT             0x0     /*   RW 64, VRAM offset of L4 */
#define HMMDEV_CTX_CTRL             0x8     /*   RW 32, bit 0 enable */
#define HMMDEV_CTX_STRIDE           16
#define HMMDEV_NUM_CONTEXTS         64
#define HMMDEV_REG_COUNTERS         0x100   /* RO  64 each, HmmdevCounter */
#define HMMDEV_REG_CPU_ROOT         0x800   /* RW  64 per context: */
#define HMMDEV_CPU_ROOT_ADDR        0x000ffffffffff000ull /* top CPU table */
#define HMMDEV_CPU_ROOT_LEVELS      0x7ull  /* 0 (no check), 4 or 5 */

/* ORACLE_SWP_TYPES: byte HMMDEV_SWP_* names the swap type of that entry */
#define HMMDEV_SWP_PRIVATE_WRITE    0       /* device-private, writable */
#define HMMDEV_SWP_PRIVATE_READ     1       /* device-private, read-only */
#define HMMDEV_SWP_EXCLUSIVE_WRITE  2       /* device-exclusive, writable */
#define HMMDEV_SWP_EXCLUSIVE_READ   3       /* device-exclusive, read-only */
#define HMMDEV_SWP_VALID            0x80u   /* in each byte: the type exists */
#define HMMDEV_SWP_TYPE_MASK        0x1fu

/* ORACLE_DECODED: kind, write, swap type, page frame */
enum {
    HMMDEV_CPU_NONE = 0,            /* an empty entry */
    HMMDEV_CPU_PRESENT = 1,         /* maps the page frame */
    HMMDEV_CPU_PROTNONE = 2,        /* kept by Linux, no access */
    HMMDEV_CPU_PRIVATE = 3,         /* device-private entry of the frame */
    HMMDEV_CPU_EXCLUSIVE = 4,       /* device-exclusive entry of the frame */
    HMMDEV_CPU_SWAP = 5,            /* any other non-present entry */
    HMMDEV_CPU_UNREADABLE = 6,      /* a table outside RAM (walks only) */
};
#define HMMDEV_CPU_KIND_MASK        0xfull
#define HMMDEV_CPU_WRITE            (1ull << 4)
#define HMMDEV_CPU_TYPE_SHIFT       5       /* 5 bits */
#define HMMDEV_CPU_PFN_SHIFT        12

#define HMMDEV_CAP_JOBQ             (1u << 0)
#define HMMDEV_CAP_MMU              (1u << 1)
#define HMMDEV_CAP_ATC              (1u << 2)
#define HMMDEV_CAP_CMDQ             (1u << 3)
#define HMMDEV_CAP_FAULTQ           (1u << 4)
#define HMMDEV_CAP_COHERENT         (1u << 5)     /* CPU may cache BAR2 */
#define HMMDEV_CAP_ORACLE           (1u << 6)     /* coherence oracle */
#define HMMDEV_CAP_FQ_RESPOND       (1u << 7)     /* FQ_RESPOND register */

#define HMMDEV_CTRL_ENABLE          (1u << 0)     /* job queue */
#define HMMDEV_CTRL_CQ_ENABLE       (1u << 1)
#define HMMDEV_CTRL_FQ_ENABLE       (1u << 2)
#define HMMDEV_CTRL_RESET           (1u << 31)

#define HMMDEV_STATUS_ENABLED       (1u << 0)
#define HMMDEV_STATUS_BUSY          (1u << 1)
#define HMMDEV_STATUS_ERROR         (1u << 2)
#define HMMDEV_STATUS_CQ_ENABLED    (1u << 3)
#define HMMDEV_STATUS_FQ_ENABLED    (1u << 4)
#define HMMDEV_STATUS_FQ_OVERFLOW   (1u << 5)     /* sticky until FQ reset */

/* MSI-X vectors */
enum {
    HMMDEV_VEC_ERROR = 0,
    HMMDEV_VEC_JOB = 1,
    HMMDEV_VEC_FAULT = 2,
    HMMDEV_VEC_CMDQ = 3,
    HMMDEV_MSIX_VECTORS = 4,
};

/* Device errors (ERR_CODE): a bad register write or ring pointer */
enum {
    HMMDEV_ERR_NONE = 0,
    HMMDEV_ERR_BAD_REGISTER = 1,    /* unknown offset or read-only */
    HMMDEV_ERR_BAD_VECTOR = 2,      /* IRQ_TEST beyond MSIX_VECTORS */
    HMMDEV_ERR_RING_BUSY = 3,       /* ring register written while enabled */
    HMMDEV_ERR_BAD_RING = 4,        /* base unaligned or entries invalid */
    HMMDEV_ERR_BAD_TAIL = 5,        /* tail >= entries */
    HMMDEV_ERR_FETCH = 6,           /* descriptor could not be read */
    HMMDEV_ERR_COMPLETION = 7,      /* completion record could not be written */
    HMMDEV_ERR_BAD_COMMAND = 8,     /* malformed command-queue entry */
    HMMDEV_ERR_BAD_PTE = 9,         /* malformed page-table entry */
    HMMDEV_ERR_FQ_OVERFLOW = 10,    /* fault queue full: a fault was lost */
    HMMDEV_ERR_CMD_FETCH = 11,      /* command could not be read */
    HMMDEV_ERR_FQ_WRITE = 12,       /* fault record could not be written */
    HMMDEV_ERR_BAD_RESPONSE = 13,   /* RESPOND names no stalled fault */
    HMMDEV_ERR_SYNC_WRITE = 14,     /* SYNC fence could not be written */
    HMMDEV_ERR_BAD_CONTEXT = 15,    /* context enabled with a bad root */
    HMMDEV_ERR_STALE_TRANSLATION = 16, /* the oracle failed a job */
};

/* Job descriptor: 64 bytes, little endian, in the job ring */
struct hmmdev_job_desc {
    uint8_t opcode;
    uint8_t flags;
    uint16_t context;
    uint32_t rsvd0;
    uint64_t src;
    uint64_t dst;
    uint64_t length;
    uint64_t value;
    uint64_t completion;
    uint64_t fence;
    uint64_t rsvd1;
};

#define HMMDEV_JOB_DESC_SIZE        64

enum {
    HMMDEV_OP_NOP = 0,
    HMMDEV_OP_COPY = 1,
    HMMDEV_OP_FILL = 2,
    HMMDEV_OP_ATOMIC_ADD = 3,       /* u64 at dst += value; result: old */
    HMMDEV_OP_CHECKSUM = 4,         /* result: sum of LE u64 words of src */
    HMMDEV_OP_COPY_LIST = 5,        /* src: list of copies, length entries */
};

/* COPY_LIST entry: 16 bytes, little endian; each copies ``value`` bytes */
struct hmmdev_copy_entry {
    uint64_t src;
    uint64_t dst;
};

#define HMMDEV_COPY_LIST_MAX        4096            /* entries per job */
#define HMMDEV_COPY_ENTRY_MAX       (2ull << 20)    /* bytes per entry */

#define HMMDEV_JOB_IRQ              (1u << 0)
#define HMMDEV_JOB_SRC_VRAM         (1u << 1)
#define HMMDEV_JOB_DST_VRAM         (1u << 2)
#define HMMDEV_JOB_SRC_VA           (1u << 3)     /* src: VA in context */
#define HMMDEV_JOB_DST_VA           (1u << 4)     /* dst: VA in context */
#define HMMDEV_JOB_FLAGS_VALID      0x1fu

#define HMMDEV_JOB_MAX_LENGTH       (1ull << 30)

/* Completion record: 32 bytes, little endian, 32-byte aligned */
struct hmmdev_completion {
    uint64_t fence;
    uint32_t status;
    uint32_t engine;
    uint64_t result;
    uint64_t timestamp;
};

enum {
    HMMDEV_JOB_OK = 0,
    HMMDEV_JOB_BAD_OPCODE = 1,
    HMMDEV_JOB_BAD_FLAGS = 2,
    HMMDEV_JOB_BAD_LENGTH = 3,
    HMMDEV_JOB_BAD_ADDRESS = 4,
    HMMDEV_JOB_DMA_ERROR = 5,
    HMMDEV_JOB_BAD_CONTEXT = 6,     /* context not 0..63 or not enabled */
    HMMDEV_JOB_FAULT_ABORTED = 7,   /* the driver answered a fault ABORT */
    HMMDEV_JOB_FAULT_LOST = 8,      /* fault queue off or full */
    HMMDEV_JOB_BAD_PTE = 9,         /* malformed page-table entry */
    HMMDEV_JOB_STALE_TRANSLATION = 10, /* the CPU no longer maps it so */
    HMMDEV_JOB_VRAM_POISONED = 11,  /* a VRAM page it read is poisoned */
};

/* Page-table entry (8 bytes, in VRAM): 4 levels, 9 bits each, 48-bit VA */
#define HMMDEV_PTE_VALID            (1ull << 0)
#define HMMDEV_PTE_WRITE            (1ull << 1)
#define HMMDEV_PTE_ATOMIC           (1ull << 2)
#define HMMDEV_PTE_VRAM             (1ull << 3)   /* address is a VRAM offset */
#define HMMDEV_PTE_ACCESSED         (1ull << 4)   /* set by the device */
#define HMMDEV_PTE_DIRTY            (1ull << 5)   /* set by the device */
#define HMMDEV_PTE_HUGE             (1ull << 7)   /* level-2 leaf: 2 MiB */
#define HMMDEV_PTE_ADDR_MASK        0x000ffffffffff000ull
#define HMMDEV_PTE_LEAF_FLAGS       0xbfull       /* bits a leaf may use */
#define HMMDEV_PTE_TABLE_FLAGS      0x01ull       /* bits a table may use */
#define HMMDEV_VA_BITS              48

/* Command-queue entry: 32 bytes */
struct hmmdev_command {
    uint8_t opcode;
    uint8_t flags;
    uint16_t context;
    uint32_t rsvd;
    uint64_t arg0;
    uint64_t arg1;
    uint64_t arg2;
};

#define HMMDEV_CMD_SIZE             32

enum {
    HMMDEV_CMD_INVALIDATE = 1,      /* arg0 VA, arg1 length */
    HMMDEV_CMD_SYNC = 2,            /* write arg1 (u64) at arg0 */
    HMMDEV_CMD_RESPOND = 3,         /* arg0 fault id, arg1 action */
};

#define HMMDEV_INV_ALL_CONTEXTS     (1u << 0)
#define HMMDEV_INV_ALL_ADDRESSES    (1u << 1)
#define HMMDEV_SYNC_IRQ             (1u << 0)

enum {
    HMMDEV_RESPONSE_RETRY = 1,
    HMMDEV_RESPONSE_ABORT = 2,
};

/* Fault record: 32 bytes */
struct hmmdev_fault {
    uint64_t va;
    uint16_t context;
    uint8_t access;                 /* HMMDEV_ACCESS_* */
    uint8_t engine;
    uint32_t id;                    /* echo in RESPOND */
    uint64_t timestamp;
    uint32_t reason;                /* HMMDEV_FAULT_* */
    uint32_t rsvd;
};

#define HMMDEV_FAULT_SIZE           32

#define HMMDEV_ACCESS_READ          1
#define HMMDEV_ACCESS_WRITE         2
#define HMMDEV_ACCESS_ATOMIC        4

enum {
    HMMDEV_FAULT_NOT_PRESENT = 1,
    HMMDEV_FAULT_PERMISSION = 2,
};

/* Counters, readable at HMMDEV_REG_COUNTERS + 8 * index and over QOM */
typedef enum HmmdevCounter {
    HMMDEV_CNT_JOBS_DONE,
    HMMDEV_CNT_JOBS_FAILED,
    HMMDEV_CNT_BYTES,
    HMMDEV_CNT_IRQS,
    HMMDEV_CNT_DMA_ERRORS,
    HMMDEV_CNT_DEVICE_ERRORS,
    HMMDEV_CNT_DOORBELLS,
    HMMDEV_CNT_RESETS,
    HMMDEV_CNT_ATC_HITS,
    HMMDEV_CNT_ATC_MISSES,
    HMMDEV_CNT_ATC_EVICTIONS,
    HMMDEV_CNT_ATC_INVALIDATED,
    HMMDEV_CNT_WALKS,
    HMMDEV_CNT_FAULTS,
    HMMDEV_CNT_FAULT_RETRIES,
    HMMDEV_CNT_FAULT_ABORTS,
    HMMDEV_CNT_FAULTS_LOST,
    HMMDEV_CNT_COMMANDS,
    HMMDEV_CNT_INVALIDATES,
    HMMDEV_CNT_SYNCS,
    HMMDEV_CNT_ORACLE_CHECKS,
    HMMDEV_CNT_ORACLE_VIOLATIONS,
    HMMDEV_CNT_INJECTED,
    HMMDEV_CNT_MAX
} HmmdevCounter;

/* The name of counter @i (QOM property stat-<name>, debugfs) */
static inline const char *hmmdev_counter_name(unsigned int i)
{
    static const char *const names[HMMDEV_CNT_MAX] = {
        [HMMDEV_CNT_JOBS_DONE] = "jobs-done",
        [HMMDEV_CNT_JOBS_FAILED] = "jobs-failed",
        [HMMDEV_CNT_BYTES] = "bytes",
        [HMMDEV_CNT_IRQS] = "irqs",
        [HMMDEV_CNT_DMA_ERRORS] = "dma-errors",
        [HMMDEV_CNT_DEVICE_ERRORS] = "device-errors",
        [HMMDEV_CNT_DOORBELLS] = "doorbells",
        [HMMDEV_CNT_RESETS] = "resets",
        [HMMDEV_CNT_ATC_HITS] = "atc-hits",
        [HMMDEV_CNT_ATC_MISSES] = "atc-misses",
        [HMMDEV_CNT_ATC_EVICTIONS] = "atc-evictions",
        [HMMDEV_CNT_ATC_INVALIDATED] = "atc-invalidated",
        [HMMDEV_CNT_WALKS] = "walks",
        [HMMDEV_CNT_FAULTS] = "faults",
        [HMMDEV_CNT_FAULT_RETRIES] = "fault-retries",
        [HMMDEV_CNT_FAULT_ABORTS] = "fault-aborts",
        [HMMDEV_CNT_FAULTS_LOST] = "faults-lost",
        [HMMDEV_CNT_COMMANDS] = "commands",
        [HMMDEV_CNT_INVALIDATES] = "invalidates",
        [HMMDEV_CNT_SYNCS] = "syncs",
        [HMMDEV_CNT_ORACLE_CHECKS] = "oracle-checks",
        [HMMDEV_CNT_ORACLE_VIOLATIONS] = "oracle-violations",
        [HMMDEV_CNT_INJECTED] = "injected",
    };

    return i < HMMDEV_CNT_MAX ? names[i] : "unknown";
}

#ifdef QEMU_OSDEP_H
/* QEMU naming, for the device model and its qtests */
typedef struct hmmdev_job_desc HmmdevJobDesc;
typedef struct hmmdev_copy_entry HmmdevCopyEntry;
typedef struct hmmdev_completion HmmdevCompletion;
typedef struct hmmdev_command HmmdevCommand;
typedef struct hmmdev_fault HmmdevFault;
#endif

#endif
