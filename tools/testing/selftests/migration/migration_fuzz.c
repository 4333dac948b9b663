// SPDX-License-Identifier: GPL-2.0
/*
 * A bounded, seeded fuzzer for the NUMA memory syscalls: move_pages(2),
 * migrate_pages(2), mbind(2), set_mempolicy(2) and get_mempolicy(2) with
 * random and edge-case arguments - NULL, unmapped, misaligned, kernel and
 * non-canonical addresses, counts that are huge or overflow a size
 * computation, nodes out of range or without memory, duplicate pages,
 * pages of another process, pid arguments that do not exist, and arrays
 * that fault midway or alias the very pages being moved.
 *
 * After every call it checks the invariants a caller relies on: the
 * return value and errno are ones the man pages document, every status
 * is a node with memory or a documented errno, the pages under test keep
 * their data, and nothing is written past the end of an array.  (A kernel
 * splat is for the runner to catch.)
 *
 * Usage: migration_fuzz [-s seed] [-n calls]
 * The number of calls is 100000 unless -n or $MIGRATION_FUZZ_CALLS says
 * otherwise (a quick run may take a few thousand), and the seed is
 * random unless -s or $MIGRATION_FUZZ_SEED gives it.  The seed is
 * printed first; a failure prints the call number and its arguments, so
 * that "-s <seed> -n <call>" replays it.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <numa.h>
#include <numaif.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest.h"

#define NR_PAGES	64	/* the pages under test */
#define ARRAY_PAGES	16	/* room for the pages/nodes/status arrays */
#define DEFAULT_CALLS	100000	/* MIGRATION_FUZZ_CALLS or -n: fewer */
#define CANARY		0x63616e617279ULL
#define UNTOUCHED	(-1000)	/* a status the kernel never writes */
#define WINDOW		512	/* entries move_pages() takes at a time */

static size_t psize;
static char *pages;		/* NR_PAGES with a pattern */
static char *arrays;		/* ARRAY_PAGES, then a PROT_NONE guard page */
static char *hole;		/* an unmapped page */
static char *zero_page;		/* mapped, never written: the zero page when read */
static int max_node, nodes_with_mem[64], nr_mem_nodes, memoryless = -1;
static pid_t child;
static uint64_t rng;
static unsigned long call_no;
static char last_call[256];

