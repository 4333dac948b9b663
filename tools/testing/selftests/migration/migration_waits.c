// SPDX-License-Identifier: GPL-2.0
/*
 * Waits on migration entries are visible: the pgmigrate_wait_* events of
 * /proc/vmstat and the migrate:mm_migration_entry_wait tracepoint.
 *
 * An accessor thread writes and checks memory without pause while the
 * main thread moves it between two nodes: it faults on migration entries
 * and waits.  For each kind of entry - base pages (pte), a THP (pmd), a
 * hugetlb page - every wait must be counted in its event, and traced
 * with the address, pfn, kind and a plausible duration; the same accessor
 * without any migration must not move the counter.  A fault path that
 * stopped waiting on an entry (and spun instead) counts nothing.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "migration_util.h"

#define NR_PAGES	64
#define NR_MOVES	200
#define HUGE_SIZE	(2UL << 20)
/* Accessor passes of the phase without migration, at most. */
#define QUIET_PASSES	2000
#define TRACING		"/sys/kernel/tracing"
#define EVENT		TRACING "/events/migrate/mm_migration_entry_wait"
/* A wait longer than this is not a plausible duration for one page. */
#define MAX_WAIT_NS	10000000000ULL

struct accessor {
	pthread_t thread;
	char *mem;
	size_t psize;
	size_t nr;		/* pages */
	atomic_int stop;
	atomic_long passes;
	atomic_long bad;	/* passes that saw a wrong word */
};

/*
 * Write word 1 of every page, then check words 0 and 1 of every page:
 * word 0 keeps the fill pattern, word 1 what this pass wrote.
 */
static void *accessor_fn(void *arg)
{
	struct accessor *a = arg;
	uint64_t pass = 0;
	size_t p;

	while (!atomic_load(&a->stop)) {
		pass++;
		for (p = 0; p < a->nr; p++)
			__atomic_store_n((uint64_t *)(a->mem + p * a->psize) + 1, pass,
					 __ATOMIC_RELAXED);
		for (p = 0; p < a->nr; p++) {
			uint64_t *w = (uint64_t *)(a->mem + p * a->psize);

			if (w[0] != pattern(p, 0, 0) || w[1] != pass)
				atomic_fetch_add(&a->bad, 1);
		}
		atomic_fetch_add(&a->passes, 1);
	}
	return NULL;
}

/* pgmigrate_wait_<kind> from /proc/vmstat, or -1 when the kernel has none. */
static long read_event(const char *name)
{
	return vmstat_event(name);
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	return (close(fd) == 0 && ok) ? 0 : -1;
}

enum backing { BASE_PAGES, THP, HUGETLB };

FIXTURE(waits)
{
	size_t psize;
	size_t len;
	char *map;		/* what mmap returned */
	char *mem;		/* the range under test (aligned for a THP) */
	size_t map_len;
	int node[2];
	long huge_saved[2];
	void *pages[NR_PAGES];
	int nr_moved;		/* entries passed to move_pages(): one per folio */
	struct accessor acc;
	int running;
	int tracing;
};

FIXTURE_VARIANT(waits)
{
	enum backing backing;
	const char *counter;	/* in /proc/vmstat */
	const char *kind;	/* in the trace event */
};

FIXTURE_VARIANT_ADD(waits, pte)
{
	.backing = BASE_PAGES,
	.counter = "pgmigrate_wait_pte",
	.kind = "pte",
};

FIXTURE_VARIANT_ADD(waits, pmd)
{
	.backing = THP,
	.counter = "pgmigrate_wait_pmd",
	.kind = "pmd",
};

FIXTURE_VARIANT_ADD(waits, hugetlb)
{
	.backing = HUGETLB,
	.counter = "pgmigrate_wait_hugetlb",
	.kind = "hugetlb",
};

