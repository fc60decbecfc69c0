// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev-failure: run in a VM whose hmmdev0 swallows one SYNC completion
 * (x-inject-drop-syncs=1) and whose hmmdev1 reads all-ones from FQ_TAIL
 * (x-inject-bad-fq-tail=1), as run-vm.sh --suite failure sets them.
 *
 * hmmdev0: an invalidation of memory the device mirrors must not wait
 * forever: after the driver's SYNC timeout the device is declared failed
 * and reset, the munmap returns, and every later device call fails with
 * -EIO.  Data the process had in the failed device's memory comes back
 * intact (the CPU copies it out of BAR2), not as zeros.
 *
 * hmmdev1: a device fault meets a fault-queue tail outside the ring: the
 * driver fails the device at once (the job gets EIO in well under the job
 * timeout) instead of spinning on the ring.
 *
 * hmmdev3 has a single engine (engines=1): a job whose fault migrates its
 * pages to VRAM holds that engine while the migration copies, which must
 * not wait for it.
 */
#include <sys/mman.h>

#include "hmmdev_test_util.h"

#define VRAM_BYTES	(256 << 10)

/*
 * A CPU-populated buffer in a VMA of its own: inaccessible guard pages on
 * both sides keep it from merging with its neighbours, so that the device's
 * fault-around (clamped to the VMA) never reaches them.
 */
static void *populated(size_t len, int byte)
{
	char *p = mmap(NULL, len + 2 * 4096, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || mprotect(p + 4096, len, PROT_READ | PROT_WRITE))
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	memset(p + 4096, byte, len);
	return p + 4096;
}

static int job_copy(int fd, void *src, void *dst, size_t len)
{
	struct hmmdev_job j = {
		.op = HMMDEV_JOB_COPY, .src = (uintptr_t)src,
		.dst = (uintptr_t)dst, .length = len,
	};

	return ioctl(fd, HMMDEV_IOC_JOB, &j) ? errno : 0;
}

static void test_sync_loss(struct hmmdev_fn *fn)
{
	size_t len = 1 << 20;
	struct hmmdev_policy pol = {
		.fault_around = 16, .flags = HMMDEV_POLICY_MIGRATE_ON_FAULT,
	};
	/*
	 * Every buffer CPU-populated: the jobs' faults then need no
	 * invalidation (a zero page mapped by fault-around and written by
	 * the device would: copy-on-write), so the first SYNC is munmap's.
	 */
	uint8_t *a = populated(len, 9), *b = populated(len, 0);
	uint8_t *c = populated(VRAM_BYTES, 0), *d = populated(VRAM_BYTES, 0);
	uint8_t *want = malloc(VRAM_BYTES);
	int fd = open(fn->node, O_RDWR), ret, err;
	long long moved, rescued;
	double t0, waited;
	long bad;

	fill_pattern(c, VRAM_BYTES, 0xfa11);
	memcpy(want, c, VRAM_BYTES);
	ret = fd < 0 ? ENODEV : job_copy(fd, a, b, len);
	ksft_test_result(!ret && b[len - 1] == 9,
			 "failure: the device mirrors a buffer (%s)\n",
			 strerror(ret));

	/* c moves into VRAM: the device's first touch migrates it */
	ret = ioctl(fd, HMMDEV_IOC_SET_POLICY, &pol) ? errno : 0;
	ret = ret ?: job_copy(fd, c, d, VRAM_BYTES);
	moved = debugfs_counter(fn->bdf, "driver.migrations_to_dev");
	/* (no CPU look at c or d yet: taking them back would SYNC) */
	ksft_test_result(!ret && moved >= VRAM_BYTES / 4096,
			 "failure: %lld pages moved into VRAM by a job (%s)\n",
			 moved, strerror(ret));

	t0 = now_s();
	munmap(a, len);         /* INVALIDATE + SYNC, whose fence never lands */
	waited = now_s() - t0;
	ksft_test_result(waited > 5 && waited < 60,
			 "failure: munmap returned after %.1f s (the SYNC timeout), not never\n",
			 waited);
	err = job_copy(fd, b, d, len < VRAM_BYTES ? len : VRAM_BYTES);
	ksft_test_result(err == EIO, "failure: later jobs fail with errno %d (EIO)\n",
			 err);

	/* the CPU takes c and d back from a failed device: no silent zeros */
	t0 = now_s();
	bad = first_mismatch(c, want, VRAM_BYTES);
	if (bad < 0)
		bad = first_mismatch(d, want, VRAM_BYTES);
	waited = now_s() - t0;
	rescued = debugfs_counter(fn->bdf, "driver.pages_rescued");
	ksft_test_result(bad < 0 && rescued >= VRAM_BYTES / 4096 && waited < 10,
			 "failure: VRAM data back intact from the failed device (%lld pages rescued by CPU copy, first bad byte %ld, %.1f s)\n",
			 rescued, bad, waited);
	close(fd);
	free(want);
}

