/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the migration selftests: the nodes to move between,
 * and the per-page data pattern every case writes and checks.
 */
#ifndef MIGRATION_UTIL_H
#define MIGRATION_UTIL_H

#include <numa.h>
#include <stddef.h>
#include <stdint.h>

/* The first two nodes with memory in *a and *b; 0, or -1 with fewer than two. */
static inline int memory_nodes(int *a, int *b)
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

/* Word @word of page @page in round @round: no two (page, word, round) alike. */
static inline uint64_t pattern(size_t page, size_t word, int round)
{
	return ((uint64_t)page << 40) ^ ((uint64_t)round << 24) ^ word ^ 0x6d696772ULL;
}

static inline void fill(char *mem, size_t nr, size_t psize, int round)
{
	size_t p, w;

	for (p = 0; p < nr; p++)
		for (w = 0; w < psize / 8; w++)
			((uint64_t *)(mem + p * psize))[w] = pattern(p, w, round);
}

/*
 * The first of @nr pages whose contents differ from @round's pattern, or
 * -1; then *word and *got say where and what.
 */
static inline long first_bad(const char *mem, size_t nr, size_t psize, int round,
			     size_t *word, uint64_t *got)
{
	size_t p, w;

	for (p = 0; p < nr; p++) {
		for (w = 0; w < psize / 8; w++) {
			uint64_t v = ((const uint64_t *)(mem + p * psize))[w];

			if (v != pattern(p, w, round)) {
				*word = w;
				*got = v;
				return p;
			}
		}
	}
	return -1;
}

#endif /* MIGRATION_UTIL_H */
