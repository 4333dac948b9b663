// SPDX-License-Identifier: GPL-2.0
/*
 * The move_pages(2) contract, entry by entry: the status each kind of
 * address gets (a node, -ENOENT, -EFAULT, -EACCES), the errors of the call
 * itself (-EINVAL, -ENODEV, -ESRCH, -EPERM, -EACCES outside the task's
 * cpuset), and that a page whose move is refused stays where it was with
 * its data.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <numa.h>
#include <numaif.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "migration_util.h"

#define NOBODY		65534

FIXTURE(status)
{
	size_t psize;
	char *mem;		/* four pages: see FIXTURE_SETUP */
	int node[2];
};

/*
 * Page 0: written (present, private anon); page 1: never touched;
 * page 2: only read (the shared zero page); page 3: written.
 */
FIXTURE_SETUP(status)
{
	if (numa_available() < 0)
		SKIP(return, "NUMA is not available in this kernel");
	if (memory_nodes(&self->node[0], &self->node[1]))
		SKIP(return, "needs two nodes with memory");
	self->psize = sysconf(_SC_PAGESIZE);
	self->mem = mmap(NULL, 4 * self->psize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->mem, MAP_FAILED);
	fill(self->mem, 1, self->psize, 1);
	/* A read fault maps the shared zero page; the atomic load is never elided. */
	__atomic_load_n(&self->mem[2 * self->psize], __ATOMIC_RELAXED);
	fill(self->mem + 3 * self->psize, 1, self->psize, 3);
}

FIXTURE_TEARDOWN(status)
{
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, 4 * self->psize);
}

/* The node page @p is on, by query; or the negative errno the query reports. */
static int node_of(void *p)
{
	int status = -1000;

	if (move_pages(0, 1, &p, NULL, &status, 0))
		return -1000 - errno;
	return status;
}

/* The fixture's two written pages are on @target, their data intact. */
static void expect_written_on(struct __test_metadata *_metadata, const char *mem,
			      size_t psize, int target)
{
	uint64_t got;
	size_t word;

	EXPECT_EQ(node_of((void *)mem), target);
	EXPECT_EQ(node_of((void *)(mem + 3 * psize)), target);
	EXPECT_EQ(first_bad(mem, 1, psize, 1, &word, &got), -1);
	EXPECT_EQ(first_bad(mem + 3 * psize, 1, psize, 3, &word, &got), -1);
}

/*
 * Query mode (nodes == NULL): a present page reports its node, an untouched
 * page -ENOENT, the zero page -EFAULT, an address in no mapping -EFAULT.
 */
TEST_F(status, query)
{
	void *pages[5] = { self->mem, self->mem + self->psize, self->mem + 2 * self->psize,
			   self->mem + 3 * self->psize, (void *)(uintptr_t)self->psize };
	int status[5] = { -1000, -1000, -1000, -1000, -1000 };

	ASSERT_EQ(move_pages(0, 5, pages, NULL, status, 0), 0) TH_LOG("errno %d", errno);
	EXPECT_GE(status[0], 0);
	EXPECT_EQ(status[1], -ENOENT);
	EXPECT_EQ(status[2], -EFAULT);
	EXPECT_GE(status[3], 0);
	EXPECT_EQ(status[4], -EFAULT);
}

/*
 * Moving a mix: the present pages go to the target and report it, the
 * untouched page reports -ENOENT, the zero page and the unmapped address
 * -EFAULT; none of those counts as "not migrated" (the call returns 0);
 * moved data is intact.
 */
TEST_F(status, move_mixed)
{
	void *pages[5] = { self->mem, self->mem + self->psize, self->mem + 2 * self->psize,
			   self->mem + 3 * self->psize, (void *)(uintptr_t)self->psize };
	int target = node_of(self->mem) == self->node[0] ? self->node[1] : self->node[0];
	int nodes[5] = { target, target, target, target, target };
	int status[5] = { -1000, -1000, -1000, -1000, -1000 };

	ASSERT_EQ(move_pages(0, 5, pages, nodes, status, MPOL_MF_MOVE), 0)
		TH_LOG("errno %d", errno);
	EXPECT_EQ(status[0], target);
	EXPECT_EQ(status[1], -ENOENT);
	EXPECT_EQ(status[2], -EFAULT);
	EXPECT_EQ(status[3], target);
	EXPECT_EQ(status[4], -EFAULT);
	expect_written_on(_metadata, self->mem, self->psize, target);
}

