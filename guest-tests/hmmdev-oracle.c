// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev-oracle: the device's coherence oracle (qemu-device/SPEC.rst,
 * "Coherence oracle"), in a VM whose devices run with oracle=fail
 * (run-vm.sh).
 *
 * - The device's decoder of CPU entries against the entries this kernel
 *   makes (debugfs oracle_selftest): every one decoded right.
 * - Each protocol bug the driver can seed (debugfs seed_bug) is caught at
 *   the device's first use of the stale translation: the job fails with
 *   ESTALE, before a byte moved, and the device counts the violation.  The
 *   same scenario without the seed passes, with the right data and no
 *   violation -- the seeds are what makes the difference.
 *     skip-invalidate       MADV_DONTNEED under a device mapping
 *     writable-always       a device write to a COW page after fork()
 *     ignore-own-migration  a migration to VRAM, as lib/test_hmm.c filters
 *   (skip-sync needs a translation held across the unmap: hmmdev-failure,
 *   whose hmmdev2 waits between translation and use.)
 *
 * Usage: hmmdev-oracle
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <sys/wait.h>

#include "hmmdev_test_util.h"
#include <lib/test_hmm_uapi.h>

#define SIZE		(64 << 10)
#define NPAGES		(SIZE / 4096)

static struct hmmdev_fn *fn;	/* the device under test */

static long long violation_count(void)
{
	return debugfs_counter(fn->bdf, "device.oracle-violations");
}

static int seed(const char *bug)
{
	char path[512];

	snprintf(path, sizeof(path), "/sys/kernel/debug/hmmdev/%.64s/seed_bug",
		 fn->bdf);
	return sysfs_write(path, bug);
}

static int job(int fd, uint32_t op, void *src, void *dst, uint64_t value)
{
	struct hmmdev_job j = {
		.op = op, .src = (uintptr_t)src, .dst = (uintptr_t)dst,
		.length = SIZE, .value = value,
	};

	return ioctl(fd, HMMDEV_IOC_JOB, &j) ? -errno : 0;
}

static uint8_t *pattern_buffer(uint64_t seed_value)
{
	uint8_t *buf = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (buf == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	fill_pattern(buf, SIZE, seed_value);
	return buf;
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/*
 * The device mirrors buf, then MADV_DONTNEED drops it: a device read
 * afterwards must see zeros (fault, zero page) -- not the freed pages.
 */
static int scenario_dontneed(bool seeded, bool *data_ok)
{
	uint8_t *buf = pattern_buffer(21), *out = calloc(1, SIZE);
	int fd = open(fn->node, O_RDWR), ret;

	ret = job(fd, HMMDEV_JOB_COPY, buf, out, 0);
	if (!ret) {
		if (seeded)
			seed("skip-invalidate");
		madvise(buf, SIZE, MADV_DONTNEED);
		seed("none");
		ret = job(fd, HMMDEV_JOB_COPY, buf, out, 0);
	}
	*data_ok = seeded ? ret != 0 : !ret && all_bytes(out, SIZE, 0);
	close(fd);
	munmap(buf, SIZE);
	free(out);
	return ret;
}

/*
 * After fork() the parent's pages are copy-on-write: the device reads
 * them, then writes them.  The write must break the COW (a write fault);
 * the child must keep its data.
 */
static int scenario_cow(bool seeded, bool *data_ok)
{
	uint8_t *buf = pattern_buffer(22), *out = calloc(1, SIZE);
	int fd = open(fn->node, O_RDWR), ret, status = 0, go[2];
	pid_t child;

	if (pipe(go))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	child = fork();
	if (child == 0) {
		uint8_t *want = malloc(SIZE);
		char c;

		fill_pattern(want, SIZE, 22);
		close(go[1]);
		if (read(go[0], &c, 1) < 0)
			_exit(2);
		_exit(memcmp(buf, want, SIZE) ? 1 : 0);
	}
	close(go[0]);
	if (seeded)
		seed("writable-always");
	ret = job(fd, HMMDEV_JOB_COPY, buf, out, 0);   /* read faults */
	seed("none");
	if (!ret)
		ret = job(fd, HMMDEV_JOB_FILL, NULL, buf, 0xaaaaaaaaaaaaaaaaull);
	if (write(go[1], "x", 1) < 0)
		ret = -EPIPE;
	waitpid(child, &status, 0);
	*data_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		   (seeded ? ret != 0 : !ret && all_bytes(buf, SIZE, 0xaa));
	close(go[1]);
	close(fd);
	munmap(buf, SIZE);
	free(out);
	return ret;
}

/*
 * The device mirrors buf through /dev/hmmdevN, then the pages migrate to
 * its VRAM through /dev/hmm_dmirrorN: a device read afterwards must find
 * them in VRAM, with the same data.
 */
static int scenario_migrate(bool seeded, bool *data_ok)
{
	uint8_t *buf = pattern_buffer(23), *out = calloc(1, SIZE);
	uint8_t *want = malloc(SIZE), *mirror = malloc(SIZE);
	char dmirror_node[64];
	int fd = open(fn->node, O_RDWR), dm, ret;
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)buf, .ptr = (uintptr_t)mirror,
		.npages = NPAGES,
	};

	snprintf(dmirror_node, sizeof(dmirror_node), "/dev/hmm_dmirror%s",
		 fn->node + strlen("/dev/hmmdev"));
	dm = open(dmirror_node, O_RDWR);
	fill_pattern(want, SIZE, 23);
	ret = dm < 0 ? -errno : job(fd, HMMDEV_JOB_COPY, buf, out, 0);
	if (!ret) {
		if (seeded)
			seed("ignore-own-migration");
		ret = ioctl(dm, HMM_DMIRROR_MIGRATE_TO_DEV, &cmd) ? -errno : 0;
		seed("none");
		if (!ret && cmd.cpages != NPAGES)
			ret = -ENOENT;
	}
	if (!ret) {
		memset(out, 0, SIZE);
		ret = job(fd, HMMDEV_JOB_COPY, buf, out, 0);
	}
	*data_ok = seeded ? ret == -ESTALE : !ret && !memcmp(out, want, SIZE);
	if (dm >= 0)
		close(dm);
	close(fd);
	munmap(buf, SIZE);
	free(out);
	free(want);
	free(mirror);
	return ret;
}

