// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev-mirror: device jobs on process virtual addresses through the
 * device MMU -- copy/fill/checksum/atomics checked against the CPU, the
 * fault policy, fault errors, bad arguments, both devices on one buffer,
 * several processes, and no page-table leak afterwards.
 *
 *   hmmdev-mirror [EXPECTED_DEVICES]
 */
#define _GNU_SOURCE		/* memfd_create() */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hmmdev_test_util.h"

#define MIB		(1024 * 1024ul)

static long page_size;

static int job(int fd, struct hmmdev_job *j)
{
	return ioctl(fd, HMMDEV_IOC_JOB, j) ? -errno : 0;
}

static int job_copy(int fd, void *dst, const void *src, size_t len,
		    struct hmmdev_job *out)
{
	struct hmmdev_job j = {
		.op = HMMDEV_JOB_COPY, .src = (uintptr_t)src,
		.dst = (uintptr_t)dst, .length = len,
	};
	int ret = job(fd, &j);

	if (out)
		*out = j;
	return ret;
}

static int policy(int fd, unsigned int around, unsigned int flags)
{
	struct hmmdev_policy p = { .fault_around = around, .flags = flags };

	return ioctl(fd, HMMDEV_IOC_SET_POLICY, &p) ? -errno : 0;
}

/* Fresh, untouched anonymous memory without THP (deterministic faults). */
static void *fresh(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p != MAP_FAILED)
		madvise(p, len, MADV_NOHUGEPAGE);
	return p == MAP_FAILED ? NULL : p;
}

static uint64_t cpu_checksum(const void *buf, size_t len)
{
	const uint64_t *w = buf;
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < len / 8; i++)
		sum += w[i];
	return sum;
}

static void test_copy_fill_checksum(int fd, const char *node)
{
	size_t len = 4 * MIB;
	uint8_t *src = fresh(len), *dst = fresh(len);
	struct hmmdev_job j = {
		.op = HMMDEV_JOB_FILL, .dst = (uintptr_t)src, .length = len,
		.value = 0x0123456789abcdefull,
	};
	long bad = -2;
	int ret, ok = 1;
	size_t i;

	ret = job(fd, &j);
	for (i = 0; !ret && i < len; i++)
		if (src[i] != (uint8_t)(j.value >> (8 * (i % 8))))
			ok = 0;
	ksft_test_result(!ret && ok && j.result == len,
			 "%s fill: 4 MiB through the device MMU, CPU sees the pattern (%d faults)\n",
			 node, (int)j.faults);

	fill_pattern(src, len, 42);
	ret = job_copy(fd, dst, src, len, &j);
	if (!ret)
		bad = first_mismatch(src, dst, len);
	ksft_test_result(!ret && bad == -1 && j.result == len,
			 "%s copy: 4 MiB VA to VA, verified (%d faults, first mismatch %ld)\n",
			 node, (int)j.faults, bad);

	j = (struct hmmdev_job){ .op = HMMDEV_JOB_CHECKSUM,
				 .src = (uintptr_t)dst, .length = len };
	ret = job(fd, &j);
	ksft_test_result(!ret && j.result == cpu_checksum(dst, len),
			 "%s checksum: device %#llx, CPU %#llx\n", node,
			 (unsigned long long)j.result,
			 (unsigned long long)cpu_checksum(dst, len));
	munmap(src, len);
	munmap(dst, len);
}

struct atomic_arg {
	int fd;
	uint64_t *counter;
	int rounds;
	int errors;
};

static void *device_adder(void *p)
{
	struct atomic_arg *a = p;
	int i;

	for (i = 0; i < a->rounds; i++) {
		struct hmmdev_job j = {
			.op = HMMDEV_JOB_ATOMIC_ADD,
			.dst = (uintptr_t)a->counter, .length = 8, .value = 1,
		};

		if (job(a->fd, &j))
			a->errors++;
	}
	return NULL;
}

/* Device atomics and CPU atomics on one counter: nothing is lost. */
static void test_atomics(int fd, const char *node)
{
	uint64_t *counter = fresh(page_size);
	struct atomic_arg a = { fd, counter, 300, 0 };
	pthread_t t;
	int i;

	pthread_create(&t, NULL, device_adder, &a);
	for (i = 0; i < 30000; i++)
		__atomic_fetch_add(counter, 1, __ATOMIC_SEQ_CST);
	pthread_join(t, NULL);
	ksft_test_result(!a.errors && *counter == 30300,
			 "%s atomics: 300 device adds + 30000 CPU adds = %llu (want 30300)\n",
			 node, (unsigned long long)*counter);
	munmap(counter, page_size);
}