static void test_bad_fault_tail(struct hmmdev_fn *fn)
{
	size_t len = 64 << 10;
	uint8_t *src = populated(len, 3), *dst = populated(len, 0);
	int fd = open(fn->node, O_RDWR), err;
	double t0 = now_s(), took;

	err = fd < 0 ? ENODEV : job_copy(fd, src, dst, len);
	took = now_s() - t0;
	ksft_test_result(err == EIO && took < 10 &&
			 debugfs_counter(fn->bdf, "driver.failed") == 1,
			 "failure: FQ_TAIL all-ones: the faulting job got errno %d (EIO) after %.1f s, device failed\n",
			 err, took);
	if (fd >= 0)
		close(fd);
}

static void test_one_engine(struct hmmdev_fn *fn)
{
	struct hmmdev_policy pol = {
		.fault_around = 16, .flags = HMMDEV_POLICY_MIGRATE_ON_FAULT,
	};
	uint8_t *src = populated(VRAM_BYTES, 0), *dst = populated(VRAM_BYTES, 0);
	uint8_t *want = malloc(VRAM_BYTES);
	int fd = open(fn->node, O_RDWR), err;
	struct hmmdev_info info = {};
	long long moved;
	double t0, took;

	fill_pattern(src, VRAM_BYTES, 0x1e);
	memcpy(want, src, VRAM_BYTES);
	err = fd < 0 || ioctl(fd, HMMDEV_IOC_INFO, &info) ||
	      ioctl(fd, HMMDEV_IOC_SET_POLICY, &pol) ? errno : 0;
	t0 = now_s();
	err = err ?: job_copy(fd, src, dst, VRAM_BYTES);
	took = now_s() - t0;
	moved = debugfs_counter(fn->bdf, "driver.migrations_to_dev");
	ksft_test_result(!err && info.engines == 1 && took < 10 &&
			 moved >= VRAM_BYTES / 4096 &&
			 first_mismatch(dst, want, VRAM_BYTES) < 0 &&
			 first_mismatch(src, want, VRAM_BYTES) < 0,
			 "failure: one engine: a job migrating its own pages finished in %.1f s (%s, %u engine(s), %lld pages moved)\n",
			 took, strerror(err), info.engines, moved);
	if (fd >= 0)
		close(fd);
	free(want);
}

int main(void)
{
	struct hmmdev_fn fns[MAX_DEVS];
	int n = find_hmmdevs(fns, MAX_DEVS);

	ksft_print_header();
	ksft_set_plan(7);
	if (n < 4 || !fns[0].node[0] || !fns[1].node[0] || !fns[3].node[0])
		ksft_exit_fail_msg("needs hmmdev0, 1 and 3 bound (found %d)\n", n);
	test_sync_loss(&fns[0]);
	test_bad_fault_tail(&fns[1]);
	test_one_engine(&fns[3]);
	ksft_finished();
}
