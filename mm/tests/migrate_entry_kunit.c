// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the encoding of migration entries: the swap-type ptes
 * and pmds that stand in for a folio while mm/migrate.c copies it
 * (include/linux/swapops.h).
 *
 * An entry must give back exactly the pfn and the kind (read, read
 * exclusive, write) it was made with, after a trip through the
 * arch-specific pte or pmd format, whatever software bits the pte carries,
 * and must never be confused with the other kinds of swap-type entry.
 */

#include <kunit/test.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/swapops.h>

enum migrate_entry_kind {
	MIGRATE_ENTRY_READ,
	MIGRATE_ENTRY_READ_EXCLUSIVE,
	MIGRATE_ENTRY_WRITE,
};

static const char *const migrate_entry_kind_names[] = {
	[MIGRATE_ENTRY_READ] = "read",
	[MIGRATE_ENTRY_READ_EXCLUSIVE] = "read_exclusive",
	[MIGRATE_ENTRY_WRITE] = "write",
};

/* SWP_PFN_MASK is not a constant expression on every arch: resolved at run time. */
#define MIGRATE_ENTRY_PFN_MAX	(~0UL)

struct migrate_entry_case {
	enum migrate_entry_kind kind;
	const char *pfn_name;
	unsigned long pfn;
};

static const struct migrate_entry_case migrate_entry_cases[] = {
	{ MIGRATE_ENTRY_READ, "zero", 0 },
	{ MIGRATE_ENTRY_READ, "typical", 0x12345 },
	{ MIGRATE_ENTRY_READ, "max", MIGRATE_ENTRY_PFN_MAX },
	{ MIGRATE_ENTRY_READ_EXCLUSIVE, "zero", 0 },
	{ MIGRATE_ENTRY_READ_EXCLUSIVE, "typical", 0x12345 },
	{ MIGRATE_ENTRY_READ_EXCLUSIVE, "max", MIGRATE_ENTRY_PFN_MAX },
	{ MIGRATE_ENTRY_WRITE, "zero", 0 },
	{ MIGRATE_ENTRY_WRITE, "typical", 0x12345 },
	{ MIGRATE_ENTRY_WRITE, "max", MIGRATE_ENTRY_PFN_MAX },
};

static void migrate_entry_case_desc(const struct migrate_entry_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "kind=%s pfn=%s",
		 migrate_entry_kind_names[c->kind], c->pfn_name);
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

/* Exactly one kind predicate holds, the one @kind names. */
static void migrate_entry_expect_kind(struct kunit *test, swp_entry_t entry,
				      enum migrate_entry_kind kind)
{
	KUNIT_EXPECT_TRUE(test, is_migration_entry(entry));
	KUNIT_EXPECT_TRUE(test, is_pfn_swap_entry(entry));
	KUNIT_EXPECT_TRUE(test, non_swap_entry(entry));
	KUNIT_EXPECT_EQ(test, !!is_readable_migration_entry(entry),
			kind == MIGRATE_ENTRY_READ);
	KUNIT_EXPECT_EQ(test, !!is_readable_exclusive_migration_entry(entry),
			kind == MIGRATE_ENTRY_READ_EXCLUSIVE);
	KUNIT_EXPECT_EQ(test, !!is_writable_migration_entry(entry),
			kind == MIGRATE_ENTRY_WRITE);
}

/*
 * Contract: make_*_migration_entry(pfn) -> swp_entry_to_pte() ->
 * pte_to_swp_entry() gives back the same entry: the same pfn, and exactly
 * the kind predicate it was made with.  The pte is a swap pte: not none,
 * not present.  Example: a write entry for pfn 0x12345 reads back as pfn
 * 0x12345, writable, neither readable nor readable-exclusive; the largest
 * pfn is SWP_PFN_MASK (MAX_PHYSMEM_BITS - PAGE_SHIFT bits).
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
	KUNIT_EXPECT_EQ(test, swp_offset_pfn(back), pfn);
	migrate_entry_expect_kind(test, back, c->kind);
}

/*
 * Contract: the software bits of a swap pte (soft-dirty, uffd-wp,
 * exclusive) ride along with a migration entry: each survives, none
 * changes the entry that pte_to_swp_entry() decodes, and none appears
 * unless set.  Bits the config lacks are no-ops (IS_ENABLED below).
 */