/* The start of the [vvar] mapping of this process, or NULL. */
static void *vvar_page(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long start = 0, s, e;
	char line[256];

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "[vvar]") && sscanf(line, "%lx-%lx", &s, &e) == 2) {
			start = s;
			break;
		}
	if (f)
		fclose(f);
	return (void *)start;
}

/*
 * A mapping migration cannot touch (VM_IO | VM_PFNMAP: the vDSO's data
 * page) reports -EFAULT, however the entries of movable and unmovable
 * mappings alternate: the check follows the mapping of each entry.
 */
TEST_F(status, unmovable_mapping)
{
	void *vvar = vvar_page();
	int target = node_of(self->mem) == self->node[0] ? self->node[1] : self->node[0];
	void *pages[4] = { self->mem, vvar, self->mem + 3 * self->psize, vvar };
	int nodes[4] = { target, target, target, target };
	int status[4] = { -1000, -1000, -1000, -1000 };

	if (!vvar)
		SKIP(return, "no [vvar] mapping in this process");
	ASSERT_EQ(move_pages(0, 4, pages, nodes, status, MPOL_MF_MOVE), 0)
		TH_LOG("errno %d", errno);
	EXPECT_EQ(status[0], target);
	EXPECT_EQ(status[1], -EFAULT);
	EXPECT_EQ(status[2], target);
	EXPECT_EQ(status[3], -EFAULT);
	expect_written_on(_metadata, self->mem, self->psize, target);
}

/* Different targets in one call: each page ends on its own target. */
TEST_F(status, mixed_targets)
{
	void *pages[2] = { self->mem, self->mem + 3 * self->psize };
	int nodes[2] = { self->node[0], self->node[1] };
	int status[2] = { -1000, -1000 };
	int round;

	for (round = 0; round < 4; round++) {
		nodes[0] = self->node[round % 2];
		nodes[1] = self->node[(round + 1) % 2];
		ASSERT_EQ(move_pages(0, 2, pages, nodes, status, MPOL_MF_MOVE), 0);
		EXPECT_EQ(status[0], nodes[0]) TH_LOG("round %d", round);
		EXPECT_EQ(status[1], nodes[1]) TH_LOG("round %d", round);
		EXPECT_EQ(node_of(pages[0]), nodes[0]);
		EXPECT_EQ(node_of(pages[1]), nodes[1]);
	}
}

/* Errors of the call: bad flags, a node that does not exist, no such pid. */
TEST_F(status, call_errors)
{
	void *page = self->mem;
	int before = node_of(page);
	int node = numa_max_node() + 1;
	int status = -1000;

	errno = 0;
	EXPECT_EQ(move_pages(0, 1, &page, &node, &status, 0x80), -1);
	EXPECT_EQ(errno, EINVAL);

	errno = 0;
	EXPECT_EQ(move_pages(0, 1, &page, &node, &status, MPOL_MF_MOVE), -1);
	EXPECT_EQ(errno, ENODEV);

	node = -1;
	errno = 0;
	EXPECT_EQ(move_pages(0, 1, &page, &node, &status, MPOL_MF_MOVE), -1);
	EXPECT_EQ(errno, ENODEV);

	node = self->node[0];
	errno = 0;
	EXPECT_EQ(move_pages(0x7ffffff0, 1, &page, &node, &status, MPOL_MF_MOVE), -1);
	EXPECT_EQ(errno, ESRCH);
	EXPECT_EQ(node_of(page), before);
}

/*
 * A page mapped by two processes (MAP_SHARED anon, after fork) is not
 * moved with MPOL_MF_MOVE: status -EACCES and the page stays.  With
 * MPOL_MF_MOVE_ALL (CAP_SYS_NICE) it moves.
 */
