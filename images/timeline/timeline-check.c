// SPDX-License-Identifier: GPL-2.0
/*
 * The causal chains of a merged timeline, and the checks of the scripted
 * scenarios (guest-tests/hmmdev-scenarios.c) on them.
 *
 * Links are found by what they carry, never by time: a fault by its id, a
 * job by its fence, a command by its ring index and arguments, a SYNC by
 * its fence value.  So the order of a chain's events on the merged time
 * axis tests the alignment: a device event placed before the driver's
 * doorbell that caused it, or a driver event before the device event it
 * saw, means the clocks are not aligned to within that gap.
 */
#include <stdlib.h>
#include <string.h>

#include "timeline.h"

const char *const chain_names[CHAIN_KINDS] = { "fault", "job", "invalidation" };

#define SEARCH 20000	/* events each way */

/* A matching event nearest to index @from (either way), or NULL. */
static const struct ev *near(const struct timeline *tl, const struct ev *from,
			     enum side side, const char *name, int dev,
			     const char *key, long long val)
{
	int i = from - tl->ev, d;

	for (d = 0; d <= SEARCH; d++) {
		int k;

		for (k = -1; k <= 1; k += 2) {
			int j = i + k * d;
			const struct ev *e = &tl->ev[j];

			if (j < 0 || j >= tl->n || (d == 0 && k == 1))
				continue;
			if (e->side == side && e->dev == dev && ev_is(e, name) &&
			    (!key || ev_num(e, key) == val))
				return e;
		}
	}
	return NULL;
}

/* The next event after @from on the same guest task, named @name. */
static const struct ev *next_on_task(const struct timeline *tl,
				     const struct ev *from, const char *name,
				     const struct ev *stop)
{
	const struct ev *e;

	for (e = from + 1; e < tl->ev + tl->n && e != stop; e++)
		if (e->side == GUEST && e->pid == from->pid && ev_is(e, name) &&
		    e->dev == from->dev)
			return e;
	return NULL;
}

static bool add(struct chain *c, const struct ev *e)
{
	if (!e || c->n == CHAIN_MAX)
		return false;
	c->e[c->n++] = e;
	return true;
}

static bool op_is(const struct ev *e, const char *op)
{
	const char *v = ev_get(e, "op");

	return v && !strcmp(v, op);
}

static void fault_chain(const struct timeline *tl, const struct ev *rec,
			struct chain *c)
{
	long long id = ev_num(rec, "id");
	const struct ev *e;

	c->kind = CHAIN_FAULT;
	c->complete = add(c, rec) &&
		add(c, e = near(tl, rec, GUEST, "fault_read", rec->dev, "dts",
				rec->raw)) &&
		add(c, near(tl, e, GUEST, "fault_service_start", rec->dev, "id", id)) &&
		add(c, e = near(tl, e, GUEST, "cmd_submit", rec->dev, "arg0", id)) &&
		op_is(e, "RESPOND") &&
		add(c, e = near(tl, rec, DEVICE, "command", rec->dev, "arg0", id)) &&
		ev_num(e, "opcode") == 3 &&
		add(c, near(tl, rec, DEVICE, "fault_answered", rec->dev, "id", id));
}

static void job_chain(const struct timeline *tl, const struct ev *sub,
		      struct chain *c)
{
	long long fence = ev_num(sub, "fence");

	c->kind = CHAIN_JOB;
	c->complete = add(c, sub) &&
		add(c, near(tl, sub, DEVICE, "job_start", sub->dev, "fence", fence)) &&
		add(c, near(tl, sub, DEVICE, "job_end", sub->dev, "fence", fence)) &&
		add(c, near(tl, sub, GUEST, "job_complete", sub->dev, "fence", fence));
}

/* A notifier that invalidated something: its INVALIDATE, SYNC, return. */
static bool notifier_chain(const struct timeline *tl, const struct ev *start,
			   struct chain *c)
{
	const struct ev *end = next_on_task(tl, start, "notifier_end", NULL);
	const struct ev *inv, *sync, *e;

