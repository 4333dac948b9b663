// SPDX-License-Identifier: GPL-2.0
/*
 * move_pages(2) benchmark for the migration lab.
 *
 * Run in a guest under -icount shift=0,sleep=off with one vCPU, where the
 * guest's CLOCK_MONOTONIC counts instructions: each line is deterministic
 * and comparable between two kernels booted the same way.  Every pattern
 * moves (or queries) NR_PAGES pages from a fresh mapping; only the
 * move_pages() calls are timed, and afterwards every word of every page
 * and the node of every page are checked: a fast wrong answer is a failure.
 *
 * Output, one line per pattern and run (parsed by lab/bench.py):
 *   bench: pattern=<name> run=<n> pages=<n> calls=<n> ns=<n> ok=<0|1> inexact=<n>
 *          migrated=<n> thp_moved=<n> thp_split=<n>
 * where inexact counts status[] entries that were not the page's final
 * node (THP tail pages reported -EBUSY by 6.12 although they moved), and
 * the last three are the /proc/vmstat deltas of pgmigrate_success,
 * thp_migration_success and thp_migration_split over the timed calls: they
 * tell whether a THP moved whole or was split and moved as base pages.
 *
 * With --events (a guest with several vCPUs, no -icount), each pattern
 * runs once more, untimed, with a thread of the process spinning on every
 * other CPU, so that each TLB flush of the process's mm must reach them;
 * the tracepoints count the migrate_pages() rounds (migrate:mm_migrate_pages)
 * and the remote TLB flushes sent (tlb:tlb_flush, reason
 * TLB_REMOTE_SEND_IPI):
 *   bench: events pattern=<name> pages=<n> rounds=<n> remote_flushes=<n> ok=<0|1>
 *
 * With --profile (a kernel with CONFIG_FUNCTION_PROFILER, under -icount),
 * each pattern runs once with the ftrace function profiler on around the
 * timed calls, graph-time and sleep-time off: each function's time is its
 * own, children and time scheduled out excluded, in guest ns (= guest
 * instructions).  The profiler's cost is
 * in the numbers, so they are shares, not the timed figures:
 *   bench: profile pattern=<name> func=<symbol> hits=<n> ns=<n>
 * for the functions that took the most (PROFILE_TOP of them).
 *
 * In the default mode, on a kernel with the function profiler, each pattern
 * runs a third time with the profiler on folio_mc_copy() alone (the copy
 * of a migrated folio's data, everything it calls included): the copy's
 * share of the calls, measured, so that the rest - the bookkeeping - is
 * the timed figure minus it:
 *   bench: copy pattern=<name> pages=<n> migrated=<n> hits=<n> ns=<n> total=<n> ok=<0|1>
 * where total is the calls' time in that run: what it has over the timed
 * run is the profiler's own cost (lab/bench.py takes it off the copy).
 *
 * With --sweep (-icount, one to eight vCPUs, all but the mover's idle),
 * SWEEP_PAGES fresh pages are moved in calls of 1, 8 and 64 pages: the
 * cost of a call as CPUs are added, and the cross-CPU interrupts it sends
 * (/proc/interrupts' CAL and TLB rows, summed over the CPUs):
 *   bench: sweep cpus=<n> run=<n> pages_per_call=<n> calls=<n> ns=<n> call_ipis=<n>
 *          tlb_ipis=<n> ok=<0|1>
 *
 * With --scale (-icount, one vCPU, nodes big enough for 1 GiB), the per-page
 * cost as the call grows - all_to_one over 1 Ki to 256 Ki pages in one
 * call - and as mappings are added - SHARE_PAGES pages that 1 to 32
 * processes map (forked, copy-on-write), moved with MPOL_MF_MOVE_ALL; each
 * child checks its own data and nodes afterwards:
 *   bench: size pages=<n> run=<n> ns=<n> migrated=<n> ok=<0|1>
 *   bench: share procs=<n> run=<n> pages=<n> ns=<n> migrated=<n> ok=<0|1>
 * and the smallest and the largest call once more under the function
 * profiler, printed as --profile prints a pattern named size_<pages>.
 *
 * With --latency (-icount, one vCPU), all_to_one, alternating, half_placed,
 * thp_listed and one_per_call run once more with the tracepoints of the
 * migration entries on (set_migration_pte/pmd, remove_migration_pte/pmd):
 * from the trace, how long each page stayed behind its entry - the longest
 * a fault on it could have waited:
 *   bench: latency pattern=<name> pages=<n> migrated=<n> entries=<n> max_us=<n>
 *          sum_us=<n> ok=<0|1>
 * ok only if the data and nodes are right and every moved page (a THP
 * moved whole: its PMD) had exactly one entry, set once and removed once.
 * The trace's clock has microseconds.
 *
 * Usage: move_pages_bench [--events|--profile|--sweep|--scale|--latency] [pattern...]
 * (default: all patterns)
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NR_PAGES	8192
#define RUNS		2
#define HUGE_SIZE	(2UL << 20)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define TRACING		"/sys/kernel/tracing/"
#define TLB_REMOTE_SEND_IPI	4	/* enum tlb_flush_reason */
#define PROFILE_TOP	60
#define SCALE_PROFILE_TOP	250	/* enough that a missing function is negligible */
#define COPY_FUNCTION	"folio_mc_copy"

