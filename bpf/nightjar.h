/* nightjar.h - the records and map keys shared by the BPF programs and the agent.
 *
 * Fixed-width types only, explicit padding, no enums or bools in structs: the layout must be
 * identical for clang -target bpf and for gcc on the host. agent/records.c holds the
 * _Static_asserts that break the build when a layout drifts.
 */
#ifndef NIGHTJAR_H
#define NIGHTJAR_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Record kinds: the first field of every ring-buffer record. */
#define NJ_REC_EXEC	1
#define NJ_REC_FORK	2
#define NJ_REC_EXIT	3
#define NJ_REC_CONNECT	4
#define NJ_REC_ACCEPT	5
#define NJ_REC_LISTEN	6
#define NJ_REC_UDP_SEND 7
#define NJ_REC_OPEN	8

#define NJ_COMM_LEN 16
#define NJ_TTY_LEN  64
/* argv area of an exec record; the last byte is kept for the terminating NUL. */
#define NJ_ARGS_MAX 8192
/* path area: NUL-separated components, leaf first, as the dentry walk finds them. */
#define NJ_PATH_MAX   4096
#define NJ_NAME_MAX   256 /* one component including its NUL; slack after the path area */
#define NJ_PATH_DEPTH 48  /* components walked before the path is flagged truncated */
/* Credential files recognised by name: the leaf and, where required, its parent directory. */
#define NJ_LEAF_MAX   64
#define NJ_PARENT_MAX 32

/* Bloom filters in front of the watch maps, so an unwatched open costs two bit tests instead of
 * two hash lookups: one over watched inode numbers, one over the length and first 8 bytes of
 * watched file names. Written by the agent into the object's .bss, read by the programs;
 * both sides compute bit positions with the functions below. */
#define NJ_BLOOM_BITS  4096
#define NJ_BLOOM_WORDS (NJ_BLOOM_BITS / 64)

static inline __u32 nj_bloom_ino(__u64 ino)
{
	/* Fibonacci hashing: the top 12 bits of the product */
	return (__u32)((ino * 0x9E3779B97F4A7C15ULL) >> 52);
}

/* prefix: the first min(len, 8) bytes of the name, little-endian, zero above them */
static inline __u32 nj_bloom_name(__u32 len, __u64 prefix)
{
	return (__u32)(((prefix ^ ((__u64)len << 58)) * 0x9E3779B97F4A7C15ULL) >> 52);
}

/* Flags of a path (nj_path.flags). */
#define NJ_PATH_TRUNCATED 0x1 /* deeper than NJ_PATH_DEPTH or longer than NJ_PATH_MAX */
#define NJ_PATH_DETACHED  0x2 /* ended at a pseudo-fs dentry: memfd, anon inode, pipe */
#define NJ_PATH_DELETED	  0x4 /* the file has no links left (exec of a deleted binary) */

/* Why an open matched (nj_open.match). */
#define NJ_MATCH_INODE	   1 /* (dev, ino) is a watched file */
#define NJ_MATCH_NAME	   2 /* leaf name alone is a credential signature */
#define NJ_MATCH_SIGNATURE 3 /* leaf name plus parent directory name */

/* Value flags of the watch_names map. */
#define NJ_NAME_ANY_PARENT  0x1 /* the leaf alone matches */
#define NJ_NAME_NEED_PARENT 0x2 /* look up (leaf, parent) in watch_sigs */

/* Per-CPU counters (stats map index). Every loss has a counter; the agent reports them. */
#define NJ_STAT_RB_DROP	       0 /* ring buffer full: record lost */
#define NJ_STAT_ARGS_TRUNC     1 /* argv longer than NJ_ARGS_MAX */
#define NJ_STAT_PATH_TRUNC     2 /* path deeper or longer than the walk allows */
#define NJ_STAT_SKSTORAGE_FAIL 3 /* no socket storage: UDP destination reported again */
#define NJ_STAT_OPEN_MATCHED   4 /* opens that matched a watched file */
#define NJ_STAT_RECORDS	       5 /* records submitted to the ring buffer */
#define NJ_STAT_MAX	       6

