// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev-failure: run in a VM whose hmmdev0 swallows one SYNC completion
 * (x-inject-drop-syncs=1) and whose hmmdev1 reads all-ones from FQ_TAIL
 * (x-inject-bad-fq-tail=1), as run-vm.sh --suite failure sets them.
 *
 * hmmdev0: an invalidation of memory the device mirrors must not wait
 * forever: after the driver's SYNC timeout the device is declared failed
 * and reset, the munmap returns, and, with automatic recovery off (module
 * parameter recover=0), every later device call fails with -EIO.  Data the
 * process had in the failed device's memory comes back intact (the CPU
 * copies it out of BAR2), not as zeros.  Then a recovery (debugfs recover)
 * brings the device back: jobs work again, without rebinding.
 *
 * hmmdev1: a device fault meets a fault-queue tail outside the ring: the
 * driver fails the device at once (the job gets EIO in well under the job
 * timeout) instead of spinning on the ring.
 *
 * hmmdev2 waits 0.2 s between a translation and its use
 * (x-inject-xlate-delay-us=200000): a MADV_DONTNEED during that wait must
 * wait for the device (INVALIDATE + SYNC) before the CPU drops the page.
 * With the SYNC left out (the seeded bug skip-sync, debugfs seed_bug) the
 * device's coherence oracle catches the engine using the dropped page.
 *
 * hmmdev3 has a single engine (engines=1): a job whose fault migrates its
 * pages to VRAM holds that engine while the migration copies, which must
 * not wait for it.
 */
#include <pthread.h>
#include <stdbool.h>
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

struct late_job {
	int fd;
	void *src, *dst;
	int err;
};

static void *late_job_run(void *arg)
{
	struct late_job *j = arg;

	j->err = job_copy(j->fd, j->src, j->dst, 4096);
	return NULL;
}

static int set_seed(struct hmmdev_fn *fn, const char *bug)
{
	char path[512];

	snprintf(path, sizeof(path), "/sys/kernel/debug/hmmdev/%.64s/seed_bug",
		 fn->bdf);
	return sysfs_write(path, bug);
}

/* One page copied while the CPU drops it; @seeded: without the SYNC. */
static void late_invalidation(struct hmmdev_fn *fn, bool seeded)
{
	char *buf = populated(4096, 0x5a), *out = populated(4096, 0);
	struct late_job j = { open(fn->node, O_RDWR), buf, out, 0 };
	long long v0 = debugfs_counter(fn->bdf, "device.oracle-violations");
	long long v;
	double t0, waited;
	pthread_t t;
	int warm;

	warm = job_copy(j.fd, buf, out, 4096);    /* the device maps both */
	memset(out, 0, 4096);
	pthread_create(&t, NULL, late_job_run, &j);
	usleep(100 * 1000);     /* the engine waits to use its translation */
	if (seeded)
		set_seed(fn, "skip-sync");
	t0 = now_s();
	madvise(buf, 4096, MADV_DONTNEED);
	waited = now_s() - t0;
	set_seed(fn, "none");
	pthread_join(t, NULL);
	v = debugfs_counter(fn->bdf, "device.oracle-violations") - v0;
	if (seeded)
		ksft_test_result(!warm && j.err == ESTALE && v >= 1,
				 "late invalidation (seeded skip-sync): MADV_DONTNEED returned after %.3f s, the job %s (want ESTALE), %lld violations (want >= 1)\n",
				 waited, strerror(j.err), v);
	else
		ksft_test_result(!warm && !j.err && out[0] == 0x5a &&
				 waited > 0.05 && v == 0,
				 "invalidation during a delayed use: MADV_DONTNEED waited %.3f s for the device (want > 0.05), the job %s, data %s, %lld violations (want 0)\n",
				 waited, strerror(j.err),
				 out[0] == 0x5a ? "copied" : "WRONG", v);
	close(j.fd);
	munmap(buf - 4096, 3 * 4096);
	munmap(out - 4096, 3 * 4096);
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
	char path[512];
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

	/* recovery: the same device, the same file, working again */
	snprintf(path, sizeof(path), "/sys/kernel/debug/hmmdev/%.64s/recover",
		 fn->bdf);
	t0 = now_s();
	err = -sysfs_write(path, "1");
	waited = now_s() - t0;
	memset(d, 0, VRAM_BYTES);
	err = err ?: job_copy(fd, c, d, VRAM_BYTES);
	ksft_test_result(!err && first_mismatch(d, want, VRAM_BYTES) < 0 &&
			 debugfs_counter(fn->bdf, "driver.recoveries") == 1 &&
			 debugfs_counter(fn->bdf, "driver.failed") == 0,
			 "failure: recovered in %.3f s without rebinding: a job copies again (%s), %lld recovery\n",
			 waited, strerror(err),
			 debugfs_counter(fn->bdf, "driver.recoveries"));
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
	int n;

	ksft_print_header();
	ksft_set_plan(10);
	/* the failure path itself, without automatic recovery */
	n = sysfs_write("/sys/module/hmmdev/parameters/recover", "0");
	if (n)
		ksft_exit_fail_msg("recover=0: %s\n", strerror(-n));
	n = find_hmmdevs(fns, MAX_DEVS);
	if (n < 4 || !fns[0].node[0] || !fns[1].node[0] || !fns[2].node[0] ||
	    !fns[3].node[0])
		ksft_exit_fail_msg("needs hmmdev0..3 bound (found %d)\n", n);
	test_sync_loss(&fns[0]);
	test_bad_fault_tail(&fns[1]);
	sysfs_write("/sys/module/hmmdev/parameters/recover", "1");
	late_invalidation(&fns[2], false);
	late_invalidation(&fns[2], true);
	test_one_engine(&fns[3]);
	ksft_finished();
}
