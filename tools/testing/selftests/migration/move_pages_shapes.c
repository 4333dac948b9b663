// SPDX-License-Identifier: GPL-2.0
/*
 * move_pages(2) with the arrays callers really build: the pages of one THP
 * asked to different nodes, the same address twice, the pages of several
 * THPs interleaved or shuffled, THPs that start in the middle of the
 * array, a bad entry half-way, a page that cannot move, and pages another
 * CPU's LRU batches hold.
 *
 * After every call each status that is not an errno must be the node a
 * query right after the call reports for that page, the entries a call
 * did not reach must be untouched, and every word of every page must
 * still hold its pattern.  When entries of one folio ask for different
 * nodes in one call, the last of them decides where it goes (as if each
 * entry were a request of its own, in order).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "migration_util.h"

#define HUGE_SIZE	(2UL << 20)
#define NR_THP		8
#define NR_BASE		1024
#define UNTOUCHED	(-1000)

FIXTURE(shapes)
{
	size_t psize, per_thp;	/* page size, pages per THP */
	char *map, *thp;	/* NR_THP THPs, 2 MiB aligned */
	size_t map_len;
	char *base;		/* NR_BASE base pages */
	int node[2];
	void **pages;
	int *nodes, *status, *query;
	size_t max;		/* entries the arrays hold */
	int have_thp;		/* the THPs were made and hold round 0 */
};

FIXTURE_SETUP(shapes)
{
	if (numa_available() < 0)
		SKIP(return, "NUMA is not available in this kernel");
	if (memory_nodes(&self->node[0], &self->node[1]))
		SKIP(return, "needs two nodes with memory");
	self->psize = sysconf(_SC_PAGESIZE);
	self->per_thp = HUGE_SIZE / self->psize;
	self->map_len = (NR_THP + 1) * HUGE_SIZE;
	self->map = mmap(NULL, self->map_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->map, MAP_FAILED);
	self->thp = (char *)(((uintptr_t)self->map + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1));
	self->base = mmap(NULL, NR_BASE * self->psize, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->base, MAP_FAILED);
	ASSERT_EQ(madvise(self->base, NR_BASE * self->psize, MADV_NOHUGEPAGE), 0);
	fill(self->base, NR_BASE, self->psize, 1);
	self->max = 4 * (NR_THP * self->per_thp + NR_BASE);
	self->pages = calloc(self->max, sizeof(void *));
	self->nodes = calloc(self->max, sizeof(int));
	self->status = calloc(self->max, sizeof(int));
	self->query = calloc(self->max, sizeof(int));
	ASSERT_TRUE(self->pages && self->nodes && self->status && self->query);
}

FIXTURE_TEARDOWN(shapes)
{
	if (self->map && self->map != MAP_FAILED)
		munmap(self->map, self->map_len);
	if (self->base && self->base != MAP_FAILED)
		munmap(self->base, NR_BASE * self->psize);
	free(self->pages);
	free(self->nodes);
	free(self->status);
	free(self->query);
}

/* The THPs exist (SKIP otherwise), hold round 0's pattern and are on @node. */
static int make_thps(struct __test_metadata *_metadata, FIXTURE_DATA(shapes) *self,
		     int node)
{
	size_t nr = NR_THP * self->per_thp, i;
	long rc;

	if (madvise(self->thp, NR_THP * HUGE_SIZE, MADV_HUGEPAGE))
		return -1;
	fill(self->thp, nr, self->psize, 0);
	if (smaps_kb(self->thp, "AnonHugePages") < (long)(NR_THP * HUGE_SIZE >> 10))
		return -1;
	for (i = 0; i < nr; i++) {
		self->pages[i] = self->thp + i * self->psize;
		self->nodes[i] = node;
	}
	rc = move_pages(0, nr, self->pages, self->nodes, self->status, MPOL_MF_MOVE);
	EXPECT_EQ(rc, 0) TH_LOG("placing the THPs: %ld (%s)", rc, strerror(errno));
	self->have_thp = !rc;
	return rc ? -1 : 0;
}