	inv = next_on_task(tl, start, "cmd_submit", end);
	if (!end || !inv || !op_is(inv, "INVALIDATE"))
		return false;
	c->kind = CHAIN_NOTIFIER;
	sync = next_on_task(tl, inv, "cmd_submit", end);
	/* both are written before the one doorbell (hmmdev_invalidate()) */
	c->complete = add(c, start) && add(c, inv) &&
		add(c, sync) && op_is(sync, "SYNC") &&
		add(c, e = near(tl, inv, DEVICE, "command", start->dev, "index",
				ev_num(inv, "index"))) &&
		ev_num(e, "arg0") == ev_num(inv, "arg0") &&
		add(c, near(tl, sync, DEVICE, "sync", start->dev, "fence",
			    ev_num(sync, "arg1"))) &&
		add(c, next_on_task(tl, sync, "sync_done", end)) &&
		add(c, end);
	return true;
}

int build_chains(const struct timeline *tl, struct chain **out)
{
	struct chain *c = NULL;
	int n = 0, i;

	for (i = 0; i < tl->n; i++) {
		const struct ev *e = &tl->ev[i];
		struct chain ch = { 0 };

		if (e->side == DEVICE && ev_is(e, "fault"))
			fault_chain(tl, e, &ch);
		else if (e->side == GUEST && ev_is(e, "job_submit"))
			job_chain(tl, e, &ch);
		else if (!(e->side == GUEST && ev_is(e, "notifier_start") &&
			   notifier_chain(tl, e, &ch)))
			continue;
		c = realloc(c, (n + 1) * sizeof(*c));
		if (!c)
			abort();
		c[n++] = ch;
	}
	*out = c;
	return n;
}

/*
 * The alignment's own error (ns): a cause that lands after its effect on
 * the other side by less than this is within what the clocks can tell.
 */
static int64_t tolerance;

/*
 * Are the chain's events in order on the merged axis?  @margin: the
 * smallest gap between a cause and its effect on the other side (ns;
 * negative: an inversion within the tolerance).
 */
static bool in_order(const struct chain *c, int64_t *margin, int *bad)
{
	int i;

	*margin = INT64_MAX;
	for (i = 0; i + 1 < c->n; i++) {
		int64_t gap = c->e[i + 1]->t - c->e[i]->t;
		bool across = c->e[i]->side != c->e[i + 1]->side;

		if (across && gap < *margin)
			*margin = gap;
		if (across ? gap < -tolerance : gap < 0) {
			*bad = i;
			return false;
		}
	}
	return true;
}

static void describe(const struct chain *c, char *buf, size_t len)
{
	size_t off = 0;
	int i;

	for (i = 0; i < c->n && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s %s %+.1f us",
				i ? " -> " : "",
				c->e[i]->side == GUEST ? "driver" : "device",
				c->e[i]->name,
				(c->e[i]->t - c->e[0]->t) / 1000.0);
}

struct window { int64_t begin, end; bool found; };

static struct window scenario(const struct timeline *tl, const char *name)
{
	struct window w = { 0 };
	char begin[96], end[96];
	int i;

	snprintf(begin, sizeof(begin), "begin %s", name);
	snprintf(end, sizeof(end), "end %s", name);
	for (i = 0; i < tl->n; i++) {
		const struct ev *e = &tl->ev[i];

		if (!ev_is(e, "marker"))
			continue;
		if (!strcmp(e->text, begin)) {
			w.begin = e->t;
		} else if (!strcmp(e->text, end) && w.begin) {
			w.end = e->t;
			w.found = true;
		}
	}
	return w;
}

static bool within(const struct window *w, const struct ev *e)
{
	return e->t >= w->begin && e->t <= w->end;
}

static int tap_n;

static int result(FILE *out, bool ok, const char *fmt, const char *detail)
{
	fprintf(out, "%s %d %s%s%s\n", ok ? "ok" : "not ok", ++tap_n, fmt,
		*detail ? ": " : "", detail);
	return !ok;
}

