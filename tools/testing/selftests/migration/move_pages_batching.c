// SPDX-License-Identifier: GPL-2.0
/*
 * How move_pages(2) batches its work, counted with the migrate:mm_migrate_pages
 * tracepoint (one event per migrate_pages() call, with the pages it moved),
 * not timed, and with the migration entries' tracepoints (set_migration_pte,
 * remove_migration_pte): how many pages are behind an entry at once.  The
 * series makes move_pages() work through its arrays a window of 512
 * entries at a time (MOVE_PAGES_WINDOW) and hand each target node's
 * folios to migrate_pages() 64 base pages at a time (MOVE_PAGES_UNMAP, a
 * larger folio alone): migrate_pages() unmaps a whole batch before it
 * copies and remaps any of it, so the batch is how long a fault on one of
 * its pages may wait.
 *
 * - all_to_one: every page to one node - one call per 64 pages, never
 *   more than 64 pages behind migration entries at once, and no more than
 *   a window's 512 migrated under one taking of the mmap_lock (a window
 *   looks its entries up under one mmap_read_lock, then migrates them);
 * - alternating: pages alternate between the nodes and each moves to the
 *   other - one call per 64 pages of each node, not one per entry as a
 *   flush at every change of target made it, and no more than 64 pages
 *   unmapped at once although a window holds 256 for each node;
 * - half_placed: every other page is already on the target - one call per
 *   64 pages that move, not one after every page that needs no move;
 * - thp_listed: THPs listed page by page - every entry's status is the
 *   node its page ends on (no -EBUSY for the pages after the first), also
 *   when the list starts and ends half-way into a THP (thp_listed_unaligned);
 * - thp_one_entry_each: 32 THPs named by one entry each - a window ends
 *   before it holds more than 32 MiB isolated (MOVE_PAGES_BATCH), so no
 *   more than 16 of them move under one taking of the mmap_lock.
 *
 * Each case also checks every page's data and node afterwards.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <numaif.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "migration_util.h"

#define NR_PAGES	4096
#define WINDOW		512	/* MOVE_PAGES_WINDOW on x86_64 */
#define NR_WINDOWS	(NR_PAGES / WINDOW)
#define UNMAP		64	/* MOVE_PAGES_UNMAP */
#define HUGE_SIZE	(2UL << 20)
#define TRACING		"/sys/kernel/tracing"
#define EVENT		TRACING "/events/migrate/mm_migrate_pages"
#define SET_EVENT	TRACING "/events/migrate/set_migration_pte"
#define REMOVE_EVENT	TRACING "/events/migrate/remove_migration_pte"
#define SET_PMD_EVENT	TRACING "/events/thp/set_migration_pmd"
#define LOCK_EVENT	TRACING "/events/mmap_lock/mmap_lock_acquire_returned"

/* The events of this task traced around a call. */
static const char * const events[] = { EVENT, SET_EVENT, REMOVE_EVENT, SET_PMD_EVENT,
				       LOCK_EVENT };

struct range {
	size_t psize;
	char *map, *mem;	/* what mmap returned; 2 MiB aligned */
	size_t map_len;
	int node[2];
	void **pages;
	int *nodes, *status;
	int tracing;
};

FIXTURE(batch)
{
	struct range r;
};

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	return (close(fd) == 0 && ok) ? 0 : -1;
}

