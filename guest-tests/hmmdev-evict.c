// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev-evict: pages that live in a device's VRAM survive the device going
 * away -- unbind and rmmod first copy every device page back to system
 * memory.  The process's data must be intact, and the process alive.  The
 * buffers are THPs: on kernels with huge device pages they sit in VRAM as
 * 2 MiB device pages of a process that no longer has a mirror.
 */
#include <stdbool.h>
#include <sys/mman.h>

#include "hmmdev_test_util.h"
#include <lib/test_hmm_uapi.h>

#define SIZE	(4ul << 20)

static long vram_pages_used(const struct hmmdev_fn *fn)
{
	return debugfs_counter(fn->bdf, "driver.devmem_used");
}

/*
 * A buffer with a pattern, migrated to the first device's VRAM: in two
 * 2 MiB device pages where the kernel has them (*@thps counts them).
 */
static uint8_t *migrated_buffer(uint64_t seed, long *in_vram, long *thps,
				const struct hmmdev_fn *fn)
{
	/* after open(): the first one after a load runs a self-test */
	int fd = open("/dev/hmm_dmirror0", O_RDWR);
	long long thp0 = debugfs_counter(fn->bdf, "driver.thp_to_dev");
	uint8_t *buf = thp_mmap(SIZE);
	uint8_t *mirror = malloc(SIZE);
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)buf, .ptr = (uintptr_t)mirror,
		.npages = SIZE / 4096,
	};

	fill_pattern(buf, SIZE, seed);
	if (fd < 0 || ioctl(fd, HMM_DMIRROR_MIGRATE_TO_DEV, &cmd) ||
	    cmd.cpages != SIZE / 4096)
		*in_vram = -1;
	else
		*in_vram = vram_pages_used(fn);
	*thps = debugfs_counter(fn->bdf, "driver.thp_to_dev") - thp0;
	close(fd);
	free(mirror);
	return buf;
}

static bool intact(uint8_t *buf, uint64_t seed)
{
	uint8_t *want = malloc(SIZE);
	bool ok;

	fill_pattern(want, SIZE, seed);
	ok = first_mismatch(buf, want, SIZE) < 0;
	free(want);
	return ok;
}

int main(void)
{
	struct hmmdev_fn fns[MAX_DEVS];
	int n = find_hmmdevs(fns, MAX_DEVS), un, load;
	long in_vram, after, thps, want_thps = kernel_has_device_thp() ? 2 : 0;
	uint8_t *buf;

	ksft_print_header();
	ksft_set_plan(2);
	if (n < 1)
		ksft_exit_fail_msg("no hmmdev device\n");

	buf = migrated_buffer(11, &in_vram, &thps, &fns[0]);
	un = sysfs_write("/sys/bus/pci/drivers/hmmdev/unbind", fns[0].bdf);
	ksft_test_result(in_vram >= (long)(SIZE / 4096) && thps == want_thps &&
			 !un && intact(buf, 11),
			 "evict-unbind: %ld pages in VRAM (%ld of them 2 MiB pages, want %ld), device unbound (%d), data intact from the CPU\n",
			 in_vram, thps, want_thps, un);
	sysfs_write("/sys/bus/pci/drivers/hmmdev/bind", fns[0].bdf);
	munmap(buf, SIZE);

	buf = migrated_buffer(12, &in_vram, &thps, &fns[0]);
	un = unload_module();
	load = load_module();
	n = find_hmmdevs(fns, MAX_DEVS);
	after = vram_pages_used(&fns[0]);
	ksft_test_result(in_vram >= (long)(SIZE / 4096) && thps == want_thps &&
			 !un && !load && intact(buf, 12) && after == 0,
			 "evict-rmmod: %ld pages in VRAM (%ld of them 2 MiB pages, want %ld), rmmod %d, data intact, insmod %d, %ld pages in VRAM after\n",
			 in_vram, thps, want_thps, un, load, after);
	munmap(buf, SIZE);
	ksft_finished();
}
