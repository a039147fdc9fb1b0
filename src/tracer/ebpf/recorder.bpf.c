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
#include <bpf/bpf_core_read.h>

#define NR_MAX 1024             /* syscall numbers per ABI */
#define ABIS 2                  /* 0: native x86_64, 1: i386 (int 0x80, 32-bit programs) */
#define WORDS (ABIS * NR_MAX / 64)
#define TS_COMPAT 0x0002        /* thread_info.status: in a compat (i386) syscall */
#define NR_EXECVE 59            /* x86_64 */

/* stats slots */
#define ST_TASKS_DROPPED 0      /* a new task could not be tracked (no memory for its storage) */
#define ST_EVENTS_DROPPED 1     /* a bitmap or fork event could not be sent (ring full) */
#define ST_NR_OUT_OF_RANGE 2    /* a syscall number beyond NR_MAX (x32 and the like) */
#define ST_ARGS_DROPPED 3       /* an argument value could not be kept (argvals full) */
#define ST_FILES_DROPPED 4      /* a path or port event could not be sent (ring full) */
#define ST_PATHS_TRUNCATED 5    /* a path deeper or longer than the walk allows */
#define ST_PATHS_UNREADABLE 6   /* a path or address not readable at entry (page not resident) */
#define STATS 8

#define EV_EXEC 1
#define EV_EXIT 2               /* a task exited; `last` when it was its process's last */
#define EV_FORK 3
#define EV_FILE 4               /* a path and what was done to it (--landlock, --apparmor) */
#define EV_PORT 5               /* a bind or connect address */
#define EV_ADOPT 6              /* a running task joined the recording (record --attach) */

/* What was done to a path: bit indexes of a path event's access (model::files). */
#define F_CREATE_BIT 3

#define NR_OPEN 2
#define NR_CREAT 85
#define NR_OPENAT 257
#define NR_OPENAT2 437
#define NR_BIND 49
#define NR_CONNECT 42
#define NR_EXECVEAT 322
#define NR_CLONE 56

/* Set by user space at load time; the verifier drops the code of what is not wanted. */
volatile const u32 want_args = 0;
volatile const u32 want_files = 0;

struct task_state {
	u64 seen[WORDS];
	/* record --attach of a container: a task that entered its mount namespace from outside
	 * (setns: the runtime's exec helper, runc init or crun) runs the runtime's code until it
	 * execs the command, under no filter yet: nothing of it counts until then. */
	u64 until_exec;
};

struct ev_bitmap {
	u32 type;
	u32 tgid;
	u64 seen[WORDS];
	u32 last;
	u32 len;                /* EV_EXEC: the length of the new image's path, which follows */
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

/* record --attach: which running tasks join the recording, at their next syscall or fork.
 * Once a task has storage it is tracked whatever it does next (a process in the container
 * that unshares its mount namespace stays recorded); its children are tracked at birth. */
#define SCOPE_NONE 0
#define SCOPE_CGROUP 2          /* tasks whose cgroup v2 ancestor at `scope_level` is `scope_id` */
#define SCOPE_MNTNS 3           /* tasks in the mount namespace whose inode is `scope_id` */
/* Set at load time: without an attach the verifier drops the test from the hot path. (A pid
 * target needs none: user space gives its tasks storage itself, through pidfds.) */
volatile const u32 scope_mode = SCOPE_NONE;
volatile const u32 scope_level = 0;
volatile const u64 scope_id = 0;

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

/* Per x86_64 syscall: which two arguments to keep for --args, masked (model::args::kept). */
struct argspec {
	u64 info;               /* bit 0: kept; bit 1: arg 0 is a signal target (kept by kind);
				 * bits 8-15, 16-23: the argument indexes */
	u64 mask[2];
	u64 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NR_MAX);
	__type(key, u32);
	__type(value, struct argspec);
} argspecs SEC(".maps");

