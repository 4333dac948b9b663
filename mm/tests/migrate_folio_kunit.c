// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for migrating mapped folios between NUMA nodes without swap:
 * user memory in a KUnit mm (kunit_vm_mmap()), the kernel's own entry
 * points (isolate_folio_to_list(), migrate_pages() with a node-bound
 * allocation callback, try_to_migrate() and remove_migration_ptes() under
 * the folio lock), and checks of data, node, page tables and counts.
 *
 * Every case needs two nodes with memory and skips, saying so, otherwise.
 */

#include <kunit/test.h>
#include <linux/highmem.h>
#include <linux/huge_mm.h>
#include <linux/migrate.h>
#include <linux/migrate_debug.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/nodemask.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>
#include <linux/shmem_fs.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <linux/uaccess.h>
#include <asm/tlb.h>

#include "../internal.h"

#define MIGRATE_NR_PAGES	16

/* Per-test state: the two nodes and what the callback was asked for. */
struct migrate_test {
	int nid[2];
	unsigned int alloc_calls;
	/* Allocations the callback grants before it fails; < 0: no limit. */
	int alloc_limit;
	int target;
};

static struct migrate_test *migrate_ctx(struct kunit *test)
{
	return test->priv;
}

static int migrate_test_init(struct kunit *test)
{
	struct migrate_test *t;
	int n;

	if (num_node_state(N_MEMORY) < 2)
		kunit_skip(test, "Test requires: two nodes with memory");
	t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, t);
	n = first_node(node_states[N_MEMORY]);
	t->nid[0] = n;
	t->nid[1] = next_node(n, node_states[N_MEMORY]);
	t->alloc_limit = -1;
	test->priv = t;
	return 0;
}

/*
 * The node-bound allocation callback: the new folio comes from the target
 * node or not at all (__GFP_THISNODE), and a case can make it fail to
 * exercise the rollback.
 */
static struct folio *migrate_alloc_on_node(struct folio *src, unsigned long private)
{
	struct migrate_test *t = (struct migrate_test *)private;
	struct migration_target_control mtc = {
		.nid = t->target,
		.gfp_mask = GFP_HIGHUSER_MOVABLE | __GFP_THISNODE | __GFP_NOWARN,
		.reason = MR_SYSCALL,
	};

	if (t->alloc_limit >= 0 && t->alloc_calls >= t->alloc_limit)
		return NULL;
	t->alloc_calls++;
	return alloc_migration_target(src, (unsigned long)&mtc);
}

static unsigned long migrate_pattern(unsigned long page, unsigned long word, int round)
{
	return (page << 40) ^ ((unsigned long)round << 32) ^ word ^ 0x6d696772UL;
}

/* Write round @round's pattern to @nr pages at @addr (faulting them in). */
static void migrate_fill(struct kunit *test, unsigned long addr, int nr, int round)
{
	unsigned long *buf = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	unsigned long i, w;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (i = 0; i < nr; i++) {
		for (w = 0; w < PAGE_SIZE / sizeof(*buf); w++)
			buf[w] = migrate_pattern(i, w, round);
		KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)(addr + i * PAGE_SIZE),
						   buf, PAGE_SIZE), 0);
	}
	kunit_kfree(test, buf);
}

/* Every word of @nr pages at @addr holds round @round's pattern. */
static void migrate_expect_data(struct kunit *test, unsigned long addr, int nr, int round)
{
	unsigned long *buf = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	unsigned long i, w;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (i = 0; i < nr; i++) {
		KUNIT_ASSERT_EQ(test, copy_from_user(buf, (void __user *)(addr + i * PAGE_SIZE),
						     PAGE_SIZE), 0);
		for (w = 0; w < PAGE_SIZE / sizeof(*buf); w++) {
			if (buf[w] != migrate_pattern(i, w, round)) {
				KUNIT_FAIL(test, "page %lu word %lu: %#lx, expected %#lx, round %d",
					   i, w, buf[w], migrate_pattern(i, w, round), round);
				break;
			}
		}
	}
	kunit_kfree(test, buf);
}

/* The page mapped at @addr, with a reference the caller drops. */
static struct page *migrate_page_at(struct kunit *test, unsigned long addr, unsigned int gup)
{
	struct mm_struct *mm = current->mm;
	struct page *page;
	long n;

	mmap_read_lock(mm);
	n = get_user_pages(addr, 1, gup, &page);
	mmap_read_unlock(mm);
	KUNIT_ASSERT_EQ_MSG(test, n, 1, "get_user_pages(%#lx)", addr);
	return page;
}

/*
 * What maps @addr: a pte, or (for a PMD mapping or a PMD migration entry)
 * a pmd.  Read under the page table lock; the caller holds mmap_lock.
 */
struct migrate_map {
	bool none;
	bool pmd_level;
	pte_t pte;
	pmd_t pmd;
};

static struct migrate_map migrate_read_map(struct mm_struct *mm, unsigned long addr)
{
	struct migrate_map m = { .none = true };
	spinlock_t *ptl;	/* the pmd's, then the pte table's */
	pgd_t *pgd;
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd;
	pte_t *pte;

	pgd = pgd_offset(mm, addr);
	if (pgd_none(*pgd) || pgd_bad(*pgd))
		return m;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(*p4d) || p4d_bad(*p4d))
		return m;
	pud = pud_offset(p4d, addr);
	if (pud_none(*pud) || pud_bad(*pud))
		return m;
	pmd = pmd_offset(pud, addr);
	ptl = pmd_lock(mm, pmd);
	m.pmd = *pmd;
	spin_unlock(ptl);
	if (pmd_none(m.pmd))
		return m;
	if (!pmd_present(m.pmd) || pmd_trans_huge(m.pmd)) {
		m.none = false;
		m.pmd_level = true;
		return m;
	}
	pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
	if (!pte)
		return m;
	m.pte = ptep_get(pte);
	pte_unmap_unlock(pte, ptl);
	m.none = pte_none(m.pte);
	return m;
}

