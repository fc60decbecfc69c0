// SPDX-License-Identifier: GPL-2.0
/*
 * The merged timeline as Chrome/Perfetto trace JSON (the "Trace Event
 * Format": complete events "X", instants "i", flows "s"/"t"/"f", metadata
 * "M"; times in us) and as text for a terminal.
 *
 * Tracks: the guest is one process with a thread per task that ran driver
 * code (vCPUs in system calls and faults, the fault work, ...); each device
 * is a process with a thread per engine, the command queue, the fault
 * queue and its interrupts.  Flows follow the causal chains
 * (timeline-check.c).
 */
#include <stdlib.h>
#include <string.h>

#include "timeline.h"

#define GUEST_PID	1
#define DEVICE_PID(d)	(10 + (d))
#define POINT_US	1.0	/* the width of a slice for a point event */

static int64_t t0;

static double us(int64_t t)
{
	return (t - t0) / 1000.0;
}

static int pid_of(const struct ev *e)
{
	return e->side == GUEST ? GUEST_PID : DEVICE_PID(e->dev < 0 ? 15 : e->dev);
}

static int tid_of(const struct ev *e)
{
	return e->side == GUEST ? e->pid : e->pid + 1;
}

/* A JSON string: the characters a trace can hold, escaped. */
static void jstr(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(out, "\\u%04x", *s);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static bool first;

static void sep(FILE *out)
{
	fputs(first ? "\n" : ",\n", out);
	first = false;
}

static void slice(FILE *out, const struct ev *e, const char *name,
		  int64_t begin, int64_t end)
{
	double dur = (end - begin) / 1000.0;

	sep(out);
	fprintf(out, "{\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f,\"name\":",
		pid_of(e), tid_of(e), us(begin), dur > 0 ? dur : POINT_US);
	jstr(out, name);
	fprintf(out, ",\"cat\":\"%s\",\"args\":{\"fields\":",
		e->side == GUEST ? "driver" : "device");
	jstr(out, e->text ? e->text : "");
	/* which vCPU ran it */
	if (e->side == GUEST)
		fprintf(out, ",\"cpu\":%d", e->cpu);
	fputs("}}", out);
}

/* The end event of a begin/end pair: the next @name on the same track. */
static const struct ev *end_of(const struct timeline *tl, const struct ev *b,
			       const char *name, const char *key)
{
	const struct ev *e;

	for (e = b + 1; e < tl->ev + tl->n; e++)
		if (e->side == b->side && e->dev == b->dev && e->pid == b->pid &&
		    ev_is(e, name) && (!key || ev_num(e, key) == ev_num(b, key)))
			return e;
	return NULL;
}

/* A device command's slice ends where the cq thread finished it. */
static int64_t command_end(const struct timeline *tl, const struct ev *c)
{
	const struct ev *e;

	for (e = c + 1; e < tl->ev + tl->n; e++) {
		if (e->side != DEVICE || e->dev != c->dev || e->pid != TRACK_CMDQ)
			continue;
		if (ev_is(e, "command"))
			break;
		if (ev_is(e, "sync") || ev_is(e, "atc_invalidate") ||
		    ev_is(e, "sync_dropped"))
			return e->t;
	}
	return c->t;
}

static const char *const cmd_names[] = { "?", "INVALIDATE", "SYNC", "RESPOND" };

static void event_slice(FILE *out, const struct timeline *tl, const struct ev *e)
{
	char name[160];
	const struct ev *end;

	if (e->side == DEVICE) {
		if (ev_is(e, "job_start")) {
			end = end_of(tl, e, "job_end", "fence");
			snprintf(name, sizeof(name), "job %lld (op %lld)",
				 ev_num(e, "fence"), ev_num(e, "opcode"));
			slice(out, e, name, e->t, end ? end->t : e->t);
		} else if (ev_is(e, "fault")) {
			snprintf(name, sizeof(name), "fault record %s va %s",
				 ev_get(e, "id"), ev_get(e, "va"));
			slice(out, e, name, e->t, e->t);
			/* and the stall, on the engine's track */
			for (end = e + 1; end < tl->ev + tl->n; end++)
				if (end->side == DEVICE && end->dev == e->dev &&
				    ev_is(end, "fault_answered") &&
				    ev_num(end, "id") == ev_num(e, "id"))
					break;
			if (end < tl->ev + tl->n) {
				snprintf(name, sizeof(name), "stalled on fault %s", ev_get(e, "id"));
				slice(out, end, name, e->t, end->t);
			}
		} else if (ev_is(e, "fault_answered")) {
			snprintf(name, sizeof(name), "resume after %s (%s)", ev_get(e, "id"),
				 ev_num(e, "response") == 1 ? "RETRY" : "ABORT");
			slice(out, e, name, e->t, e->t);
		} else if (ev_is(e, "command")) {
			long long op = ev_num(e, "opcode");

			snprintf(name, sizeof(name), "%s", cmd_names[op >= 1 && op <= 3 ? op : 0]);
			slice(out, e, name, e->t, command_end(tl, e));
		} else if (ev_is(e, "irq")) {
			snprintf(name, sizeof(name), "MSI-X vector %s", ev_get(e, "vector"));
			slice(out, e, name, e->t, e->t);
		} else if (ev_is(e, "device_error") || ev_is(e, "reset") ||
			   ev_is(e, "sync_dropped") || ev_is(e, "job_dropped")) {
			slice(out, e, e->name, e->t, e->t);
		}
		return;
	}
	if (ev_is(e, "fault_service_start")) {
		end = end_of(tl, e, "fault_service_end", "id");
		snprintf(name, sizeof(name), "fault service %s", ev_get(e, "id"));
		slice(out, e, name, e->t, end ? end->t : e->t);
	} else if (ev_is(e, "notifier_start")) {
		end = end_of(tl, e, "notifier_end", NULL);
		snprintf(name, sizeof(name), "notifier %s", ev_get(e, "event"));
		slice(out, e, name, e->t, end ? end->t : e->t);
	} else if (ev_is(e, "cmd_submit")) {
		snprintf(name, sizeof(name), "%s written", ev_get(e, "op"));
		slice(out, e, name, e->t, e->t);
	} else if (ev_is(e, "sync_done")) {
		slice(out, e, "SYNC done", e->t, e->t);
	} else if (ev_is(e, "fault_read")) {
		snprintf(name, sizeof(name), "fault %s read", ev_get(e, "id"));
		slice(out, e, name, e->t, e->t);
	} else if (ev_is(e, "job_submit")) {
		snprintf(name, sizeof(name), "job %s submitted", ev_get(e, "fence"));
		slice(out, e, name, e->t, e->t);
	} else if (ev_is(e, "job_complete")) {
		snprintf(name, sizeof(name), "job %s reaped (status %s)",
			 ev_get(e, "fence"), ev_get(e, "status"));
		slice(out, e, name, e->t, e->t);
	} else if (ev_is(e, "migrate")) {
		snprintf(name, sizeof(name), "migrate %s: %lld of %lld pages%s",
			 ev_get(e, "dir"), ev_num(e, "moved"), ev_num(e, "npages"),
			 ev_num(e, "cpu_fault") == 1 ? " (CPU fault)" : "");
		slice(out, e, name, ev_num(e, "begin"), e->t);
	} else if (ev_is(e, "migrate_phase")) {
		snprintf(name, sizeof(name), "%s", ev_get(e, "phase"));
		slice(out, e, name, ev_num(e, "begin"), ev_num(e, "end"));
	} else if (ev_is(e, "recovery")) {
		slice(out, e, "recovery", ev_num(e, "begin"), e->t);
	} else if (ev_is(e, "device_failed")) {
		slice(out, e, "device failed", e->t, e->t);
	} else if (ev_is(e, "marker")) {
		sep(out);
		fprintf(out, "{\"ph\":\"i\",\"s\":\"g\",\"pid\":%d,\"tid\":%d,\"ts\":%.3f,\"name\":",
			GUEST_PID, e->pid, us(e->t));
		jstr(out, e->text);
		fputs("}", out);
	}
}

static void flows(FILE *out, const struct timeline *tl)
{
	struct chain *c;
	int n = build_chains(tl, &c), i, k;

	for (i = 0; i < n; i++) {
		for (k = 0; k < c[i].n && c[i].n > 1; k++) {
			const struct ev *e = c[i].e[k];
			const char *ph = !k ? "s" : k + 1 == c[i].n ? "f" : "t";
			int64_t t = e->t;

			/* a flow binds to the slice around its time */
			if (ev_is(e, "migrate"))
				t = ev_num(e, "begin");
			sep(out);
			fprintf(out, "{\"ph\":\"%s\",\"id\":%d,\"pid\":%d,\"tid\":%d,\"ts\":%.3f,\"name\":\"%s\",\"cat\":\"%s\"%s}",
				ph, i + 1, pid_of(e), tid_of(e), us(t),
				chain_names[c[i].kind], chain_names[c[i].kind],
				*ph == 'f' ? ",\"bp\":\"e\"" : "");
		}
	}
	free(c);
}

static void meta(FILE *out, const char *what, int pid, int tid, const char *name)
{
	sep(out);
	fprintf(out, "{\"ph\":\"M\",\"name\":\"%s\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":",
		what, pid, tid);
	jstr(out, name);
	fputs("}}", out);
}

static void tracks(FILE *out, const struct timeline *tl)
{
	struct { enum side side; int dev, pid; } seen[256];
	int nseen = 0, i, j;
	char name[64];

	meta(out, "process_name", GUEST_PID, 0, "guest: hmmdev.ko");
	for (i = 0; i < tl->n; i++) {
		const struct ev *e = &tl->ev[i];

		/* the first event of each track names it */
		for (j = 0; j < nseen; j++)
			if (seen[j].side == e->side && seen[j].dev == e->dev &&
			    seen[j].pid == e->pid)
				break;
		if (j < nseen || nseen == 256)
			continue;
		seen[nseen].side = e->side;
		seen[nseen].dev = e->dev;
		seen[nseen++].pid = e->pid;
		if (e->side == GUEST) {
			meta(out, "thread_name", GUEST_PID, e->pid, e->task);
			continue;
		}
		if (e->pid == TRACK_CMDQ)
			snprintf(name, sizeof(name), "command queue");
		else if (e->pid == TRACK_FAULTQ)
			snprintf(name, sizeof(name), "fault queue");
		else if (e->pid == TRACK_IRQ)
			snprintf(name, sizeof(name), "MSI-X");
		else if (e->pid == TRACK_OTHER)
			snprintf(name, sizeof(name), "registers, reset");
		else
			snprintf(name, sizeof(name), "engine %d", e->pid - TRACK_ENGINE);
		meta(out, "thread_name", pid_of(e), tid_of(e), name);
		snprintf(name, sizeof(name), "device %s", e->task);
		meta(out, "process_name", pid_of(e), 0, name);
	}
}

void write_json(const struct timeline *tl, FILE *out)
{
	int i;

	t0 = tl->n ? tl->ev[0].t : 0;
	first = true;
	fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", out);
	tracks(out, tl);
	for (i = 0; i < tl->n; i++)
		event_slice(out, tl, &tl->ev[i]);
	flows(out, tl);
	fprintf(out, "\n],\"otherData\":{\"tool\":\"hmmdev-timeline\",\"clock\":\"guest CLOCK_MONOTONIC, ns from the first event\",\"clock_pairs\":%d,\"alignment_error_us\":%.1f,\"half_read_window_us\":%.1f,\"leave_one_out_us\":%.1f}}\n",
		tl->npairs, tl->err_us, tl->err_half_us, tl->err_loo_us);
}

void write_text(const struct timeline *tl, FILE *out)
{
	int i;

	t0 = tl->n ? tl->ev[0].t : 0;
	fprintf(out, "# hmmdev timeline: guest CLOCK_MONOTONIC, us from the first event; device events aligned to it (error %.1f us, %d clock pairs)\n",
		tl->err_us, tl->npairs);
	fprintf(out, "# %12s  %-6s %-22s %-20s %s\n", "us", "side", "track", "event", "fields");
	for (i = 0; i < tl->n; i++) {
		const struct ev *e = &tl->ev[i];
		char track[48];

		if (ev_is(e, "timestamp") || ev_is(e, "clock_pair"))
			continue;
		if (ev_is(e, "marker")) {
			fprintf(out, "%14.3f  ---- %s ----\n", us(e->t), e->text);
			continue;
		}
		if (e->side == GUEST)
			snprintf(track, sizeof(track), "%s cpu%d", e->task, e->cpu);
		else if (e->pid < TRACK_CMDQ)
			snprintf(track, sizeof(track), "%s engine %d", e->task, e->pid);
		else
			snprintf(track, sizeof(track), "%s %s", e->task,
				 e->pid == TRACK_CMDQ ? "cmdq" : e->pid == TRACK_FAULTQ ?
				 "faultq" : e->pid == TRACK_IRQ ? "msix" : "regs");
		fprintf(out, "%14.3f  %-6s %-22.22s %-20s %s\n", us(e->t),
			e->side == GUEST ? "driver" : "device", track, e->name,
			e->text ? e->text : "");
	}
}