FIXTURE_SETUP(waits)
{
	int prot = PROT_READ | PROT_WRITE, flags = MAP_PRIVATE | MAP_ANONYMOUS, i;

	self->huge_saved[0] = -1;
	self->huge_saved[1] = -1;
	if (numa_available() < 0)
		SKIP(return, "NUMA is not available in this kernel");
	if (memory_nodes(&self->node[0], &self->node[1]))
		SKIP(return, "needs two nodes with memory");
	if (read_event(variant->counter) < 0)
		SKIP(return, "no %s in /proc/vmstat: a kernel without it", variant->counter);
	self->psize = sysconf(_SC_PAGESIZE);
	self->len = variant->backing == BASE_PAGES ? NR_PAGES * self->psize : HUGE_SIZE;
	self->map_len = variant->backing == THP ? 2 * self->len : self->len;
	if (variant->backing == HUGETLB) {
		if (reserve_huge_pages(self->node, self->huge_saved))
			SKIP(return, "cannot add a 2 MiB huge page on each node (needs root)");
		flags |= MAP_HUGETLB;
	}
	self->map = mmap(NULL, self->map_len, prot, flags, -1, 0);
	ASSERT_NE(self->map, MAP_FAILED) TH_LOG("mmap: %s", strerror(errno));
	self->mem = self->map;
	if (variant->backing == THP) {
		self->mem = (char *)(((uintptr_t)self->map + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1));
		ASSERT_EQ(madvise(self->mem, self->len, MADV_HUGEPAGE), 0);
	} else if (variant->backing == BASE_PAGES) {
		ASSERT_EQ(madvise(self->mem, self->len, MADV_NOHUGEPAGE), 0);
	}
	fill(self->mem, self->len / self->psize, self->psize, 0);
	if (variant->backing == THP && smaps_kb(self->mem, "AnonHugePages") < 2048)
		SKIP(return, "no THP for the aligned range");
	/* A huge page moves as one: name its first page only. */
	self->nr_moved = variant->backing == BASE_PAGES ? NR_PAGES : 1;
	for (i = 0; i < self->nr_moved; i++)
		self->pages[i] = self->mem + i * self->psize;
	self->acc.mem = self->mem;
	self->acc.psize = self->psize;
	self->acc.nr = self->len / self->psize;
}

FIXTURE_TEARDOWN(waits)
{
	if (self->running) {
		atomic_store(&self->acc.stop, 1);
		pthread_join(self->acc.thread, NULL);
	}
	if (self->tracing)
		write_file(EVENT "/enable", "0");
	if (self->map && self->map != MAP_FAILED)
		munmap(self->map, self->map_len);
	restore_huge_pages(self->node, self->huge_saved);
}

/* Start the accessor and wait until it has made two passes; 0 or -1. */
static int start_accessor(struct accessor *a, int *running)
{
	long passes;

	atomic_store(&a->stop, 0);
	if (pthread_create(&a->thread, NULL, accessor_fn, a))
		return -1;
	*running = 1;
	passes = atomic_load(&a->passes);
	while (atomic_load(&a->passes) < passes + 2)
		sched_yield();
	return 0;
}

/* Stop it: the number of passes that saw wrong data. */
static long stop_accessor(struct accessor *a, int *running)
{
	atomic_store(&a->stop, 1);
	pthread_join(a->thread, NULL);
	*running = 0;
	return atomic_load(&a->bad);
}

/* Move every page to the other node @n times, checking status each time. */
static void move_rounds(struct __test_metadata *_metadata, void **pages, int nr,
			const int node[2], int n)
{
	int nodes[NR_PAGES], status[NR_PAGES], round, i;

	for (round = 0; round < n; round++) {
		for (i = 0; i < nr; i++)
			nodes[i] = node[round % 2];
		ASSERT_EQ(move_pages(0, nr, pages, nodes, status, MPOL_MF_MOVE), 0)
			TH_LOG("round %d: %s", round, strerror(errno));
		for (i = 0; i < nr; i++) {
			ASSERT_EQ(status[i], nodes[i])
				TH_LOG("round %d: page %d status %d", round, i, status[i]);
		}
	}
}

/*
 * Accesses during migration raise the variant's pgmigrate_wait_* event;
 * the same accesses without migration, a control, raise it far less (the
 * rest of the system may wait on migrations of its own meanwhile).
 */