/* Faults per job: populate whole job, fault-around 1, fault-around 16. */
static void test_fault_policy(int fd, const char *node)
{
	size_t len = 1 * MIB, pages = len / page_size;
	struct { unsigned int around, flags; size_t want; } cases[] = {
		{ 16, HMMDEV_POLICY_POPULATE_JOB, 1 },
		{ 1, 0, pages },
		{ 16, 0, pages / 16 },
	};
	unsigned long got[3] = { 0 };
	int i, ok = 1;

	for (i = 0; i < 3; i++) {
		uint8_t *src = fresh(len), *dst = fresh(len);
		struct hmmdev_job j;

		memset(src, 0x5a, len);         /* CPU-populated source */
		if (policy(fd, cases[i].around, cases[i].flags) ||
		    job_copy(fd, dst, src, len, &j) || dst[len - 1] != 0x5a)
			ok = 0;
		got[i] = j.faults;
		/* the source is faulted too: it counts once per range */
		/* src and dst fault separately; windows need not be aligned */
		if (got[i] < cases[i].want || got[i] > 2 * cases[i].want + 2)
			ok = 0;
		munmap(src, len);
		munmap(dst, len);
	}
	policy(fd, 16, 0);
	ksft_test_result(ok, "%s fault-policy: 1 MiB copy took %lu faults populating the job, %lu with fault-around 1, %lu with 16\n",
			 node, got[0], got[1], got[2]);
}

/*
 * With POPULATE_JOB, a fault populates the job's range to its end, which
 * need not be page aligned: the last, partial page must be mapped too (it
 * once was a range of no pages, answered RETRY for ever until the job
 * timed out and the device was failed).
 */
static void test_unaligned_populate(int fd, const char *node)
{
	size_t len = 64 << 10;
	uint8_t *src = fresh(len), *dst = fresh(len);
	double t0 = now_s();
	struct hmmdev_job j;
	int ret;

	memset(src, 0x3c, len);
	policy(fd, 16, HMMDEV_POLICY_POPULATE_JOB);
	ret = job_copy(fd, dst + 0xd09, src + 0x1d7, 0x203, &j);
	policy(fd, 16, 0);
	ksft_test_result(!ret && dst[0xd09] == 0x3c && dst[0xd09 + 0x202] == 0x3c &&
			 dst[0xd09 + 0x203] == 0 && now_s() - t0 < 10,
			 "%s unaligned-populate: 0x203-byte job at unaligned addresses: %s in %.1f s\n",
			 node, ret ? strerror(-ret) : "copied", now_s() - t0);
	munmap(src, len);
	munmap(dst, len);
}

/*
 * A system page the device has only read is mapped read-only for it, even
 * when the CPU's entry is writable: the device's first write to it faults
 * (and dirties the CPU's entry), so no device write can go unnoticed by
 * reclaim.  Our own device pages are copied back whole and need no fault.
 */
static void test_read_then_write(int fd, const char *node)
{
	size_t len = 64 << 10;
	uint8_t *a = fresh(len), *b = fresh(len);
	struct hmmdev_job rd, wr = {
		.op = HMMDEV_JOB_FILL, .dst = (uintptr_t)a, .length = len,
		.value = 0x0101010101010101ull,
	};
	int ret;

	memset(a, 7, len);      /* CPU-written: its entries writable and dirty */
	memset(b, 0, len);
	policy(fd, 16, 0);
	ret = job_copy(fd, b, a, len, &rd);
	ret = ret ?: job(fd, &wr);
	ksft_test_result(!ret && b[0] == 7 && a[len - 1] == 1 &&
			 wr.faults >= len / page_size / 16,
			 "%s read-then-write: the first device write to pages it only read faulted %llu times (want >= %zu)\n",
			 node, (unsigned long long)wr.faults, len / page_size / 16);
	munmap(a, len);
	munmap(b, len);
}

/*
 * Migrate-on-fault: a device job's first touch moves both buffers into
 * VRAM (the source with its data, the untouched destination zeroed); the
 * CPU then reads the right data, and unmapping frees the device pages.
 * Without the policy nothing moves.
 */