static size_t psize;
static int node_a, node_b;	/* the CPU's node, and the other one */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t word_of(size_t page, size_t word)
{
	return ((uint64_t)page << 32) ^ word ^ 0x62656e6368ULL;
}

static void fill(char *mem, size_t nr)
{
	size_t p, w;

	for (p = 0; p < nr; p++)
		for (w = 0; w < psize / 8; w++)
			((uint64_t *)(mem + p * psize))[w] = word_of(p, w);
}

/* The first page whose data is wrong, or -1. */
static long check_data(const char *mem, size_t nr)
{
	size_t p, w;

	for (p = 0; p < nr; p++)
		for (w = 0; w < psize / 8; w++)
			if (((const uint64_t *)(mem + p * psize))[w] != word_of(p, w))
				return p;
	return -1;
}

struct run {
	const char *name;
	char *map, *mem;
	size_t map_len;
	void **pages;
	int *nodes;	/* the target of each page */
	int *status;
	long calls;
	uint64_t ns;
	int ok;
	long inexact;
	long migrated, thp_moved, thp_split;	/* /proc/vmstat deltas */
};

/* Fresh arrays for one pattern run; -1 when they cannot be had. */
static int run_init(struct run *r)
{
	memset(r, 0, sizeof(*r));
	r->pages = calloc(NR_PAGES, sizeof(void *));
	r->nodes = calloc(NR_PAGES, sizeof(int));
	r->status = calloc(NR_PAGES, sizeof(int));
	return r->pages && r->nodes && r->status ? 0 : -1;
}

static void run_free(struct run *r)
{
	free(r->pages);
	free(r->nodes);
	free(r->status);
}

static const char * const vmstat_names[] = {
	"pgmigrate_success", "thp_migration_success", "thp_migration_split",
};

/* The counters of vmstat_names[] now; a missing one reads as 0. */
static void read_vmstat(long *val)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char name[64];
	long v;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vmstat_names); i++)
		val[i] = 0;
	if (!f)
		return;
	while (fscanf(f, "%63s %ld", name, &v) == 2)
		for (i = 0; i < ARRAY_SIZE(vmstat_names); i++)
			if (!strcmp(name, vmstat_names[i]))
				val[i] = v;
	fclose(f);
}

static char *map_pages(struct run *r, int thp)
{
	size_t len = NR_PAGES * psize;

	r->map_len = thp ? len + HUGE_SIZE : len;
	r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->map == MAP_FAILED)
		return NULL;
	r->mem = r->map;
	if (thp) {
		r->mem = (char *)(((uintptr_t)r->map + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1));
		madvise(r->mem, len, MADV_HUGEPAGE);
	} else {
		madvise(r->mem, len, MADV_NOHUGEPAGE);
	}
	fill(r->mem, NR_PAGES);
	return r->mem;
}

/* Untimed: put page i on @where(i) (all pages start where the CPU is). */
static int place(struct run *r, int (*where)(size_t))
{
	size_t i;

	for (i = 0; i < NR_PAGES; i++)
		r->nodes[i] = where(i);
	return move_pages(0, NR_PAGES, r->pages, r->nodes, r->status, MPOL_MF_MOVE) ? -1 : 0;
}

static int on_a(size_t i) { return node_a; }
static int on_b(size_t i) { return node_b; }
static int even_a_odd_b(size_t i) { return i % 2 ? node_b : node_a; }
static int even_b_odd_a(size_t i) { return i % 2 ? node_a : node_b; }

/* Where every page is now must be its target; status[] tells how exact it was. */
static void verify(struct run *r, int query_only)
{
	int *where = calloc(NR_PAGES, sizeof(int));
	size_t i;

	r->ok = where && check_data(r->mem, NR_PAGES) < 0 &&
		move_pages(0, NR_PAGES, r->pages, NULL, where, 0) == 0;
	for (i = 0; r->ok && i < NR_PAGES; i++) {
		if (where[i] != r->nodes[i])
			r->ok = 0;
		else if (!query_only && r->status[i] != r->nodes[i])
			r->inexact++;
		else if (query_only && r->status[i] != where[i])
			r->ok = 0;
	}
	free(where);
}

static int counting;	/* --events: count the timed calls' events */
static int lifetimes_on;	/* --latency: the entry events around the timed calls */
static int profiling;	/* --profile: the function profiler around them */
static int trace_events(int on);
static int entry_tracing(int on);
static int write_str(const char *file, const char *text);

