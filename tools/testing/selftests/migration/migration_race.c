// SPDX-License-Identifier: GPL-2.0
/*
 * Races with migration entries in flight: a thread moves the pages back
 * and forth between two nodes with move_pages(2) while the main thread
 * forks or changes the protection.  These are bugs of the swapless
 * migration work (2.6.16-2.6.18):
 *
 * - fork() copying a write migration entry into a COW child without
 *   making it a read entry: after the move, parent and child would share
 *   one writable page, and the child's writes would show in the parent;
 * - mprotect(PROT_READ) leaving a write migration entry writable: after
 *   the move, a write to the read-only range would succeed;
 * - a page thrown away (MADV_DONTNEED, munmap(), ftruncate()) while it is
 *   under migration coming back with its old contents.
 *
 * Each case runs a bounded number of rounds and reports how many of them
 * overlapped a move_pages() call; it skips when none did, since it then
 * proved nothing.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "migration_util.h"

#define NR_PAGES	32
#define NR_ROUNDS	100

struct mover {
	pthread_t thread;
	void *pages[NR_PAGES];
	int nodes[2];
	atomic_int stop;
	atomic_int in_flight;	/* a move_pages() call is running */
	atomic_long moves;	/* completed move_pages() calls */
	atomic_long errors;
	atomic_int hold;	/* asked to pause between calls */
	atomic_int held;	/* paused: no call is running */
	int last_errno;
};

/* Move all pages to the other node, forever, until told to stop. */
static void *mover_fn(void *arg)
{
	struct mover *m = arg;
	int nodes[NR_PAGES], status[NR_PAGES];
	int i, turn = 0;

	while (!atomic_load(&m->stop)) {
		if (atomic_load(&m->hold)) {
			atomic_store(&m->held, 1);
			sched_yield();
			continue;
		}
		atomic_store(&m->held, 0);
		for (i = 0; i < NR_PAGES; i++)
			nodes[i] = m->nodes[turn & 1];
		atomic_store(&m->in_flight, 1);
		if (move_pages(0, NR_PAGES, m->pages, nodes, status, MPOL_MF_MOVE) < 0) {
			m->last_errno = errno;
			atomic_fetch_add(&m->errors, 1);
		}
		atomic_store(&m->in_flight, 0);
		atomic_fetch_add(&m->moves, 1);
		turn++;
	}
	return NULL;
}

/*
 * Pause the mover after its current call (mover_hold()) and let it go
 * again (mover_release()).  A check that must see no migration in flight
 * runs in between; it would otherwise keep meeting fresh entries, since
 * the mover starts a new call the moment the last one ends.
 */
static void mover_hold(struct mover *m)
{
	atomic_store(&m->hold, 1);
	while (!atomic_load(&m->held) && !atomic_load(&m->stop))
		sched_yield();
}

static void mover_release(struct mover *m)
{
	atomic_store(&m->held, 0);
	atomic_store(&m->hold, 0);
}

/* Milliseconds on the monotonic clock. */
static long elapsed_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A case's rounds stop early, once MIN_ROUNDS are done, when they have
 * taken ROUNDS_BUDGET_MS: a THP round can take seconds on a slow or
 * loaded machine (under QEMU TCG), and the harness's timeout would end the
 * case as a failure with its rounds half done.
 */
#define MIN_ROUNDS		10
#define ROUNDS_BUDGET_MS	60000

static int out_of_time(int done, long start)
{
	return done >= MIN_ROUNDS && elapsed_ms() - start > ROUNDS_BUDGET_MS;
}

/* Wait until the mover has finished @n more complete calls (bounded by the harness timeout). */
static void mover_wait(struct mover *m, long n)
{
	long target = atomic_load(&m->moves) + n;

	while (atomic_load(&m->moves) < target)
		sched_yield();
}

FIXTURE(race)
{
	size_t psize;
	char *mem;
	struct mover mover;
	int started;
};