FIXTURE_SETUP(batch)
{
	char file[256];
	cpu_set_t cpu;
	int i;

	if (numa_available() < 0)
		SKIP(return, "NUMA is not available in this kernel");
	if (memory_nodes(&self->r.node[0], &self->r.node[1]))
		SKIP(return, "needs two nodes with memory");
	if (geteuid() != 0)
		SKIP(return, "needs root for tracefs");
	if (access(TRACING "/trace", F_OK) && mount("tracefs", TRACING, "tracefs", 0, NULL))
		SKIP(return, "no tracefs (CONFIG_TRACING=n?)");
	if (access(EVENT "/enable", W_OK))
		SKIP(return, "no %s", EVENT);
	for (i = 0; i < (int)ARRAY_SIZE(events); i++) {
		snprintf(file, sizeof(file), "%s/enable", events[i]);
		if (access(file, W_OK))
			SKIP(return, "no %s", events[i]);
	}
	/* One CPU: the events of one trace buffer, in the order they happened. */
	CPU_ZERO(&cpu);
	CPU_SET(sched_getcpu(), &cpu);
	ASSERT_EQ(sched_setaffinity(0, sizeof(cpu), &cpu), 0);
	self->r.psize = sysconf(_SC_PAGESIZE);
	self->r.map_len = NR_PAGES * self->r.psize + HUGE_SIZE;
	self->r.map = mmap(NULL, self->r.map_len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->r.map, MAP_FAILED);
	self->r.mem = (char *)(((uintptr_t)self->r.map + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1));
	self->r.pages = calloc(NR_PAGES, sizeof(void *));
	self->r.nodes = calloc(NR_PAGES, sizeof(int));
	self->r.status = calloc(NR_PAGES, sizeof(int));
	ASSERT_TRUE(self->r.pages && self->r.nodes && self->r.status);
}

/* Trace the events[] of this task from now on, or stop. */
static int trace_calls(int on)
{
	char filter[64], file[256];
	int i, err = 0;

	snprintf(filter, sizeof(filter), "common_pid == %d", getpid());
	if (on && (write_file(TRACING "/buffer_size_kb", "4096") ||
		   write_file(TRACING "/trace", "")))
		return -1;
	for (i = 0; i < (int)ARRAY_SIZE(events); i++) {
		snprintf(file, sizeof(file), "%s/filter", events[i]);
		err |= write_file(file, on ? filter : "0");
	}
	for (i = 0; i < (int)ARRAY_SIZE(events); i++) {
		snprintf(file, sizeof(file), "%s/enable", events[i]);
		err |= write_file(file, on ? "1" : "0");
	}
	return err;
}

FIXTURE_TEARDOWN(batch)
{
	if (self->r.tracing)
		trace_calls(0);
	if (self->r.map && self->r.map != MAP_FAILED)
		munmap(self->r.map, self->r.map_len);
	free(self->r.pages);
	free(self->r.nodes);
	free(self->r.status);
}

struct calls {
	long events;		/* migrate_pages() calls for move_pages() */
	long moved;		/* pages they moved */
	long largest;		/* the most one call moved */
	long entries;		/* pages given a pte migration entry */
	long unmapped;		/* the most pte migration entries at once */
	long window;		/* the most pages unmapped under one mmap_lock taking */
	long left;		/* pte migration entries never removed */
	int lost;		/* the trace buffer overflowed */
};

/*
 * The events of move_pages() on [@mem, @mem + @len) in the trace buffer:
 * its migrate_pages() calls, and the migration entries it set, also
 * counted per taking of the mmap_lock - a window looks its entries up
 * under one mmap_read_lock and then migrates them, so the pages unmapped
 * between two takings are a window's (a THP's PMD entry counts its base
 * pages).  Each page counts once however often it is unmapped (a folio
 * migrate_pages() retries is unmapped again), and a removal counts only
 * for an entry whose setting was seen (a THP split under migration turns
 * its PMD entry into pte entries without a set_migration_pte event).
 */
static struct calls read_calls(const char *mem, size_t len, size_t psize)
{
	size_t nr = len / psize, per = HUGE_SIZE / psize, page;
	unsigned char *out = calloc(nr, 1), *ever = calloc(nr, 1);
	long *seen = calloc(nr, sizeof(long));
	FILE *f = fopen(TRACING "/trace", "r");
	long cur = 0, window = 0, gen = 1;
	struct calls c = { 0 };
	char line[512];

