// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev-huge: huge device pages and device faults on userfaultfd ranges.
 *
 *   hmmdev-huge [quick]     (quick: a third of the race rounds, as on
 *                            kernels without huge device pages)
 *
 * On kernels with huge device pages (Linux 6.19 and later: Linux 7.3 here)
 * a THP migrates to VRAM as one 2 MiB device page and back as one THP;
 * the core splits it when part of it is unmapped, protected or moved, and
 * every byte stays where the process put it.  On 6.12 the same steps move
 * 4 KiB pages: the data checks are the same, the THP counters stay 0.
 *
 * Three races with Linux 7.3's zap of a moving 2 MiB device page (the
 * driver's hmmdev_back.c): a fork() child exiting while the pages move back
 * on a CPU fault or MIGRATE_TO_SYS, or on another device's fault, and a
 * thread of the process itself doing MADV_DONTNEED while they move back.
 *
 * A device job reading a userfaultfd range waits for the handler (7.x) and
 * reads what it filled in; a job whose handler never answers holds up no
 * other process and does not fail the device, and killing its process
 * ends it.  On 6.12 (no fault that may drop mmap_lock) the job fails with
 * EFAULT at once.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <linux/userfaultfd.h>

#include "hmmdev_test_util.h"
#include <lib/test_hmm_uapi.h>

#ifndef HMM_DMIRROR_FLAGS	/* 6.12's header predates them */
#define HMM_DMIRROR_FLAGS		_IOWR('H', 0x08, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_FLAG_FAIL_ALLOC	(1ULL << 0)
#endif

#define NTHP		4
#define SIZE		(NTHP * TWO_MB)
#define NPAGES		(SIZE / 4096)

static const char *bdf;	/* hmmdev0 */
static bool device_thp;	/* the kernel has huge device pages */
static int dmirror = -1;

static long long counter(const char *name)
{
	return debugfs_counter(bdf, name);
}

/* NTHP 2 MiB-aligned THPs with a pattern: returns the aligned start. */
static uint8_t *thp_buffer(uint64_t seed)
{
	uint8_t *buf = thp_mmap(SIZE);

	if (buf)
		fill_pattern(buf, SIZE, seed);
	return buf;
}

static int dmirror_cmd(unsigned long req, void *addr, unsigned long npages,
		       void *out, struct hmm_dmirror_cmd *res)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)addr, .ptr = (uintptr_t)out, .npages = npages,
	};
	int ret = ioctl(dmirror, req, &cmd) ? -errno : 0;

	if (res)
		*res = cmd;
	return ret;
}

/*
 * Migrate the first @size bytes of a thp_buffer(@seed) to VRAM and check
 * what the device reads back (against the pattern: reading @buf with the
 * CPU would bring it back).
 */
static int to_device(uint8_t *buf, size_t size, uint64_t seed)
{
	uint8_t *mirror = malloc(size), *want = malloc(SIZE);
	struct hmm_dmirror_cmd res;
	int ret = dmirror_cmd(HMM_DMIRROR_MIGRATE_TO_DEV, buf, size / 4096,
			      mirror, &res);

	fill_pattern(want, SIZE, seed);
	if (!ret && res.cpages != size / 4096)
		ret = -ENOENT;
	if (!ret && first_mismatch(mirror, want, size) >= 0)
		ret = -EIO;
	free(mirror);
	free(want);
	return ret;
}

/*
 * Every byte of [off, off + len) of a thp_buffer() at @base as written,
 * but for the hole [hole, hole + hole_len) (hole_len 0: none).
 */
static bool intact(const uint8_t *base, uint64_t seed, size_t off,
		   size_t len, size_t hole, size_t hole_len)
{
	uint8_t *want = malloc(SIZE);
	bool ok;

	if (!hole_len)
		hole = off;
	fill_pattern(want, SIZE, seed);
	ok = first_mismatch(base + off, want + off, hole - off) < 0 &&
	     first_mismatch(base + hole + hole_len, want + hole + hole_len,
			    off + len - hole - hole_len) < 0;
	free(want);
	return ok;
}