static uint64_t rnd(void)
{
	/* xorshift64*: a fixed sequence per seed, the same on every machine */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static unsigned long pick(unsigned long n)
{
	return n ? rnd() % n : 0;
}

static uint64_t word_of(size_t page, size_t word)
{
	return ((uint64_t)page << 40) ^ word ^ 0x66757a7aULL;
}

static void fill_page(size_t p)
{
	size_t w;

	for (w = 0; w < psize / 8; w++)
		((uint64_t *)(pages + p * psize))[w] = word_of(p, w);
}

/* The first page (sampled: first, middle and last word; or all words) that is wrong. */
static long bad_page(int full, size_t *word)
{
	size_t p, w, step = full ? 1 : psize / 16 - 1;

	for (p = 0; p < NR_PAGES; p++)
		for (w = 0; w < psize / 8; w += step)
			if (((uint64_t *)(pages + p * psize))[w] != word_of(p, w)) {
				*word = w;
				return p;
			}
	return -1;
}

static void fill_canary(void)
{
	size_t i;

	for (i = 0; i < ARRAY_PAGES * psize / 8; i++)
		((uint64_t *)arrays)[i] = CANARY;
}

/* Bytes past @end in the array area that a call overwrote, or 0. */
static int canary_hit(char *end)
{
	char *p;

	for (p = end; p < arrays + ARRAY_PAGES * psize && p < end + 256; p++)
		if (p[0] != (char)(CANARY >> (8 * (((uintptr_t)p) & 7))))
			return 1;
	return 0;
}

/* An address to pass: mostly pages under test, sometimes anything but. */
static void *any_addr(void)
{
	switch (pick(12)) {
	case 0:
		return NULL;
	case 1:
		return hole;
	case 2:
		return pages + pick(NR_PAGES) * psize + 1 + pick(psize - 1);	/* misaligned */
	case 3:
		return (void *)0xffff888000000000UL;				/* kernel */
	case 4:
		return (void *)0x0000800000000000UL;				/* non-canonical */
	case 5:
		return zero_page + pick(4) * psize;
	case 6:
		return (void *)(uintptr_t)rnd();
	default:
		return pages + pick(NR_PAGES) * psize;
	}
}

static int any_node(void)
{
	switch (pick(10)) {
	case 0:
		return -1;
	case 1:
		return max_node + 1;
	case 2:
		return 1 << 20;
	case 3:
		return memoryless >= 0 ? memoryless : max_node + 2;
	case 4:
		return (int)rnd();
	default:
		return nodes_with_mem[pick(nr_mem_nodes)];
	}
}

static unsigned long any_count(unsigned long room)
{
	switch (pick(10)) {
	case 0:
		return 0;
	case 1:
		return 1UL << 40;					/* huge */
	case 2:
		return ~0UL / sizeof(void *) + 1;			/* overflows a size */
	case 3:
		return ~0UL;
	default:
		return 1 + pick(room);
	}
}

static pid_t any_pid(void)
{
	switch (pick(8)) {
	case 0:
		return getpid();
	case 1:
		return child;
	case 2:
		return 0x3fffffff;	/* no such process */
	case 3:
		return -1;
	default:
		return 0;
	}
}

/* A nodemask buffer in the array area (or a bad pointer) and its maxnode. */
static unsigned long *any_mask(unsigned long *maxnode, char **end)
{
	unsigned long *m = (unsigned long *)(arrays + pick(4) * sizeof(long));
	int i;

	switch (pick(8)) {
	case 0:
		*maxnode = pick(4096);
		*end = (char *)m;
		return NULL;
	case 1:
		*maxnode = 64;
		*end = arrays;
		return (unsigned long *)hole;
	case 2:	/* straddles the guard page */
		m = (unsigned long *)(arrays + ARRAY_PAGES * psize - sizeof(long));
		*maxnode = 1 + pick(4096);
		*end = arrays + ARRAY_PAGES * psize;
		*m = 1UL << nodes_with_mem[pick(nr_mem_nodes)];
		return m;
	default:
		*maxnode = pick(3) ? (unsigned long)max_node + 2 : pick(70000);
		m[0] = 0;
		for (i = 0; i < 1 + (int)pick(3); i++)
			m[0] |= 1UL << (pick(3) ? nodes_with_mem[pick(nr_mem_nodes)] : pick(64));
		*end = (char *)(m + 1);
		return m;
	}
}

static int errno_ok(int err, const int *allowed)
{
	for (; *allowed; allowed++)
		if (*allowed == err)
			return 1;
	return 0;
}

static const int move_pages_errs[] = { E2BIG, EACCES, EFAULT, EINVAL, ENODEV, ENOENT, EPERM,
				       ESRCH, ENOMEM, 0 };
static const int status_errs[] = { EACCES, EBUSY, EFAULT, EIO, EINVAL, ENOENT, ENOMEM, 0 };
static const int migrate_pages_errs[] = { EFAULT, EINVAL, EPERM, ESRCH, ENOMEM, 0 };
static const int mbind_errs[] = { EFAULT, EINVAL, EIO, ENOMEM, EPERM, 0 };
static const int set_policy_errs[] = { EFAULT, EINVAL, ENOMEM, 0 };
static const int get_policy_errs[] = { EFAULT, EINVAL, 0 };

static int undocumented(char *why, size_t len, int err)
{
	return snprintf(why, len, "errno %d (%s) is not documented", err, strerror(err));
}

/*
 * The statuses of a move_pages() call that could be read back: the ones
 * written come first, then the untouched ones; each written node is where
 * a query right after the call finds the page - unless a later window of
 * 512 entries named the same page with another node and moved it again.
 * The return value counts every entry the call did not reach.
 */
static int check_statuses(char *why, size_t len, pid_t pid, unsigned long count,
			  void **pv, const int *nv, const int *sv, long ret)
{
	static int qv[ARRAY_PAGES * 4096 / sizeof(int)];
	unsigned long i, j, written;
	uintptr_t mask = ~(uintptr_t)(psize - 1);

	for (written = 0; written < count && sv[written] != UNTOUCHED; written++)
		;
	for (i = written; i < count; i++)
		if (sv[i] != UNTOUCHED)
			return snprintf(why, len, "status[%lu] written after untouched [%lu]",
					i, written);
	if (ret == 0 && written != count)
		return snprintf(why, len, "returned 0 with %lu statuses unwritten",
				count - written);
	if (ret > 0 && (unsigned long)ret < count - written)
		return snprintf(why, len, "returned %ld with %lu entries not reached", ret,
				count - written);
	if (!written || count > ARRAY_SIZE(qv) ||
	    syscall(SYS_move_pages, pid, written, pv, NULL, qv, 0))
		return 0;
	for (i = 0; i < written; i++) {
		if (sv[i] < 0 || sv[i] == qv[i])
			continue;
		for (j = (i / WINDOW + 1) * WINDOW; nv && j < written; j++)
			if (((uintptr_t)pv[j] & mask) == ((uintptr_t)pv[i] & mask) &&
			    nv[j] != sv[i])
				break;
		if (!nv || j >= written)
			return snprintf(why, len, "status[%lu] = %d, but a query says %d",
					i, sv[i], qv[i]);
	}
	return 0;
}

static int is_mem_node(int n)
{
	int i;

	for (i = 0; i < nr_mem_nodes; i++)
		if (nodes_with_mem[i] == n)
			return 1;
	return 0;
}

/* One random call; 0 when every invariant held, else a message in @why. */
static int one_call(char *why, size_t len, int *dirty)
{
	unsigned long count, maxnode, i;
	long ret;
	int err, what = pick(10);
	char *end = arrays;

	*dirty = 0;
	fill_canary();
	if (what < 5) {			/* move_pages */
		unsigned long room = ARRAY_PAGES * psize / (sizeof(void *) + 2 * sizeof(int));
		void **pv = (void **)arrays;
		int *nv, *sv, flags = pick(4) ? MPOL_MF_MOVE : pick(4) ? MPOL_MF_MOVE_ALL :
				      (int)rnd();
		int query = !pick(4), where = pick(8), checkable;
		pid_t pid = any_pid();

		count = any_count(room);
		nv = (int *)(pv + (count <= room ? count : 1));
		sv = nv + (count <= room ? count : 1);
		for (i = 0; i < count && i < room; i++) {
			pv[i] = i && !pick(6) ? pv[i - 1] : any_addr();	/* duplicates too */
			nv[i] = any_node();
		}
		if (count <= room)
			end = (char *)(sv + count);
		if (where == 0) {		/* the status array in a page being moved */
			sv = (int *)(pages + pick(NR_PAGES) * psize);
			*dirty = 1;
		} else if (where == 1 && count <= room) {	/* runs into the guard page */
			sv = (int *)(arrays + ARRAY_PAGES * psize) - count / 2;
			end = arrays + ARRAY_PAGES * psize;
		} else if (where == 2) {
			sv = (int *)hole;
		} else if (where == 3 && count <= room) {	/* pages array in a moved page */
			void **moved = (void **)(pages + pick(NR_PAGES) * psize);

			memcpy(moved, pv, count * sizeof(void *) > psize ? psize :
			       count * sizeof(void *));
			pv = moved;
			*dirty = 1;
		}
		snprintf(last_call, sizeof(last_call),
			 "move_pages(pid=%d, count=%lu, pages=%p, nodes=%s, status=%p, flags=%#x)",
			 pid, count, (void *)pv, query ? "NULL" : "set", (void *)sv, flags);
		checkable = count <= room && sv != (int *)hole && !*dirty &&
			    (char *)sv + count * sizeof(int) <= arrays + ARRAY_PAGES * psize;
		for (i = 0; checkable && i < count; i++)
			sv[i] = UNTOUCHED;
		errno = 0;
		ret = syscall(SYS_move_pages, pid, count, pv, query ? NULL : nv, sv, flags);
		err = errno;
		if (ret < 0 && !errno_ok(err, move_pages_errs))
			return undocumented(why, len, err);
		if (ret > 0 && (unsigned long)ret > count)
			return snprintf(why, len, "returned %ld > count %lu", ret, count);
		for (i = 0; checkable && i < count && sv[i] != UNTOUCHED; i++) {
			if (sv[i] < 0 ? errno_ok(-sv[i], status_errs) : is_mem_node(sv[i]))
				continue;
			return snprintf(why, len, "status[%lu] = %d", i, sv[i]);
		}
		if (checkable && check_statuses(why, len, pid, count, pv, query ? NULL : nv,
						sv, ret))
			return 1;
	} else if (what < 6) {		/* migrate_pages */
		unsigned long *from, *to, m2;
		char *e2;
		pid_t pid = any_pid();

		from = any_mask(&maxnode, &end);
		to = any_mask(&m2, &e2);
		if (e2 > end)
			end = e2;
		snprintf(last_call, sizeof(last_call),
			 "migrate_pages(pid=%d, maxnode=%lu, from=%p, to=%p)", pid, maxnode,
			 (void *)from, (void *)to);
		errno = 0;
		ret = syscall(SYS_migrate_pages, pid, maxnode, from, to);
		err = errno;
		if (ret < 0 && !errno_ok(err, migrate_pages_errs))
			return undocumented(why, len, err);
	} else if (what < 8) {		/* mbind */
		int mode = pick(8) ? (int)pick(7) : (int)rnd();
		unsigned int flags = pick(3) ? MPOL_MF_MOVE : pick(2) ? MPOL_MF_MOVE_ALL |
				     MPOL_MF_STRICT : (unsigned int)rnd();
		char *start = pick(4) ? pages + pick(NR_PAGES) * psize : any_addr();
		unsigned long blen = pick(4) ? psize * (1 + pick(8)) : any_count(1UL << 30);
		unsigned long *mask = any_mask(&maxnode, &end);

		if (start >= pages && start < pages + NR_PAGES * psize &&
		    blen > (unsigned long)(pages + NR_PAGES * psize - start))
			blen = pages + NR_PAGES * psize - start;	/* only our pages */
		snprintf(last_call, sizeof(last_call),
			 "mbind(start=%p, len=%lu, mode=%d, mask=%p, maxnode=%lu, flags=%#x)",
			 (void *)start, blen, mode, (void *)mask, maxnode, flags);
		errno = 0;
		ret = syscall(SYS_mbind, start, blen, mode, mask, maxnode, flags);
		err = errno;
		if (ret < 0 && !errno_ok(err, mbind_errs))
			return undocumented(why, len, err);
	} else if (what < 9) {		/* set_mempolicy */
		int mode = (pick(8) ? (int)pick(7) : (int)rnd()) |
			   (pick(4) ? 0 : (int)(pick(16) << 12));
		unsigned long *mask = any_mask(&maxnode, &end);

		snprintf(last_call, sizeof(last_call),
			 "set_mempolicy(mode=%#x, mask=%p, maxnode=%lu)", mode, (void *)mask,
			 maxnode);
		errno = 0;
		ret = syscall(SYS_set_mempolicy, mode, mask, maxnode);
		err = errno;
		if (ret < 0 && !errno_ok(err, set_policy_errs))
			return undocumented(why, len, err);
	} else {			/* get_mempolicy */
		int *mode = pick(6) ? (int *)arrays + 1024 : (int *)hole;
		unsigned long *mask = any_mask(&maxnode, &end);
		unsigned long flags = pick(3) ? (MPOL_F_ADDR | (pick(2) ? MPOL_F_NODE : 0)) :
				      pick(2) ? MPOL_F_MEMS_ALLOWED : rnd();
		void *addr = any_addr();

		snprintf(last_call, sizeof(last_call),
			 "get_mempolicy(mode=%p, mask=%p, maxnode=%lu, addr=%p, flags=%#lx)",
			 (void *)mode, (void *)mask, maxnode, addr, flags);
		errno = 0;
		ret = syscall(SYS_get_mempolicy, mode, mask, maxnode, addr, flags);
		err = errno;
		if (ret < 0 && !errno_ok(err, get_policy_errs))
			return undocumented(why, len, err);
		if ((char *)mode + sizeof(int) > end && mode != (int *)hole)
			end = (char *)mode + sizeof(int);
		/* The mask is written back: maxnode bits, rounded up to longs. */
		if (mask && (char *)mask >= arrays && (char *)mask < arrays + ARRAY_PAGES * psize &&
		    (char *)(mask + (maxnode + 63) / 64) > end)
			end = (char *)(mask + (maxnode + 63) / 64);
	}
	if (end > arrays && canary_hit(end))
		return snprintf(why, len, "wrote past the end of an array (%p)", (void *)end);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long calls = DEFAULT_CALLS, seed = 0, made = 0;
	char why[256], path[128];
	int opt, dirty, n, fd_pipe[2];
	size_t word = 0;
	long bad;

	if (getenv("MIGRATION_FUZZ_CALLS"))
		calls = strtoul(getenv("MIGRATION_FUZZ_CALLS"), NULL, 0);
	if (getenv("MIGRATION_FUZZ_SEED"))
		seed = strtoul(getenv("MIGRATION_FUZZ_SEED"), NULL, 0);
	while ((opt = getopt(argc, argv, "s:n:")) != -1) {
		if (opt == 's')
			seed = strtoul(optarg, NULL, 0);
		else if (opt == 'n')
			calls = strtoul(optarg, NULL, 0);
		else
			ksft_exit_fail_msg("usage: %s [-s seed] [-n calls]\n", argv[0]);
	}
	if (!seed)
		seed = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16);
	rng = seed | 1;
	ksft_print_header();
	ksft_print_msg("seed %lu, %lu calls (replay: %s -s %lu -n %lu)\n", seed, calls, argv[0],
		       seed, calls);
	if (numa_available() < 0)
		ksft_exit_skip("NUMA is not available in this kernel\n");
	psize = sysconf(_SC_PAGESIZE);
	max_node = numa_max_node();
	for (n = 0; n <= max_node && nr_mem_nodes < 64; n++) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", n);
		if (numa_bitmask_isbitset(numa_all_nodes_ptr, n))
			nodes_with_mem[nr_mem_nodes++] = n;
		else if (!access(path, F_OK) && memoryless < 0)
			memoryless = n;
	}
	if (nr_mem_nodes < 2)
		ksft_exit_skip("needs two nodes with memory\n");
	ksft_set_plan(1);

	pages = mmap(NULL, NR_PAGES * psize, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	arrays = mmap(NULL, (ARRAY_PAGES + 1) * psize, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	hole = mmap(NULL, psize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	zero_page = mmap(NULL, 4 * psize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages == MAP_FAILED || arrays == MAP_FAILED || hole == MAP_FAILED ||
	    zero_page == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	munmap(hole, psize);
	mprotect(arrays + ARRAY_PAGES * psize, psize, PROT_NONE);
	for (n = 0; n < 4; n++)
		(void)__atomic_load_n(zero_page + n * psize, __ATOMIC_RELAXED);
	for (n = 0; n < NR_PAGES; n++)
		fill_page(n);

	/* Another process with pages of its own, for the pid arguments. */
	if (pipe(fd_pipe))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	child = fork();
	if (child < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (child == 0) {
		char c;

		close(fd_pipe[1]);
		memset(pages, 0x5a, NR_PAGES * psize);
		read(fd_pipe[0], &c, 1);	/* until the parent is done */
		_exit(0);
	}
	close(fd_pipe[0]);

	for (call_no = 1; call_no <= calls; call_no++) {
		if (one_call(why, sizeof(why), &dirty)) {
			ksft_print_msg("call %lu: %s: %s\n", call_no, last_call, why);
			break;
		}
		made++;
		bad = bad_page(call_no % 64 == 0, &word);
		if (!dirty && bad >= 0) {
			snprintf(why, sizeof(why), "page %ld word %zu lost its data", bad, word);
			ksft_print_msg("call %lu: %s: %s\n", call_no, last_call, why);
			break;
		}
		if (dirty)	/* an array was put in a page under test on purpose */
			for (n = 0; n < NR_PAGES; n++)
				fill_page(n);
		if (!pick(4))
			syscall(SYS_set_mempolicy, MPOL_DEFAULT, NULL, 0);
	}
	syscall(SYS_set_mempolicy, MPOL_DEFAULT, NULL, 0);
	close(fd_pipe[1]);
	waitpid(child, NULL, 0);
	bad = made == calls ? bad_page(1, &word) : -1;
	if (bad >= 0)
		ksft_print_msg("after all calls: page %ld word %zu lost its data\n", bad, word);
	ksft_print_msg("%lu calls made, seed %lu\n", made, seed);
	ksft_test_result(made == calls && bad < 0,
			 "fuzz: every call kept the documented contract and the data\n");
	ksft_finished();
}