static const struct {
	const char *bug;
	const char *what;
	int (*run)(bool seeded, bool *data_ok);
} scenarios[] = {
	{ "skip-invalidate", "MADV_DONTNEED under a device mapping",
	  scenario_dontneed },
	{ "writable-always", "a device write to a COW page after fork()",
	  scenario_cow },
	{ "ignore-own-migration", "migration to VRAM of mirrored pages",
	  scenario_migrate },
};

static void selftest(void)
{
	char path[512], line[256];
	unsigned int checked = 0, wrong = ~0u;
	FILE *f;

	snprintf(path, sizeof(path),
		 "/sys/kernel/debug/hmmdev/%.64s/oracle_selftest", fn->bdf);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "WRONG", 5))
			ksft_print_msg("%s", line);
		if (sscanf(line, "checked %u, wrong %u", &checked, &wrong) != 2)
			continue;
	}
	if (f)
		fclose(f);
	ksft_test_result(checked >= 30 && wrong == 0,
			 "%s: the device decodes the CPU entries this kernel makes: %u checked, %d wrong%s\n",
			 fn->node, checked, (int)wrong, f ? "" : " (no oracle_selftest)");
}

/* 5 where the kernel runs 5-level paging (la57 in /proc/cpuinfo) */
static int paging_levels(void)
{
	char line[4096];
	FILE *f = fopen("/proc/cpuinfo", "r");
	int levels = 4;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags", 5) && strstr(line, " la57"))
			levels = 5;
	if (f)
		fclose(f);
	return levels;
}

int main(void)
{
	struct hmmdev_fn fns[MAX_DEVS];
	int n = find_hmmdevs(fns, MAX_DEVS), i, s, ret;
	bool data_ok;
	long long v0, v;

	ksft_print_header();
	if (n < 1 || !fns[0].node[0])
		ksft_exit_fail_msg("no bound hmmdev device\n");
	/* the private device, and a coherent one where there is one */
	ksft_set_plan((n > 2 ? 2 : 1) * (1 + 2 * ARRAY_SIZE(scenarios)));
	ksft_print_msg("CPU page tables: %d levels, named to the device as such\n",
		       paging_levels());
	for (i = 0; i < n && i <= 2; i += 2) {
		fn = &fns[i];
		selftest();
		for (s = 0; s < (int)ARRAY_SIZE(scenarios); s++) {
			v0 = violation_count();
			ret = scenarios[s].run(false, &data_ok);
			v = violation_count() - v0;
			ksft_test_result(!ret && data_ok && v == 0,
					 "%s: %s, no seeded bug: %s, data %s, %lld violations (want 0)\n",
					 fn->node, scenarios[s].what,
					 strerror(-ret), data_ok ? "right" : "WRONG", v);
			v0 = violation_count();
			ret = scenarios[s].run(true, &data_ok);
			v = violation_count() - v0;
			ksft_test_result(ret == -ESTALE && data_ok && v >= 1,
					 "%s: %s, seeded %s: caught at first use (%s, want ESTALE), data %s, %lld violations (want >= 1)\n",
					 fn->node, scenarios[s].what,
					 scenarios[s].bug, strerror(-ret),
					 data_ok ? "intact" : "WRONG", v);
		}
	}
	ksft_finished();
}
