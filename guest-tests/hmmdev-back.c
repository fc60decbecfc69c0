// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev-back: HMM_DMIRROR_MIGRATE_TO_SYS of a range of several chunks,
 * which the driver moves with a helper task beside the caller
 * (hmmdev_migrate_split(), module parameter parallel_migrate), and the
 * same with the helper off:
 *
 *   whole  every page comes back (cpages), the data is intact, the VRAM
 *          it used is free again;
 *   hole   a hole in the middle of the range ends it with EINVAL, the
 *          pages before the hole came back and the ones after it did not
 *          (they do with a second call);
 *   kill   a process killed while its range moves back exits at once and
 *          leaves no VRAM in use.
 *
 * debugfs counter driver.split_chunks says how many chunks the helper
 * moved (reported: which task takes a chunk is the scheduler's choice).
 */
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hmmdev_test_util.h"
#include <lib/test_hmm_uapi.h>

#define SIZE		(40ul << 20)	/* five of the driver's 8 MiB chunks */
#define HOLE		(20ul << 20)	/* offset of the 2 MiB hole */
#define PARAM		"/sys/module/hmmdev/parameters/parallel_migrate"

static const char *bdf;
static int dmirror = -1;

static long long counter(const char *name)
{
	return debugfs_counter(bdf, name);
}

static int dmirror_cmd(unsigned long req, void *addr, size_t len,
		       unsigned long *cpages)
{
	void *out = malloc(len);
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)addr, .ptr = (uintptr_t)out,
		.npages = len / 4096,
	};
	int ret = ioctl(dmirror, req, &cmd) ? -errno : 0;

	*cpages = cmd.cpages;
	free(out);
	return ret;
}

/* SIZE bytes of THPs with pattern @seed, in VRAM; NULL when not all moved */
static uint8_t *in_vram(uint64_t seed)
{
	uint8_t *buf = thp_mmap(SIZE);
	unsigned long cpages;

	if (!buf)
		return NULL;
	fill_pattern(buf, SIZE, seed);
	if (dmirror_cmd(HMM_DMIRROR_MIGRATE_TO_DEV, buf, SIZE, &cpages) ||
	    cpages != SIZE / 4096) {
		munmap(buf, SIZE);
		return NULL;
	}
	return buf;
}

/* [off, off + len) of @buf as fill_pattern(@seed) wrote it */
static bool intact(const uint8_t *buf, uint64_t seed, size_t off, size_t len)
{
	uint8_t *want = malloc(SIZE);
	bool ok;

	fill_pattern(want, SIZE, seed);
	ok = first_mismatch(buf + off, want + off, len) < 0;
	free(want);
	return ok;
}

static void test_whole(const char *mode, uint64_t seed)
{
	long long used = counter("driver.devmem_used");
	long long helper = counter("driver.split_chunks");
	unsigned long cpages = 0;
	uint8_t *buf = in_vram(seed);
	int ret = buf ? dmirror_cmd(HMM_DMIRROR_MIGRATE_TO_SYS, buf, SIZE,
				    &cpages) : -ENOMEM;

	ksft_test_result(!ret && cpages == SIZE / 4096 &&
			 counter("driver.devmem_used") == used &&
			 intact(buf, seed, 0, SIZE),
			 "whole (%s): %lu of %lu pages back (%s), VRAM used %lld -> %lld, data intact; the helper moved %lld chunks\n",
			 mode, cpages, SIZE / 4096, strerror(-ret), used,
			 counter("driver.devmem_used"),
			 counter("driver.split_chunks") - helper);
	if (buf)
		munmap(buf, SIZE);
}

