// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/* The anchor of `make bench`'s eBPF start-up comparison: a minimal recorder of syscage's design
 * (CO-RE against the kernel's BTF, tp_btf sys_enter, exec and fork, task-local storage for the
 * scope, per-CPU counts), loaded by libbpf (anchor.c). Not part of syscage. */
#include "../../src/tracer/ebpf/kernel_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define NR_MAX 1024

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, u64);
} tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u32);
} target SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_MAX);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, int old_pid, void *bprm)
{
	u32 zero = 0;
	u32 *t = bpf_map_lookup_elem(&target, &zero);
	if (t && *t == (u32)p->tgid)
		bpf_task_storage_get(&tasks, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	if (bpf_task_storage_get(&tasks, parent, 0, 0))
		bpf_task_storage_get(&tasks, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_enter, struct pt_regs *regs, long id)
{
	if (!bpf_task_storage_get(&tasks, bpf_get_current_task_btf(), 0, 0))
		return 0;
	u32 nr = (u32)id;
	u64 *c = bpf_map_lookup_elem(&counts, &nr);
	if (c)
		*c += 1;
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