FIXTURE_SETUP(race)
{
	int i;

	if (numa_available() < 0)
		SKIP(return, "NUMA is not available in this kernel");
	memset(&self->mover, 0, sizeof(self->mover));
	if (memory_nodes(&self->mover.nodes[0], &self->mover.nodes[1]))
		SKIP(return, "needs two nodes with memory");
	self->psize = sysconf(_SC_PAGESIZE);
	self->mem = mmap(NULL, NR_PAGES * self->psize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->mem, MAP_FAILED);
	fill(self->mem, NR_PAGES, self->psize, 0);
	for (i = 0; i < NR_PAGES; i++)
		self->mover.pages[i] = self->mem + i * self->psize;
	ASSERT_EQ(pthread_create(&self->mover.thread, NULL, mover_fn, &self->mover), 0);
	self->started = 1;
	mover_wait(&self->mover, 1);
}

FIXTURE_TEARDOWN(race)
{
	if (self->started) {
		atomic_store(&self->mover.stop, 1);
		pthread_join(self->mover.thread, NULL);
	}
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, NR_PAGES * self->psize);
}

/*
 * fork() while the pages move: the child overwrites every page, the
 * parent must still see its own pattern in every word (and the child its
 * own), round after round.
 */
static void fork_rounds(struct __test_metadata *_metadata, char *mem, size_t nr,
			size_t psize, struct mover *m)
{
	int round, overlaps = 0;

	for (round = 1; round <= NR_ROUNDS; round++) {
		size_t word = 0;
		uint64_t got = 0;
		long bad;
		int status;
		pid_t pid;

		fill(mem, nr, psize, round);
		overlaps += atomic_load(&m->in_flight);
		pid = fork();
		ASSERT_GE(pid, 0) TH_LOG("fork: %s", strerror(errno));
		if (pid == 0) {
			/* Child: take every page over, then check it sees only itself. */
			int mine = round + 100000;

			fill(mem, nr, psize, mine);
			bad = first_bad(mem, nr, psize, mine, &word, &got);
			_exit(bad < 0 ? 0 : 2);
		}
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("round %d: child saw a page that was not its own (status %#x)",
			       round, status);
		/* Let the entries copied at fork time resolve before checking. */
		mover_wait(m, 2);
		bad = first_bad(mem, nr, psize, round, &word, &got);
		ASSERT_EQ(bad, -1)
			TH_LOG("round %d: parent page %ld word %zu is %#llx: child write leaked",
			       round, bad, word, (unsigned long long)got);
	}
	ASSERT_EQ(atomic_load(&m->errors), 0)
		TH_LOG("move_pages failed: %s", strerror(m->last_errno));
	TH_LOG("%d of %d forks overlapped a move_pages() call, %ld moves",
	       overlaps, NR_ROUNDS, atomic_load(&m->moves));
	if (!overlaps)
		SKIP(return, "no fork overlapped a migration");
}

TEST_F(race, fork_cow_isolation)
{
	fork_rounds(_metadata, self->mem, NR_PAGES, self->psize, &self->mover);
}

static sigjmp_buf segv_jmp;

static void segv_handler(int sig)
{
	siglongjmp(segv_jmp, 1);
}

/* Does a write of one word at @p fault?  (1: SIGSEGV, 0: the write went through) */
static int write_faults(uint64_t *p)
{
	if (sigsetjmp(segv_jmp, 1))
		return 1;
	/* An atomic store is never elided, unlike a plain *p = *p. */
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
	return 0;
}

/*
 * mprotect(PROT_READ) while the pages move: once the moves that were in
 * flight have completed (two more calls made, then the mover paused), a
 * write to any page must fault; the data stays.  The write first loads
 * the word, so that the page is mapped and a writable pte would let the
 * store through without a fault.
 */