static void test_migrate_on_fault(int fd, const struct hmmdev_fn *fn)
{
	size_t len = 1 * MIB, pages = len / page_size;
	long long in0, used0, in1, used1, in2, used2, used3;
	uint8_t *src = fresh(len), *dst = fresh(len);
	uint8_t *want = malloc(len);
	int ok;

	fill_pattern(want, len, 31);
	memcpy(src, want, len);
	in0 = debugfs_counter(fn->bdf, "driver.migrations_to_dev");
	used0 = debugfs_counter(fn->bdf, "driver.devmem_used");
	ok = !policy(fd, 16, HMMDEV_POLICY_MIGRATE_ON_FAULT) &&
	     !job_copy(fd, dst, src, len, NULL);
	in1 = debugfs_counter(fn->bdf, "driver.migrations_to_dev");
	used1 = debugfs_counter(fn->bdf, "driver.devmem_used");
	ok = ok && first_mismatch(dst, want, len) < 0 &&
	     first_mismatch(src, want, len) < 0;
	munmap(src, len);
	munmap(dst, len);
	used2 = debugfs_counter(fn->bdf, "driver.devmem_used");
	/* the same without the policy: nothing moves */
	src = fresh(len);
	dst = fresh(len);
	memcpy(src, want, len);
	ok = ok && !policy(fd, 16, 0) && !job_copy(fd, dst, src, len, NULL) &&
	     first_mismatch(dst, want, len) < 0;
	in2 = debugfs_counter(fn->bdf, "driver.migrations_to_dev");
	used3 = debugfs_counter(fn->bdf, "driver.devmem_used");
	munmap(src, len);
	munmap(dst, len);
	free(want);
	ksft_test_result(ok && in1 - in0 == (long long)(2 * pages) &&
			 used1 - used0 == (long long)(2 * pages) &&
			 used2 == used0 && in2 == in1 && used3 == used0,
			 "%s migrate-on-fault: a 1 MiB copy moved %lld pages to VRAM (want %zu: source and destination), data right, %lld device pages left after munmap (want %lld); without the policy %lld moved\n",
			 fn->node, in1 - in0, 2 * pages, used2, used0, in2 - in1);
}

/*
 * A job on the first two pages of a shared memfd mapping longer than its
 * file: the device's fault-around takes in the pages beyond the end of the
 * file too, which the kernel refuses (SIGBUS).  The faulting page is then
 * tried alone and the job runs; the driver used to fail the job when the
 * faulting page was the first of its fault-around range.
 */
static void test_fault_around_refused(int fd, const char *node)
{
	size_t len = 2 * page_size, map = 16 * page_size;
	int mfd = memfd_create("hmmdev-mirror", 0);
	uint8_t *p = MAP_FAILED;
	struct hmmdev_job j = {
		.op = HMMDEV_JOB_FILL, .length = len,
		.value = 0x5a5a5a5a5a5a5a5aull,
	};
	int ret = -ENOMEM;
	size_t i, bad = 0;

	if (mfd >= 0 && !ftruncate(mfd, len))
		p = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (p != MAP_FAILED) {
		j.dst = (uintptr_t)p;
		ret = policy(fd, 16, 0) ?: job(fd, &j);
		for (i = 0; i < len; i++)
			bad += p[i] != 0x5a;
		munmap(p, map);
	}
	if (mfd >= 0)
		close(mfd);
	ksft_test_result(!ret && j.result == len && !bad,
			 "%s fault-around-refused: a FILL of the 2 pages before a file's end, fault-around over 16: %d, %llu bytes done, %zu wrong\n",
			 node, ret, (unsigned long long)j.result, bad);
}

/* What the process may not touch, the device may not either. */
static void test_fault_errors(int fd, const char *node)
{
	uint8_t *buf = fresh(4 * page_size), *ro = fresh(page_size);
	struct hmmdev_job j = {
		.op = HMMDEV_JOB_FILL, .length = page_size, .value = 1,
	};
	int e_ro, e_none, e_unmapped, e_after;

	mprotect(ro, page_size, PROT_READ);
	j.dst = (uintptr_t)ro;
	e_ro = job(fd, &j);
	mprotect(buf, page_size, PROT_NONE);
	e_none = job_copy(fd, buf + page_size, buf, page_size, NULL);
	munmap(buf + 3 * page_size, page_size);
	j.dst = (uintptr_t)(buf + 3 * page_size);
	e_unmapped = job(fd, &j);
	/* mapped and used by the device, then unmapped */
	j.dst = (uintptr_t)(buf + 2 * page_size);
	job(fd, &j);
	munmap(buf + 2 * page_size, page_size);
	e_after = job(fd, &j);
	ksft_test_result(e_ro == -EPERM && e_none == -EFAULT &&
			 e_unmapped == -EFAULT && e_after == -EFAULT,
			 "%s fault-errors: write to read-only %d (EPERM), PROT_NONE %d, unmapped %d, after munmap %d (EFAULT)\n",
			 node, e_ro, e_none, e_unmapped, e_after);
	munmap(buf, 2 * page_size);
	munmap(ro, page_size);
}

