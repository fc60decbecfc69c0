/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmmdev tracepoints: the driver's side of the protocol timeline.
 *
 * Enable them with /sys/kernel/tracing/events/hmmdev/ (run-vm.sh
 * --timeline does, with trace_clock "mono"); images/hmmdev-timeline.c
 * merges them with the device's own trace events (qemu-device/trace-events,
 * each with the device's TIMESTAMP as "ts") on one time axis, aligned by the
 * hmmdev_clock_pair events.
 *
 * The format of every event is "key=value ..." with no spaces inside a
 * value: the merge tool reads the fields by name.  Times in fields are
 * CLOCK_MONOTONIC ns (ktime_get_ns() / ktime_get_mono_fast_ns(), the clock
 * of trace_clock "mono"); device times are the device's TIMESTAMP (ns).
 * An event that announces something to the device (a command, a job) is
 * emitted before the doorbell that tells the device, so that in a merged
 * timeline a cause never comes after its effect.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM hmmdev

#if !defined(_HMMDEV_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _HMMDEV_TRACE_H

#include <linux/tracepoint.h>
#include <linux/mmu_notifier.h>

#include "hmmdev.h"

/*
 * The guest's CLOCK_MONOTONIC around one read of the device's TIMESTAMP
 * register (interrupts off): the device read its clock between @before
 * and @after.  Emitted at probe and periodically (hmmdev_trace.c).
 */
TRACE_EVENT(hmmdev_clock_pair,
	TP_PROTO(int dev, u64 before, u64 device, u64 after),
	TP_ARGS(dev, before, device, after),
	TP_STRUCT__entry(
		__field(int, dev)
		__field(u64, before)
		__field(u64, device)
		__field(u64, after)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->before = before;
		__entry->device = device;
		__entry->after = after;
	),
	TP_printk("dev=%d before=%llu device=%llu after=%llu", __entry->dev,
		  __entry->before, __entry->device, __entry->after)
);

/* A fault record taken from the device's fault ring. */
TRACE_EVENT(hmmdev_fault_read,
	TP_PROTO(int dev, u32 id, u8 engine, u16 ctx, u64 va, u8 access,
		 u64 device_ts),
	TP_ARGS(dev, id, engine, ctx, va, access, device_ts),
	TP_STRUCT__entry(
		__field(int, dev)
		__field(u32, id)
		__field(u8, engine)
		__field(u16, ctx)
		__field(u64, va)
		__field(u8, access)
		__field(u64, device_ts)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->id = id;
		__entry->engine = engine;
		__entry->ctx = ctx;
		__entry->va = va;
		__entry->access = access;
		__entry->device_ts = device_ts;
	),
	TP_printk("dev=%d id=%#x engine=%u ctx=%u va=%#llx access=%u dts=%llu",
		  __entry->dev, __entry->id, __entry->engine, __entry->ctx,
		  __entry->va, __entry->access, __entry->device_ts)
);

DECLARE_EVENT_CLASS(hmmdev_fault_class,
	TP_PROTO(int dev, u32 id, int ret),
	TP_ARGS(dev, id, ret),
	TP_STRUCT__entry(
		__field(int, dev)
		__field(u32, id)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->id = id;
		__entry->ret = ret;
	),
	TP_printk("dev=%d id=%#x ret=%d", __entry->dev, __entry->id,
		  __entry->ret)
);

/* The fault service of record @id begins (@ret 0) and ends (its errno). */
DEFINE_EVENT(hmmdev_fault_class, hmmdev_fault_service_start,
	TP_PROTO(int dev, u32 id, int ret), TP_ARGS(dev, id, ret));
DEFINE_EVENT(hmmdev_fault_class, hmmdev_fault_service_end,
	TP_PROTO(int dev, u32 id, int ret), TP_ARGS(dev, id, ret));

/* What the service of record @id faulted in and mirrored: [start, end). */
TRACE_EVENT(hmmdev_fault_resolve,
	TP_PROTO(int dev, u32 id, u64 start, u64 end, int ret, bool unlocked),
	TP_ARGS(dev, id, start, end, ret, unlocked),
	TP_STRUCT__entry(
		__field(int, dev)
		__field(u32, id)
		__field(u64, start)
		__field(u64, end)
		__field(int, ret)
		__field(bool, unlocked)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->id = id;
		__entry->start = start;
		__entry->end = end;
		__entry->ret = ret;
		__entry->unlocked = unlocked;
	),
	TP_printk("dev=%d id=%#x start=%#llx end=%#llx pages=%llu ret=%d unlocked=%d",
		  __entry->dev, __entry->id, __entry->start, __entry->end,
		  (__entry->end - __entry->start) >> PAGE_SHIFT, __entry->ret,
		  __entry->unlocked)
);

