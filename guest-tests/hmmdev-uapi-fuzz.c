// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev-uapi-fuzz: random sequences of every ioctl of /dev/hmmdevN and
 * /dev/hmm_dmirrorN, with random and boundary arguments, interleaved with
 * mmap/munmap/mprotect/madvise/fork/kill of the buffers they use, in
 * several processes on every device at once.  Deterministic by seed (each
 * worker draws from its own generator; the interleaving of the workers is
 * the scheduler's), bounded in time.
 *
 *   hmmdev-uapi-fuzz [-s SEED]... [-n OPS_PER_SEED] [-p PROCS] [-t SECONDS]
 *
 * One TAP result per seed.  A seed passes when every worker finished its
 * share in time (no hang), none died of a signal it did not ask for, and
 * no device was declared failed.  The kernel log (any oops, KASAN, lockdep
 * report) and the device accounting are checked by the harness afterwards
 * (images/init).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hmmdev_test_util.h"
#include "lib/test_hmm_uapi.h"

#define MAX_BUFS	8
#define MAX_FDS		8
#define PAGE		4096ul
#define MIN(a, b)	((a) < (b) ? (a) : (b))

enum buf_kind { ANON_PRIVATE, ANON_SHARED, MEMFD_SHARED, VRAM, KINDS };

struct buf {
	char *p;
	size_t len;
	int prot;		/* -1: parts differ; never touched */
	enum buf_kind kind;
};

struct worker {
	uint64_t rng;
	struct buf bufs[MAX_BUFS];
	int fds[MAX_FDS];	/* even: /dev/hmmdevN, odd: /dev/hmm_dmirrorN */
	int ndev;
	uint64_t raw_size;
};

/* Shared with the parent: operations done per worker. */
static uint64_t *ops_done;

static uint64_t rnd(struct worker *w)
{
	/* xorshift64* */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 2685821657736338717ull;
}

static uint64_t below(struct worker *w, uint64_t n)
{
	return n ? rnd(w) % n : 0;
}

static int chance(struct worker *w, int percent)
{
	return (int)below(w, 100) < percent;
}

static struct buf *any_buf(struct worker *w)
{
	struct buf *b = &w->bufs[below(w, MAX_BUFS)];

	return b->p ? b : NULL;
}

/* An address: mostly inside a buffer, sometimes a boundary value. */
static uint64_t fuzz_addr(struct worker *w, uint64_t len)
{
	static const uint64_t edges[] = {
		0, PAGE, 0x7ffffffff000ull, 1ull << 47, (1ull << 48) - PAGE,
		1ull << 48, 1ull << 56, 0xffff888000000000ull, ~0ull,
		~0ull - PAGE + 1,
	};
	struct buf *b = any_buf(w);

	if (b && !chance(w, 10)) {
		uint64_t off = below(w, b->len);

		if (chance(w, 50))
			off &= ~(PAGE - 1);
		if (len < b->len && off + len > b->len && chance(w, 70))
			off = b->len - len;
		return (uintptr_t)b->p + off;
	}
	return edges[below(w, ARRAY_SIZE(edges))] + (chance(w, 20) ? below(w, 64) : 0);
}

static uint64_t fuzz_len(struct worker *w, uint64_t max)
{
	static const uint64_t edges[] = {
		0, 1, 7, 8, PAGE - 1, PAGE, PAGE + 1, 2 << 20, 64 << 20,
		(64 << 20) + 1, 1ull << 47, ~0ull,
	};

	if (chance(w, 85))
		return 1 + below(w, chance(w, 50) ? 4 * PAGE : max);
	return edges[below(w, ARRAY_SIZE(edges))];
}

static void drop_buf(struct buf *b)
{
	if (b->p)
		munmap(b->p, b->len);
	memset(b, 0, sizeof(*b));
}

static void op_map(struct worker *w)
{
	struct buf *b = &w->bufs[below(w, MAX_BUFS)];
	size_t len = (1 + below(w, 1024)) * PAGE;
	enum buf_kind kind = below(w, KINDS);
	int fd = -1, flags = MAP_PRIVATE | MAP_ANONYMOUS;
	uint64_t off = 0;

	drop_buf(b);
	if (chance(w, 20))
		len = (2 + below(w, 2)) << 20;	/* room for a THP */
	if (kind == ANON_SHARED) {
		flags = MAP_SHARED | MAP_ANONYMOUS;
	} else if (kind == MEMFD_SHARED) {
		fd = memfd_create("fuzz", 0);
		if (fd < 0 || ftruncate(fd, len))
			goto out;
		flags = MAP_SHARED;
	} else if (kind == VRAM) {
		fd = w->fds[2 * below(w, w->ndev)];
		if (fd < 0 || !w->raw_size)
			goto out;
		len = MIN(len, w->raw_size);
		off = below(w, w->raw_size / PAGE) * PAGE;
		if (off + len > w->raw_size)
			off = w->raw_size - len;
		flags = MAP_SHARED;
		fd = dup(fd);
	}
	b->p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, off);
	if (b->p == MAP_FAILED) {
		b->p = NULL;
		goto out;
	}
	b->len = len;
	b->prot = PROT_READ | PROT_WRITE;
	b->kind = kind;
	if (kind != VRAM && chance(w, 70))
		memset(b->p, (int)rnd(w), chance(w, 50) ? len : len / 2);
out:
	if (fd >= 0)
		close(fd);
}

