// SPDX-License-Identifier: GPL-2.0
/*
 * Migration must move data, not just return 0.  For each backing (private
 * and shared anon, THP mapped by a PMD and by PTEs, hugetlb, shmem, clean
 * and dirty page cache of a file on a real filesystem, mlocked memory,
 * swap cache) and each way to migrate (move_pages(2) with MPOL_MF_MOVE or
 * MPOL_MF_MOVE_ALL, migrate_pages(2) of the whole process, mbind(2) with
 * MPOL_BIND or MPOL_PREFERRED and MPOL_MF_MOVE) every page gets a pattern
 * (page index and round), is moved to the other node, and after every
 * round every word of every page and the node each page is on are checked.
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
#include <sys/vfs.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "migration_util.h"

#define NR_PAGES	64
#define NR_ROUNDS	4
#define HUGE_SIZE	(2UL << 20)
#define TMPFS_MAGIC	0x01021994
#define RAMFS_MAGIC	0x858458f6
#define PM_PRESENT	0x8000000000000000ULL
#define PM_PFN_MASK	0x007fffffffffffffULL
/* Bits of /proc/kpageflags (include/uapi/linux/kernel-page-flags.h). */
#define KPF_LOCKED	0
#define KPF_DIRTY	4
#define KPF_LRU		5
#define KPF_ACTIVE	6
#define KPF_WRITEBACK	8
#define KPF_ANON	12
#define KPF_SWAPCACHE	13
#define KPF_UNEVICTABLE	18
#define KPF_THP		22

enum backing {
	ANON_PRIVATE, ANON_SHARED, THP, THP_PTE, HUGETLB, SHMEM, FILE_CLEAN, FILE_DIRTY,
	MLOCKED, SWAPCACHE,
};

enum mover { MOVE_PAGES, MOVE_PAGES_ALL, MIGRATE_PAGES, MBIND, MBIND_PREFERRED };

FIXTURE(data)
{
	size_t psize;
	size_t len;
	size_t nr;		/* pages */
	char *map;		/* what mmap returned */
	char *mem;		/* the range under test (aligned for THP) */
	size_t map_len;
	int fd;
	char path[256];
	long huge_saved[2];	/* nr_hugepages per node before the case, or -1 */
	int node[2];
	void **pages;
	int *status;
	int *nodes;
};

FIXTURE_VARIANT(data)
{
	enum backing backing;
	enum mover mover;
	const char *name;
};

FIXTURE_VARIANT_ADD(data, anon_private__move_pages)
{
	.backing = ANON_PRIVATE,
	.mover = MOVE_PAGES,
	.name = "anon_private via move_pages",
};

FIXTURE_VARIANT_ADD(data, anon_private__migrate_pages)
{
	.backing = ANON_PRIVATE,
	.mover = MIGRATE_PAGES,
	.name = "anon_private via migrate_pages",
};

FIXTURE_VARIANT_ADD(data, anon_private__mbind)
{
	.backing = ANON_PRIVATE,
	.mover = MBIND,
	.name = "anon_private via mbind",
};

FIXTURE_VARIANT_ADD(data, anon_private__mbind_preferred)
{
	.backing = ANON_PRIVATE,
	.mover = MBIND_PREFERRED,
	.name = "anon_private via mbind(MPOL_PREFERRED)",
};

FIXTURE_VARIANT_ADD(data, anon_shared__move_pages)
{
	.backing = ANON_SHARED,
	.mover = MOVE_PAGES,
	.name = "anon_shared via move_pages",
};

FIXTURE_VARIANT_ADD(data, anon_shared__mbind)
{
	.backing = ANON_SHARED,
	.mover = MBIND,
	.name = "anon_shared via mbind",
};

FIXTURE_VARIANT_ADD(data, thp__move_pages)
{
	.backing = THP,
	.mover = MOVE_PAGES,
	.name = "thp via move_pages",
};