/* The first complete chain of @kind in @w, in order; "" or why not. */
static const struct chain *first_chain(const struct chain *c, int n,
				       enum chain_kind kind,
				       const struct window *w,
				       bool (*want)(const struct chain *))
{
	int i;

	for (i = 0; i < n; i++)
		if (c[i].kind == kind && c[i].complete && within(w, c[i].e[0]) &&
		    (!want || want(&c[i])))
			return &c[i];
	return NULL;
}

static bool is_unmap(const struct chain *c)
{
	const char *ev = ev_get(c->e[0], "event");

	return ev && !strcmp(ev, "UNMAP") && ev_num(c->e[0], "own") == 0;
}

/* A device job running when @when happened (on the merged axis). */
static const struct chain *job_around(const struct chain *c, int n,
				      const struct ev *when)
{
	int i;

	for (i = 0; i < n; i++)
		if (c[i].kind == CHAIN_JOB && c[i].complete &&
		    c[i].e[1]->t < when->t && c[i].e[2]->t > when->t)
			return &c[i];
	return NULL;
}

/* The first migration in @w of direction @dir (CPU fault or not). */
static const struct ev *migration(const struct timeline *tl,
				  const struct window *w, const char *dir,
				  int cpu_fault)
{
	int i;

	for (i = 0; i < tl->n; i++) {
		const struct ev *e = &tl->ev[i];
		const char *d = ev_get(e, "dir");

		if (e->side == GUEST && ev_is(e, "migrate") && within(w, e) &&
		    d && !strcmp(d, dir) && ev_num(e, "moved") > 0 &&
		    ev_num(e, "cpu_fault") == cpu_fault)
			return e;
	}
	return NULL;
}

/* A complete, ordered job chain inside migration @m (its device copy). */
static const struct chain *copy_in(const struct chain *c, int n,
				   const struct ev *m)
{
	struct window w = { .begin = ev_num(m, "begin"), .end = m->t };
	int64_t margin;
	int i, bad;

	for (i = 0; i < n; i++)
		if (c[i].kind == CHAIN_JOB && c[i].complete &&
		    c[i].e[0]->dev == m->dev && within(&w, c[i].e[0]) &&
		    within(&w, c[i].e[3]) && in_order(&c[i], &margin, &bad))
			return &c[i];
	return NULL;
}

static int check_fault_once(const struct timeline *tl, const struct chain *c,
			    int n, FILE *out)
{
	struct window w = scenario(tl, "fault-once");
	const struct chain *f = first_chain(c, n, CHAIN_FAULT, &w, NULL), *j;
	char d[1024] = "", dj[512] = "";
	int64_t margin;
	int bad;
	bool ok;

	if (!w.found)
		return result(out, false, "fault-once", "no such scenario in the guest trace");
	if (!f)
		return result(out, false, "fault-once", "no complete fault chain (device record ... engine resumes) in it");
	describe(f, d, sizeof(d));
	ok = in_order(f, &margin, &bad);
	j = job_around(c, n, f->e[0]);
	if (j)
		describe(j, dj, sizeof(dj));
	ok = ok && j && in_order(j, &margin, &bad) && j->e[2]->t > f->e[f->n - 1]->t;
	snprintf(d + strlen(d), sizeof(d) - strlen(d), "; in the job: %s",
		 j ? dj : "(no device job around the fault)");
	return result(out, ok, "fault-once: the fault's chain in causal order across the boundary, inside its job", d);
}

