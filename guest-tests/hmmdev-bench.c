// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev-bench: mirror read bandwidth and migration bandwidth through the
 * test_hmm uapi (so the same program measures hmmdev and the kernel's
 * test_hmm in the same VM), and, on hmmdev, the device fault round trip
 * with fault-around on and off.
 * Results are "# bench:" lines; the data read is verified ("ok" lines).
 *
 *   hmmdev-bench LABEL [--faults | --cold N | --warm N | --round]
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hmmdev_test_util.h"
#include <lib/test_hmm_uapi.h>	/* the kernel source tree's, as hmm-tests */

#define SIZE		(64ul << 20)
#define JOB_SIZE	(16ul << 20)

static double mirror_read(int fd, void *buf, void *out, uint64_t *faults,
			  bool *ok)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)buf, .ptr = (uintptr_t)out,
		.npages = SIZE / 4096,
	};
	double t0 = now_s(), t;

	*ok = ioctl(fd, HMM_DMIRROR_READ, &cmd) == 0 &&
	      cmd.cpages == SIZE / 4096;
	t = now_s() - t0;
	*ok = *ok && first_mismatch(buf, out, SIZE) < 0;
	*faults = cmd.faults;
	return t;
}

/*
 * p50/p99 (and the sample count) of debugfs @file of device @bdf:
 * fault_latency (the last measurement) or sync_latency (200 SYNCs run as
 * it is read).  -1 for what the file does not say.
 */
static void read_latency(const char *bdf, const char *file, long *p50,
			 long *p99, long *n)
{
	char path[512], name[32];
	long val;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/hmmdev/%s/%s", bdf,
		 file);
	*p50 = *p99 = *n = -1;
	f = fopen(path, "r");
	while (f && fscanf(f, "%31s %ld", name, &val) == 2) {
		if (!strcmp(name, "samples"))
			*n = val;
		else if (!strcmp(name, "p50_us"))
			*p50 = val;
		else if (!strcmp(name, "p99_us"))
			*p99 = val;
	}
	if (f)
		fclose(f);
}

static void reset_latency(const char *bdf)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/hmmdev/%s/fault_latency",
		 bdf);
	f = fopen(path, "w");
	if (f) {
		fputs("0\n", f);
		fclose(f);
	}
}

/* A row of a CSV file for images/plot.sh (which knows the columns). */
#define csv(file, fmt, ...) ksft_print_msg("HMMDEV-CSV %s " fmt "\n", file, __VA_ARGS__)

/* The fault round trips' distribution (debugfs cdf_N lines). */
static void csv_latency_cdf(const char *bdf, unsigned int around)
{
	char path[512], name[32];
	long val;
	int pct;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/hmmdev/%s/fault_latency",
		 bdf);
	f = fopen(path, "r");
	while (f && fscanf(f, "%31s %ld", name, &val) == 2)
		if (sscanf(name, "cdf_%d", &pct) == 1)
			csv("fault-latency.csv", "%u,%d,%ld", around, pct, val);
	if (f)
		fclose(f);
}

