// SPDX-License-Identifier: GPL-2.0
/*
 * move_pages(2) benchmark for the migration lab.
 *
 * Run in a guest under -icount shift=0,sleep=off with one vCPU, where the
 * guest's CLOCK_MONOTONIC counts instructions: each line is deterministic
 * and comparable between two kernels booted the same way.  Every pattern
 * moves (or queries) NR_PAGES pages from a fresh mapping; only the
 * move_pages() calls are timed, and afterwards every word of every page
 * and the node of every page are checked: a fast wrong answer is a failure.
 *
 * Output, one line per pattern and run (parsed by lab/bench.py):
 *   bench: pattern=<name> run=<n> pages=<n> calls=<n> ns=<n> ok=<0|1> inexact=<n>
 * where inexact counts status[] entries that were not the page's final
 * node (THP tail pages reported -EBUSY by 6.12 although they moved).
 *
 * Usage: move_pages_bench [pattern...]   (default: all)
 */

#define _GNU_SOURCE
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define NR_PAGES	8192
#define RUNS		2
#define HUGE_SIZE	(2UL << 20)

static size_t psize;
static int node_a, node_b;	/* the CPU's node, and the other one */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t word_of(size_t page, size_t word)
{
	return ((uint64_t)page << 32) ^ word ^ 0x62656e6368ULL;
}

static void fill(char *mem, size_t nr)
{
	size_t p, w;

	for (p = 0; p < nr; p++)
		for (w = 0; w < psize / 8; w++)
			((uint64_t *)(mem + p * psize))[w] = word_of(p, w);
}

/* The first page whose data is wrong, or -1. */
static long check_data(const char *mem, size_t nr)
{
	size_t p, w;

	for (p = 0; p < nr; p++)
		for (w = 0; w < psize / 8; w++)
			if (((const uint64_t *)(mem + p * psize))[w] != word_of(p, w))
				return p;
	return -1;
}

struct run {
	const char *name;
	char *map, *mem;
	size_t map_len;
	void **pages;
	int *nodes;	/* the target of each page */
	int *status;
	long calls;
	uint64_t ns;
	int ok;
	long inexact;
};

static char *map_pages(struct run *r, int thp)
{
	size_t len = NR_PAGES * psize;

	r->map_len = thp ? len + HUGE_SIZE : len;
	r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->map == MAP_FAILED)
		return NULL;
	r->mem = r->map;
	if (thp) {
		r->mem = (char *)(((uintptr_t)r->map + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1));
		madvise(r->mem, len, MADV_HUGEPAGE);
	} else {
		madvise(r->mem, len, MADV_NOHUGEPAGE);
	}
	fill(r->mem, NR_PAGES);
	return r->mem;
}

/* Untimed: put page i on @where(i) (all pages start where the CPU is). */
static int place(struct run *r, int (*where)(size_t))
{
	size_t i;

	for (i = 0; i < NR_PAGES; i++)
		r->nodes[i] = where(i);
	return move_pages(0, NR_PAGES, r->pages, r->nodes, r->status, MPOL_MF_MOVE) ? -1 : 0;
}

static int on_a(size_t i) { return node_a; }
static int on_b(size_t i) { return node_b; }
static int even_a_odd_b(size_t i) { return i % 2 ? node_b : node_a; }
static int even_b_odd_a(size_t i) { return i % 2 ? node_a : node_b; }

/* Where every page is now must be its target; status[] tells how exact it was. */
static void verify(struct run *r, int query_only)
{
	int *where = calloc(NR_PAGES, sizeof(int));
	size_t i;

	r->ok = where && check_data(r->mem, NR_PAGES) < 0 &&
		move_pages(0, NR_PAGES, r->pages, NULL, where, 0) == 0;
	for (i = 0; r->ok && i < NR_PAGES; i++) {
		if (where[i] != r->nodes[i])
			r->ok = 0;
		else if (!query_only && r->status[i] != r->nodes[i])
			r->inexact++;
		else if (query_only && r->status[i] != where[i])
			r->ok = 0;
	}
	free(where);
}

