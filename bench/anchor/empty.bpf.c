// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/* The floor of any sys_enter recorder: a program that does nothing, attached where syscage's
 * recorder is. While any program is attached there, every syscall of every process takes the
 * kernel's tracepoint slow path; `make bench` (attach) measures what that alone costs a server. */
#include "../../src/tracer/ebpf/kernel_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp_btf/sys_enter")
int BPF_PROG(empty, struct pt_regs *regs, long id)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
