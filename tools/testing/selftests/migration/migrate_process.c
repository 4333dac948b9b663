// SPDX-License-Identifier: GPL-2.0
/*
 * Migration across processes: pages mapped by two processes, and pages of
 * another process.  Every round checks every word of every page, in each
 * process that maps it, and the node each page is on.
 *
 * - file_two_processes: a MAP_SHARED file mapped by a parent and a child.
 *   Without MPOL_MF_MOVE_ALL move_pages() must refuse it (-EACCES, page
 *   untouched); with it the page moves and both processes still share it:
 *   what one writes, the other reads, after every move.  A migration that
 *   restored only one of the two mappings (an i_mmap walk stopping at the
 *   first vma) leaves the other on a stale entry or on the old page.
 * - migrate_pages_child: migrate_pages(2) of a child's whole address space
 *   by pid; the child checks its own data.
 * - mremap_shared_child: the mremap case of the swapless migration work.
 *   Parent and child share
 *   anonymous pages after fork(); the child moves its range around with
 *   mremap() while the parent moves the pages between nodes with
 *   MPOL_MF_MOVE_ALL.  The child's ptes must be found (through the anon_vma)
 *   and restored wherever mremap() put them.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <numa.h>
#include <numaif.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "migration_util.h"

#define NR_PAGES	32
#define NR_ROUNDS	8
#define NR_REMAPS	200
#define TMPFS_MAGIC	0x01021994
#define RAMFS_MAGIC	0x858458f6

/* A child process that answers requests over two pipes. */
struct child {
	pid_t pid;
	int to;			/* pipe ends: requests to the child */
	int from;		/* and its answers */
};

FIXTURE(proc)
{
	size_t psize;
	size_t len;
	int node[2];
	unsigned long memory_nodes;	/* mask of the nodes with memory */
	char *mem;
	int fd;
	char path[256];
	struct child ch;
	void *pages[NR_PAGES];
	int nodes[NR_PAGES];
	int status[NR_PAGES];
};

FIXTURE_SETUP(proc)
{
	int n;

	self->fd = -1;
	self->ch.to = -1;
	self->ch.from = -1;
	if (numa_available() < 0)
		SKIP(return, "NUMA is not available in this kernel");
	if (memory_nodes(&self->node[0], &self->node[1]))
		SKIP(return, "needs two nodes with memory");
	for (n = 0; n <= numa_max_node() && n < 64; n++)
		if (numa_bitmask_isbitset(numa_all_nodes_ptr, n))
			self->memory_nodes |= 1UL << n;
	self->psize = sysconf(_SC_PAGESIZE);
	self->len = NR_PAGES * self->psize;
}

FIXTURE_TEARDOWN(proc)
{
	if (self->ch.pid > 0) {
		kill(self->ch.pid, SIGKILL);
		waitpid(self->ch.pid, NULL, 0);
	}
	if (self->ch.to >= 0)
		close(self->ch.to);
	if (self->ch.from >= 0)
		close(self->ch.from);
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, self->len);
	if (self->fd >= 0)
		close(self->fd);
	if (self->path[0])
		unlink(self->path);
}

/* The child's side of the conversation: answer each request with a long. */
typedef long (*serve_fn)(char *mem, size_t psize, long request);

/* Fork a child that runs @serve on @mem for each request until the pipe closes. */
static int start_child(struct child *c, char *mem, size_t psize, serve_fn serve)
{
	int req[2], ans[2];
	long r, a;

	if (pipe(req) || pipe(ans))
		return -1;
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (c->pid == 0) {
		close(req[1]);
		close(ans[0]);
		while (read(req[0], &r, sizeof(r)) == sizeof(r)) {
			a = serve(mem, psize, r);
			if (write(ans[1], &a, sizeof(a)) != sizeof(a))
				break;
		}
		_exit(0);
	}
	close(req[0]);
	close(ans[1]);
	c->to = req[1];
	c->from = ans[0];
	return 0;
}

