/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the hmmdev guest tests: find the devices, copy through
 * the DMA ioctl, patterns.
 */
#ifndef HMMDEV_TEST_UTIL_H
#define HMMDEV_TEST_UTIL_H

#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <linux/hmmdev.h>

#include "kselftest.h"

#define HMMDEV_VENDOR	0x1234
#define HMMDEV_DEVICE	0x4844
#define MAX_DEVS	8

struct hmmdev_fn {
	char bdf[NAME_MAX + 1];	/* 0000:01:00.0 */
	char node[NAME_MAX + 8];	/* /dev/hmmdevN, "" when not bound */
	unsigned long long bar2_size;
};

static inline int read_hex(const char *path, unsigned long long *val)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -1;
	ok = fscanf(f, "%llx", val) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

/* A driver counter of /sys/kernel/debug/hmmdev/BDF/counters, or -1. */
static inline long long debugfs_counter(const char *bdf, const char *counter)
{
	char path[512], name[64];
	long long val, found = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/hmmdev/%.64s/counters",
		 bdf);
	f = fopen(path, "r");
	while (f && fscanf(f, "%63s %lld", name, &val) == 2)
		if (!strcmp(name, counter))
			found = val;
	if (f)
		fclose(f);
	return found;
}

/* Every hmmdev PCI function, bound or not, sorted by BDF. */
static inline int find_hmmdevs(struct hmmdev_fn *fns, int max)
{
	struct dirent **ents;
	int n, i, count = 0;

	n = scandir("/sys/bus/pci/devices", &ents, NULL, alphasort);
	for (i = 0; i < n; i++) {
		char path[512];
		unsigned long long vendor, device, start, end, flags;
		struct hmmdev_fn *fn = &fns[count];
		struct dirent *m;
		DIR *misc;
		FILE *res;

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor",
			 ents[i]->d_name);
		if (read_hex(path, &vendor) || vendor != HMMDEV_VENDOR)
			goto next;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device",
			 ents[i]->d_name);
		if (read_hex(path, &device) || device != HMMDEV_DEVICE ||
		    count == max)
			goto next;
		memset(fn, 0, sizeof(*fn));
		snprintf(fn->bdf, sizeof(fn->bdf), "%s", ents[i]->d_name);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/misc",
			 ents[i]->d_name);
		misc = opendir(path);
		while (misc && (m = readdir(misc)))
			if (!strncmp(m->d_name, "hmmdev", 6))
				snprintf(fn->node, sizeof(fn->node), "/dev/%s",
					 m->d_name);
		if (misc)
			closedir(misc);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource",
			 ents[i]->d_name);
		res = fopen(path, "r");
		/* line 3 of "resource" is BAR2 */
		for (int l = 0; res && l < 3; l++)
			if (fscanf(res, "%llx %llx %llx", &start, &end, &flags) == 3 &&
			    l == 2)
				fn->bar2_size = end - start + 1;
		if (res)
			fclose(res);
		count++;
next:
		free(ents[i]);
	}
	free(ents);
	return count;
}

static inline void fill_pattern(void *buf, size_t len, uint64_t seed)
{
	uint64_t *p = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		p[i] = (seed << 40) ^ (i * 0x9e3779b97f4a7c15ull);
}

/* Index of the first differing 8-byte word, or -1. */
static inline long first_mismatch(const void *a, const void *b, size_t len)
{
	const uint64_t *x = a, *y = b;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (x[i] != y[i])
			return i;
	return -1;
}

static inline int dma(int fd, void *buf, uint64_t vram_offset, uint64_t len,
		      uint32_t dir, struct hmmdev_dma *out)
{
	struct hmmdev_dma req = {
		.addr = (uintptr_t)buf,
		.vram_offset = vram_offset,
		.length = len,
		.direction = dir,
	};
	int ret = ioctl(fd, HMMDEV_IOC_DMA, &req);

	if (out)
		*out = req;
	return ret ? -errno : 0;
}

/* A round trip through VRAM; 0 when the data came back intact. */
static inline int dma_round_trip(int fd, uint64_t vram_offset, size_t len,
				 uint64_t seed)
{
	void *src = malloc(len), *dst = calloc(1, len);
	int ret = -ENOMEM;

	if (src && dst) {
		fill_pattern(src, len, seed);
		ret = dma(fd, src, vram_offset, len, HMMDEV_DMA_TO_VRAM, NULL);
		if (!ret)
			ret = dma(fd, dst, vram_offset, len, HMMDEV_DMA_FROM_VRAM,
				  NULL);
		if (!ret && first_mismatch(src, dst, len) >= 0)
			ret = -EIO;
	}
	free(src);
	free(dst);
	return ret;
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Expected device count: argv[1], else at least one. */
static inline int expected_devices(int argc, char **argv)
{
	return argc > 1 ? atoi(argv[1]) : 0;
}

#define TWO_MB		(2ul << 20)

/*
 * @size bytes of anonymous memory at a 2 MiB boundary, for transparent huge
 * pages (MADV_HUGEPAGE), or NULL.
 */
static inline void *thp_mmap(size_t size)
{
	char *raw = mmap(NULL, size + TWO_MB, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *buf;

	if (raw == MAP_FAILED)
		return NULL;
	buf = (char *)(((uintptr_t)raw + TWO_MB - 1) & ~(TWO_MB - 1));
	madvise(buf, size, MADV_HUGEPAGE);
	return buf;
}

/* Does the running kernel have huge device pages (Linux 6.19 and later)? */
static inline int kernel_has_device_thp(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return 0;
	return major > 6 || (major == 6 && minor >= 19);
}

#define MODULE_PATH	"/lib/modules/hmmdev.ko"

static inline int load_module(void)
{
	int fd = open(MODULE_PATH, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

static inline int unload_module(void)
{
	return syscall(SYS_delete_module, "hmmdev", O_NONBLOCK) ? -errno : 0;
}

static inline int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

#endif