static int do_pattern(const char *name, struct run *r)
{
	int thp = !strcmp(name, "thp_listed"), query = !strcmp(name, "query");
	uint64_t t0;
	long rc = 0;
	size_t i;

	if (!map_pages(r, thp))
		return -1;
	for (i = 0; i < NR_PAGES; i++)
		r->pages[i] = r->mem + i * psize;
	/*
	 * Placement (untimed), then the targets of the timed calls:
	 * alternating - pages alternate between the nodes and every one
	 * moves to the other; half_placed - the even pages are already on
	 * the target; query - the nodes the pages must be reported on.
	 */
	if (place(r, !strcmp(name, "alternating") ? even_a_odd_b :
		     !strcmp(name, "half_placed") ? even_b_odd_a : on_a))
		return -1;
	for (i = 0; i < NR_PAGES; i++)
		r->nodes[i] = !strcmp(name, "alternating") ? even_b_odd_a(i) :
			      query ? on_a(i) : on_b(i);

	t0 = now_ns();
	if (!strcmp(name, "one_per_call")) {
		for (i = 0; i < NR_PAGES && rc >= 0; i++, r->calls++)
			rc = move_pages(0, 1, &r->pages[i], &r->nodes[i], &r->status[i],
					MPOL_MF_MOVE);
	} else {
		rc = move_pages(0, NR_PAGES, r->pages, query ? NULL : r->nodes, r->status,
				query ? 0 : MPOL_MF_MOVE);
		r->calls = 1;
	}
	r->ns = now_ns() - t0;
	if (rc < 0)
		fprintf(stderr, "bench: %s: move_pages: %s\n", name, strerror(errno));
	verify(r, query);
	if (rc < 0)
		r->ok = 0;
	munmap(r->map, r->map_len);
	return 0;
}

/* The copy floor: memcpy of the same amount from node A to node B. */
static int do_memcpy(struct run *r)
{
	size_t len = NR_PAGES * psize;
	unsigned long to = 1UL << node_b;
	char *src = map_pages(r, 0), *dst;
	uint64_t t0;

	if (!src)
		return -1;
	dst = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dst == MAP_FAILED || mbind(dst, len, MPOL_BIND, &to, sizeof(to) * 8, 0))
		return -1;
	memset(dst, 0, len);	/* fault it in on node B, untimed */
	t0 = now_ns();
	memcpy(dst, src, len);
	r->ns = now_ns() - t0;
	r->calls = 0;
	r->ok = check_data(dst, NR_PAGES) < 0;
	munmap(dst, len);
	munmap(r->map, r->map_len);
	return 0;
}

static const char * const patterns[] = {
	"all_to_one", "alternating", "half_placed", "thp_listed", "one_per_call", "query",
	"memcpy",
};

int main(int argc, char **argv)
{
	struct run r;
	int n, run, i, failed = 0, found;

	psize = sysconf(_SC_PAGESIZE);
	if (numa_available() < 0) {
		fprintf(stderr, "bench: NUMA is not available\n");
		return 2;
	}
	node_a = numa_node_of_cpu(sched_getcpu());
	for (node_b = -1, n = 0; n <= numa_max_node(); n++)
		if (n != node_a && numa_bitmask_isbitset(numa_all_nodes_ptr, n)) {
			node_b = n;
			break;
		}
	if (node_b < 0) {
		fprintf(stderr, "bench: needs a second node with memory\n");
		return 2;
	}
	for (i = 1; i < argc; i++) {
		for (found = 0, n = 0; n < (int)(sizeof(patterns) / sizeof(patterns[0])); n++)
			found |= !strcmp(argv[i], patterns[n]);
		if (!found) {
			fprintf(stderr, "bench: unknown pattern %s\n", argv[i]);
			return 2;
		}
	}
	printf("bench: start pages=%d node_a=%d node_b=%d runs=%d\n", NR_PAGES, node_a, node_b,
	       RUNS);
	for (n = 0; n < (int)(sizeof(patterns) / sizeof(patterns[0])); n++) {
		if (argc > 1) {
			for (found = 0, i = 1; i < argc; i++)
				found |= !strcmp(argv[i], patterns[n]);
			if (!found)
				continue;
		}
		for (run = 1; run <= RUNS; run++) {
			memset(&r, 0, sizeof(r));
			r.pages = calloc(NR_PAGES, sizeof(void *));
			r.nodes = calloc(NR_PAGES, sizeof(int));
			r.status = calloc(NR_PAGES, sizeof(int));
			if (!r.pages || !r.nodes || !r.status ||
			    (!strcmp(patterns[n], "memcpy") ? do_memcpy(&r) :
			     do_pattern(patterns[n], &r))) {
				fprintf(stderr, "bench: %s: setup failed: %s\n", patterns[n],
					strerror(errno));
				r.ok = 0;
			}
			printf("bench: pattern=%s run=%d pages=%d calls=%ld ns=%llu ok=%d inexact=%ld\n",
			       patterns[n], run, NR_PAGES, r.calls, (unsigned long long)r.ns, r.ok,
			       r.inexact);
			fflush(stdout);
			failed += !r.ok;
			free(r.pages);
			free(r.nodes);
			free(r.status);
		}
	}
	printf("bench: done failed=%d\n", failed);
	return failed ? 1 : 0;
}
