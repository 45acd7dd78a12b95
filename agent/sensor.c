/* sensor.c - load and attach the BPF programs: open -> configure -> load -> attach.
 *
 * Hooks are chosen per capability by trying them, never by kernel version: a trampoline
 * program that loads on one 6.x kernel is refused with EPERM on another (see
 * ../shared/reference/kernel-hooks.md), and a syscall tracepoint may not exist on an
 * architecture (arm64 has no open(2)).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "nightjar.skel.h"
#include "sensor.h"

#define CGROUP2_PRIVATE_DIR "/run/nightjar-cgroup2"

struct nj_sensor {
	struct nightjar *skel;
	struct ring_buffer *rb;
	struct bpf_link *sendmsg4, *sendmsg6;
	int cgroup_fd;
	char tracefs[64];      /* where tracepoints are listed */
	bool mounted_cgroup2;  /* we mounted CGROUP2_PRIVATE_DIR and must remove it */
	bool private_mounts;   /* we entered our own mount namespace */
	uint32_t watch_gen;    /* generation of the current watch refresh */
	uint64_t watch_errors; /* watch entries the kernel maps refused (full) */
	char hooks[6][512];    /* the hook chosen per capability, for status */
	unsigned int programs; /* programs attached */
	/* the bloom filters a refresh builds; the live ones are in the object's .bss */
	__u64 next_ino_bloom[NJ_BLOOM_WORDS];
	__u64 next_name_bloom[NJ_BLOOM_WORDS];
	int ncpus;
};

/* Programs by capability: what the agent logs as "the hook chosen". */
static const struct {
	const char *prog;
	const char *capability;
} prog_caps[] = {
	{"nj_exec", "process"},
	{"nj_fork", "process"},
	{"nj_exit", "process"},
	{"nj_lsm_file_open", "file_open"},
	{"nj_exit_openat", "file_open"},
	{"nj_exit_openat2", "file_open"},
	{"nj_exit_open", "file_open"},
	{"nj_exit_creat", "file_open"},
	{"nj_exit_open_by_handle_at", "file_open"},
	{"nj_exit_connect", "connect"},
	{"nj_exit_listen", "listen"},
	{"nj_exit_accept4", "accept"},
	{"nj_exit_accept", "accept"},
	{"nj_sendmsg4", "udp_send"},
	{"nj_sendmsg6", "udp_send"},
};

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's warnings include expected probe failures; keep them at debug unless the
	 * load itself fails, which we report ourselves */
	if (level == LIBBPF_DEBUG)
		return 0;
	nj_vlog(level == LIBBPF_WARN ? NJ_LOG_WARN : NJ_LOG_DEBUG, fmt, ap);
	return 0;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Our own mount namespace, slave to the host's: mounts we add vanish with the agent and never
 * show on the host, while host mounts (new homes) still reach us. */
static int enter_private_mounts(struct nj_sensor *s)
{
	if (s->private_mounts)
		return 0;
	if (unshare(CLONE_NEWNS) < 0) {
		nj_err("unshare(CLONE_NEWNS) for private mounts: %s", strerror(errno));
		return -errno;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
		nj_err("making / a slave mount: %s", strerror(errno));
		return -errno;
	}
	s->private_mounts = true;
	return 0;
}

static int find_tracefs(struct nj_sensor *s)
{
	/* libbpf looks in debugfs first, then at /sys/kernel/tracing */
	static const char *const where[] = {"/sys/kernel/debug/tracing", "/sys/kernel/tracing"};
	char events[96];
	size_t i;
	int err;

	for (i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		snprintf(events, sizeof(events), "%s/events", where[i]);
		if (exists(events)) {
			snprintf(s->tracefs, sizeof(s->tracefs), "%s", where[i]);
			return 0;
		}
	}
	err = enter_private_mounts(s);
	if (err)
		return err;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) < 0) {
		nj_err("tracefs is not mounted and mounting it at /sys/kernel/tracing failed: %s",
		       strerror(errno));
		return -errno;
	}
	snprintf(s->tracefs, sizeof(s->tracefs), "/sys/kernel/tracing");
	nj_info("mounted tracefs at /sys/kernel/tracing (in the agent's private mount namespace)");
	return 0;
}