static void put_base(struct __test_metadata *_metadata, FIXTURE_DATA(shapes) *self,
		     int node)
{
	size_t i;

	for (i = 0; i < NR_BASE; i++) {
		self->pages[i] = self->base + i * self->psize;
		self->nodes[i] = node;
	}
	ASSERT_EQ(move_pages(0, NR_BASE, self->pages, self->nodes, self->status,
			     MPOL_MF_MOVE), 0);
}

/*
 * After a call with @n entries: every status is untouched, an errno, or
 * the node a query gives now; all data intact.  Returns the number of
 * untouched entries, which must all come after the touched ones.
 */
static size_t check_statuses(struct __test_metadata *_metadata,
			     FIXTURE_DATA(shapes) *self, size_t n)
{
	size_t i, untouched = 0, word = 0;
	uint64_t got = 0;
	long bad;

	EXPECT_EQ(move_pages(0, n, self->pages, NULL, self->query, 0), 0);
	for (i = 0; i < n; i++) {
		if (self->status[i] == UNTOUCHED) {
			untouched++;
			continue;
		}
		EXPECT_EQ(untouched, 0)
			TH_LOG("entry %zu has a status after an untouched entry", i);
		if (self->status[i] < 0)
			continue;
		EXPECT_EQ(self->status[i], self->query[i])
			TH_LOG("entry %zu (%p): status %d, but the page is on %d", i,
			       self->pages[i], self->status[i], self->query[i]);
		if (self->status[i] != self->query[i])
			break;
	}
	if (self->have_thp) {
		bad = first_bad(self->thp, NR_THP * self->per_thp, self->psize, 0,
				&word, &got);
		EXPECT_EQ(bad, -1) TH_LOG("THP page %ld word %zu is %#llx", bad, word,
					  (unsigned long long)got);
	}
	bad = first_bad(self->base, NR_BASE, self->psize, 1, &word, &got);
	EXPECT_EQ(bad, -1) TH_LOG("base page %ld word %zu is %#llx", bad, word,
				  (unsigned long long)got);
	return untouched;
}

static long move(FIXTURE_DATA(shapes) *self, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		self->status[i] = UNTOUCHED;
	return move_pages(0, n, self->pages, self->nodes, self->status, MPOL_MF_MOVE);
}

static char *thp_page(FIXTURE_DATA(shapes) *self, size_t thp, size_t page)
{
	return self->thp + thp * HUGE_SIZE + page * self->psize;
}

/* A call of @n entries that must move every page to its entry's node. */
static void move_all_there(struct __test_metadata *_metadata, FIXTURE_DATA(shapes) *self,
			   size_t n, int round)
{
	long rc = move(self, n);
	size_t i;

	ASSERT_EQ(rc, 0) TH_LOG("round %d: move_pages %ld (%s)", round, rc, strerror(errno));
	ASSERT_EQ(check_statuses(_metadata, self, n), 0);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(self->status[i], self->nodes[i])
			TH_LOG("round %d entry %zu: status %d, target %d", round, i,
			       self->status[i], self->nodes[i]);
	}
}

/* A deterministic shuffle (the same every run). */
static void shuffle(FIXTURE_DATA(shapes) *self, size_t n, unsigned int seed)
{
	size_t i;

	for (i = n - 1; i > 0; i--) {
		size_t j;
		void *p;
		int t;

		seed = seed * 1103515245 + 12345;
		j = (seed >> 8) % (i + 1);
		p = self->pages[i];
		self->pages[i] = self->pages[j];
		self->pages[j] = p;
		t = self->nodes[i];
		self->nodes[i] = self->nodes[j];
		self->nodes[j] = t;
	}
}

/*
 * The pages of one THP asked alternately to both nodes, as an interleaving
 * allocator splitting the THP between nodes would: the THP moves as a
 * whole to the node of the last entry, and every entry says so.
 */
TEST_F(shapes, thp_mixed_targets)
{
	size_t i, n = self->per_thp;
	int round;

	if (make_thps(_metadata, self, self->node[0]))
		SKIP(return, "no THPs");
	for (round = 0; round < 4; round++) {
		int last;

		for (i = 0; i < n; i++) {
			self->pages[i] = thp_page(self, 0, i);
			self->nodes[i] = self->node[(i + round) % 2];
		}
		last = self->nodes[n - 1];
		ASSERT_EQ(move(self, n), 0) TH_LOG("round %d: %s", round, strerror(errno));
		ASSERT_EQ(check_statuses(_metadata, self, n), 0);
		for (i = 0; i < n; i++) {
			ASSERT_EQ(self->query[i], last)
				TH_LOG("round %d: page %zu on %d, the last entry asked %d",
				       round, i, self->query[i], last);
		}
	}
}

