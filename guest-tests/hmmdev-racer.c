// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev-racer: device jobs against a process whose page tables keep
 * changing under them.
 *
 * Workers (two per device) own slices of a shared buffer.  Each round a
 * worker writes a fresh pattern into its slice with the CPU, has the device
 * copy the slice elsewhere and checks the copy page by page; then has the
 * device fill the slice and checks it with the CPU.  Meanwhile disruptors:
 *  - fork() children that exit at once: the slices become copy-on-write,
 *    the next CPU write moves a page, and a device that kept the old
 *    translation would copy the old data;
 *  - mprotect() parts of slices read-write again: an invalidation, and a
 *    split of the transparent huge page under it;
 *  - MADV_COLLAPSE the slices back into huge pages;
 *  - map, use, mremap and unmap a scratch buffer on the device: the device
 *    follows the moved data, and jobs on ranges that are gone fail -EFAULT;
 *  - run a child process with its own context and kill it mid-job;
 *  - migrate slices into VRAM: the workers' next CPU writes fault them
 *    back, their device copies read them from VRAM or from RAM;
 *  - huge-page churn on a buffer of its own: two THPs moved to VRAM (2 MiB
 *    device pages where the kernel has them), then fork() (COW), half of
 *    one made read-only, a 4 KiB hole punched in the other and its tail
 *    moved by mremap; the device copies and the CPU checks every page.
 * Any page that differs from what was written is a mismatch; the test
 * passes with every round done and 0 mismatches.
 *
 *   hmmdev-racer [SECONDS]       (default 15)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hmmdev_test_util.h"
#include <lib/test_hmm_uapi.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

#define SLICE		(2ul << 20)
#define WORKERS_PER_DEV	2

static int stop;
static uint8_t *shared;
static long page_size;

struct worker {
	const char *node;
	uint8_t *slice;
	unsigned long rounds, mismatches, errors;
	int id;
	int first_error;	/* -errno of the first failed job */
	const char *first_op;
};

struct stats {
	unsigned long forks, mprotects, collapses, scratch, scratch_bad, kills;
	unsigned long migrations, huge, huge_bad;
};

/* Move a slice into the VRAM of device 0 under the workers' feet. */
static void migrate_round(int dmirror, size_t off, struct stats *st)
{
	static uint8_t *out;
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)(shared + off), .npages = SLICE / page_size,
	};

	if (!out)
		out = malloc(SLICE);
	cmd.ptr = (uintptr_t)out;
	/* pages a worker holds at the moment are skipped: -ENOENT is fine */
	if (dmirror >= 0 && (ioctl(dmirror, HMM_DMIRROR_MIGRATE_TO_DEV, &cmd) == 0 ||
			     errno == ENOENT || errno == EBUSY)) {
		st->migrations++;
	}
}

static int job(int fd, struct hmmdev_job *j)
{
	return ioctl(fd, HMMDEV_IOC_JOB, j) ? -errno : 0;
}

static unsigned long count_bad_pages(const uint8_t *a, const uint8_t *b,
				     size_t len)
{
	unsigned long bad = 0;
	size_t off;

	for (off = 0; off < len; off += page_size)
		bad += memcmp(a + off, b + off, page_size) != 0;
	return bad;
}

/* Count a failed job; remember the first failure for the report. */
static void job_failed(struct worker *w, const char *op, int err)
{
	if (!w->errors++) {
		w->first_error = err;
		w->first_op = op;
	}
}