/* The cgroup v2 root: from mountinfo, or mounted privately when the host has none. */
static int open_cgroup2(struct nj_sensor *s)
{
	char line[4096], mnt[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int err;

	mnt[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - cgroup2 ");

		/* fields: id parent major:minor root mountpoint ... - fstype source opts */
		if (sep && sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1)
			break;
		mnt[0] = '\0';
	}
	if (f)
		fclose(f);
	if (!mnt[0]) {
		err = enter_private_mounts(s);
		if (err)
			return err;
		if (mkdir(CGROUP2_PRIVATE_DIR, 0700) < 0 && errno != EEXIST) {
			nj_err("mkdir %s: %s", CGROUP2_PRIVATE_DIR, strerror(errno));
			return -errno;
		}
		if (mount("cgroup2", CGROUP2_PRIVATE_DIR, "cgroup2", 0, NULL) < 0) {
			err = -errno;
			nj_err("mounting cgroup2 at %s: %s", CGROUP2_PRIVATE_DIR, strerror(errno));
			rmdir(CGROUP2_PRIVATE_DIR);
			return err;
		}
		s->mounted_cgroup2 = true;
		snprintf(mnt, sizeof(mnt), "%s", CGROUP2_PRIVATE_DIR);
		nj_info("mounted cgroup2 at %s (in the agent's private mount namespace)", mnt);
	}
	s->cgroup_fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->cgroup_fd < 0) {
		nj_err("opening the cgroup v2 root %s: %s", mnt, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Can an LSM program be loaded and attached on file_open? Loading alone is not enough: with
 * "bpf" missing from the active LSMs, attach succeeds and the program never runs. */
static bool probe_lsm_file_open(struct nj_sensor *s, char *why, size_t whylen)
{
	/* r0 = 0; exit */
	const struct bpf_insn insns[] = {
		{.code = 0xb7, .dst_reg = 0, .imm = 0},
		{.code = 0x95},
	};
	char lsms[256] = "";
	struct btf *vmlinux;
	int fd, link, id, n;
	FILE *f;

	/* the active LSM list lives in securityfs, which a minimal host may not mount */
	if (!exists("/sys/kernel/security/lsm") && !enter_private_mounts(s)) {
		if (mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL) == 0)
			nj_info("mounted securityfs at /sys/kernel/security (in the agent's "
				"private "
				"mount namespace)");
		else
			nj_warn("mounting securityfs to read the active LSMs: %s", strerror(errno));
	}
	f = fopen("/sys/kernel/security/lsm", "re");
	if (f) {
		n = (int)fread(lsms, 1, sizeof(lsms) - 1, f);
		lsms[n > 0 ? n : 0] = '\0';
		fclose(f);
	}
	if (!strstr(lsms, "bpf")) {
		snprintf(why, whylen, "bpf is not an active LSM (/sys/kernel/security/lsm: %s)",
			 lsms[0] ? lsms : "unreadable");
		return false;
	}
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux) {
		snprintf(why, whylen, "no kernel BTF");
		return false;
	}
	id = btf__find_by_name_kind(vmlinux, "bpf_lsm_file_open", BTF_KIND_FUNC);
	btf__free(vmlinux);
	if (id < 0) {
		snprintf(why, whylen, "kernel has no bpf_lsm_file_open");
		return false;
	}
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_LSM_MAC,
		    .attach_btf_id = (__u32)id);
	fd = bpf_prog_load(BPF_PROG_TYPE_LSM, "nj_probe_lsm", "GPL", insns, 2, &o);
	if (fd < 0) {
		snprintf(why, whylen, "test load failed: %s", strerror(errno));
		return false;
	}
	link = bpf_raw_tracepoint_open(NULL, fd);
	if (link < 0) {
		snprintf(why, whylen, "test attach failed: %s", strerror(errno));
		close(fd);
		return false;
	}
	close(link);
	close(fd);
	return true;
}

/* A tracepoint program whose event this kernel lacks must not be loaded. */
static bool tracepoint_exists(const struct nj_sensor *s, const char *section)
{
	const char *tp = strchr(section, '/');
	char path[256];

	if (!tp)
		return false;
	snprintf(path, sizeof(path), "%s/events%s", s->tracefs, tp);
	return exists(path);
}

