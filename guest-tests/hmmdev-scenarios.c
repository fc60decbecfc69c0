// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev-scenarios: three scripted protocol scenarios on hmmdev0, each
 * between two markers in the kernel's trace ("hmmdev-timeline: begin NAME",
 * "... end NAME", through trace_marker), for the merged timeline
 * (run-vm.sh --timeline; images/hmmdev-timeline --check reads them):
 *
 *   fault-once        one device FILL job on one page the device has never
 *                     mapped: exactly one device fault, served, RETRY
 *   munmap-under-job  a device COPY job running while another thread
 *                     munmaps the tail of its destination: the notifier's
 *                     INVALIDATE and SYNC, and the job ends with EFAULT
 *   migrate-back      16 pages moved to VRAM (HMM_DMIRROR_MIGRATE_TO_DEV),
 *                     then one CPU read brings them back by a CPU fault
 *
 * Each is also a test of its own (TAP): the job's result, fault count,
 * errno and the data.
 */
#include <pthread.h>

#include "hmmdev_test_util.h"
#include <lib/test_hmm_uapi.h>

#define MARKER	"/sys/kernel/tracing/trace_marker"

static int marker_fd = -1;

static void marker(const char *what, const char *name)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "hmmdev-timeline: %s %s", what, name);

	if (marker_fd >= 0 && write(marker_fd, buf, n) != n)
		ksft_print_msg("trace_marker: %s\n", strerror(errno));
}

static int job(int fd, struct hmmdev_job *j)
{
	return ioctl(fd, HMMDEV_IOC_JOB, j) ? -errno : 0;
}

static int policy(int fd, unsigned int around, unsigned int flags)
{
	struct hmmdev_policy p = { .fault_around = around, .flags = flags };

	return ioctl(fd, HMMDEV_IOC_SET_POLICY, &p) ? -errno : 0;
}

/* One FILL of one fresh page: one device fault. */
static void fault_once(int fd)
{
	uint64_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct hmmdev_job j = {
		.op = HMMDEV_JOB_FILL, .dst = (uintptr_t)page, .length = 4096,
		.value = 0x5ca1ab1e,
	};
	int ret, i, bad = 0;

	page[0] = 1;		/* the CPU's page exists; the device's not */
	marker("begin", "fault-once");
	ret = job(fd, &j);
	marker("end", "fault-once");
	for (i = 0; i < 512; i++)
		bad += page[i] != 0x5ca1ab1e;
	ksft_test_result(!ret && j.faults == 1 && !bad,
			 "fault-once: FILL of one page: ret %d, %llu device fault(s), %d wrong word(s)\n",
			 ret, (unsigned long long)j.faults, bad);
	munmap(page, 4096);
}

struct unmapper {
	const uint8_t *watch, *want;	/* unmap once the copy wrote this */
	void *addr;
	size_t len;
	double after_s;
	int ret;
};

static void *unmap_later(void *arg)
{
	struct unmapper *u = arg;
	double t0 = now_s();

	while (memcmp((const void *)u->watch, u->want, 8) && now_s() - t0 < 5)
		;
	u->after_s = now_s() - t0;
	u->ret = munmap(u->addr, u->len) ? -errno : 0;
	return NULL;
}

/*
 * A COPY whose destination's tail goes away while the engine copies: the
 * job's first fault populates its whole range (POPULATE_JOB), so the tail
 * is mirrored when the other thread -- running already, watching the
 * middle of the destination -- sees the copy get there and unmaps the
 * tail: the notifier has device PTEs to zap, and the engine meets the
 * hole afterwards.  A try whose copy still got to the end is repeated.
 */
static void munmap_under_job(int fd)
{
	const size_t len = 32 << 20, tail = 2 << 20;
	uint8_t *src = thp_mmap(len), *dst;
	struct hmmdev_job j = { 0 };
	struct unmapper u = { 0 };
	pthread_t t;
	int ret = 0, try;

	if (!src || policy(fd, 16, HMMDEV_POLICY_POPULATE_JOB)) {
		ksft_test_result_fail("munmap-under-job: setup: %s\n", strerror(errno));
		return;
	}
	fill_pattern(src, len, 3);
	for (try = 0; try < 5 && !ret; try++) {
		dst = thp_mmap(len);
		memset(dst, 0, len);
		u = (struct unmapper) { .watch = dst + len / 2, .want = src + len / 2,
					.addr = dst + len - tail, .len = tail };
		j = (struct hmmdev_job) { .op = HMMDEV_JOB_COPY, .src = (uintptr_t)src,
					  .dst = (uintptr_t)dst, .length = len };
		marker("begin", "munmap-under-job");
		pthread_create(&t, NULL, unmap_later, &u);
		ret = job(fd, &j);
		pthread_join(t, NULL);
		marker("end", "munmap-under-job");
		munmap(dst, len - tail);
		if (ret)
			break;
		ksft_print_msg("munmap-under-job: the copy got to the end before the munmap; again\n");
		marker("retry", "munmap-under-job");
	}
	ksft_test_result(ret == -EFAULT && !u.ret,
			 "munmap-under-job: COPY of %zu MiB, the last %zu MiB unmapped when the copy was half way (%.1f ms after the submission): %s\n",
			 len >> 20, tail >> 20, u.after_s * 1e3,
			 ret ? strerror(-ret) : "completed");
	munmap(src, len);
	policy(fd, 16, 0);
}

/* 16 pages to VRAM and back by one CPU read. */
static void migrate_back(void)
{
	const size_t len = 16 * 4096;
	int dm = open("/dev/hmm_dmirror0", O_RDWR);
	uint8_t *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *mirror = malloc(len), *want = malloc(len);
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)buf, .ptr = (uintptr_t)mirror, .npages = 16,
	};
	int ret;
	long bad;

	if (dm < 0) {
		ksft_test_result_fail("migrate-back: /dev/hmm_dmirror0: %s\n", strerror(errno));
		return;
	}
	madvise(buf, len, MADV_NOHUGEPAGE);
	fill_pattern(buf, len, 9);
	fill_pattern(want, len, 9);
	marker("begin", "migrate-back");
	ret = ioctl(dm, HMM_DMIRROR_MIGRATE_TO_DEV, &cmd) ? -errno : 0;
	bad = first_mismatch(buf, want, len);	/* the CPU fault */
	marker("end", "migrate-back");
	ksft_test_result(!ret && cmd.cpages == 16 && bad < 0,
			 "migrate-back: %llu of 16 pages to VRAM (ret %d), back by a CPU read: %s\n",
			 (unsigned long long)cmd.cpages, ret,
			 bad < 0 ? "intact" : "wrong data");
	free(mirror);
	free(want);
	munmap(buf, len);
	close(dm);
}

int main(void)
{
	struct hmmdev_fn fns[MAX_DEVS];
	int n = find_hmmdevs(fns, MAX_DEVS), fd;

	ksft_print_header();
	ksft_set_plan(3);
	marker_fd = open(MARKER, O_WRONLY);
	if (marker_fd < 0)
		ksft_print_msg("no %s (tracing off): the scenarios run unmarked\n", MARKER);
	if (n < 1 || !fns[0].node[0])
		ksft_exit_fail_msg("no bound hmmdev\n");
	fd = open(fns[0].node, O_RDWR);
	if (fd < 0)
		ksft_exit_fail_msg("%s: %s\n", fns[0].node, strerror(errno));
	if (policy(fd, 1, 0))
		ksft_exit_fail_msg("SET_POLICY: %s\n", strerror(errno));
	fault_once(fd);
	munmap_under_job(fd);
	migrate_back();
	close(fd);
	ksft_finished();
}
