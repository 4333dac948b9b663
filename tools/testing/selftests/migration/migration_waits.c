// SPDX-License-Identifier: GPL-2.0
/*
 * Waits on migration entries are visible: the pgmigrate_wait_* events of
 * /proc/vmstat and the migrate:mm_migration_entry_wait tracepoint.
 *
 * An accessor thread writes and checks a set of pages without pause while
 * the main thread moves them between two nodes: it faults on migration
 * entries and waits, and every wait must be counted (pgmigrate_wait_pte
 * rises), and traced with the address, pfn and a plausible duration.
 * The same accessor without any migration must not move the counter.
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
#define TRACING		"/sys/kernel/tracing"
#define EVENT		TRACING "/events/migrate/mm_migration_entry_wait"
/* A wait longer than this is not a plausible duration for one page. */
#define MAX_WAIT_NS	10000000000ULL

struct accessor {
	pthread_t thread;
	char *mem;
	size_t psize;
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
		for (p = 0; p < NR_PAGES; p++)
			__atomic_store_n((uint64_t *)(a->mem + p * a->psize) + 1, pass,
					 __ATOMIC_RELAXED);
		for (p = 0; p < NR_PAGES; p++) {
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
	FILE *f = fopen("/proc/vmstat", "r");
	char key[64];
	long v, found = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &v) == 2)
		if (!strcmp(key, name))
			found = v;
	fclose(f);
	return found;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	return (close(fd) == 0 && ok) ? 0 : -1;
}

FIXTURE(waits)
{
	size_t psize;
	char *mem;
	int node[2];
	void *pages[NR_PAGES];
	struct accessor acc;
	int running;
	int tracing;
};

FIXTURE_SETUP(waits)
{
	int i;

	if (numa_available() < 0)
		SKIP(return, "NUMA is not available in this kernel");
	if (memory_nodes(&self->node[0], &self->node[1]))
		SKIP(return, "needs two nodes with memory");
	if (read_event("pgmigrate_wait_pte") < 0)
		SKIP(return, "no pgmigrate_wait_pte in /proc/vmstat: a kernel without it");
	self->psize = sysconf(_SC_PAGESIZE);
	self->mem = mmap(NULL, NR_PAGES * self->psize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->mem, MAP_FAILED);
	/* Base pages: the pte kind of wait. */
	ASSERT_EQ(madvise(self->mem, NR_PAGES * self->psize, MADV_NOHUGEPAGE), 0);
	fill(self->mem, NR_PAGES, self->psize, 0);
	for (i = 0; i < NR_PAGES; i++)
		self->pages[i] = self->mem + i * self->psize;
	self->acc.mem = self->mem;
	self->acc.psize = self->psize;
}

FIXTURE_TEARDOWN(waits)
{
	if (self->running) {
		atomic_store(&self->acc.stop, 1);
		pthread_join(self->acc.thread, NULL);
	}
	if (self->tracing)
		write_file(EVENT "/enable", "0");
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, NR_PAGES * self->psize);
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
static void move_rounds(struct __test_metadata *_metadata, void **pages, const int node[2],
			int n)
{
	int nodes[NR_PAGES], status[NR_PAGES], round, i;

	for (round = 0; round < n; round++) {
		for (i = 0; i < NR_PAGES; i++)
			nodes[i] = node[round % 2];
		ASSERT_EQ(move_pages(0, NR_PAGES, pages, nodes, status, MPOL_MF_MOVE), 0)
			TH_LOG("round %d: %s", round, strerror(errno));
		for (i = 0; i < NR_PAGES; i++)
			ASSERT_EQ(status[i], nodes[i])
				TH_LOG("round %d: page %d status %d", round, i, status[i]);
	}
}

/*
 * Accesses during migration raise pgmigrate_wait_pte; the same accesses
 * without migration leave it alone.
 */
TEST_F(waits, counters)
{
	long before, during, quiet, passes;

	before = read_event("pgmigrate_wait_pte");
	ASSERT_EQ(start_accessor(&self->acc, &self->running), 0);
	move_rounds(_metadata, self->pages, self->node, NR_MOVES);
	ASSERT_EQ(stop_accessor(&self->acc, &self->running), 0)
		TH_LOG("the accessor saw wrong data");
	during = read_event("pgmigrate_wait_pte") - before;
	TH_LOG("%d moves of %d pages with an accessor: %ld pte waits, %ld accessor passes",
	       NR_MOVES, NR_PAGES, during, atomic_load(&self->acc.passes));
	ASSERT_GT(during, 0) TH_LOG("no wait counted while pages under migration were accessed");

	/* As many accessor passes again, with nothing migrating. */
	passes = atomic_load(&self->acc.passes);
	atomic_store(&self->acc.passes, 0);
	before = read_event("pgmigrate_wait_pte");
	ASSERT_EQ(start_accessor(&self->acc, &self->running), 0);
	while (atomic_load(&self->acc.passes) < passes)
		sched_yield();
	ASSERT_EQ(stop_accessor(&self->acc, &self->running), 0)
		TH_LOG("the accessor saw wrong data without migration");
	quiet = read_event("pgmigrate_wait_pte") - before;
	ASSERT_EQ(quiet, 0) TH_LOG("%ld pte waits counted without any migration", quiet);
}

/*
 * Each wait is one trace event with our address, the pfn of a page under
 * migration and a plausible duration; as many events as counted waits.
 */
TEST_F(waits, tracepoint)
{
	unsigned long lo = (unsigned long)self->mem, hi = lo + NR_PAGES * self->psize;
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

	before = read_event("pgmigrate_wait_pte");
	ASSERT_EQ(start_accessor(&self->acc, &self->running), 0);
	move_rounds(_metadata, self->pages, self->node, NR_MOVES);
	ASSERT_EQ(stop_accessor(&self->acc, &self->running), 0)
		TH_LOG("the accessor saw wrong data");
	counted = read_event("pgmigrate_wait_pte") - before;
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
		events += !strcmp(kind, "pte");
		if (addr < lo || addr >= hi)
			continue;	/* another task's wait */
		ours++;
		if (strcmp(kind, "pte") || !pfn || ns >= MAX_WAIT_NS) {
			TH_LOG("implausible event: %s", ev);
			bad++;
		}
	}
	fclose(f);
	TH_LOG("%ld pte waits counted, %ld pte events, %ld of them for our pages", counted,
	       events, ours);
	ASSERT_EQ(bad, 0);
	ASSERT_GT(ours, 0) TH_LOG("no event for a page under migration");
	ASSERT_EQ(events, counted) TH_LOG("every counted pte wait must be one event");
}

TEST_HARNESS_MAIN