FIXTURE_VARIANT_ADD(data, anon_shared__move_pages_all)
{
	.backing = ANON_SHARED,
	.mover = MOVE_PAGES_ALL,
	.name = "anon_shared via move_pages(MPOL_MF_MOVE_ALL)",
};

FIXTURE_VARIANT_ADD(data, thp_pte__move_pages)
{
	.backing = THP_PTE,
	.mover = MOVE_PAGES,
	.name = "pte-mapped thp via move_pages",
};

FIXTURE_VARIANT_ADD(data, thp__mbind)
{
	.backing = THP,
	.mover = MBIND,
	.name = "thp via mbind",
};

FIXTURE_VARIANT_ADD(data, hugetlb__move_pages)
{
	.backing = HUGETLB,
	.mover = MOVE_PAGES,
	.name = "hugetlb via move_pages",
};

FIXTURE_VARIANT_ADD(data, hugetlb__mbind)
{
	.backing = HUGETLB,
	.mover = MBIND,
	.name = "hugetlb via mbind",
};

FIXTURE_VARIANT_ADD(data, shmem__move_pages)
{
	.backing = SHMEM,
	.mover = MOVE_PAGES,
	.name = "shmem via move_pages",
};

FIXTURE_VARIANT_ADD(data, shmem__mbind)
{
	.backing = SHMEM,
	.mover = MBIND,
	.name = "shmem via mbind",
};

FIXTURE_VARIANT_ADD(data, file_clean__move_pages)
{
	.backing = FILE_CLEAN,
	.mover = MOVE_PAGES,
	.name = "file_clean via move_pages",
};

FIXTURE_VARIANT_ADD(data, file_clean__mbind)
{
	.backing = FILE_CLEAN,
	.mover = MBIND,
	.name = "file_clean via mbind",
};

FIXTURE_VARIANT_ADD(data, file_dirty__move_pages)
{
	.backing = FILE_DIRTY,
	.mover = MOVE_PAGES,
	.name = "file_dirty via move_pages",
};

FIXTURE_VARIANT_ADD(data, swapcache__move_pages)
{
	.backing = SWAPCACHE,
	.mover = MOVE_PAGES,
	.name = "swapcache via move_pages",
};

FIXTURE_VARIANT_ADD(data, mlocked__move_pages)
{
	.backing = MLOCKED,
	.mover = MOVE_PAGES,
	.name = "mlocked via move_pages",
};

FIXTURE_VARIANT_ADD(data, mlocked__migrate_pages)
{
	.backing = MLOCKED,
	.mover = MIGRATE_PAGES,
	.name = "mlocked via migrate_pages",
};

/*
 * The /proc/kpageflags word of the page mapped at @addr in *@flags: 0, or -1
 * when the page is not present or the files cannot be read (needs root).
 */
static int page_kflags(void *addr, uint64_t *flags)
{
	uint64_t entry = 0;
	long psize = sysconf(_SC_PAGESIZE);
	int pm = open("/proc/self/pagemap", O_RDONLY);
	int kf = open("/proc/kpageflags", O_RDONLY);
	int ret = -1;

	if (pm >= 0 && kf >= 0 &&
	    pread(pm, &entry, 8, (uintptr_t)addr / psize * 8) == 8 &&
	    (entry & PM_PRESENT) && (entry & PM_PFN_MASK) &&
	    pread(kf, flags, 8, (entry & PM_PFN_MASK) * 8) == 8)
		ret = 0;
	if (pm >= 0)
		close(pm);
	if (kf >= 0)
		close(kf);
	return ret;
}

/* Is the page at @addr part of a large folio? */
static int is_large_folio(void *addr)
{
	uint64_t flags;

	return !page_kflags(addr, &flags) && ((flags >> KPF_THP) & 1);
}

/*
 * Why reclaim may have declined the range, in @line: how many of its pages
 * are present, and how many of those have each page flag that
 * MADV_PAGEOUT and shrink_folio_list() look at.
 */