static int do_pattern(const char *name, struct run *r)
{
	int thp = !strcmp(name, "thp_listed"), query = !strcmp(name, "query");
	long before[ARRAY_SIZE(vmstat_names)], after[ARRAY_SIZE(vmstat_names)];
	uint64_t t0;
	long rc = 0;
	size_t i;

	if (!map_pages(r, thp))
		return -1;
	for (i = 0; i < NR_PAGES; i++)
		r->pages[i] = r->mem + i * psize;
	/*
	 * Placement (untimed), then the targets of the timed calls:
	 * alternating - pages alternate between the nodes and every one
	 * moves to the other; half_placed - the even pages are already on
	 * the target; query - the nodes the pages must be reported on.
	 */
	if (place(r, !strcmp(name, "alternating") ? even_a_odd_b :
		     !strcmp(name, "half_placed") ? even_b_odd_a : on_a))
		return -1;
	for (i = 0; i < NR_PAGES; i++)
		r->nodes[i] = !strcmp(name, "alternating") ? even_b_odd_a(i) :
			      query ? on_a(i) : on_b(i);

	if (counting && trace_events(1)) {
		fprintf(stderr, "bench: cannot enable the tracepoints in " TRACING "\n");
		munmap(r->map, r->map_len);
		return -1;
	}
	if (lifetimes_on && entry_tracing(1)) {
		fprintf(stderr, "bench: cannot enable the migration entry tracepoints\n");
		munmap(r->map, r->map_len);
		return -1;
	}
	if (profiling && write_str(TRACING "function_profile_enabled", "1")) {
		fprintf(stderr, "bench: cannot start the function profiler\n");
		munmap(r->map, r->map_len);
		return -1;
	}
	read_vmstat(before);
	t0 = now_ns();
	if (!strcmp(name, "one_per_call")) {
		for (i = 0; i < NR_PAGES && rc >= 0; i++, r->calls++)
			rc = move_pages(0, 1, &r->pages[i], &r->nodes[i], &r->status[i],
					MPOL_MF_MOVE);
	} else {
		rc = move_pages(0, NR_PAGES, r->pages, query ? NULL : r->nodes, r->status,
				query ? 0 : MPOL_MF_MOVE);
		r->calls = 1;
	}
	r->ns = now_ns() - t0;
	read_vmstat(after);
	if (profiling)
		write_str(TRACING "function_profile_enabled", "0");
	r->migrated = after[0] - before[0];
	r->thp_moved = after[1] - before[1];
	r->thp_split = after[2] - before[2];
	if (counting)
		trace_events(0);
	if (lifetimes_on)
		entry_tracing(0);
	if (rc < 0)
		fprintf(stderr, "bench: %s: move_pages: %s\n", name, strerror(errno));
	verify(r, query);
	if (rc < 0)
		r->ok = 0;
	munmap(r->map, r->map_len);
	return 0;
}

/* The copy floor: memcpy of the same amount from node A to node B. */
static int do_memcpy(struct run *r)
{
	size_t len = NR_PAGES * psize;
	unsigned long to = 1UL << node_b;
	char *src = map_pages(r, 0), *dst;
	uint64_t t0;

	if (!src)
		return -1;
	dst = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dst == MAP_FAILED || mbind(dst, len, MPOL_BIND, &to, sizeof(to) * 8, 0))
		return -1;
	memset(dst, 0, len);	/* fault it in on node B, untimed */
	t0 = now_ns();
	memcpy(dst, src, len);
	r->ns = now_ns() - t0;
	r->calls = 0;
	r->ok = check_data(dst, NR_PAGES) < 0;
	munmap(dst, len);
	munmap(r->map, r->map_len);
	return 0;
}

/* ---- --events: rounds and remote TLB flushes, counted by tracepoints ---- */

static atomic_int spin_stop;

static int write_str(const char *file, const char *text)
{
	int fd = open(file, O_WRONLY | O_TRUNC);
	ssize_t n = -1;

	if (fd >= 0) {
		n = write(fd, text, strlen(text));
		close(fd);
	}
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A thread of this process on @cpu, running in user space until told to stop. */
static void *spinner(void *arg)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET((int)(intptr_t)arg, &set);
	sched_setaffinity(0, sizeof(set), &set);
	while (!atomic_load(&spin_stop))
		;
	return NULL;
}

/*
 * Turn the tracepoints @events ("<system>/<event>") on, with an empty
 * buffer, or off.
 */
static int trace_set(const char * const *events, size_t n, int on)
{
	char file[128];
	size_t i;
	int err = 0;

	if (on && (write_str(TRACING "buffer_size_kb", "16384") || write_str(TRACING "trace", "")))
		return -1;
	for (i = 0; i < n; i++) {
		snprintf(file, sizeof(file), TRACING "events/%s/enable", events[i]);
		err |= write_str(file, on ? "1" : "0");
	}
	if (on)
		return err ? -1 : write_str(TRACING "tracing_on", "1");
	return write_str(TRACING "tracing_on", "0") | err;
}

/* Whether @line is the trace's header line that counts lost events. */
static int trace_lost(const char *line)
{
	const char *colon = strchr(line, ':');
	long in = 0, written = 0;

	return line[0] == '#' && strstr(line, "entries-in-buffer") && colon &&
	       sscanf(colon + 1, "%ld/%ld", &in, &written) == 2 && in != written;
}

static const char * const round_events[] = {
	"tlb/tlb_flush", "migrate/mm_migrate_pages",
};

static int trace_events(int on)
{
	char filter[64];

	snprintf(filter, sizeof(filter), "reason == %d", TLB_REMOTE_SEND_IPI);
	if (on && write_str(TRACING "events/tlb/tlb_flush/filter", filter))
		return -1;
	return trace_set(round_events, ARRAY_SIZE(round_events), on);
}