/*
 * One base page listed twice with two targets, both ways round, and with
 * another page between the two: the second target wins, and both
 * entries report it.
 */
TEST_F(shapes, duplicate_two_targets)
{
	int a = self->node[0], b = self->node[1];
	int order[4][2] = { { b, a }, { a, b }, { b, b }, { a, a } };
	int k, gap;

	put_base(_metadata, self, a);
	for (gap = 0; gap < 2; gap++) {
		for (k = 0; k < 4; k++) {
			size_t n = 2 + gap;

			self->pages[0] = self->base;
			self->nodes[0] = order[k][0];
			if (gap) {
				self->pages[1] = self->base + self->psize;
				self->nodes[1] = order[k][0] == a ? b : a;
			}
			self->pages[n - 1] = self->base;
			self->nodes[n - 1] = order[k][1];
			ASSERT_EQ(move(self, n), 0);
			ASSERT_EQ(check_statuses(_metadata, self, n), 0);
			EXPECT_EQ(self->query[0], order[k][1])
				TH_LOG("targets %d then %d (gap %d): the page is on %d",
				       order[k][0], order[k][1], gap, self->query[0]);
		}
	}
}

/*
 * A0 B0 A1 B1 ... over two THPs, all to the other node: every page moves
 * and no entry says -EBUSY.
 */
TEST_F(shapes, interleaved_thps)
{
	size_t i, n = 2 * self->per_thp;
	int round;

	if (make_thps(_metadata, self, self->node[0]))
		SKIP(return, "no THPs");
	for (round = 0; round < 4; round++) {
		for (i = 0; i < n; i++) {
			self->pages[i] = thp_page(self, i % 2, i / 2);
			self->nodes[i] = self->node[(round + 1) % 2];
		}
		move_all_there(_metadata, self, n, round);
	}
}

/*
 * 64 pages of each of 7 THPs with 64 base pages, each entry to a
 * random node, shuffled, as a daemon sorting by hotness would build it -
 * 512 entries, the kernel's window: statuses match where the pages are,
 * and each folio is where its last entry asked.
 */
TEST_F(shapes, shuffled_mixed_targets)
{
	size_t per = 64, n = (NR_THP - 1) * per + per, i, j;
	unsigned int seed = 20261201;
	int round;

	if (make_thps(_metadata, self, self->node[0]))
		SKIP(return, "no THPs");
	put_base(_metadata, self, self->node[0]);
	for (round = 0; round < 8; round++) {
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			self->pages[i] = i < (NR_THP - 1) * per ?
				thp_page(self, i / per, (i % per) * 7) :
				self->base + (i - (NR_THP - 1) * per) * self->psize;
			self->nodes[i] = self->node[(seed >> 16) & 1];
		}
		shuffle(self, n, seed);
		ASSERT_EQ(move(self, n), 0);
		ASSERT_EQ(check_statuses(_metadata, self, n), 0);
		/* The last entry naming each THP decides its node. */
		for (i = 0; i < NR_THP - 1; i++) {
			void *head = thp_page(self, i, 0);
			int last = -1, now = -1;

			for (j = 0; j < n; j++)
				if ((char *)self->pages[j] >= thp_page(self, i, 0) &&
				    (char *)self->pages[j] < thp_page(self, i + 1, 0))
					last = self->nodes[j];
			EXPECT_EQ(move_pages(0, 1, &head, NULL, &now, 0), 0);
			EXPECT_EQ(now, last)
				TH_LOG("round %d: THP %zu on %d, its last entry asked %d",
				       round, i, now, last);
		}
	}
}

/*
 * Every page of 4 THPs and 1024 base pages (3072 entries, several
 * windows), shuffled, each folio to one random node.
 */