static void mprotect_rounds(struct __test_metadata *_metadata, char *mem, size_t nr,
			    size_t psize, struct mover *m, size_t stride)
{
	struct sigaction sa = { .sa_handler = segv_handler }, old;
	int round, overlaps = 0;
	long start = elapsed_ms();
	size_t i;

	ASSERT_EQ(sigaction(SIGSEGV, &sa, &old), 0);
	for (round = 1; round <= NR_ROUNDS / 2 && !out_of_time(round - 1, start); round++) {
		long t0 = elapsed_ms(), t1, t2, t3, moves0 = atomic_load(&m->moves);
		size_t word = 0;
		uint64_t got = 0;
		long bad;

		ASSERT_EQ(mprotect(mem, nr * psize, PROT_READ | PROT_WRITE), 0);
		fill(mem, nr, psize, round);
		t1 = elapsed_ms();
		overlaps += atomic_load(&m->in_flight);
		ASSERT_EQ(mprotect(mem, nr * psize, PROT_READ), 0);
		mover_wait(m, 2);
		mover_hold(m);
		t2 = elapsed_ms();
		for (i = 0; i < nr; i += stride) {
			uint64_t *p = (uint64_t *)(mem + i * psize + 64);

			ASSERT_TRUE(write_faults(p))
				TH_LOG("round %d: page %zu is writable after mprotect(PROT_READ)",
				       round, i);
		}
		t3 = elapsed_ms();
		if (t3 - t0 > 2000)	/* where a slow round spends its time */
			TH_LOG("round %d: fill %ld, two moves %ld, %zu writes %ld ms; %ld calls",
			       round, t1 - t0, t2 - t1, (nr + stride - 1) / stride, t3 - t2,
			       atomic_load(&m->moves) - moves0);
		bad = first_bad(mem, nr, psize, round, &word, &got);
		ASSERT_EQ(bad, -1) TH_LOG("round %d: page %ld word %zu is %#llx",
					  round, bad, word, (unsigned long long)got);
		mover_release(m);
	}
	sigaction(SIGSEGV, &old, NULL);
	ASSERT_EQ(atomic_load(&m->errors), 0)
		TH_LOG("move_pages failed: %s", strerror(m->last_errno));
	TH_LOG("%d of %d mprotect calls overlapped a move_pages() call", overlaps, round - 1);
	if (!overlaps)
		SKIP(return, "no mprotect overlapped a migration");
}

TEST_F(race, mprotect_readonly)
{
	mprotect_rounds(_metadata, self->mem, NR_PAGES, self->psize, &self->mover, 1);
}

/*
 * The same two races on a PMD-mapped THP: fork() and mprotect() then meet
 * a PMD migration entry (copy_huge_pmd(), change_huge_pmd()) rather than
 * pte entries.  The mover lists the THP's first NR_PAGES subpages, which
 * moves the whole folio; all HPAGE_NR pages are checked.
 */
#define HPAGE_NR	512

FIXTURE(race_thp)
{
	size_t psize, len;
	char *map, *mem;
	struct mover mover;
	int started;
};

FIXTURE_SETUP(race_thp)
{
	int i;

	if (numa_available() < 0)
		SKIP(return, "NUMA is not available in this kernel");
	memset(&self->mover, 0, sizeof(self->mover));
	if (memory_nodes(&self->mover.nodes[0], &self->mover.nodes[1]))
		SKIP(return, "needs two nodes with memory");
	self->psize = sysconf(_SC_PAGESIZE);
	self->len = 2 * HPAGE_NR * self->psize;
	self->map = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->map, MAP_FAILED);
	self->mem = (char *)(((uintptr_t)self->map + HPAGE_NR * self->psize - 1) &
			     ~(uintptr_t)(HPAGE_NR * self->psize - 1));
	ASSERT_EQ(madvise(self->mem, HPAGE_NR * self->psize, MADV_HUGEPAGE), 0);
	fill(self->mem, HPAGE_NR, self->psize, 0);
	if (smaps_kb(self->mem, "AnonHugePages") < 2048)
		SKIP(return, "no THP for the aligned range (AnonHugePages %ld kB)",
		     smaps_kb(self->mem, "AnonHugePages"));
	for (i = 0; i < NR_PAGES; i++)
		self->mover.pages[i] = self->mem + i * self->psize;
	ASSERT_EQ(pthread_create(&self->mover.thread, NULL, mover_fn, &self->mover), 0);
	self->started = 1;
	mover_wait(&self->mover, 1);
}