/*
 * A new context's device COPY from inside a device THP: its first fault
 * asks hmm_range_fault() for a range that starts inside the 2 MiB.
 */
static int copy_inside(const char *node, uint8_t *buf, uint64_t seed)
{
	size_t off = TWO_MB + TWO_MB / 2 + 4096, len = 64 << 10;
	uint8_t *out = calloc(1, len), *want = malloc(SIZE);
	struct hmmdev_job job = {
		.op = HMMDEV_JOB_COPY, .src = (uintptr_t)buf + off,
		.dst = (uintptr_t)out, .length = len,
	};
	int fd = open(node, O_RDWR), ret;

	ret = fd < 0 || ioctl(fd, HMMDEV_IOC_JOB, &job) ? -errno : 0;
	fill_pattern(want, SIZE, seed);
	if (!ret && memcmp(out, want + off, len))
		ret = -EIO;
	close(fd);
	free(out);
	free(want);
	return ret;
}

static void test_whole(const char *node)
{
	long long to_dev = counter("driver.thp_to_dev");
	long long to_ram = counter("driver.thp_to_ram");
	long long used = counter("driver.devmem_used");
	uint8_t *buf = thp_buffer(1), prot[NPAGES], want;
	int ret = buf ? to_device(buf, SIZE, 1) : -ENOMEM;
	long i, bad = -1;

	ksft_test_result(!ret && counter("driver.thp_to_dev") - to_dev ==
			 (device_thp ? NTHP : 0) &&
			 counter("driver.devmem_used") - used == NPAGES,
			 "%d THPs to VRAM: %s, %lld moved whole (want %d), %lld device pages\n",
			 NTHP, strerror(-ret), counter("driver.thp_to_dev") - to_dev,
			 device_thp ? NTHP : 0, counter("driver.devmem_used") - used);
	want = HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_WRITE |
	       (device_thp ? HMM_DMIRROR_PROT_PMD : 0);
	ret = dmirror_cmd(HMM_DMIRROR_SNAPSHOT, buf, NPAGES, prot, NULL);
	for (i = 0; !ret && i < (long)NPAGES && bad < 0; i++)
		if (prot[i] != want)
			bad = i;
	ksft_test_result(!ret && bad < 0,
			 "snapshot: device-private, writable%s (page %ld: %#x, want %#x)\n",
			 device_thp ? ", PMD" : "", bad, bad < 0 ? want : prot[bad],
			 want);
	ret = copy_inside(node, buf, 1);
	ksft_test_result(!ret, "a new context copies from inside a device THP: the right data (%s)\n",
			 strerror(-ret));
	/* one CPU read brings the first THP back whole */
	(void)__atomic_load_n((uint64_t *)buf, __ATOMIC_RELAXED);
	to_ram = counter("driver.thp_to_ram") - to_ram;
	ksft_test_result(to_ram == (device_thp ? 1 : 0) &&
			 intact(buf, 1, 0, SIZE, 0, 0),
			 "one CPU read brings one THP back whole (%lld, want %d), the others follow, data intact\n",
			 to_ram, device_thp ? 1 : 0);
	munmap(buf, SIZE);
}

