// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev-failure: run in a VM whose hmmdev swallows SYNC completions
 * (-global hmmdev.x-inject-drop-syncs=1).  An invalidation of memory the
 * device mirrors must not wait forever: after the driver's SYNC timeout the
 * device is declared failed and reset, the munmap returns, and every later
 * device call fails with -EIO.
 */
#include <sys/mman.h>

#include "hmmdev_test_util.h"

int main(void)
{
	size_t len = 1 << 20;
	uint8_t *a = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *b = malloc(len);
	struct hmmdev_job j = {
		.op = HMMDEV_JOB_COPY, .src = (uintptr_t)a, .dst = (uintptr_t)b,
		.length = len,
	};
	int fd = open("/dev/hmmdev0", O_RDWR), ret, err;
	double t0, waited;

	ksft_print_header();
	ksft_set_plan(3);
	/*
	 * Both buffers CPU-populated: the job's faults then need no
	 * invalidation (a zero page mapped by fault-around and written by
	 * the device would: copy-on-write), so the first SYNC is munmap's.
	 */
	memset(a, 9, len);
	memset(b, 0, len);
	ret = ioctl(fd, HMMDEV_IOC_JOB, &j);
	ksft_test_result(fd >= 0 && !ret && b[len - 1] == 9,
			 "failure: the device mirrors a buffer\n");
	t0 = now_s();
	munmap(a, len);         /* INVALIDATE + SYNC, whose fence never lands */
	waited = now_s() - t0;
	ksft_test_result(waited > 5 && waited < 60,
			 "failure: munmap returned after %.1f s (the SYNC timeout), not never\n",
			 waited);
	ret = ioctl(fd, HMMDEV_IOC_JOB, &j);
	err = ret ? errno : 0;
	ksft_test_result(err == EIO, "failure: later jobs fail with errno %d (EIO)\n",
			 err);
	ksft_finished();
}