TEST_F(shapes, shuffled_per_folio)
{
	size_t nr_thp = 4, n = nr_thp * self->per_thp + NR_BASE, i;
	unsigned int seed = 7;
	int round, target[4];

	if (make_thps(_metadata, self, self->node[0]))
		SKIP(return, "no THPs");
	put_base(_metadata, self, self->node[0]);
	for (round = 0; round < 4; round++) {
		for (i = 0; i < nr_thp; i++)
			target[i] = self->node[(round + i) % 2];
		for (i = 0; i < n; i++) {
			if (i < nr_thp * self->per_thp) {
				self->pages[i] = thp_page(self, i / self->per_thp,
							  i % self->per_thp);
				self->nodes[i] = target[i / self->per_thp];
			} else {
				self->pages[i] = self->base + (i - nr_thp * self->per_thp) *
							      self->psize;
				self->nodes[i] = self->node[(i + round) % 2];
			}
		}
		shuffle(self, n, seed + round);
		move_all_there(_metadata, self, n, round);
	}
}

/*
 * The array starts half-way into the first THP and ends half-way into
 * the last, so that THPs straddle the ends of the kernel's windows.
 */
TEST_F(shapes, unaligned_thps)
{
	size_t first = self->per_thp / 2 + 3, n = (NR_THP - 1) * self->per_thp, i;
	int round;

	if (make_thps(_metadata, self, self->node[0]))
		SKIP(return, "no THPs");
	for (round = 0; round < 4; round++) {
		for (i = 0; i < n; i++) {
			self->pages[i] = self->thp + (first + i) * self->psize;
			self->nodes[i] = self->node[(round + 1) % 2];
		}
		move_all_there(_metadata, self, n, round);
	}
}

/*
 * Node -1 at entry 700 of 1024: ENODEV; entries 0-699 moved and
 * reported, 700 on untouched and their pages where they were.
 */
TEST_F(shapes, bad_node_mid_array)
{
	int a = self->node[0], b = self->node[1];
	size_t i, n = NR_BASE;
	long rc;

	put_base(_metadata, self, a);
	for (i = 0; i < n; i++) {
		self->pages[i] = self->base + i * self->psize;
		self->nodes[i] = i == 700 ? -1 : b;
	}
	rc = move(self, n);
	ASSERT_EQ(rc, -1);
	ASSERT_EQ(errno, ENODEV);
	ASSERT_EQ(check_statuses(_metadata, self, n), n - 700);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(self->query[i], i < 700 ? b : a) TH_LOG("page %zu", i);
	}
}

/*
 * The pages array ends in a guard page after 700 entries of 1024:
 * EFAULT, the 700 moved and reported, the status of the rest untouched.
 */
TEST_F(shapes, pages_array_guard)
{
	int a = self->node[0], b = self->node[1];
	size_t i, n = NR_BASE, len = 2 * n * sizeof(void *) + self->psize;
	char *arr;
	void **pages;
	long rc;

	put_base(_metadata, self, a);
	arr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(arr, MAP_FAILED);
	/* Entry 700 is the first byte of the guard page. */
	pages = (void **)(arr + (len / self->psize - 1) * self->psize) - 700;
	ASSERT_EQ(mprotect(arr + (len / self->psize - 1) * self->psize, self->psize,
			   PROT_NONE), 0);
	for (i = 0; i < 700; i++)
		pages[i] = self->base + i * self->psize;
	for (i = 0; i < n; i++) {
		self->pages[i] = self->base + i * self->psize;
		self->nodes[i] = b;
		self->status[i] = UNTOUCHED;
	}
	rc = move_pages(0, n, pages, self->nodes, self->status, MPOL_MF_MOVE);
	ASSERT_EQ(rc, -1);
	ASSERT_EQ(errno, EFAULT);
	ASSERT_EQ(check_statuses(_metadata, self, n), n - 700);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(self->query[i], i < 700 ? b : a) TH_LOG("page %zu", i);
	}
	munmap(arr, len);
}

/*
 * A page a pipe holds a reference to (vmsplice()) cannot move.  In a call
 * that sends pages to both nodes, with the held page first, the others
 * still move; the call returns how many pages did not move plus the
 * entries it did not reach, and each status is where the page is.
 */