/* The page a present pte maps at @addr (no reference taken), or NULL. */
static struct page *migrate_mapped_page(struct mm_struct *mm, unsigned long addr, pte_t *pte)
{
	struct migrate_map m;

	mmap_read_lock(mm);
	m = migrate_read_map(mm, addr);
	mmap_read_unlock(mm);
	*pte = m.pte;
	if (m.none || m.pmd_level || !pte_present(m.pte))
		return NULL;
	return pfn_to_page(pte_pfn(m.pte));
}

/*
 * Every page in [addr, addr + nr pages) is mapped by a present pte or pmd:
 * no migration entry was left behind.  Asserted before any access, since
 * touching a leftover entry whose folio is unlocked would refault forever.
 */
static void migrate_assert_no_entries(struct kunit *test, unsigned long addr, int nr)
{
	struct mm_struct *mm = current->mm;
	struct migrate_map m = { .none = true };
	int i, bad = -1;

	mmap_read_lock(mm);
	for (i = 0; i < nr && bad < 0; i++) {
		m = migrate_read_map(mm, addr + i * PAGE_SIZE);
		if (m.none || (m.pmd_level ? !pmd_present(m.pmd) : !pte_present(m.pte)))
			bad = i;
	}
	mmap_read_unlock(mm);
	KUNIT_ASSERT_EQ_MSG(test, bad, -1, "page %d: %s %#lx left behind", bad,
			    m.pmd_level ? "pmd" : "pte",
			    m.pmd_level ? (unsigned long)pmd_val(m.pmd) :
					  (unsigned long)pte_val(m.pte));
}

/* Isolate @nr folios and migrate them to @nid; return migrate_pages()'s result. */
static int migrate_folios_to(struct kunit *test, struct folio **folios, int nr, int nid,
			     unsigned int *succeeded)
{
	struct migrate_test *t = migrate_ctx(test);
	LIST_HEAD(list);
	int i, rc;

	/* Freshly faulted folios may still sit in a per-CPU LRU batch. */
	lru_add_drain_all();
	for (i = 0; i < nr; i++) {
		if (!isolate_folio_to_list(folios[i], &list)) {
			putback_movable_pages(&list);
			KUNIT_FAIL_AND_ABORT(test, "cannot isolate folio %d (pfn %#lx)",
					     i, folio_pfn(folios[i]));
		}
	}
	t->target = nid;
	rc = migrate_pages(&list, migrate_alloc_on_node, NULL, (unsigned long)t,
			   MIGRATE_SYNC, MR_SYSCALL, succeeded);
	if (rc)
		putback_movable_pages(&list);
	return rc;
}

/* Look up the folios mapped at @nr consecutive pages and drop the references. */
static void migrate_lookup(struct kunit *test, unsigned long addr, int nr,
			   struct folio **folios, unsigned int gup)
{
	int i;

	for (i = 0; i < nr; i++) {
		folios[i] = page_folio(migrate_page_at(test, addr + i * PAGE_SIZE, gup));
		/* The mapping keeps it alive; holding a reference would block migration. */
		folio_put(folios[i]);
	}
}

static unsigned long migrate_mmap(struct kunit *test, struct file *file, unsigned long len,
				  unsigned long prot, unsigned long flags)
{
	unsigned long addr = kunit_vm_mmap(test, file, 0, len, prot, flags, 0);

	KUNIT_ASSERT_FALSE_MSG(test, !addr || IS_ERR_VALUE(addr), "vm_mmap: %ld", (long)addr);
	return addr;
}

KUNIT_DEFINE_ACTION_WRAPPER(migrate_fput, fput, struct file *);

static struct file *migrate_shmem_file(struct kunit *test, unsigned long len)
{
	struct file *file = shmem_file_setup("kunit-migration", len, VM_NORESERVE);

	KUNIT_ASSERT_FALSE(test, IS_ERR(file));
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, migrate_fput, file), 0);
	return file;
}

/*
 * Contract: private anonymous pages migrate without any swap.  After
 * migrate_pages() to the other node, round after round: every word of
 * every page is what was written, every page is on the target node, the
 * pte is present again with its write permission, soft-dirty bit and
 * PageAnonExclusive as before, the new folio has the refcount and mapcount
 * the old one had, and the old folio was freed (refcount 0).
 */
