// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev-basic: probe, MSI-X delivery, DMA copies 4 KiB..64 MiB, CPU
 * writes through BAR2 read back by DMA, both devices at once, and every
 * bad ioctl argument class.
 *
 *   hmmdev-basic [EXPECTED_DEVICES]
 */
#include <pthread.h>
#include <sys/mman.h>

#include "hmmdev_test_util.h"

#define PER_DEVICE_TESTS	14

static const size_t dma_sizes[] = {
	4096, 65536, 1 << 20, 16 << 20, 64 << 20,
};

static void test_info(int fd, struct hmmdev_fn *fn, struct hmmdev_info *info)
{
	int ret = ioctl(fd, HMMDEV_IOC_INFO, info);

	ksft_test_result(!ret && info->version >> 16 == 1 && info->engines >= 1 &&
			 info->msix_vectors >= 3 &&
			 info->vram_size == fn->bar2_size &&
			 info->raw_size >= (64 << 20) &&
			 info->raw_size < info->vram_size,
			 "%s info: version %#x, %u engines, %u vectors, %llu MiB VRAM (BAR2 %llu MiB), %llu MiB raw\n",
			 fn->node, info->version, info->engines,
			 info->msix_vectors, (unsigned long long)info->vram_size >> 20,
			 fn->bar2_size >> 20,
			 (unsigned long long)info->raw_size >> 20);
}

static void test_msix(int fd, struct hmmdev_fn *fn, struct hmmdev_info *info)
{
	struct hmmdev_counters before, after;
	unsigned int v, fired = 0;
	uint64_t worst = 0;

	ioctl(fd, HMMDEV_IOC_COUNTERS, &before);
	for (v = 0; v < info->msix_vectors; v++) {
		struct hmmdev_irq_test t = { .vector = v, .timeout_ms = 2000 };

		if (ioctl(fd, HMMDEV_IOC_IRQ_TEST, &t) == 0) {
			fired++;
			if (t.latency_ns > worst)
				worst = t.latency_ns;
		}
	}
	ioctl(fd, HMMDEV_IOC_COUNTERS, &after);
	for (v = 0; v < info->msix_vectors; v++)
		if (after.irqs[v] <= before.irqs[v])
			fired = 0;
	ksft_test_result(fired == info->msix_vectors,
			 "%s msix: %u/%u vectors delivered, worst latency %llu us\n",
			 fn->node, fired, info->msix_vectors,
			 (unsigned long long)worst / 1000);
}

/* Copy to VRAM and back; check the VRAM copy through the CPU mapping too. */
static void test_dma(int fd, struct hmmdev_fn *fn, void *vram, size_t len)
{
	uint64_t vram_offset = len < (1 << 20) ? 3 * 4096 : 0;
	char *src = malloc(len), *dst = calloc(1, len);
	struct hmmdev_dma to, from;
	long bad_vram = -2, bad = -2;
	int ret;

	fill_pattern(src, len, len);
	ret = dma(fd, src, vram_offset, len, HMMDEV_DMA_TO_VRAM, &to);
	if (!ret) {
		bad_vram = first_mismatch((char *)vram + vram_offset, src, len);
		ret = dma(fd, dst, vram_offset, len, HMMDEV_DMA_FROM_VRAM, &from);
	}
	if (!ret)
		bad = first_mismatch(src, dst, len);
	ksft_test_result(!ret && bad == -1 && bad_vram == -1,
			 "%s dma %zu KiB: %s; to VRAM %.0f MiB/s, back %.0f MiB/s\n",
			 fn->node, len / 1024,
			 ret ? strerror(-ret) : bad >= 0 ? "data mismatch" :
			 bad_vram >= 0 ? "VRAM (BAR2) mismatch" : "verified",
			 ret ? 0 : len / 1048576.0 / (to.device_ns / 1e9),
			 ret ? 0 : len / 1048576.0 / (from.device_ns / 1e9));
	free(src);
	free(dst);
}

/* The CPU writes VRAM through BAR2; a DMA reads it back. */
static void test_cpu_write_bar2(int fd, struct hmmdev_fn *fn, void *vram)
{
	size_t len = 2 << 20;
	uint64_t off = 8 << 20;
	char *want = malloc(len), *got = calloc(1, len);
	int ret;

	fill_pattern(want, len, 0xc0ffee);
	memcpy((char *)vram + off, want, len);
	ret = dma(fd, got, off, len, HMMDEV_DMA_FROM_VRAM, NULL);
	ksft_test_result(!ret && first_mismatch(want, got, len) < 0,
			 "%s cpu-write-bar2: 2 MiB written through BAR2, DMA read back %s\n",
			 fn->node, ret ? strerror(-ret) : "compared");
	free(want);
	free(got);
}

