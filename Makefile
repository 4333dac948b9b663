# SPDX-License-Identifier: GPL-2.0
# The migration lab.  `make run` builds, boots and tests; `make test` is
# what CI runs.  Options: PROFILES=swapless,swap,debug (the default)  BASE=1  TOPOLOGY=4node
# TIMEOUT=900 (guest seconds)  ICOUNT=1  RESULTS=dir  LAB_CACHE=dir
# APPEND="..." (guest command line, e.g. lab.fuzz_calls=100000 lab.fuzz_seed=7)
# make run KERNEL=<bzImage>: boot an image built elsewhere with our selftests;
# make run SRC=<kernel tree>: configure (our fragments) and build that tree

PYTHON := /usr/bin/python3 -B
comma := ,
PROFILES ?= swapless,swap,debug
TIMEOUT ?= 900
LAB_ARGS := --profiles $(PROFILES) --timeout $(TIMEOUT) \
	$(if $(BASE),--base) $(if $(TOPOLOGY),--topology $(TOPOLOGY)) \
	$(if $(ICOUNT),--icount) $(if $(RESULTS),--results $(RESULTS)) \
	$(if $(APPEND),--append "$(APPEND)")

.PHONY: run test unit build kunit mutants bench soak series series-check deps profiles clean-cache

run: deps
	$(PYTHON) -m lab run $(LAB_ARGS) $(if $(KERNEL),--kernel "$(KERNEL)") \
		$(if $(SRC),--src "$(SRC)")

test: deps
	$(PYTHON) -m lab test $(LAB_ARGS)

unit:
	$(PYTHON) -m lab unit

build: deps
	$(PYTHON) -m lab build --profiles $(PROFILES) $(if $(BASE),--base) \
		$(if $(RESULTS),--results $(RESULTS))

kunit: deps
	$(PYTHON) -m lab kunit --timeout $(TIMEOUT)

# One mutant at a time: M=name (or M=a,b).  Guests get a shorter timeout.
mutants: deps
	$(PYTHON) -m lab mutants --timeout $(or $(MUTANT_TIMEOUT),300) $(if $(M),--only $(M)) $(if $(QUICK),--quick)

# move_pages() on the base and the patched kernel, -icount, one vCPU.
# BENCH=base,patched (default), or add patched-checker (with the debug checker).
# FUNCTIONS=1: also build each kernel with the ftrace function profiler and
# report where the instructions go (results/bench-*/profile.md).
bench:
	@bash lab/deps.sh bench
	$(PYTHON) -m lab bench --profiles swapless \
		--kernels $(or $(BENCH),$(if $(SRC),base$(comma)src,base$(comma)patched)) \
		--timeout $(TIMEOUT) $(if $(SRC),--src "$(SRC)") \
		$(if $(filter 1,$(FUNCTIONS)),--functions) \
		$(if $(filter 0,$(SWEEPS)),--no-sweeps) \
		$(if $(RESULTS),--results $(RESULTS))

# Long races: MINUTES per profile (default 10) of the soak workload and the
# race selftests over and over; zero mismatches and splats or it fails.
# Its profiles: SOAK_PROFILES, which add KASAN to make test's three, unless
# PROFILES= is given.  BASE=1: the unpatched kernel under the same load.
SOAK_PROFILES ?= swapless,swap,debug,kasan
soak: deps
	$(PYTHON) -m lab soak --minutes $(or $(MINUTES),10) $(if $(BASE),--base) \
		--profiles $(if $(filter command line environment,$(origin PROFILES)),$(PROFILES),$(SOAK_PROFILES)) \
		$(if $(RESULTS),--results $(RESULTS))

# The mail-ready series: git format-patch output in results/series-<version>/,
# signed off by AUTHOR="Name <mail>" or else git config user.name/user.email.
series: deps
	$(PYTHON) -m lab series $(if $(RESULTS),--results $(RESULTS)) \
		$(if $(AUTHOR),--author "$(AUTHOR)")

# git am, checkpatch --strict, kernel-doc, and each commit compiled (BUILD=0: not).
series-check: deps
	$(PYTHON) -m lab series-check $(if $(filter 0,$(BUILD)),--no-build) \
		$(if $(RESULTS),--results $(RESULTS)) $(if $(AUTHOR),--author "$(AUTHOR)") \
		--profiles $(PROFILES)

profiles:
	$(PYTHON) -m lab profiles

deps:
	@bash lab/deps.sh

clean-cache:
	rm -rf "$${LAB_CACHE:-$$HOME/.cache/migration-lab}"
