// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev-lose: data that is really gone gives SIGBUS on exactly its pages,
 * everything else stays intact (the campaign's vram-poison and
 * surprise-removal cells, images/campaign.sh).
 *
 *   hmmdev-lose poison N   moves 256 pages (4 KiB, 1 MiB) into the VRAM of
 *	hmmdev0, prints CAMPAIGN-GO and waits for the host to poison N of
 *	the device pages holding them (the first 1 MiB of device memory);
 *	then reads every page: N must give SIGBUS (lost: engine reads fail),
 *	the others must hold their data; after munmap the N pages must be
 *	retired, and a new buffer in VRAM must read back intact.
 *   hmmdev-lose removal    moves 64 of 256 pages into the VRAM of hmmdev1,
 *	prints CAMPAIGN-GO and waits for the function to fall off the bus:
 *	pciehp removes it (native hot-plug), or the driver notices by itself
 *	(ACPI hot-plug: nothing tells the guest; a job on it finds all-ones)
 *	and calls on the old file fail with -ENODEV; then it waits for the
 *	function to be removed (the host's device_del).  The 64 must give
 *	SIGBUS (device pages whose VRAM is gone, tombstones after the
 *	eviction), the other 192 must be intact.
 *
 * Prints "CAMPAIGN lose_* N" lines for the host, to the console and again
 * to /tmp/lose.out (images/campaign/cell.sh prints it once the kernel log
 * is quiet: a console line can be cut by a kernel message), and exits 0
 * when all holds.
 */
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#include "hmmdev_test_util.h"
#include <lib/test_hmm_uapi.h>

#define PAGES	256
#define PG	4096ul

static sigjmp_buf jump;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(jump, 1);
}

struct tally {
	long sigbus, intact, corrupt;
};

/* the page check_pages() is at: static, it survives siglongjmp() */
static unsigned long page;
static struct tally tally;

/* Read every page of @buf (pattern @seed): SIGBUS, intact or corrupt. */
static struct tally check_pages(uint8_t *buf, unsigned long pages, int seed)
{
	static uint8_t *want;

	want = malloc(pages * PG);
	fill_pattern(want, pages * PG, seed);
	memset(&tally, 0, sizeof(tally));
	for (page = 0; page < pages; page++) {
		if (sigsetjmp(jump, 1)) {
			tally.sigbus++;
			continue;
		}
		if (memcmp(buf + page * PG, want + page * PG, PG))
			tally.corrupt++;
		else
			tally.intact++;
	}
	free(want);
	return tally;
}

/* A 4 KiB-page buffer of @pages holding pattern @seed. */
static uint8_t *small_pages(unsigned long pages, int seed)
{
	uint8_t *buf = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (buf == MAP_FAILED)
		return NULL;
	madvise(buf, pages * PG, MADV_NOHUGEPAGE);
	fill_pattern(buf, pages * PG, seed);
	return buf;
}

static int migrate(int fd, uint8_t *buf, unsigned long pages)
{
	static uint8_t mirror[PAGES * PG];
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)buf, .ptr = (uintptr_t)mirror,
		.npages = pages,
	};

	if (ioctl(fd, HMM_DMIRROR_MIGRATE_TO_DEV, &cmd) || cmd.cpages != pages)
		return -1;
	return 0;
}

static FILE *out;

/* A "CAMPAIGN lose_NAME VALUE" line, to the console and to /tmp/lose.out */
static void say(const char *name, const char *fmt, double val)
{
	char line[128];

	snprintf(line, sizeof(line), "CAMPAIGN lose_%s ", name);
	snprintf(line + strlen(line), sizeof(line) - strlen(line), fmt, val);
	printf("%s\n", line);
	if (out)
		fprintf(out, "%s\n", line);
}

static void report(const char *what, long expected, struct tally t)
{
	char name[64];

	snprintf(name, sizeof(name), "%s_expected", what);
	say(name, "%.0f", expected);
	snprintf(name, sizeof(name), "%s_sigbus", what);
	say(name, "%.0f", t.sigbus);
	snprintf(name, sizeof(name), "%s_intact", what);
	say(name, "%.0f", t.intact);
	snprintf(name, sizeof(name), "%s_corrupt", what);
	say(name, "%.0f", t.corrupt);
}