/* A driver counter summed over the devices. */
static long long counter_sum(struct hmmdev_fn *fns, int n, const char *name)
{
	long long sum = 0;
	int i;

	for (i = 0; i < n; i++)
		sum += debugfs_counter(fns[i].bdf, name);
	return sum;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int fd = open(w->node, O_RDWR);
	uint8_t *copy = malloc(SLICE), *want = malloc(SLICE);

	if (fd < 0 || !copy || !want) {
		w->errors++;
		return NULL;
	}
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		struct hmmdev_job j = {
			.op = HMMDEV_JOB_COPY, .src = (uintptr_t)w->slice,
			.dst = (uintptr_t)copy, .length = SLICE,
		};
		uint64_t v = ((uint64_t)w->id << 56) | w->rounds;
		size_t i;
		int err;

		fill_pattern(want, SLICE, v);
		memcpy(w->slice, want, SLICE);          /* CPU writes */
		memset(copy, 0, SLICE);
		err = job(fd, &j);
		if (err)
			job_failed(w, "copy", err);
		else
			w->mismatches += count_bad_pages(want, copy, SLICE);

		j = (struct hmmdev_job){ .op = HMMDEV_JOB_FILL,
					 .dst = (uintptr_t)w->slice,
					 .length = SLICE, .value = ~v };
		err = job(fd, &j);
		if (err) {
			job_failed(w, "fill", err);
		} else {
			for (i = 0; i < SLICE / 8; i++)
				((uint64_t *)want)[i] = ~v;
			w->mismatches += count_bad_pages(want, w->slice, SLICE);
		}
		w->rounds++;
	}
	close(fd);
	free(copy);
	free(want);
	return NULL;
}

/*
 * Map, use on the device, mremap elsewhere (the device must follow the
 * data), unmap; a job on a range that is gone must fail with -EFAULT.
 */
static void scratch_round(int fd, struct stats *st)
{
	size_t len = 256 * 1024;
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *q;
	uint8_t *out = malloc(len);
	struct hmmdev_job j = {
		.op = HMMDEV_JOB_FILL, .dst = (uintptr_t)p, .length = len,
		.value = 0x7777777777777777ull,
	};
	struct hmmdev_job c = {
		.op = HMMDEV_JOB_COPY, .dst = (uintptr_t)out, .length = len,
	};

	if (p == MAP_FAILED || job(fd, &j) || p[len - 1] != 0x77)
		st->scratch_bad++;
	q = mremap(p, len, 2 * len, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		munmap(p, len);
		st->scratch_bad++;
		free(out);
		return;
	}
	c.src = (uintptr_t)q;
	if (q != p && job(fd, &j) != -EFAULT)   /* the old range is gone */
		st->scratch_bad++;
	if (job(fd, &c) || out[0] != 0x77 || out[len - 1] != 0x77)
		st->scratch_bad++;
	munmap(q, 2 * len);
	if (job(fd, &c) != -EFAULT)
		st->scratch_bad++;
	st->scratch++;
	free(out);
}

/* Do the pages of @p hold @want's?  (Reading them brings them back.) */
static bool same(const uint8_t *p, const uint8_t *want, size_t len)
{
	return !count_bad_pages(p, want, len);
}

/*
 * Two THPs of a buffer of our own into VRAM, then a fork (COW), half of the
 * first read-only, a 4 KiB hole in the second and its last half moved; the
 * device copies the first, the CPU checks every page that is left.
 */
static void huge_round(int fd, int dmirror, struct stats *st)
{
	size_t len = 2 * SLICE, hole = SLICE + SLICE / 4;
	uint8_t *p = thp_mmap(len), *want = malloc(len), *out = malloc(len), *q;
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)p, .ptr = (uintptr_t)out,
		.npages = len / page_size,
	};
	struct hmmdev_job c = {
		.op = HMMDEV_JOB_COPY, .src = (uintptr_t)p,
		.dst = (uintptr_t)out, .length = SLICE,
	};
	bool bad = !p || !want || !out;
	pid_t pid;

	if (bad)
		goto out;
	fill_pattern(want, len, 1000 + st->huge);
	memcpy(p, want, len);
	if (ioctl(dmirror, HMM_DMIRROR_MIGRATE_TO_DEV, &cmd) && errno != ENOENT &&
	    errno != EBUSY)
		bad = true;
	pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	bad |= mprotect(p + SLICE / 2, SLICE / 2, PROT_READ) != 0;
	bad |= munmap(p + hole, page_size) != 0;
	q = mremap(p + SLICE + SLICE / 2, SLICE / 2, SLICE / 2, MREMAP_MAYMOVE);
	bad |= q == MAP_FAILED;
	memset(out, 0, SLICE);
	bad |= job(fd, &c) != 0 || !same(out, want, SLICE);
	bad |= !same(p, want, SLICE) || !same(p + SLICE, want + SLICE, hole - SLICE) ||
	       !same(p + hole + page_size, want + hole + page_size,
		     SLICE + SLICE / 2 - hole - page_size);
	if (q != MAP_FAILED) {
		bad |= !same(q, want + SLICE + SLICE / 2, SLICE / 2);
		munmap(q, SLICE / 2);
	}
	munmap(p, len);
