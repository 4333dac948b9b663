// SPDX-License-Identifier: GPL-2.0
/*
 * Swap types and migration entries share one number space: of the
 * 1 << MAX_SWAPFILES_SHIFT types a swap pte can hold, the top ones are
 * reserved for migration entries (read, read-exclusive, write), the
 * hwpoison entry, pte markers and device-private entries, and only the
 * rest, MAX_SWAPFILES, may be given to swapon(2).  2.6.18 fixed a
 * range check in swapon that still counted all 1 << MAX_SWAPFILES_SHIFT
 * types: the swap area that got a reserved type wrote swap entries that
 * the fault path took for migration entries, and memory was corrupted.
 *
 * The test enables swap files until swapon() refuses one, checks that it
 * refuses with EPERM before reaching a reserved type, then uses every
 * swap file it was given, highest type first: a buffer is paged out to
 * it, read back and checked word by word, and the file is switched off.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "migration_util.h"

/* Types no swap area may have in 6.12, whatever the config: 3 migration, 1 pte marker. */
#define MIN_RESERVED	4
#define MAX_AREAS	32	/* 1 << MAX_SWAPFILES_SHIFT */
#define FILE_PAGES	32
#define BUF_PAGES	8
#define SWAP_MAGIC	"SWAPSPACE2"

FIXTURE(swapon)
{
	size_t psize;
	int nr;			/* swap files we enabled */
	int made;		/* swap files we created */
	char path[MAX_AREAS + 1][256];
	int on[MAX_AREAS + 1];
};

/* The number of swap areas in use, from /proc/swaps; -1 without it. */
static int swap_areas(void)
{
	FILE *f = fopen("/proc/swaps", "r");
	char line[512];
	int n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

/* The "Used" kB of swap area @path in /proc/swaps, or -1. */
static long swap_used(const char *path)
{
	FILE *f = fopen("/proc/swaps", "r");
	char line[512], name[256], type[32];
	long size, used = -1, u;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%255s %31s %ld %ld", name, type, &size, &u) == 4 &&
		    !strcmp(name, path))
			used = u;
	fclose(f);
	return used;
}

/* A swap file of FILE_PAGES pages, written out in full (no holes). */
static int make_swap_file(const char *path, size_t psize)
{
	char *buf = calloc(FILE_PAGES, psize);
	uint32_t *info;
	int fd, ok;

	if (!buf)
		return -1;
	/* Version 1 header: version and last page after the 1024 boot bytes. */
	info = (uint32_t *)(buf + 1024);
	info[0] = 1;
	info[1] = FILE_PAGES - 1;
	memcpy(buf + psize - strlen(SWAP_MAGIC), SWAP_MAGIC, strlen(SWAP_MAGIC));
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	ok = fd >= 0 && write(fd, buf, FILE_PAGES * psize) == (ssize_t)(FILE_PAGES * psize) &&
	     fsync(fd) == 0;
	if (fd >= 0)
		close(fd);
	free(buf);
	return ok ? 0 : -1;
}

FIXTURE_SETUP(swapon)
{
	self->psize = sysconf(_SC_PAGESIZE);
}

FIXTURE_TEARDOWN(swapon)
{
	int i;

	for (i = 0; i < self->made; i++) {
		if (self->on[i])
			swapoff(self->path[i]);
		unlink(self->path[i]);
	}
}

/* Keep this task on the CPU it runs on now. */
static void pin_to_this_cpu(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

TEST_F_TIMEOUT(swapon, limit_and_every_type, 300)
{
	const char *dir = getenv("MIGRATION_FILE_DIR");
	int before = swap_areas(), err = 0, i;
	char *buf;

	if (geteuid() != 0)
		SKIP(return, "needs root for swapon");
	if (before < 0)
		SKIP(return, "no swap in this kernel (no /proc/swaps: CONFIG_SWAP=n)");
	if (!dir)
		SKIP(return, "needs MIGRATION_FILE_DIR on a filesystem that holds swap files");

	/* Enable swap files, each preferred over the last, until refused. */
	for (i = 0; i <= MAX_AREAS; i++) {
		snprintf(self->path[i], sizeof(self->path[i]), "%s/migration-swap-%02d", dir, i);
		ASSERT_EQ(make_swap_file(self->path[i], self->psize), 0)
			TH_LOG("writing %s: %s", self->path[i], strerror(errno));
		self->made = i + 1;
		if (swapon(self->path[i], SWAP_FLAG_PREFER | ((i + 1) & SWAP_FLAG_PRIO_MASK))) {
			err = errno;
			break;
		}
		self->on[i] = 1;
		self->nr++;
	}
	if (self->nr == 0 && err == EINVAL)
		SKIP(return, "%s cannot hold swap files", dir);
	ASSERT_GT(self->nr, 0) TH_LOG("swapon %s: %s", self->path[0], strerror(err));
	TH_LOG("%d swap areas were in use, %d swap files enabled, then: %s", before,
	       self->nr, strerror(err));
	ASSERT_EQ(err, EPERM) TH_LOG("the swap file past the last was not refused with EPERM");
	ASSERT_LE(before + self->nr, MAX_AREAS - MIN_RESERVED)
		TH_LOG("%d swap areas: swapon handed out types reserved for migration entries",
		       before + self->nr);

	/*
	 * Use each swap file, the most preferred (the highest type) first.
	 * On one CPU: MADV_PAGEOUT drains only this CPU's LRU batches, and a
	 * page still in another CPU's batch (put there by the last swapoff
	 * or swap-in) would not be paged out.
	 */
	pin_to_this_cpu();
	buf = mmap(NULL, BUF_PAGES * self->psize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(buf, MAP_FAILED);
	for (i = self->nr - 1; i >= 0; i--) {
		size_t word = 0;
		uint64_t got = 0;
		long bad;

		fill(buf, BUF_PAGES, self->psize, i);
		ASSERT_EQ(madvise(buf, BUF_PAGES * self->psize, MADV_PAGEOUT), 0);
		ASSERT_GT(swap_used(self->path[i]), 0)
			TH_LOG("nothing was paged out to %s", self->path[i]);
		bad = first_bad(buf, BUF_PAGES, self->psize, i, &word, &got);
		ASSERT_EQ(bad, -1) TH_LOG("swap file %d: page %ld word %zu is %#llx after swap-in",
					  i, bad, word, (unsigned long long)got);
		ASSERT_EQ(swapoff(self->path[i]), 0) TH_LOG("swapoff %s: %s", self->path[i],
							    strerror(errno));
		self->on[i] = 0;
		bad = first_bad(buf, BUF_PAGES, self->psize, i, &word, &got);
		ASSERT_EQ(bad, -1) TH_LOG("swap file %d: page %ld word %zu is %#llx after swapoff",
					  i, bad, word, (unsigned long long)got);
	}
	munmap(buf, BUF_PAGES * self->psize);
}

TEST_HARNESS_MAIN