static void test_hole(const char *mode, uint64_t seed)
{
	long long used = counter("driver.devmem_used"), mid = -1, after;
	const size_t tail = HOLE + TWO_MB;
	unsigned long cpages = 0, again = 0;
	uint8_t *buf = in_vram(seed);
	int ret = -ENOMEM, ret2 = -ENOMEM;

	if (buf && !munmap(buf + HOLE, TWO_MB)) {
		ret = dmirror_cmd(HMM_DMIRROR_MIGRATE_TO_SYS, buf, SIZE,
				  &cpages);
		mid = counter("driver.devmem_used");
		ret2 = dmirror_cmd(HMM_DMIRROR_MIGRATE_TO_SYS, buf + tail,
				   SIZE - tail, &again);
	}
	after = counter("driver.devmem_used");
	ksft_test_result(ret == -EINVAL && buf &&
			 mid - used == (long long)((SIZE - tail) / 4096) &&
			 !ret2 && again == (SIZE - tail) / 4096 &&
			 after == used && intact(buf, seed, 0, HOLE) &&
			 intact(buf, seed, tail, SIZE - tail),
			 "hole (%s): a 2 MiB hole at 20 MiB ends the move with %s (want EINVAL), %lld pages left in VRAM (want %lu), the rest moved by a second call (%s, %lu pages), data intact\n",
			 mode, strerror(-ret), mid - used,
			 (SIZE - tail) / 4096, strerror(-ret2), again);
	if (buf) {
		munmap(buf, HOLE);
		munmap(buf + tail, SIZE - tail);
	}
}

/* The child moves its range back until killed; how long its end took. */
static void test_kill(const char *mode, uint64_t seed)
{
	long long used = counter("driver.devmem_used");
	int status = 0, rounds = 0;
	double t_kill, t_end;
	pid_t pid = fork();

	if (pid == 0) {
		uint8_t *buf;
		unsigned long cpages;

		/* a mirror is its opener's: the child's own */
		close(dmirror);
		dmirror = open("/dev/hmm_dmirror0", O_RDWR);
		buf = dmirror < 0 ? NULL : in_vram(seed);

		while (buf) {
			dmirror_cmd(HMM_DMIRROR_MIGRATE_TO_SYS, buf, SIZE, &cpages);
			if (dmirror_cmd(HMM_DMIRROR_MIGRATE_TO_DEV, buf, SIZE,
					&cpages))
				break;
		}
		_exit(1);
	}
	while (pid > 0 && rounds++ < 100 &&
	       counter("driver.devmem_used") - used < (long long)(SIZE / 4096))
		usleep(20000);
	usleep(50000);
	t_kill = now_s();
	if (pid > 0)
		kill(pid, SIGKILL);
	if (pid > 0 && waitpid(pid, &status, 0) != pid)
		status = 0;
	t_end = now_s() - t_kill;
	ksft_test_result(pid > 0 && WIFSIGNALED(status) &&
			 WTERMSIG(status) == SIGKILL && t_end < 10 &&
			 counter("driver.devmem_used") == used,
			 "kill (%s): a process killed while moving 40 MiB back and forth ended in %.2f s, VRAM used %lld -> %lld\n",
			 mode, t_end, used, counter("driver.devmem_used"));
}

int main(void)
{
	struct hmmdev_fn fns[MAX_DEVS];
	int n = find_hmmdevs(fns, MAX_DEVS), off;

	ksft_print_header();
	ksft_set_plan(6);
	dmirror = open("/dev/hmm_dmirror0", O_RDWR);
	if (n < 1 || dmirror < 0)
		ksft_exit_fail_msg("no hmmdev0 with /dev/hmm_dmirror0\n");
	bdf = fns[0].bdf;
	if (sysfs_write(PARAM, "Y"))
		ksft_exit_fail_msg("cannot set %s\n", PARAM);
	test_whole("helper on", 21);
	test_hole("helper on", 22);
	test_kill("helper on", 23);
	off = sysfs_write(PARAM, "N");
	test_whole(off ? "helper: cannot turn off" : "helper off", 24);
	test_hole("helper off", 25);
	test_kill("helper off", 26);
	sysfs_write(PARAM, "Y");
	close(dmirror);
	ksft_finished();
}