static void migrate_folio_anon(struct kunit *test)
{
	struct migrate_test *t = migrate_ctx(test);
	struct mm_struct *mm;
	struct folio *folios[MIGRATE_NR_PAGES];
	unsigned long addr, old_pfn[MIGRATE_NR_PAGES];
	int old_ref[MIGRATE_NR_PAGES], old_map[MIGRATE_NR_PAGES];
	pte_t pte[MIGRATE_NR_PAGES];
	int round, i;

	addr = migrate_mmap(test, NULL, MIGRATE_NR_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS);
	mm = current->mm;	/* attached by the first kunit_vm_mmap() */
	for (round = 0; round < 4; round++) {
		int nid = t->nid[round % 2 ? 0 : 1];
		unsigned int succeeded = 0;

		migrate_fill(test, addr, MIGRATE_NR_PAGES, round);
		/*
		 * A per-CPU LRU batch holds a reference of its own: empty them.
		 * Folios are found through the ptes, not GUP, whose accessed
		 * marking would queue them for activation (one more reference).
		 */
		lru_add_drain_all();
		for (i = 0; i < MIGRATE_NR_PAGES; i++) {
			struct page *page = migrate_mapped_page(mm, addr + i * PAGE_SIZE, &pte[i]);

			KUNIT_ASSERT_NOT_NULL_MSG(test, page, "page %d not mapped", i);
			KUNIT_ASSERT_TRUE(test, pte_write(pte[i]));
			KUNIT_ASSERT_TRUE(test, PageAnonExclusive(page));
			folios[i] = page_folio(page);
			old_pfn[i] = page_to_pfn(page);
			old_ref[i] = folio_ref_count(folios[i]);
			old_map[i] = folio_mapcount(folios[i]);
		}

		KUNIT_ASSERT_EQ_MSG(test, migrate_folios_to(test, folios, MIGRATE_NR_PAGES, nid,
							    &succeeded), 0, "round %d", round);
		KUNIT_EXPECT_EQ(test, succeeded, MIGRATE_NR_PAGES);
		migrate_assert_no_entries(test, addr, MIGRATE_NR_PAGES);
		lru_add_drain_all();

		for (i = 0; i < MIGRATE_NR_PAGES; i++) {
			pte_t new_pte;
			struct page *page = migrate_mapped_page(mm, addr + i * PAGE_SIZE, &new_pte);
			struct folio *folio;

			KUNIT_ASSERT_NOT_NULL_MSG(test, page, "page %d not mapped", i);
			folio = page_folio(page);
			KUNIT_EXPECT_EQ_MSG(test, folio_nid(folio), nid,
					    "round %d page %d", round, i);
			KUNIT_EXPECT_NE_MSG(test, page_to_pfn(page), old_pfn[i], "page %d", i);
			KUNIT_EXPECT_EQ_MSG(test, folio_ref_count(folio), old_ref[i], "page %d", i);
			KUNIT_EXPECT_EQ_MSG(test, folio_mapcount(folio), old_map[i], "page %d", i);
			KUNIT_EXPECT_TRUE_MSG(test, PageAnonExclusive(page), "page %d", i);
			/* Freed, unless reused since (then it is no longer our anon page). */
			KUNIT_EXPECT_TRUE_MSG(test, page_ref_count(pfn_to_page(old_pfn[i])) == 0 ||
					      !PageAnon(pfn_to_page(old_pfn[i])),
					      "old pfn %#lx of page %d not freed", old_pfn[i], i);
			KUNIT_EXPECT_TRUE_MSG(test, pte_write(new_pte),
					      "page %d lost its write bit", i);
			KUNIT_EXPECT_EQ_MSG(test, !!pte_soft_dirty(new_pte),
					    !!pte_soft_dirty(pte[i]), "page %d soft-dirty", i);
		}
		migrate_expect_data(test, addr, MIGRATE_NR_PAGES, round);
	}
}

/* How a case maps its page, and the migration entry that must stand in for it. */
struct migrate_unmap_case {
	const char *name;
	bool shmem;
	bool writable;
	/* FOLL_FORCE write to a read-only private mapping: exclusive anon, mapped read-only */
	bool force;
	unsigned int expect;	/* SWP_MIGRATION_* */
};

static const struct migrate_unmap_case migrate_unmap_cases[] = {
	{ "anon_writable", false, true, false, SWP_MIGRATION_WRITE },
	{ "anon_readonly_exclusive", false, false, true, SWP_MIGRATION_READ_EXCLUSIVE },
	{ "shmem_writable", true, true, false, SWP_MIGRATION_WRITE },
	{ "shmem_readonly", true, false, false, SWP_MIGRATION_READ },
};

static void migrate_unmap_case_desc(const struct migrate_unmap_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "mapping=%s", c->name);
}

KUNIT_ARRAY_PARAM(migrate_unmap, migrate_unmap_cases, migrate_unmap_case_desc);

/*
 * Map one page as @c describes; return its address and the locked-down
 * folio (no reference held).  Shmem pages get their pattern through the
 * page cache, anon pages through the mapping.
 */
static unsigned long migrate_map_case(struct kunit *test, const struct migrate_unmap_case *c,
				      unsigned long nr, struct folio **folios)
{
	unsigned long prot = PROT_READ | (c->writable ? PROT_WRITE : 0);
	struct file *file = NULL;
	unsigned long addr;
	unsigned long i;

	if (c->shmem)
		file = migrate_shmem_file(test, nr * PAGE_SIZE);
	addr = migrate_mmap(test, file, nr * PAGE_SIZE, prot,
			    c->shmem ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS);
	if (c->writable) {
		migrate_fill(test, addr, nr, 0);
		migrate_lookup(test, addr, nr, folios, 0);
		return addr;
	}
	for (i = 0; i < nr; i++) {
		struct page *page = migrate_page_at(test, addr + i * PAGE_SIZE,
						    c->force ? FOLL_WRITE | FOLL_FORCE : 0);
		unsigned long *p = kmap_local_page(page);
		unsigned long w;

		for (w = 0; w < PAGE_SIZE / sizeof(*p); w++)
			p[w] = migrate_pattern(i, w, 0);
		kunmap_local(p);
		folios[i] = page_folio(page);
		put_page(page);
	}
	return addr;
}

/*
 * Contract: while a folio is locked and unmapped for migration
 * (try_to_migrate()), every pte that mapped it holds a migration entry
 * pointing at the folio's own pfn, of the right kind: write only where the
 * pte was writable, read-exclusive for an exclusive anon page mapped
 * read-only, read for a shared file page; and the folio has no present
 * mapping left.  remove_migration_ptes(folio, folio) - the rollback -
 * restores present ptes with the same pfn, write bit and exclusivity.
 */
