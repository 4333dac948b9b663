// SPDX-License-Identifier: GPL-2.0
/*
 * The state a pte carries besides the pfn must survive migration: the
 * migration entry keeps it while the page is copied and the new pte gets
 * it back.  Checked through /proc/self/pagemap, page by page, after every
 * move, with the bit set on the even pages and clear on the odd ones (so
 * that neither "always set" nor "always clear" passes):
 *
 * - soft-dirty (bit 55): pages written since clear_refs stay soft-dirty,
 *   the others stay clean - CRIU and live migration depend on it;
 * - uffd-wp (bit 57): pages write-protected through userfaultfd stay
 *   protected, the others stay writable-tracked.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <numa.h>
#include <numaif.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "migration_util.h"

#define NR_PAGES	16
#define NR_ROUNDS	4
#define PM_SOFT_DIRTY	55
#define PM_UFFD_WP	57

FIXTURE(bits)
{
	size_t psize;
	char *mem;
	int node[2];
	void *pages[NR_PAGES];
	int pagemap;
	int uffd;
};

FIXTURE_SETUP(bits)
{
	int i;

	self->pagemap = -1;
	self->uffd = -1;
	if (numa_available() < 0)
		SKIP(return, "NUMA is not available in this kernel");
	if (memory_nodes(&self->node[0], &self->node[1]))
		SKIP(return, "needs two nodes with memory");
	self->psize = sysconf(_SC_PAGESIZE);
	self->mem = mmap(NULL, NR_PAGES * self->psize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->mem, MAP_FAILED);
	ASSERT_EQ(madvise(self->mem, NR_PAGES * self->psize, MADV_NOHUGEPAGE), 0);
	fill(self->mem, NR_PAGES, self->psize, 0);
	for (i = 0; i < NR_PAGES; i++)
		self->pages[i] = self->mem + i * self->psize;
	self->pagemap = open("/proc/self/pagemap", O_RDONLY);
	ASSERT_GE(self->pagemap, 0);
}

FIXTURE_TEARDOWN(bits)
{
	if (self->uffd >= 0)
		close(self->uffd);
	if (self->pagemap >= 0)
		close(self->pagemap);
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, NR_PAGES * self->psize);
}

/* Bit @bit of page @i's pagemap entry: 0 or 1, or -1 when unreadable. */
static int pagemap_bit(int fd, const char *mem, size_t psize, int i, int bit)
{
	uint64_t e;
	off_t off = ((uintptr_t)mem / psize + i) * sizeof(e);

	if (pread(fd, &e, sizeof(e), off) != sizeof(e))
		return -1;
	return (e >> bit) & 1;
}

/*
 * Move all pages to the other node @NR_ROUNDS times; after each move,
 * check node, data, and that bit @bit is set on the even pages only.
 */
static void move_and_check_bit(struct __test_metadata *_metadata, int pagemap, char *mem,
			       size_t psize, void **pages, const int node[2], int bit,
			       const char *name)
{
	int nodes[NR_PAGES], status[NR_PAGES], round, i;
	size_t word = 0;
	uint64_t got = 0;

	for (round = 1; round <= NR_ROUNDS; round++) {
		int target = node[round % 2];

		for (i = 0; i < NR_PAGES; i++)
			nodes[i] = target;
		ASSERT_EQ(move_pages(0, NR_PAGES, pages, nodes, status, MPOL_MF_MOVE), 0)
			TH_LOG("round %d: %s", round, strerror(errno));
		for (i = 0; i < NR_PAGES; i++) {
			ASSERT_EQ(status[i], target)
				TH_LOG("round %d: page %d status %d", round, i, status[i]);
			ASSERT_EQ(pagemap_bit(pagemap, mem, psize, i, bit), i % 2 == 0)
				TH_LOG("round %d: page %d on node %d: %s bit %s after the move",
				       round, i, target, name, i % 2 ? "set" : "lost");
		}
		ASSERT_EQ(first_bad(mem, NR_PAGES, psize, 0, &word, &got), -1)
			TH_LOG("round %d: word %zu is %#llx", round, word, (unsigned long long)got);
	}
}

static int clear_soft_dirty(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, "4", 1) == 1;
	close(fd);
	return ok ? 0 : -1;
}

TEST_F(bits, soft_dirty)
{
	int i;

	if (clear_soft_dirty())
		SKIP(return, "cannot clear soft-dirty bits (CONFIG_MEM_SOFT_DIRTY=n?)");
	for (i = 0; i < NR_PAGES; i++)
		ASSERT_EQ(pagemap_bit(self->pagemap, self->mem, self->psize, i,
				      PM_SOFT_DIRTY), 0)
			TH_LOG("page %d soft-dirty right after clear_refs", i);
	/* Write the even pages (the same value back): soft-dirty again. */
	for (i = 0; i < NR_PAGES; i += 2)
		__atomic_store_n((uint64_t *)self->pages[i], pattern(i, 0, 0), __ATOMIC_RELAXED);
	for (i = 0; i < NR_PAGES; i++)
		ASSERT_EQ(pagemap_bit(self->pagemap, self->mem, self->psize, i,
				      PM_SOFT_DIRTY), i % 2 == 0)
			TH_LOG("page %d: soft-dirty does not follow the writes", i);
	move_and_check_bit(_metadata, self->pagemap, self->mem, self->psize, self->pages,
			   self->node, PM_SOFT_DIRTY, "soft-dirty");
}

TEST_F(bits, uffd_wp)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)self->mem, .len = NR_PAGES * self->psize },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	int i;

	self->uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (self->uffd < 0)
		SKIP(return, "no userfaultfd: %s", strerror(errno));
	ASSERT_EQ(ioctl(self->uffd, UFFDIO_API, &api), 0);
	if (ioctl(self->uffd, UFFDIO_REGISTER, &reg))
		SKIP(return, "cannot register for write-protect: %s", strerror(errno));
	for (i = 0; i < NR_PAGES; i += 2) {
		struct uffdio_writeprotect wp = {
			.range = { .start = (uintptr_t)self->pages[i], .len = self->psize },
			.mode = UFFDIO_WRITEPROTECT_MODE_WP,
		};

		ASSERT_EQ(ioctl(self->uffd, UFFDIO_WRITEPROTECT, &wp), 0)
			TH_LOG("write-protect page %d: %s", i, strerror(errno));
	}
	for (i = 0; i < NR_PAGES; i++)
		ASSERT_EQ(pagemap_bit(self->pagemap, self->mem, self->psize, i, PM_UFFD_WP),
			  i % 2 == 0)
			TH_LOG("page %d: uffd-wp bit before any move", i);
	move_and_check_bit(_metadata, self->pagemap, self->mem, self->psize, self->pages,
			   self->node, PM_UFFD_WP, "uffd-wp");
}

TEST_HARNESS_MAIN