/* Ask the child; its answer, or LONG_MIN when it is gone. */
static long ask_child(struct child *c, long request)
{
	long a;

	if (write(c->to, &request, sizeof(request)) != sizeof(request) ||
	    read(c->from, &a, sizeof(a)) != sizeof(a))
		return LONG_MIN;
	return a;
}

/*
 * Requests: CHECK | round (check every word, and that every page is where
 * the query says the parent put it), or WRITE | round.  Answers: -1 when
 * all is well; a page index for bad data; NR_PAGES + page for a page not
 * on the node the request names.
 */
#define REQ_WRITE	0x10000000000L	/* bit 40 */
#define REQ_NODE_SHIFT	32
#define REQ_ROUND_MASK	0xffffffffL

static long serve_shared(char *mem, size_t psize, long req)
{
	int round = req & REQ_ROUND_MASK, node = (req >> REQ_NODE_SHIFT) & 0xff;
	int status[NR_PAGES];
	void *pages[NR_PAGES];
	uint64_t got;
	size_t word;
	long bad;
	int i;

	if (req & REQ_WRITE) {
		fill(mem, NR_PAGES, psize, round);
		return -1;
	}
	bad = first_bad(mem, NR_PAGES, psize, round, &word, &got);
	if (bad >= 0)
		return bad;
	for (i = 0; i < NR_PAGES; i++)
		pages[i] = mem + i * psize;
	if (move_pages(0, NR_PAGES, pages, NULL, status, 0))
		return 2 * NR_PAGES;
	for (i = 0; i < NR_PAGES; i++)
		if (status[i] != node)
			return NR_PAGES + i;
	return -1;
}

static void check_child_answer(struct __test_metadata *_metadata, long a, int round, int node)
{
	ASSERT_NE(a, LONG_MIN) TH_LOG("round %d: the child is gone", round);
	ASSERT_FALSE(a >= 0 && a < NR_PAGES)
		TH_LOG("round %d: the child reads wrong data in page %ld", round, a);
	ASSERT_FALSE(a >= NR_PAGES && a < 2 * NR_PAGES)
		TH_LOG("round %d: the child's page %ld is not on node %d", round,
		       a - NR_PAGES, node);
	ASSERT_EQ(a, -1) TH_LOG("round %d: the child could not query its pages", round);
}

TEST_F(proc, file_two_processes)
{
	const char *dir = getenv("MIGRATION_FILE_DIR");
	struct statfs sfs;
	size_t word = 0;
	uint64_t got = 0;
	int round, i, start;
	long bad;

	if (!dir || statfs(dir, &sfs) || sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC)
		SKIP(return, "needs MIGRATION_FILE_DIR on a disk filesystem");
	snprintf(self->path, sizeof(self->path), "%s/migration-shared-XXXXXX", dir);
	self->fd = mkstemp(self->path);
	ASSERT_GE(self->fd, 0) TH_LOG("mkstemp %s: %s", self->path, strerror(errno));
	ASSERT_EQ(ftruncate(self->fd, self->len), 0);
	self->mem = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(self->mem, MAP_FAILED);
	fill(self->mem, NR_PAGES, self->psize, 0);
	for (i = 0; i < NR_PAGES; i++)
		self->pages[i] = self->mem + i * self->psize;
	/* Mapped once, all onto one node; then the child maps them too. */
	start = self->node[0];
	for (i = 0; i < NR_PAGES; i++)
		self->nodes[i] = start;
	ASSERT_EQ(move_pages(0, NR_PAGES, self->pages, self->nodes, self->status,
			     MPOL_MF_MOVE), 0);
	ASSERT_EQ(start_child(&self->ch, self->mem, self->psize, serve_shared), 0);
	check_child_answer(_metadata, ask_child(&self->ch, (long)start << REQ_NODE_SHIFT | 0), 0,
			   start);

	/* Mapped twice: MPOL_MF_MOVE alone must leave it where it is. */
	for (i = 0; i < NR_PAGES; i++)
		self->nodes[i] = self->node[1];
	ASSERT_EQ(move_pages(0, NR_PAGES, self->pages, self->nodes, self->status,
			     MPOL_MF_MOVE), 0);
	for (i = 0; i < NR_PAGES; i++)
		ASSERT_EQ(self->status[i], -EACCES)
			TH_LOG("page %d mapped by two processes: status %d without MOVE_ALL",
			       i, self->status[i]);
	check_child_answer(_metadata, ask_child(&self->ch, (long)start << REQ_NODE_SHIFT | 0), 0,
			   start);

	for (round = 1; round <= NR_ROUNDS; round++) {
		int target = self->node[round % 2];

		/* Odd rounds the parent writes, even rounds the child. */
		if (round % 2)
			fill(self->mem, NR_PAGES, self->psize, round);
		else
			ASSERT_EQ(ask_child(&self->ch, REQ_WRITE | round), -1);
		for (i = 0; i < NR_PAGES; i++)
			self->nodes[i] = target;
		ASSERT_EQ(move_pages(0, NR_PAGES, self->pages, self->nodes, self->status,
				     MPOL_MF_MOVE_ALL), 0)
			TH_LOG("round %d: %s", round, strerror(errno));
		for (i = 0; i < NR_PAGES; i++)
			ASSERT_EQ(self->status[i], target)
				TH_LOG("round %d: page %d status %d, expected node %d", round, i,
				       self->status[i], target);
		bad = first_bad(self->mem, NR_PAGES, self->psize, round, &word, &got);
		ASSERT_EQ(bad, -1)
			TH_LOG("round %d: parent page %ld word %zu is %#llx", round, bad, word,
			       (unsigned long long)got);
		check_child_answer(_metadata,
				   ask_child(&self->ch, (long)target << REQ_NODE_SHIFT | round),
				   round, target);
	}
}