/* The distinct kept values: {nr, value 0, value 1}. A set: the value is unused. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u64[3]);
	__type(value, u8);
} argvals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* Ring wakeups: user space reads every 50 ms and is woken early only when the ring is a
 * quarter full, so that no fork, exec or exit costs the machine a context switch. */
static __always_inline u64 wakeup(void)
{
	u64 size = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > size / 4 ? BPF_RB_FORCE_WAKEUP
									: BPF_RB_NO_WAKEUP;
}

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

static __always_inline u64 arg_of(struct pt_regs *r, u64 i)
{
	switch (i) {
	case 0: return r->di;
	case 1: return r->si;
	case 2: return r->dx;
	case 3: return r->r10;
	case 4: return r->r8;
	default: return r->r9;
	}
}

/* Keeps the deciding bits of this call's arguments, if its syscall has any (--args). */
static __always_inline void keep_args(struct pt_regs *regs, u32 nr)
{
	struct argspec *sp = bpf_map_lookup_elem(&argspecs, &nr);
	if (!sp || !(sp->info & 1))
		return;
	u64 key[3];
	key[0] = nr;
	key[1] = arg_of(regs, (sp->info >> 8) & 0xff);
	key[2] = arg_of(regs, (sp->info >> 16) & 0xff);
	if (sp->info & 2) {
		/* kill/tgkill: only whether the pid is 0, -1, another group or one process */
		int pid = (int)key[1];
		key[1] = pid == 0 ? 0 : pid == -1 ? 0xffffffff : pid < -1 ? 0xfffffffe : 1;
	}
	key[1] &= sp->mask[0];
	key[2] &= sp->mask[1];
	if (bpf_map_lookup_elem(&argvals, key))
		return;
	u8 one = 1;
	if (bpf_map_update_elem(&argvals, key, &one, BPF_NOEXIST) == -7 /* E2BIG: full */)
		stat_add(ST_ARGS_DROPPED);
}

/* --- Paths and ports (--landlock, --apparmor): only when wanted. ---
 * Read at entry, as the other backends do: the path string from the workload's memory (a page
 * that is not resident cannot be read here: counted, never silently lost) and, for a relative
 * one, its base directory (the cwd or the directory fd) walked up in the kernel, so that it is
 * resolved as the task saw it at that moment. Whether an O_CREAT open created its file is
 * known at exit only: the created file's path comes from the exit hook. */

#define FMODE_CREATED 0x100000
#define FMODE_PATH 0x4000
#define AT_FDCWD -100
#define NONE 0xff
#define FROM_FLAGS 0xff         /* access: decided from the open flags in user space */
/* With FROM_FLAGS, bits 8-9 of the access: whether the opened path is a directory. */
#define DIR_UNKNOWN 0           /* the open failed: user space looks */
#define DIR_NO 1
#define DIR_YES 2
#define S_IFMT 0170000
#define S_IFDIR 0040000

/* Per x86_64 syscall: its path arguments (model::files::path_args). */
struct pathspec {
	u8 n;                   /* number of path arguments (0: none) */
	u8 flags;               /* index of the open flags argument, or NONE */
	u8 path[2];
	u8 dirfd[2];            /* NONE: relative to the cwd */
	u8 access[2];           /* bit index (F_*), or FROM_FLAGS */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NR_MAX);
	__type(key, u32);
	__type(value, struct pathspec);
} pathspecs SEC(".maps");

/* Header of a path event; the path (base, '/', argument) follows. */
struct path_hdr {
	u32 type;
	u32 tgid;
	u32 access;             /* F_* bits, or FROM_FLAGS */
	u32 len;
	u64 flags;              /* the open flags, when access is FROM_FLAGS */
};

#define HDR ((u32)sizeof(struct path_hdr))
#define BASE_END 4096           /* the base directory ends here; the argument follows */

