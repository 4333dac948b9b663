// SPDX-License-Identifier: GPL-2.0
/*
 * Migration to a node that is full.  The target node's free memory is
 * taken by its hugetlb pool (grown until the node cannot give another
 * 2 MiB page), then more pages than it has left are moved there (a
 * node keeps some tens of MiB it cannot give to the pool):
 *
 * - the caller is not killed (the target allocation is __GFP_THISNODE,
 *   which never invokes the OOM killer);
 * - the call either succeeds with a status for every page, or fails with
 *   ENOMEM (or returns how many did not move) after moving what fitted;
 *   every status it wrote is where its page is by a query, the statuses it
 *   did not write (the array is pre-filled) come after all it wrote,
 *   the pages that did not fit are still on the source node, and every
 *   word of every page is intact (the pages are mlocked, so that reclaim
 *   cannot swap them out meanwhile);
 * - once the pool is shrunk back and the pages unmapped, the target
 *   node's free memory is back where it was: nothing leaked.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "migration_util.h"

#define NR_PAGES	32768	/* 128 MiB: more than a full node has left */
#define LEAK_SLACK_KB	(8 * 1024)
#define UNTOUCHED	(-1000)	/* a status the kernel never writes */

/* MemFree of @node in kB, from its meminfo; -1 if unreadable. */
/*
 * Free memory of @node in kB, from /proc/zoneinfo's "pages free" under
 * "Node N, zone ...", and with @pcp the pages its zones keep on the
 * per-CPU lists (each pageset's "count"): freed pages wait there, not
 * counted as free, until the CPU that freed them gives them back.
 */
static long node_free_kb(int node, int pcp)
{
	char line[256];
	long pages = 0, v;
	int n, in = 0, seen = 0;
	FILE *f = fopen("/proc/zoneinfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %d, zone", &n) == 1) {
			in = n == node;
			seen |= in;
		} else if (in && (sscanf(line, " pages free %ld", &v) == 1 ||
				  (pcp && sscanf(line, " count: %ld", &v) == 1))) {
			pages += v;
		}
	}
	fclose(f);
	return seen ? pages * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}

FIXTURE(pressure)
{
	int src, dst;
	size_t psize;
	char *mem;
	long saved_huge, free_before;
	char huge_path[128];
};

FIXTURE_SETUP(pressure)
{
	int nodes[2];

	self->saved_huge = -1;
	if (numa_available() < 0)
		SKIP(return, "NUMA is not available in this kernel");
	if (memory_nodes(&nodes[0], &nodes[1]))
		SKIP(return, "needs two nodes with memory");
	if (geteuid() != 0)
		SKIP(return, "needs root to size the hugetlb pool");
	self->src = nodes[0];
	self->dst = nodes[1];
	self->psize = sysconf(_SC_PAGESIZE);
	snprintf(self->huge_path, sizeof(self->huge_path), HUGE_NR_PATH, self->dst);
	self->saved_huge = read_long(self->huge_path);
	if (self->saved_huge < 0)
		SKIP(return, "no hugetlb pool on node %d (CONFIG_HUGETLBFS=n?)", self->dst);
	self->free_before = node_free_kb(self->dst, 1);
	ASSERT_GT(self->free_before, 0);

	self->mem = mmap(NULL, NR_PAGES * self->psize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->mem, MAP_FAILED);
	ASSERT_EQ(madvise(self->mem, NR_PAGES * self->psize, MADV_NOHUGEPAGE), 0);
	fill(self->mem, NR_PAGES, self->psize, 1);
	/*
	 * Keep the pages resident: with swap on, reclaim while the pool grows
	 * would otherwise swap them out, and a page that is not present never
	 * meets the full node.  mlocked pages migrate like any other.
	 */
	ASSERT_EQ(mlock(self->mem, NR_PAGES * self->psize), 0);
}

FIXTURE_TEARDOWN(pressure)
{
	if (self->saved_huge >= 0)
		write_long(self->huge_path, self->saved_huge);
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, NR_PAGES * self->psize);
}