static void migrate_entry_pte_swp_bits(struct kunit *test)
{
	const struct migrate_entry_case *c = test->param_value;
	unsigned long pfn = migrate_entry_case_pfn(c);
	swp_entry_t entry = migrate_entry_make(c->kind, pfn);
	pte_t plain = swp_entry_to_pte(entry);
	pte_t pte = plain;

	KUNIT_EXPECT_FALSE(test, pte_swp_soft_dirty(plain));
	KUNIT_EXPECT_FALSE(test, pte_swp_uffd_wp(plain));
	KUNIT_EXPECT_FALSE(test, pte_swp_exclusive(plain));

	pte = pte_swp_mksoft_dirty(pte);
	pte = pte_swp_mkuffd_wp(pte);
	pte = pte_swp_mkexclusive(pte);

	KUNIT_EXPECT_EQ(test, !!pte_swp_soft_dirty(pte), IS_ENABLED(CONFIG_MEM_SOFT_DIRTY));
	KUNIT_EXPECT_EQ(test, !!pte_swp_uffd_wp(pte),
			IS_ENABLED(CONFIG_HAVE_ARCH_USERFAULTFD_WP));
	KUNIT_EXPECT_TRUE(test, pte_swp_exclusive(pte));
	KUNIT_EXPECT_FALSE(test, pte_present(pte));
	KUNIT_EXPECT_EQ(test, pte_to_swp_entry(pte).val, entry.val);
	KUNIT_EXPECT_EQ(test, swp_offset_pfn(pte_to_swp_entry(pte)), pfn);
	migrate_entry_expect_kind(test, pte_to_swp_entry(pte), c->kind);

	/* And each comes off again without disturbing the others. */
	pte = pte_swp_clear_exclusive(pte);
	KUNIT_EXPECT_FALSE(test, pte_swp_exclusive(pte));
	KUNIT_EXPECT_EQ(test, !!pte_swp_soft_dirty(pte), IS_ENABLED(CONFIG_MEM_SOFT_DIRTY));
	pte = pte_swp_clear_flags(pte);
	KUNIT_EXPECT_EQ(test, pte_val(pte), pte_val(plain));
}

/*
 * Contract: where migration_entry_supports_ad(), the young and dirty bits
 * are kept in the offset above the pfn: setting one sets exactly that one
 * and leaves pfn and kind alone, through a pte round trip.  Where it is not
 * supported (CONFIG_SWAP=n, or too few offset bits), both helpers are
 * no-ops and both predicates read false: the entry is unchanged.
 */
static void migrate_entry_young_dirty(struct kunit *test)
{
	const struct migrate_entry_case *c = test->param_value;
	unsigned long pfn = migrate_entry_case_pfn(c);
	swp_entry_t entry = migrate_entry_make(c->kind, pfn);
	swp_entry_t young = make_migration_entry_young(entry);
	swp_entry_t both = make_migration_entry_dirty(young);
	swp_entry_t back = pte_to_swp_entry(swp_entry_to_pte(both));
	bool ad = migration_entry_supports_ad();

	kunit_info(test, "migration_entry_supports_ad() = %d", ad);
	KUNIT_EXPECT_FALSE(test, is_migration_entry_young(entry));
	KUNIT_EXPECT_FALSE(test, is_migration_entry_dirty(entry));
	KUNIT_EXPECT_EQ(test, is_migration_entry_young(young), ad);
	KUNIT_EXPECT_FALSE(test, is_migration_entry_dirty(young));
	KUNIT_EXPECT_EQ(test, is_migration_entry_young(back), ad);
	KUNIT_EXPECT_EQ(test, is_migration_entry_dirty(back), ad);
	KUNIT_EXPECT_EQ(test, swp_offset_pfn(back), pfn);
	migrate_entry_expect_kind(test, back, c->kind);
	if (!ad)
		KUNIT_EXPECT_EQ(test, back.val, entry.val);
	if (IS_ENABLED(CONFIG_SWAP) && ad)
		KUNIT_EXPECT_GE(test, (int)SWP_TYPE_SHIFT, (int)SWP_MIG_TOTAL_BITS);
}

