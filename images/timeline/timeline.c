// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev-timeline: read the guest's ftrace text and QEMU's trace log, put
 * the device's events on the guest's clock, write the merged timeline.
 *
 *   hmmdev-timeline --guest TRACE --device QEMU_LOG [--json OUT]
 *                   [--text OUT] [--check] [--max-error US]
 *
 * The guest's trace must use trace_clock "mono" (run-vm.sh --timeline sets
 * it): the driver's clock pairs (hmmdev_clock_pair: CLOCK_MONOTONIC before
 * and after one read of the device's TIMESTAMP) are on that clock.  A pair
 * says: the device clock read @device somewhere in [before, after], so its
 * offset is device - (before + after) / 2, to within half the window.
 * Between pairs the offset is interpolated linearly; the alignment error
 * reported is the largest half window plus the largest leave-one-out
 * residual (how far a pair lies from the line through its neighbours: the
 * clocks' drift that interpolation does not follow, and the noise).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "timeline.h"

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		perror("hmmdev-timeline");
		exit(2);
	}
	return p;
}

const char *ev_get(const struct ev *e, const char *key)
{
	int i;

	for (i = 0; i < e->nfields; i++)
		if (!strcmp(e->f[i].key, key))
			return e->f[i].val;
	return NULL;
}

bool ev_is(const struct ev *e, const char *name)
{
	return !strcmp(e->name, name);
}

long long ev_num(const struct ev *e, const char *key)
{
	const char *v = ev_get(e, key);

	return v ? strtoll(v, NULL, 0) : -1;
}

/* "key=value key=\"a b\" ..." -> e->f (in place: @s is the event's own) */
static void parse_fields(struct ev *e, char *s)
{
	e->text = strdup(s);
	while (*s && e->nfields < MAX_FIELDS) {
		char *eq, *end;

		while (*s == ' ')
			s++;
		eq = strchr(s, '=');
		if (!eq)
			break;
		*eq = '\0';
		e->f[e->nfields].key = s;
		s = eq + 1;
		if (*s == '"') {
			end = strchr(++s, '"');
		} else {
			end = strchr(s, ' ');
		}
		e->f[e->nfields++].val = s;
		if (!end)
			break;
		*end = '\0';
		s = end + 1;
		if (*s == ' ')
			s++;
	}
}

static struct ev *new_ev(struct timeline *tl)
{
	if (tl->n == tl->cap) {
		tl->cap = tl->cap ? 2 * tl->cap : 4096;
		tl->ev = xrealloc(tl->ev, tl->cap * sizeof(*tl->ev));
	}
	memset(&tl->ev[tl->n], 0, sizeof(tl->ev[0]));
	tl->ev[tl->n].dev = -1;
	return &tl->ev[tl->n++];
}

/*
 * One line of the guest's trace: "comm-pid [cpu] flags secs.usecs: event:
 * fields".  Only hmmdev events and our markers are kept.
 */
static void parse_guest_line(struct timeline *tl, char *line)
{
	char *br = strstr(line, " ["), *p, *name, *colon, *dash;
	unsigned long sec, usec;
	struct ev *e;
	int cpu;

	if (line[0] == '#' || !br || sscanf(br, " [%d]", &cpu) != 1)
		return;
	*br = '\0';
	p = strchr(br + 1, ']') + 1;
	/* the timestamp, after the irq-info flags column if there is one */
	for (;;) {
		char c;

		while (*p == ' ')
			p++;
		if (!*p)
			return;
		if (sscanf(p, "%lu.%lu%c", &sec, &usec, &c) == 3 && c == ':')
			break;
		p += strcspn(p, " ");
	}
	name = strchr(p, ' ');
	if (!name)
		return;
	name++;
	colon = strchr(name, ':');
	if (!colon)
		return;
	*colon = '\0';
	p = colon + 1;
	while (*p == ' ')
		p++;
	if (!strcmp(name, "tracing_mark_write")) {
		if (strncmp(p, "hmmdev-timeline: ", 17))
			return;
		name = "marker";
		p += 17;
	} else if (!strncmp(name, "hmmdev_", 7)) {
		name += 7;
	} else {
		return;
	}
	e = new_ev(tl);
	e->side = GUEST;
	e->raw = (int64_t)sec * 1000000000 + (int64_t)usec * 1000;
	e->cpu = cpu;
	e->name = strdup(name);
	while (*line == ' ')
		line++;
	for (dash = line + strlen(line); dash > line && dash[-1] == ' '; dash--)
		dash[-1] = '\0';	/* the column's padding */
	e->task = strdup(line);
	dash = strrchr(line, '-');
	e->pid = dash ? atoi(dash + 1) : 0;
	if (!strcmp(name, "marker")) {
		p[strcspn(p, "\r\n")] = '\0';
		e->text = strdup(p);
		return;
	}
	p[strcspn(p, "\r\n")] = '\0';
	parse_fields(e, strdup(p));
	e->dev = ev_num(e, "dev");
}

