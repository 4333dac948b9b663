#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# /init of the lab guest.  KUnit has already run (built in) and printed its
# KTAP on ttyS0; this script runs the selftests with their TAP on ttyS1 and
# powers off.  Lines starting with "lab:" are read by the host.

/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mkdir -p /proc /sys /dev /tmp /mnt/ext4 /run
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
# devtmpfs has none of these; kselftest's runner writes to /dev/stdout.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr

echo "lab: kernel $(uname -r)"
echo "lab: nodes-online $(cat /sys/devices/system/node/online)"
echo "lab: cpus-online $(cat /sys/devices/system/cpu/online)"
for n in /sys/devices/system/node/node*; do
	echo "lab: node ${n##*node} $(grep MemTotal "$n/meminfo" | awk '{print $4 $5}') cpus $(cat "$n/cpulist")"
done

# The file-backed tests use an ext4 filesystem on virtio-blk (vda).
if [ -b /dev/vda ]; then
	if mount -t ext4 /dev/vda /mnt/ext4; then
		echo "lab: ext4 /mnt/ext4"
	else
		echo "lab: error: cannot mount /dev/vda as ext4"
	fi
fi
# The swap profile adds a swap device (vdb).
if [ -b /dev/vdb ]; then
	if mkswap /dev/vdb >/dev/null && swapon /dev/vdb; then
		echo "lab: swap $(grep SwapTotal /proc/meminfo | awk '{print $2 $3}')"
	else
		echo "lab: error: cannot enable swap on /dev/vdb"
	fi
fi

# `make bench` boots with lab.bench=1 (timed, then the copy pass; -icount)
# or lab.bench=<mode>, the benchmark's --<mode>: events (rounds and remote
# TLB flushes), profile (every function profiled), sweep (small calls as
# CPUs are added), scale (call sizes and shared mappings) or latency (how
# long pages stay behind migration entries): the benchmark instead of the tests.
bench=$(sed -n 's/.*lab\.bench=\([a-z0-9]*\).*/\1/p' /proc/cmdline)
if [ -n "$bench" ]; then
	mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
	echo "lab: bench start ($bench)"
	if [ "$bench" = 1 ]; then
		/bench/move_pages_bench > /dev/ttyS1 2>&1
	else
		/bench/move_pages_bench "--$bench" > /dev/ttyS1 2>&1
	fi
	echo "lab: bench exit $?"
	sync
	echo "lab: done"
	poweroff -f
fi

# `make soak` boots with lab.soak=<minutes>: the soak workload, with the
# race selftests run over and over beside it, until the minutes are up.
soak=$(sed -n 's/.*lab\.soak=\([0-9]*\).*/\1/p' /proc/cmdline)
if [ -n "$soak" ]; then
	export MIGRATION_FILE_DIR=/mnt/ext4
	echo "lab: soak start ($soak minutes)"
	/soak/migration_soak -m "$soak" > /dev/ttyS1 2>&1 &
	workload=$!
	end=$(( $(cut -d. -f1 /proc/uptime) + soak * 60 ))
	run=0
	while [ "$(cut -d. -f1 /proc/uptime)" -lt "$end" ]; do
		run=$((run + 1))
		for t in migration_race migrate_process; do
			if /kselftest/migration/$t > /tmp/soak-$t.log 2>&1; then
				echo "soak: selftest $t run=$run ok" > /dev/ttyS1
			else
				echo "soak: selftest $t run=$run FAIL" > /dev/ttyS1
				sed 's/^/# /' /tmp/soak-$t.log > /dev/ttyS1
			fi
		done
	done
	wait $workload
	echo "lab: soak exit $?"
	sync
	echo "lab: done"
	poweroff -f
fi

# lab.kunit_only=1: KUnit (which ran at boot) only, no selftests (make
# series-check boots the commit that adds the KUnit suites).
if grep -q 'lab\.kunit_only=1' /proc/cmdline; then
	echo "lab: selftests skipped (lab.kunit_only=1)"
	sync
	echo "lab: done"
	poweroff -f
fi

export MIGRATION_FILE_DIR=/mnt/ext4
# The fuzzer: a few thousand calls from a fixed seed in make test (the same
# calls every run); lab.fuzz_calls=N and lab.fuzz_seed=S for other runs.
fuzz=$(sed -n 's/.*lab\.fuzz_calls=\([0-9]*\).*/\1/p' /proc/cmdline)
export MIGRATION_FUZZ_CALLS=${fuzz:-3000}
seed=$(sed -n 's/.*lab\.fuzz_seed=\([0-9]*\).*/\1/p' /proc/cmdline)
export MIGRATION_FUZZ_SEED=${seed:-20261130}
# lab.selftests=a,b runs only those binaries of the target (make mutants QUICK=1).
only=$(sed -n 's/.*lab\.selftests=\([a-z0-9_,]*\).*/\1/p' /proc/cmdline)
pick=""
for t in $(echo "$only" | tr , ' '); do
	pick="$pick -t migration:$t"
done
# lab.selftest_timeout=S: each binary's kselftest timeout (settings says
# 300 s), for long runs such as lab.fuzz_calls=100000.
tmo=$(sed -n 's/.*lab\.selftest_timeout=\([0-9]*\).*/\1/p' /proc/cmdline)
[ -n "$tmo" ] && pick="$pick -o $tmo"
cd /kselftest || echo "lab: error: no /kselftest"
echo "lab: selftests start${only:+ (only $only)}"
./run_kselftest.sh $pick > /dev/ttyS1 2>&1
echo "lab: selftests exit $?"
cd /
sync
echo "lab: done"
poweroff -f