static void range_flags(char *mem, size_t len, size_t psize, char *line, size_t size)
{
	static const struct {
		int bit;
		const char *name;
	} bits[] = {
		{ KPF_LRU, "lru" }, { KPF_ACTIVE, "active" },
		{ KPF_UNEVICTABLE, "unevictable" }, { KPF_LOCKED, "locked" },
		{ KPF_DIRTY, "dirty" }, { KPF_WRITEBACK, "writeback" },
		{ KPF_SWAPCACHE, "swapcache" }, { KPF_ANON, "anon" },
	};
	size_t count[ARRAY_SIZE(bits)] = { 0 }, present = 0, p, b;
	int at;
	uint64_t flags;

	for (p = 0; p < len; p += psize) {
		if (page_kflags(mem + p, &flags))
			continue;
		present++;
		for (b = 0; b < ARRAY_SIZE(bits); b++)
			count[b] += (flags >> bits[b].bit) & 1;
	}
	at = snprintf(line, size, "%zu of %zu present:", present, len / psize);
	for (b = 0; b < ARRAY_SIZE(bits) && at > 0 && (size_t)at < size; b++)
		at += snprintf(line + at, size - at, " %s %zu", bits[b].name, count[b]);
}

/*
 * Page the range out to swap and fault it back in (read only): the folios
 * come back in the swap cache, which is what the SWAPCACHE backing moves.
 * 0, or -1 when nothing went to swap (no swap configured or enabled).
 */
static int through_swap(char *mem, size_t len, size_t psize)
{
	int tries;
	size_t p;

	/*
	 * Up to three MADV_PAGEOUT calls: reclaim may decline a page that is
	 * briefly locked or referenced elsewhere.  Each call that pages
	 * nothing out logs the flags of the range's pages before and after
	 * it (on the LRU, locked, dirty, under writeback, in the swap cache),
	 * which say why.
	 */
	for (tries = 0; tries < 3; tries++) {
		long out = vmstat_event("pswpout");
		char before[256], after[256];
		int rc;

		range_flags(mem, len, psize, before, sizeof(before));
		rc = madvise(mem, len, MADV_PAGEOUT);
		if (!rc && smaps_kb(mem, "Swap") > 0)
			break;
		range_flags(mem, len, psize, after, sizeof(after));
		ksft_print_msg("MADV_PAGEOUT: %s, paged nothing out (pswpout +%ld)\n",
			       rc ? strerror(errno) : "0", vmstat_event("pswpout") - out);
		ksft_print_msg(" before: %s\n", before);
		ksft_print_msg(" after:  %s\n", after);
	}
	if (tries == 3)
		return -1;
	if (tries)
		ksft_print_msg("MADV_PAGEOUT paged nothing out %d time(s) before it did\n", tries);
	for (p = 0; p < len; p += psize)
		__atomic_load_n(&mem[p], __ATOMIC_RELAXED);
	return 0;
}

static int is_thp(enum backing b)
{
	return b == THP || b == THP_PTE;
}

/*
 * Write round @round's pattern: through the mapping, or for clean page
 * cache with pwrite() and fdatasync(), then fault every page in by reading.
 */
static int write_round(char *mem, size_t nr, size_t psize, int fd, enum backing b, int round)
{
	char *buf;
	size_t p;
	int ret = 0;

	if (b != FILE_CLEAN) {
		fill(mem, nr, psize, round);
		return 0;
	}
	buf = malloc(nr * psize);
	if (!buf)
		return -1;
	fill(buf, nr, psize, round);
	if (pwrite(fd, buf, nr * psize, 0) != (ssize_t)(nr * psize) || fdatasync(fd))
		ret = -1;
	free(buf);
	for (p = 0; p < nr; p++)
		__atomic_load_n(&mem[p * psize], __ATOMIC_RELAXED);
	return ret;
}