TEST_F(shapes, unmovable_page)
{
	int a = self->node[0], b = self->node[1];
	size_t i, n = NR_BASE, untouched;
	struct iovec iov;
	int pipefd[2];
	long rc;

	put_base(_metadata, self, a);
	/* The odd pages start on the other node: each window sends to both. */
	for (i = 0; i < n; i++) {
		self->pages[i] = self->base + i * self->psize;
		self->nodes[i] = i % 2 ? b : a;
	}
	ASSERT_EQ(move(self, n), 0);
	ASSERT_EQ(pipe(pipefd), 0);
	iov.iov_base = self->base;
	iov.iov_len = self->psize;
	ASSERT_EQ(vmsplice(pipefd[1], &iov, 1, 0), (ssize_t)self->psize);
	for (i = 0; i < n; i++)
		self->nodes[i] = i % 2 ? a : b;
	rc = move(self, n);
	untouched = check_statuses(_metadata, self, n);
	ASSERT_GE(rc, 1) TH_LOG("move_pages: %ld (%s)", rc, strerror(errno));
	EXPECT_EQ((size_t)rc, 1 + untouched);
	EXPECT_EQ(self->status[0], a);
	/* Every entry the call reached moved, but the held page. */
	for (i = 1; i < n - untouched; i++) {
		ASSERT_EQ(self->status[i], self->nodes[i]) TH_LOG("entry %zu", i);
	}
	close(pipefd[0]);
	close(pipefd[1]);
	/* Released, it moves. */
	move_all_there(_metadata, self, n, 1);
}

#define NR_BATCHED	8	/* fewer than a per-CPU LRU batch holds */

struct on_cpu {
	int cpu;
	char *mem;		/* NR_BATCHED pages */
	size_t psize;
	int fd;			/* the memfd behind @mem, or -1 */
	char *empty;		/* a page never touched, for MADV_COLD */
	int ready[2], go[2];	/* pipes: batches filled; the thread may exit */
	int err;
};

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/*
 * On its own CPU: drain that CPU's LRU batches (MADV_COLD on a range with
 * nothing in it does only that), then leave NR_BATCHED folios in them -
 * fresh anonymous pages faulted here wait in lru_add; shmem pages read
 * twice wait in lru_activate, holding a reference.  Then sleep until told
 * to exit: an exiting thread frees its stack with MADV_DONTNEED, whose
 * TLB flush drains this CPU's batches.
 */
static void *fill_batches(void *arg)
{
	struct on_cpu *c = arg;
	char buf[64];
	int i, k;

	c->err = pin(c->cpu) ? errno : 0;
	if (!c->err && madvise(c->empty, c->psize, MADV_COLD))
		c->err = errno;
	if (!c->err && c->fd < 0)
		fill(c->mem, NR_BATCHED, c->psize, 0);
	for (i = 0; !c->err && c->fd >= 0 && i < NR_BATCHED; i++)
		for (k = 0; k < 2; k++)
			if (pread(c->fd, buf, sizeof(buf), i * c->psize) != sizeof(buf))
				c->err = errno ? errno : EIO;
	if (write(c->ready[1], "r", 1) != 1 && !c->err)
		c->err = errno;
	if (read(c->go[0], buf, 1) != 1 && !c->err)
		c->err = errno;
	return NULL;
}

/* Whether the page at @addr is on an LRU list: 1, 0, or -1 if unknown. */
static int on_lru(void *addr, size_t psize)
{
	uint64_t entry = 0, flags = 0;
	int pm = open("/proc/self/pagemap", O_RDONLY);
	int kpf = open("/proc/kpageflags", O_RDONLY);
	int ret = -1;

	if (pm >= 0 && kpf >= 0 &&
	    pread(pm, &entry, 8, (uintptr_t)addr / psize * 8) == 8 &&
	    (entry >> 63) && (entry & ((1ULL << 55) - 1)) &&
	    pread(kpf, &flags, 8, (entry & ((1ULL << 55) - 1)) * 8) == 8)
		ret = (flags >> 5) & 1;		/* KPF_LRU */
	if (pm >= 0)
		close(pm);
	if (kpf >= 0)
		close(kpf);
	return ret;
}

/*
 * Pages whose folios sit in another CPU's LRU batches, moved from CPU 0:
 * they still move.  Fresh anonymous pages (lru_add: they do not isolate
 * until the batch is drained) and shmem pages queued for activation
 * (lru_activate: they isolate, but the batch's reference keeps them from
 * migrating) - and the batches are drained before a migration is tried,
 * so that none fails first (pgmigrate_fail stays still).
 */