static int ioctl_errno(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? errno : 0;
}

struct expectations {
	int cases;
	const char *first_wrong;
	int got;
};

static void expect(struct expectations *x, const char *what, int got, int want)
{
	x->cases++;
	if (got != want && !x->first_wrong) {
		x->first_wrong = what;
		x->got = got;
	}
}

static int dma_errno(int fd, struct hmmdev_dma d)
{
	return ioctl_errno(fd, HMMDEV_IOC_DMA, &d);
}

static void test_bad_args(int fd, struct hmmdev_fn *fn,
			  struct hmmdev_info *info)
{
	static char buf[4096];
	struct hmmdev_dma good = {
		.addr = (uintptr_t)buf, .length = sizeof(buf),
		.direction = HMMDEV_DMA_TO_VRAM,
	};
	struct hmmdev_dma d;
	struct hmmdev_irq_test t = { .vector = 99, .timeout_ms = 100 };
	struct expectations x = {};
	void *map;

	d = good;
	d.direction = 0;
	expect(&x, "direction 0", dma_errno(fd, d), EINVAL);
	d = good;
	d.flags = 1;
	expect(&x, "unknown flag", dma_errno(fd, d), EINVAL);
	d = good;
	d.length = 0;
	expect(&x, "length 0", dma_errno(fd, d), EINVAL);
	d = good;
	d.vram_offset = info->raw_size - 100;
	expect(&x, "past the end of raw VRAM", dma_errno(fd, d), EINVAL);
	d = good;
	d.vram_offset = info->vram_size - sizeof(buf);
	expect(&x, "into the page-table pool", dma_errno(fd, d), EINVAL);
	d = good;
	d.vram_offset = info->raw_size;
	expect(&x, "into device memory", dma_errno(fd, d), EINVAL);
	d = good;
	d.vram_offset = ~0ull - 10;
	expect(&x, "VRAM offset wraps", dma_errno(fd, d), EINVAL);
	d = good;
	d.length = info->max_dma_length + 1;
	expect(&x, "length > max", dma_errno(fd, d), EINVAL);
	d = good;
	d.addr = 0xffff888000000000ull;
	expect(&x, "kernel address", dma_errno(fd, d), EFAULT);
	d = good;
	d.addr = 16;
	d.direction = HMMDEV_DMA_FROM_VRAM;
	expect(&x, "unmapped user address", dma_errno(fd, d), EFAULT);
	expect(&x, "NULL argument", ioctl_errno(fd, HMMDEV_IOC_DMA, NULL), EFAULT);
	expect(&x, "bad vector", ioctl_errno(fd, HMMDEV_IOC_IRQ_TEST, &t), EINVAL);
	expect(&x, "unknown ioctl", ioctl_errno(fd, _IO('h', 0x7f), NULL), ENOTTY);
	map = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, info->raw_size - 4096);
	expect(&x, "mmap past raw VRAM", map == MAP_FAILED ? errno : 0, EINVAL);
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   info->vram_size - 4096);
	expect(&x, "mmap of the page-table pool", map == MAP_FAILED ? errno : 0,
	       EINVAL);
	map = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	/* before the fix: mapped, and the first read was a kernel BUG */
	if (map != MAP_FAILED)
		__atomic_load_n((char *)map, __ATOMIC_RELAXED);
	expect(&x, "MAP_PRIVATE", map == MAP_FAILED ? errno : 0, EINVAL);
	map = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	expect(&x, "PROT_EXEC", map == MAP_FAILED ? errno : 0, EPERM);
	if (x.first_wrong)
		ksft_test_result_fail("%s bad-args: case '%s' gave errno %d\n",
				      fn->node, x.first_wrong, x.got);
	else
		ksft_test_result_pass("%s bad-args: %d argument classes rejected\n",
				      fn->node, x.cases);
}

static void test_counters(int fd, struct hmmdev_fn *fn, uint64_t jobs_before)
{
	struct hmmdev_counters c;
	int ret = ioctl(fd, HMMDEV_IOC_COUNTERS, &c);

	/* counter 0 is the device's jobs-done (SPEC.rst) */
	ksft_test_result(!ret && c.device[0] >= c.jobs - jobs_before &&
			 c.jobs > jobs_before && c.timeouts == 0,
			 "%s counters: device jobs-done %llu, driver jobs %llu, job errors %llu, timeouts %llu\n",
			 fn->node, (unsigned long long)c.device[0],
			 (unsigned long long)c.jobs,
			 (unsigned long long)c.job_errors,
			 (unsigned long long)c.timeouts);
}

