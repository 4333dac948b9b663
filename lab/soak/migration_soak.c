// SPDX-License-Identifier: GPL-2.0
/*
 * The soak workload of `make soak`: a data-verifying workload whose pages
 * an external driver keeps migrating, for a given number of minutes.
 *
 * - Workers (one thread per CPU) each own a region of REGION_PAGES pages
 *   and, round after round, write a pattern (page, word, round) into
 *   every word and read every word back.
 * - A driver process, like migratepages(8), calls migrate_pages(2) on the
 *   workload's pid from one node to the other and back, all the time.
 * - A forker thread forks now and then; the child overwrites a region of
 *   its own copy and checks it, the parent checks that its copy kept its
 *   data (the seeds' COW rule under migration).
 *
 * Every minute ("progress"), and at the end ("done"), it prints one line
 *   soak: <progress|done> minute=<n> rounds=<n> overlaps=<n> mismatches=<n>
 *         migrate_calls=<n> migrate_errors=<n> forks=<n> fork_leaks=<n>, where overlaps counts worker rounds that ran while a
 * migrate_pages() call was in flight.  Exit status 1 on any mismatch.
 *
 * Usage: migration_soak -m minutes
 */

#define _GNU_SOURCE
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REGION_PAGES	256
#define MAX_WORKERS	16

struct shared {			/* MAP_SHARED: seen by the driver process too */
	atomic_int stop;
	atomic_int in_flight;
	atomic_long migrate_calls;
	atomic_long migrate_errors;
};

static struct shared *sh;
static size_t psize;
static int nworkers, node_a, node_b;
static atomic_long rounds, overlaps, mismatches, forks, fork_leaks;

static uint64_t word_of(size_t page, size_t word, long round, int who)
{
	return ((uint64_t)page << 44) ^ ((uint64_t)round << 12) ^ word ^ ((uint64_t)who << 58) ^
	       0x736f616bULL;
}

static long check(const char *mem, int who, long round)
{
	size_t p, w;

	for (p = 0; p < REGION_PAGES; p++)
		for (w = 0; w < psize / 8; w++)
			if (((const uint64_t *)(mem + p * psize))[w] != word_of(p, w, round, who))
				return p;
	return -1;
}

static void fill(char *mem, int who, long round)
{
	size_t p, w;

	for (p = 0; p < REGION_PAGES; p++)
		for (w = 0; w < psize / 8; w++)
			((uint64_t *)(mem + p * psize))[w] = word_of(p, w, round, who);
}

static char *regions[MAX_WORKERS];
static atomic_long region_round[MAX_WORKERS];
static pthread_mutex_t region_lock[MAX_WORKERS];

static void *worker(void *arg)
{
	int who = (int)(intptr_t)arg;
	long round, bad;

	for (round = 1; !atomic_load(&sh->stop); round++) {
		int during;

		pthread_mutex_lock(&region_lock[who]);
		during = atomic_load(&sh->in_flight);
		fill(regions[who], who, round);
		atomic_store(&region_round[who], round);
		bad = check(regions[who], who, round);
		pthread_mutex_unlock(&region_lock[who]);
		if (bad >= 0 && atomic_fetch_add(&mismatches, 1) < 10)
			fprintf(stderr, "soak: worker %d round %ld: page %ld lost its data\n",
				who, round, bad);
		atomic_fetch_add(&rounds, 1);
		atomic_fetch_add(&overlaps, during || atomic_load(&sh->in_flight));
	}
	return NULL;
}

/* Fork now and then: the child's writes must never show in the parent. */
static void *forker(void *arg)
{
	while (!atomic_load(&sh->stop)) {
		int who = rand() % nworkers, status;
		long round, bad;
		pid_t pid;

		pthread_mutex_lock(&region_lock[who]);
		round = atomic_load(&region_round[who]);
		pid = fork();
		if (pid == 0) {
			fill(regions[who], who, -1);
			_exit(check(regions[who], who, -1) < 0 ? 0 : 1);
		}
		if (pid > 0) {
			waitpid(pid, &status, 0);
			bad = check(regions[who], who, round);
			atomic_fetch_add(&forks, 1);
			if (bad >= 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
				atomic_fetch_add(&fork_leaks, 1);
				fprintf(stderr, "soak: fork %ld: %s\n", atomic_load(&forks),
					bad >= 0 ? "the child's write reached the parent" :
					"the child saw a page that was not its own");
			}
		}
		pthread_mutex_unlock(&region_lock[who]);
		usleep(20000);
	}
	return NULL;
}

