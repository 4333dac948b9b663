// SPDX-License-Identifier: GPL-2.0
/*
 * move_pages(2) must move data, not just return 0: every page gets a
 * pattern (page index and round), is moved to the other node, and after
 * every round every word of every page and the node each page reports are
 * checked.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../kselftest_harness.h"

#define NR_PAGES	64
#define NR_ROUNDS	4

FIXTURE(move_pages)
{
	size_t page_size;
	char *mem;
	void *pages[NR_PAGES];
	int nodes[NR_PAGES];
	int status[NR_PAGES];
	int node_a, node_b;
};

FIXTURE_VARIANT(move_pages)
{
	const char *backing;
	int mmap_flags;
};

FIXTURE_VARIANT_ADD(move_pages, private_anon)
{
	.backing = "private anon",
	.mmap_flags = MAP_PRIVATE | MAP_ANONYMOUS,
};

FIXTURE_VARIANT_ADD(move_pages, shared_anon)
{
	.backing = "shared anon",
	.mmap_flags = MAP_SHARED | MAP_ANONYMOUS,
};

/* The first two nodes that have memory, or -1. */
static int memory_nodes(int *a, int *b)
{
	int n, found = 0;

	for (n = 0; n <= numa_max_node() && found < 2; n++) {
		if (!numa_bitmask_isbitset(numa_all_nodes_ptr, n))
			continue;
		if (found++ == 0)
			*a = n;
		else
			*b = n;
	}
	return found >= 2 ? 0 : -1;
}

static uint64_t pattern(size_t page, size_t word, int round)
{
	return ((uint64_t)page << 40) ^ ((uint64_t)round << 32) ^ word ^ 0x5a5a0000;
}

static void fill(char *mem, size_t page_size, int round)
{
	size_t p, w, words = page_size / sizeof(uint64_t);

	for (p = 0; p < NR_PAGES; p++) {
		uint64_t *q = (uint64_t *)(mem + p * page_size);

		for (w = 0; w < words; w++)
			q[w] = pattern(p, w, round);
	}
}

/* Index of the first page whose contents differ from round's pattern, or -1. */
static long first_bad_page(const char *mem, size_t page_size, int round, size_t *word)
{
	size_t p, w, words = page_size / sizeof(uint64_t);

	for (p = 0; p < NR_PAGES; p++) {
		const uint64_t *q = (const uint64_t *)(mem + p * page_size);

		for (w = 0; w < words; w++) {
			if (q[w] != pattern(p, w, round)) {
				*word = w;
				return p;
			}
		}
	}
	return -1;
}

/* Index of the first status[] entry that is not @node, or -1. */
static int first_other_node(const int *status, int node)
{
	int i;

	for (i = 0; i < NR_PAGES; i++)
		if (status[i] != node)
			return i;
	return -1;
}

FIXTURE_SETUP(move_pages)
{
	int i;

	if (numa_available() < 0)
		SKIP(return, "NUMA is not available in this kernel");
	if (memory_nodes(&self->node_a, &self->node_b))
		SKIP(return, "needs two nodes with memory");
	self->page_size = sysconf(_SC_PAGESIZE);
	self->mem = mmap(NULL, NR_PAGES * self->page_size, PROT_READ | PROT_WRITE,
			 variant->mmap_flags, -1, 0);
	ASSERT_NE(self->mem, MAP_FAILED) TH_LOG("mmap %s: %s", variant->backing, strerror(errno));
	for (i = 0; i < NR_PAGES; i++)
		self->pages[i] = self->mem + i * self->page_size;
}

FIXTURE_TEARDOWN(move_pages)
{
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, NR_PAGES * self->page_size);
}

/*
 * Each round writes a new pattern, moves all pages to the node they are
 * not on, and checks status[], the node the kernel reports on a query and
 * every word of every page.
 */
TEST_F(move_pages, round_trip)
{
	int round, i;

	for (round = 0; round < NR_ROUNDS; round++) {
		int target = round % 2 ? self->node_a : self->node_b;
		size_t word = 0;
		long bad;
		long rc;

		fill(self->mem, self->page_size, round);
		for (i = 0; i < NR_PAGES; i++) {
			self->nodes[i] = target;
			self->status[i] = -1000;
		}
		rc = move_pages(0, NR_PAGES, self->pages, self->nodes, self->status, MPOL_MF_MOVE);
		ASSERT_EQ(rc, 0) TH_LOG("%s round %d: move_pages to node %d: rc %ld errno %d (%s)",
					variant->backing, round, target, rc, errno, strerror(errno));
		i = first_other_node(self->status, target);
		ASSERT_EQ(i, -1) TH_LOG("%s round %d: page %d status %d, expected node %d",
					variant->backing, round, i, self->status[i < 0 ? 0 : i], target);

		/* Query mode: the kernel's own view of where each page is. */
		rc = move_pages(0, NR_PAGES, self->pages, NULL, self->status, 0);
		ASSERT_EQ(rc, 0) TH_LOG("query: errno %d", errno);
		i = first_other_node(self->status, target);
		ASSERT_EQ(i, -1) TH_LOG("%s round %d: page %d is on node %d, expected %d",
					variant->backing, round, i, self->status[i < 0 ? 0 : i], target);

		bad = first_bad_page(self->mem, self->page_size, round, &word);
		ASSERT_EQ(bad, -1) TH_LOG("%s round %d: page %ld word %zu corrupt after moving to node %d",
					  variant->backing, round, bad, word, target);
	}
}

TEST_HARNESS_MAIN