/* The child owns private copies: it writes them, and checks them. */
static long serve_private(char *mem, size_t psize, long req)
{
	uint64_t got;
	size_t word;

	if (req & REQ_WRITE) {
		fill(mem, NR_PAGES, psize, req & REQ_ROUND_MASK);
		return -1;
	}
	return first_bad(mem, NR_PAGES, psize, req & REQ_ROUND_MASK, &word, &got);
}

TEST_F(proc, migrate_pages_child)
{
	unsigned long maxnode = sizeof(unsigned long) * 8;
	int round, i;

	self->mem = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->mem, MAP_FAILED);
	/* The parent's own copy, which must not move or change. */
	fill(self->mem, NR_PAGES, self->psize, 1000);
	for (i = 0; i < NR_PAGES; i++)
		self->pages[i] = self->mem + i * self->psize;
	ASSERT_EQ(start_child(&self->ch, self->mem, self->psize, serve_private), 0);

	for (round = 1; round <= NR_ROUNDS; round++) {
		unsigned long to = 1UL << self->node[round % 2];
		unsigned long from = self->memory_nodes & ~to;
		int parent_status[NR_PAGES];
		size_t word = 0;
		uint64_t got = 0;
		long rc;

		ASSERT_EQ(move_pages(0, NR_PAGES, self->pages, NULL, parent_status, 0), 0);
		ASSERT_EQ(ask_child(&self->ch, REQ_WRITE | round), -1);
		rc = migrate_pages(self->ch.pid, maxnode, &from, &to);
		ASSERT_GE(rc, 0) TH_LOG("round %d: migrate_pages(child): %s", round,
					strerror(errno));
		/* Where the child's pages are, asked by pid. */
		ASSERT_EQ(move_pages(self->ch.pid, NR_PAGES, self->pages, NULL, self->status, 0),
			  0);
		for (i = 0; i < NR_PAGES; i++)
			ASSERT_EQ(self->status[i], self->node[round % 2])
				TH_LOG("round %d: child page %d on node %d, expected %d", round,
				       i, self->status[i], self->node[round % 2]);
		ASSERT_EQ(ask_child(&self->ch, round), -1)
			TH_LOG("round %d: the child's data is wrong after the move", round);
		/* The parent's pages were not asked to move. */
		ASSERT_EQ(move_pages(0, NR_PAGES, self->pages, NULL, self->status, 0), 0);
		ASSERT_EQ(memcmp(self->status, parent_status, sizeof(parent_status)), 0)
			TH_LOG("round %d: migrate_pages(child) moved the parent's pages", round);
		ASSERT_EQ(first_bad(self->mem, NR_PAGES, self->psize, 1000, &word, &got), -1)
			TH_LOG("round %d: parent word %zu is %#llx", round, word,
			       (unsigned long long)got);
	}
}