FIXTURE_TEARDOWN(race_thp)
{
	if (self->started) {
		atomic_store(&self->mover.stop, 1);
		pthread_join(self->mover.thread, NULL);
	}
	if (self->map && self->map != MAP_FAILED)
		munmap(self->map, self->len);
}

TEST_F_TIMEOUT(race_thp, fork_cow_isolation, 120)
{
	fork_rounds(_metadata, self->mem, HPAGE_NR, self->psize, &self->mover);
}

/* A write is tried on every 8th page: one SIGSEGV per page is slow under TCG. */
TEST_F_TIMEOUT(race_thp, mprotect_readonly, 120)
{
	mprotect_rounds(_metadata, self->mem, HPAGE_NR, self->psize, &self->mover, 8);
}

/* The first of the pages at @mem that is not all zeroes, or -1; *word is where. */
static long first_nonzero(const char *mem, size_t psize, size_t *word)
{
	size_t p, w;

	for (p = 0; p < NR_PAGES; p++)
		for (w = 0; w < psize / 8; w++)
			if (((const uint64_t *)(mem + p * psize))[w]) {
				*word = w;
				return p;
			}
	return -1;
}

/*
 * Throw the pages away while they move - MADV_DONTNEED, or munmap() and a
 * fresh MAP_FIXED mapping in their place: afterwards every page must read
 * as zeroes.  A migration that put an old page back (its entry surviving
 * the zap) would show the old pattern.
 */
static void discard_rounds(struct __test_metadata *_metadata, char *mem, size_t psize,
			   struct mover *m, int use_munmap)
{
	size_t len = NR_PAGES * psize, word = 0;
	int round, overlaps = 0;
	long bad;

	for (round = 1; round <= NR_ROUNDS / 2; round++) {
		fill(mem, NR_PAGES, psize, round);
		overlaps += atomic_load(&m->in_flight);
		if (use_munmap) {
			ASSERT_EQ(munmap(mem, len), 0);
			ASSERT_EQ(mmap(mem, len, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), mem);
		} else {
			ASSERT_EQ(madvise(mem, len, MADV_DONTNEED), 0);
		}
		mover_wait(m, 2);
		bad = first_nonzero(mem, psize, &word);
		ASSERT_EQ(bad, -1)
			TH_LOG("round %d: page %ld word %zu not zero after %s: old data is back",
			       round, bad, word, use_munmap ? "munmap+mmap" : "MADV_DONTNEED");
	}
	ASSERT_EQ(atomic_load(&m->errors), 0) TH_LOG("move_pages failed: %s",
						     strerror(m->last_errno));
	TH_LOG("%d of %d discards overlapped a move_pages() call", overlaps, NR_ROUNDS / 2);
	if (!overlaps)
		SKIP(return, "no discard overlapped a migration");
}

TEST_F(race, madvise_dontneed)
{
	discard_rounds(_metadata, self->mem, self->psize, &self->mover, 0);
}

TEST_F(race, munmap_remap)
{
	discard_rounds(_metadata, self->mem, self->psize, &self->mover, 1);
}

/*
 * ftruncate() a shared file mapping to nothing and back while its pages
 * move: afterwards every page must read as zeroes (a truncated page that
 * migration put back would show the old pattern), and a new pattern
 * written after that must survive the moves that follow.
 */
