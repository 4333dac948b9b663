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
#include <stdio.h>
#include <string.h>

#define HUGE_NR_PATH	"/sys/devices/system/node/node%d/hugepages/hugepages-2048kB/nr_hugepages"

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

/* Field @field ("AnonHugePages", "Swap") of the mapping containing @addr in smaps, in kB. */
static inline long smaps_kb(void *addr, const char *field)
{
	unsigned long start, end, a = (unsigned long)addr;
	char line[256], fmt[64];
	int in = 0;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	snprintf(fmt, sizeof(fmt), "%s: %%ld kB", field);
	while (fgets(line, sizeof(line), f)) {
		/* A mapping's first line: "start-end perms ..." */
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = a >= start && a < end;
			continue;
		}
		if (in && sscanf(line, fmt, &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* Event @name of /proc/vmstat, or -1 when the kernel has none. */
static inline long vmstat_event(const char *name)
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

static inline long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static inline int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -1;
	ok = fprintf(f, "%ld\n", v) > 0;
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

/*
 * One more free 2 MiB huge page on each of the two nodes (the source and
 * the target of every round); the old counts are kept for the teardown.
 */
static inline int reserve_huge_pages(const int node[2], long saved[2])
{
	char path[128];
	int k;

	for (k = 0; k < 2; k++) {
		snprintf(path, sizeof(path), HUGE_NR_PATH, node[k]);
		saved[k] = read_long(path);
		if (saved[k] < 0 || write_long(path, saved[k] + 1) ||
		    read_long(path) < saved[k] + 1)
			return -1;
	}
	return 0;
}

static inline void restore_huge_pages(const int node[2], long saved[2])
{
	char path[128];
	int k;

	for (k = 0; k < 2; k++) {
		if (saved[k] < 0)
			continue;
		snprintf(path, sizeof(path), HUGE_NR_PATH, node[k]);
		write_long(path, saved[k]);
		saved[k] = -1;
	}
}

#endif /* MIGRATION_UTIL_H */