/* Split device THPs: a 4 KiB hole, a read-only half, a move. */
static void test_split(void)
{
	long long splits = counter("driver.folio_splits");
	uint8_t *buf = thp_buffer(2), *moved, *page = malloc(4096);
	int ret = buf ? to_device(buf, SIZE, 2) : -ENOMEM;

	/* THP 0: a 4 KiB hole in its middle */
	if (!ret)
		ret = munmap(buf + TWO_MB / 2, 4096) ? -errno : 0;
	ksft_test_result(!ret && intact(buf, 2, 0, TWO_MB, TWO_MB / 2, 4096),
			 "4 KiB hole in a device THP: the other 511 pages intact (%s)\n",
			 strerror(-ret));
	/* THP 1: its second half read-only; the device may not write it */
	ret = mprotect(buf + TWO_MB + TWO_MB / 2, TWO_MB / 2, PROT_READ) ?
	      -errno : 0;
	if (!ret) {
		memset(page, 0x5a, 4096);
		ret = dmirror_cmd(HMM_DMIRROR_WRITE, buf + TWO_MB + TWO_MB / 2,
				  1, page, NULL);
		ret = ret == -EPERM ? 0 : ret ? ret : -EINVAL;
	}
	ksft_test_result(!ret && intact(buf, 2, TWO_MB, TWO_MB, 0, 0),
			 "half a device THP read-only: the device's write gets EPERM, data intact (%s)\n",
			 strerror(-ret));
	/* THP 2: moved by mremap to an address that is not 2 MiB aligned */
	moved = mmap(NULL, 2 * TWO_MB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	moved = (uint8_t *)(((uintptr_t)moved + TWO_MB - 1) & ~(TWO_MB - 1)) +
		4096;
	moved = mremap(buf + 2 * TWO_MB, TWO_MB, TWO_MB,
		       MREMAP_MAYMOVE | MREMAP_FIXED, moved);
	ret = moved == MAP_FAILED ? -errno :
	      intact(moved - 2 * TWO_MB, 2, 2 * TWO_MB, TWO_MB, 0, 0) ? 0 : -EIO;
	ksft_test_result(!ret, "device THP moved by mremap: data intact (%s)\n",
			 strerror(-ret));
	/* THP 3 untouched: still whole, and intact */
	ksft_test_result(intact(buf, 2, 3 * TWO_MB, TWO_MB, 0, 0) &&
			 (!device_thp || counter("driver.folio_splits") > splits),
			 "device THPs split by the kernel: %lld (want > 0 with huge device pages), the untouched THP intact\n",
			 counter("driver.folio_splits") - splits);
	if (moved != MAP_FAILED)
		munmap(moved, TWO_MB);
	munmap(buf, SIZE);
	free(page);
}

/*
 * The next 2 MiB allocation fails (FAIL_ALLOC), as test_hmm's next
 * allocation does: the THP moves as 512 small pages (the core splits it).
 * Without huge device pages there is no such allocation: all moves as
 * before.
 */
static void test_fallback(void)
{
	long long fallbacks = counter("driver.thp_fallbacks");
	uint8_t *buf = thp_buffer(3);
	int ret = dmirror_cmd(HMM_DMIRROR_FLAGS, buf, HMM_DMIRROR_FLAG_FAIL_ALLOC,
			      NULL, NULL);

	if (!ret)
		ret = to_device(buf, SIZE, 3);
	fallbacks = counter("driver.thp_fallbacks") - fallbacks;
	ksft_test_result(!ret && intact(buf, 3, 0, SIZE, 0, 0) &&
			 fallbacks == (device_thp ? 1 : 0),
			 "a failed 2 MiB allocation: %lld THPs moved as 4 KiB pages (want %d), all moved (%s), data intact\n",
			 fallbacks, device_thp ? 1 : 0, strerror(-ret));
	munmap(buf, SIZE);
}

/*
 * Device THPs shared with a fork() child that exits while they move back:
 * Linux 7.3 mistakes a PMD migration entry of a device page for a
 * device-private entry when it zaps one (hmmdev_devmem_select_back() in the
 * driver), so the driver splits shared device THPs instead of moving them
 * whole.  Without that, a round here ends in VM_BUG_ON_PAGE() or a bad
 * page.  Odd rounds move back with MIGRATE_TO_SYS, even ones by CPU reads;
 * the child exits 0 to 9 ms after the fork, while the pages move.
 */
#define FORK_ROUNDS	24
static int rounds_div = 1;	/* "quick": a third of the rounds */

static int fork_exit_round(int round)
{
	uint8_t *buf = thp_buffer(4);
	int ret = buf ? to_device(buf, SIZE, 4) : -ENOMEM, status;
	size_t off;
	pid_t pid;

	if (ret)
		goto out;
	pid = fork();
	if (!pid) {
		usleep((round % 10) * 1000);
		_exit(0);
	}
	if (round & 1)
		ret = dmirror_cmd(HMM_DMIRROR_MIGRATE_TO_SYS, buf, NPAGES,
				  NULL, NULL);
	else
		for (off = 0; off < SIZE; off += TWO_MB)
			(void)__atomic_load_n((uint64_t *)(buf + off),
					      __ATOMIC_RELAXED);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		ret = ret ?: -ECHILD;
	if (!ret && !intact(buf, 4, 0, SIZE, 0, 0))
		ret = -EIO;
out:
	if (buf)
		munmap(buf, SIZE);
	return ret;
}

static void test_fork_exit(void)
{
	long long used = counter("driver.devmem_used");
	long long to_dev = counter("driver.thp_to_dev");
	long long unshares = counter("driver.thp_unshares");
	int round, ret = 0;

	for (round = 0; round < FORK_ROUNDS / rounds_div && !ret; round++)
		ret = fork_exit_round(round);
	to_dev = counter("driver.thp_to_dev") - to_dev;
	ksft_test_result(!ret && counter("driver.devmem_used") == used &&
			 to_dev == (device_thp ? round * NTHP : 0),
			 "%d rounds: device THPs (%lld, want %d) shared with a child that exits while they move back: %s, data intact, %lld device pages left (want %lld), %lld CPU faults split them\n",
			 round, to_dev, device_thp ? round * NTHP : 0,
			 strerror(-ret), counter("driver.devmem_used"), used,
			 counter("driver.thp_unshares") - unshares);
}

/*
 * A device fault on another device's THP that a fork() child shares: the
 * fault comes from hmmdev1's fault worker (kernel mode, no way back to user
 * mode to wait on), so hmmdev0 must not move the page whole -- its PMD would
 * be a migration entry in the child too, and the child's exit zaps it
 * (hmmdev_back.c).  The driver queues the move, split, and the fault waits
 * for it (counter thp_back_queued: at least one for the first THP the
 * device faults on while the child lives).  Debugfs back_delay_ms on
 * hmmdev0 holds a whole move open 300 ms and the child is killed 100 ms
 * into the job: with the page moved whole, that ends in a kernel BUG or a
 * bad page.
 */
static int set_back_delay(const char *ms)
{
	char path[160];

	snprintf(path, sizeof(path),
		 "/sys/kernel/debug/hmmdev/%.64s/back_delay_ms", bdf);
	return sysfs_write(path, ms);
}

struct remote_copy {
	const char *node;
	uint8_t *src, *out;
	int ret;
};

static void *remote_copy_thread(void *arg)
{
	struct remote_copy *rc = arg;
	struct hmmdev_job job = {
		.op = HMMDEV_JOB_COPY, .src = (uintptr_t)rc->src,
		.dst = (uintptr_t)rc->out, .length = SIZE,
	};
	int fd = open(rc->node, O_RDWR);

	rc->ret = fd < 0 || ioctl(fd, HMMDEV_IOC_JOB, &job) ? -errno : 0;
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void test_fork_remote_fault(const struct hmmdev_fn *other)
{
	long long used = counter("driver.devmem_used");
	long long queued = counter("driver.thp_back_queued");
	long long unsafe = counter("driver.thp_back_unsafe");
	struct remote_copy rc = { .node = other->node, .src = thp_buffer(6),
				  .out = calloc(1, SIZE) };
	int ret = rc.src && rc.out ? to_device(rc.src, SIZE, 6) : -ENOMEM;
	pthread_t t;
	pid_t pid = -1;

	if (!ret)
		ret = set_back_delay("300");
	if (!ret) {
		pid = fork();
		if (!pid) {
			pause();
			_exit(0);
		}
	}
	if (!ret && pthread_create(&t, NULL, remote_copy_thread, &rc))
		ret = -EAGAIN;
	else if (!ret) {
		usleep(100000);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
		pthread_join(t, NULL);
		ret = rc.ret;
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	set_back_delay("0");
	if (!ret && !intact(rc.out, 6, 0, SIZE, 0, 0))
		ret = -EIO;
	if (!ret && !intact(rc.src, 6, 0, SIZE, 0, 0))
		ret = -EIO;
	queued = counter("driver.thp_back_queued") - queued;
	unsafe = counter("driver.thp_back_unsafe") - unsafe;
	if (rc.src)
		munmap(rc.src, SIZE);
	free(rc.out);
	ksft_test_result(!ret && counter("driver.devmem_used") == used &&
			 (device_thp ? queued >= 1 : !queued) && !unsafe,
			 "another device's fault on device THPs a killed child shares: %s, data intact, %lld split moves queued (want %s), %lld moved whole regardless (want 0), %lld device pages left (want %lld)\n",
			 strerror(-ret), queued, device_thp ? ">= 1" : "0",
			 unsafe,
			 counter("driver.devmem_used"), used);
}

/*
 * The other way to zap a PMD migration entry: a thread of the process
 * itself, madvise(MADV_DONTNEED) of whole THPs while another thread moves
 * them back (MIGRATE_TO_SYS or CPU reads).  The driver makes such a zap wait
 * for the move (counter thp_zap_waits).  Afterwards every byte reads 0.
 */
#define ZAP_ROUNDS	60
struct zapper {
	uint8_t *buf;
	useconds_t delay;
	bool go;
};

static void *zap_thread(void *arg)
{
	struct zapper *z = arg;
	int i;

	while (!__atomic_load_n(&z->go, __ATOMIC_ACQUIRE))
		;
	usleep(z->delay);
	for (i = NTHP - 1; i >= 0; i--)
		madvise(z->buf + i * TWO_MB, TWO_MB, MADV_DONTNEED);
	return NULL;
}

static int zap_round(int round)
{
	struct zapper z = { .buf = thp_buffer(5), .delay = (round % 20) * 250 };
	int ret = z.buf ? to_device(z.buf, SIZE, 5) : -ENOMEM;
	size_t off;
	pthread_t t;

	if (!ret && pthread_create(&t, NULL, zap_thread, &z))
		ret = -EAGAIN;
	if (ret)
		goto out;
	__atomic_store_n(&z.go, true, __ATOMIC_RELEASE);
	if (round & 1)
		dmirror_cmd(HMM_DMIRROR_MIGRATE_TO_SYS, z.buf, NPAGES, NULL,
			    NULL);
	else
		for (off = 0; off < SIZE; off += TWO_MB)
			(void)__atomic_load_n((uint64_t *)(z.buf + off),
					      __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	for (off = 0; off < SIZE && !ret; off += 8)
		if (*(uint64_t *)(z.buf + off))
			ret = -EIO;
out:
	if (z.buf)
		munmap(z.buf, SIZE);
	return ret;
}

static void test_zap_race(void)
{
	long long used = counter("driver.devmem_used");
	long long waits = counter("driver.thp_zap_waits");
	int round, ret = 0;

	for (round = 0; round < ZAP_ROUNDS / rounds_div && !ret; round++)
		ret = zap_round(round);
	ksft_test_result(!ret && counter("driver.devmem_used") == used,
			 "%d rounds: MADV_DONTNEED of device THPs moving back: %s, all zero after, %lld device pages left (want %lld), %lld zaps waited for a move\n",
			 round, strerror(-ret), counter("driver.devmem_used"),
			 used, counter("driver.thp_zap_waits") - waits);
}

struct uffd_handler {
	int uffd;
	bool answer;
};

static void *uffd_thread(void *arg)
{
	struct uffd_handler *h = arg;
	struct pollfd pfd = { .fd = h->uffd, .events = POLLIN };
	static uint64_t page[4096 / 8];
	struct uffd_msg msg;
	struct uffdio_copy copy;

	memset(page, 0xab, sizeof(page));
	while (poll(&pfd, 1, -1) > 0) {
		if (read(h->uffd, &msg, sizeof(msg)) != sizeof(msg))
			break;
		if (msg.event != UFFD_EVENT_PAGEFAULT || !h->answer)
			continue;	/* never answers */
		copy = (struct uffdio_copy) {
			.dst = msg.arg.pagefault.address & ~4095ull,
			.src = (uintptr_t)page, .len = 4096,
		};
		ioctl(h->uffd, UFFDIO_COPY, &copy);
	}
	return NULL;
}

/* A device COPY out of a userfaultfd range: 0 and the data, or -errno. */
static int uffd_copy(const char *node, bool answer, uint8_t *out)
{
	uint8_t *buf = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct uffd_handler h = { .answer = answer };
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)buf, .len = 4 * 4096 },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	struct hmmdev_job job = {
		.op = HMMDEV_JOB_COPY, .src = (uintptr_t)buf,
		.dst = (uintptr_t)out, .length = 4 * 4096,
	};
	int fd = open(node, O_RDWR), ret;
	pthread_t t;

	h.uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || h.uffd < 0 || ioctl(h.uffd, UFFDIO_API, &api) ||
	    ioctl(h.uffd, UFFDIO_REGISTER, &reg))
		return -ENOTSUP;
	pthread_create(&t, NULL, uffd_thread, &h);
	ret = ioctl(fd, HMMDEV_IOC_JOB, &job) ? -errno : 0;
	close(fd);
	return ret;
}

static void test_uffd(const char *node)
{
	uint8_t *out = calloc(1, 4 * 4096);
	int ret = uffd_copy(node, true, out), status, fd;
	bool filled = true;
	double t0, t_other, t_end;
	pid_t child;
	size_t i;

	for (i = 0; i < 4 * 4096; i++)
		filled &= out[i] == 0xab;
	if (device_thp)	/* kernels with hmm_range_fault_unlocked_timeout() */
		ksft_test_result(!ret && filled,
				 "device COPY from a userfaultfd range: waits for the handler, reads its data (%s)\n",
				 strerror(-ret));
	else
		ksft_test_result(ret == -EFAULT,
				 "device COPY from a userfaultfd range on this kernel: EFAULT at once (%s)\n",
				 strerror(-ret));
	/* a handler that never answers */
	t0 = now_s();
	child = fork();
	if (!child)
		_exit(uffd_copy(node, false, out) ? 1 : 0);
	usleep(500 * 1000);
	fd = open(node, O_RDWR);
	ret = fd < 0 ? -errno : dma_round_trip(fd, 0, 1 << 20, 7);
	close(fd);
	ret = ret ?: to_device(thp_buffer(4), TWO_MB, 4);
	t_other = now_s() - t0;
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	t_end = now_s() - t0;
	ksft_test_result(!ret && t_end < 20 && WIFSIGNALED(status) == device_thp &&
			 counter("driver.failed") == 0,
			 "handler that never answers: others' DMA and migration done after %.1f s, the job's process gone after %.1f s (killed: %d), device not failed (%s)\n",
			 t_other, t_end, WIFSIGNALED(status), strerror(-ret));
	free(out);
}

int main(int argc, char **argv)
{
	struct hmmdev_fn fns[MAX_DEVS];
	int n = find_hmmdevs(fns, MAX_DEVS);
	struct utsname u;

	ksft_print_header();
	ksft_set_plan(14);
	uname(&u);
	device_thp = kernel_has_device_thp();
	/* without huge device pages the races cannot happen: data checks */
	if ((argc > 1 && !strcmp(argv[1], "quick")) || !device_thp)
		rounds_div = 3;
	dmirror = open("/dev/hmm_dmirror0", O_RDWR);
	if (n < 1 || dmirror < 0 || !fns[0].node[0])
		ksft_exit_fail_msg("no hmmdev0 with /dev/hmm_dmirror0\n");
	bdf = fns[0].bdf;
	ksft_print_msg("Linux %s: huge device pages %s\n", u.release,
		       device_thp ? "expected" : "not on this kernel");
	test_whole(fns[0].node);
	test_split();
	test_fallback();
	test_fork_exit();
	if (n > 1 && fns[1].node[0])
		test_fork_remote_fault(&fns[1]);
	else
		ksft_test_result_fail("a second hmmdev for the remote fault: none\n");
	test_zap_race();
	test_uffd(fns[0].node);
	close(dmirror);
	ksft_finished();
}