TEST_F(proc, mremap_shared_child)
{
	int round = 0, moves = 0, wstatus, done[2], release[2], i;
	char code = 0;
	size_t word = 0;
	uint64_t got = 0;
	ssize_t n;
	pid_t pid;

	self->mem = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->mem, MAP_FAILED);
	fill(self->mem, NR_PAGES, self->psize, 7);
	for (i = 0; i < NR_PAGES; i++)
		self->pages[i] = self->mem + i * self->psize;
	/*
	 * The child reports on @done and exits only once the parent stopped
	 * moving (@release closed): an exiting mm holds a reference on each
	 * page it unmapped until its TLB is flushed, so a move that overlaps
	 * the exit fails for every page, in any kernel.
	 */
	ASSERT_EQ(pipe(done), 0);
	ASSERT_EQ(pipe(release), 0);
	ASSERT_EQ(fcntl(done[0], F_SETFL, O_NONBLOCK), 0);

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* Child: move the shared range to and fro, reading it each time. */
		char *cur = self->mem;

		close(done[0]);
		close(release[1]);
		for (round = 1; round <= NR_REMAPS && !code; round++) {
			char *spot = mmap(NULL, self->len, PROT_NONE,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (spot == MAP_FAILED) {
				code = 3;
				break;
			}
			cur = mremap(cur, self->len, self->len, MREMAP_MAYMOVE | MREMAP_FIXED,
				     spot);
			if (cur == MAP_FAILED)
				code = 4;
			else if (first_bad(cur, NR_PAGES, self->psize, 7, &word, &got) >= 0)
				code = 5;
		}
		if (write(done[1], &code, 1) != 1)
			_exit(6);
		/* Returns at EOF: the parent is done with the pages. */
		n = read(release[0], &code, 1);
		_exit(n ? 6 : code);
	}
	self->ch.pid = pid;
	close(done[1]);
	close(release[0]);

	/* Parent: move the shared pages until the child is done remapping. */
	while ((n = read(done[0], &code, 1)) < 0 && errno == EAGAIN) {
		int target = self->node[moves % 2];

		for (i = 0; i < NR_PAGES; i++)
			self->nodes[i] = target;
		ASSERT_EQ(move_pages(0, NR_PAGES, self->pages, self->nodes, self->status,
				     MPOL_MF_MOVE_ALL), 0) TH_LOG("%s", strerror(errno));
		for (i = 0; i < NR_PAGES; i++)
			ASSERT_EQ(self->status[i], target)
				TH_LOG("move %d: page %d status %d", moves, i, self->status[i]);
		moves++;
	}
	close(release[1]);
	close(done[0]);
	ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
	self->ch.pid = 0;
	ASSERT_EQ(n, 1) TH_LOG("the child did not report: %s", n ? strerror(errno) : "EOF");
	ASSERT_TRUE(WIFEXITED(wstatus)) TH_LOG("child killed by signal %d", WTERMSIG(wstatus));
	ASSERT_EQ(WEXITSTATUS(wstatus), 0)
		TH_LOG("child: %s", WEXITSTATUS(wstatus) == 5 ? "wrong data after mremap" :
		       WEXITSTATUS(wstatus) == 6 ? "its pipes failed" : "mmap or mremap failed");
	ASSERT_EQ(first_bad(self->mem, NR_PAGES, self->psize, 7, &word, &got), -1)
		TH_LOG("parent word %zu is %#llx", word, (unsigned long long)got);
	TH_LOG("%d moves of the shared pages while the child remapped them %d times", moves,
	       NR_REMAPS);
	if (moves < 2)
		SKIP(return, "the child finished before two moves");
}

TEST_HARNESS_MAIN
