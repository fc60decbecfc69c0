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
#define HMMDEV_VERSION              0x00010000u     /* 1.0 */

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
#define HMMDEV_REG_COUNTERS         0x100   /* RO  64 each, HmmdevCounter */

#define HMMDEV_CAP_JOBQ             (1u << 0)

#define HMMDEV_CTRL_ENABLE          (1u << 0)
#define HMMDEV_CTRL_RESET           (1u << 31)

#define HMMDEV_STATUS_ENABLED       (1u << 0)
#define HMMDEV_STATUS_BUSY          (1u << 1)
#define HMMDEV_STATUS_ERROR         (1u << 2)

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
};

#define HMMDEV_JOB_IRQ              (1u << 0)
#define HMMDEV_JOB_SRC_VRAM         (1u << 1)
#define HMMDEV_JOB_DST_VRAM         (1u << 2)
#define HMMDEV_JOB_FLAGS_VALID      0x07u

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
    HMMDEV_JOB_BAD_CONTEXT = 6,
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
    HMMDEV_CNT_MAX
} HmmdevCounter;

#ifdef QEMU_OSDEP_H
/* QEMU naming, for the device model and its qtests */
typedef struct hmmdev_job_desc HmmdevJobDesc;
typedef struct hmmdev_completion HmmdevCompletion;
#endif

#endif