static int check_munmap(const struct timeline *tl, const struct chain *c,
			int n, FILE *out)
{
	struct window w = scenario(tl, "munmap-under-job");
	const struct chain *v = first_chain(c, n, CHAIN_NOTIFIER, &w, is_unmap), *j;
	char d[1024] = "";
	int64_t margin;
	int bad;
	bool ok;

	if (!w.found)
		return result(out, false, "munmap-under-job", "no such scenario in the guest trace");
	if (!v)
		return result(out, false, "munmap-under-job", "no complete UNMAP notifier chain (notifier ... INVALIDATE ... SYNC ... return) in it");
	describe(v, d, sizeof(d));
	ok = in_order(v, &margin, &bad);
	j = job_around(c, n, v->e[0]);
	snprintf(d + strlen(d), sizeof(d) - strlen(d),
		 "; device job %lld runs from %+.1f to %+.1f us", j ? ev_num(j->e[0], "fence") : -1,
		 j ? (j->e[1]->t - v->e[0]->t) / 1000.0 : 0,
		 j ? (j->e[2]->t - v->e[0]->t) / 1000.0 : 0);
	return result(out, ok && j, "munmap-under-job: notifier -> INVALIDATE -> SYNC -> return in causal order, while a device job runs", d);
}

static int check_migrate(const struct timeline *tl, const struct chain *c,
			 int n, FILE *out)
{
	struct window w = scenario(tl, "migrate-back");
	const struct ev *to = migration(tl, &w, "to_dev", 0);
	const struct ev *back = migration(tl, &w, "to_ram", 1);
	const struct chain *cto = to ? copy_in(c, n, to) : NULL;
	const struct chain *cback = back ? copy_in(c, n, back) : NULL;
	char d[512];

	if (!w.found)
		return result(out, false, "migrate-back", "no such scenario in the guest trace");
	snprintf(d, sizeof(d), "to VRAM: %s (%lld pages, device copy %s), back by CPU fault: %s (%lld pages, device copy %s)",
		 to ? "yes" : "none", to ? ev_num(to, "moved") : 0,
		 cto ? "in order" : "none in order",
		 back ? "yes" : "none", back ? ev_num(back, "moved") : 0,
		 cback ? "in order" : "none in order");
	return result(out, cto && cback && to->t < back->t,
		      "migrate-back: a migration to VRAM and one back by CPU fault, each with its device copy inside, in causal order", d);
}

int check_scenarios(const struct timeline *tl, FILE *out, double max_err_us)
{
	struct chain *c;
	int n = build_chains(tl, &c), i, failed = 0, count[CHAIN_KINDS] = { 0 };
	int incomplete = 0, disorder = 0, close = 0, bad;
	int64_t margin, closest = INT64_MAX;
	char d[1024] = "";

	tolerance = tl->err_us * 1000;
	fprintf(out, "1..5\n");
	snprintf(d, sizeof(d), "%.1f us (goal < %.0f): %d clock pairs, half read window %.1f us, leave-one-out residual %.1f us%s",
		 tl->err_us, max_err_us, tl->npairs, tl->err_half_us,
		 tl->err_loo_us, tl->clock_mismatch ? "; NOT on trace_clock mono" : "");
	failed += result(out, tl->err_us < max_err_us && !tl->clock_mismatch,
			 "clock alignment error", d);
	failed += check_fault_once(tl, c, n, out);
	failed += check_munmap(tl, c, n, out);
	failed += check_migrate(tl, c, n, out);
	d[0] = '\0';
	for (i = 0; i < n; i++) {
		if (!c[i].complete) {
			incomplete++;
			continue;
		}
		count[c[i].kind]++;
		if (!in_order(&c[i], &margin, &bad)) {
			if (!disorder++)
				describe(&c[i], d, sizeof(d));
		} else {
			close += margin <= 0;
			if (margin < closest)
				closest = margin;
		}
	}
	{
		char all[1400];

		snprintf(all, sizeof(all), "%d fault, %d job, %d invalidation chains; %d incomplete (their other end outside the trace); %d out of order by more than the alignment error (%.1f us), %d within it; closest cause-to-effect across the boundary %.1f us%s%s",
			 count[CHAIN_FAULT], count[CHAIN_JOB], count[CHAIN_NOTIFIER],
			 incomplete, disorder, tolerance / 1000.0, close,
			 closest == INT64_MAX ? 0 : closest / 1000.0,
			 disorder ? "; first: " : "", d);
		failed += result(out, !disorder && count[CHAIN_JOB],
				 "every chain of the whole trace in causal order", all);
	}
	free(c);
	return failed;
}