static void op_vm(struct worker *w)
{
	static const int advice[] = {
		MADV_DONTNEED, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_COLD,
		MADV_PAGEOUT, MADV_WILLNEED, MADV_FREE,
	};
	static const int prots[] = {
		PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE,
	};
	struct buf *b = any_buf(w);
	size_t off, len;

	if (!b)
		return;
	off = below(w, b->len / PAGE) * PAGE;
	len = (1 + below(w, (b->len - off) / PAGE)) * PAGE;
	switch (below(w, 4)) {
	case 0:		/* a hole, or all of it */
		if (chance(w, 50)) {
			drop_buf(b);
		} else {
			/*
			 * unmapped and replaced by an inaccessible mapping:
			 * the range stays ours, so that no later mmap() lands
			 * in the hole and dies with this buffer
			 */
			mmap(b->p + off, len, PROT_NONE,
			     MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			b->prot = -1;
		}
		break;
	case 1: {
		int prot = prots[below(w, ARRAY_SIZE(prots))];

		if (!mprotect(b->p + off, len, prot))
			b->prot = off == 0 && len == b->len ? prot : -1;
		break;
	}
	case 2:
		madvise(b->p + off, len, advice[below(w, ARRAY_SIZE(advice))]);
		break;
	default:	/* the CPU touches it */
		if (b->prot == (PROT_READ | PROT_WRITE))
			memset(b->p + off, (int)rnd(w), len);
		else if (b->prot == PROT_READ)
			(void)__atomic_load_n(b->p + off, __ATOMIC_RELAXED);
	}
}

static void op_hmmdev(struct worker *w, int fd)
{
	union {
		struct hmmdev_info info;
		struct hmmdev_dma dma;
		struct hmmdev_irq_test irq;
		struct hmmdev_counters counters;
		struct hmmdev_job job;
		struct hmmdev_policy policy;
	} a;
	static const unsigned int cmds[] = {
		HMMDEV_IOC_INFO, HMMDEV_IOC_DMA, HMMDEV_IOC_IRQ_TEST,
		HMMDEV_IOC_COUNTERS, HMMDEV_IOC_JOB, HMMDEV_IOC_JOB,
		HMMDEV_IOC_JOB, HMMDEV_IOC_SET_POLICY, _IO('h', 0x7f),
		HMM_DMIRROR_READ,
	};
	unsigned int cmd = cmds[below(w, ARRAY_SIZE(cmds))];
	void *arg = &a;

	memset(&a, 0, sizeof(a));
	switch (cmd) {
	case HMMDEV_IOC_DMA:
		a.dma.length = fuzz_len(w, 1 << 20);
		a.dma.addr = fuzz_addr(w, a.dma.length);
		a.dma.vram_offset = chance(w, 80) ?
			below(w, w->raw_size ?: 1) : fuzz_len(w, 1ull << 40);
		a.dma.direction = chance(w, 90) ? 1 + below(w, 2) : rnd(w);
		a.dma.flags = chance(w, 95) ? 0 : rnd(w);
		break;
	case HMMDEV_IOC_IRQ_TEST:
		a.irq.vector = below(w, 10);
		a.irq.timeout_ms = chance(w, 90) ? 1 + below(w, 100) : rnd(w);
		break;
	case HMMDEV_IOC_JOB:
		a.job.op = chance(w, 95) ? 1 + below(w, 4) : rnd(w);
		a.job.flags = chance(w, 97) ? 0 : rnd(w);
		a.job.length = a.job.op == HMMDEV_JOB_ATOMIC_ADD && chance(w, 80) ?
			8 : fuzz_len(w, 256 << 10);
		a.job.src = fuzz_addr(w, a.job.length);
		a.job.dst = fuzz_addr(w, a.job.length);
		if (a.job.op == HMMDEV_JOB_ATOMIC_ADD && chance(w, 80))
			a.job.dst &= ~7ull;
		a.job.value = rnd(w);
		break;
	case HMMDEV_IOC_SET_POLICY:
		a.policy.fault_around = chance(w, 90) ? 1u << below(w, 10) : rnd(w);
		a.policy.flags = chance(w, 90) ? below(w, 4) : rnd(w);
		break;
	}
	if (chance(w, 2))
		arg = (void *)(uintptr_t)fuzz_addr(w, sizeof(a));
	ioctl(fd, cmd, arg);
}

static void op_dmirror(struct worker *w, int fd)
{
	static const unsigned long cmds[] = {
		HMM_DMIRROR_READ, HMM_DMIRROR_WRITE, HMM_DMIRROR_MIGRATE_TO_DEV,
		HMM_DMIRROR_MIGRATE_TO_DEV, HMM_DMIRROR_MIGRATE_TO_SYS,
		HMM_DMIRROR_SNAPSHOT, HMM_DMIRROR_EXCLUSIVE,
		HMM_DMIRROR_CHECK_EXCLUSIVE, HMM_DMIRROR_RELEASE,
		HMMDEV_IOC_JOB,
	};
	struct hmm_dmirror_cmd c = {};
	unsigned long cmd = cmds[below(w, ARRAY_SIZE(cmds))];
	struct buf *out = any_buf(w);

	if (cmd == HMM_DMIRROR_RELEASE && !chance(w, 5))
		cmd = HMM_DMIRROR_MIGRATE_TO_SYS;	/* all of it: rarely */
	c.npages = chance(w, 90) ? 1 + below(w, 128) : fuzz_len(w, 1 << 20);
	c.addr = fuzz_addr(w, c.npages * PAGE);
	if (chance(w, 90))
		c.addr &= ~(PAGE - 1);
	/* results land in another buffer, or anywhere */
	c.ptr = out && chance(w, 90) ? (uintptr_t)out->p : fuzz_addr(w, PAGE);
	if (out && c.ptr == (uintptr_t)out->p && chance(w, 90))
		c.npages = MIN(c.npages,
			       out->len / (cmd == HMM_DMIRROR_SNAPSHOT ? 1 : PAGE));
	ioctl(fd, cmd, chance(w, 2) ? (void *)(uintptr_t)fuzz_addr(w, 40) : &c);
}

static void op_reopen(struct worker *w)
{
	int i = below(w, 2 * w->ndev);
	char path[64];

	if (w->fds[i] >= 0)
		close(w->fds[i]);
	snprintf(path, sizeof(path), i % 2 ? "/dev/hmm_dmirror%d" : "/dev/hmmdev%d",
		 i / 2);
	w->fds[i] = open(path, O_RDWR);
}

static void one_op(struct worker *w, int depth);

/* A child inherits everything, works a little, exits or is killed. */
static void op_fork(struct worker *w, int depth)
{
	pid_t pid;
	int status, i, n = 1 + below(w, 20);

	if (depth > 0)
		return;
	pid = fork();
	if (pid == 0) {
		w->rng ^= 0x9e3779b97f4a7c15ull;
		for (i = 0; i < n; i++)
			one_op(w, depth + 1);
		_exit(0);
	}
	if (pid < 0)
		return;
	if (chance(w, 40)) {
		usleep(below(w, 20000));
		kill(pid, SIGKILL);
	}
	waitpid(pid, &status, 0);
}

static void one_op(struct worker *w, int depth)
{
	int r = below(w, 100), i = below(w, w->ndev);

	if (r < 12)
		op_map(w);
	else if (r < 30)
		op_vm(w);
	else if (r < 55)
		op_hmmdev(w, w->fds[2 * i]);
	else if (r < 90)
		op_dmirror(w, w->fds[2 * i + 1]);
	else if (r < 96)
		op_reopen(w);
	else
		op_fork(w, depth);
}

static void worker_main(int id, uint64_t seed, uint64_t ops, int ndev,
			double deadline)
{
	struct worker w = { .rng = seed * 1000003 + id + 1, .ndev = ndev };
	struct hmmdev_info info;
	uint64_t n;
	int i;

	for (i = 0; i < 2 * ndev; i++)
		w.fds[i] = -1;
	for (i = 0; i < 2 * ndev; i++)
		op_reopen(&w);
	for (i = 0; i < ndev; i++)
		if (w.fds[2 * i] >= 0 && !ioctl(w.fds[2 * i], HMMDEV_IOC_INFO, &info))
			w.raw_size = info.raw_size;
	for (n = 0; n < ops && now_s() < deadline; n++) {
		one_op(&w, 0);
		__atomic_store_n(&ops_done[id], n + 1, __ATOMIC_RELAXED);
	}
	_exit(0);
}

/* One seed: @procs workers share @ops; the verdict. */
static void run_seed(uint64_t seed, uint64_t ops, int procs, int ndev,
		     double seconds)
{
	double t0 = now_s(), deadline = t0 + seconds;
	int i, n, status, hangs = 0, crashes = 0, failed = 0, crash_sig = 0;
	struct hmmdev_fn fns[MAX_DEVS];
	pid_t pids[64];
	uint64_t done = 0;

	for (i = 0; i < procs; i++) {
		ops_done[i] = 0;
		pids[i] = fork();
		if (pids[i] == 0)
			worker_main(i, seed, (ops + procs - 1) / procs, ndev,
				    deadline);
	}
	for (i = 0; i < procs; i++) {
		/* a worker stuck in the kernel past the deadline is a hang */
		while (waitpid(pids[i], &status, WNOHANG) == 0) {
			if (now_s() > deadline + 120) {
				hangs++;
				kill(pids[i], SIGKILL);
				waitpid(pids[i], &status, 0);
				break;
			}
			usleep(100000);
		}
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL) {
			crashes++;
			crash_sig = WTERMSIG(status);
		}
		done += __atomic_load_n(&ops_done[i], __ATOMIC_RELAXED);
	}
	n = find_hmmdevs(fns, MAX_DEVS);
	for (i = 0; i < ndev && i < n; i++)
		failed += debugfs_counter(fns[i].bdf, "driver.failed") != 0;
	ksft_test_result(!hangs && !crashes && !failed && done >= ops,
			 "uapi-fuzz seed %llu: %llu of %llu operations by %d processes on %d devices in %.1f s; %d hangs, %d crashes (signal %d), %d devices failed\n",
			 (unsigned long long)seed, (unsigned long long)done,
			 (unsigned long long)ops, procs, ndev, now_s() - t0,
			 hangs, crashes, crash_sig, failed);
}