/*
 * A command written into the command ring at @index, before its doorbell:
 * INVALIDATE (ctx, va, len), SYNC (fence address, fence value) or RESPOND
 * (fault id, RETRY 1 / ABORT 2).
 */
TRACE_EVENT(hmmdev_cmd_submit,
	TP_PROTO(int dev, u32 index, u8 opcode, u16 ctx, u64 arg0, u64 arg1),
	TP_ARGS(dev, index, opcode, ctx, arg0, arg1),
	TP_STRUCT__entry(
		__field(int, dev)
		__field(u32, index)
		__field(u8, opcode)
		__field(u16, ctx)
		__field(u64, arg0)
		__field(u64, arg1)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->index = index;
		__entry->opcode = opcode;
		__entry->ctx = ctx;
		__entry->arg0 = arg0;
		__entry->arg1 = arg1;
	),
	TP_printk("dev=%d index=%u op=%s ctx=%u arg0=%#llx arg1=%#llx",
		  __entry->dev, __entry->index,
		  __print_symbolic(__entry->opcode,
				   { HMMDEV_CMD_INVALIDATE, "INVALIDATE" },
				   { HMMDEV_CMD_SYNC, "SYNC" },
				   { HMMDEV_CMD_RESPOND, "RESPOND" }),
		  __entry->ctx, __entry->arg0, __entry->arg1)
);

/* The SYNC with fence value @seq completed (@ret 0) or did not (-EIO). */
TRACE_EVENT(hmmdev_sync_done,
	TP_PROTO(int dev, u64 seq, int ret),
	TP_ARGS(dev, seq, ret),
	TP_STRUCT__entry(
		__field(int, dev)
		__field(u64, seq)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->seq = seq;
		__entry->ret = ret;
	),
	TP_printk("dev=%d seq=%llu ret=%d", __entry->dev, __entry->seq,
		  __entry->ret)
);

/* A mirror's interval notifier is called, and returns. */
TRACE_EVENT(hmmdev_notifier_start,
	TP_PROTO(int dev, u16 ctx, int event, u64 start, u64 end, bool own,
		 bool blockable),
	TP_ARGS(dev, ctx, event, start, end, own, blockable),
	TP_STRUCT__entry(
		__field(int, dev)
		__field(u16, ctx)
		__field(int, event)
		__field(u64, start)
		__field(u64, end)
		__field(bool, own)
		__field(bool, blockable)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->ctx = ctx;
		__entry->event = event;
		__entry->start = start;
		__entry->end = end;
		__entry->own = own;
		__entry->blockable = blockable;
	),
	TP_printk("dev=%d ctx=%u event=%s start=%#llx end=%#llx own=%d blockable=%d",
		  __entry->dev, __entry->ctx,
		  __print_symbolic(__entry->event,
				   { MMU_NOTIFY_UNMAP, "UNMAP" },
				   { MMU_NOTIFY_CLEAR, "CLEAR" },
				   { MMU_NOTIFY_PROTECTION_VMA, "PROTECTION_VMA" },
				   { MMU_NOTIFY_PROTECTION_PAGE, "PROTECTION_PAGE" },
				   { MMU_NOTIFY_SOFT_DIRTY, "SOFT_DIRTY" },
				   { MMU_NOTIFY_RELEASE, "RELEASE" },
				   { MMU_NOTIFY_MIGRATE, "MIGRATE" },
				   { MMU_NOTIFY_EXCLUSIVE, "EXCLUSIVE" }),
		  __entry->start, __entry->end, __entry->own,
		  __entry->blockable)
);

TRACE_EVENT(hmmdev_notifier_end,
	TP_PROTO(int dev, u16 ctx, bool ret),
	TP_ARGS(dev, ctx, ret),
	TP_STRUCT__entry(
		__field(int, dev)
		__field(u16, ctx)
		__field(bool, ret)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->ctx = ctx;
		__entry->ret = ret;
	),
	TP_printk("dev=%d ctx=%u ret=%d", __entry->dev, __entry->ctx,
		  __entry->ret)
);

/* A job descriptor written at ring slot @index, before its doorbell. */
TRACE_EVENT(hmmdev_job_submit,
	TP_PROTO(int dev, int tag, u32 index, u64 fence, u8 opcode, u32 flags,
		 u64 src, u64 dst, u64 length),
	TP_ARGS(dev, tag, index, fence, opcode, flags, src, dst, length),
	TP_STRUCT__entry(
		__field(int, dev)
		__field(int, tag)
		__field(u32, index)
		__field(u64, fence)
		__field(u8, opcode)
		__field(u32, flags)
		__field(u64, src)
		__field(u64, dst)
		__field(u64, length)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->tag = tag;
		__entry->index = index;
		__entry->fence = fence;
		__entry->opcode = opcode;
		__entry->flags = flags;
		__entry->src = src;
		__entry->dst = dst;
		__entry->length = length;
	),
	TP_printk("dev=%d tag=%d index=%u fence=%llu op=%u flags=%#x src=%#llx dst=%#llx length=%#llx",
		  __entry->dev, __entry->tag, __entry->index, __entry->fence,
		  __entry->opcode, __entry->flags, __entry->src, __entry->dst,
		  __entry->length)
);