static int job_errno(int fd, struct hmmdev_job j)
{
	return ioctl(fd, HMMDEV_IOC_JOB, &j) ? errno : 0;
}

static int policy_errno(int fd, unsigned int around, unsigned int flags)
{
	return -policy(fd, around, flags);
}

static void test_bad_args(int fd, const char *node)
{
	static uint64_t buf[512];
	struct hmmdev_job good = {
		.op = HMMDEV_JOB_COPY, .src = (uintptr_t)buf,
		.dst = (uintptr_t)buf, .length = 64,
	};
	struct hmmdev_job j;
	int e[13], n = 0, i, bad = -1;
	static const int want[] = {
		EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EFAULT,
		EFAULT, EINVAL, EINVAL, EINVAL, EFAULT,
	};

	j = good; j.flags = 1;
	e[n++] = job_errno(fd, j);
	j = good; j.op = 0;
	e[n++] = job_errno(fd, j);
	j = good; j.op = 99;
	e[n++] = job_errno(fd, j);
	j = good; j.length = 0;
	e[n++] = job_errno(fd, j);
	j = good; j.length = (1ull << 30) + 1;
	e[n++] = job_errno(fd, j);
	j = good; j.op = HMMDEV_JOB_ATOMIC_ADD; j.length = 16;
	e[n++] = job_errno(fd, j);
	j = good; j.op = HMMDEV_JOB_ATOMIC_ADD; j.length = 8; j.dst += 4;
	e[n++] = job_errno(fd, j);
	j = good; j.dst = 0xffff888000000000ull;
	e[n++] = job_errno(fd, j);
	j = good; j.src = ~0ull - 8;
	e[n++] = job_errno(fd, j);
	e[n++] = policy_errno(fd, 3, 0);
	e[n++] = policy_errno(fd, 1024, 0);
	e[n++] = policy_errno(fd, 16, 0x80);
	e[n++] = ioctl(fd, HMMDEV_IOC_JOB, NULL) ? errno : 0;
	for (i = 0; i < n; i++)
		if (e[i] != want[i] && bad < 0)
			bad = i;
	ksft_test_result(bad < 0, "%s job-bad-args: %d classes (first wrong: case %d, errno %d)\n",
			 node, n, bad, bad < 0 ? 0 : e[bad]);
}

/* Two devices mirror one buffer: each sees what the other and the CPU wrote. */
static void test_two_devices(struct hmmdev_fn *fns, int n)
{
	size_t len = 2 * MIB;
	uint8_t *buf = fresh(len), *out = fresh(len);
	struct hmmdev_job j = {
		.op = HMMDEV_JOB_FILL, .dst = (uintptr_t)buf, .length = len,
		.value = 0x1111111111111111ull,
	};
	int fd0 = n >= 2 ? open(fns[0].node, O_RDWR) : -1;
	int fd1 = n >= 2 ? open(fns[1].node, O_RDWR) : -1;
	int ok = fd0 >= 0 && fd1 >= 0;

	ok = ok && !job(fd0, &j);                       /* dev0 writes */
	ok = ok && !job_copy(fd1, out, buf, len, NULL) && /* dev1 reads */
	     out[len - 1] == 0x11;
	memset(buf, 0x22, len);                         /* CPU writes */
	ok = ok && !job_copy(fd0, out, buf, len, NULL) && out[7] == 0x22 &&
	     !job_copy(fd1, out, buf, len, NULL) && out[len / 2] == 0x22;
	ksft_test_result(ok, "two-devices: one buffer mirrored by %d devices, writes by either device and the CPU seen by all\n",
			 n);
	close(fd0);
	close(fd1);
	munmap(buf, len);
	munmap(out, len);
}

static long table_pages(const struct hmmdev_fn *fn)
{
	char path[512], line[128];
	long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/hmmdev/%s/counters",
		 fn->bdf);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "driver.pt_pages %ld", &val);
	if (f)
		fclose(f);
	return val;
}

/* Children with contexts of their own; some exit without closing. */
static void test_processes(struct hmmdev_fn *fn)
{
	long before = table_pages(fn), after;
	int i, status, failed = 0;

	for (i = 0; i < 4; i++) {
		if (fork() == 0) {
			int fd = open(fn->node, O_RDWR), r, bad = 0;
			uint8_t *a = fresh(MIB), *b = fresh(MIB);

			for (r = 0; r < 8 && fd >= 0; r++) {
				memset(a, i * 16 + r, MIB);
				if (job_copy(fd, b, a, MIB, NULL) ||
				    first_mismatch(a, b, MIB) >= 0)
					bad = 1;
			}
			_exit(fd < 0 || bad);    /* no close, no munmap */
		}
	}
	for (i = 0; i < 4; i++)
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	after = table_pages(fn);
	ksft_test_result(!failed && before >= 0 && after == before,
			 "%s processes: 4 processes with their own contexts, %d failed; page-table pages %ld before, %ld after\n",
			 fn->node, failed, before, after);
}