FIXTURE_SETUP(data)
{
	int prot = PROT_READ | PROT_WRITE;
	const char *dir;
	struct statfs sfs;
	size_t i;

	self->fd = -1;
	self->huge_saved[0] = -1;
	self->huge_saved[1] = -1;
	if (numa_available() < 0)
		SKIP(return, "NUMA is not available in this kernel");
	if (memory_nodes(&self->node[0], &self->node[1]))
		SKIP(return, "needs two nodes with memory");
	self->psize = sysconf(_SC_PAGESIZE);
	self->nr = NR_PAGES;
	if (is_thp(variant->backing) || variant->backing == HUGETLB)
		self->nr = HUGE_SIZE / self->psize;
	self->len = self->nr * self->psize;
	self->map_len = self->len;

	switch (variant->backing) {
	case ANON_PRIVATE:
	case MLOCKED:
	case SWAPCACHE:
		self->map = mmap(NULL, self->len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case ANON_SHARED:
		self->map = mmap(NULL, self->len, prot, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		break;
	case THP:
	case THP_PTE:
		self->map_len = 2 * self->len;
		self->map = mmap(NULL, self->map_len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case HUGETLB:
		if (reserve_huge_pages(self->node, self->huge_saved))
			SKIP(return, "cannot add a 2 MiB huge page on each node (needs root)");
		self->map = mmap(NULL, self->len, prot,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		break;
	case SHMEM:
		self->fd = memfd_create("migration-data", 0);
		ASSERT_GE(self->fd, 0) TH_LOG("memfd_create: %s", strerror(errno));
		ASSERT_EQ(ftruncate(self->fd, self->len), 0);
		self->map = mmap(NULL, self->len, prot, MAP_SHARED, self->fd, 0);
		break;
	case FILE_CLEAN:
	case FILE_DIRTY:
		dir = getenv("MIGRATION_FILE_DIR");
		if (!dir || statfs(dir, &sfs) || sfs.f_type == TMPFS_MAGIC ||
		    sfs.f_type == RAMFS_MAGIC)
			SKIP(return, "needs MIGRATION_FILE_DIR on a disk filesystem");
		snprintf(self->path, sizeof(self->path), "%s/migration-data-XXXXXX", dir);
		self->fd = mkstemp(self->path);
		ASSERT_GE(self->fd, 0) TH_LOG("mkstemp %s: %s", self->path, strerror(errno));
		ASSERT_EQ(ftruncate(self->fd, self->len), 0);
		/* Clean page cache is only ever read through the mapping. */
		if (variant->backing == FILE_CLEAN)
			prot = PROT_READ;
		self->map = mmap(NULL, self->len, prot, MAP_SHARED, self->fd, 0);
		break;
	}
	ASSERT_NE(self->map, MAP_FAILED) TH_LOG("mmap %s: %s", variant->name, strerror(errno));
	self->mem = self->map;
	if (is_thp(variant->backing)) {
		self->mem = (char *)(((uintptr_t)self->map + self->len - 1) & ~(self->len - 1));
		ASSERT_EQ(madvise(self->mem, self->len, MADV_HUGEPAGE), 0);
	}
	if (variant->backing == MLOCKED)
		ASSERT_EQ(mlock(self->mem, self->len), 0) TH_LOG("mlock: %s", strerror(errno));
	ASSERT_EQ(write_round(self->mem, self->nr, self->psize, self->fd,
			      variant->backing, 0), 0) TH_LOG("write: %s", strerror(errno));
	if (is_thp(variant->backing) && smaps_kb(self->mem, "AnonHugePages") < 2048)
		SKIP(return, "no THP for the aligned range (AnonHugePages %ld kB)",
		     smaps_kb(self->mem, "AnonHugePages"));
	if (variant->backing == THP_PTE) {
		/*
		 * Changing the protection of one page splits the PMD mapping,
		 * not the folio; changing it back merges the vma again.
		 */
		ASSERT_EQ(mprotect(self->mem + self->psize, self->psize, PROT_READ), 0);
		ASSERT_EQ(mprotect(self->mem + self->psize, self->psize,
				   PROT_READ | PROT_WRITE), 0);
		ASSERT_EQ(smaps_kb(self->mem, "AnonHugePages"), 0)
			TH_LOG("the THP is still mapped by a PMD");
		if (!is_large_folio(self->mem))
			SKIP(return, "cannot see the folio in /proc/kpageflags (needs root)");
	}
	if (variant->backing == SWAPCACHE) {
		cpu_set_t one;

		/*
		 * MADV_PAGEOUT drains only this CPU's LRU batches, and the
		 * folios move_pages() migrated wait in the batch of the CPU
		 * that ran it: stay on one CPU, or a round may find its pages
		 * off the LRU and page nothing out.
		 */
		CPU_ZERO(&one);
		CPU_SET(sched_getcpu(), &one);
		ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
		if (through_swap(self->mem, self->len, self->psize))
			SKIP(return, "nothing went to swap (needs CONFIG_SWAP and a swap device)");
	}

	self->pages = calloc(self->nr, sizeof(void *));
	self->status = calloc(self->nr, sizeof(int));
	self->nodes = calloc(self->nr, sizeof(int));
	ASSERT_TRUE(self->pages && self->status && self->nodes);
	for (i = 0; i < self->nr; i++)
		self->pages[i] = self->mem + i * self->psize;
}

FIXTURE_TEARDOWN(data)
{
	if (self->map && self->map != MAP_FAILED)
		munmap(self->map, self->map_len);
	if (self->fd >= 0)
		close(self->fd);
	if (self->path[0])
		unlink(self->path);
	restore_huge_pages(self->node, self->huge_saved);
	free(self->pages);
	free(self->status);
	free(self->nodes);
}

/* What migrate_range() moves: a range, its pages, and the two nodes. */
struct range {
	char *mem;
	size_t len;
	size_t nr;
	void **pages;
	int *nodes;
	int *status;
	int node[2];
	unsigned long memory_nodes;	/* mask of the nodes with memory */
};

/* Move every page of @r to @target with @how; 0 or -errno. */
static int migrate_range(const struct range *r, enum mover how, int target)
{
	unsigned long to = 1UL << target;
	/* From everywhere else: pages may start on a third node. */
	unsigned long from = r->memory_nodes & ~to;
	unsigned long maxnode = sizeof(unsigned long) * 8;
	size_t i;
	long rc;

	switch (how) {
	case MOVE_PAGES:
	case MOVE_PAGES_ALL:
		for (i = 0; i < r->nr; i++)
			r->nodes[i] = target;
		rc = move_pages(0, r->nr, r->pages, r->nodes, r->status,
				how == MOVE_PAGES ? MPOL_MF_MOVE : MPOL_MF_MOVE_ALL);
		return rc < 0 ? -errno : rc;	/* > 0: pages not migrated */
	case MIGRATE_PAGES:
		rc = migrate_pages(0, maxnode, &from, &to);
		return rc < 0 ? -errno : 0;
	case MBIND:
		rc = mbind(r->mem, r->len, MPOL_BIND, &to, maxnode, MPOL_MF_MOVE);
		return rc < 0 ? -errno : 0;
	case MBIND_PREFERRED:
		rc = mbind(r->mem, r->len, MPOL_PREFERRED, &to, maxnode, MPOL_MF_MOVE);
		return rc < 0 ? -errno : 0;
	}
	return -EINVAL;
}

/*
 * Each round writes a new pattern, moves the range to the node it is not
 * on, then checks the node of every page (move_pages() query mode, and
 * status[] for move_pages()) and every word of every page.
 */
TEST_F(data, round_trip)
{
	/* A huge page moves as one: name it once (its other subpages would be -EBUSY). */
	struct range r = {
		.mem = self->mem, .len = self->len, .pages = self->pages,
		.nr = variant->backing == HUGETLB ? 1 : self->nr,
		.nodes = self->nodes, .status = self->status,
		.node = { self->node[0], self->node[1] },
	};
	int round, n;
	size_t i, word = 0;
	uint64_t got = 0;
	long bad;

	for (n = 0; n <= numa_max_node() && n < 64; n++)
		if (numa_bitmask_isbitset(numa_all_nodes_ptr, n))
			r.memory_nodes |= 1UL << n;
	for (round = 1; round <= NR_ROUNDS; round++) {
		int target = self->node[round % 2];
		int rc;

		ASSERT_EQ(write_round(self->mem, self->nr, self->psize, self->fd,
				      variant->backing, round), 0)
			TH_LOG("round %d: write: %s", round, strerror(errno));
		/*
		 * Setup paged the range out once, so swap works here: a round
		 * that pages nothing out fails, with the page flags logged.
		 */
		ASSERT_FALSE(variant->backing == SWAPCACHE &&
			     through_swap(self->mem, self->len, self->psize))
			TH_LOG("round %d: nothing paged out after moving the range", round);
		rc = migrate_range(&r, variant->mover, target);
		for (i = 0; rc > 0 && i < r.nr && r.status[i] == target; i++)
			;	/* the first page move_pages() did not migrate */
		ASSERT_EQ(rc, 0) {
			if (rc > 0)
				TH_LOG("%s round %d: %d not moved to node %d; page %zu: %d (%s)",
				       variant->name, round, rc, target, i,
				       i < r.nr ? r.status[i] : 0,
				       i < r.nr && r.status[i] < 0 ? strerror(-r.status[i]) : "-");
			else
				TH_LOG("%s round %d: migrating to node %d: %s",
				       variant->name, round, target, strerror(-rc));
		}
		if (variant->mover == MOVE_PAGES || variant->mover == MOVE_PAGES_ALL) {
			/*
			 * Every entry, also each page after the first of a THP:
			 * 6.12 said -EBUSY for those although they moved.
			 */
			for (i = 0; i < r.nr && self->status[i] == target; i++)
				;
			ASSERT_EQ(i, r.nr)
				TH_LOG("%s round %d: page %zu status %d, expected node %d",
				       variant->name, round, i, self->status[i < r.nr ? i : 0],
				       target);
		}
		ASSERT_EQ(move_pages(0, self->nr, self->pages, NULL, self->status, 0), 0);
		for (i = 0; i < self->nr && self->status[i] == target; i++)
			;
		ASSERT_EQ(i, self->nr) TH_LOG("%s round %d: page %zu is on node %d, expected %d",
					      variant->name, round, i,
					      self->status[i < self->nr ? i : 0], target);
		bad = first_bad(self->mem, self->nr, self->psize, round, &word, &got);
		ASSERT_EQ(bad, -1)
			TH_LOG("%s round %d: page %ld word %zu is %#llx after moving to node %d",
			       variant->name, round, bad, word, (unsigned long long)got, target);
	}
	if (variant->backing == FILE_DIRTY) {
		/*
		 * The dirty page cache that moved must reach the disk: write it
		 * back and read the file with O_DIRECT, past the page cache (a
		 * folio whose dirty state was lost is simply not written).
		 */
		int dfd = open(self->path, O_RDONLY | O_DIRECT);
		uint64_t *buf = NULL;

		ASSERT_EQ(msync(self->mem, self->len, MS_SYNC), 0);
		ASSERT_GE(dfd, 0) TH_LOG("O_DIRECT open: %s", strerror(errno));
		ASSERT_EQ(posix_memalign((void **)&buf, self->psize, self->len), 0);
		ASSERT_EQ(pread(dfd, buf, self->len, 0), (ssize_t)self->len)
			TH_LOG("O_DIRECT read: %s", strerror(errno));
		bad = first_bad((char *)buf, self->nr, self->psize, NR_ROUNDS, &word, &got);
		free(buf);
		close(dfd);
		ASSERT_EQ(bad, -1)
			TH_LOG("on disk after msync: page %ld word %zu is %#llx (round %d written)",
			       bad, word, (unsigned long long)got, NR_ROUNDS);
	}
}

TEST_HARNESS_MAIN