/*
 * Contract: with THP migration, the same entries round-trip through the
 * pmd format (swp_entry_to_pmd() -> pmd_to_swp_entry()), the pmd is not
 * present and is_pmd_migration_entry() holds; soft-dirty survives there
 * too.  Without CONFIG_ARCH_ENABLE_THP_MIGRATION there is no pmd form.
 */
static void migrate_entry_pmd_round_trip(struct kunit *test)
{
	const struct migrate_entry_case *c = test->param_value;
	unsigned long pfn = migrate_entry_case_pfn(c);
	swp_entry_t entry = migrate_entry_make(c->kind, pfn);
	pmd_t pmd;

	if (!IS_ENABLED(CONFIG_ARCH_ENABLE_THP_MIGRATION))
		kunit_skip(test, "Test requires: CONFIG_ARCH_ENABLE_THP_MIGRATION");

	pmd = swp_entry_to_pmd(entry);
	KUNIT_EXPECT_FALSE(test, pmd_present(pmd));
	KUNIT_EXPECT_TRUE(test, is_pmd_migration_entry(pmd));
	KUNIT_EXPECT_EQ(test, pmd_to_swp_entry(pmd).val, entry.val);
	migrate_entry_expect_kind(test, pmd_to_swp_entry(pmd), c->kind);

	pmd = pmd_swp_mksoft_dirty(pmd);
	KUNIT_EXPECT_EQ(test, !!pmd_swp_soft_dirty(pmd), IS_ENABLED(CONFIG_MEM_SOFT_DIRTY));
	KUNIT_EXPECT_TRUE(test, is_pmd_migration_entry(pmd));
	KUNIT_EXPECT_EQ(test, swp_offset_pfn(pmd_to_swp_entry(pmd)), pfn);
}

/* Entries of other kinds, built by a function so each case can use a page. */
struct migrate_entry_other {
	const char *name;
	swp_entry_t (*make)(struct page *page);
	bool pfn_entry;		/* carries a pfn (is_pfn_swap_entry) */
};

static swp_entry_t migrate_entry_swap_first(struct page *page)
{
	return swp_entry(0, 0x12345);
}

static swp_entry_t migrate_entry_swap_last(struct page *page)
{
	return swp_entry(MAX_SWAPFILES - 1, SWP_OFFSET_MASK);
}

static swp_entry_t migrate_entry_hwpoison(struct page *page)
{
	swp_entry_t entry;

	/* make_hwpoison_entry() insists on a locked page; nothing else is done to it. */
	lock_page(page);
	entry = make_hwpoison_entry(page);
	unlock_page(page);
	return entry;
}

static swp_entry_t migrate_entry_marker(struct page *page)
{
	return make_pte_marker_entry(PTE_MARKER_UFFD_WP);
}

static swp_entry_t migrate_entry_poisoned(struct page *page)
{
	return make_poisoned_swp_entry();
}

static swp_entry_t migrate_entry_device_private(struct page *page)
{
	return make_writable_device_private_entry(page_to_pfn(page));
}

static swp_entry_t migrate_entry_device_exclusive(struct page *page)
{
	return make_writable_device_exclusive_entry(page_to_pfn(page));
}

static const struct migrate_entry_other migrate_entry_others[] = {
	{ "swap_type_0", migrate_entry_swap_first, false },
	{ "swap_type_last", migrate_entry_swap_last, false },
	{ "hwpoison", migrate_entry_hwpoison, IS_ENABLED(CONFIG_MEMORY_FAILURE) },
	{ "pte_marker_uffd_wp", migrate_entry_marker, false },
	{ "pte_marker_poisoned", migrate_entry_poisoned, false },
	{ "device_private", migrate_entry_device_private, IS_ENABLED(CONFIG_DEVICE_PRIVATE) },
	{ "device_exclusive", migrate_entry_device_exclusive, IS_ENABLED(CONFIG_DEVICE_PRIVATE) },
};

static void migrate_entry_other_desc(const struct migrate_entry_other *o, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "other=%s", o->name);
}

