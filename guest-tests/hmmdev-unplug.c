// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev-unplug: moves 4 MiB into the VRAM of the second device, then
 * waits (up to 120 s) for that device to be hot-unplugged from the host
 * (QMP device_del; see images/test-run-vm.sh) and checks that every byte
 * came back.  Exit status 0 when the data survived the unplug.
 */
#include <sys/mman.h>

#include "hmmdev_test_util.h"
#include <lib/test_hmm_uapi.h>

#define SIZE	(4ul << 20)

int main(void)
{
	uint8_t *buf = thp_mmap(SIZE);	/* 2 MiB device pages on 7.x */
	uint8_t *want = malloc(SIZE), *mirror = malloc(SIZE);
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)buf, .ptr = (uintptr_t)mirror,
		.npages = SIZE / 4096,
	};
	int fd = open("/dev/hmm_dmirror1", O_RDWR), i;
	long bad;

	fill_pattern(want, SIZE, 99);
	memcpy(buf, want, SIZE);
	if (fd < 0 || ioctl(fd, HMM_DMIRROR_MIGRATE_TO_DEV, &cmd) ||
	    cmd.cpages != SIZE / 4096) {
		printf("unplug: migration to /dev/hmm_dmirror1 failed: %s, %llu of %lu pages\n",
		       strerror(errno), (unsigned long long)cmd.cpages,
		       SIZE / 4096);
		return 1;
	}
	close(fd);
	printf("unplug: %llu pages in device 1's VRAM, waiting for the unplug\n",
	       (unsigned long long)cmd.cpages);
	fflush(stdout);
	for (i = 0; i < 1200 && access("/dev/hmm_dmirror1", F_OK) == 0; i++)
		usleep(100000);
	if (i == 1200) {
		printf("unplug: the device was not removed\n");
		return 1;
	}
	bad = first_mismatch(buf, want, SIZE);
	printf("unplug: device removed after %.1f s; data %s\n", i / 10.0,
	       bad < 0 ? "intact" : "LOST");
	return bad < 0 ? 0 : 1;
}
