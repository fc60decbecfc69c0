// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev-bench: mirror read bandwidth and migration bandwidth through the
 * test_hmm uapi (so the same program measures hmmdev and the kernel's
 * test_hmm in the same VM), and, on hmmdev, the device fault round trip
 * with fault-around on and off.
 * Results are "# bench:" lines; the data read is verified ("ok" lines).
 *
 *   hmmdev-bench LABEL [--faults]
 */
#include <stdbool.h>
#include <sys/mman.h>

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

/* p50/p99 of the last measurement, from debugfs. */
static void read_latency(const char *bdf, long *p50, long *p99, long *n)
{
	char path[512], name[32];
	long val;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/hmmdev/%s/fault_latency",
		 bdf);
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

/* A copy job over untouched memory: every fault is a device round trip. */
static bool bench_faults(struct hmmdev_fn *fn, unsigned int around)
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
	read_latency(fn->bdf, &p50, &p99, &n);
	ksft_print_msg("bench: hmmdev fault round trip, fault-around %u page(s): p50 %ld us, p99 %ld us over %ld faults; 16 MiB copy in %.1f ms\n",
		       around, p50, p99, n, j.device_ns / 1e6);
	close(fd);
	munmap(src, JOB_SIZE);
	munmap(dst, JOB_SIZE);
	return ok && n > 0;
}

static double mibs(double seconds)
{
	return SIZE / 1048576.0 / seconds;
}

/*
 * Migration, 64 MiB: to device memory, back by ioctl, and back by CPU
 * faults (one read per page).  Returns true when every step moved every
 * page and the data survived.
 */
static bool bench_migration(int fd, const char *label)
{
	uint8_t *buf = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *want = malloc(SIZE), *out = malloc(SIZE);
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)buf, .ptr = (uintptr_t)out,
		.npages = SIZE / 4096,
	};
	double t0, to_dev, to_sys, by_cpu;
	unsigned long sum = 0;
	bool ok = true;
	size_t off;

	fill_pattern(want, SIZE, 77);
	memcpy(buf, want, SIZE);
	t0 = now_s();
	ok &= !ioctl(fd, HMM_DMIRROR_MIGRATE_TO_DEV, &cmd) &&
	      cmd.cpages == SIZE / 4096;
	to_dev = now_s() - t0;
	cmd.cpages = 0;
	t0 = now_s();
	ok &= !ioctl(fd, HMM_DMIRROR_MIGRATE_TO_SYS, &cmd) &&
	      cmd.cpages == SIZE / 4096;
	to_sys = now_s() - t0;
	ok &= !ioctl(fd, HMM_DMIRROR_MIGRATE_TO_DEV, &cmd);
	t0 = now_s();
	/* one read per page: each one a CPU fault that migrates it back */
	for (off = 0; off < SIZE; off += 4096)
		sum += buf[off + 8];
	by_cpu = now_s() - t0;
	ok &= first_mismatch(buf, want, SIZE) < 0;
	ksft_print_msg("bench: %s migration 64 MiB: to device %.0f MiB/s, back by ioctl %.0f MiB/s, back by CPU faults %.0f MiB/s (%lu)\n",
		       label, mibs(to_dev), mibs(to_sys), mibs(by_cpu), sum);
	munmap(buf, SIZE);
	free(want);
	free(out);
	return ok;
}

int main(int argc, char **argv)
{
	const char *label = argc > 1 ? argv[1] : "device";
	bool faults = argc > 2 && !strcmp(argv[2], "--faults");
	struct hmmdev_fn fns[MAX_DEVS];
	int fd = open("/dev/hmm_dmirror0", O_RDWR);
	uint8_t *buf, *out;
	uint64_t f_cold, f_warm;
	double cold, warm;
	bool ok_cold, ok_warm;

	ksft_print_header();
	ksft_set_plan(faults ? 5 : 3);
	if (fd < 0)
		ksft_exit_fail_msg("/dev/hmm_dmirror0: %s\n", strerror(errno));
	buf = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	out = malloc(SIZE);
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
	ksft_test_result(bench_migration(fd, label),
			 "bench %s: migrations moved every page, data verified\n",
			 label);
	if (faults) {
		find_hmmdevs(fns, MAX_DEVS);
		ksft_test_result(bench_faults(&fns[0], 16),
				 "bench %s: fault round trips with fault-around\n",
				 label);
		ksft_test_result(bench_faults(&fns[0], 1),
				 "bench %s: fault round trips without fault-around\n",
				 label);
	}
	ksft_finished();
}