KUNIT_ARRAY_PARAM(migrate_entry_other, migrate_entry_others, migrate_entry_other_desc);

/*
 * Contract: a swap entry of any other kind - an ordinary swap slot (type 0
 * and the last type), hwpoison, a pte marker, device private/exclusive - is
 * never a migration entry of any kind, in pte or pmd form.  Kinds the
 * config lacks are built by stubs and must be no migration entry either.
 */
static void migrate_entry_other_kinds(struct kunit *test)
{
	const struct migrate_entry_other *o = test->param_value;
	struct page *page = alloc_page(GFP_KERNEL);
	swp_entry_t entry;
	pte_t pte;

	KUNIT_ASSERT_NOT_NULL(test, page);
	entry = o->make(page);
	pte = swp_entry_to_pte(entry);
	kunit_info(test, "%s: type %u offset %#lx", o->name, swp_type(entry), swp_offset(entry));

	KUNIT_EXPECT_FALSE(test, is_migration_entry(entry));
	KUNIT_EXPECT_FALSE(test, is_writable_migration_entry(entry));
	KUNIT_EXPECT_FALSE(test, is_readable_migration_entry(entry));
	KUNIT_EXPECT_FALSE(test, is_readable_exclusive_migration_entry(entry));
	KUNIT_EXPECT_FALSE(test, is_migration_entry(pte_to_swp_entry(pte)));
	KUNIT_EXPECT_EQ(test, is_pfn_swap_entry(entry), o->pfn_entry);
	if (o->pfn_entry)
		KUNIT_EXPECT_EQ(test, swp_offset_pfn(entry), page_to_pfn(page));
	if (IS_ENABLED(CONFIG_ARCH_ENABLE_THP_MIGRATION))
		KUNIT_EXPECT_FALSE(test, is_pmd_migration_entry(swp_entry_to_pmd(entry)));
	__free_page(page);
}

/*
 * Contract: the migration types are reserved above every swap file type:
 * MAX_SWAPFILES <= each migration type < 2^MAX_SWAPFILES_SHIFT, the three
 * are distinct, and no swap type below MAX_SWAPFILES decodes as migration.
 * That swapon() hands out no type past MAX_SWAPFILES is the swapon_limit
 * selftest's to show; this case checks the layout it relies on.
 */
static void migrate_entry_types_reserved(struct kunit *test)
{
	unsigned int types[] = { SWP_MIGRATION_READ, SWP_MIGRATION_READ_EXCLUSIVE,
				 SWP_MIGRATION_WRITE };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		KUNIT_EXPECT_GE(test, types[i], (unsigned int)MAX_SWAPFILES);
		KUNIT_EXPECT_LT(test, types[i], 1U << MAX_SWAPFILES_SHIFT);
	}
	KUNIT_EXPECT_NE(test, types[0], types[1]);
	KUNIT_EXPECT_NE(test, types[1], types[2]);
	KUNIT_EXPECT_NE(test, types[0], types[2]);
	for (i = 0; i < MAX_SWAPFILES; i++)
		KUNIT_EXPECT_FALSE_MSG(test, is_migration_entry(swp_entry(i, 1)),
				       "swap type %u", i);
}

static struct kunit_case migrate_entry_test_cases[] = {
	KUNIT_CASE_PARAM(migrate_entry_pte_round_trip, migrate_entry_gen_params),
	KUNIT_CASE_PARAM(migrate_entry_pte_swp_bits, migrate_entry_gen_params),
	KUNIT_CASE_PARAM(migrate_entry_young_dirty, migrate_entry_gen_params),
	KUNIT_CASE_PARAM(migrate_entry_pmd_round_trip, migrate_entry_gen_params),
	KUNIT_CASE_PARAM(migrate_entry_other_kinds, migrate_entry_other_gen_params),
	KUNIT_CASE(migrate_entry_types_reserved),
	{}
};

static struct kunit_suite migrate_entry_test_suite = {
	.name = "migrate_entry",
	.test_cases = migrate_entry_test_cases,
};

kunit_test_suite(migrate_entry_test_suite);

MODULE_DESCRIPTION("KUnit tests for the encoding of page migration entries");
MODULE_LICENSE("GPL");