	if (!f || !out || !ever || !seen) {
		c.events = -1;
		goto done;
	}
	while (fgets(line, sizeof(line), f)) {
		char *ev = strstr(line, "mm_migrate_pages: "), *a = strstr(line, "addr=");
		unsigned long addr = 0;
		long ok, in, written;
		int pmd;

		if (line[0] == '#' && strstr(line, "entries-in-buffer") &&
		    sscanf(strchr(line, ':') + 1, "%ld/%ld", &in, &written) == 2 && in != written)
			c.lost = 1;
		if (strstr(line, ": mmap_lock_acquire_returned: ")) {
			window = 0;
			gen++;
		}
		if (a && sscanf(a, "addr=%lx", &addr) == 1 && addr >= (unsigned long)mem)
			page = (addr - (unsigned long)mem) / psize;
		else
			page = nr;
		if (page < nr) {
			pmd = !!strstr(line, ": set_migration_pmd: ");
			if ((pmd || strstr(line, ": set_migration_pte: ")) && seen[page] != gen) {
				seen[page] = gen;
				window += pmd ? per : 1;
			}
			if (strstr(line, ": set_migration_pte: ") && !out[page]) {
				out[page] = 1;
				c.entries += !ever[page];
				ever[page] = 1;
				if (++cur > c.unmapped)
					c.unmapped = cur;
			}
			if (strstr(line, ": remove_migration_pte: ") && out[page]) {
				out[page] = 0;
				cur--;
			}
			if (window > c.window)
				c.window = window;
		}
		if (!ev || !strstr(ev, "reason=syscall_or_cpuset") ||
		    sscanf(ev, "mm_migrate_pages: nr_succeeded=%ld", &ok) != 1)
			continue;
		c.events++;
		c.moved += ok;
		if (ok > c.largest)
			c.largest = ok;
	}
	c.left = cur;
done:
	if (f)
		fclose(f);
	free(out);
	free(ever);
	free(seen);
	return c;
}

/*
 * Map @thp ? THPs : base pages, fill them, put page i on @before[i % 2]
 * (untimed, untraced), then trace one move_pages() of every page to
 * @after[i % 2].  Checks the call, every status, data and node.
 */
static struct calls traced_move_range(struct __test_metadata *_metadata, struct range *self,
				      int thp, const int before[2], const int after[2],
				      size_t first, size_t n)
{
	struct calls c = { -1 };
	size_t word = 0;
	uint64_t got = 0;
	long rc;
	int i;

	ASSERT_EQ(madvise(self->mem, NR_PAGES * self->psize,
			  thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE), 0);
	fill(self->mem, NR_PAGES, self->psize, 0);
	if (thp && smaps_kb(self->mem, "AnonHugePages") < (long)(NR_PAGES * self->psize >> 10))
		SKIP(return c, "the range is not all THPs");
	for (i = 0; i < NR_PAGES; i++) {
		self->pages[i] = self->mem + i * self->psize;
		self->nodes[i] = before[i % 2];
	}
	ASSERT_EQ(move_pages(0, NR_PAGES, self->pages, self->nodes, self->status,
			     MPOL_MF_MOVE), 0);
	for (i = 0; i < NR_PAGES; i++)
		self->nodes[i] = after[i % 2];

	ASSERT_EQ(trace_calls(1), 0);
	self->tracing = 1;
	rc = move_pages(0, n, self->pages + first, self->nodes + first, self->status + first,
			MPOL_MF_MOVE);
	ASSERT_EQ(trace_calls(0), 0);
	self->tracing = 0;
	ASSERT_EQ(rc, 0) TH_LOG("move_pages: %ld (%s)", rc, strerror(errno));
	for (i = first; i < (int)(first + n); i++) {
		ASSERT_EQ(self->status[i], self->nodes[i])
			TH_LOG("page %d: status %d, target %d", i, self->status[i],
			       self->nodes[i]);
	}
	/* Whole THPs move, also the pages of them the call did not list. */
	ASSERT_EQ(move_pages(0, NR_PAGES, self->pages, NULL, self->status, 0), 0);
	for (i = 0; i < NR_PAGES; i++) {
		ASSERT_EQ(self->status[i], self->nodes[i])
			TH_LOG("page %d is on node %d, not %d", i, self->status[i],
			       self->nodes[i]);
	}
	ASSERT_EQ(first_bad(self->mem, NR_PAGES, self->psize, 0, &word, &got), -1)
		TH_LOG("word %zu is %#llx", word, (unsigned long long)got);
	c = read_calls(self->mem, NR_PAGES * self->psize, self->psize);
	TH_LOG("%ld migrate_pages() calls moved %ld pages, at most %ld in one",
	       c.events, c.moved, c.largest);
	TH_LOG("%ld pte entries set, at most %ld at once, at most %ld pages in a window",
	       c.entries, c.unmapped, c.window);
	ASSERT_FALSE(c.lost) TH_LOG("the trace buffer overflowed");
	ASSERT_EQ(c.left, 0) TH_LOG("%ld migration entries set and never removed", c.left);
	return c;
}