struct scratch {
	char buf[4 * BASE_END];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

#define WALK_DEPTH 128

struct walk {
	void *d;
	void *vmnt;
	void *m;
	void *root_d;
	void *root_m;
	u32 off;
	u32 done;
	u32 min;                /* room left before the path, for the event's header */
	/* Field offsets, relocated in the caller: aya leaves CO-RE relocations in bpf_loop
	 * callbacks unapplied. */
	u64 o_mnt_root, o_d_parent, o_d_len, o_d_name, o_mnt_parent, o_mountpoint, o_mnt;
};

static __always_inline void *ptr_at(void *base, u64 off)
{
	void *p = 0;
	bpf_probe_read_kernel(&p, sizeof(p), base + off);
	return p;
}

/* One step up: a name written, or a mount point crossed. Returns 1 when the root is reached
 * (done) or the path does not fit (not done). A bpf_loop callback: verified once. */
static long walk_step(u64 i, void *data)
{
	struct walk *w = data;
	u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 1;
	if (w->d == w->root_d && w->vmnt == w->root_m) {
		w->done = 1;
		return 1;
	}
	void *mnt_root = ptr_at(w->vmnt, w->o_mnt_root);
	void *parent = ptr_at(w->d, w->o_d_parent);
	if (w->d == mnt_root || w->d == parent) {
		void *up = ptr_at(w->m, w->o_mnt_parent);
		if (up == w->m) {
			w->done = 1; /* the global root: the task's root is not above it */
			return 1;
		}
		w->d = ptr_at(w->m, w->o_mountpoint);
		w->m = up;
		w->vmnt = up + w->o_mnt;
		return 0;
	}
	u32 len = 0;
	bpf_probe_read_kernel(&len, sizeof(len), w->d + w->o_d_len);
	len &= 0xff;
	u32 off = w->off;
	if (off > BASE_END || off < w->min + len + 1)
		return 1;
	off -= len + 1;
	bpf_probe_read_kernel(&s->buf[(off + 1) & (BASE_END - 1)], len,
			      ptr_at(w->d, w->o_d_name));
	s->buf[off & (BASE_END - 1)] = '/';
	w->off = off;
	w->d = parent;
	return 0;
}

/* Writes the path of `d` on mount `vmnt`, as the current task sees it (up to its root,
 * crossing mount points), backwards so that it ends at BASE_END. Returns where it starts, or
 * 0 when it is deeper or longer than followed. "/" is written as the empty string. */
static __always_inline u32 walk_min(struct dentry *d, struct vfsmount *vmnt, u32 min)
{
	struct task_struct *task = bpf_get_current_task_btf();
	u64 o_mnt = bpf_core_field_offset(struct mount, mnt);
	struct walk w = {
		.d = d,
		.vmnt = vmnt,
		.m = (void *)vmnt - o_mnt,
		.root_d = BPF_CORE_READ(task, fs, root.dentry),
		.root_m = BPF_CORE_READ(task, fs, root.mnt),
		.off = BASE_END,
		.min = min,
		.o_mnt_root = bpf_core_field_offset(struct vfsmount, mnt_root),
		.o_d_parent = bpf_core_field_offset(struct dentry, d_parent),
		.o_d_len = bpf_core_field_offset(struct dentry, d_name.len),
		.o_d_name = bpf_core_field_offset(struct dentry, d_name.name),
		.o_mnt_parent = bpf_core_field_offset(struct mount, mnt_parent),
		.o_mountpoint = bpf_core_field_offset(struct mount, mnt_mountpoint),
		.o_mnt = o_mnt,
	};
	bpf_loop(WALK_DEPTH, walk_step, &w, 0);
	return w.done ? w.off : 0;
}

static __always_inline u32 walk(struct dentry *d, struct vfsmount *vmnt)
{
	return walk_min(d, vmnt, HDR);
}

/* The open file at `fd` of the current task. */
static __always_inline struct file *file_at(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (fd < 0 || (u32)fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* Sends the path that starts at `off` in `s` (header written before it) and is `len` long. */
static __always_inline void send_path(struct scratch *s, u32 off, u32 len, u32 access, u64 flags)
{
	if (off < HDR)
		return;
	u32 at = (off - HDR) & (BASE_END - 1);
	struct path_hdr *h = (struct path_hdr *)&s->buf[at];
	h->type = EV_FILE;
	h->tgid = bpf_get_current_pid_tgid() >> 32;
	h->access = access;
	h->len = len;
	h->flags = flags;
	u64 size = HDR + len;
	if (size > 2 * BASE_END)
		size = 2 * BASE_END;
	if (bpf_ringbuf_output(&events, &s->buf[at], size, wakeup()))
		stat_add(ST_FILES_DROPPED);
}

/* Not inlined: verified once per call site instead of once per path of its caller. */
static __noinline void path_arg(struct pt_regs *regs, struct pathspec *sp, int i, u32 hint)
{
	u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return;
	const char *user = (const char *)arg_of(regs, sp->path[i & 1]);
	/* The argument goes right after the base: base "/" argument. */
	long n = bpf_probe_read_user_str(&s->buf[BASE_END + 1], BASE_END - 1, user);
	if (n <= 0) {
		stat_add(ST_PATHS_UNREADABLE);
		return;
	}
	u32 off = BASE_END + 1;
	if (s->buf[BASE_END + 1] != '/') {
		struct vfsmount *mnt;
		struct dentry *d;
		u8 dirfd = sp->dirfd[i & 1];
		int fd = dirfd == NONE ? AT_FDCWD : (int)arg_of(regs, dirfd);
		if (fd == AT_FDCWD) {
			struct task_struct *task = bpf_get_current_task_btf();
			mnt = BPF_CORE_READ(task, fs, pwd.mnt);
			d = BPF_CORE_READ(task, fs, pwd.dentry);
		} else {
			struct file *f = file_at(fd);
			if (!f)
				return; /* EBADF: the call fails, nothing is accessed */
			mnt = BPF_CORE_READ(f, f_path.mnt);
			d = BPF_CORE_READ(f, f_path.dentry);
		}
		off = walk(d, mnt);
		if (!off) {
			stat_add(ST_PATHS_TRUNCATED);
			return;
		}
		s->buf[BASE_END] = '/';
	}
	u64 flags = sp->flags == NONE ? 0 : arg_of(regs, sp->flags);
	u8 acc = sp->access[i & 1];
	send_path(s, off, BASE_END + (u32)n - off,
		  acc == FROM_FLAGS ? FROM_FLAGS | hint << 8 : 1u << (acc & 7), flags);
}

/* `hint` for opens: what the opened file is, when the open succeeded (see DIR_*). */
static __always_inline void keep_paths(struct pt_regs *regs, u32 nr, u32 hint)
{
	struct pathspec *sp = bpf_map_lookup_elem(&pathspecs, &nr);
	if (!sp || !sp->n)
		return;
	path_arg(regs, sp, 0, hint);
	if (sp->n > 1)
		path_arg(regs, sp, 1, hint);
}

struct ev_port {
	u32 type;
	u32 tgid;
	u32 connect;
	u8 addr[4];             /* family (host order) and port (network order) */
};

static __always_inline void keep_port(struct pt_regs *regs, u32 connect)
{
	if ((int)arg_of(regs, 2) < 4)
		return;
	struct ev_port ev = {.type = EV_PORT, .connect = connect};
	ev.tgid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_probe_read_user(ev.addr, sizeof(ev.addr), (void *)arg_of(regs, 1))) {
		stat_add(ST_PATHS_UNREADABLE);
		return;
	}
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), wakeup()))
		stat_add(ST_FILES_DROPPED);
}

