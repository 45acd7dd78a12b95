// SPDX-License-Identifier: GPL-2.0
/* nightjar.bpf.c - Nightjar's kernel sensor.
 *
 * One object, one ring buffer. Capabilities and the hooks that serve them (the agent turns
 * programs on or off with bpf_program__set_autoload() after probing the kernel):
 *   process  tp_btf/sched_process_{exec,fork,exit}
 *   file     lsm/file_open (sees io_uring too) | tracepoint syscalls sys_exit_open*
 *   connect  tracepoint syscalls sys_exit_connect
 *   listen   tracepoint syscalls sys_exit_listen
 *   accept   tracepoint syscalls sys_exit_accept{,4}
 *   udp      cgroup/sendmsg{4,6} on the cgroup v2 root (unconnected sends only)
 *
 * Every path reads kernel memory with BPF_CORE_READ so the same code serves tracepoint,
 * cgroup and LSM programs. Records are submitted without a wakeup unless the ring holds
 * wakeup_bytes already; the agent drains on a timer, so latency stays under flush_interval.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "nightjar.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET	    2
#define AF_INET6    10
#define S_IFMT	    00170000
#define S_IFREG	    0100000
#define S_IFSOCK    0140000
#define SOCK_DGRAM  2
#define IPPROTO_UDP 17

/* Load-time settings, written by the agent between open and load. */
const volatile __u32 agent_tgid = 0;	   /* the agent's own activity is never reported */
const volatile __u64 wakeup_bytes = 65536; /* wake the agent once this much is queued */
const volatile __u8 hooks_only = 0;	   /* benchmark floor: attach everything, do nothing */

/* See nj_bloom_*() in nightjar.h. The agent sets bits before it adds map entries and clears
 * them only after a rescan, so a bit is never missing for a watched file. */
__u64 ino_bloom[NJ_BLOOM_WORDS];
__u64 name_bloom[NJ_BLOOM_WORDS];

/* All records, in the order they were reserved. Sized by the agent (ring_buffer_size). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} rb SEC(".maps");

/* Loss and volume counters, NJ_STAT_*; summed over CPUs by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NJ_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Build area for variable-length records (exec, open): too big for the 512-byte stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[NJ_EXEC_MAX]);
} scratch SEC(".maps");

/* Watched files by identity (dev, ino): hardlinks, bind mounts, glob-expanded patterns. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct nj_inode_key);
	__type(value, __u32);
} watch_inodes SEC(".maps");

/* Credential file names: the leaf alone (NJ_NAME_ANY_PARENT) or leaf + parent (watch_sigs).
 * Survives rename-over-replace and copies anywhere, because it never depends on an inode. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, char[NJ_LEAF_MAX]);
	__type(value, __u32);
} watch_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct nj_sig_key);
	__type(value, __u32);
} watch_sigs SEC(".maps");

/* Destination lists (rules' destination_lists): address prefix -> list index + 1. An LPM trie
 * answers longest-prefix match in one lookup, whatever the number of prefixes. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 262144);
	__type(key, struct nj_cidr_key);
	__type(value, __u16);
} dest_intel SEC(".maps");

/* Set by the agent when dest_intel holds any prefix: the common case costs no lookup. */
volatile __u32 intel_on;

/* Last destination reported for an unconnected UDP socket, so a resolver's thousandth
 * query to the same server costs no record. */
struct udp_seen {
	__u8 addr[16];
	__u16 port;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct udp_seen);
} udp_seen SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
}

static __always_inline bool is_self(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == agent_tgid;
}

/* Batched wakeups: a wakeup per record costs ~2.5x on an open() loop (kernel-hooks.md), and
 * waking on every record once the queue is past the threshold is a storm of its own until the
 * agent runs. So wake only when a record takes the queue across a multiple of wakeup_bytes:
 * once per wakeup_bytes of data, and a crossing that two CPUs race past is caught at the next
 * multiple. The agent's flush timer bounds the latency of a quiet queue. */
static __always_inline __u64 wake_flags(__u64 before, __u64 after)
{
	return before / wakeup_bytes != after / wakeup_bytes ? BPF_RB_FORCE_WAKEUP
							     : BPF_RB_NO_WAKEUP;
}