/* The device track an event belongs on. */
static int device_track(const struct ev *e)
{
	if (ev_is(e, "job_start") || ev_is(e, "job_end") ||
	    ev_is(e, "job_dropped") || ev_is(e, "fault_answered"))
		return TRACK_ENGINE + ev_num(e, "engine");
	if (ev_is(e, "fault"))
		return TRACK_FAULTQ;
	if (ev_is(e, "command") || ev_is(e, "sync") ||
	    ev_is(e, "sync_dropped") || ev_is(e, "atc_invalidate"))
		return TRACK_CMDQ;
	if (ev_is(e, "irq"))
		return TRACK_IRQ;
	return TRACK_OTHER;
}

/* One line of QEMU's log: "hmmdev_NAME dev=ID ts=NS ..."; others skipped. */
static void parse_device_line(struct timeline *tl, char *line)
{
	char *p = strstr(line, "hmmdev_"), *sp;
	struct ev *e;
	const char *ts;

	if (!p || (p != line && p[-1] != ':') || !strstr(p, " ts="))
		return;
	sp = strchr(p, ' ');
	*sp = '\0';
	e = new_ev(tl);
	e->side = DEVICE;
	e->name = strdup(p + 7);
	p = sp + 1;
	p[strcspn(p, "\r\n")] = '\0';
	parse_fields(e, strdup(p));
	ts = ev_get(e, "ts");
	e->raw = ts ? strtoll(ts, NULL, 10) : 0;
	e->task = ev_get(e, "dev") ? ev_get(e, "dev") : "hmmdev";
	e->pid = device_track(e);
}

static int read_file(struct timeline *tl, const char *path, bool guest)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t len = 0;

	if (!f) {
		fprintf(stderr, "hmmdev-timeline: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (getline(&line, &len, f) > 0) {
		if (guest)
			parse_guest_line(tl, line);
		else
			parse_device_line(tl, line);
	}
	free(line);
	fclose(f);
	return 0;
}

/*
 * Guest device index -> QOM id: the device traces each TIMESTAMP read
 * (hmmdev_timestamp) with the value it returned, which the guest's pair
 * names.
 */
