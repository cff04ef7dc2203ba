// SPDX-License-Identifier: GPL-2.0
/*
 * kgen: write UML's gcov counters when the kernel halts (kgen run --coverage).
 *
 * arch/um's CONFIG_GCOV links the host's libgcov into the UML binary.  gcc
 * 7 and later emit the destructor that writes the .gcda files into a
 * .fini_array.00100 section, and arch/um/kernel/dyn.lds.S keeps only
 * .fini_array for libc to call: the destructor never runs and no .gcda
 * file appears, as kunit.py's documentation warns.  So kgen writes them
 * itself, from a UML exitcall: uml_cleanup() runs those on halt, after it
 * has set kmalloc_ok to 0, so libgcov's malloc() goes to the host's libc.
 * Every kunit.py boot ends in kernel_halt(); a boot that panics writes
 * nothing.  __gcov_dump() marks what it wrote, so a destructor that does
 * run later adds nothing twice.
 */
#include <linux/init.h>
#include <linux/irqflags.h>

#include <init.h>

/* libgcov's (gcc/libgcov-interface.c), linked with CONFIG_GCOV. */
void __gcov_dump(void);

static void kgen_gcov_dump(void)
{
	unsigned long flags;

	/* UML's timer is a host signal: keep it out while libgcov writes. */
	local_irq_save(flags);
	__gcov_dump();
	local_irq_restore(flags);
}
__uml_exitcall(kgen_gcov_dump);