static void migrate_folio_unmapped_state(struct kunit *test)
{
	const struct migrate_unmap_case *c = test->param_value;
	struct mm_struct *mm;
	struct folio *folio;
	struct migrate_map m;
	unsigned long addr;
	swp_entry_t entry;
	bool exclusive;

	addr = migrate_map_case(test, c, 1, &folio);
	mm = current->mm;	/* attached by the first kunit_vm_mmap() */
	exclusive = folio_test_anon(folio) && PageAnonExclusive(&folio->page);
	KUNIT_EXPECT_EQ(test, exclusive, !c->shmem);

	/* Unmapping drops the mappings' references: hold one, as isolation would. */
	folio_get(folio);
	mmap_read_lock(mm);
	folio_lock(folio);
	try_to_migrate(folio, 0);
	m = migrate_read_map(mm, addr);
	KUNIT_EXPECT_FALSE(test, folio_mapped(folio));
	KUNIT_EXPECT_TRUE(test, !m.none && !m.pmd_level && is_swap_pte(m.pte));
	entry = pte_to_swp_entry(m.pte);
	KUNIT_EXPECT_TRUE(test, is_migration_entry(entry));
	KUNIT_EXPECT_EQ_MSG(test, swp_type(entry), c->expect, "entry %#lx", entry.val);
	if (is_migration_entry(entry))
		KUNIT_EXPECT_EQ(test, swp_offset_pfn(entry), folio_pfn(folio));

	remove_migration_ptes(folio, folio, 0);
	m = migrate_read_map(mm, addr);
	KUNIT_EXPECT_TRUE(test, folio_mapped(folio));
	KUNIT_EXPECT_TRUE(test, !m.none && !m.pmd_level && pte_present(m.pte));
	KUNIT_EXPECT_EQ(test, pte_pfn(m.pte), folio_pfn(folio));
	KUNIT_EXPECT_EQ(test, !!pte_write(m.pte), c->writable);
	KUNIT_EXPECT_EQ(test, folio_test_anon(folio) && PageAnonExclusive(&folio->page),
			exclusive);
	folio_unlock(folio);
	mmap_read_unlock(mm);
	folio_put(folio);
	migrate_assert_no_entries(test, addr, 1);
	migrate_expect_data(test, addr, 1, 0);
}

enum migrate_failure { MIGRATE_FAIL_EXTRA_REF, MIGRATE_FAIL_ALLOC };

static const enum migrate_failure migrate_failures[] = {
	MIGRATE_FAIL_EXTRA_REF, MIGRATE_FAIL_ALLOC,
};

static void migrate_failure_desc(const enum migrate_failure *f, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "failure=%s",
		 *f == MIGRATE_FAIL_EXTRA_REF ? "extra_reference" : "target_allocation");
}

KUNIT_ARRAY_PARAM(migrate_failure, migrate_failures, migrate_failure_desc);

/*
 * Contract: when migration cannot complete, the original mapping comes
 * back and nothing is left behind.  Two ways to fail:
 * - an unexpected reference pins one folio: after it is unmapped the move
 *   fails, is retried and given up; migrate_pages() returns 1, the other
 *   folios migrate, and the pinned one is mapped again at its old pfn on
 *   the source node through remove_migration_ptes(src, src);
 * - the target allocation fails after half the folios (the callback
 *   returns NULL): migrate_pages() returns -ENOMEM, exactly the granted
 *   half is on the target node and the rest where it was.
 * Either way no pte in the range holds a migration entry afterwards, the
 * data is intact and the pages are still writable.
 */
static void migrate_folio_rollback(struct kunit *test)
{
	const enum migrate_failure *f = test->param_value;
	struct migrate_test *t = migrate_ctx(test);
	struct folio *folios[MIGRATE_NR_PAGES];
	unsigned long addr, pfn[MIGRATE_NR_PAGES];
	unsigned int succeeded = 0;
	int i, rc, src_nid, dst_nid, on_dst = 0;

	addr = migrate_mmap(test, NULL, MIGRATE_NR_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS);
	migrate_fill(test, addr, MIGRATE_NR_PAGES, 0);
	/* Start from a known node: everything on nid[0]. */
	migrate_lookup(test, addr, MIGRATE_NR_PAGES, folios, 0);
	KUNIT_ASSERT_EQ(test, migrate_folios_to(test, folios, MIGRATE_NR_PAGES, t->nid[0], NULL),
			0);
	src_nid = t->nid[0];
	dst_nid = t->nid[1];

	migrate_lookup(test, addr, MIGRATE_NR_PAGES, folios, 0);
	for (i = 0; i < MIGRATE_NR_PAGES; i++)
		pfn[i] = folio_pfn(folios[i]);
	if (*f == MIGRATE_FAIL_EXTRA_REF)
		folio_get(folios[0]);
	else
		t->alloc_limit = MIGRATE_NR_PAGES / 2;

	t->alloc_calls = 0;
	rc = migrate_folios_to(test, folios, MIGRATE_NR_PAGES, dst_nid, &succeeded);
	if (*f == MIGRATE_FAIL_EXTRA_REF) {
		KUNIT_EXPECT_EQ(test, rc, 1);
		KUNIT_EXPECT_EQ(test, succeeded, MIGRATE_NR_PAGES - 1);
		KUNIT_EXPECT_EQ(test, folio_nid(folios[0]), src_nid);
		KUNIT_EXPECT_TRUE(test, folio_mapped(folios[0]));
		folio_put(folios[0]);
	} else {
		KUNIT_EXPECT_EQ(test, rc, -ENOMEM);
		KUNIT_EXPECT_EQ(test, succeeded, MIGRATE_NR_PAGES / 2);
		KUNIT_EXPECT_EQ(test, t->alloc_calls, MIGRATE_NR_PAGES / 2);
	}
	migrate_assert_no_entries(test, addr, MIGRATE_NR_PAGES);
	migrate_lookup(test, addr, MIGRATE_NR_PAGES, folios, 0);
	for (i = 0; i < MIGRATE_NR_PAGES; i++) {
		if (folio_nid(folios[i]) == dst_nid) {
			on_dst++;
			continue;
		}
		/* Not migrated: the very same folio, mapped again. */
		KUNIT_EXPECT_EQ_MSG(test, folio_pfn(folios[i]), pfn[i], "page %d", i);
		KUNIT_EXPECT_EQ_MSG(test, folio_nid(folios[i]), src_nid, "page %d", i);
	}
	KUNIT_EXPECT_EQ(test, on_dst, (int)succeeded);
	if (*f == MIGRATE_FAIL_EXTRA_REF)
		KUNIT_EXPECT_EQ(test, folio_pfn(folios[0]), pfn[0]);
	migrate_expect_data(test, addr, MIGRATE_NR_PAGES, 0);
	/* Still writable: a write after the rollback must not find a stale entry. */
	migrate_fill(test, addr, MIGRATE_NR_PAGES, 1);
	migrate_expect_data(test, addr, MIGRATE_NR_PAGES, 1);
}

