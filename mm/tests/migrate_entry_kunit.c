// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for migration entries: the swap-type ptes that stand in for
 * a page while mm/migrate.c copies it (include/linux/swapops.h).
 *
 * An entry must give back exactly the pfn and the kind (read, read
 * exclusive, write) it was made with, after a trip through the
 * arch-specific pte format, and must never be confused with the other
 * kinds of swap-type entry.
 */

#include <kunit/test.h>
#include <linux/mm.h>
#include <linux/swap.h>
#include <linux/swapops.h>

enum migrate_entry_kind {
	MIGRATE_ENTRY_READ,
	MIGRATE_ENTRY_READ_EXCLUSIVE,
	MIGRATE_ENTRY_WRITE,
};

struct migrate_entry_case {
	enum migrate_entry_kind kind;
	const char *kind_name;
	/* Which pfn: 0, a typical one, or the largest the entry encodes. */
	const char *pfn_name;
	unsigned long pfn;
};

/* SWP_PFN_MASK is not a constant expression on every arch: fill in at run time. */
#define MIGRATE_ENTRY_PFN_MAX	(~0UL)

#define MIGRATE_ENTRY_CASES(kind, name)					\
	{ kind, name, "zero", 0 },					\
	{ kind, name, "typical", 0x12345 },				\
	{ kind, name, "max", MIGRATE_ENTRY_PFN_MAX }

static const struct migrate_entry_case migrate_entry_cases[] = {
	MIGRATE_ENTRY_CASES(MIGRATE_ENTRY_READ, "read"),
	MIGRATE_ENTRY_CASES(MIGRATE_ENTRY_READ_EXCLUSIVE, "read_exclusive"),
	MIGRATE_ENTRY_CASES(MIGRATE_ENTRY_WRITE, "write"),
};

static void migrate_entry_case_desc(const struct migrate_entry_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "kind=%s pfn=%s", c->kind_name, c->pfn_name);
}

KUNIT_ARRAY_PARAM(migrate_entry, migrate_entry_cases, migrate_entry_case_desc);

static unsigned long migrate_entry_case_pfn(const struct migrate_entry_case *c)
{
	return c->pfn == MIGRATE_ENTRY_PFN_MAX ? SWP_PFN_MASK : c->pfn;
}

static swp_entry_t migrate_entry_make(enum migrate_entry_kind kind, unsigned long pfn)
{
	switch (kind) {
	case MIGRATE_ENTRY_READ:
		return make_readable_migration_entry(pfn);
	case MIGRATE_ENTRY_READ_EXCLUSIVE:
		return make_readable_exclusive_migration_entry(pfn);
	case MIGRATE_ENTRY_WRITE:
	default:
		return make_writable_migration_entry(pfn);
	}
}

/*
 * Contract: make_*_migration_entry(pfn) -> swp_entry_to_pte() ->
 * pte_to_swp_entry() gives back an entry with the same pfn, for which
 * is_migration_entry() holds and exactly one kind predicate holds: the one
 * it was made with.  The pte is a swap pte (not none, not present).
 * Example: a write entry for pfn 0x12345 reads back as pfn 0x12345,
 * writable, neither readable nor readable-exclusive.
 */
static void migrate_entry_pte_round_trip(struct kunit *test)
{
	const struct migrate_entry_case *c = test->param_value;
	unsigned long pfn = migrate_entry_case_pfn(c);
	swp_entry_t entry = migrate_entry_make(c->kind, pfn);
	pte_t pte = swp_entry_to_pte(entry);
	swp_entry_t back;

	KUNIT_EXPECT_FALSE(test, pte_none(pte));
	KUNIT_EXPECT_FALSE(test, pte_present(pte));
	KUNIT_EXPECT_TRUE(test, is_swap_pte(pte));

	back = pte_to_swp_entry(pte);
	KUNIT_EXPECT_EQ(test, back.val, entry.val);
	KUNIT_EXPECT_TRUE(test, is_migration_entry(back));
	KUNIT_EXPECT_TRUE(test, is_pfn_swap_entry(back));
	KUNIT_EXPECT_TRUE(test, non_swap_entry(back));
	KUNIT_EXPECT_EQ(test, swp_offset_pfn(back), pfn);

	KUNIT_EXPECT_EQ(test, !!is_readable_migration_entry(back),
			c->kind == MIGRATE_ENTRY_READ);
	KUNIT_EXPECT_EQ(test, !!is_readable_exclusive_migration_entry(back),
			c->kind == MIGRATE_ENTRY_READ_EXCLUSIVE);
	KUNIT_EXPECT_EQ(test, !!is_writable_migration_entry(back),
			c->kind == MIGRATE_ENTRY_WRITE);
}

/*
 * Contract: an ordinary swap entry (type below MAX_SWAPFILES, any offset)
 * is never a migration entry, and a migration entry is never an ordinary
 * swap entry.  Example: swp_entry(0, 0x12345) has type 0, offset 0x12345,
 * and is_migration_entry() is false.
 */
static void migrate_entry_not_swap(struct kunit *test)
{
	swp_entry_t swap = swp_entry(0, 0x12345);
	swp_entry_t last = swp_entry(MAX_SWAPFILES - 1, SWP_PFN_MASK);

	KUNIT_EXPECT_EQ(test, swp_type(swap), 0U);
	KUNIT_EXPECT_EQ(test, swp_offset(swap), 0x12345UL);
	KUNIT_EXPECT_FALSE(test, is_migration_entry(swap));
	KUNIT_EXPECT_FALSE(test, is_migration_entry(last));
	KUNIT_EXPECT_FALSE(test, non_swap_entry(last));
	KUNIT_EXPECT_TRUE(test, non_swap_entry(make_writable_migration_entry(0)));
}

static struct kunit_case migrate_entry_test_cases[] = {
	KUNIT_CASE_PARAM(migrate_entry_pte_round_trip, migrate_entry_gen_params),
	KUNIT_CASE(migrate_entry_not_swap),
	{}
};

static struct kunit_suite migrate_entry_test_suite = {
	.name = "migrate_entry",
	.test_cases = migrate_entry_test_cases,
};
kunit_test_suite(migrate_entry_test_suite);

MODULE_DESCRIPTION("KUnit tests for page migration entries");
MODULE_LICENSE("GPL");