static void map_devices(struct timeline *tl)
{
	int i, j, k;

	for (i = 0; i < tl->n; i++) {
		struct ev *g = &tl->ev[i];

		if (g->side != GUEST || !ev_is(g, "clock_pair") || g->dev < 0 ||
		    g->dev >= 16 || tl->devname[g->dev][0])
			continue;
		for (j = 0; j < tl->n; j++) {
			struct ev *d = &tl->ev[j];

			if (d->side == DEVICE && ev_is(d, "timestamp") &&
			    d->raw == ev_num(g, "device")) {
				snprintf(tl->devname[g->dev], 32, "%s", d->task);
				break;
			}
		}
	}
	for (i = 0; i < tl->n; i++) {
		struct ev *d = &tl->ev[i];

		if (d->side != DEVICE)
			continue;
		for (k = 0; k < 16 && tl->devname[k][0]; k++)
			if (!strcmp(tl->devname[k], d->task))
				break;
		if (k < 16 && !tl->devname[k][0])	/* never paired */
			snprintf(tl->devname[k], 32, "%s", d->task);
		d->dev = k < 16 ? k : -1;
		if (k + 1 > tl->ndevs)
			tl->ndevs = k + 1;
	}
	for (k = 0; k < 16; k++)
		if (tl->devname[k][0] && k + 1 > tl->ndevs)
			tl->ndevs = k + 1;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* the offset at device time @d: linear between the pairs around it */
static int64_t offset_at(const struct timeline *tl, int64_t d)
{
	int lo = 0, hi = tl->npairs - 1, mid;
	double frac;

	if (d <= tl->pair_dev[0])
		return tl->pair_off[0];
	if (d >= tl->pair_dev[hi])
		return tl->pair_off[hi];
	while (hi - lo > 1) {
		mid = (lo + hi) / 2;
		if (tl->pair_dev[mid] <= d)
			lo = mid;
		else
			hi = mid;
	}
	frac = (double)(d - tl->pair_dev[lo]) /
	       (double)(tl->pair_dev[hi] - tl->pair_dev[lo]);
	return tl->pair_off[lo] + (int64_t)(frac * (tl->pair_off[hi] - tl->pair_off[lo]));
}

struct pair { int64_t dev, off, half; };

static int cmp_pair(const void *a, const void *b)
{
	return cmp_i64(&((const struct pair *)a)->dev, &((const struct pair *)b)->dev);
}

/* Pairs -> the offset function and its error; false without pairs. */
static bool align(struct timeline *tl)
{
	struct pair *p = NULL;
	int64_t *halves, narrow, limit;
	int n = 0, i, kept = 0, late = 0;
	double loo = 0, half = 0;

	for (i = 0; i < tl->n; i++) {
		struct ev *e = &tl->ev[i];
		long long before = ev_num(e, "before"), after = ev_num(e, "after");

		if (e->side != GUEST || !ev_is(e, "clock_pair") || after < before)
			continue;
		p = xrealloc(p, (n + 1) * sizeof(*p));
		p[n].dev = ev_num(e, "device");
		p[n].off = p[n].dev - (before + after) / 2;
		p[n].half = (after - before + 1) / 2;
		/* the event's own time is on the trace clock: "mono"? */
		if (llabs(e->raw - after) > 1000000)
			late++;
		n++;
	}
	if (!n)
		return false;
	tl->clock_mismatch = late > n / 2;
	/*
	 * Under TCG most reads take a few us and some ten times as long (the
	 * vCPU waited for a lock or lost its host CPU): a wide pair says
	 * little, so only the narrow ones are used -- up to 3 times the
	 * 10th percentile of the half windows, or 5 us.
	 */
	halves = xrealloc(NULL, n * sizeof(*halves));
	for (i = 0; i < n; i++)
		halves[i] = p[i].half;
	qsort(halves, n, sizeof(*halves), cmp_i64);
	narrow = halves[n / 10];
	free(halves);
	limit = narrow * 3 > 5000 ? narrow * 3 : 5000;
	for (i = 0; i < n; i++)
		if (p[i].half <= limit)
			p[kept++] = p[i];
	tl->dropped_pairs = n - kept;
	qsort(p, kept, sizeof(*p), cmp_pair);
	tl->npairs = kept;
	tl->pair_dev = xrealloc(NULL, kept * sizeof(int64_t));
	tl->pair_off = xrealloc(NULL, kept * sizeof(int64_t));
	tl->pair_half = xrealloc(NULL, kept * sizeof(int64_t));
	for (i = 0; i < kept; i++) {
		tl->pair_dev[i] = p[i].dev;
		tl->pair_off[i] = p[i].off;
		tl->pair_half[i] = p[i].half;
		if (p[i].half / 1000.0 > half)
			half = p[i].half / 1000.0;
	}
	for (i = 1; i + 1 < kept; i++) {
		double frac, pred, r;

		if (p[i + 1].dev == p[i - 1].dev)
			continue;
		frac = (double)(p[i].dev - p[i - 1].dev) /
		       (double)(p[i + 1].dev - p[i - 1].dev);
		pred = p[i - 1].off + frac * (double)(p[i + 1].off - p[i - 1].off);
		r = (pred > p[i].off ? pred - p[i].off : p[i].off - pred) / 1000.0;
		if (r > loo)
			loo = r;
	}
	free(p);
	tl->err_half_us = half;
	tl->err_loo_us = loo;
	tl->err_us = half + loo;
	return true;
}

static int cmp_ev(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->side - y->side;
}

/*
 * The device traced from QEMU's start (its resets at time 0, the guest's
 * boot and probe); the guest only while its tracing was on.  What the
 * device did outside the guest's trace is left out.
 */
static void trim(struct timeline *tl)
{
	int64_t first = INT64_MAX, last = INT64_MIN;
	int i, k = 0;

	for (i = 0; i < tl->n; i++) {
		if (tl->ev[i].side != GUEST)
			continue;
		if (tl->ev[i].t < first)
			first = tl->ev[i].t;
		if (tl->ev[i].t > last)
			last = tl->ev[i].t;
	}
	for (i = 0; i < tl->n; i++)
		if (tl->ev[i].side == GUEST ||
		    (tl->ev[i].t >= first && tl->ev[i].t <= last))
			tl->ev[k++] = tl->ev[i];
	tl->trimmed = tl->n - k;
	tl->n = k;
}

static void usage(void)
{
	fprintf(stderr, "usage: hmmdev-timeline --guest TRACE --device QEMU_LOG [--json OUT] [--text OUT] [--check] [--max-error US]\n");
	exit(2);
}

static FILE *open_out(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;

	if (!f) {
		fprintf(stderr, "hmmdev-timeline: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	return f;
}

int main(int argc, char **argv)
{
	const char *guest = NULL, *device = NULL, *json = NULL, *text = NULL;
	struct timeline tl = { 0 };
	double max_err = 50;
	bool check = false;
	int i, nguest = 0, failed = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--guest") && i + 1 < argc)
			guest = argv[++i];
		else if (!strcmp(argv[i], "--device") && i + 1 < argc)
			device = argv[++i];
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json = argv[++i];
		else if (!strcmp(argv[i], "--text") && i + 1 < argc)
			text = argv[++i];
		else if (!strcmp(argv[i], "--max-error") && i + 1 < argc)
			max_err = atof(argv[++i]);
		else if (!strcmp(argv[i], "--check"))
			check = true;
		else
			usage();
	}
	if (!guest || !device)
		usage();
	if (read_file(&tl, guest, true) || read_file(&tl, device, false))
		return 2;
	map_devices(&tl);
	if (!align(&tl)) {
		fprintf(stderr, "hmmdev-timeline: no hmmdev_clock_pair event in %s: cannot align the clocks\n",
			guest);
		return 2;
	}
	for (i = 0; i < tl.n; i++) {
		struct ev *e = &tl.ev[i];

		e->t = e->side == GUEST ? e->raw : e->raw - offset_at(&tl, e->raw);
		nguest += e->side == GUEST;
	}
	qsort(tl.ev, tl.n, sizeof(*tl.ev), cmp_ev);
	trim(&tl);
	fprintf(stderr, "hmmdev-timeline: %d driver events, %d device events (%d more outside the guest's trace), %d device(s); %d clock pairs (%d left out), alignment error %.1f us (half read window %.1f + leave-one-out residual %.1f)%s\n",
		nguest, tl.n - nguest, tl.trimmed, tl.ndevs, tl.npairs, tl.dropped_pairs,
		tl.err_us, tl.err_half_us, tl.err_loo_us,
		tl.clock_mismatch ? "; the guest trace is not on trace_clock mono: times are wrong" : "");
	if (json) {
		FILE *f = open_out(json);

		write_json(&tl, f);
		if (f != stdout)
			fclose(f);
	}
	if (text) {
		FILE *f = open_out(text);

		write_text(&tl, f);
		if (f != stdout)
			fclose(f);
	}
	if (check)
		failed = check_scenarios(&tl, stdout, max_err);
	return failed ? 1 : 0;
}