static const char *const caps[] = {"process", "file_open", "connect",
				   "listen",  "accept",	   "udp_send"};

static void log_hooks(struct nj_sensor *s)
{
	struct bpf_program *prog;
	char line[512];
	size_t c, i, w;

	for (c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		w = 0;
		line[0] = '\0';
		bpf_object__for_each_program(prog, s->skel->obj)
		{
			const char *name = bpf_program__name(prog);

			if (!bpf_program__autoload(prog))
				continue;
			for (i = 0; i < sizeof(prog_caps) / sizeof(prog_caps[0]); i++)
				if (!strcmp(prog_caps[i].prog, name) &&
				    !strcmp(prog_caps[i].capability, caps[c]) && w < sizeof(line))
					w += snprintf(line + w, sizeof(line) - w, "%s%s",
						      w ? ", " : "",
						      bpf_program__section_name(prog));
		}
		if (!strcmp(caps[c], "udp_send") && !s->sendmsg4)
			snprintf(line, sizeof(line), "unavailable (no cgroup v2 attach)");
		nj_info("hook for %s: %s", caps[c], line[0] ? line : "unavailable");
		snprintf(s->hooks[c], sizeof(s->hooks[c]), "%s", line[0] ? line : "unavailable");
	}
	s->programs = 0;
	bpf_object__for_each_program(prog, s->skel->obj)
	{
		/* the cgroup programs are attached apart from the skeleton */
		if (bpf_program__autoload(prog) &&
		    (strncmp(bpf_program__section_name(prog), "cgroup/", 7) || s->sendmsg4))
			s->programs++;
	}
}

const char *nj_sensor_hook(const struct nj_sensor *s, size_t i, const char **capability)
{
	if (i >= sizeof(caps) / sizeof(caps[0]))
		return NULL;
	*capability = caps[i];
	return s->hooks[i];
}

unsigned int nj_sensor_programs(const struct nj_sensor *s)
{
	return s->programs;
}

static int attach_cgroup(struct nj_sensor *s)
{
	int err = open_cgroup2(s);

	if (err)
		return err;
	s->sendmsg4 = bpf_program__attach_cgroup(s->skel->progs.nj_sendmsg4, s->cgroup_fd);
	if (!s->sendmsg4) {
		err = -errno;
		nj_warn("attaching cgroup/sendmsg4: %s", strerror(errno));
		return err;
	}
	s->sendmsg6 = bpf_program__attach_cgroup(s->skel->progs.nj_sendmsg6, s->cgroup_fd);
	if (!s->sendmsg6) {
		err = -errno;
		nj_warn("attaching cgroup/sendmsg6: %s", strerror(errno));
		bpf_link__destroy(s->sendmsg4);
		s->sendmsg4 = NULL;
		return err;
	}
	return 0;
}

struct nj_sensor *nj_sensor_start(const struct nj_sensor_opts *opts)
{
	struct nj_sensor *s = calloc(1, sizeof(*s));
	struct bpf_program *prog;
	char why[256];
	bool use_lsm;
	int err;

	if (!s)
		return NULL;
	s->cgroup_fd = -1;
	libbpf_set_print(libbpf_log);

	if (!exists("/sys/kernel/btf/vmlinux")) {
		nj_err("this kernel has no BTF (/sys/kernel/btf/vmlinux); Nightjar needs "
		       "CONFIG_DEBUG_INFO_BTF=y");
		goto err_free;
	}
	if (find_tracefs(s))
		goto err_free;

	s->skel = nightjar__open();
	if (!s->skel) {
		nj_err("opening the BPF object: %s", strerror(errno));
		goto err_free;
	}