static __always_inline void output(void *rec, __u64 size)
{
	__u64 queued = bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA);

	/* The verifier needs the size bounded by the scratch value it comes from. */
	if (size > NJ_EXEC_MAX)
		size = NJ_EXEC_MAX;
	if (bpf_ringbuf_output(&rb, rec, size, wake_flags(queued, queued + size)))
		stat_inc(NJ_STAT_RB_DROP);
	else
		stat_inc(NJ_STAT_RECORDS);
}

static __always_inline void *reserve(__u64 size)
{
	void *rec = bpf_ringbuf_reserve(&rb, size, 0);

	if (!rec)
		stat_inc(NJ_STAT_RB_DROP);
	return rec;
}

/* Fixed-size records: the reservation already counts in the queue. */
static __always_inline void submit(void *rec, __u64 size)
{
	__u64 queued = bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA);

	bpf_ringbuf_submit(rec, wake_flags(queued > size ? queued - size : 0, queued));
	stat_inc(NJ_STAT_RECORDS);
}

static __always_inline void *scratch_buf(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

/* task must be a BTF pointer (a tp_btf argument or bpf_get_current_task_btf()): fields are
 * then plain loads the verifier guards, not a bpf_probe_read_kernel() call each, which on a
 * record with twenty fields is most of its cost. */
static __always_inline void fill_task(struct nj_task *t, struct task_struct *task)
{
	struct task_struct *parent = task->real_parent;
	const struct cred *cred = task->cred;

	t->tgid = task->tgid;
	t->pid = task->pid;
	t->ppid = parent->tgid;
	t->uid = cred->uid.val;
	t->gid = cred->gid.val;
	t->euid = cred->euid.val;
	/* loginuid and sessionid only exist with CONFIG_AUDITSYSCALL */
	if (bpf_core_field_exists(task->loginuid)) {
		t->loginuid = task->loginuid.val;
		t->sessionid = task->sessionid;
	} else {
		t->loginuid = (__u32)-1;
		t->sessionid = (__u32)-1;
	}
	t->sid = task->signal->pids[PIDTYPE_SID]->numbers[0].nr;
	t->mntns = task->nsproxy->mnt_ns->ns.inum;
	t->pidns = task->nsproxy->pid_ns_for_children->ns.inum;
	t->netns = task->nsproxy->net_ns->ns.inum;
	/* A process is identified by its leader's start: threads and exec keep it. */
	t->start_ns = task->group_leader->start_boottime;
	t->parent_start_ns = parent->group_leader->start_boottime;
	t->cgroup_id = bpf_get_current_cgroup_id();
	bpf_probe_read_kernel(t->comm, sizeof(t->comm), task->comm);
}

static __always_inline void fill_hdr(struct nj_hdr *h, __u32 kind, __u32 size,
				     struct task_struct *task)
{
	h->kind = kind;
	h->size = size;
	h->ts = bpf_ktime_get_boot_ns();
	fill_task(&h->task, task);
}

/* State of one path walk, carried through bpf_loop. */
struct walk {
	struct dentry *d;
	struct mount *m;
	char *buf;
	__u32 off;
	__u16 depth;
	__u16 flags;
};

static long walk_step(__u32 i, void *arg)
{
	struct walk *w = arg;
	struct dentry *d = w->d, *parent = BPF_CORE_READ(d, d_parent);
	struct mount *m = w->m;
	const unsigned char *name;
	long n;

	if (d == BPF_CORE_READ(m, mnt.mnt_root)) {
		struct mount *mp = BPF_CORE_READ(m, mnt_parent);

		if (mp == m)
			return 1; /* the root of this mount tree */
		w->d = BPF_CORE_READ(m, mnt_mountpoint);
		w->m = mp;
		return 0;
	}
	if (w->off >= NJ_PATH_MAX) {
		w->flags |= NJ_PATH_TRUNCATED;
		return 1;
	}
	name = BPF_CORE_READ(d, d_name.name);
	n = bpf_probe_read_kernel_str(&w->buf[w->off & (NJ_PATH_MAX - 1)], NJ_NAME_MAX, name);
	if (n <= 0)
		return 1;
	w->off += n;
	w->depth++;
	if (d == parent) {
		/* its own parent but not a mount root: memfd, pipe, anon inode */
		w->flags |= NJ_PATH_DETACHED;
		return 1;
	}
	w->d = parent;
	if (i == NJ_PATH_DEPTH - 1)
		w->flags |= NJ_PATH_TRUNCATED;
	return 0;
}

/* Walk a path from its dentry to the root, crossing mounts, into buf (which has at least
 * NJ_PATH_MAX + NJ_NAME_MAX bytes): bpf_d_path is only allowed in iterators and some LSM
 * hooks. bpf_loop (5.17+) keeps verification to one pass over the step; an unrolled or
 * bounded loop multiplies verifier states by every branch in every iteration. */
static __always_inline void walk_path(struct nj_path *np, char *buf, struct dentry *d,
				      struct vfsmount *vm)
{
	struct walk w = {
		.d = d,
		.m = (void *)vm - bpf_core_field_offset(struct mount, mnt),
		.buf = buf,
	};
	struct inode *inode = BPF_CORE_READ(d, d_inode);

	if (inode && BPF_CORE_READ(inode, __i_nlink) == 0)
		w.flags |= NJ_PATH_DELETED;
	bpf_loop(NJ_PATH_DEPTH, walk_step, &w, 0);
	np->len = w.off;
	np->depth = w.depth;
	np->flags = w.flags;
	if (w.flags & NJ_PATH_TRUNCATED)
		stat_inc(NJ_STAT_PATH_TRUNC);
}

/* ---- process lifecycle ------------------------------------------------------------------ */

SEC("tp_btf/sched_process_exec")
int BPF_PROG(nj_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct nj_exec *e;
	struct file *exe;
	unsigned long as, ae, len;
	struct tty_struct *tty;

	if (hooks_only || is_self())
		return 0;
	e = scratch_buf();
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	fill_hdr(&e->hdr, NJ_REC_EXEC, 0, p);

	/* argv is in the new mm between arg_start and arg_end, NUL-separated */
	as = BPF_CORE_READ(p, mm, arg_start);
	ae = BPF_CORE_READ(p, mm, arg_end);
	len = ae > as ? ae - as : 0;
	if (len > NJ_ARGS_MAX - 1) {
		len = NJ_ARGS_MAX - 1;
		e->args_trunc = 1;
		stat_inc(NJ_STAT_ARGS_TRUNC);
	}
	len &= NJ_ARGS_MAX - 1;
	if (len && bpf_probe_read_user(e->data, len, (void *)as) == 0)
		e->args_len = len;

	/* the file that really runs: not the caller's string (symlink, /dev/fd/N, memfd) */
	exe = BPF_CORE_READ(p, mm, exe_file);
	if (exe) {
		struct inode *inode = BPF_CORE_READ(exe, f_inode);

		e->exe_dev = BPF_CORE_READ(inode, i_sb, s_dev);
		e->exe_ino = BPF_CORE_READ(inode, i_ino);
		walk_path(&e->exe, &e->data[e->args_len & (NJ_ARGS_MAX - 1)],
			  BPF_CORE_READ(exe, f_path.dentry), BPF_CORE_READ(exe, f_path.mnt));
	}
	tty = BPF_CORE_READ(p, signal, tty);
	if (tty)
		BPF_CORE_READ_STR_INTO(&e->tty, tty, name);

	/* the walk keeps exe.len below NJ_PATH_MAX + NJ_NAME_MAX; output() bounds the size for the
	 * verifier (a mask would have to be a power of two to bound without cutting) */
	e->hdr.size = sizeof(*e) + e->args_len + e->exe.len;
	output(e, e->hdr.size);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(nj_fork, struct task_struct *parent, struct task_struct *child)
{
	struct nj_fork *e;

	if (hooks_only || is_self())
		return 0;
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0; /* a new thread, not a new process */
	e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_hdr(&e->hdr, NJ_REC_FORK, sizeof(*e), child);
	submit(e, sizeof(*e));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(nj_exit, struct task_struct *p)
{
	struct nj_exit *e;

	if (hooks_only || is_self())
		return 0;
	/* Fires per thread; do_exit has already dropped signal->live, so 0 means this is the
	 * last thread. (6.18 passes group_dead as an argument; older kernels do not.) */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_hdr(&e->hdr, NJ_REC_EXIT, sizeof(*e), p);
	e->exit_code = BPF_CORE_READ(p, exit_code);
	e->pad = 0;
	submit(e, sizeof(*e));
	return 0;
}

/* ---- credential files ------------------------------------------------------------------ */

static __always_inline bool bloom_has(const __u64 *bloom, __u32 bit)
{
	return bloom[(bit / 64) & (NJ_BLOOM_WORDS - 1)] & (1ULL << (bit & 63));
}

/* Decide in the kernel whether an opened file is watched. Unwatched opens (nearly all) end at
 * two bloom bit tests; a bit hit costs a hash lookup by identity, or by leaf name and, for a
 * leaf that needs it, a third by (leaf, parent). */
static __always_inline void check_open(struct file *f)
{
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
	struct nj_inode_key ik = {};
	struct nj_sig_key sk = {};
	const unsigned char *name;
	__u32 match = 0, len, mode, *want;
	struct dentry *parent;
	struct nj_open *e;
	__u64 prefix = 0;

	ik.ino = BPF_CORE_READ(inode, i_ino);
	if (bloom_has(ino_bloom, nj_bloom_ino(ik.ino))) {
		ik.dev = BPF_CORE_READ(inode, i_sb, s_dev);
		if (bpf_map_lookup_elem(&watch_inodes, &ik))
			match = NJ_MATCH_INODE;
	}

	if (!match) {
		len = BPF_CORE_READ(d, d_name.len);
		if (len == 0 || len >= NJ_LEAF_MAX)
			return;
		name = BPF_CORE_READ(d, d_name.name);
		/* 8 bytes are always readable: short names live inline in the dentry */
		bpf_probe_read_kernel(&prefix, sizeof(prefix), name);
		if (len < 8)
			prefix &= (1ULL << (len * 8)) - 1;
		if (!bloom_has(name_bloom, nj_bloom_name(len, prefix)))
			return;
		/* exactly len bytes into a zeroed key: the hash covers the whole key */
		bpf_probe_read_kernel(sk.leaf, len & (NJ_LEAF_MAX - 1), name);
		want = bpf_map_lookup_elem(&watch_names, sk.leaf);
		if (!want)
			return;
		if (*want & NJ_NAME_ANY_PARENT) {
			match = NJ_MATCH_NAME;
		} else {
			parent = BPF_CORE_READ(d, d_parent);
			len = BPF_CORE_READ(parent, d_name.len);
			if (len == 0 || len >= NJ_PARENT_MAX)
				return;
			bpf_probe_read_kernel(sk.parent, len & (NJ_PARENT_MAX - 1),
					      BPF_CORE_READ(parent, d_name.name));
			if (!bpf_map_lookup_elem(&watch_sigs, &sk))
				return;
			match = NJ_MATCH_SIGNATURE;
		}
	}
	/* a directory that happens to carry a credential file's name is not one */
	mode = BPF_CORE_READ(inode, i_mode);
	if ((mode & S_IFMT) != S_IFREG)
		return;

	stat_inc(NJ_STAT_OPEN_MATCHED);
	e = scratch_buf();
	if (!e)
		return;
	fill_hdr(&e->hdr, NJ_REC_OPEN, 0, bpf_get_current_task_btf());
	e->flags = BPF_CORE_READ(f, f_flags);
	e->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	e->ino = ik.ino;
	e->match = match;
	e->mode = mode;
	e->owner = BPF_CORE_READ(inode, i_uid.val);
	e->pad = 0;
	walk_path(&e->path, e->data, d, BPF_CORE_READ(f, f_path.mnt));
	e->hdr.size = sizeof(*e) + e->path.len;
	output(e, e->hdr.size);
}

/* Best tier: every open, io_uring's included, after the file is set up. */
SEC("lsm/file_open")
int BPF_PROG(nj_lsm_file_open, struct file *file)
{
	if (!hooks_only && !is_self())
		check_open(file);
	return 0;
}

/* The fd table through BTF pointers (plain loads); the entry itself loads as a scalar, so the
 * file's fields are read with CO-RE helpers from here on. */
static __always_inline struct file *fd_to_file(int fd)
{
	struct fdtable *fdt = bpf_get_current_task_btf()->files->fdt;

	if (fd < 0 || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	return fdt->fd[fd];
}

/* Fallback tier: the returned fd is resolved to its struct file, so flags, relative paths and
 * symlinks need no entry probe and no per-open map update. */
static __always_inline int open_exit(long ret)
{
	struct file *f;

	if (hooks_only || ret < 0 || is_self())
		return 0;
	f = fd_to_file((int)ret);
	if (f)
		check_open(f);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int nj_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int nj_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_open")
int nj_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int nj_exit_creat(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_open_by_handle_at")
int nj_exit_open_by_handle_at(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

/* ---- network ------------------------------------------------------------------------- */

static __always_inline struct sock *fd_to_sock(int fd)
{
	struct file *f = fd_to_file(fd);
	struct socket *so;

	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	so = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(so, sk);
}

/* Fill family/type/protocol and both ends from a socket. Returns false if not inet. */
static __always_inline bool read_sock(struct nj_net *e, struct sock *sk)
{
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (e->family != AF_INET && e->family != AF_INET6)
		return false;
	e->type = BPF_CORE_READ(sk, sk_type);
	e->protocol = BPF_CORE_READ(sk, sk_protocol);
	e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (e->family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)e->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->daddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	return true;
}

static __always_inline struct nj_net *net_begin(__u32 kind)
{
	struct nj_net *e = reserve(sizeof(*e));

	if (!e)
		return NULL;
	__builtin_memset(&e->family, 0, sizeof(*e) - offsetof(struct nj_net, family));
	fill_hdr(&e->hdr, kind, sizeof(*e), bpf_get_current_task_btf());
	return e;
}

/* Which destination list, if any, holds daddr (list index + 1). */
static __always_inline __u16 intel_match(__u16 family, const __u8 *daddr)
{
	struct nj_cidr_key k = {.prefixlen = 128};
	__u16 *v;

	if (!intel_on)
		return 0;
	if (family == AF_INET) {
		k.addr[10] = 0xff;
		k.addr[11] = 0xff;
		__builtin_memcpy(&k.addr[12], daddr, 4);
	} else {
		__builtin_memcpy(k.addr, daddr, 16);
	}
	v = bpf_map_lookup_elem(&dest_intel, &k);
	return v ? *v : 0;
}

/* A syscall's own arguments at its exit, from the user registers saved at entry: no entry
 * program and no per-thread map between the two. */
static __always_inline struct pt_regs *syscall_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/* The caller's sockaddr: only as many bytes as its family has, so a sockaddr_in at the end of
 * a page does not fail the read. Returns the family. */
static __always_inline __u16 read_user_dst(const void *uaddr, __u8 daddr[16], __u16 *dport)
{
	struct sockaddr_in6 sa = {};

	if (bpf_probe_read_user(&sa.sin6_family, sizeof(sa.sin6_family), uaddr))
		return 0;
	if (sa.sin6_family == AF_INET) {
		struct sockaddr_in sin = {};

		bpf_probe_read_user(&sin, sizeof(sin), uaddr);
		__builtin_memcpy(daddr, &sin.sin_addr, 4);
		*dport = bpf_ntohs(sin.sin_port);
	} else if (sa.sin6_family == AF_INET6) {
		bpf_probe_read_user(&sa, sizeof(sa), uaddr);
		__builtin_memcpy(daddr, &sa.sin6_addr, 16);
		*dport = bpf_ntohs(sa.sin6_port);
	}
	return sa.sin6_family;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int nj_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs;
	struct nj_net *e;
	struct sock *sk;
	__u8 daddr[16] = {};
	__u16 dport = 0;

	if (hooks_only || is_self())
		return 0;
	regs = syscall_regs();
	/* only inet destinations (not AF_UNIX, netlink) */
	if (!read_user_dst((const void *)PT_REGS_PARM2_CORE_SYSCALL(regs), daddr, &dport))
		return 0;
	sk = fd_to_sock((int)PT_REGS_PARM1_CORE_SYSCALL(regs));
	if (!sk)
		return 0;
	e = net_begin(NJ_REC_CONNECT);
	if (!e)
		return 0;
	if (!read_sock(e, sk)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 0;
	}
	e->ret = ctx->ret;
	/* the caller's destination: a refused socket may already have forgotten its peer */
	__builtin_memcpy(e->daddr, daddr, 16);
	e->dport = dport;
	e->intel = intel_match(e->family, daddr);
	submit(e, sizeof(*e));
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_listen")
int nj_exit_listen(struct trace_event_raw_sys_exit *ctx)
{
	struct nj_net *e;
	struct sock *sk;

	if (hooks_only || ctx->ret < 0 || is_self())
		return 0;
	/* at exit the port is bound, even when listen() picked it */
	sk = fd_to_sock((int)PT_REGS_PARM1_CORE_SYSCALL(syscall_regs()));
	if (!sk)
		return 0;
	e = net_begin(NJ_REC_LISTEN);
	if (!e)
		return 0;
	if (!read_sock(e, sk)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 0;
	}
	e->ret = ctx->ret;
	submit(e, sizeof(*e));
	return 0;
}

static __always_inline int accept_exit(long ret)
{
	struct nj_net *e;
	struct sock *sk;

	if (hooks_only || ret < 0 || is_self())
		return 0;
	sk = fd_to_sock((int)ret);
	if (!sk)
		return 0;
	e = net_begin(NJ_REC_ACCEPT);
	if (!e)
		return 0;
	if (!read_sock(e, sk)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 0;
	}
	e->ret = ret;
	submit(e, sizeof(*e));
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int nj_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return accept_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int nj_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return accept_exit(ctx->ret);
}

static __always_inline bool same16(const __u8 *a, const __u8 *b)
{
	__u64 a0, a1, b0, b1;

	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&a1, a + 8, 8);
	__builtin_memcpy(&b0, b, 8);
	__builtin_memcpy(&b1, b + 8, 8);
	return a0 == b0 && a1 == b1;
}

/* Unconnected UDP: report a destination the first time this socket sends to it. */
static __always_inline void udp_send(struct bpf_sock_addr *ctx, __u16 family, const __u8 *addr)
{
	struct udp_seen *seen;
	struct bpf_sock *bsk;
	struct nj_net *e;
	__u16 port = bpf_ntohs((__u16)ctx->user_port);

	if (ctx->type != SOCK_DGRAM || ctx->protocol != IPPROTO_UDP)
		return;
	bsk = ctx->sk;
	if (!bsk)
		return;
	seen = bpf_sk_storage_get(&udp_seen, bsk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (seen) {
		if (seen->port == port && same16(seen->addr, addr))
			return;
		__builtin_memcpy(seen->addr, addr, 16);
		seen->port = port;
	} else {
		stat_inc(NJ_STAT_SKSTORAGE_FAIL);
	}
	e = net_begin(NJ_REC_UDP_SEND);
	if (!e)
		return;
	e->family = family;
	e->type = SOCK_DGRAM;
	e->protocol = IPPROTO_UDP;
	e->sport = bsk->src_port;
	e->dport = port;
	__builtin_memcpy(e->daddr, addr, 16);
	e->intel = intel_match(family, addr);
	submit(e, sizeof(*e));
}

SEC("cgroup/sendmsg4")
int nj_sendmsg4(struct bpf_sock_addr *ctx)
{
	__u8 addr[16] = {};
	__u32 ip;

	if (hooks_only || is_self())
		return 1;
	ip = ctx->user_ip4;
	__builtin_memcpy(addr, &ip, 4);
	udp_send(ctx, AF_INET, addr);
	return 1; /* observe only: never refuse a send */
}

SEC("cgroup/sendmsg6")
int nj_sendmsg6(struct bpf_sock_addr *ctx)
{
	__u8 addr[16];
	__u32 w;

	if (hooks_only || is_self())
		return 1;
	/* the context only allows 4-byte loads of user_ip6 */
	w = ctx->user_ip6[0];
	__builtin_memcpy(&addr[0], &w, 4);
	w = ctx->user_ip6[1];
	__builtin_memcpy(&addr[4], &w, 4);
	w = ctx->user_ip6[2];
	__builtin_memcpy(&addr[8], &w, 4);
	w = ctx->user_ip6[3];
	__builtin_memcpy(&addr[12], &w, 4);
	udp_send(ctx, AF_INET6, addr);
	return 1;
}