/* Count the trace lines of each event; -1 when the buffer overflowed. */
static int count_events(long *rounds, long *flushes)
{
	FILE *f = fopen(TRACING "trace", "r");
	char line[512];
	int err = 0;

	*rounds = *flushes = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#') {
			err |= trace_lost(line) ? -1 : 0;
			continue;
		}
		*rounds += !!strstr(line, "mm_migrate_pages:");
		*flushes += !!strstr(line, "tlb_flush:");
	}
	fclose(f);
	return err;
}

static const char * const patterns[] = {
	"all_to_one", "alternating", "half_placed", "thp_listed", "one_per_call", "query",
	"memcpy",
};

static int selected(int argc, char **argv, const char *name)
{
	int i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], name))
			return 1;
	return argc <= 1;
}

/* --events: each pattern once, untimed, with a spinning thread on every other CPU. */
static int events_main(int argc, char **argv)
{
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN), rounds, flushes;
	pthread_t threads[64];
	int n, i, failed = 0;
	struct run r;

	if (ncpus < 2) {
		fprintf(stderr, "bench: --events needs more than one CPU\n");
		return 2;
	}
	if (ncpus > 64)
		ncpus = 64;
	for (i = 1; i < ncpus; i++)
		if (pthread_create(&threads[i], NULL, spinner, (void *)(intptr_t)i)) {
			fprintf(stderr, "bench: pthread_create: %s\n", strerror(errno));
			return 2;
		}
	printf("bench: events start pages=%d node_a=%d node_b=%d cpus=%ld\n", NR_PAGES,
	       node_a, node_b, ncpus);
	counting = 1;
	for (n = 0; n < (int)ARRAY_SIZE(patterns); n++) {
		if (!strcmp(patterns[n], "memcpy") || !selected(argc, argv, patterns[n]))
			continue;
		rounds = -1;
		flushes = -1;
		if (run_init(&r) || do_pattern(patterns[n], &r) ||
		    count_events(&rounds, &flushes))
			r.ok = 0;
		printf("bench: events pattern=%s pages=%d rounds=%ld remote_flushes=%ld ok=%d\n",
		       patterns[n], NR_PAGES, rounds, flushes, r.ok);
		fflush(stdout);
		failed += !r.ok;
		run_free(&r);
	}
	atomic_store(&spin_stop, 1);
	for (i = 1; i < ncpus; i++)
		pthread_join(threads[i], NULL);
	printf("bench: done failed=%d\n", failed);
	return failed ? 1 : 0;
}

/* ---- --profile: where the instructions of the timed calls go ---- */

struct fn {
	char name[96];
	long hits;
	unsigned long long ns;
};

static int by_ns(const void *a, const void *b)
{
	const struct fn *x = a, *y = b;

	return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : 0;
}

/*
 * The profiler prints a time as microseconds and at most three digits of
 * nanoseconds, cut (not rounded) to keep seven digits: "12.345", "1234.5",
 * "1234567".
 */
static unsigned long long parse_us(const char *text)
{
	unsigned long long ns = strtoull(text, NULL, 10) * 1000;
	const char *dot = strchr(text, '.');
	unsigned long long scale = 100;

	for (dot = dot ? dot + 1 : NULL; dot && *dot >= '0' && *dot <= '9'; dot++) {
		ns += (*dot - '0') * scale;
		scale /= 10;
	}
	return ns;
}

/* Parse trace_stat/function0: "  name  hits  time us  avg us  s^2 us". */
static int print_profile(const char *pattern, size_t top)
{
	FILE *f = fopen(TRACING "trace_stat/function0", "r");
	struct fn *fns = NULL, *grown;
	size_t n = 0, cap = 0, i;
	char line[512], name[96], time[32];
	long hits;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %95s %ld %31s", name, &hits, time) != 3 ||
		    time[0] < '0' || time[0] > '9')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			grown = realloc(fns, cap * sizeof(*fns));
			if (!grown) {
				free(fns);
				fclose(f);
				return -1;
			}
			fns = grown;
		}
		snprintf(fns[n].name, sizeof(fns[n].name), "%s", name);
		fns[n].hits = hits;
		fns[n].ns = parse_us(time);
		n++;
	}
	fclose(f);
	qsort(fns, n, sizeof(*fns), by_ns);
	for (i = 0; i < n && i < top; i++)
		printf("bench: profile pattern=%s func=%s hits=%ld ns=%llu\n", pattern,
		       fns[i].name, fns[i].hits, fns[i].ns);
	free(fns);
	return n ? 0 : -1;
}

static int profile_main(int argc, char **argv)
{
	int n, failed = 0;
	struct run r;

	if (write_str(TRACING "options/graph-time", "0") ||
	    write_str(TRACING "options/sleep-time", "0") ||
	    write_str(TRACING "function_profile_enabled", "0")) {
		fprintf(stderr, "bench: --profile needs CONFIG_FUNCTION_PROFILER and the "
			"function_graph tracer\n");
		return 2;
	}
	printf("bench: profile start pages=%d node_a=%d node_b=%d\n", NR_PAGES, node_a,
	       node_b);
	profiling = 1;
	for (n = 0; n < (int)ARRAY_SIZE(patterns); n++) {
		if (!strcmp(patterns[n], "memcpy") || !selected(argc, argv, patterns[n]))
			continue;
		if (run_init(&r) || do_pattern(patterns[n], &r) ||
		    print_profile(patterns[n], PROFILE_TOP))
			r.ok = 0;
		printf("bench: profile pattern=%s pages=%d migrated=%ld ns=%llu ok=%d\n",
		       patterns[n], NR_PAGES, r.migrated, (unsigned long long)r.ns, r.ok);
		fflush(stdout);
		failed += !r.ok;
		run_free(&r);
	}
	printf("bench: done failed=%d\n", failed);
	return failed ? 1 : 0;
}