static void truncate_rounds(struct __test_metadata *_metadata, int fd, const int nodes[2])
{
	size_t psize = sysconf(_SC_PAGESIZE), len = NR_PAGES * psize, word = 0;
	struct mover m = { .nodes = { nodes[0], nodes[1] } };
	int round, overlaps = 0, i;
	uint64_t got = 0;
	char *mem;
	long bad;

	ASSERT_EQ(ftruncate(fd, len), 0);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(mem, MAP_FAILED);
	fill(mem, NR_PAGES, psize, 0);
	for (i = 0; i < NR_PAGES; i++)
		m.pages[i] = mem + i * psize;
	ASSERT_EQ(pthread_create(&m.thread, NULL, mover_fn, &m), 0);
	mover_wait(&m, 1);
	for (round = 1; round <= NR_ROUNDS / 2; round++) {
		overlaps += atomic_load(&m.in_flight);
		ASSERT_EQ(ftruncate(fd, 0), 0);
		ASSERT_EQ(ftruncate(fd, len), 0);
		mover_wait(&m, 2);
		bad = first_nonzero(mem, psize, &word);
		ASSERT_EQ(bad, -1)
			TH_LOG("round %d: page %ld word %zu not zero after truncation", round,
			       bad, word);
		fill(mem, NR_PAGES, psize, round);
		mover_wait(&m, 2);
		bad = first_bad(mem, NR_PAGES, psize, round, &word, &got);
		ASSERT_EQ(bad, -1) TH_LOG("round %d: page %ld word %zu is %#llx", round, bad,
					  word, (unsigned long long)got);
	}
	atomic_store(&m.stop, 1);
	pthread_join(m.thread, NULL);
	munmap(mem, len);
	ASSERT_EQ(atomic_load(&m.errors), 0) TH_LOG("move_pages failed: %s",
						    strerror(m.last_errno));
	TH_LOG("%d of %d truncations overlapped a move_pages() call", overlaps, NR_ROUNDS / 2);
	if (!overlaps)
		SKIP(return, "no truncation overlapped a migration");
}

TEST_F(race, ftruncate_shmem)
{
	int fd = memfd_create("migration-truncate", 0);

	ASSERT_GE(fd, 0) TH_LOG("memfd_create: %s", strerror(errno));
	truncate_rounds(_metadata, fd, self->mover.nodes);
	close(fd);
}

TEST_F(race, ftruncate_file)
{
	const char *dir = getenv("MIGRATION_FILE_DIR");
	char path[256];
	int fd;

	if (!dir)
		SKIP(return, "needs MIGRATION_FILE_DIR on a disk filesystem");
	snprintf(path, sizeof(path), "%s/migration-truncate-XXXXXX", dir);
	fd = mkstemp(path);
	ASSERT_GE(fd, 0) TH_LOG("mkstemp %s: %s", path, strerror(errno));
	unlink(path);
	truncate_rounds(_metadata, fd, self->mover.nodes);
	close(fd);
}

/*
 * A child exits while its pages are being moved by its parent
 * (move_pages() on its pid): every call either moves the child's pages or
 * fails with the errno of a process that is gone (ESRCH, or EINVAL once
 * its mm is released); the parent's own pages are untouched.
 */
TEST_F(race, exit_while_moving)
{
	int round, overlaps = 0;

	for (round = 1; round <= NR_ROUNDS / 4; round++) {
		int nodes[NR_PAGES], status[NR_PAGES], wstatus, i, calls = 0;
		size_t word = 0;
		uint64_t got = 0;
		pid_t child;
		long rc;

		fill(self->mem, NR_PAGES, self->psize, round);
		child = fork();
		ASSERT_GE(child, 0);
		if (child == 0) {
			/* Private copies of our own, then go away soon. */
			fill(self->mem, NR_PAGES, self->psize, round + 200000);
			usleep(1000 * (round % 5));
			_exit(0);
		}
		do {
			for (i = 0; i < NR_PAGES; i++)
				nodes[i] = self->mover.nodes[calls & 1];
			rc = move_pages(child, NR_PAGES, self->mover.pages, nodes, status,
					MPOL_MF_MOVE);
			calls++;
			if (rc >= 0)
				overlaps++;
		} while (rc >= 0 && calls < 10000);
		ASSERT_TRUE(errno == ESRCH || errno == EINVAL)
			TH_LOG("round %d: move_pages on an exiting child: %s", round,
			       strerror(errno));
		ASSERT_EQ(waitpid(child, &wstatus, 0), child);
		ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
		ASSERT_EQ(first_bad(self->mem, NR_PAGES, self->psize, round, &word, &got), -1)
			TH_LOG("round %d: parent page changed: word %zu is %#llx", round, word,
			       (unsigned long long)got);
	}
	TH_LOG("%d move_pages() calls reached a live child", overlaps);
	if (!overlaps)
		SKIP(return, "no call reached the child before it exited");
}

TEST_HARNESS_MAIN