struct worker {
	const char *node;
	int errors;
	int rounds;
	uint64_t seed;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int fd = open(w->node, O_RDWR), i;

	if (fd < 0) {
		w->errors++;
		return NULL;
	}
	for (i = 0; i < w->rounds; i++)
		if (dma_round_trip(fd, (w->seed % 4) << 20, 1 << 20, w->seed + i))
			w->errors++;
	close(fd);
	return NULL;
}

/* Two threads per device, on every device at once, data verified. */
static void test_concurrent(struct hmmdev_fn *fns, int n)
{
	struct worker w[2 * MAX_DEVS] = {};
	pthread_t t[2 * MAX_DEVS];
	int i, errors = 0;

	for (i = 0; i < 2 * n; i++) {
		w[i] = (struct worker){ .node = fns[i / 2].node, .rounds = 8,
					.seed = i };
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	}
	for (i = 0; i < 2 * n; i++) {
		pthread_join(t[i], NULL);
		errors += w[i].errors;
	}
	ksft_test_result(n >= 2 && errors == 0,
			 "concurrent: %d threads on %d devices, %d MiB round-tripped, %d errors\n",
			 2 * n, n, 2 * n * 8, errors);
}

int main(int argc, char **argv)
{
	struct hmmdev_fn fns[MAX_DEVS];
	int want = expected_devices(argc, argv);
	int n = find_hmmdevs(fns, MAX_DEVS), i, bound = 0;

	ksft_print_header();
	ksft_set_plan(2 + n * PER_DEVICE_TESTS);
	for (i = 0; i < n; i++)
		bound += fns[i].node[0] != 0;
	ksft_test_result(n >= 1 && bound == n && (!want || n == want),
			 "probe: %d hmmdev function(s), %d bound with a /dev node (expected %d)\n",
			 n, bound, want);

	for (i = 0; i < n; i++) {
		struct hmmdev_fn *fn = &fns[i];
		struct hmmdev_info info = {};
		struct hmmdev_counters c0 = {};
		void *vram = MAP_FAILED;
		int fd = fn->node[0] ? open(fn->node, O_RDWR) : -1;
		size_t s;

		if (fd >= 0) {
			test_info(fd, fn, &info);
			vram = mmap(NULL, info.raw_size, PROT_READ | PROT_WRITE,
				    MAP_SHARED, fd, 0);
		}
		if (fd < 0 || vram == MAP_FAILED) {
			for (s = 0; s < PER_DEVICE_TESTS - (fd >= 0); s++)
				ksft_test_result_fail("%s: cannot open or map: %s\n",
						      fn->bdf, strerror(errno));
			continue;
		}
		ksft_test_result_pass("%s mmap: %llu MiB of raw VRAM mapped\n",
				      fn->node,
				      (unsigned long long)info.raw_size >> 20);
		ioctl(fd, HMMDEV_IOC_COUNTERS, &c0);
		test_msix(fd, fn, &info);
		for (s = 0; s < ARRAY_SIZE(dma_sizes); s++)
			test_dma(fd, fn, vram, dma_sizes[s]);
		test_cpu_write_bar2(fd, fn, vram);
		test_bad_args(fd, fn, &info);
		test_counters(fd, fn, c0.jobs);
		/* the device keeps working after all the bad input */
		ksft_test_result(dma_round_trip(fd, 0, 65536, 7) == 0,
				 "%s still-works: 64 KiB round trip after bad input\n",
				 fn->node);
		munmap(vram, info.raw_size);
		/* a closed-and-reopened file still works */
		close(fd);
		fd = open(fn->node, O_RDWR);
		ksft_test_result(fd >= 0 && dma_round_trip(fd, 4096, 4096, 9) == 0,
				 "%s reopen: round trip on a new file\n", fn->node);
		ksft_test_result(fd >= 0 && ioctl(fd, HMMDEV_IOC_COUNTERS, &c0) == 0 &&
				 c0.device_errors == 0,
				 "%s device-errors: %llu error interrupts\n", fn->node,
				 (unsigned long long)c0.device_errors);
		close(fd);
	}
	test_concurrent(fns, n);
	ksft_finished();
}