/*
 * Contract: a shmem folio mapped at two addresses is found through the
 * i_mmap tree and both mappings are rewritten: after migration both ptes
 * point at the same new folio on the target node, and both addresses read
 * the data written through the first.
 */
static void migrate_folio_shmem_two_mappings(struct kunit *test)
{
	struct migrate_test *t = migrate_ctx(test);
	unsigned long len = MIGRATE_NR_PAGES * PAGE_SIZE;
	struct file *file = migrate_shmem_file(test, len);
	struct folio *folios[MIGRATE_NR_PAGES];
	unsigned long a, b;
	int round, i;

	a = migrate_mmap(test, file, len, PROT_READ | PROT_WRITE, MAP_SHARED);
	b = migrate_mmap(test, file, len, PROT_READ | PROT_WRITE, MAP_SHARED);
	KUNIT_ASSERT_NE(test, a, b);
	for (round = 0; round < 2; round++) {
		int nid = t->nid[round % 2 ? 0 : 1];

		migrate_fill(test, a, MIGRATE_NR_PAGES, round);
		migrate_expect_data(test, b, MIGRATE_NR_PAGES, round);
		migrate_lookup(test, a, MIGRATE_NR_PAGES, folios, 0);
		KUNIT_ASSERT_EQ(test, migrate_folios_to(test, folios, MIGRATE_NR_PAGES, nid, NULL),
				0);
		migrate_assert_no_entries(test, a, MIGRATE_NR_PAGES);
		migrate_assert_no_entries(test, b, MIGRATE_NR_PAGES);
		for (i = 0; i < MIGRATE_NR_PAGES; i++) {
			struct page *pa = migrate_page_at(test, a + i * PAGE_SIZE, 0);
			struct page *pb = migrate_page_at(test, b + i * PAGE_SIZE, 0);

			KUNIT_EXPECT_PTR_EQ_MSG(test, pa, pb, "page %d", i);
			KUNIT_EXPECT_EQ_MSG(test, page_to_nid(pa), nid, "page %d", i);
			KUNIT_EXPECT_EQ(test, folio_mapcount(page_folio(pa)), 2);
			put_page(pa);
			put_page(pb);
		}
		migrate_expect_data(test, a, MIGRATE_NR_PAGES, round);
		migrate_expect_data(test, b, MIGRATE_NR_PAGES, round);
	}
}

/* A PMD-aligned 2 MiB range inside a 4 MiB anonymous mapping, filled; or skip. */
static unsigned long migrate_thp_range(struct kunit *test, struct folio **thp)
{
	unsigned long addr, huge;
	struct migrate_map m;

	if (!IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE))
		kunit_skip(test, "Test requires: CONFIG_TRANSPARENT_HUGEPAGE");
	addr = migrate_mmap(test, NULL, 2 * HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS);
	huge = ALIGN(addr, HPAGE_PMD_SIZE);
	migrate_fill(test, huge, HPAGE_PMD_NR, 0);
	mmap_read_lock(current->mm);
	m = migrate_read_map(current->mm, huge);
	mmap_read_unlock(current->mm);
	if (!m.pmd_level || !pmd_trans_huge(m.pmd))
		kunit_skip(test, "no THP for the aligned range (disabled, or none free)");
	migrate_lookup(test, huge, 1, thp, 0);
	KUNIT_ASSERT_TRUE(test, folio_test_pmd_mappable(*thp));
	return huge;
}

/*
 * Contract: a PMD-mapped THP is unmapped as a unit - one PMD migration
 * entry (write, pointing at the head pfn) and no ptes - and migrates as a
 * unit: afterwards the range is PMD-mapped by a THP on the target node
 * with every byte intact.
 */