static const char *bdf_of(const char *misc)
{
	static char bdf[NAME_MAX + 1];
	char path[128], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/class/misc/%s/device", misc);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return NULL;
	link[n] = 0;
	snprintf(bdf, sizeof(bdf), "%s", strrchr(link, '/') + 1);
	return bdf;
}

static int lose_poison(long n)
{
	int fd = open("/dev/hmm_dmirror0", O_RDWR), i, ok;
	const char *bdf = bdf_of("hmmdev0");
	uint8_t *buf = small_pages(PAGES, 31), *again;
	long long before, retired;
	struct tally t;

	if (fd < 0 || !bdf || !buf || migrate(fd, buf, PAGES)) {
		say("error_migration", "%.0f", 0);
		return 1;
	}
	before = debugfs_counter(bdf, "device.injected");
	printf("CAMPAIGN-GO\n");
	fflush(stdout);
	for (i = 0; i < 300 &&
	     debugfs_counter(bdf, "device.injected") < before + n; i++)
		usleep(100000);
	t = check_pages(buf, PAGES, 31);
	report("poison", n, t);
	ok = t.sigbus == n && t.corrupt == 0 && t.intact == PAGES - n;
	/* the poisoned pages are retired once freed: not used again */
	munmap(buf, PAGES * PG);
	retired = debugfs_counter(bdf, "driver.pages_retired");
	say("poison_retired", "%.0f", retired);
	ok &= retired == n;
	again = small_pages(PAGES, 47);
	if (!again || migrate(fd, again, PAGES)) {
		say("error_migration_after", "%.0f", 0);
		return 1;
	}
	t = check_pages(again, PAGES, 47);
	report("after", 0, t);
	ok &= t.sigbus == 0 && t.corrupt == 0 && t.intact == PAGES;
	return !ok;
}

static uint8_t mirror_page[PG];

static int lose_removal(void)
{
	int fd = open("/dev/hmm_dmirror1", O_RDWR), i, j, ok, enodev;
	uint8_t *buf = small_pages(PAGES, 53);
	struct hmm_dmirror_cmd cmd = { 0 };
	struct tally t;

	/* the 64 pages in the middle go to VRAM, the rest stays */
	if (fd < 0 || !buf || migrate(fd, buf + 96 * PG, 64)) {
		say("error_migration", "%.0f", 0);
		return 1;
	}
	printf("CAMPAIGN-GO\n");
	fflush(stdout);
	/*
	 * gone: removed by pciehp, or a device read (of a system page) fails
	 * with ENODEV once the driver saw all-ones
	 */
	cmd.addr = (uintptr_t)buf;
	cmd.ptr = (uintptr_t)mirror_page;
	cmd.npages = 1;
	for (i = 0; i < 300; i++) {
		if (access("/dev/hmm_dmirror1", F_OK))
			break;
		if (ioctl(fd, HMM_DMIRROR_READ, &cmd) < 0 && errno == ENODEV)
			break;
		usleep(100000);
	}
	say("gone_after_s", "%.1f", i / 10.0);
	/* the host's device_del: the pages leave the device (tombstones) */
	for (j = 0; j < 300 && access("/dev/hmm_dmirror1", F_OK) == 0; j++)
		usleep(100000);
	say("removed", "%.0f", j < 300);
	t = check_pages(buf, PAGES, 53);
	report("removal", 64, t);
	enodev = ioctl(fd, HMM_DMIRROR_READ, &cmd) < 0 && errno == ENODEV;
	say("enodev", "%.0f", enodev);
	ok = i < 300 && t.sigbus == 64 && t.corrupt == 0 &&
	     t.intact == PAGES - 64 && enodev;
	return !ok;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_sigbus };

	sigaction(SIGBUS, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	out = fopen("/tmp/lose.out", "w");
	if (out)
		setvbuf(out, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "poison"))
		return lose_poison(atol(argv[2]));
	if (argc == 2 && !strcmp(argv[1], "removal"))
		return lose_removal();
	fprintf(stderr, "usage: hmmdev-lose poison N | removal\n");
	return 2;
}
