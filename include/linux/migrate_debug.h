/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Debug checks for migration entries (CONFIG_DEBUG_MIGRATION_ENTRIES).
 *
 * A migration entry must live exactly as long as the migration of its
 * folio: installed by try_to_migrate() under the folio lock, replaced by
 * remove_migration_ptes() before the folio is unlocked.  An entry that
 * outlives it - an orphan - makes every later access wait on a folio that
 * is no longer being migrated, and crashes far from its cause.  These
 * checks report an orphan where it is made or first met.
 */
#ifndef _LINUX_MIGRATE_DEBUG_H
#define _LINUX_MIGRATE_DEBUG_H

#include <linux/mm_types.h>
#include <linux/swap.h>
#include <linux/swapops.h>

struct task_struct;

/* What the last report said: for tests that provoke reports on purpose. */
struct migration_entry_report {
	unsigned long addr;
	swp_entry_t entry;
	const char *what;
};

#ifdef CONFIG_DEBUG_MIGRATION_ENTRIES

void migration_entry_check_orphans(struct folio *src, struct folio *dst, bool locked);
void __migration_entry_check_walker(struct vm_area_struct *vma, unsigned long addr,
				    swp_entry_t entry, const char *walker);
unsigned long migration_entry_reports(void);
void migration_entry_expect_reports(struct task_struct *task,
				    struct migration_entry_report *last);

#else /* !CONFIG_DEBUG_MIGRATION_ENTRIES */

static inline void migration_entry_check_orphans(struct folio *src, struct folio *dst,
						 bool locked)
{
}

static inline void __migration_entry_check_walker(struct vm_area_struct *vma,
						  unsigned long addr, swp_entry_t entry,
						  const char *walker)
{
}

static inline unsigned long migration_entry_reports(void)
{
	return 0;
}

static inline void migration_entry_expect_reports(struct task_struct *task,
						  struct migration_entry_report *last)
{
}

#endif /* CONFIG_DEBUG_MIGRATION_ENTRIES */

/**
 * migration_entry_check_walker - report a migration entry whose folio is unlocked
 * @vma: the vma in which the entry was found
 * @addr: the user address of the entry
 * @entry: the swap entry found there (any kind; only migration entries are checked)
 * @walker: who met it ("mprotect")
 *
 * A page table walker that does not migrate may meet a migration entry, but
 * only while its folio is locked by the migration in progress.  An unlocked
 * folio means the entry is an orphan.  Zap and fork do not need this: the
 * pfn_swap_entry_folio() they call already BUG()s on an unlocked folio.
 */
static inline void migration_entry_check_walker(struct vm_area_struct *vma,
						unsigned long addr, swp_entry_t entry,
						const char *walker)
{
	if (IS_ENABLED(CONFIG_DEBUG_MIGRATION_ENTRIES) && is_migration_entry(entry))
		__migration_entry_check_walker(vma, addr, entry, walker);
}

#endif /* _LINUX_MIGRATE_DEBUG_H */