static struct calls traced_move(struct __test_metadata *_metadata, struct range *self,
				int thp, const int before[2], const int after[2])
{
	return traced_move_range(_metadata, self, thp, before, after, 0, NR_PAGES);
}

TEST_F(batch, all_to_one)
{
	int before[2] = { self->r.node[0], self->r.node[0] };
	int after[2] = { self->r.node[1], self->r.node[1] };
	struct calls c = traced_move(_metadata, &self->r, 0, before, after);

	if (c.events < 0)
		return;
	EXPECT_EQ(c.moved, NR_PAGES);
	EXPECT_EQ(c.entries, NR_PAGES);
	EXPECT_LE(c.window, WINDOW) TH_LOG("more than a window isolated at once");
	EXPECT_LE(c.largest, UNMAP) TH_LOG("more than %d pages in one migrate_pages()", UNMAP);
	EXPECT_LE(c.unmapped, UNMAP) TH_LOG("more than %d pages unmapped at once", UNMAP);
	EXPECT_LE(c.events, NR_PAGES / UNMAP);
}

TEST_F(batch, alternating)
{
	int before[2] = { self->r.node[0], self->r.node[1] };
	int after[2] = { self->r.node[1], self->r.node[0] };
	struct calls c = traced_move(_metadata, &self->r, 0, before, after);

	if (c.events < 0)
		return;
	EXPECT_EQ(c.moved, NR_PAGES);
	EXPECT_EQ(c.entries, NR_PAGES);
	EXPECT_LE(c.unmapped, UNMAP) TH_LOG("more than %d pages unmapped at once", UNMAP);
	EXPECT_LE(c.events, NR_PAGES / UNMAP) TH_LOG("a migrate_pages() per change of target?");
}

TEST_F(batch, half_placed)
{
	int before[2] = { self->r.node[1], self->r.node[0] };
	int after[2] = { self->r.node[1], self->r.node[1] };
	struct calls c = traced_move(_metadata, &self->r, 0, before, after);

	if (c.events < 0)
		return;
	EXPECT_EQ(c.moved, NR_PAGES / 2);
	EXPECT_EQ(c.entries, NR_PAGES / 2);
	EXPECT_LE(c.unmapped, UNMAP) TH_LOG("more than %d pages unmapped at once", UNMAP);
	EXPECT_LE(c.events, NR_PAGES / 2 / UNMAP)
		TH_LOG("a migrate_pages() after every placed page?");
}

TEST_F(batch, thp_listed)
{
	int before[2] = { self->r.node[0], self->r.node[0] };
	int after[2] = { self->r.node[1], self->r.node[1] };
	struct calls c = traced_move(_metadata, &self->r, 1, before, after);

	if (c.events < 0)
		return;
	EXPECT_EQ(c.moved, NR_PAGES);
	EXPECT_LE(c.events, NR_WINDOWS);
}

/*
 * The listed range starts and ends half-way into a THP (3584 entries over
 * 8 THPs), so that THPs straddle the ends of the kernel's windows: each
 * moves whole, once.
 */