out:
	st->huge++;
	st->huge_bad += bad;
	free(want);
	free(out);
}

/* A child with its own context, killed while its jobs run. */
static void kill_round(const char *node, struct stats *st)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(node, O_RDWR);
		uint8_t *a = malloc(4 << 20), *b = malloc(4 << 20);
		struct hmmdev_job j = {
			.op = HMMDEV_JOB_COPY, .src = (uintptr_t)a,
			.dst = (uintptr_t)b, .length = 4 << 20,
		};

		memset(a, 1, 4 << 20);
		for (;;)
			job(fd, &j);
	}
	usleep(20000 + rand() % 50000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	st->kills++;
}

static void disrupt(struct hmmdev_fn *fns, size_t shared_len, int seconds,
		    struct stats *st)
{
	double end = now_s() + seconds;
	int fd = open(fns[0].node, O_RDWR);
	int dmirror = open("/dev/hmm_dmirror0", O_RDWR);
	unsigned int r = 1;

	while (now_s() < end) {
		size_t off = (rand_r(&r) % (shared_len / SLICE)) * SLICE;
		pid_t pid;

		switch (rand_r(&r) % 11) {
		case 10:
			huge_round(fd, dmirror, st);
			break;
		case 8:
		case 9:
			migrate_round(dmirror, off, st);
			break;
		case 0:
		case 1:
			pid = fork();
			if (pid == 0)
				_exit(0);
			waitpid(pid, NULL, 0);
			st->forks++;
			break;
		case 2:
		case 3: {
			/* part of a huge page: the PMD is split */
			size_t first = rand_r(&r) % (SLICE / page_size);
			size_t n = 1 + rand_r(&r) % (SLICE / page_size - first);

			mprotect(shared + off + first * page_size, n * page_size,
				 PROT_READ | PROT_WRITE);
			st->mprotects++;
			break;
		}
		case 4:
			madvise(shared + off, SLICE, MADV_COLLAPSE);
			st->collapses++;
			break;
		case 5:
		case 6:
			scratch_round(fd, st);
			break;
		case 7:
			kill_round(fns[0].node, st);
			break;
		}
		usleep(2000);
	}
	close(fd);
	close(dmirror);
}