/* ---- --sweep: calls of a few pages as CPUs are added ---- */

#define SWEEP_PAGES	512

static const int sweep_sizes[] = { 1, 8, 64 };

/* The sum over the CPUs of /proc/interrupts' row @row ("CAL", "TLB"), or -1. */
static long irq_count(const char *row)
{
	FILE *f = fopen("/proc/interrupts", "r");
	size_t len = strlen(row);
	char line[4096], *p, *end;
	long sum = -1, v;

	if (!f)
		return -1;
	while (sum < 0 && fgets(line, sizeof(line), f)) {
		for (p = line; *p == ' '; p++)
			;
		if (strncmp(p, row, len) || p[len] != ':')
			continue;
		/* The per-CPU counts, then the row's description. */
		for (sum = 0, p += len + 1; (v = strtol(p, &end, 10)), end != p; p = end)
			sum += v;
	}
	fclose(f);
	return sum;
}

/* One size: SWEEP_PAGES pages from node_a to node_b in calls of @size. */
static int sweep_size(long ncpus, int run, int size)
{
	int calls = SWEEP_PAGES / size, ok = 1, c, i;
	size_t len = SWEEP_PAGES * psize;
	int nodes[SWEEP_PAGES], status[SWEEP_PAGES], where[SWEEP_PAGES];
	long cal0, tlb0, cal1, tlb1;
	void *pages[SWEEP_PAGES];
	uint64_t t0, ns;
	char *mem;

	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	madvise(mem, len, MADV_NOHUGEPAGE);
	fill(mem, SWEEP_PAGES);
	for (i = 0; i < SWEEP_PAGES; i++) {
		pages[i] = mem + i * psize;
		nodes[i] = node_b;
		status[i] = -1000;
	}
	cal0 = irq_count("CAL");
	tlb0 = irq_count("TLB");
	t0 = now_ns();
	for (c = 0; c < calls && ok; c++)
		ok = !move_pages(0, size, pages + c * size, nodes + c * size, status + c * size,
				 MPOL_MF_MOVE);
	ns = now_ns() - t0;
	cal1 = irq_count("CAL");
	tlb1 = irq_count("TLB");
	if (move_pages(0, SWEEP_PAGES, pages, NULL, where, 0))
		ok = 0;
	for (i = 0; i < SWEEP_PAGES; i++)
		if (where[i] != node_b || status[i] != node_b)
			ok = 0;
	if (check_data(mem, SWEEP_PAGES) >= 0 || cal0 < 0 || tlb0 < 0)
		ok = 0;
	printf("bench: sweep cpus=%ld run=%d pages_per_call=%d calls=%d ns=%llu call_ipis=%ld "
	       "tlb_ipis=%ld ok=%d\n", ncpus, run, size, calls, (unsigned long long)ns,
	       cal1 - cal0, tlb1 - tlb0, ok);
	fflush(stdout);
	munmap(mem, len);
	return !ok;
}

static int sweep_main(void)
{
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	int run, failed = 0;
	size_t s;

	printf("bench: sweep start pages=%d node_a=%d node_b=%d cpus=%ld\n", SWEEP_PAGES,
	       node_a, node_b, ncpus);
	for (s = 0; s < ARRAY_SIZE(sweep_sizes); s++)
		for (run = 1; run <= RUNS; run++)
			failed += sweep_size(ncpus, run, sweep_sizes[s]);
	printf("bench: done failed=%d\n", failed);
	return failed ? 1 : 0;
}

/* ---- --scale: the per-page cost as calls grow and as mappings are added ---- */

static const int scale_sizes[] = { 1024, 8192, 65536, 262144 };
static const int share_procs[] = { 1, 2, 8, 32 };
#define SHARE_PAGES	1024

/* @nr pages, mapped and filled on node_a, with arrays asking for node_b. */
struct scale {
	size_t nr, len;
	char *mem;
	void **pages;
	int *nodes, *status, *where;
};

