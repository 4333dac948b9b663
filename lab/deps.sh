#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install what the lab needs from Debian, only what is missing.
set -euo pipefail

# package:probe (a command on PATH or an absolute file)
needs=(
	linux-source-6.12:/usr/src/linux-source-6.12.tar.xz
	qemu-system-x86:qemu-system-x86_64
	qemu-system-data:/usr/share/qemu/qboot.rom
	busybox-static:/bin/busybox
	libnuma-dev:/usr/lib/x86_64-linux-gnu/libnuma.a
	build-essential:gcc
	make:make
	bc:bc
	bison:bison
	flex:flex
	libelf-dev:/usr/include/libelf.h
	libssl-dev:/usr/include/openssl/ssl.h
	ccache:ccache
	rsync:rsync
	cpio:cpio
	xz-utils:xz
	patch:patch
	e2fsprogs:mkfs.ext4
	python3:/usr/bin/python3
	python3-ply:/usr/lib/python3/dist-packages/ply/__init__.py
	python3-git:/usr/lib/python3/dist-packages/git/__init__.py
	# 32-bit selftests (move_pages_*_32), the compat path of move_pages()
	gcc-multilib:/usr/lib/gcc/x86_64-linux-gnu/12/32/crtbegin.o
	libnuma-dev:i386:/usr/lib/i386-linux-gnu/libnuma.a
)
# `lab/deps.sh bench`: also the plotter of `make bench`.
if [[ ${1:-} == bench ]]; then
	needs+=(gnuplot-nox:gnuplot)
fi

missing=()
for n in "${needs[@]}"; do
	# package[:arch]:probe - the probe is what follows the last colon
	probe=${n##*:}
	pkg=${n%:*}
	if [[ $probe == /* ]]; then
		[[ -e $probe ]] && continue
	else
		command -v "$probe" >/dev/null 2>&1 && continue
	fi
	missing+=("$pkg")
done

# busybox-static replaces busybox's /bin/busybox; a dynamic one is useless
# in the initramfs.
if [[ -e /bin/busybox ]] && ldd /bin/busybox >/dev/null 2>&1; then
	missing+=(busybox-static)
fi

if ((${#missing[@]} == 0)); then
	exit 0
fi

echo "lab: installing from Debian: ${missing[*]}"
sudo=()
if ((EUID != 0)); then
	if ! command -v sudo >/dev/null; then
		echo "lab: error: need root (or sudo) to install: ${missing[*]}" >&2
		exit 4
	fi
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
for pkg in "${missing[@]}"; do
	if [[ $pkg == *:i386 ]] && ! dpkg --print-foreign-architectures | grep -qx i386; then
		"${sudo[@]}" dpkg --add-architecture i386
	fi
done
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
