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
 *          leaves no VRAM in use;
 *   THPs   (helper on) 2 MiB device pages come back whole, none split.
 *
 * debugfs counter driver.split_chunks says how many chunks the helper
 * moved (reported: which task takes a chunk is the scheduler's choice).
 */
#include <pthread.h>
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

/*
 * THPs come back whole: ROUNDS ranges of 2 MiB device pages moved back
 * with the helper on while another thread of the process keeps zapping a
 * page elsewhere (invalidations of the mm that do not touch the range),
 * none split.  The driver registers each 2 MiB move with the mirror and
 * reads the mm's invalidation sequence around it; an invalidation in the
 * middle of that read used to make the move go split (one 8 MiB chunk as
 * 4 KiB pages: the call ~5x slower), about one range in 25 without the
 * zapping thread, from the other task's own migrations
 * (hmmdev_back_register()).  On kernels without huge device pages the
 * pages are 4 KiB, both counters stay put, and 4 ranges are enough.
 */
#define ROUNDS		24
#define ROUNDS_4K	4

static bool zapping;	/* __atomic: the main thread stops the zapper */

static void *zap_elsewhere(void *page)
{
	while (__atomic_load_n(&zapping, __ATOMIC_RELAXED)) {
		madvise(page, 4096, MADV_DONTNEED);
		usleep(100);
	}
	return NULL;
}

static void test_thps(uint64_t seed)
{
	long long to_ram = counter("driver.thp_to_ram");
	long long splits = counter("driver.folio_splits");
	int rounds = kernel_has_device_thp() ? ROUNDS : ROUNDS_4K;
	long long want = rounds == ROUNDS ? ROUNDS * (SIZE >> 21) : 0;
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long cpages = 0;
	uint8_t *buf = NULL;
	bool ok = page != MAP_FAILED, started;
	pthread_t zapper;
	int r, ret = 0;

	__atomic_store_n(&zapping, true, __ATOMIC_RELAXED);
	started = ok && !pthread_create(&zapper, NULL, zap_elsewhere, page);
	ok = started;
	for (r = 0; r < rounds && ok; r++) {
		buf = in_vram(seed);
		ret = buf ? dmirror_cmd(HMM_DMIRROR_MIGRATE_TO_SYS, buf, SIZE,
					&cpages) : -ENOMEM;
		ok = !ret && cpages == SIZE / 4096 &&
		     (r < rounds - 1 || intact(buf, seed, 0, SIZE));
		if (buf)
			munmap(buf, SIZE);
	}
	__atomic_store_n(&zapping, false, __ATOMIC_RELAXED);
	if (started)
		pthread_join(zapper, NULL);
	if (page != MAP_FAILED)
		munmap(page, 4096);
	to_ram = counter("driver.thp_to_ram") - to_ram;
	splits = counter("driver.folio_splits") - splits;
	ksft_test_result(ok && to_ram == want && !splits,
			 "THPs back whole (helper on, another thread zapping elsewhere): %d of %d ranges back (%s), %lld THPs back whole (want %lld), %lld split, the last range's data intact\n",
			 r - !ok, rounds, strerror(-ret), to_ram, want, splits);
}

int main(void)
{
	struct hmmdev_fn fns[MAX_DEVS];
	int n = find_hmmdevs(fns, MAX_DEVS), off;

	ksft_print_header();
	ksft_set_plan(7);
	dmirror = open("/dev/hmm_dmirror0", O_RDWR);
	if (n < 1 || dmirror < 0)
		ksft_exit_fail_msg("no hmmdev0 with /dev/hmm_dmirror0\n");
	bdf = fns[0].bdf;
	if (sysfs_write(PARAM, "Y"))
		ksft_exit_fail_msg("cannot set %s\n", PARAM);
	test_whole("helper on", 21);
	test_hole("helper on", 22);
	test_kill("helper on", 23);
	test_thps(27);
	off = sysfs_write(PARAM, "N");
	test_whole(off ? "helper: cannot turn off" : "helper off", 24);
	test_hole("helper off", 25);
	test_kill("helper off", 26);
	sysfs_write(PARAM, "Y");
	close(dmirror);
	ksft_finished();
}