static int scale_init(struct scale *s, size_t nr)
{
	size_t i;

	memset(s, 0, sizeof(*s));
	s->nr = nr;
	s->len = nr * psize;
	s->mem = mmap(NULL, s->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	s->pages = calloc(nr, sizeof(void *));
	s->nodes = calloc(nr, sizeof(int));
	s->status = calloc(nr, sizeof(int));
	s->where = calloc(nr, sizeof(int));
	if (s->mem == MAP_FAILED || !s->pages || !s->nodes || !s->status || !s->where)
		return -1;
	madvise(s->mem, s->len, MADV_NOHUGEPAGE);
	fill(s->mem, nr);
	for (i = 0; i < nr; i++) {
		s->pages[i] = s->mem + i * psize;
		s->nodes[i] = node_b;
		s->status[i] = -1000;
	}
	/* Every page must start on node_a, or the figure is not per migrated page. */
	if (move_pages(0, nr, s->pages, NULL, s->where, 0))
		return -1;
	for (i = 0; i < nr; i++)
		if (s->where[i] != node_a) {
			fprintf(stderr, "bench: %zu pages do not fit on node %d\n", nr, node_a);
			return -1;
		}
	return 0;
}

/* Data and node of every page, and with @statuses its status: all node_b. */
static int scale_check(struct scale *s, int statuses)
{
	size_t i;

	if (check_data(s->mem, s->nr) >= 0 || move_pages(0, s->nr, s->pages, NULL, s->where, 0))
		return 0;
	for (i = 0; i < s->nr; i++)
		if (s->where[i] != node_b || (statuses && s->status[i] != node_b))
			return 0;
	return 1;
}

static void scale_free(struct scale *s)
{
	if (s->mem && s->mem != MAP_FAILED)
		munmap(s->mem, s->len);
	free(s->pages);
	free(s->nodes);
	free(s->status);
	free(s->where);
}

/* all_to_one with @nr pages in one call. */
static int scale_size(size_t nr, int run)
{
	long before[ARRAY_SIZE(vmstat_names)], after[ARRAY_SIZE(vmstat_names)];
	struct scale s;
	uint64_t ns = 0;
	int ok = 0;

	if (!scale_init(&s, nr)) {
		uint64_t t0;

		read_vmstat(before);
		t0 = now_ns();
		ok = !move_pages(0, nr, s.pages, s.nodes, s.status, MPOL_MF_MOVE);
		ns = now_ns() - t0;
		read_vmstat(after);
		ok = ok && scale_check(&s, 1);
	} else {
		before[0] = after[0] = 0;
	}
	printf("bench: size pages=%zu run=%d ns=%llu migrated=%ld ok=%d\n", nr, run,
	       (unsigned long long)ns, after[0] - before[0], ok);
	fflush(stdout);
	scale_free(&s);
	return !ok;
}

/* A child sharing the pages: once the parent is done, its own view of them. */
static int share_child(struct scale *s, int go)
{
	char c;

	/* EOF on @go: the parent has moved the pages and closed its end. */
	if (read(go, &c, 1) != 0)
		return 2;
	return scale_check(s, 0) ? 0 : 1;
}

/* SHARE_PAGES pages that @procs processes map, moved with MPOL_MF_MOVE_ALL. */
static int scale_share(int procs, int run)
{
	long before[ARRAY_SIZE(vmstat_names)], after[ARRAY_SIZE(vmstat_names)];
	pid_t pids[64];
	int go[2] = { -1, -1 }, ok = 0, n = 0, st, i;
	struct scale s;
	uint64_t ns = 0;

	before[0] = after[0] = 0;
	if (!scale_init(&s, SHARE_PAGES) && !pipe(go)) {
		uint64_t t0;

		for (ok = 1; n < procs - 1 && ok; n++) {
			pids[n] = fork();
			if (pids[n] == 0) {
				close(go[1]);
				_exit(share_child(&s, go[0]));
			}
			ok = pids[n] > 0;
		}
		if (!ok)
			n--;
		read_vmstat(before);
		t0 = now_ns();
		ok = ok && !move_pages(0, SHARE_PAGES, s.pages, s.nodes, s.status,
				       MPOL_MF_MOVE_ALL);
		ns = now_ns() - t0;
		read_vmstat(after);
		ok = ok && scale_check(&s, 1);
		close(go[1]);
		for (i = 0; i < n; i++)
			ok = waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st) &&
			     !WEXITSTATUS(st) && ok;
	}
	if (go[0] >= 0)
		close(go[0]);
	printf("bench: share procs=%d run=%d pages=%d ns=%llu migrated=%ld ok=%d\n", procs, run,
	       SHARE_PAGES, (unsigned long long)ns, after[0] - before[0], ok);
	fflush(stdout);
	scale_free(&s);
	return !ok;
}

/*
 * all_to_one with @nr pages in one call, once more with the function
 * profiler on (as --profile): where the per-page cost goes as calls grow.
 */
static int scale_profile(size_t nr)
{
	long before[ARRAY_SIZE(vmstat_names)], after[ARRAY_SIZE(vmstat_names)];
	struct scale s;
	uint64_t ns = 0;
	char name[32];
	int ok = 0;

	snprintf(name, sizeof(name), "size_%zu", nr);
	before[0] = after[0] = 0;
	if (!scale_init(&s, nr) && !write_str(TRACING "function_profile_enabled", "1")) {
		uint64_t t0;

		read_vmstat(before);
		t0 = now_ns();
		ok = !move_pages(0, nr, s.pages, s.nodes, s.status, MPOL_MF_MOVE);
		ns = now_ns() - t0;
		write_str(TRACING "function_profile_enabled", "0");
		read_vmstat(after);
		ok = ok && scale_check(&s, 1) && !print_profile(name, SCALE_PROFILE_TOP);
	}
	printf("bench: profile pattern=%s pages=%zu migrated=%ld ns=%llu ok=%d\n", name, nr,
	       after[0] - before[0], (unsigned long long)ns, ok);
	fflush(stdout);
	scale_free(&s);
	return !ok;
}

