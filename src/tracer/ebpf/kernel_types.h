/* The few kernel types the recorder reads, as CO-RE relocatable declarations: field offsets are
 * resolved against the running kernel's BTF at load time, so no kernel headers are needed. */
#ifndef SYSCAGE_KERNEL_TYPES_H
#define SYSCAGE_KERNEL_TYPES_H

#include <linux/types.h>
#include <linux/bpf.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s64 s64;

#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)

struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax,
		ip, cs, flags, sp, ss;
};

typedef struct { int counter; } atomic_t;

struct signal_struct {
	atomic_t live;
};

struct thread_info {
	unsigned long flags;
	u32 status;
};

struct task_struct {
	struct thread_info thread_info;
	int pid;
	int tgid;
	struct signal_struct *signal;
};

struct linux_binprm {
	const char *filename;
};

#pragma clang attribute pop

#endif