/*
 * One process cannot take every device context: past its quota (the
 * driver's contexts_per_process, 16) it gets EBUSY, and another process
 * still gets one.
 */
static void test_context_quota(const char *node)
{
	struct hmmdev_policy p = { .fault_around = 1 };
	int fds[24], i, got = 0, err = 0, status = -1;
	pid_t pid;

	for (i = 0; i < 24; i++) {
		fds[i] = open(node, O_RDWR);
		if (fds[i] >= 0 && !ioctl(fds[i], HMMDEV_IOC_SET_POLICY, &p))
			got++;
		else if (!err)
			err = errno;
	}
	pid = fork();
	if (pid == 0) {
		int fd = open(node, O_RDWR);

		_exit(fd < 0 || ioctl(fd, HMMDEV_IOC_SET_POLICY, &p));
	}
	waitpid(pid, &status, 0);
	for (i = 0; i < 24; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	ksft_test_result(got == 16 && err == EBUSY && status == 0,
			 "%s context-quota: one process got %d of 24 contexts (then errno %d), another process still gets one (%d)\n",
			 node, got, err, status);
}

/*
 * A 5-level guest maps addresses at and above 2^48, which the device's
 * 48-bit page tables cannot hold: jobs there fail with EFAULT, and an
 * munmap there must not reach the tables (the index would wrap onto the
 * same address 2^48 lower: its leaves zapped, a malformed INVALIDATE).
 */
static void test_high_addresses(int fd, const char *node)
{
	size_t len = 64 << 10;
	char *low = fresh(len), *tmp = fresh(len), *high;
	struct hmmdev_counters c0, c1;
	struct hmmdev_job again;
	int err, ret;

	high = mmap(low + (1ull << 48), len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (high == MAP_FAILED || high != low + (1ull << 48)) {
		ksft_test_result_skip("%s high-addresses: no 5-level paging in this guest (%s)\n",
				      node, strerror(errno));
		return;
	}
	memset(low, 5, len);
	memset(high, 6, len);
	ret = job_copy(fd, tmp, low, len, NULL);	/* leaves for low */
	err = job_copy(fd, tmp, high, len, NULL);
	ioctl(fd, HMMDEV_IOC_COUNTERS, &c0);
	munmap(high, len);
	ret = ret ?: job_copy(fd, tmp, low, len, &again);
	ioctl(fd, HMMDEV_IOC_COUNTERS, &c1);
	ksft_test_result(!ret && err == -EFAULT && again.faults == 0 &&
			 c1.device_errors == c0.device_errors && tmp[0] == 5,
			 "%s high-addresses: job at 2^48+x: %d (want -EFAULT); after its munmap, x still mapped (%llu faults) and %llu device errors\n",
			 node, err, (unsigned long long)again.faults,
			 (unsigned long long)(c1.device_errors - c0.device_errors));
	munmap(low, len);
	munmap(tmp, len);
}

int main(int argc, char **argv)
{
	struct hmmdev_fn fns[MAX_DEVS];
	int n = find_hmmdevs(fns, MAX_DEVS), i;
	int want = expected_devices(argc, argv);

	page_size = sysconf(_SC_PAGESIZE);
	ksft_print_header();
	ksft_set_plan(n * 14 + 2);
	for (i = 0; i < n; i++) {
		int fd = open(fns[i].node, O_RDWR);

		if (fd < 0)
			ksft_exit_fail_msg("open %s: %s\n", fns[i].node,
					   strerror(errno));
		test_copy_fill_checksum(fd, fns[i].node);
		test_atomics(fd, fns[i].node);
		test_fault_policy(fd, fns[i].node);
		test_read_then_write(fd, fns[i].node);
		test_unaligned_populate(fd, fns[i].node);
		test_migrate_on_fault(fd, &fns[i]);
		test_fault_errors(fd, fns[i].node);
		test_fault_around_refused(fd, fns[i].node);
		test_bad_args(fd, fns[i].node);
		test_high_addresses(fd, fns[i].node);
		close(fd);
		test_context_quota(fns[i].node);
		test_processes(&fns[i]);
	}
	test_two_devices(fns, n);
	ksft_test_result(n >= 1 && (!want || n == want), "devices: %d (expected %d)\n",
			 n, want);
	ksft_finished();
}
