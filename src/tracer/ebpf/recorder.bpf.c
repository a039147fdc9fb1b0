// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/*
 * syscage's eBPF recorder: counts every (ABI, syscall) the tracked tasks make, in the kernel,
 * with no stop and no sampling. Tracking starts at an exec: user space names the workload's
 * first process (`target`) before it execs; its exec gives it task-local storage, and every task
 * a tracked one creates, thread or process, gets storage at birth. The per-syscall test is then
 * a task-storage lookup, which for the machine's other tasks is a null pointer check. Each task
 * also keeps a bitmap of the syscalls it made, flushed to user space through a ring buffer when
 * it execs (the bitmap belongs to the image it leaves) or exits, so that user space knows which
 * executable made what. The counts are exact whatever happens to the ring buffer; what cannot be
 * kept is counted in `stats`, never lost silently.
 */
#include "kernel_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define NR_MAX 1024             /* syscall numbers per ABI */
#define ABIS 2                  /* 0: native x86_64, 1: i386 (int 0x80, 32-bit programs) */
#define WORDS (ABIS * NR_MAX / 64)
#define TS_COMPAT 0x0002        /* thread_info.status: in a compat (i386) syscall */
#define NR_EXECVE 59            /* x86_64 */

/* stats slots */
#define ST_TASKS_DROPPED 0      /* a new task could not be tracked (no memory for its storage) */
#define ST_EVENTS_DROPPED 1     /* a bitmap or fork event could not be sent (ring full) */
#define ST_NR_OUT_OF_RANGE 2    /* a syscall number beyond NR_MAX (x32 and the like) */
#define STATS 4

#define EV_EXEC 1
#define EV_EXIT 2               /* a task exited; `last` when it was its process's last */
#define EV_FORK 3

struct task_state {
	u64 seen[WORDS];
};

struct ev_bitmap {
	u32 type;
	u32 tgid;
	u64 seen[WORDS];
	u32 last;
	char filename[256];     /* EV_EXEC only */
};

struct ev_fork {
	u32 type;
	u32 parent;
	u32 child;
	u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_state);
} tasks SEC(".maps");

/* [0]: the tgid whose next exec starts the recording. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u32);
} target SEC(".maps");

/* One per-CPU slot holding every counter: user space reads them all with one lookup. */
struct counters {
	u64 n[ABIS * NR_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct counters);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STATS);
	__type(key, u32);
	__type(value, u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

static __always_inline void stat_add(u32 slot)
{
	u64 *v = bpf_map_lookup_elem(&stats, &slot);
	if (v)
		*v += 1;
}

static __always_inline void count(struct task_state *st, u32 idx)
{
	u32 zero = 0;
	struct counters *c = bpf_map_lookup_elem(&counts, &zero);
	if (c)
		c->n[idx & (ABIS * NR_MAX - 1)] += 1;
	u64 bit = 1ULL << (idx & 63);
	u64 *w = &st->seen[(idx / 64) & (WORDS - 1)];
	/* Read first: the bit is set once, the cache line is not dirtied on every call. */
	if (!(*w & bit))
		*w |= bit; /* the task's own storage: no other CPU writes it */
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_state *st = bpf_task_storage_get(&tasks, task, 0, 0);
	if (!st)
		return 0;
	if (id < 0 || id >= NR_MAX) {
		stat_add(ST_NR_OUT_OF_RANGE);
		return 0;
	}
	u32 abi = (task->thread_info.status & TS_COMPAT) ? 1 : 0;
	count(st, abi * NR_MAX + (u32)id);
	return 0;
}

/* Sends `st`'s bitmap (and, for an exec, the new image's file name), then clears it. */
static __always_inline void flush(struct task_state *st, u32 type, u32 tgid, u32 last,
				  const char *filename)
{
	struct ev_bitmap *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		/* Kept in the bitmap: attributed to the task's next image instead of being lost. */
		stat_add(ST_EVENTS_DROPPED);
		return;
	}
	ev->type = type;
	ev->tgid = tgid;
	ev->last = last;
	for (int i = 0; i < WORDS; i++) {
		ev->seen[i] = st->seen[i];
		st->seen[i] = 0;
	}
	ev->filename[0] = 0;
	if (filename)
		bpf_probe_read_kernel_str(ev->filename, sizeof(ev->filename), filename);
	bpf_ringbuf_submit(ev, 0);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *p, int old_pid, struct linux_binprm *bprm)
{
	u32 tgid = p->tgid;
	struct task_state *st = bpf_task_storage_get(&tasks, p, 0, 0);
	if (!st) {
		u32 zero = 0;
		u32 *t = bpf_map_lookup_elem(&target, &zero);
		if (!t || *t != tgid)
			return 0;
		st = bpf_task_storage_get(&tasks, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!st) {
			stat_add(ST_TASKS_DROPPED);
			return 0;
		}
		/* The workload's first execve, made by syscage before any of the workload's code:
		 * the other backends see it, so it is counted here. */
		count(st, NR_EXECVE);
	}
	flush(st, EV_EXEC, tgid, 0, bprm->filename);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	if (!bpf_task_storage_get(&tasks, parent, 0, 0))
		return 0;
	if (!bpf_task_storage_get(&tasks, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE)) {
		stat_add(ST_TASKS_DROPPED);
		return 0;
	}
	u32 ptgid = parent->tgid;
	u32 ctgid = child->tgid;
	if (ctgid == ptgid)
		return 0; /* a thread: user space knows its process */
	struct ev_fork *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		stat_add(ST_EVENTS_DROPPED);
		return 0;
	}
	ev->type = EV_FORK;
	ev->parent = ptgid;
	ev->child = ctgid;
	ev->pad = 0;
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *p)
{
	struct task_state *st = bpf_task_storage_get(&tasks, p, 0, 0);
	if (!st)
		return 0;
	flush(st, EV_EXIT, p->tgid, p->signal->live.counter == 0, 0);
	bpf_task_storage_delete(&tasks, p);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