static void migrate_folio_thp_pmd(struct kunit *test)
{
	struct migrate_test *t = migrate_ctx(test);
	struct mm_struct *mm;
	struct folio *thp, *folio;
	struct migrate_map m;
	unsigned long huge;
	swp_entry_t entry;
	int nid;

	huge = migrate_thp_range(test, &thp);
	mm = current->mm;	/* attached by the first kunit_vm_mmap() */
	nid = folio_nid(thp) == t->nid[0] ? t->nid[1] : t->nid[0];

	folio_get(thp);		/* as isolation would: unmapping drops the mapping's */
	mmap_read_lock(mm);
	folio_lock(thp);
	try_to_migrate(thp, 0);
	m = migrate_read_map(mm, huge);
	KUNIT_EXPECT_FALSE(test, folio_mapped(thp));
	KUNIT_EXPECT_TRUE(test, m.pmd_level && is_pmd_migration_entry(m.pmd));
	entry = pmd_to_swp_entry(m.pmd);
	KUNIT_EXPECT_TRUE(test, is_writable_migration_entry(entry));
	if (is_migration_entry(entry))
		KUNIT_EXPECT_EQ(test, swp_offset_pfn(entry), folio_pfn(thp));
	remove_migration_ptes(thp, thp, 0);
	m = migrate_read_map(mm, huge);
	KUNIT_EXPECT_TRUE(test, m.pmd_level && pmd_trans_huge(m.pmd));
	folio_unlock(thp);
	mmap_read_unlock(mm);
	folio_put(thp);

	KUNIT_ASSERT_EQ(test, migrate_folios_to(test, &thp, 1, nid, NULL), 0);
	migrate_assert_no_entries(test, huge, HPAGE_PMD_NR);
	migrate_lookup(test, huge, 1, &folio, 0);
	KUNIT_EXPECT_NE(test, folio_pfn(folio), folio_pfn(thp));
	KUNIT_EXPECT_EQ(test, folio_nid(folio), nid);
	KUNIT_EXPECT_TRUE(test, folio_test_pmd_mappable(folio));
	mmap_read_lock(mm);
	m = migrate_read_map(mm, huge);
	mmap_read_unlock(mm);
	KUNIT_EXPECT_TRUE(test, m.pmd_level && pmd_trans_huge(m.pmd));
	migrate_expect_data(test, huge, HPAGE_PMD_NR, 0);
}

/*
 * Contract: a THP whose PMD was split (PTE-mapped THP) migrates with every
 * one of its HPAGE_PMD_NR ptes rewritten: each maps the matching subpage
 * of a folio on the target node, and the data is intact.
 */
static void migrate_folio_thp_pte_mapped(struct kunit *test)
{
	struct migrate_test *t = migrate_ctx(test);
	struct mm_struct *mm;
	struct vm_area_struct *vma;
	struct folio *thp;
	unsigned long huge, i;
	int nid;

	huge = migrate_thp_range(test, &thp);
	mm = current->mm;	/* attached by the first kunit_vm_mmap() */
	nid = folio_nid(thp) == t->nid[0] ? t->nid[1] : t->nid[0];
	mmap_write_lock(mm);
	vma = vma_lookup(mm, huge);
	if (vma)
		split_huge_pmd_address(vma, huge, false, NULL);
	mmap_write_unlock(mm);
	KUNIT_ASSERT_NOT_NULL(test, vma);
	KUNIT_ASSERT_TRUE(test, folio_test_large(thp));

	KUNIT_ASSERT_EQ(test, migrate_folios_to(test, &thp, 1, nid, NULL), 0);
	migrate_assert_no_entries(test, huge, HPAGE_PMD_NR);
	mmap_read_lock(mm);
	for (i = 0; i < HPAGE_PMD_NR; i++) {
		struct migrate_map m = migrate_read_map(mm, huge + i * PAGE_SIZE);

		KUNIT_EXPECT_TRUE_MSG(test, !m.none && !m.pmd_level && pte_present(m.pte),
				      "subpage %lu", i);
		if (m.none || m.pmd_level || !pte_present(m.pte))
			break;
		KUNIT_EXPECT_EQ_MSG(test, pfn_to_nid(pte_pfn(m.pte)), nid, "subpage %lu", i);
		KUNIT_EXPECT_TRUE_MSG(test, pte_pfn(m.pte) < folio_pfn(thp) ||
				      pte_pfn(m.pte) >= folio_pfn(thp) + HPAGE_PMD_NR,
				      "subpage %lu still maps the old THP", i);
	}
	mmap_read_unlock(mm);
	migrate_expect_data(test, huge, HPAGE_PMD_NR, 0);
}

/* mprotect() of the whole VMA at @addr, with or without write, as the syscall does it. */
static int migrate_mprotect(struct mm_struct *mm, unsigned long addr, bool writable)
{
	struct vm_area_struct *vma, *prev;
	struct vma_iterator vmi;
	struct mmu_gather tlb;
	unsigned long start, end;
	int err;

	mmap_assert_write_locked(mm);
	vma_iter_init(&vmi, mm, addr);
	vma = vma_find(&vmi, addr + 1);
	if (!vma)
		return -ENOMEM;
	start = vma->vm_start;
	end = vma->vm_end;
	prev = vma_prev(&vmi);
	vma = vma_find(&vmi, end);
	tlb_gather_mmu(&tlb, mm);
	err = mprotect_fixup(&vmi, &tlb, vma, &prev, start, end,
			     writable ? vma->vm_flags | VM_WRITE : vma->vm_flags & ~VM_WRITE);
	tlb_finish_mmu(&tlb);
	return err;
}

static const char * const migrate_levels[] = { "pte", "pmd" };

static void migrate_level_desc(const char * const *level, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "level=%s", *level);
}

KUNIT_ARRAY_PARAM(migrate_level, migrate_levels, migrate_level_desc);

/* The swap entry a pte- or pmd-level migrate_map holds (none if present). */
static swp_entry_t migrate_map_entry(const struct migrate_map *m)
{
	if (m->none)
		return (swp_entry_t){ 0 };
	if (m->pmd_level)
		return is_swap_pmd(m->pmd) ? pmd_to_swp_entry(m->pmd) : (swp_entry_t){ 0 };
	return is_swap_pte(m->pte) ? pte_to_swp_entry(m->pte) : (swp_entry_t){ 0 };
}