/* At exit, the paths and addresses of every call but exec: the kernel has copied them from
 * the workload's memory by then, so their pages are resident (at entry they may not be yet).
 * Also the file an open created (O_CREAT, and it did not exist), as resolved. */
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (!bpf_task_storage_get(&tasks, task, 0, 0))
		return 0;
	if (task->thread_info.status & TS_COMPAT)
		return 0;
	long nr = regs->orig_ax;
	if (nr < 0 || nr >= NR_MAX || nr == NR_EXECVE || nr == NR_EXECVEAT)
		return 0;
	if (nr == NR_BIND || nr == NR_CONNECT) {
		keep_port(regs, nr == NR_CONNECT);
		return 0;
	}
	int open = nr == NR_OPEN || nr == NR_OPENAT || nr == NR_CREAT || nr == NR_OPENAT2;
	struct file *f = open && ret >= 0 ? file_at((int)ret) : 0;
	u32 hint = DIR_UNKNOWN;
	if (f)
		hint = (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) == S_IFDIR ? DIR_YES : DIR_NO;
	keep_paths(regs, (u32)nr, hint);
	if (!f || !(BPF_CORE_READ(f, f_mode) & FMODE_CREATED))
		return 0;
	u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 0;
	u32 off = walk(BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt));
	if (!off) {
		stat_add(ST_PATHS_TRUNCATED);
		return 0;
	}
	send_path(s, off, BASE_END - off, 1u << F_CREATE_BIT, 0);
	return 0;
}

