# SPDX-License-Identifier: GPL-2.0
# kunit.py --qemu_config for the migration suites: x86_64 under QEMU with
# two NUMA nodes of 1 GiB, one socket of two CPUs each (one socket per
# node, so the guest sees a sane topology).  kunit.py passes its own
# "-m 1024" first; the "-m 2G" here comes later and wins.
from ..qemu_config import QemuArchParams

QEMU_ARCH = QemuArchParams(linux_arch='x86_64',
			   kconfig='''
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_SMP=y
CONFIG_NR_CPUS=8
CONFIG_NUMA=y
CONFIG_PCI=y
CONFIG_ACPI=y
CONFIG_ACPI_NUMA=y
CONFIG_X86_64_ACPI_NUMA=y''',
			   qemu_arch='x86_64',
			   kernel_path='arch/x86/boot/bzImage',
			   kernel_command_line='console=ttyS0',
			   extra_qemu_params=[
				   '-accel', 'tcg', '-cpu', 'max',
				   '-smp', '4,sockets=2,cores=2,threads=1',
				   '-m', '2G',
				   '-object', 'memory-backend-ram,id=m0,size=1G',
				   '-numa', 'node,nodeid=0,cpus=0-1,memdev=m0',
				   '-object', 'memory-backend-ram,id=m1,size=1G',
				   '-numa', 'node,nodeid=1,cpus=2-3,memdev=m1',
			   ])