TEST_F_TIMEOUT(pressure, target_node_full, 240)
{
	int *nodes = calloc(NR_PAGES, sizeof(int)), *status = calloc(NR_PAGES, sizeof(int));
	int *where = calloc(NR_PAGES, sizeof(int));
	void **pages = calloc(NR_PAGES, sizeof(void *));
	long i, moved = 0, left, rc, pool, free_full, free_after, bad, untouched = 0;
	size_t word = 0;
	uint64_t got = 0;
	int err;

	ASSERT_TRUE(nodes && status && where && pages);
	for (i = 0; i < NR_PAGES; i++) {
		pages[i] = self->mem + i * self->psize;
		nodes[i] = self->src;
	}
	/* Everything on the source node first. */
	ASSERT_EQ(move_pages(0, NR_PAGES, pages, nodes, status, MPOL_MF_MOVE), 0);

	/* Fill the target node: ask for more huge pages than it can hold. */
	write_long(self->huge_path, self->saved_huge + self->free_before / 2048 + 16);
	pool = read_long(self->huge_path);
	free_full = node_free_kb(self->dst, 0);
	TH_LOG("node %d: %ld kB free, %ld huge pages later %ld kB free", self->dst,
	       self->free_before, pool - self->saved_huge, free_full);
	if (free_full < 0 || free_full >= (long)(NR_PAGES * self->psize / 1024) * 3 / 4)
		SKIP(return, "node %d still has %ld kB free with its hugetlb pool grown",
		     self->dst, free_full);

	for (i = 0; i < NR_PAGES; i++) {
		nodes[i] = self->dst;
		status[i] = UNTOUCHED;
	}
	errno = 0;
	rc = move_pages(0, NR_PAGES, pages, nodes, status, MPOL_MF_MOVE);
	err = errno;
	ASSERT_TRUE(rc >= 0 || err == ENOMEM)
		TH_LOG("move_pages to a full node: rc %ld, %s", rc, strerror(err));

	/* Where every page really is; it must match any status the call gave. */
	ASSERT_EQ(move_pages(0, NR_PAGES, pages, NULL, where, 0), 0);
	for (i = 0; i < NR_PAGES; i++) {
		ASSERT_TRUE(where[i] == self->src || where[i] == self->dst)
			TH_LOG("page %ld is on node %d (%s)", i, where[i],
			       where[i] < 0 ? strerror(-where[i]) : "no such node");
		moved += where[i] == self->dst;
		if (status[i] == UNTOUCHED) {
			untouched++;
			continue;
		}
		ASSERT_EQ(untouched, 0)
			TH_LOG("page %ld has a status after %ld untouched ones", i, untouched);
		ASSERT_TRUE(status[i] == where[i] || (status[i] == -ENOMEM &&
						      where[i] == self->src))
			TH_LOG("page %ld: status %d but on node %d", i, status[i], where[i]);
	}
	/* Entries the call did not reach count as not migrated. */
	ASSERT_TRUE(!untouched || rc != 0)
		TH_LOG("%ld statuses not written by a call that returned 0", untouched);
	if (rc > 0)
		ASSERT_GE(rc, untouched);
	left = NR_PAGES - moved;
	TH_LOG("rc %ld (%s): %ld pages moved, %ld stayed on node %d, %ld statuses unwritten",
	       rc, rc < 0 ? strerror(err) : "ok", moved, left, self->src, untouched);
	ASSERT_GT(left, 0) TH_LOG("every page fitted on a node with %ld kB free", free_full);
	if (rc > 0)
		ASSERT_LE(rc, NR_PAGES);
	bad = first_bad(self->mem, NR_PAGES, self->psize, 1, &word, &got);
	ASSERT_EQ(bad, -1) TH_LOG("page %ld word %zu is %#llx after the failed moves", bad, word,
				  (unsigned long long)got);

	/* Give everything back: the node's free memory must come back. */
	write_long(self->huge_path, self->saved_huge);
	munmap(self->mem, NR_PAGES * self->psize);
	self->mem = NULL;
	free_after = node_free_kb(self->dst, 1);
	TH_LOG("node %d: %ld kB free before, %ld kB after (with the per-CPU lists)", self->dst,
	       self->free_before, free_after);
	ASSERT_GE(free_after, self->free_before - LEAK_SLACK_KB)
		TH_LOG("node %d lost %ld kB", self->dst, self->free_before - free_after);
	free(nodes);
	free(status);
	free(where);
	free(pages);
}

TEST_HARNESS_MAIN
