// SPDX-License-Identifier: GPL-2.0
/*
 * Orphaned migration entry checks (CONFIG_DEBUG_MIGRATION_ENTRIES).
 *
 * Two checks, each reporting with WARN_ONCE() and counting every report in
 * /sys/kernel/debug/migration_entry_reports:
 *
 * - after remove_migration_ptes() has restored a folio's mappings (on
 *   success and on rollback), the same reverse map is walked once more and
 *   any migration entry still naming the source folio is an orphan;
 * - mprotect, which changes a migration entry in place, reports one whose
 *   folio is not locked: an orphan.  Zap and fork need no such report:
 *   the pfn_swap_entry_folio() they call next already BUG()s on it (with a
 *   stack trace at the same place), while mprotect looks up the folio of
 *   a write entry only, and keeps an orphaned read entry without a word.
 *
 * Nothing is repaired: the report names the mm, address, vma flags, entry
 * and folio, and the entry stays for the caller to trip over, as it would
 * without the check.
 */

#include <linux/debugfs.h>
#include <linux/migrate_debug.h>
#include <linux/mm.h>
#include <linux/rmap.h>
#include <linux/sched.h>

static atomic_long_t reports;
/* A test that provokes reports: its task, and where the last one goes. */
static struct task_struct *expecting;
static struct migration_entry_report *expected_last;
static DEFINE_SPINLOCK(expect_lock);

static void report(struct vm_area_struct *vma, unsigned long addr, swp_entry_t entry,
		   const char *what)
{
	struct folio *folio = page_folio(pfn_to_page(swp_offset_pfn(entry)));
	unsigned long flags;
	bool quiet = false;

	atomic_long_inc(&reports);
	spin_lock_irqsave(&expect_lock, flags);
	if (expecting == current) {
		expected_last->addr = addr;
		expected_last->entry = entry;
		expected_last->what = what;
		quiet = true;
	}
	spin_unlock_irqrestore(&expect_lock, flags);
	if (quiet) {
		pr_info("migration entry %s at %#lx (expected by a test)\n", what, addr);
		return;
	}
	pr_err("migration entry %s: mm %p addr %#lx vm_flags %pGv entry %#lx pfn %#lx folio %p%s\n",
	       what, vma->vm_mm, addr, &vma->vm_flags, entry.val, swp_offset_pfn(entry),
	       folio, folio_test_locked(folio) ? " locked" : " not locked");
	WARN_ONCE(1, "orphaned migration entry (%s)", what);
}

/* The rmap_one of the second walk: an entry for @arg's pfns still here? */
static bool orphan_one(struct folio *dst, struct vm_area_struct *vma, unsigned long addr,
		       void *arg)
{
	struct folio *src = arg;
	DEFINE_FOLIO_VMA_WALK(pvmw, src, vma, addr, PVMW_SYNC | PVMW_MIGRATION);

	while (page_vma_mapped_walk(&pvmw)) {
		swp_entry_t entry;

		if (pvmw.pte)
			entry = pte_to_swp_entry(ptep_get(pvmw.pte));
		else
			entry = pmd_to_swp_entry(pmdp_get(pvmw.pmd));
		report(vma, pvmw.address, entry, "left by remove_migration_ptes()");
	}
	return true;
}

/**
 * migration_entry_check_orphans - report entries remove_migration_ptes() left
 * @src: the folio the migration entries name
 * @dst: the folio whose mappings were restored (@src itself on rollback)
 * @locked: the caller holds the rmap lock (RMP_LOCKED)
 *
 * Called at the end of remove_migration_ptes(), with @dst locked.  Walks
 * @dst's reverse map as remove_migration_ptes() did and reports every
 * migration entry for @src's pfns that is still there.
 */
void migration_entry_check_orphans(struct folio *src, struct folio *dst, bool locked)
{
	struct rmap_walk_control rwc = {
		.rmap_one = orphan_one,
		.arg = src,
	};

	if (locked)
		rmap_walk_locked(dst, &rwc);
	else
		rmap_walk(dst, &rwc);
}

void __migration_entry_check_walker(struct vm_area_struct *vma, unsigned long addr,
				    swp_entry_t entry, const char *walker)
{
	struct folio *folio = page_folio(pfn_to_page(swp_offset_pfn(entry)));

	/*
	 * As in swap_entry_migration_sync(): a split may turn the page into
	 * a folio of its own; pairs with the write barrier of the split, so
	 * that a locked folio is not seen as an unlocked one.
	 */
	smp_rmb();
	if (!folio_test_locked(folio))
		report(vma, addr, entry, walker);
}

/**
 * migration_entry_reports - the number of orphan reports since boot
 *
 * Return: every report counts, also those after the first WARN_ONCE().
 */
unsigned long migration_entry_reports(void)
{
	return atomic_long_read(&reports);
}

/**
 * migration_entry_expect_reports - let a test provoke reports quietly
 * @task: the task whose reports are expected (NULL: stop expecting)
 * @last: where to record the last report of @task
 *
 * A test that makes an orphan on purpose expects the report: it is counted
 * and recorded in @last, and printed without a warning.
 */
void migration_entry_expect_reports(struct task_struct *task,
				    struct migration_entry_report *last)
{
	unsigned long flags;

	spin_lock_irqsave(&expect_lock, flags);
	expecting = task;
	expected_last = last;
	spin_unlock_irqrestore(&expect_lock, flags);
}

static int reports_get(void *data, u64 *val)
{
	*val = migration_entry_reports();
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(reports_fops, reports_get, NULL, "%llu\n");

static int __init migration_entry_debug_init(void)
{
	debugfs_create_file_unsafe("migration_entry_reports", 0444, NULL, NULL, &reports_fops);
	return 0;
}
late_initcall(migration_entry_debug_init);
