// SPDX-License-Identifier: GPL-2.0
/*
 * hmmdev-reload: module unload/reload (x5 by default), unbind/rebind,
 * rmmod refused while a file is open, and an open file + mapping surviving
 * an unbind (-ENODEV and SIGBUS afterwards, no oops).
 *
 *   hmmdev-reload [EXPECTED_DEVICES [RELOADS]]
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hmmdev_test_util.h"

#define RELOADS		5	/* default */

/* All functions bound, each node answering a 64 KiB round trip. */
static int all_working(int want, int *found)
{
	struct hmmdev_fn fns[MAX_DEVS];
	int n = find_hmmdevs(fns, MAX_DEVS), i, ok = 0;

	for (i = 0; i < n; i++) {
		int fd = fns[i].node[0] ? open(fns[i].node, O_RDWR) : -1;

		if (fd >= 0 && dma_round_trip(fd, 0, 65536, i) == 0)
			ok++;
		if (fd >= 0)
			close(fd);
	}
	*found = ok;
	return n >= 1 && ok == n && (!want || n == want);
}

/* Touch @addr in a child; returns the signal that killed it, or 0. */
static int touch_in_child(char *addr)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		addr[0] = 2;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

/* An open file and a VRAM mapping across unbind: -ENODEV, SIGBUS. */
static void test_unbind_with_open_file(struct hmmdev_fn *fn)
{
	struct hmmdev_info info;
	int fd = open(fn->node, O_RDWR), err = 0, sig_before, sig_after;
	int unbind, rebind, found;
	char *vram;

	if (fd < 0 || ioctl(fd, HMMDEV_IOC_INFO, &info)) {
		ksft_test_result_fail("unbind-open-file: cannot open %s\n", fn->node);
		return;
	}
	vram = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	sig_before = vram == MAP_FAILED ? -1 : touch_in_child(vram);
	unbind = sysfs_write("/sys/bus/pci/drivers/hmmdev/unbind", fn->bdf);
	if (ioctl(fd, HMMDEV_IOC_INFO, &info) < 0)
		err = errno;
	sig_after = vram == MAP_FAILED ? -1 : touch_in_child(vram);
	munmap(vram, 4096);
	close(fd);
	rebind = sysfs_write("/sys/bus/pci/drivers/hmmdev/bind", fn->bdf);
	ksft_test_result(!unbind && err == ENODEV && sig_before == 0 &&
			 sig_after == SIGBUS && !rebind && all_working(0, &found),
			 "unbind-open-file: %s: ioctl errno %d (want ENODEV), mapping signal %d before and %d after (want 0, SIGBUS), rebind %d\n",
			 fn->bdf, err, sig_before, sig_after, rebind);
}

int main(int argc, char **argv)
{
	struct hmmdev_fn fns[MAX_DEVS];
	int want = expected_devices(argc, argv);
	int reloads = argc > 2 ? atoi(argv[2]) : RELOADS;
	int n = find_hmmdevs(fns, MAX_DEVS), i, found, fd, ret;

	ksft_print_header();
	if (reloads < 1)
		ksft_exit_fail_msg("RELOADS: at least 1\n");
	ksft_set_plan(reloads + 4);
	if (n < 1)
		ksft_exit_fail_msg("no hmmdev device\n");

	for (i = 0; i < reloads; i++) {
		int un = unload_module(), gone = access("/dev/hmmdev0", F_OK);
		int load = load_module();

		ksft_test_result(!un && gone && !load && all_working(want, &found),
				 "reload %d: rmmod %d, node gone %d, insmod %d, %d device(s) working\n",
				 i + 1, un, gone != 0, load, found);
	}

	fd = open(fns[0].node, O_RDWR);
	ret = unload_module();
	ksft_test_result(fd >= 0 && (ret == -EBUSY || ret == -EWOULDBLOCK),
			 "rmmod-busy: rmmod with /dev/hmmdev open refused (%d)\n", ret);
	close(fd);

	n = find_hmmdevs(fns, MAX_DEVS);
	ret = sysfs_write("/sys/bus/pci/drivers/hmmdev/unbind", fns[0].bdf);
	found = access(fns[0].node, F_OK);
	ksft_test_result(!ret && found != 0, "unbind: %s unbound, node removed\n",
			 fns[0].bdf);
	ret = sysfs_write("/sys/bus/pci/drivers/hmmdev/bind", fns[0].bdf);
	ksft_test_result(!ret && all_working(want, &found),
			 "rebind: %s bound again, %d device(s) working\n",
			 fns[0].bdf, found);

	n = find_hmmdevs(fns, MAX_DEVS);
	test_unbind_with_open_file(&fns[n - 1]);
	ksft_finished();
}