/* The external driver: migrate_pages(2) of the workload, back and forth. */
static void driver(pid_t target)
{
	unsigned long a = 1UL << node_a, b = 1UL << node_b;
	int turn = 0;

	while (!atomic_load(&sh->stop)) {
		long moved;

		atomic_store(&sh->in_flight, 1);
		moved = syscall(SYS_migrate_pages, target, 64, turn ? &b : &a, turn ? &a : &b);
		atomic_store(&sh->in_flight, 0);
		atomic_fetch_add(&sh->migrate_calls, 1);
		if (moved < 0)
			atomic_fetch_add(&sh->migrate_errors, 1);
		turn ^= 1;
		usleep(1000);
	}
	_exit(0);
}

static void report(const char *what, int minute)
{
	printf("soak: %s minute=%d rounds=%ld overlaps=%ld mismatches=%ld migrate_calls=%ld "
	       "migrate_errors=%ld forks=%ld fork_leaks=%ld\n", what, minute, atomic_load(&rounds),
	       atomic_load(&overlaps), atomic_load(&mismatches),
	       atomic_load(&sh->migrate_calls), atomic_load(&sh->migrate_errors),
	       atomic_load(&forks), atomic_load(&fork_leaks));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	pthread_t threads[MAX_WORKERS], fork_thread;
	int minutes = 1, opt, i, n;
	pid_t drv;

	while ((opt = getopt(argc, argv, "m:")) != -1) {
		if (opt != 'm' || atoi(optarg) < 1) {
			fprintf(stderr, "usage: %s -m minutes (at least 1)\n", argv[0]);
			return 2;
		}
		minutes = atoi(optarg);
	}
	if (numa_available() < 0) {
		fprintf(stderr, "soak: NUMA is not available\n");
		return 2;
	}
	for (node_a = node_b = -1, n = 0; n <= numa_max_node(); n++) {
		if (!numa_bitmask_isbitset(numa_all_nodes_ptr, n))
			continue;
		if (node_a < 0)
			node_a = n;
		else if (node_b < 0)
			node_b = n;
	}
	if (node_b < 0) {
		fprintf(stderr, "soak: needs two nodes with memory\n");
		return 2;
	}
	psize = sysconf(_SC_PAGESIZE);
	nworkers = sysconf(_SC_NPROCESSORS_ONLN);
	if (nworkers > MAX_WORKERS)
		nworkers = MAX_WORKERS;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	memset(sh, 0, sizeof(*sh));
	for (i = 0; i < nworkers; i++) {
		regions[i] = mmap(NULL, REGION_PAGES * psize, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (regions[i] == MAP_FAILED)
			return 2;
		pthread_mutex_init(&region_lock[i], NULL);
		fill(regions[i], i, 0);
	}
	printf("soak: start minutes=%d workers=%d pages=%d nodes=%d,%d\n", minutes, nworkers,
	       nworkers * REGION_PAGES, node_a, node_b);
	fflush(stdout);
	drv = fork();
	if (drv == 0)
		driver(getppid());
	for (i = 0; i < nworkers; i++)
		pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i);
	pthread_create(&fork_thread, NULL, forker, NULL);
	for (i = 1; i <= minutes; i++) {
		sleep(60);
		report("progress", i);
	}
	atomic_store(&sh->stop, 1);
	for (i = 0; i < nworkers; i++)
		pthread_join(threads[i], NULL);
	pthread_join(fork_thread, NULL);
	waitpid(drv, NULL, 0);
	report("done", minutes);
	return atomic_load(&mismatches) || atomic_load(&fork_leaks) ? 1 : 0;
}