TEST_F(status, shared_page_needs_move_all)
{
	char *shared = mmap(NULL, self->psize, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int pipefd[2], ready[2], status = -1000, wstatus, before, target;
	void *page = shared;
	uint64_t got;
	size_t word;
	pid_t child;
	char c = 0;

	ASSERT_NE(shared, MAP_FAILED);
	fill(shared, 1, self->psize, 7);
	ASSERT_EQ(pipe(pipefd), 0);
	ASSERT_EQ(pipe(ready), 0);
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		/*
		 * fork() does not copy the ptes of a shared mapping: map the
		 * page by touching it, say so, and keep it until the parent
		 * is done.
		 */
		c = __atomic_load_n(&shared[0], __ATOMIC_RELAXED);
		close(pipefd[1]);
		close(ready[0]);
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		_exit(read(pipefd[0], &c, 1) < 0);
	}
	close(pipefd[0]);
	close(ready[1]);
	ASSERT_EQ(read(ready[0], &c, 1), 1) TH_LOG("the child did not map the page");
	close(ready[0]);
	before = node_of(page);
	target = before == self->node[0] ? self->node[1] : self->node[0];

	EXPECT_EQ(move_pages(0, 1, &page, &target, &status, MPOL_MF_MOVE), 0);
	EXPECT_EQ(status, -EACCES);
	EXPECT_EQ(node_of(page), before);

	if (geteuid() == 0) {
		status = -1000;
		EXPECT_EQ(move_pages(0, 1, &page, &target, &status, MPOL_MF_MOVE_ALL), 0);
		EXPECT_EQ(status, target);
		EXPECT_EQ(node_of(page), target);
	}
	EXPECT_EQ(first_bad(shared, 1, self->psize, 7, &word, &got), -1);
	close(pipefd[1]);
	ASSERT_EQ(waitpid(child, &wstatus, 0), child);
	munmap(shared, self->psize);
}

/*
 * As an unprivileged user (uid 65534): MOVE_ALL on its own pages needs
 * CAP_SYS_NICE, and move_pages() and migrate_pages() on a root process
 * need ptrace access: each is refused with EPERM, and no page moves - the
 * mover's page and the root process's own page stay on their nodes.
 */
TEST_F(status, unprivileged)
{
	int pipefd[2], ready[2], wstatus, status = -1000, before, after;
	void *page = self->mem;
	pid_t victim, mover;
	char c;

	if (geteuid() != 0)
		SKIP(return, "needs root to create the other user and drop to it");
	ASSERT_EQ(pipe(pipefd), 0);
	ASSERT_EQ(pipe(ready), 0);
	victim = fork();
	ASSERT_GE(victim, 0);
	if (victim == 0) {
		close(pipefd[1]);
		close(ready[0]);
		/* A page of its own, not shared with the test process. */
		fill(self->mem, 1, self->psize, 77);
		_exit(write(ready[1], "r", 1) != 1 || read(pipefd[0], &c, 1) < 0);
	}
	close(pipefd[0]);
	close(ready[1]);
	ASSERT_EQ(read(ready[0], &c, 1), 1);
	ASSERT_EQ(move_pages(victim, 1, &page, NULL, &status, 0), 0);
	before = status;
	ASSERT_GE(before, 0) TH_LOG("the root process's page: status %d", before);

	mover = fork();
	ASSERT_GE(mover, 0);
	if (mover == 0) {
		int mine = node_of(page);
		int target = mine == self->node[0] ? self->node[1] : self->node[0];
		int theirs = before == self->node[0] ? self->node[1] : self->node[0];
		struct bitmask *from = numa_allocate_nodemask(), *to = numa_allocate_nodemask();
		int ok = 1;

		numa_bitmask_setbit(from, before);
		numa_bitmask_setbit(to, theirs);
		if (setresgid(NOBODY, NOBODY, NOBODY) || setresuid(NOBODY, NOBODY, NOBODY))
			_exit(3);
		/* Our own (now unprivileged) pages: MOVE_ALL needs CAP_SYS_NICE. */
		ok &= move_pages(0, 1, &page, &target, &status, MPOL_MF_MOVE_ALL) == -1 &&
		      errno == EPERM;
		ok &= node_of(page) == mine;
		/* Root's pages (same address layout: forked from us). */
		ok &= move_pages(victim, 1, &page, &theirs, &status, MPOL_MF_MOVE) == -1 &&
		      errno == EPERM;
		ok &= numa_migrate_pages(victim, from, to) == -1 && errno == EPERM;
		_exit(ok ? 0 : 2);
	}
	ASSERT_EQ(waitpid(mover, &wstatus, 0), mover);
	ASSERT_EQ(move_pages(victim, 1, &page, NULL, &status, 0), 0);
	after = status;
	close(pipefd[1]);
	waitpid(victim, NULL, 0);
	ASSERT_TRUE(WIFEXITED(wstatus));
	ASSERT_NE(WEXITSTATUS(wstatus), 3) TH_LOG("cannot drop to uid %d", NOBODY);
	EXPECT_EQ(WEXITSTATUS(wstatus), 0)
		TH_LOG("MOVE_ALL, or moving a root process's pages, not refused with EPERM");
	EXPECT_EQ(after, before) TH_LOG("the root process's page moved from node %d to %d",
					before, after);
}