TEST_F_TIMEOUT(waits, counters, 120)
{
	long before, during, quiet, passes;

	before = read_event(variant->counter);
	ASSERT_EQ(start_accessor(&self->acc, &self->running), 0);
	move_rounds(_metadata, self->pages, self->nr_moved, self->node, NR_MOVES);
	ASSERT_EQ(stop_accessor(&self->acc, &self->running), 0)
		TH_LOG("the accessor saw wrong data");
	during = read_event(variant->counter) - before;
	TH_LOG("%d moves with an accessor: %ld %s waits, %ld accessor passes", NR_MOVES,
	       during, variant->kind, atomic_load(&self->acc.passes));
	ASSERT_GT(during, 0) TH_LOG("no %s wait counted while pages under migration were accessed",
				    variant->kind);

	/* Accessor passes again (as many, up to QUIET_PASSES), nothing migrating. */
	passes = atomic_load(&self->acc.passes);
	if (passes > QUIET_PASSES)
		passes = QUIET_PASSES;
	atomic_store(&self->acc.passes, 0);
	before = read_event(variant->counter);
	ASSERT_EQ(start_accessor(&self->acc, &self->running), 0);
	while (atomic_load(&self->acc.passes) < passes)
		sched_yield();
	ASSERT_EQ(stop_accessor(&self->acc, &self->running), 0)
		TH_LOG("the accessor saw wrong data without migration");
	quiet = read_event(variant->counter) - before;
	/*
	 * The counters are system-wide: the control tells what the rest of
	 * the system adds, and the accessor must have waited far more.
	 */
	TH_LOG("the same passes without migration: %ld %s waits", quiet, variant->kind);
	ASSERT_GT(during, 2 * quiet) TH_LOG("%ld waits with migration, %ld without", during,
					    quiet);
}

/*
 * Each wait is one trace event of the variant's kind, with our address -
 * the start of what the entry maps: a page, or a 2 MiB PMD or hugetlb
 * page - the pfn of a folio under migration and a plausible duration; as
 * many events as counted waits.
 */
TEST_F_TIMEOUT(waits, tracepoint, 120)
{
	unsigned long lo = (unsigned long)self->mem, hi = lo + self->len;
	unsigned long align = strcmp(variant->kind, "pte") ? 2UL << 20 : sysconf(_SC_PAGESIZE);
	long before, counted, events = 0, ours = 0, bad = 0;
	char line[512];
	FILE *f;

	if (geteuid() != 0)
		SKIP(return, "needs root for tracefs");
	if (access(TRACING "/trace", F_OK) &&
	    mount("tracefs", TRACING, "tracefs", 0, NULL))
		SKIP(return, "no tracefs (CONFIG_TRACING=n?)");
	if (access(EVENT "/enable", W_OK))
		SKIP(return, "no %s (a kernel without the tracepoint)", EVENT);
	ASSERT_EQ(write_file(TRACING "/trace", ""), 0);
	ASSERT_EQ(write_file(EVENT "/enable", "1"), 0);
	self->tracing = 1;

	before = read_event(variant->counter);
	ASSERT_EQ(start_accessor(&self->acc, &self->running), 0);
	move_rounds(_metadata, self->pages, self->nr_moved, self->node, NR_MOVES);
	ASSERT_EQ(stop_accessor(&self->acc, &self->running), 0)
		TH_LOG("the accessor saw wrong data");
	counted = read_event(variant->counter) - before;
	ASSERT_EQ(write_file(EVENT "/enable", "0"), 0);
	self->tracing = 0;

	f = fopen(TRACING "/trace", "r");
	ASSERT_NE(f, NULL);
	while (fgets(line, sizeof(line), f)) {
		unsigned long addr, pfn;
		unsigned long long ns;
		char kind[16];
		char *ev = strstr(line, "mm_migration_entry_wait: ");

		if (!ev)
			continue;
		if (sscanf(ev, "mm_migration_entry_wait: addr=%lx pfn=%lx kind=%15s delay_ns=%llu",
			   &addr, &pfn, kind, &ns) != 4) {
			TH_LOG("unparsed event: %s", ev);
			bad++;
			continue;
		}
		events += !strcmp(kind, variant->kind);
		if (addr < lo || addr >= hi)
			continue;	/* another task's wait */
		ours++;
		if (strcmp(kind, variant->kind) || !pfn || ns >= MAX_WAIT_NS ||
		    addr % align) {
			TH_LOG("implausible event: %s", ev);
			bad++;
		}
	}
	fclose(f);
	TH_LOG("%ld %s waits counted, %ld such events, %ld of them for our pages", counted,
	       variant->kind, events, ours);
	ASSERT_EQ(bad, 0);
	ASSERT_GT(ours, 0) TH_LOG("no event for a page under migration");
	ASSERT_EQ(events, counted) TH_LOG("every counted wait must be one event");
}

TEST_HARNESS_MAIN