struct ev_adopt {
	u32 type;
	u32 tgid;
};

/* Whether the current task `task` is in the attach scope; then it gets storage, and user
 * space hears of its process (it reads the executable from /proc: the process runs it). */
static __always_inline struct task_state *adopt(struct task_struct *task)
{
	u32 tgid = task->tgid;
	if (scope_mode == SCOPE_CGROUP) {
		if (bpf_get_current_ancestor_cgroup_id(scope_level) != scope_id)
			return 0;
	} else if (scope_mode == SCOPE_MNTNS) {
		if (BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum) != scope_id)
			return 0;
	} else {
		return 0;
	}
	struct task_state *st = bpf_task_storage_get(&tasks, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st) {
		stat_add(ST_TASKS_DROPPED);
		return 0;
	}
	/* The container's processes at the attach were given storage by user space; one that
	 * joins now with a parent outside the namespace entered it (docker/podman exec). */
	if (scope_mode == SCOPE_MNTNS &&
	    BPF_CORE_READ(task, real_parent, nsproxy, mnt_ns, ns.inum) != scope_id)
		st->until_exec = 1;
	struct ev_adopt *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		stat_add(ST_EVENTS_DROPPED);
		return st;
	}
	ev->type = EV_ADOPT;
	ev->tgid = tgid;
	bpf_ringbuf_submit(ev, wakeup());
	return st;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_state *st = bpf_task_storage_get(&tasks, task, 0, 0);
	if (!st) {
		/* The workload's first execve, made before it is tracked: its path counts. */
		if (want_files && id == NR_EXECVE) {
			u32 zero = 0;
			u32 *t = bpf_map_lookup_elem(&target, &zero);
			if (t && *t == (u32)task->tgid)
				keep_paths(regs, NR_EXECVE, DIR_UNKNOWN);
		}
		st = adopt(task);
		if (!st)
			return 0;
	}
	if (st->until_exec)
		return 0;
	if (id < 0 || id >= NR_MAX) {
		stat_add(ST_NR_OUT_OF_RANGE);
		return 0;
	}
	u32 abi = (task->thread_info.status & TS_COMPAT) ? 1 : 0;
	count(st, abi * NR_MAX + (u32)id);
	if (abi != 0)
		return 0; /* arguments and paths: the native ABI's layouts only */
	if (want_args)
		keep_args(regs, (u32)id);
	else if (id == NR_CLONE)
		/* Always: whether clone created namespaces decides its rule in every profile. */
		keep_args(regs, NR_CLONE);
	/* An exec's path is read now: at exit the memory is the new program's. */
	if (want_files && (id == NR_EXECVE || id == NR_EXECVEAT))
		keep_paths(regs, (u32)id, DIR_UNKNOWN);
	return 0;
}