#define CGROUP_ROOT	"/sys/fs/cgroup"
#define CGROUP_TEST	CGROUP_ROOT "/migration-selftest"

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	return (close(fd) == 0 && ok) ? 0 : -1;
}

/*
 * A cgroup v2 cpuset allowed only @node, ready for a task; 0 or -1 when
 * cpusets are not available here (no CONFIG_CPUSETS, not root).
 */
static int cpuset_only(int node)
{
	struct statfs sfs;
	char buf[16];

	if (statfs(CGROUP_ROOT, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		mkdir(CGROUP_ROOT, 0755);
		if (mount("cgroup2", CGROUP_ROOT, "cgroup2", 0, NULL))
			return -1;
	}
	if (write_str(CGROUP_ROOT "/cgroup.subtree_control", "+cpuset"))
		return -1;
	if (mkdir(CGROUP_TEST, 0755) && errno != EEXIST)
		return -1;
	snprintf(buf, sizeof(buf), "%d", node);
	return write_str(CGROUP_TEST "/cpuset.mems", buf);
}

/*
 * A task confined by its cpuset to one node: move_pages() to a node
 * outside its allowed set fails the call with -EACCES, and the page stays
 * where it is with its data; a move within the set is still allowed.
 */
TEST_F(status, outside_cpuset)
{
	int wstatus;
	pid_t child;

	if (geteuid() != 0)
		SKIP(return, "needs root to create a cpuset");
	if (cpuset_only(self->node[0]))
		SKIP(return, "no cgroup v2 cpuset controller (CONFIG_CPUSETS)");
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		void *page = self->mem;
		int to_allowed = self->node[0], to_other = self->node[1];
		int status = -1000, ok = 1;
		uint64_t got;
		size_t word;

		if (write_str(CGROUP_TEST "/cgroup.procs", "0"))
			_exit(3);
		/* A copy of page 0 of our own (not shared with the parent). */
		fill(self->mem, 1, self->psize, 1);
		ok &= move_pages(0, 1, &page, &to_allowed, &status, MPOL_MF_MOVE) == 0 &&
		      status == to_allowed;
		status = -1000;
		ok &= move_pages(0, 1, &page, &to_other, &status, MPOL_MF_MOVE) == -1 &&
		      errno == EACCES;
		ok &= node_of(page) == to_allowed;
		ok &= first_bad(self->mem, 1, self->psize, 1, &word, &got) == -1;
		_exit(ok ? 0 : 2);
	}
	ASSERT_EQ(waitpid(child, &wstatus, 0), child);
	rmdir(CGROUP_TEST);
	ASSERT_TRUE(WIFEXITED(wstatus));
	ASSERT_NE(WEXITSTATUS(wstatus), 3) TH_LOG("cannot join the cpuset");
	EXPECT_EQ(WEXITSTATUS(wstatus), 0)
		TH_LOG("a move to node %d outside the cpuset: not EACCES, or the page moved",
		       self->node[1]);
}

TEST_HARNESS_MAIN