/* The acting process, filled in the kernel for every record. Times are CLOCK_BOOTTIME ns. */
struct nj_task {
	__u32 tgid;	       /* process id */
	__u32 pid;	       /* thread id */
	__u32 ppid;	       /* real parent's process id */
	__u32 uid;	       /* real uid */
	__u32 gid;	       /* real gid */
	__u32 euid;	       /* effective uid */
	__u32 loginuid;	       /* audit login uid, (u32)-1 when unset */
	__u32 sessionid;       /* audit session id */
	__u32 sid;	       /* session (leader's pid) */
	__u32 mntns;	       /* mount namespace inode */
	__u32 pidns;	       /* pid namespace inode */
	__u32 netns;	       /* network namespace inode */
	__u64 start_ns;	       /* process (group leader) start, boot clock */
	__u64 parent_start_ns; /* real parent process start, boot clock */
	__u64 cgroup_id;       /* cgroup v2 id */
	char comm[NJ_COMM_LEN];
};

/* Common head of every record. */
struct nj_hdr {
	__u32 kind; /* NJ_REC_* */
	__u32 size; /* bytes of the whole record, head included */
	__u64 ts;   /* CLOCK_BOOTTIME ns when the kernel saw it */
	struct nj_task task;
};

/* A path in a record's variable area: components leaf first, each NUL-terminated. */
struct nj_path {
	__u32 len;   /* bytes used */
	__u16 depth; /* components */
	__u16 flags; /* NJ_PATH_* */
};

/* exec: header, then args_len bytes of argv (NUL-separated), then the exe path. */
struct nj_exec {
	struct nj_hdr hdr;
	__u32 args_len;
	__u32 args_trunc; /* 1 when argv was longer than NJ_ARGS_MAX - 1 */
	__u32 exe_dev;	  /* kernel dev_t of the executable's superblock */
	__u32 pad;
	__u64 exe_ino;
	struct nj_path exe;
	char tty[NJ_TTY_LEN]; /* controlling terminal name, "" if none */
	char data[];
};

/* fork: the header describes the child; the parent is task.ppid/parent_start_ns. */
struct nj_fork {
	struct nj_hdr hdr;
};

/* exit: the last thread of a process is gone. */
struct nj_exit {
	struct nj_hdr hdr;
	__u32 exit_code; /* wait status: (code << 8) | signal */
	__u32 pad;
};

/* connect, accept, listen, first UDP send to a destination. Ports in host order. */
struct nj_net {
	struct nj_hdr hdr;
	__u16 family;	/* AF_INET, AF_INET6 */
	__u16 type;	/* SOCK_STREAM, SOCK_DGRAM */
	__u16 protocol; /* IPPROTO_TCP, IPPROTO_UDP */
	__u16 sport;	/* local port (0 until bound) */
	__u16 dport;	/* remote port (listen: 0) */
	__u16 intel;	/* connect, udp_send: destination list that matched + 1, 0 if none */
	__s32 ret;	/* connect/listen: syscall result (0, -errno); accept: new fd */
	__u8 saddr[16]; /* local; IPv4 in the first 4 bytes */
	__u8 daddr[16]; /* remote */
};

/* open of a watched file: header, then the path. */
struct nj_open {
	struct nj_hdr hdr;
	__u32 flags; /* file->f_flags (O_* bits as the kernel keeps them) */
	__u32 dev;   /* kernel dev_t: major << 20 | minor */
	__u64 ino;
	__u32 match; /* NJ_MATCH_* */
	__u32 mode;  /* inode mode */
	__u32 owner; /* inode uid, for consumers that must own the file */
	__u32 pad;
	struct nj_path path;
	char data[];
};

/* watch_inodes key: a watched file by identity, so hardlinks and bind mounts match. */
struct nj_inode_key {
	__u64 ino;
	__u32 dev; /* kernel encoding, see nj_kdev() in the agent */
	__u32 pad;
};

/* dest_intel key: an address prefix, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d, prefix + 96),
 * so one trie serves both families. */
struct nj_cidr_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* watch_names key is char[NJ_LEAF_MAX]; watch_sigs key adds the parent directory's name. */
struct nj_sig_key {
	char leaf[NJ_LEAF_MAX];
	char parent[NJ_PARENT_MAX];
};

/* Largest variable record, sized for the per-CPU scratch buffer. */
#define NJ_EXEC_MAX (sizeof(struct nj_exec) + NJ_ARGS_MAX + NJ_PATH_MAX + NJ_NAME_MAX)

#endif