TEST_F(batch, thp_listed_unaligned)
{
	int before[2] = { self->r.node[0], self->r.node[0] };
	int after[2] = { self->r.node[1], self->r.node[1] };
	size_t half = HUGE_SIZE / self->r.psize / 2;
	struct calls c = traced_move_range(_metadata, &self->r, 1, before, after, half,
					   NR_PAGES - 2 * half);

	if (c.events < 0)
		return;
	EXPECT_EQ(c.moved, NR_PAGES) TH_LOG("a THP moved twice, or not whole?");
	/* One call per THP at most: each is a batch alone. */
	EXPECT_LE(c.events, NR_PAGES / (2 * half));
}

#define NR_BIG		32
#define BATCH_PAGES	((32UL << 20) / 4096)	/* MOVE_PAGES_BATCH with 4 KiB pages */

TEST_F(batch, thp_one_entry_each)
{
	size_t len = (NR_BIG + 1) * HUGE_SIZE, word = 0;
	size_t per = HUGE_SIZE / self->r.psize;
	void *pages[NR_BIG];
	int nodes[NR_BIG], status[NR_BIG], i;
	uint64_t got = 0;
	struct calls c;
	char *map, *mem;
	long rc;

	if (self->r.psize != 4096)
		SKIP(return, "the bound is counted for 4 KiB pages");
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(map, MAP_FAILED);
	mem = (char *)(((uintptr_t)map + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1));
	ASSERT_EQ(madvise(mem, NR_BIG * HUGE_SIZE, MADV_HUGEPAGE), 0);
	fill(mem, NR_BIG * per, self->r.psize, 0);
	if (smaps_kb(mem, "AnonHugePages") < (long)(NR_BIG * HUGE_SIZE >> 10)) {
		munmap(map, len);
		SKIP(return, "the range is not all THPs");
	}
	for (i = 0; i < NR_BIG; i++) {
		pages[i] = mem + i * HUGE_SIZE + (i % per) * self->r.psize;
		nodes[i] = self->r.node[0];
	}
	ASSERT_EQ(move_pages(0, NR_BIG, pages, nodes, status, MPOL_MF_MOVE), 0);
	for (i = 0; i < NR_BIG; i++)
		nodes[i] = self->r.node[1];
	ASSERT_EQ(trace_calls(1), 0);
	self->r.tracing = 1;
	rc = move_pages(0, NR_BIG, pages, nodes, status, MPOL_MF_MOVE);
	ASSERT_EQ(trace_calls(0), 0);
	self->r.tracing = 0;
	ASSERT_EQ(rc, 0) TH_LOG("move_pages: %ld (%s)", rc, strerror(errno));
	c = read_calls(mem, NR_BIG * HUGE_SIZE, self->r.psize);
	for (i = 0; i < NR_BIG; i++) {
		ASSERT_EQ(status[i], nodes[i]) TH_LOG("THP %d: status %d", i, status[i]);
	}
	ASSERT_EQ(move_pages(0, NR_BIG, pages, NULL, status, 0), 0);
	for (i = 0; i < NR_BIG; i++) {
		ASSERT_EQ(status[i], nodes[i]) TH_LOG("THP %d is on node %d", i, status[i]);
	}
	ASSERT_EQ(first_bad(mem, NR_BIG * per, self->r.psize, 0, &word, &got), -1)
		TH_LOG("word %zu is %#llx", word, (unsigned long long)got);
	TH_LOG("%ld migrate_pages() calls moved %ld pages, at most %ld in one",
	       c.events, c.moved, c.largest);
	TH_LOG("at most %ld pages in a window", c.window);
	ASSERT_FALSE(c.lost) TH_LOG("the trace buffer overflowed");
	EXPECT_EQ(c.moved, NR_BIG * per);
	EXPECT_LE(c.window, BATCH_PAGES) TH_LOG("more than 32 MiB isolated at once");
	munmap(map, len);
}

TEST_HARNESS_MAIN