/*
 * Contract (mprotect's rule since swapless migration): change_protection()
 * to read-only turns a write migration entry into a read entry - read-exclusive for an
 * anon page - so that when remove_migration_ptes() restores the mapping,
 * it is not writable and the page still exclusive.  Both levels: a pte
 * entry (change_pte_range()) and the PMD entry of a THP
 * (change_huge_pmd()).
 */
static void migrate_folio_mprotect_entry(struct kunit *test)
{
	const char *level = *(const char * const *)test->param_value;
	bool pmd = !strcmp(level, "pmd");
	int nr = pmd ? HPAGE_PMD_NR : 1;
	struct mm_struct *mm;
	struct folio *folio;
	struct migrate_map m;
	unsigned long addr;
	swp_entry_t entry;
	bool mapped;

	if (pmd) {
		addr = migrate_thp_range(test, &folio);
	} else {
		addr = migrate_mmap(test, NULL, PAGE_SIZE, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS);
		migrate_fill(test, addr, 1, 0);
		migrate_lookup(test, addr, 1, &folio, 0);
	}
	mm = current->mm;	/* attached by the first kunit_vm_mmap() */

	folio_get(folio);	/* as isolation would: unmapping drops the mapping's */
	mmap_write_lock(mm);
	folio_lock(folio);
	try_to_migrate(folio, 0);
	m = migrate_read_map(mm, addr);
	entry = migrate_map_entry(&m);
	/* No assertions while holding locks: a failed one would leave them held. */
	KUNIT_EXPECT_EQ(test, m.pmd_level, pmd);
	KUNIT_EXPECT_TRUE(test, is_writable_migration_entry(entry));

	KUNIT_EXPECT_EQ(test, migrate_mprotect(mm, addr, false), 0);
	m = migrate_read_map(mm, addr);
	entry = migrate_map_entry(&m);
	KUNIT_EXPECT_EQ(test, m.pmd_level, pmd);
	KUNIT_EXPECT_TRUE(test, is_migration_entry(entry));
	KUNIT_EXPECT_FALSE_MSG(test, is_writable_migration_entry(entry),
			       "mprotect(PROT_READ) left a write %s entry", level);
	KUNIT_EXPECT_TRUE(test, is_readable_exclusive_migration_entry(entry));
	if (is_migration_entry(entry))
		KUNIT_EXPECT_EQ(test, swp_offset_pfn(entry), folio_pfn(folio));

	remove_migration_ptes(folio, folio, 0);
	m = migrate_read_map(mm, addr);
	mapped = !m.none && (pmd ? m.pmd_level && pmd_trans_huge(m.pmd) :
			     !m.pmd_level && pte_present(m.pte));
	KUNIT_EXPECT_TRUE(test, mapped);
	if (mapped)
		KUNIT_EXPECT_FALSE(test, pmd ? pmd_write(m.pmd) : pte_write(m.pte));
	KUNIT_EXPECT_TRUE(test, PageAnonExclusive(&folio->page));
	folio_unlock(folio);
	mmap_write_unlock(mm);
	folio_put(folio);
	migrate_assert_no_entries(test, addr, nr);
	migrate_expect_data(test, addr, nr, 0);
}

/*
 * Contract: where the entry format has room for them
 * (migration_entry_supports_ad()), a migration entry carries the pte's
 * young and dirty bits, and the restored pte has them back: a page just
 * written comes back young and dirty, a page that reclaim aged (young
 * bit cleared by folio_referenced()) comes back old - migration neither
 * hides a hot page from reclaim nor makes a cold one look hot.  Without
 * room, every restored pte is old and clean (the folio stays dirty), as
 * before migration entries could carry the bits.
 */
static void migrate_folio_young_dirty(struct kunit *test)
{
	struct migrate_test *t = migrate_ctx(test);
	bool ad = migration_entry_supports_ad();
	struct migrate_map m[2];
	struct folio *folios[2];
	unsigned long addr, vm_flags;
	struct mm_struct *mm;
	int i, nid;

	addr = migrate_mmap(test, NULL, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS);
	migrate_fill(test, addr, 2, 0);
	migrate_lookup(test, addr, 2, folios, 0);
	mm = current->mm;	/* attached by the first kunit_vm_mmap() */
	/* Age the second page as reclaim does; the first stays young. */
	KUNIT_ASSERT_EQ(test, folio_referenced(folios[1], false, NULL, &vm_flags), 1);
	nid = folio_nid(folios[0]) == t->nid[0] ? t->nid[1] : t->nid[0];
	KUNIT_ASSERT_EQ(test, migrate_folios_to(test, folios, 2, nid, NULL), 0);

	/* Read the ptes before anything touches the pages again. */
	mmap_read_lock(mm);
	for (i = 0; i < 2; i++)
		m[i] = migrate_read_map(mm, addr + i * PAGE_SIZE);
	mmap_read_unlock(mm);
	for (i = 0; i < 2; i++) {
		KUNIT_ASSERT_TRUE_MSG(test, !m[i].none && !m[i].pmd_level &&
				      pte_present(m[i].pte), "page %d not mapped", i);
		KUNIT_EXPECT_EQ_MSG(test, pfn_to_nid(pte_pfn(m[i].pte)), nid, "page %d", i);
	}
	kunit_info(test, "migration entries %s the young and dirty bits\n",
		   ad ? "carry" : "have no room for");
	KUNIT_EXPECT_EQ_MSG(test, !!pte_young(m[0].pte), ad,
			    "a page just written came back %s", ad ? "old" : "young");
	KUNIT_EXPECT_EQ_MSG(test, !!pte_dirty(m[0].pte), ad,
			    "a page just written came back %s", ad ? "clean" : "dirty");
	KUNIT_EXPECT_FALSE_MSG(test, pte_young(m[1].pte), "an aged page came back young");
	migrate_expect_data(test, addr, 2, 0);
}