int main(int argc, char **argv)
{
	uint64_t seeds[16], ops = 3000;
	int nseeds = 0, procs = 4, ndev = 0, opt, i;
	double seconds = 600;
	char path[64];

	while ((opt = getopt(argc, argv, "s:n:p:t:")) != -1) {
		if (opt == 's' && nseeds < 16)
			seeds[nseeds++] = strtoull(optarg, NULL, 0);
		else if (opt == 'n')
			ops = strtoull(optarg, NULL, 0);
		else if (opt == 'p')
			procs = atoi(optarg);
		else if (opt == 't')
			seconds = atof(optarg);
	}
	if (!nseeds)
		seeds[nseeds++] = 1;
	if (procs < 1 || procs > 64)
		procs = 4;
	for (ndev = 0; ndev < 4; ndev++) {
		snprintf(path, sizeof(path), "/dev/hmm_dmirror%d", ndev);
		if (access(path, F_OK))
			break;
	}
	/*
	 * Between inaccessible guard pages: a READ with a random length
	 * overruns the worker's buffer it writes into, and must not reach
	 * this page (the kernel then stops at the guard with EFAULT).
	 */
	ops_done = mmap(NULL, 3 * PAGE, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS,
			-1, 0);
	if (ops_done != MAP_FAILED) {
		ops_done = (void *)((char *)ops_done + PAGE);
		if (mprotect(ops_done, PAGE, PROT_READ | PROT_WRITE))
			ops_done = MAP_FAILED;
	}
	ksft_print_header();
	ksft_set_plan(nseeds);
	if (!ndev || ops_done == MAP_FAILED)
		ksft_exit_fail_msg("no /dev/hmm_dmirror0\n");
	for (i = 0; i < nseeds; i++)
		run_seed(seeds[i], ops, procs, ndev, seconds);
	ksft_finished();
}