	/* configure */
	s->skel->rodata->agent_tgid = (__u32)getpid();
	s->skel->rodata->wakeup_bytes = opts->wakeup_bytes;
	s->skel->rodata->hooks_only = opts->hooks_only;
	err = bpf_map__set_max_entries(s->skel->maps.rb, (__u32)opts->ring_buffer_bytes);
	if (err) {
		nj_err("ring buffer size %llu: %s", (unsigned long long)opts->ring_buffer_bytes,
		       strerror(-err));
		goto err_destroy;
	}
	use_lsm = probe_lsm_file_open(s, why, sizeof(why));
	if (!use_lsm)
		nj_info("lsm/file_open not usable (%s); falling back to syscall tracepoints", why);
	bpf_object__for_each_program(prog, s->skel->obj)
	{
		const char *sec = bpf_program__section_name(prog);

		if (!strncmp(sec, "lsm/", 4))
			bpf_program__set_autoload(prog, use_lsm);
		else if (!strncmp(sec, "tracepoint/", 11)) {
			bool want = tracepoint_exists(s, sec + strlen("tracepoint"));

			/* the open tracepoints are only the fallback for lsm/file_open */
			if (use_lsm &&
			    (strstr(sec, "/sys_exit_open") || strstr(sec, "/sys_exit_creat")))
				want = false;
			bpf_program__set_autoload(prog, want);
		}
	}

	/* load */
	err = nightjar__load(s->skel);
	if (err) {
		nj_err("loading the BPF programs: %s (rerun with --log-level debug for the "
		       "verifier log)",
		       strerror(-err));
		goto err_destroy;
	}

	/* attach: auto-attachable programs, then the cgroup ones on the v2 root */
	err = nightjar__attach(s->skel);
	if (err) {
		nj_err("attaching the BPF programs: %s", strerror(-err));
		goto err_destroy;
	}
	if (attach_cgroup(s))
		nj_warn("unconnected UDP sends will not be seen");
	log_hooks(s);

	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.rb), opts->on_record, opts->arg, NULL);
	if (!s->rb) {
		nj_err("creating the ring buffer reader: %s", strerror(errno));
		goto err_destroy;
	}
	s->ncpus = libbpf_num_possible_cpus();
	if (s->ncpus <= 0) {
		nj_err("counting possible CPUs: %s", strerror(-s->ncpus));
		goto err_destroy;
	}
	return s;

err_destroy:
	nj_sensor_stop(s);
	return NULL;
err_free:
	free(s);
	return NULL;
}

void nj_sensor_stop(struct nj_sensor *s)
{
	if (!s)
		return;
	ring_buffer__free(s->rb);
	bpf_link__destroy(s->sendmsg6);
	bpf_link__destroy(s->sendmsg4);
	nightjar__destroy(s->skel);
	if (s->cgroup_fd >= 0)
		close(s->cgroup_fd);
	if (s->mounted_cgroup2) {
		/* the mount dies with our namespace; the directory is on the host */
		umount2(CGROUP2_PRIVATE_DIR, MNT_DETACH);
		rmdir(CGROUP2_PRIVATE_DIR);
	}
	free(s);
}

int nj_sensor_ring_fd(const struct nj_sensor *s)
{
	return ring_buffer__epoll_fd(s->rb);
}

int nj_sensor_drain(struct nj_sensor *s)
{
	return ring_buffer__consume(s->rb);
}

int nj_sensor_stats(const struct nj_sensor *s, uint64_t out[NJ_STAT_MAX])
{
	uint64_t *vals = calloc((size_t)s->ncpus, sizeof(*vals));
	__u32 i;
	int c;

	if (!vals)
		return -ENOMEM;
	for (i = 0; i < NJ_STAT_MAX; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.stats), &i, vals))
			continue;
		for (c = 0; c < s->ncpus; c++)
			out[i] += vals[c];
	}
	free(vals);
	return 0;
}

uint64_t nj_sensor_watch_errors(const struct nj_sensor *s)
{
	return s->watch_errors;
}

void nj_sensor_watch_begin(struct nj_sensor *s)
{
	s->watch_gen++;
	memset(s->next_ino_bloom, 0, sizeof(s->next_ino_bloom));
	memset(s->next_name_bloom, 0, sizeof(s->next_name_bloom));
}

/* Set a bit in the refresh's filter and at once in the live one: the kernel must never miss
 * a watched file, so live bits are only cleared when the refresh ends. */
static void bloom_set(__u64 *next, __u64 *live, __u32 bit)
{
	next[bit / 64] |= 1ULL << (bit % 64);
	live[bit / 64] |= 1ULL << (bit % 64);
}