/*
 * Contract of CONFIG_DEBUG_MIGRATION_ENTRIES, first check: the walk that
 * ends remove_migration_ptes() reports a migration entry still in place.
 * Run here before the restore, while the entry exists, it must report
 * exactly that entry; run by the restore itself, after it, nothing.
 */
static void migrate_folio_orphan_after_remove(struct kunit *test)
{
	struct migration_entry_report last = {};
	unsigned long before, checked, restored;
	struct mm_struct *mm;
	struct folio *folio;
	unsigned long addr;

	if (!IS_ENABLED(CONFIG_DEBUG_MIGRATION_ENTRIES))
		kunit_skip(test, "Test requires: CONFIG_DEBUG_MIGRATION_ENTRIES=y");
	addr = migrate_mmap(test, NULL, PAGE_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS);
	migrate_fill(test, addr, 1, 0);
	migrate_lookup(test, addr, 1, &folio, 0);
	mm = current->mm;	/* attached by the first kunit_vm_mmap() */

	folio_get(folio);	/* as isolation would: unmapping drops the mapping's */
	mmap_read_lock(mm);
	folio_lock(folio);
	try_to_migrate(folio, 0);
	before = migration_entry_reports();
	migration_entry_expect_reports(current, &last);
	migration_entry_check_orphans(folio, folio, false);
	checked = migration_entry_reports();
	remove_migration_ptes(folio, folio, 0);
	restored = migration_entry_reports();
	migration_entry_expect_reports(NULL, NULL);
	folio_unlock(folio);
	mmap_read_unlock(mm);
	folio_put(folio);

	KUNIT_EXPECT_EQ(test, checked - before, 1);
	KUNIT_EXPECT_EQ(test, last.addr, addr);
	KUNIT_EXPECT_TRUE(test, is_migration_entry(last.entry));
	if (is_migration_entry(last.entry))	/* else there is no pfn to decode */
		KUNIT_EXPECT_EQ(test, swp_offset_pfn(last.entry), folio_pfn(folio));
	KUNIT_EXPECT_EQ_MSG(test, restored, checked, "a report after a complete restore");
	migrate_assert_no_entries(test, addr, 1);
	migrate_expect_data(test, addr, 1, 0);
}

/*
 * Second check: a walker that meets a migration entry whose folio is not
 * locked reports it.  The orphan is made by unlocking the folio while its
 * (read) entry is in place; mprotect() then meets it.
 */
static void migrate_folio_orphan_met_by_mprotect(struct kunit *test)
{
	struct migration_entry_report last = {};
	unsigned long before, after;
	struct mm_struct *mm;
	struct folio *folio;
	unsigned long addr;
	int err;

	if (!IS_ENABLED(CONFIG_DEBUG_MIGRATION_ENTRIES))
		kunit_skip(test, "Test requires: CONFIG_DEBUG_MIGRATION_ENTRIES=y");
	addr = migrate_mmap(test, NULL, PAGE_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS);
	migrate_fill(test, addr, 1, 0);
	migrate_lookup(test, addr, 1, &folio, 0);
	mm = current->mm;	/* attached by the first kunit_vm_mmap() */

	folio_get(folio);
	mmap_write_lock(mm);
	/* A read entry: walkers only dereference the folio of a write entry. */
	err = migrate_mprotect(mm, addr, false);
	folio_lock(folio);
	try_to_migrate(folio, 0);
	folio_unlock(folio);
	before = migration_entry_reports();
	migration_entry_expect_reports(current, &last);
	if (!err)
		err = migrate_mprotect(mm, addr, true);
	migration_entry_expect_reports(NULL, NULL);
	after = migration_entry_reports();
	folio_lock(folio);
	remove_migration_ptes(folio, folio, 0);
	folio_unlock(folio);
	mmap_write_unlock(mm);
	folio_put(folio);

	KUNIT_EXPECT_EQ(test, err, 0);
	KUNIT_EXPECT_EQ(test, after - before, 1);
	KUNIT_EXPECT_EQ(test, last.addr, addr);
	KUNIT_EXPECT_STREQ(test, last.what ? last.what : "(none)", "mprotect");
	migrate_assert_no_entries(test, addr, 1);
	migrate_expect_data(test, addr, 1, 0);
}

static struct kunit_case migrate_folio_test_cases[] = {
	KUNIT_CASE(migrate_folio_anon),
	KUNIT_CASE_PARAM(migrate_folio_unmapped_state, migrate_unmap_gen_params),
	KUNIT_CASE_PARAM(migrate_folio_rollback, migrate_failure_gen_params),
	KUNIT_CASE(migrate_folio_shmem_two_mappings),
	KUNIT_CASE(migrate_folio_thp_pmd),
	KUNIT_CASE(migrate_folio_thp_pte_mapped),
	KUNIT_CASE_PARAM(migrate_folio_mprotect_entry, migrate_level_gen_params),
	KUNIT_CASE(migrate_folio_young_dirty),
	KUNIT_CASE(migrate_folio_orphan_after_remove),
	KUNIT_CASE(migrate_folio_orphan_met_by_mprotect),
	{}
};

static struct kunit_suite migrate_folio_test_suite = {
	.name = "migrate_folio",
	.init = migrate_test_init,
	.test_cases = migrate_folio_test_cases,
};

kunit_test_suite(migrate_folio_test_suite);

MODULE_DESCRIPTION("KUnit tests for migrating mapped folios between NUMA nodes");
MODULE_LICENSE("GPL");