int main(int argc, char **argv)
{
	struct hmmdev_fn fns[MAX_DEVS];
	int n = find_hmmdevs(fns, MAX_DEVS), i, nw, seconds;
	struct worker w[MAX_DEVS * WORKERS_PER_DEV] = {};
	pthread_t t[MAX_DEVS * WORKERS_PER_DEV];
	unsigned long rounds = 0, mismatches = 0, errors = 0;
	char first[80] = "";
	struct stats st = {};
	long long moved_in, moved_out, cow_breaks, busy_rounds, busy_aborts;
	long long back_queued, back_unsafe;
	long long thps, splits;
	size_t shared_len;

	seconds = argc > 1 ? atoi(argv[1]) : 15;
	page_size = sysconf(_SC_PAGESIZE);
	ksft_print_header();
	ksft_set_plan(4);
	if (n < 1)
		ksft_exit_fail_msg("no hmmdev device\n");
	moved_in = debugfs_counter(fns[0].bdf, "driver.migrations_to_dev");
	moved_out = debugfs_counter(fns[0].bdf, "driver.migrations_to_ram");
	cow_breaks = debugfs_counter(fns[0].bdf, "driver.cow_breaks");
	thps = debugfs_counter(fns[0].bdf, "driver.thp_to_dev");
	splits = debugfs_counter(fns[0].bdf, "driver.folio_splits");
	busy_rounds = counter_sum(fns, n, "driver.range_fault_retries");
	busy_aborts = counter_sum(fns, n, "driver.range_fault_timeouts");
	back_queued = counter_sum(fns, n, "driver.thp_back_queued");
	back_unsafe = counter_sum(fns, n, "driver.thp_back_unsafe");
	nw = n * WORKERS_PER_DEV;
	shared_len = nw * SLICE;
	shared = aligned_alloc(SLICE, shared_len);
	madvise(shared, shared_len, MADV_HUGEPAGE);
	memset(shared, 0, shared_len);
	for (i = 0; i < nw; i++) {
		w[i] = (struct worker){ .node = fns[i / WORKERS_PER_DEV].node,
					.slice = shared + i * SLICE, .id = i };
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	}
	disrupt(fns, shared_len, seconds, &st);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < nw; i++) {
		pthread_join(t[i], NULL);
		rounds += w[i].rounds;
		mismatches += w[i].mismatches;
		errors += w[i].errors;
		if (w[i].errors && !first[0])
			snprintf(first, sizeof(first), " (first: %s job of worker %d, %s)",
				 w[i].first_op, i, strerror(-w[i].first_error));
	}
	moved_in = debugfs_counter(fns[0].bdf, "driver.migrations_to_dev") -
		   moved_in;
	moved_out = debugfs_counter(fns[0].bdf, "driver.migrations_to_ram") -
		    moved_out;
	cow_breaks = debugfs_counter(fns[0].bdf, "driver.cow_breaks") -
		     cow_breaks;
	thps = debugfs_counter(fns[0].bdf, "driver.thp_to_dev") - thps;
	splits = debugfs_counter(fns[0].bdf, "driver.folio_splits") - splits;
	busy_rounds = counter_sum(fns, n, "driver.range_fault_retries") -
		      busy_rounds;
	busy_aborts = counter_sum(fns, n, "driver.range_fault_timeouts") -
		      busy_aborts;
	back_queued = counter_sum(fns, n, "driver.thp_back_queued") -
		      back_queued;
	back_unsafe = counter_sum(fns, n, "driver.thp_back_unsafe") -
		      back_unsafe;
	printf("HMMDEV-NOTE racer disruptions: %lu forks, %lu mprotects, %lu collapses, %lu mremap/munmap rounds, %lu children killed mid-job, %lu slice migrations to VRAM; hmm_range_fault rounds repeated %lld, given up %lld\n",
	       st.forks, st.mprotects, st.collapses, st.scratch, st.kills,
	       st.migrations, busy_rounds, busy_aborts);
	ksft_test_result(rounds >= (unsigned long)nw && !mismatches && !errors,
			 "racer: %d workers on %d devices, %lu rounds (%lu MiB verified), %lu page mismatches, %lu job errors%s\n",
			 nw, n, rounds, rounds * 2 * SLICE >> 20, mismatches, errors,
			 first);
	ksft_test_result(st.scratch > 0 && !st.scratch_bad,
			 "racer-remap: %lu scratch buffers used, mremapped and unmapped, %lu wrong outcomes (data follows mremap; jobs on ranges that are gone fail -EFAULT)\n",
			 st.scratch, st.scratch_bad);
	ksft_test_result(st.migrations > 0 && moved_in > 0 && moved_out > 0,
			 "racer-migrate: %lu migrations of a slice to VRAM under the workers: %lld pages moved in, %lld back to RAM on faults (CPU writes, the other devices); %lld device write faults broke a COW on a device page\n",
			 st.migrations, moved_in, moved_out, cow_breaks);
	/*
	 * With huge device pages, THPs must have moved whole and been split,
	 * and none that a fork() child shared moved back whole (hmmdev_back.c)
	 */
	ksft_test_result(st.huge > 0 && !st.huge_bad && !back_unsafe &&
			 (!kernel_has_device_thp() || (thps > 0 && splits > 0)),
			 "racer-huge: %lu rounds of THPs in VRAM forked, half read-only, holed and moved: %lu bad; %lld 2 MiB device pages, %lld split by the kernel; shared ones moved back split by the queue %lld times, whole %lld (want 0)\n",
			 st.huge, st.huge_bad, thps, splits, back_queued,
			 back_unsafe);
	ksft_finished();
}