int nj_sensor_watch_inode(struct nj_sensor *s, uint32_t kdev, uint64_t ino)
{
	struct nj_inode_key k = {.ino = ino, .dev = kdev};

	bloom_set(s->next_ino_bloom, s->skel->bss->ino_bloom, nj_bloom_ino(ino));
	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.watch_inodes), &k, &s->watch_gen,
				BPF_ANY)) {
		s->watch_errors++;
		nj_warn("watch list full: cannot watch inode %llu on %u:%u: %s",
			(unsigned long long)ino, kdev >> 20, kdev & 0xfffff, strerror(errno));
		return -errno;
	}
	return 0;
}

int nj_sensor_watch_name(struct nj_sensor *s, const char leaf[NJ_LEAF_MAX], uint32_t flags,
			 const char parent[NJ_PARENT_MAX])
{
	int names = bpf_map__fd(s->skel->maps.watch_names);
	size_t len = strnlen(leaf, NJ_LEAF_MAX);
	struct nj_sig_key sk;
	__u64 prefix = 0;
	__u32 cur = 0;

	memcpy(&prefix, leaf, len < sizeof(prefix) ? len : sizeof(prefix));
	bloom_set(s->next_name_bloom, s->skel->bss->name_bloom, nj_bloom_name((__u32)len, prefix));

	/* a leaf that one pattern wants anywhere and another under a parent: anywhere wins */
	if (!bpf_map_lookup_elem(names, leaf, &cur))
		flags |= cur;
	if (bpf_map_update_elem(names, leaf, &flags, BPF_ANY)) {
		s->watch_errors++;
		nj_warn("watch name list full: cannot watch '%s': %s", leaf, strerror(errno));
		return -errno;
	}
	if (!(flags & NJ_NAME_NEED_PARENT) || !parent[0])
		return 0;
	memcpy(sk.leaf, leaf, sizeof(sk.leaf));
	memcpy(sk.parent, parent, sizeof(sk.parent));
	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.watch_sigs), &sk, &flags, BPF_ANY)) {
		s->watch_errors++;
		nj_warn("watch signature list full: cannot watch '%s/%s': %s", parent, leaf,
			strerror(errno));
		return -errno;
	}
	return 0;
}

void nj_sensor_watch_end(struct nj_sensor *s, size_t *n_inodes, size_t *n_names)
{
	int fd = bpf_map__fd(s->skel->maps.watch_inodes);
	struct nj_inode_key key, next, stale[256];
	size_t nstale, i, count;
	bool first;
	__u32 gen;

	/* bits of files this refresh did not find go; the map entries follow */
	memcpy(s->skel->bss->ino_bloom, s->next_ino_bloom, sizeof(s->next_ino_bloom));
	memcpy(s->skel->bss->name_bloom, s->next_name_bloom, sizeof(s->next_name_bloom));

	/* drop identities this refresh did not see (replaced or deleted files), in batches
	 * because deleting while iterating restarts the walk */
	do {
		nstale = 0;
		count = 0;
		first = true;
		while (!bpf_map_get_next_key(fd, first ? NULL : &key, &next)) {
			first = false;
			key = next;
			count++;
			if (!bpf_map_lookup_elem(fd, &key, &gen) && gen != s->watch_gen &&
			    nstale < sizeof(stale) / sizeof(stale[0]))
				stale[nstale++] = key;
		}
		for (i = 0; i < nstale; i++)
			bpf_map_delete_elem(fd, &stale[i]);
	} while (nstale == sizeof(stale) / sizeof(stale[0]));
	*n_inodes = count - nstale;

	fd = bpf_map__fd(s->skel->maps.watch_names);
	count = 0;
	first = true;
	{
		char lk[NJ_LEAF_MAX], ln[NJ_LEAF_MAX];

		while (!bpf_map_get_next_key(fd, first ? NULL : lk, ln)) {
			first = false;
			memcpy(lk, ln, sizeof(lk));
			count++;
		}
	}
	*n_names = count;
}

int nj_sensor_intel_add(struct nj_sensor *s, const uint8_t addr[16], uint32_t prefixlen,
			uint16_t list)
{
	struct nj_cidr_key k = {.prefixlen = prefixlen};
	__u16 v = list;

	memcpy(k.addr, addr, sizeof(k.addr));
	if (bpf_map__update_elem(s->skel->maps.dest_intel, &k, sizeof(k), &v, sizeof(v), BPF_ANY))
		return -errno;
	/* the programs start looking only once there is something to find */
	s->skel->bss->intel_on = 1;
	return 0;
}