static int scale_main(void)
{
	int run, failed = 0;
	size_t i;

	printf("bench: scale start pages=%d node_a=%d node_b=%d\n", SHARE_PAGES, node_a,
	       node_b);
	for (i = 0; i < ARRAY_SIZE(scale_sizes); i++)
		for (run = 1; run <= RUNS; run++)
			failed += scale_size(scale_sizes[i], run);
	/* The smallest and the largest call under the profiler. */
	if (write_str(TRACING "options/graph-time", "0") ||
	    write_str(TRACING "options/sleep-time", "0")) {
		fprintf(stderr, "bench: --scale needs CONFIG_FUNCTION_PROFILER\n");
		failed++;
	} else {
		failed += scale_profile(scale_sizes[0]);
		failed += scale_profile(scale_sizes[ARRAY_SIZE(scale_sizes) - 1]);
	}
	for (i = 0; i < ARRAY_SIZE(share_procs); i++)
		for (run = 1; run <= RUNS; run++)
			failed += scale_share(share_procs[i], run);
	printf("bench: done failed=%d\n", failed);
	return failed ? 1 : 0;
}

/* ---- --latency: how long each page stays behind a migration entry ---- */

/*
 * A fault on a page that is being migrated waits until the entry is
 * replaced by the new pte, so the time from set_migration_pte (pmd) to
 * remove_migration_pte (pmd) of a page is the longest a fault on it can
 * wait.  One vCPU under -icount: deterministic, and nothing else runs.
 */
static const char * const entry_events[] = {
	"migrate/set_migration_pte", "migrate/remove_migration_pte",
	"thp/set_migration_pmd", "thp/remove_migration_pmd",
};

static int entry_tracing(int on)
{
	return trace_set(entry_events, ARRAY_SIZE(entry_events), on);
}

struct lifetimes {
	long sets, removes, unpaired;
	unsigned long long max_us, sum_us;
};

/*
 * Pair each page's set and remove events of the trace: "... <s>.<us>:
 * set_migration_pte: addr=<hex>, ..." by the page's index in @mem.
 * -1 when the trace cannot be read or overflowed.
 */
static int entry_lifetimes(const char *mem, struct lifetimes *lt)
{
	FILE *f = fopen(TRACING "trace", "r");
	unsigned long long *since = calloc(NR_PAGES, sizeof(*since));
	char line[512];
	int err = 0;

	memset(lt, 0, sizeof(*lt));
	if (!f || !since) {
		if (f)
			fclose(f);
		free(since);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long sec, usec, t;
		unsigned long addr;
		char *ev, *ts, *a;
		size_t page;
		int set;

		if (line[0] == '#') {
			err |= trace_lost(line) ? -1 : 0;
			continue;
		}
		ev = strstr(line, ": set_migration_p");
		set = ev != NULL;
		if (!ev)
			ev = strstr(line, ": remove_migration_p");
		a = ev ? strstr(ev, "addr=") : NULL;
		if (!a)
			continue;
		*ev = '\0';
		ts = strrchr(line, ' ');
		if (!ts || sscanf(ts + 1, "%llu.%llu", &sec, &usec) != 2 ||
		    sscanf(a + 5, "%lx", &addr) != 1)
			continue;
		t = sec * 1000000ULL + usec;
		page = (addr - (unsigned long)mem) / psize;
		if (addr < (unsigned long)mem || page >= NR_PAGES) {
			lt->unpaired++;
			continue;
		}
		if (set) {
			lt->sets++;
			if (since[page])
				lt->unpaired++;
			since[page] = t + 1;	/* 0: no entry */
			continue;
		}
		lt->removes++;
		if (!since[page]) {
			lt->unpaired++;
			continue;
		}
		t -= since[page] - 1;
		since[page] = 0;
		lt->sum_us += t;
		if (t > lt->max_us)
			lt->max_us = t;
	}
	fclose(f);
	free(since);
	return err;
}

static int latency_pattern(const char *name)
{
	struct lifetimes lt = { 0 };
	struct run r;
	int ok;

	lifetimes_on = 1;
	ok = !run_init(&r) && !do_pattern(name, &r);
	lifetimes_on = 0;
	/*
	 * Every page that moved had exactly one entry (each page has one
	 * mapping, a THP one PMD entry), and every entry was removed.
	 */
	ok = ok && r.ok && !entry_lifetimes(r.mem, &lt) && !lt.unpaired &&
	     lt.sets == lt.removes && lt.sets > 0 &&
	     lt.sets == r.migrated - r.thp_moved * (long)(HUGE_SIZE / psize - 1);
	printf("bench: latency pattern=%s pages=%d migrated=%ld entries=%ld max_us=%llu "
	       "sum_us=%llu ok=%d\n", name, NR_PAGES, r.migrated, lt.sets, lt.max_us, lt.sum_us, ok);
	fflush(stdout);
	run_free(&r);
	return !ok;
}

static int latency_main(void)
{
	static const char * const names[] = {
		"all_to_one", "alternating", "half_placed", "thp_listed", "one_per_call",
	};
	int failed = 0;
	size_t i;

	printf("bench: latency start pages=%d node_a=%d node_b=%d\n", NR_PAGES, node_a, node_b);
	for (i = 0; i < ARRAY_SIZE(names); i++)
		failed += latency_pattern(names[i]);
	printf("bench: done failed=%d\n", failed);
	return failed ? 1 : 0;
}