/* Sends `st`'s bitmap at an exit, then clears it. */
static __always_inline void flush(struct task_state *st, u32 tgid, u32 last)
{
	struct ev_bitmap *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		stat_add(ST_EVENTS_DROPPED);
		return;
	}
	ev->type = EV_EXIT;
	ev->tgid = tgid;
	ev->last = last;
	ev->len = 0;
	bpf_probe_read_kernel(ev->seen, sizeof(ev->seen), st->seen);
	__builtin_memset(st->seen, 0, sizeof(st->seen));
	bpf_ringbuf_submit(ev, wakeup());
}

#define EXEC_HDR ((u32)sizeof(struct ev_bitmap))

/* Sends `st`'s bitmap (what the old image made) with the new image's path, as resolved by the
 * kernel and seen from the task's root; then clears it. */
static __always_inline void flush_exec(struct task_state *st, u32 tgid, struct linux_binprm *bprm)
{
	u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return;
	struct file *file = BPF_CORE_READ(bprm, file);
	u32 off = walk_min(BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt),
			   EXEC_HDR);
	u32 len = BASE_END - off;
	if (!off) {
		/* Too deep: the name it was exec'd by. */
		stat_add(ST_PATHS_TRUNCATED);
		off = BASE_END - 256;
		long n = bpf_probe_read_kernel_str(&s->buf[off], 256, BPF_CORE_READ(bprm, filename));
		len = n > 1 ? n - 1 : 0;
	}
	/* After the resolved path (which ends at BASE_END), the path given to execve, as given:
	 * the name the user knows (a symlink, a script run by its interpreter). In `last`. */
	u32 given = 0;
	if (off + len == BASE_END) {
		long n = bpf_probe_read_kernel_str(&s->buf[BASE_END], 256, BPF_CORE_READ(bprm, filename));
		given = n > 1 ? n - 1 : 0;
	}
	u32 at = (off - EXEC_HDR) & (BASE_END - 1);
	struct ev_bitmap *h = (struct ev_bitmap *)&s->buf[at];
	h->type = EV_EXEC;
	h->tgid = tgid;
	h->last = given;
	h->len = len;
	/* One helper call, not a loop the verifier walks word by word on every path. */
	bpf_probe_read_kernel(h->seen, sizeof(h->seen), st->seen);
	u64 size = EXEC_HDR + (len & (BASE_END - 1)) + (given & 255);
	if (bpf_ringbuf_output(&events, h, size, wakeup())) {
		/* Kept in the bitmap: attributed to the task's next image instead of being lost. */
		stat_add(ST_EVENTS_DROPPED);
		return;
	}
	__builtin_memset(st->seen, 0, sizeof(st->seen));
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
	} else if (st->until_exec) {
		/* An exec helper became the command: recorded from here on, its execve included. */
		st->until_exec = 0;
		count(st, NR_EXECVE);
	}
	flush_exec(st, tgid, bprm);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	/* The parent is the current task: one in the attach scope that has made no syscall
	 * since the attach joins now, so that its child is not missed. */
	struct task_state *ps = bpf_task_storage_get(&tasks, parent, 0, 0);
	if (!ps)
		ps = adopt(parent);
	if (!ps)
		return 0;
	struct task_state *cs = bpf_task_storage_get(&tasks, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!cs) {
		stat_add(ST_TASKS_DROPPED);
		return 0;
	}
	cs->until_exec = ps->until_exec;
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
	bpf_ringbuf_submit(ev, wakeup());
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *p)
{
	struct task_state *st = bpf_task_storage_get(&tasks, p, 0, 0);
	if (!st)
		return 0;
	/* Through a helper, not a typed load: for every typed load of a pointer the verifier
	 * searches the kernel's whole BTF by name for trust annotations (~1 ms of the load). */
	flush(st, p->tgid, BPF_CORE_READ(p, signal, live.counter) == 0);
	bpf_task_storage_delete(&tasks, p);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
