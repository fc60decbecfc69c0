/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmmdev-timeline: one protocol timeline from the driver's tracepoints (the
 * guest's ftrace text, guest-driver/hmmdev_trace.h) and the device's trace
 * events (QEMU's log, qemu-device/trace-events), on the guest's clock.
 *
 *   timeline.c        reading both sides, the clock alignment, main()
 *   timeline-out.c    Chrome/Perfetto trace JSON and the text rendering
 *   timeline-check.c  the causality checks of the scripted scenarios (TAP)
 */
#ifndef HMMDEV_TIMELINE_H
#define HMMDEV_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum side { GUEST, DEVICE };

#define MAX_FIELDS 12

struct field {
	const char *key;
	const char *val;
};

/* One event of either side. */
struct ev {
	enum side side;
	int64_t t;		/* ns on the guest's clock (device: aligned) */
	int64_t raw;		/* ns on its own clock */
	const char *name;	/* without "hmmdev_"; a marker: "marker" */
	int dev;		/* device index (guest numbering), -1: none */
	int pid;		/* guest: task; device: its track (TRACK_*) */
	int cpu;		/* guest: CPU */
	const char *task;	/* guest: "comm-pid"; device: the QOM id */
	const char *text;	/* the fields as traced, or the marker's text */
	int nfields;
	struct field f[MAX_FIELDS];
};

/* Device tracks (struct ev.pid of device events). */
#define TRACK_ENGINE	0	/* + engine number */
#define TRACK_CMDQ	100
#define TRACK_FAULTQ	101
#define TRACK_IRQ	102
#define TRACK_OTHER	103

struct timeline {
	struct ev *ev;		/* sorted by t once aligned */
	int n, cap;
	int ndevs;
	char devname[16][32];	/* guest device index -> QOM id */
	/* the alignment: device time d -> guest time d - offset(d) */
	int npairs;
	int64_t *pair_dev, *pair_off, *pair_half;
	double err_half_us, err_loo_us, err_us;
	int dropped_pairs;
	int trimmed;		/* device events outside the guest's trace */
	bool clock_mismatch;	/* the pairs' own trace times disagree */
};

const char *ev_get(const struct ev *e, const char *key);
bool ev_is(const struct ev *e, const char *name);
long long ev_num(const struct ev *e, const char *key);	/* -1: missing */

/*
 * A causal chain across the boundary, in the order its events must have
 * happened: a fault (device record, driver read, service, RESPOND written,
 * device RESPOND, engine resumes), a job (submitted, started, ended,
 * reaped), an invalidation (notifier, INVALIDATE written, device
 * and SYNC written, device INVALIDATE, device SYNC, fence seen, notifier
 * returns).
 */
#define CHAIN_MAX 10
enum chain_kind { CHAIN_FAULT, CHAIN_JOB, CHAIN_NOTIFIER, CHAIN_KINDS };
struct chain {
	enum chain_kind kind;
	bool complete;		/* every link found */
	int n;
	const struct ev *e[CHAIN_MAX];
};

/* timeline-check.c */
int build_chains(const struct timeline *tl, struct chain **out);
extern const char *const chain_names[CHAIN_KINDS];

/* timeline-out.c */
void write_json(const struct timeline *tl, FILE *out);
void write_text(const struct timeline *tl, FILE *out);

/* timeline-check.c: TAP on @out; returns the number of failed checks */
int check_scenarios(const struct timeline *tl, FILE *out, double max_err_us);

#endif