/* A copy job over untouched memory: every fault is a device round trip. */
static bool bench_faults(struct hmmdev_fn *fn, unsigned int around,
			 long *fault_p50)
{
	struct hmmdev_policy p = { .fault_around = around };
	uint8_t *src = mmap(NULL, JOB_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *dst = mmap(NULL, JOB_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct hmmdev_job j = {
		.op = HMMDEV_JOB_COPY, .src = (uintptr_t)src,
		.dst = (uintptr_t)dst, .length = JOB_SIZE,
	};
	int fd = open(fn->node, O_RDWR);
	long p50, p99, n;
	bool ok;

	madvise(src, JOB_SIZE, MADV_NOHUGEPAGE);
	madvise(dst, JOB_SIZE, MADV_NOHUGEPAGE);
	memset(src, 0x3c, JOB_SIZE);
	ok = fd >= 0 && !ioctl(fd, HMMDEV_IOC_SET_POLICY, &p);
	reset_latency(fn->bdf);
	ok = ok && !ioctl(fd, HMMDEV_IOC_JOB, &j) && dst[JOB_SIZE - 1] == 0x3c;
	read_latency(fn->bdf, "fault_latency", &p50, &p99, &n);
	ksft_print_msg("bench: hmmdev fault round trip, fault-around %u page(s): p50 %ld us, p99 %ld us over %ld faults; 16 MiB copy in %.1f ms\n",
		       around, p50, p99, n, j.device_ns / 1e6);
	csv_latency_cdf(fn->bdf, around);
	*fault_p50 = p50;
	close(fd);
	munmap(src, JOB_SIZE);
	munmap(dst, JOB_SIZE);
	return ok && n > 0;
}

#define BATCH_SIZE	(4ul << 20)
#define BATCH_MAX	4

struct batch_job {
	const char *node;
	pthread_barrier_t *start;
	bool ok;
};

/* One process's context: a copy of fresh pages, every page faulting. */
static void *batch_job(void *arg)
{
	struct batch_job *b = arg;
	struct hmmdev_policy p = { .fault_around = 1 };
	uint8_t *src = mmap(NULL, BATCH_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *dst = mmap(NULL, BATCH_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct hmmdev_job j = {
		.op = HMMDEV_JOB_COPY, .src = (uintptr_t)src,
		.dst = (uintptr_t)dst, .length = BATCH_SIZE,
	};
	int fd = open(b->node, O_RDWR);

	madvise(src, BATCH_SIZE, MADV_NOHUGEPAGE);
	madvise(dst, BATCH_SIZE, MADV_NOHUGEPAGE);
	memset(src, 0x5a, BATCH_SIZE);
	memset(dst, 0, BATCH_SIZE);
	b->ok = fd >= 0 && !ioctl(fd, HMMDEV_IOC_SET_POLICY, &p);
	pthread_barrier_wait(b->start);
	b->ok = b->ok && !ioctl(fd, HMMDEV_IOC_JOB, &j) &&
		dst[BATCH_SIZE - 1] == 0x5a;
	if (fd >= 0)
		close(fd);
	munmap(src, BATCH_SIZE);
	munmap(dst, BATCH_SIZE);
	return NULL;
}

/* The device's engines (HMMDEV_IOC_INFO), or 1. */
static int engines(struct hmmdev_fn *fn)
{
	struct hmmdev_info info = { 0 };
	int fd = open(fn->node, O_RDWR);
	bool ok = fd >= 0 && !ioctl(fd, HMMDEV_IOC_INFO, &info);

	if (fd >= 0)
		close(fd);
	return ok && info.engines ? (int)info.engines : 1;
}

/*
 * @n contexts' faulting copies at once, one per engine: how many faults
 * one pass of the fault work serves (driver.fault_passes), and the time.
 */
static bool bench_batch(struct hmmdev_fn *fn, int n, double *per_pass)
{
	struct batch_job b[BATCH_MAX];
	pthread_t t[BATCH_MAX];
	pthread_barrier_t start;
	long long f0, p0, faults, passes;
	double t0, ms;
	bool ok = true;
	int i;

	pthread_barrier_init(&start, NULL, n + 1);
	for (i = 0; i < n; i++) {
		b[i] = (struct batch_job) { .node = fn->node, .start = &start };
		pthread_create(&t[i], NULL, batch_job, &b[i]);
	}
	f0 = debugfs_counter(fn->bdf, "driver.fault_retries");
	p0 = debugfs_counter(fn->bdf, "driver.fault_passes");
	pthread_barrier_wait(&start);
	t0 = now_s();
	for (i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		ok &= b[i].ok;
	}
	ms = (now_s() - t0) * 1e3;
	faults = debugfs_counter(fn->bdf, "driver.fault_retries") - f0;
	passes = debugfs_counter(fn->bdf, "driver.fault_passes") - p0;
	pthread_barrier_destroy(&start);
	*per_pass = passes > 0 ? (double)faults / passes : 0;
	ksft_print_msg("bench: hmmdev concurrent faults, %d context(s) at once (%lu MiB copies of fresh pages, fault-around 1): %lld faults in %lld passes of the fault work (%.2f per pass), %.0f ms, %.0f faults/s\n",
		       n, BATCH_SIZE >> 20, faults, passes, *per_pass, ms,
		       faults / (ms / 1e3));
	csv("fault-batching.csv", "%d,%lld,%lld,%.0f", n, faults, passes, ms);
	return ok && passes > 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define FLOOR_SAMPLES	200

/*
 * The machine's floor for a device round trip, in the same run: an MSI-X
 * vector raised on request (HMMDEV_IOC_IRQ_TEST: doorbell write to the
 * handler) and the smallest job (an 8-byte COPY on warm, mirrored memory:
 * submit, run, completion, ioctl return); and an empty command-queue
 * round trip (debugfs sync_latency: SYNCs with their interrupt).  p50/p99
 * in us; false on error.
 */
static bool bench_floor(struct hmmdev_fn *fn, double *irq_p50,
			double *job_p50, double *sync_p50)
{
	long s50, s99, sn;
	double irq[FLOOR_SAMPLES], job[FLOOR_SAMPLES], t0;
	uint64_t src = 1, dst = 0;
	struct hmmdev_job j = {
		.op = HMMDEV_JOB_COPY, .src = (uintptr_t)&src,
		.dst = (uintptr_t)&dst, .length = 8,
	};
	int fd = open(fn->node, O_RDWR), i;
	bool ok = fd >= 0 && !ioctl(fd, HMMDEV_IOC_JOB, &j);

	for (i = 0; ok && i < FLOOR_SAMPLES; i++) {
		struct hmmdev_irq_test t = { .vector = 0, .timeout_ms = 1000 };

		ok = !ioctl(fd, HMMDEV_IOC_IRQ_TEST, &t);
		irq[i] = t.latency_ns / 1e3;
		t0 = now_s();
		ok = ok && !ioctl(fd, HMMDEV_IOC_JOB, &j) && dst == 1;
		job[i] = (now_s() - t0) * 1e6;
	}
	if (fd >= 0)
		close(fd);
	if (!ok)
		return false;
	qsort(irq, FLOOR_SAMPLES, sizeof(irq[0]), cmp_double);
	qsort(job, FLOOR_SAMPLES, sizeof(job[0]), cmp_double);
	*irq_p50 = irq[FLOOR_SAMPLES / 2];
	*job_p50 = job[FLOOR_SAMPLES / 2];
	ksft_print_msg("bench: hmmdev floor: interrupt round trip (IRQ_TEST) p50 %.0f us, p99 %.0f us; smallest job round trip p50 %.0f us, p99 %.0f us (%d samples)\n",
		       *irq_p50, irq[FLOOR_SAMPLES * 99 / 100], *job_p50,
		       job[FLOOR_SAMPLES * 99 / 100], FLOOR_SAMPLES);
	read_latency(fn->bdf, "sync_latency", &s50, &s99, &sn);
	if (s50 < 0)
		return false;
	*sync_p50 = s50;
	ksft_print_msg("bench: hmmdev floor: empty command-queue round trip (SYNC with its interrupt) p50 %ld us, p99 %ld us (200 samples)\n",
		       s50, s99);
	return true;
}

static double mibs(double seconds)
{
	return SIZE / 1048576.0 / seconds;
}

#define MIG_STEPS	3	/* to the device, back by ioctl, back by CPU */
#define MIG_PHASES	6	/* hmmdev's migrate_time phases */

/* seconds per step */
struct migration_times {
	double step[MIG_STEPS];
};

/* hmmdev's migrate_time counters (debugfs), microseconds */
static void read_migrate_time(const char *bdf, long long us[2][MIG_PHASES])
{
	static const char * const dirs[] = { "to_dev", "to_ram" };
	static const char * const phases[] = {
		"setup", "alloc", "copy", "pages", "finalize", "map",
	};
	char path[512], name[64], want[64];
	long long val;
	int d, p;
	FILE *f;

	memset(us, 0, sizeof(long long) * 2 * MIG_PHASES);
	snprintf(path, sizeof(path), "/sys/kernel/debug/hmmdev/%s/migrate_time",
		 bdf);
	f = fopen(path, "r");
	while (f && fscanf(f, "%63s %lld", name, &val) == 2)
		for (d = 0; d < 2; d++)
			for (p = 0; p < MIG_PHASES; p++) {
				snprintf(want, sizeof(want), "%s.%s_us",
					 dirs[d], phases[p]);
				if (!strcmp(name, want))
					us[d][p] = val;
			}
	if (f)
		fclose(f);
}

/*
 * Add what hmmdev's migrate_time counters of @bdf (NULL: not hmmdev) grew
 * by since @before, in direction @dir (0 to the device, 1 to RAM), to
 * @step's row of @acc; @before becomes now.
 */
static void add_phases(const char *bdf, long long before[2][MIG_PHASES],
		       int dir, long long acc[MIG_STEPS][MIG_PHASES], int step)
{
	long long now[2][MIG_PHASES];
	int p;

	if (!bdf)
		return;
	read_migrate_time(bdf, now);
	for (p = 0; p < MIG_PHASES; p++)
		acc[step][p] += now[dir][p] - before[dir][p];
	memcpy(before, now, sizeof(now));
}

/*
 * Migration, 64 MiB: to device memory, back by ioctl, and back by CPU
 * faults (one read per page).  MIGRATE_TO_DEV also returns the data it
 * moved in @out, which is resident (touched before), so that its first
 * touch is not measured as migration.  Returns true when every step moved
 * every page and the data survived.  @thp: the buffer is 2 MiB aligned
 * transparent huge pages, else 4 KiB pages (MADV_NOHUGEPAGE).
 */
static bool bench_migration(int fd, uint8_t *out, struct migration_times *t,
			    bool thp, const char *bdf,
			    long long acc[MIG_STEPS][MIG_PHASES])
{
	long long mark[2][MIG_PHASES];
	uint8_t *buf = thp ? thp_mmap(SIZE) :
		       mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *want = malloc(SIZE);
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)buf, .ptr = (uintptr_t)out,
		.npages = SIZE / 4096,
	};
	unsigned long sum = 0;
	bool ok = true;
	size_t off;
	double t0;

	if (!thp)
		madvise(buf, SIZE, MADV_NOHUGEPAGE);
	fill_pattern(want, SIZE, 77);
	memcpy(buf, want, SIZE);
	if (bdf)
		read_migrate_time(bdf, mark);
	t0 = now_s();
	ok &= !ioctl(fd, HMM_DMIRROR_MIGRATE_TO_DEV, &cmd) &&
	      cmd.cpages == SIZE / 4096;
	t->step[0] = now_s() - t0;
	add_phases(bdf, mark, 0, acc, 0);
	ok &= first_mismatch(out, want, SIZE) < 0;
	cmd.cpages = 0;
	t0 = now_s();
	/* test_hmm counts a THP that came back as one page; hmmdev as 512 */
	ok &= !ioctl(fd, HMM_DMIRROR_MIGRATE_TO_SYS, &cmd) &&
	      (cmd.cpages == SIZE / 4096 ||
	       (thp && cmd.cpages == SIZE / (2ul << 20)));
	t->step[1] = now_s() - t0;
	add_phases(bdf, mark, 1, acc, 1);
	ok &= !ioctl(fd, HMM_DMIRROR_MIGRATE_TO_DEV, &cmd);
	if (bdf)
		read_migrate_time(bdf, mark);
	t0 = now_s();
	/* one read per page: each one a CPU fault that migrates it back */
	for (off = 0; off < SIZE; off += 4096)
		sum += buf[off + 8];
	t->step[2] = now_s() - t0;
	add_phases(bdf, mark, 1, acc, 2);
	ok &= first_mismatch(buf, want, SIZE) < 0 && sum;
	munmap(buf, SIZE);
	free(want);
	memset(out, 0, SIZE);
	return ok;
}

/*
 * @size bytes of malloc() the process has written, so that no measurement
 * pays for their first touch (zeroing 64 MiB in the guest costs ~0.2 s
 * under TCG, hmmdev's device faults and test_hmm's copy_to_user() alike).
 * Not memset(0): the compiler makes malloc() and memset(0) one calloc(),
 * which leaves fresh mmap()ed memory untouched.
 */
static uint8_t *resident(size_t size)
{
	uint8_t *p = malloc(size);

	if (p)
		memset(p, 0xa5, size);
	return p;
}

/* the median of @n values (n odd, at most 16) */
static double median(const double *v, int n)
{
	double a[16], x;
	int i, j;

	for (i = 0; i < n; i++) {
		for (x = v[i], j = i; j > 0 && a[j - 1] > x; j--)
			a[j] = a[j - 1];
		a[j] = x;
	}
	return a[n / 2];
}

#define REPS	5

/* Set hmmdev's migrate_back_pages; returns the value it had (0: unknown). */
static unsigned int set_migrate_back_pages(unsigned int n)
{
	const char *path = "/sys/module/hmmdev/parameters/migrate_back_pages";
	unsigned int old = 0;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%u", &old) != 1)
			old = 0;
		fclose(f);
	}
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%u\n", n);
		fclose(f);
	}
	return old;
}

/*
 * REPS migrations, the median of each direction; on hmmdev (@bdf) also
 * where the time went, per page, step and phase, and, for 4 KiB pages, CPU
 * faults one page at a time.
 */
static bool bench_migrations(int fd, const char *label, const char *bdf,
			     bool thp)
{
	static const char * const steps[MIG_STEPS] = {
		"to device", "back by ioctl", "back by CPU faults",
	};
	const char *kind = thp ? "THPs" : "4 KiB pages";
	struct migration_times t[REPS], one;
	long long acc[MIG_STEPS][MIG_PHASES] = { { 0 } };
	double pages = (double)REPS * (SIZE / 4096), med[MIG_STEPS], step[REPS];
	uint8_t *out = resident(SIZE);
	bool ok = out != NULL;
	unsigned int back_pages;
	int i, p;

	for (i = 0; i < REPS; i++)
		ok &= bench_migration(fd, out, &t[i], thp, bdf, acc);
	for (i = 0; i < MIG_STEPS; i++) {
		for (p = 0; p < REPS; p++)
			step[p] = t[p].step[i];
		med[i] = median(step, REPS);
	}
	ksft_print_msg("bench: %s migration 64 MiB of %s, median of %d: to device %.0f MiB/s, back by ioctl %.0f MiB/s, back by CPU faults %.0f MiB/s\n",
		       label, kind, REPS, mibs(med[0]), mibs(med[1]),
		       mibs(med[2]));
	if (!bdf) {
		free(out);
		return ok;
	}
	/* per page moved: each rep moves every page once in each step */
	for (i = 0; i < MIG_STEPS; i++) {
		double sum = 0, v[MIG_PHASES];

		for (p = 0; p < MIG_PHASES; p++)
			sum += v[p] = acc[i][p] / pages;
		ksft_print_msg("bench: %s migration time per 4 KiB of %s, %s (us): setup %.1f, alloc %.1f, copy %.1f, pages %.1f, finalize %.1f, map %.1f; in all %.1f, measured %.1f\n",
			       label, kind, steps[i], v[0], v[1], v[2], v[3],
			       v[4], v[5], sum, 1e6 * med[i] / (SIZE / 4096));
	}
	if (thp) {
		free(out);
		return ok;
	}
	back_pages = set_migrate_back_pages(1);
	ok &= bench_migration(fd, out, &one, false, NULL, acc);
	free(out);
	if (back_pages)
		set_migrate_back_pages(back_pages);
	ksft_print_msg("bench: %s migration back by CPU faults, one page per fault (migrate_back_pages=1): %.0f MiB/s\n",
		       label, mibs(one.step[2]));
	return ok;
}

/*
 * --round: one migration of each kind, 4 KiB pages and THPs.  images/init
 * runs rounds of hmmdev and of test_hmm in turn, so that both meet the
 * same host: under TCG the VM's speed drifts by up to a third within
 * minutes, and a ratio of two medians taken minutes apart drifts with it
 * (bench-table.awk takes the median over the rounds).
 */
static bool bench_round(const char *label)
{
	long long acc[MIG_STEPS][MIG_PHASES] = { { 0 } };
	int fd = open("/dev/hmm_dmirror0", O_RDWR), thp;
	uint8_t *out = resident(SIZE);
	struct migration_times t;
	bool ok = fd >= 0 && out;

	for (thp = 0; thp < 2 && ok; thp++) {
		ok &= bench_migration(fd, out, &t, thp, NULL, acc);
		ksft_print_msg("bench: %s round: migration 64 MiB of %s: to device %.0f MiB/s, back by ioctl %.0f MiB/s, back by CPU faults %.0f MiB/s\n",
			       label, thp ? "THPs" : "4 KiB pages",
			       mibs(t.step[0]), mibs(t.step[1]),
			       mibs(t.step[2]));
	}
	if (fd >= 0)
		close(fd);
	free(out);
	return ok;
}

/*
 * What a new user's first processes see (issue: a slow mode after module
 * load): each of @n fresh processes, right after the module was loaded
 * and without warm-up, opens the device, READs a 64 MiB buffer (anonymous
 * memory, into a malloc() one) through it twice and moves it to the
 * device and back.  One row per process (MiB/s) and the worst against the
 * best of each column.  --warm: the same steps in one process that has
 * done them once already, each time on fresh buffers, the source and READ's
 * destination alike (what the cold processes are compared with: READ
 * mirrors both, so a destination used before would spare the warm process
 * half of the cold one's device faults).  Return true when every step
 * moved every page and the data survived.
 */
#define COLD_STEPS	4
#define COLD_OPEN	COLD_STEPS	/* and open()'s time, ms */

/* The steps on a fresh 64 MiB buffer holding @want, through @fd. */
static bool cold_steps(int fd, uint8_t *out, const uint8_t *want,
		       double mib[COLD_STEPS])
{
	static const unsigned long reqs[COLD_STEPS] = {
		HMM_DMIRROR_READ, HMM_DMIRROR_READ, HMM_DMIRROR_MIGRATE_TO_DEV,
		HMM_DMIRROR_MIGRATE_TO_SYS,
	};
	uint8_t *buf = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct hmm_dmirror_cmd cmd = { .npages = SIZE / 4096 };
	bool ok = buf != MAP_FAILED;
	double t0;
	int i;

	if (!ok)
		return false;
	memcpy(buf, want, SIZE);
	memset(out, 0, SIZE);
	cmd.addr = (uintptr_t)buf;
	cmd.ptr = (uintptr_t)out;
	for (i = 0; i < COLD_STEPS; i++) {
		cmd.cpages = 0;
		t0 = now_s();
		ok &= !ioctl(fd, reqs[i], &cmd) && cmd.cpages > 0;
		mib[i] = mibs(now_s() - t0);
		/* against @want: reading @buf would move it back */
		if (i < COLD_STEPS - 1)
			ok &= first_mismatch(out, want, SIZE) < 0;
		memset(out, 0, SIZE);
	}
	ok &= first_mismatch(buf, want, SIZE) < 0;
	munmap(buf, SIZE);
	return ok;
}

/*
 * This process opens the device (open()'s time in @mib[COLD_OPEN]) and
 * does the steps into @mib; then, with @warm, @warm times more, a row
 * each.
 */
static bool steps_in_process(double mib[COLD_STEPS + 1], const char *label,
			     int warm)
{
	double t_open = now_s(), again[COLD_STEPS];
	int fd = open("/dev/hmm_dmirror0", O_RDWR), i;
	uint8_t *out, *want;
	bool ok;

	mib[COLD_OPEN] = 1e3 * (now_s() - t_open);
	out = resident(SIZE);
	want = malloc(SIZE);
	ok = fd >= 0 && out && want;
	if (ok) {
		fill_pattern(want, SIZE, 9);
		ok = cold_steps(fd, out, want, mib);
	}
	for (i = 0; ok && i < warm; i++) {
		free(out);
		out = resident(SIZE);
		ok = out && cold_steps(fd, out, want, again);
		ksft_print_msg("bench: %s warm process, time %d of %d: READ %.0f, READ again %.0f, MIGRATE_TO_DEV %.0f, MIGRATE_TO_SYS %.0f MiB/s\n",
			       label, i + 1, warm, again[0], again[1], again[2],
			       again[3]);
	}
	if (fd >= 0)
		close(fd);
	free(out);
	free(want);
	return ok;
}

static bool bench_cold(const char *label, int n)
{
	double mib[16][COLD_STEPS + 1], best, worst;
	int i, k, pipefd[2], status;
	bool ok = n > 0 && n <= 16;
	pid_t pid;

	for (i = 0; ok && i < n; i++) {
		ok = !pipe(pipefd);
		pid = ok ? fork() : -1;
		if (pid == 0) {
			bool one = steps_in_process(mib[i], label, 0);

			one &= write(pipefd[1], mib[i], sizeof(mib[i])) ==
			       sizeof(mib[i]);
			_exit(one ? 0 : 1);
		}
		close(pipefd[1]);
		ok &= pid > 0 && read(pipefd[0], mib[i], sizeof(mib[i])) ==
				 sizeof(mib[i]);
		close(pipefd[0]);
		ok &= pid > 0 && waitpid(pid, &status, 0) == pid &&
		      WIFEXITED(status) && !WEXITSTATUS(status);
		if (!ok)
			break;
		ksft_print_msg("bench: %s cold process %d of %d: READ %.0f, READ again %.0f, MIGRATE_TO_DEV %.0f, MIGRATE_TO_SYS %.0f MiB/s\n",
			       label, i + 1, n, mib[i][0], mib[i][1],
			       mib[i][2], mib[i][3]);
		/* hmmdev: the first open after a load runs its self-test */
		ksft_print_msg("bench: %s cold process %d of %d, open(): %.1f ms\n",
			       label, i + 1, n, mib[i][COLD_OPEN]);
	}
	for (k = 0; ok && k < COLD_STEPS; k++) {
		best = worst = mib[0][k];
		for (i = 1; i < n; i++) {
			best = mib[i][k] > best ? mib[i][k] : best;
			worst = mib[i][k] < worst ? mib[i][k] : worst;
		}
		ksft_print_msg("bench: %s cold processes, step %d: worst %.0f%% of best\n",
			       label, k + 1, 100 * worst / best);
	}
	return ok;
}

int main(int argc, char **argv)
{
	const char *label = argc > 1 ? argv[1] : "device";
	bool faults = argc > 2 && !strcmp(argv[2], "--faults");
	bool cold_start = argc > 3 && !strcmp(argv[2], "--cold");
	bool round = argc > 2 && !strcmp(argv[2], "--round");
	bool warm_start = argc > 3 && !strcmp(argv[2], "--warm");
	struct hmmdev_fn fns[MAX_DEVS];
	uint8_t *buf, *out;
	uint64_t f_cold, f_warm;
	double cold, warm;
	bool ok_cold, ok_warm;
	int ndevs = 0, fd;

	ksft_print_header();
	if (cold_start) {
		/* this process never opens the device: fresh processes do */
		ksft_set_plan(1);
		ksft_test_result(bench_cold(label, atoi(argv[3])),
				 "bench %s: cold processes moved every page, data verified\n",
				 label);
		ksft_finished();
	}
	if (warm_start) {
		double mib[COLD_STEPS + 1];

		ksft_set_plan(1);
		ksft_test_result(steps_in_process(mib, label, atoi(argv[3])),
				 "bench %s: a warm process moved every page, data verified\n",
				 label);
		ksft_finished();
	}
	if (round) {
		ksft_set_plan(1);
		ksft_test_result(bench_round(label),
				 "bench %s: a round of migrations moved every page, data verified\n",
				 label);
		ksft_finished();
	}
	ksft_set_plan(faults ? 8 : 4);
	fd = open("/dev/hmm_dmirror0", O_RDWR);
	if (fd < 0)
		ksft_exit_fail_msg("/dev/hmm_dmirror0: %s\n", strerror(errno));
	buf = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	out = resident(SIZE);
	fill_pattern(buf, SIZE, 5);
	cold = mirror_read(fd, buf, out, &f_cold, &ok_cold);
	memset(out, 0, SIZE);
	warm = mirror_read(fd, buf, out, &f_warm, &ok_warm);
	ksft_print_msg("bench: %s mirror read 64 MiB first touch: %.0f pages/s (%.0f MiB/s, %llu faults); warm: %.0f pages/s (%.0f MiB/s, %llu faults)\n",
		       label, SIZE / 4096 / cold, SIZE / 1048576.0 / cold,
		       (unsigned long long)f_cold, SIZE / 4096 / warm,
		       SIZE / 1048576.0 / warm, (unsigned long long)f_warm);
	ksft_test_result(ok_cold, "bench %s: first-touch read verified\n", label);
	ksft_test_result(ok_warm, "bench %s: warm read verified\n", label);
	if (faults)
		ndevs = find_hmmdevs(fns, MAX_DEVS);
	ksft_test_result(bench_migrations(fd, label, faults ? fns[0].bdf : NULL,
					  false),
			 "bench %s: migrations of 4 KiB pages moved every page, data verified\n",
			 label);
	ksft_test_result(bench_migrations(fd, label, faults ? fns[0].bdf : NULL,
					  true),
			 "bench %s: migrations of THPs moved every page, data verified\n",
			 label);
	if (faults) {
		long p50_around = -1, p50_one = -1;
		double irq_p50 = 0, job_p50 = 0, sync_p50 = 0;
		double one_pass = 0, two_pass = 0;
		int ctxs, i, most;

		ksft_test_result(bench_faults(&fns[0], 16, &p50_around),
				 "bench %s: fault round trips with fault-around\n",
				 label);
		ksft_test_result(bench_faults(&fns[0], 1, &p50_one),
				 "bench %s: fault round trips without fault-around\n",
				 label);
		/*
		 * on the device with the most engines (run-vm.sh's bench VM
		 * gives hmmdev1 four): the driver admits engines - 1 jobs on
		 * virtual addresses at once
		 */
		for (i = 1, most = 0; i < ndevs && fns[i].node[0]; i++)
			if (engines(&fns[i]) > engines(&fns[most]))
				most = i;
		ctxs = engines(&fns[most]) - 1;
		ctxs = ctxs < 1 ? 1 : ctxs > BATCH_MAX ? BATCH_MAX : ctxs;
		ksft_test_result(bench_batch(&fns[most], 1, &one_pass) &&
				 bench_batch(&fns[most], ctxs, &two_pass),
				 "bench %s: concurrent faults on %s, %d engines: 1 and %d context(s) at once (%.2f and %.2f faults per pass)\n",
				 label, fns[most].node, engines(&fns[most]), ctxs,
				 one_pass, two_pass);
		ksft_test_result(bench_floor(&fns[0], &irq_p50, &job_p50,
					     &sync_p50),
				 "bench %s: interrupt, job and SYNC round trips\n",
				 label);
		ksft_print_msg("bench: hmmdev fault round trip p50 (one page) against the floor (interrupt + SYNC round trip): %.2fx (goal <= 2x)\n",
			       p50_one / (irq_p50 + sync_p50));
	}
	ksft_finished();
}