/* ---- the copy pass: folio_mc_copy() alone under the profiler ---- */

static int copy_pass_ready(void)
{
	return !write_str(TRACING "function_profile_enabled", "0") &&
	       !write_str(TRACING "options/graph-time", "1") &&
	       !write_str(TRACING "set_ftrace_filter", COPY_FUNCTION);
}

/* The copy function's hits and ns from the profiler's stats, or -1. */
static int copy_stats(long *hits, unsigned long long *ns)
{
	FILE *f = fopen(TRACING "trace_stat/function0", "r");
	char line[512], name[96], time[32];
	int found = -1;
	long h;

	if (!f)
		return -1;
	*hits = 0;
	*ns = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %95s %ld %31s", name, &h, time) != 3 ||
		    strcmp(name, COPY_FUNCTION))
			continue;
		*hits = h;
		*ns = parse_us(time);
		found = 0;
	}
	fclose(f);
	return found;
}

static int copy_pass(const char *pattern)
{
	unsigned long long ns = 0;
	long hits = 0;
	struct run r;
	int ok;

	profiling = 1;
	ok = !run_init(&r) && !do_pattern(pattern, &r);
	profiling = 0;
	/* No folio copied: the profiler has no line for the function. */
	if (ok && copy_stats(&hits, &ns) && r.migrated > 0)
		ok = 0;
	printf("bench: copy pattern=%s pages=%d migrated=%ld hits=%ld ns=%llu total=%llu ok=%d\n",
	       pattern, NR_PAGES, r.migrated, hits, ns, (unsigned long long)r.ns, ok && r.ok);
	fflush(stdout);
	run_free(&r);
	return !(ok && r.ok);
}

int main(int argc, char **argv)
{
	int n, run, i, failed = 0, found, with_events = 0, with_profile = 0, with_copy;
	int with_sweep = 0, with_scale = 0, with_latency = 0;
	struct run r;

	psize = sysconf(_SC_PAGESIZE);
	if (argc > 1 && (!strcmp(argv[1], "--events") || !strcmp(argv[1], "--sweep") ||
			 !strcmp(argv[1], "--scale") || !strcmp(argv[1], "--latency"))) {
		cpu_set_t set;

		with_events = !strcmp(argv[1], "--events");
		with_sweep = !strcmp(argv[1], "--sweep");
		with_scale = !strcmp(argv[1], "--scale");
		with_latency = !strcmp(argv[1], "--latency");
		argv++;
		argc--;
		/* The mover on CPU 0; node_a is its node. */
		CPU_ZERO(&set);
		CPU_SET(0, &set);
		sched_setaffinity(0, sizeof(set), &set);
	} else if (argc > 1 && !strcmp(argv[1], "--profile")) {
		with_profile = 1;
		argv++;
		argc--;
	}
	if (numa_available() < 0) {
		fprintf(stderr, "bench: NUMA is not available\n");
		return 2;
	}
	node_a = numa_node_of_cpu(sched_getcpu());
	for (node_b = -1, n = 0; n <= numa_max_node(); n++)
		if (n != node_a && numa_bitmask_isbitset(numa_all_nodes_ptr, n)) {
			node_b = n;
			break;
		}
	if (node_b < 0) {
		fprintf(stderr, "bench: needs a second node with memory\n");
		return 2;
	}

	for (i = 1; i < argc; i++) {
		for (found = 0, n = 0; n < (int)ARRAY_SIZE(patterns); n++)
			found |= !strcmp(argv[i], patterns[n]);
		if (!found) {
			fprintf(stderr, "bench: unknown pattern %s\n", argv[i]);
			return 2;
		}
	}
	if (with_events)
		return events_main(argc, argv);
	if (with_sweep)
		return sweep_main();
	if (with_scale)
		return scale_main();
	if (with_latency)
		return latency_main();
	if (with_profile)
		return profile_main(argc, argv);
	with_copy = copy_pass_ready();
	printf("bench: start pages=%d node_a=%d node_b=%d runs=%d\n", NR_PAGES, node_a, node_b,
	       RUNS);
	for (n = 0; n < (int)ARRAY_SIZE(patterns); n++) {
		if (!selected(argc, argv, patterns[n]))
			continue;
		for (run = 1; run <= RUNS; run++) {
			if (run_init(&r) ||
			    (!strcmp(patterns[n], "memcpy") ? do_memcpy(&r) :
			     do_pattern(patterns[n], &r))) {
				fprintf(stderr, "bench: %s: setup failed: %s\n", patterns[n],
					strerror(errno));
				r.ok = 0;
			}
			printf("bench: pattern=%s run=%d pages=%d calls=%ld ns=%llu ok=%d inexact=%ld "
			       "migrated=%ld thp_moved=%ld thp_split=%ld\n",
			       patterns[n], run, NR_PAGES, r.calls, (unsigned long long)r.ns, r.ok,
			       r.inexact, r.migrated, r.thp_moved, r.thp_split);
			fflush(stdout);
			failed += !r.ok;
			run_free(&r);
		}
		if (with_copy && strcmp(patterns[n], "memcpy") && strcmp(patterns[n], "query"))
			failed += copy_pass(patterns[n]);
	}
	printf("bench: done failed=%d\n", failed);
	return failed ? 1 : 0;
}