TEST_F(shapes, other_cpu_lru_batches)
{
	int a = self->node[0], b = self->node[1], shm, i;
	size_t len = NR_BATCHED * self->psize;
	struct on_cpu c = { .cpu = 1, .psize = self->psize };
	size_t word = 0;
	uint64_t got = 0;
	long rc, failed;
	pthread_t t;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two CPUs");
	ASSERT_EQ(pin(0), 0);
	c.empty = mmap(NULL, self->psize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(c.empty, MAP_FAILED);
	for (shm = 0; shm < 2; shm++) {
		const char *what = shm ? "shmem in lru_activate" : "anon in lru_add";

		c.fd = -1;
		if (shm) {
			c.fd = memfd_create("lru_batches", 0);
			ASSERT_GE(c.fd, 0);
			ASSERT_EQ(ftruncate(c.fd, len), 0);
			c.mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c.fd, 0);
			ASSERT_NE(c.mem, MAP_FAILED);
			fill(c.mem, NR_BATCHED, self->psize, 0);
			/* On the LRU, referenced once, mapped here; then CPU 1 reads. */
			ASSERT_EQ(madvise(c.empty, self->psize, MADV_COLD), 0);
		} else {
			c.mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			ASSERT_NE(c.mem, MAP_FAILED);
			ASSERT_EQ(madvise(c.mem, len, MADV_NOHUGEPAGE), 0);
		}
		ASSERT_EQ(pipe(c.ready), 0);
		ASSERT_EQ(pipe(c.go), 0);
		ASSERT_EQ(pthread_create(&t, NULL, fill_batches, &c), 0);
		ASSERT_EQ(read(c.ready[0], &i, 1), 1);
		ASSERT_EQ(c.err, 0) TH_LOG("%s: %s", what, strerror(c.err));
		/* The case is only worth its name if the batch holds them. */
		if (!shm && on_lru(c.mem, self->psize)) {
			ASSERT_EQ(write(c.go[1], "g", 1), 1);
			ASSERT_EQ(pthread_join(t, NULL), 0);
			SKIP(return, "the fresh page went to the LRU at once (or no kpageflags)");
		}
		for (i = 0; i < NR_BATCHED; i++) {
			self->pages[i] = c.mem + i * self->psize;
			self->query[i] = UNTOUCHED;
		}
		ASSERT_EQ(move_pages(0, NR_BATCHED, self->pages, NULL, self->query, 0), 0);
		for (i = 0; i < NR_BATCHED; i++)
			self->nodes[i] = self->query[i] == a ? b : a;
		failed = vmstat_event("pgmigrate_fail");
		rc = move(self, NR_BATCHED);
		failed = vmstat_event("pgmigrate_fail") - failed;
		EXPECT_EQ(rc, 0) TH_LOG("%s: move_pages %ld (%s)", what, rc, strerror(errno));
		EXPECT_EQ(failed, 0)
			TH_LOG("%s: %ld pages failed a migration before the batches were drained",
			       what, failed);
		EXPECT_EQ(move_pages(0, NR_BATCHED, self->pages, NULL, self->query, 0), 0);
		for (i = 0; i < NR_BATCHED; i++) {
			EXPECT_EQ(self->status[i], self->nodes[i])
				TH_LOG("%s: page %d status %d", what, i, self->status[i]);
			EXPECT_EQ(self->query[i], self->nodes[i])
				TH_LOG("%s: page %d is on %d", what, i, self->query[i]);
		}
		EXPECT_EQ(first_bad(c.mem, NR_BATCHED, self->psize, 0, &word, &got), -1)
			TH_LOG("%s: word %zu is %#llx", what, word, (unsigned long long)got);
		ASSERT_EQ(write(c.go[1], "g", 1), 1);
		ASSERT_EQ(pthread_join(t, NULL), 0);
		close(c.ready[0]);
		close(c.ready[1]);
		close(c.go[0]);
		close(c.go[1]);
		munmap(c.mem, len);
		if (c.fd >= 0)
			close(c.fd);
	}
	munmap(c.empty, self->psize);
}

TEST_HARNESS_MAIN