/* The submitter reaped the completion record of job @fence. */
TRACE_EVENT(hmmdev_job_complete,
	TP_PROTO(int dev, int tag, u64 fence, u32 status, u64 result, int ret),
	TP_ARGS(dev, tag, fence, status, result, ret),
	TP_STRUCT__entry(
		__field(int, dev)
		__field(int, tag)
		__field(u64, fence)
		__field(u32, status)
		__field(u64, result)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->tag = tag;
		__entry->fence = fence;
		__entry->status = status;
		__entry->result = result;
		__entry->ret = ret;
	),
	TP_printk("dev=%d tag=%d fence=%llu status=%u result=%#llx ret=%d",
		  __entry->dev, __entry->tag, __entry->fence, __entry->status,
		  __entry->result, __entry->ret)
);

/*
 * One phase of a migration chunk (enum hmmdev_mig_phase) in direction @dir
 * (enum hmmdev_mig_dir), from @begin to @end (ns).
 */
TRACE_EVENT(hmmdev_migrate_phase,
	TP_PROTO(int dev, int dir, int phase, u64 begin, u64 end),
	TP_ARGS(dev, dir, phase, begin, end),
	TP_STRUCT__entry(
		__field(int, dev)
		__field(int, dir)
		__field(int, phase)
		__field(u64, begin)
		__field(u64, end)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->dir = dir;
		__entry->phase = phase;
		__entry->begin = begin;
		__entry->end = end;
	),
	TP_printk("dev=%d dir=%s phase=%s begin=%llu end=%llu", __entry->dev,
		  __entry->dir == HMMDEV_MIG_TO_RAM ? "to_ram" : "to_dev",
		  __print_symbolic(__entry->phase,
				   { HMMDEV_MIG_SETUP, "setup" },
				   { HMMDEV_MIG_ALLOC, "alloc" },
				   { HMMDEV_MIG_COPY, "copy" },
				   { HMMDEV_MIG_PAGES, "pages" },
				   { HMMDEV_MIG_FINALIZE, "finalize" },
				   { HMMDEV_MIG_MAP, "map" }),
		  __entry->begin, __entry->end)
);

/*
 * A migration chunk [start, end) began at @begin (ns) and is over: @npages
 * collected, @moved moved; @cpu_fault: a CPU fault on a device page.
 */
TRACE_EVENT(hmmdev_migrate,
	TP_PROTO(int dev, int dir, u64 start, u64 end, u64 npages, u64 moved,
		 bool cpu_fault, u64 begin),
	TP_ARGS(dev, dir, start, end, npages, moved, cpu_fault, begin),
	TP_STRUCT__entry(
		__field(int, dev)
		__field(int, dir)
		__field(u64, start)
		__field(u64, end)
		__field(u64, npages)
		__field(u64, moved)
		__field(bool, cpu_fault)
		__field(u64, begin)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->dir = dir;
		__entry->start = start;
		__entry->end = end;
		__entry->npages = npages;
		__entry->moved = moved;
		__entry->cpu_fault = cpu_fault;
		__entry->begin = begin;
	),
	TP_printk("dev=%d dir=%s start=%#llx end=%#llx npages=%llu moved=%llu cpu_fault=%d begin=%llu",
		  __entry->dev, __entry->dir == HMMDEV_MIG_TO_RAM ? "to_ram" : "to_dev",
		  __entry->start, __entry->end, __entry->npages,
		  __entry->moved, __entry->cpu_fault, __entry->begin)
);

/* The device was declared failed; a recovery restarted it (or not). */
TRACE_EVENT(hmmdev_device_failed,
	TP_PROTO(int dev, const char *why),
	TP_ARGS(dev, why),
	TP_STRUCT__entry(
		__field(int, dev)
		__string(why, why)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__assign_str(why);
	),
	TP_printk("dev=%d why=\"%s\"", __entry->dev, __get_str(why))
);

TRACE_EVENT(hmmdev_recovery,
	TP_PROTO(int dev, bool ok, u64 begin),
	TP_ARGS(dev, ok, begin),
	TP_STRUCT__entry(
		__field(int, dev)
		__field(bool, ok)
		__field(u64, begin)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->ok = ok;
		__entry->begin = begin;
	),
	TP_printk("dev=%d ok=%d begin=%llu", __entry->dev, __entry->ok,
		  __entry->begin)
);

#endif /* _HMMDEV_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE hmmdev_trace
#include <trace/define_trace.h>
