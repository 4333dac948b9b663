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
 *
 * And pages exchanged between two nodes in one call, the first target
 * allocations of the call made to fail (fail_page_alloc, for this task's
 * allocations under move_pages(2) only): a node whose targets could not
 * be allocated is tried again once the other direction has moved - what
 * frees room on each node when two full nodes swap pages - so every page
 * moves and the call returns 0.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
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

#define FPA		"/sys/kernel/debug/fail_page_alloc/"
#define XCHG_PAGES	64	/* each way: one window */

/* printf() @fmt into the file @path; 0 or -1. */
static int write_fmt(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	va_list ap;
	int ok;

	if (!f)
		return -1;
	va_start(ap, fmt);
	ok = vfprintf(f, fmt, ap) > 0;
	va_end(ap);
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* [*start, *end) of kernel text symbol @name, from /proc/kallsyms; 0 or -1. */
static int ksym_range(const char *name, unsigned long *start, unsigned long *end)
{
	unsigned long a, s = 0, e = ~0UL;
	char type, sym[256], line[512];
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx %c %255s", &a, &type, sym) == 3 && !strcmp(sym, name))
			s = a;
	rewind(f);
	while (s && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx %c %255s", &a, &type, sym) == 3 && a > s && a < e)
			e = a;
	fclose(f);
	if (!s || e == ~0UL)
		return -1;
	*start = s;
	*end = e;
	return 0;
}

/*
 * Make the next @times page allocations of this task fail when they are
 * made under move_pages(2) (a return address in @sys), but not those of
 * kvmalloc() (a return address in @kv): only the targets of migration.
 * The probability comes last, once the filters are in place.
 */
static int fail_page_allocs(int times, const unsigned long sys[2], const unsigned long kv[2])
{
	return write_fmt(FPA "task-filter", "Y") || write_fmt(FPA "interval", "1") ||
	       write_fmt(FPA "space", "0") || write_fmt(FPA "verbose", "0") ||
	       write_fmt(FPA "ignore-gfp-wait", "N") ||
	       write_fmt(FPA "ignore-gfp-highmem", "N") || write_fmt(FPA "min-order", "0") ||
	       write_fmt(FPA "stacktrace-depth", "32") ||
	       write_fmt(FPA "require-start", "%#lx", sys[0]) ||
	       write_fmt(FPA "require-end", "%#lx", sys[1]) ||
	       write_fmt(FPA "reject-start", "%#lx", kv[0]) ||
	       write_fmt(FPA "reject-end", "%#lx", kv[1]) ||
	       write_fmt(FPA "times", "%d", times) ||
	       write_fmt("/proc/self/make-it-fail", "1") ||
	       write_fmt(FPA "probability", "100");
}

/* Injection off, and fail_page_alloc's defaults back. */
static void fail_page_allocs_off(void)
{
	write_fmt(FPA "probability", "0");
	write_fmt("/proc/self/make-it-fail", "0");
	write_fmt(FPA "times", "1");
	write_fmt(FPA "verbose", "2");
	write_fmt(FPA "ignore-gfp-wait", "Y");
	write_fmt(FPA "ignore-gfp-highmem", "Y");
	write_fmt(FPA "min-order", "1");
	write_fmt(FPA "require-start", "0");
	write_fmt(FPA "require-end", "%#lx", ~0UL);
	write_fmt(FPA "reject-start", "0");
	write_fmt(FPA "reject-end", "0");
	write_fmt(FPA "task-filter", "N");
}

TEST(exchange_after_failed_allocation)
{
	size_t psize = sysconf(_SC_PAGESIZE), word = 0;
	int n[2], nodes[2 * XCHG_PAGES], status[2 * XCHG_PAGES], where[2 * XCHG_PAGES];
	unsigned long sys[2], kv[2];
	void *pages[2 * XCHG_PAGES];
	long i, bad, rc, left;
	uint64_t got = 0;
	char *mem;
	int err;

	if (numa_available() < 0 || memory_nodes(&n[0], &n[1]))
		SKIP(return, "needs two nodes with memory");
	if (geteuid() != 0)
		SKIP(return, "needs root for fault injection");
	if (access(FPA "require-start", W_OK))
		SKIP(return, "no fail_page_alloc stack trace filter (%s)",
		     "CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAULT_INJECTION_STACKTRACE_FILTER");
	/* The syscall's body, unless the compiler folded it into the wrapper. */
	ASSERT_TRUE(!ksym_range("kernel_move_pages", &sys[0], &sys[1]) ||
		    !ksym_range("__x64_sys_move_pages", &sys[0], &sys[1]))
		TH_LOG("neither kernel_move_pages nor __x64_sys_move_pages in /proc/kallsyms");
	ASSERT_EQ(ksym_range("__kvmalloc_node_noprof", &kv[0], &kv[1]), 0)
		TH_LOG("no __kvmalloc_node_noprof in /proc/kallsyms");

	mem = mmap(NULL, 2 * XCHG_PAGES * psize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(mem, MAP_FAILED);
	ASSERT_EQ(madvise(mem, 2 * XCHG_PAGES * psize, MADV_NOHUGEPAGE), 0);
	fill(mem, 2 * XCHG_PAGES, psize, 1);
	/* Page i on n[0] and page XCHG_PAGES + i on n[1]. */
	for (i = 0; i < 2 * XCHG_PAGES; i++) {
		pages[i] = mem + i * psize;
		nodes[i] = n[i >= XCHG_PAGES];
	}
	ASSERT_EQ(move_pages(0, 2 * XCHG_PAGES, pages, nodes, status, MPOL_MF_MOVE), 0);
	/* The exchange: entries alternate, n[0] -> n[1], then n[1] -> n[0]. */
	for (i = 0; i < XCHG_PAGES; i++) {
		pages[2 * i] = mem + i * psize;
		nodes[2 * i] = n[1];
		pages[2 * i + 1] = mem + (XCHG_PAGES + i) * psize;
		nodes[2 * i + 1] = n[0];
	}
	memset(status, 0x7f, sizeof(status));

	/* The first node's bulk allocation and its first single page fail. */
	if (fail_page_allocs(2, sys, kv)) {
		fail_page_allocs_off();
		ASSERT_TRUE(0) TH_LOG("cannot set up fail_page_alloc");
	}
	errno = 0;
	rc = move_pages(0, 2 * XCHG_PAGES, pages, nodes, status, MPOL_MF_MOVE);
	err = errno;
	left = read_long(FPA "times");
	fail_page_allocs_off();

	/* Two may fail, or one when the first failure ends the call. */
	ASSERT_LT(left, 2) TH_LOG("no failure injected: the filter missed move_pages()");
	ASSERT_EQ(rc, 0) TH_LOG("move_pages() = %ld (%s) after %ld injected failures",
				rc, rc < 0 ? strerror(err) : "pages not moved", 2 - left);
	ASSERT_EQ(move_pages(0, 2 * XCHG_PAGES, pages, NULL, where, 0), 0);
	for (i = 0; i < 2 * XCHG_PAGES; i++) {
		ASSERT_EQ(status[i], nodes[i]) TH_LOG("entry %ld: status %d, asked %d", i,
						      status[i], nodes[i]);
		ASSERT_EQ(where[i], nodes[i]) TH_LOG("entry %ld: on node %d, asked %d", i,
						     where[i], nodes[i]);
	}
	bad = first_bad(mem, 2 * XCHG_PAGES, psize, 1, &word, &got);
	ASSERT_EQ(bad, -1) TH_LOG("page %ld word %zu is %#llx", bad, word, (unsigned long long)got);
	munmap(mem, 2 * XCHG_PAGES * psize);
}

TEST_HARNESS_MAIN
