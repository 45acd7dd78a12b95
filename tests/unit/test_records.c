/* test_records.c - the user-space side of bpf/nightjar.h: record validation for every kind
 * and every refusal, paths rebuilt from leaf-first walks (with a canary on short buffers),
 * kernel device numbers, and entity ids in clock ticks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "proc.h"
#include "records.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define BOOT_ID "57636f39-ad4a-4c6e-9407-07c536f96a4e"

/* One record as the ring buffer hands it over: aligned, and larger than any record. */
union rec {
	struct nj_hdr h;
	struct nj_exec e;
	struct nj_fork f;
	struct nj_exit x;
	struct nj_net n;
	struct nj_open o;
	unsigned char raw[NJ_EXEC_MAX + 64];
};

/* ---- building records ---- */

static void fill_hdr(struct nj_hdr *h, uint32_t kind, size_t size)
{
	h->kind = kind;
	h->size = (uint32_t)size;
	h->ts = 1000000000ull;
	h->task.tgid = 4242;
	h->task.pid = 4243;
	h->task.ppid = 1;
	h->task.uid = 1000;
	h->task.loginuid = (uint32_t)-1;
	h->task.start_ns = 5000000000ull;
	memcpy(h->task.comm, "bash", 5);
}

/* exec of /usr/bin/ls with argv "ls -l /tmp": the variable part exactly fills the record */
static const char exec_args[] = "ls\0-l\0/tmp";	   /* 11 bytes with the last NUL */
static const char exec_path[] = "ls\0bin\0usr\0/"; /* 13 bytes with the last NUL */
static const char open_path[] = "credentials\0.aws\0alice\0home\0/"; /* 31 bytes */

static size_t build_exec(union rec *r)
{
	size_t size = sizeof(struct nj_exec) + sizeof(exec_args) + sizeof(exec_path);

	memset(r, 0, sizeof(*r));
	fill_hdr(&r->h, NJ_REC_EXEC, size);
	r->e.args_len = sizeof(exec_args);
	r->e.exe_dev = (254u << 20) | 1;
	r->e.exe_ino = 131;
	r->e.exe.len = sizeof(exec_path);
	r->e.exe.depth = 4;
	memcpy(r->e.tty, "pts/0", 6);
	memcpy(r->e.data, exec_args, sizeof(exec_args));
	memcpy(r->e.data + sizeof(exec_args), exec_path, sizeof(exec_path));
	return size;
}

static size_t build_open(union rec *r)
{
	size_t size = sizeof(struct nj_open) + sizeof(open_path);

	memset(r, 0, sizeof(*r));
	fill_hdr(&r->h, NJ_REC_OPEN, size);
	r->o.flags = 0;
	r->o.dev = (254u << 20) | 1;
	r->o.ino = 77;
	r->o.match = NJ_MATCH_INODE;
	r->o.mode = 0100600;
	r->o.path.len = sizeof(open_path);
	r->o.path.depth = 5;
	memcpy(r->o.data, open_path, sizeof(open_path));
	return size;
}

static size_t build_net(union rec *r, uint32_t kind)
{
	memset(r, 0, sizeof(*r));
	fill_hdr(&r->h, kind, sizeof(struct nj_net));
	r->n.family = 2;
	r->n.type = 1;
	r->n.protocol = 6;
	r->n.sport = 40000;
	r->n.dport = 443;
	memcpy(r->n.daddr, "\x5d\xb8\xd8\x22", 4);
	return sizeof(struct nj_net);
}

static size_t build_fork(union rec *r)
{
	memset(r, 0, sizeof(*r));
	fill_hdr(&r->h, NJ_REC_FORK, sizeof(struct nj_fork));
	return sizeof(struct nj_fork);
}

static size_t build_exit(union rec *r)
{
	memset(r, 0, sizeof(*r));
	fill_hdr(&r->h, NJ_REC_EXIT, sizeof(struct nj_exit));
	r->x.exit_code = 1 << 8;
	return sizeof(struct nj_exit);
}

#define expect_refused(r, len, reason) expect_refused_at(__FILE__, __LINE__, r, len, reason)
static void expect_refused_at(const char *file, int line, const union rec *r, size_t len,
			      const char *reason)
{
	const char *why = NULL;
	int rc = nj_record_check(r, len, &why);

	if (rc != -1)
		fail_msg("%s:%d: accepted as kind %d", file, line, rc);
	if (!why || strcmp(why, reason))
		fail_msg("%s:%d: refused for '%s', expected '%s'", file, line, why ? why : "(null)",
			 reason);
}

#define expect_kind(r, len, kind) expect_kind_at(__FILE__, __LINE__, r, len, kind)
static void expect_kind_at(const char *file, int line, const union rec *r, size_t len, int kind)
{
	const char *why = "untouched";
	int rc = nj_record_check(r, len, &why);

	if (rc != kind)
		fail_msg("%s:%d: returned %d (%s), expected kind %d", file, line, rc, why, kind);
}

/* ---- nj_record_check ---- */

static void test_check_accepts_every_kind(void **state)
{
	static const uint32_t net_kinds[] = {NJ_REC_CONNECT, NJ_REC_ACCEPT, NJ_REC_LISTEN,
					     NJ_REC_UDP_SEND};
	union rec *r = calloc(1, sizeof(*r));
	size_t len, i;

	(void)state;
	assert_non_null(r);
	len = build_exec(r);
	assert_int_equal(len, sizeof(struct nj_exec) + 11 + 13);
	expect_kind(r, len, NJ_REC_EXEC);
	len = build_open(r);
	expect_kind(r, len, NJ_REC_OPEN);
	len = build_fork(r);
	expect_kind(r, len, NJ_REC_FORK);
	len = build_exit(r);
	expect_kind(r, len, NJ_REC_EXIT);
	for (i = 0; i < ARRAY_SIZE(net_kinds); i++) {
		len = build_net(r, net_kinds[i]);
		expect_kind(r, len, (int)net_kinds[i]);
	}
	free(r);
}

/* The ring buffer rounds a sample up to 8 bytes: a record shorter than its buffer is whole. */
static void test_check_accepts_longer_buffer(void **state)
{
	union rec *r = calloc(1, sizeof(*r));
	size_t len;

	(void)state;
	assert_non_null(r);
	len = build_exec(r);
	expect_kind(r, (len + 7) & ~(size_t)7, NJ_REC_EXEC);
	expect_kind(r, sizeof(*r), NJ_REC_EXEC);
	len = build_exit(r);
	expect_kind(r, len + 8, NJ_REC_EXIT);
	/* an exec whose variable part is empty */
	build_exec(r);
	r->e.args_len = 0;
	r->e.exe.len = 0;
	r->h.size = sizeof(struct nj_exec);
	expect_kind(r, sizeof(struct nj_exec), NJ_REC_EXEC);
	free(r);
}

static void test_check_refuses_short_buffer(void **state)
{
	union rec *r = calloc(1, sizeof(*r));
	size_t len;

	(void)state;
	assert_non_null(r);
	build_exit(r);
	expect_refused(r, 0, "shorter than a record header");
	expect_refused(r, 1, "shorter than a record header");
	expect_refused(r, sizeof(struct nj_hdr) - 1, "shorter than a record header");
	/* a whole header, but the exit record's tail is missing: the size field is the tell */
	expect_refused(r, sizeof(struct nj_hdr), "size field disagrees with the record");
	len = build_exec(r);
	expect_refused(r, len - 1, "size field disagrees with the record");
	expect_refused(r, sizeof(struct nj_exec), "size field disagrees with the record");
	free(r);
}

static void test_check_refuses_unknown_kind(void **state)
{
	static const uint32_t bad[] = {0, NJ_REC_OPEN + 1, 0x100, 0x80000000u, UINT32_MAX};
	union rec *r = calloc(1, sizeof(*r));
	size_t len, i;

	(void)state;
	assert_non_null(r);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		len = build_exec(r);
		r->h.kind = bad[i];
		expect_refused(r, len, "unknown record kind");
	}
	free(r);
}

static void test_check_refuses_size_past_buffer(void **state)
{
	union rec *r = calloc(1, sizeof(*r));
	size_t len;

	(void)state;
	assert_non_null(r);
	len = build_exec(r);
	r->h.size = (uint32_t)len + 1;
	expect_refused(r, len, "size field disagrees with the record");
	r->h.size = UINT32_MAX;
	expect_refused(r, len, "size field disagrees with the record");
	len = build_fork(r);
	r->h.size = (uint32_t)len + 8;
	expect_refused(r, len, "size field disagrees with the record");
	free(r);
}

static void test_check_refuses_size_below_fixed_part(void **state)
{
	union rec *r = calloc(1, sizeof(*r));
	size_t len;

	(void)state;
	assert_non_null(r);
	len = build_exit(r);
	r->h.size = sizeof(struct nj_hdr);
	expect_refused(r, len, "size field disagrees with the record");
	r->h.size = 0;
	expect_refused(r, len, "size field disagrees with the record");
	len = build_net(r, NJ_REC_CONNECT);
	r->h.size = sizeof(struct nj_net) - 1;
	expect_refused(r, len, "size field disagrees with the record");
	len = build_exec(r);
	r->h.size = sizeof(struct nj_exec) - 1;
	expect_refused(r, len, "size field disagrees with the record");
	len = build_open(r);
	r->o.path.len = 0;
	r->h.size = sizeof(struct nj_open) - 1;
	expect_refused(r, len, "size field disagrees with the record");
	free(r);
}

static void test_check_refuses_variable_overrun(void **state)
{
	union rec *r = calloc(1, sizeof(*r));
	size_t len;

	(void)state;
	assert_non_null(r);
	/* one byte too many in either part */
	len = build_exec(r);
	r->e.args_len++;
	expect_refused(r, len, "variable part overruns the record");
	len = build_exec(r);
	r->e.exe.len++;
	expect_refused(r, len, "variable part overruns the record");
	/* the parts fit the buffer, not the size the record claims */
	len = build_exec(r);
	r->h.size--;
	expect_refused(r, len, "variable part overruns the record");
	/* values that would wrap a 32-bit sum */
	len = build_exec(r);
	r->e.args_len = UINT32_MAX;
	expect_refused(r, len, "variable part overruns the record");
	len = build_exec(r);
	r->e.args_len = UINT32_MAX;
	r->e.exe.len = 2;
	expect_refused(r, len, "variable part overruns the record");
	len = build_exec(r);
	r->e.exe.len = UINT32_MAX - 10;
	expect_refused(r, len, "variable part overruns the record");
	/* open: the path alone */
	len = build_open(r);
	r->o.path.len++;
	expect_refused(r, len, "variable part overruns the record");
	len = build_open(r);
	r->o.path.len = UINT32_MAX;
	expect_refused(r, len, "variable part overruns the record");
	free(r);
}

/* ---- nj_path_string ---- */

static size_t path_of(char *out, size_t outlen, const char *comps, uint32_t len, uint16_t depth)
{
	struct nj_path p = {.len = len, .depth = depth};

	return nj_path_string(out, outlen, comps, &p);
}

static void test_path_leaf_first(void **state)
{
	char out[NJ_PATH_STR_MAX];

	(void)state;
	assert_int_equal(path_of(out, sizeof(out), "c\0b\0a", 6, 3), 6);
	assert_string_equal(out, "/a/b/c");
	/* the last NUL is optional: len ends the area */
	assert_int_equal(path_of(out, sizeof(out), "c\0b\0a", 5, 3), 6);
	assert_string_equal(out, "/a/b/c");
	assert_int_equal(path_of(out, sizeof(out), "python3\0bin\0local\0usr", 22, 4), 22);
	assert_string_equal(out, "/usr/local/bin/python3");
	/* names with spaces and dots are copied as they are */
	assert_int_equal(path_of(out, sizeof(out), "Login Data\0Default\0..x", 23, 3), 23);
	assert_string_equal(out, "/..x/Default/Login Data");
}

static void test_path_root_component_skipped(void **state)
{
	char out[NJ_PATH_STR_MAX];

	(void)state;
	assert_int_equal(path_of(out, sizeof(out), "c\0b\0a\0/", 8, 4), 6);
	assert_string_equal(out, "/a/b/c");
	assert_int_equal(path_of(out, sizeof(out), "shadow\0etc\0/", 13, 3), 11);
	assert_string_equal(out, "/etc/shadow");
	/* the root alone */
	assert_int_equal(path_of(out, sizeof(out), "/", 2, 1), 1);
	assert_string_equal(out, "/");
	/* a '/' inside a longer name is not the root */
	assert_int_equal(path_of(out, sizeof(out), "/x\0a", 5, 2), 5);
	assert_string_equal(out, "/a//x");
}

static void test_path_empty(void **state)
{
	char out[16];

	(void)state;
	memset(out, 'z', sizeof(out));
	assert_int_equal(path_of(out, sizeof(out), "", 0, 0), 0);
	assert_string_equal(out, "");
	/* components walked but none recorded: the root */
	assert_int_equal(path_of(out, sizeof(out), "", 0, 1), 1);
	assert_string_equal(out, "/");
	/* and in a buffer with room for the NUL only */
	memset(out, 'z', sizeof(out));
	assert_int_equal(path_of(out, 1, "", 0, 1), 0);
	assert_int_equal(out[0], '\0');
	assert_int_equal(out[1], 'z');
	memset(out, 'z', sizeof(out));
	assert_int_equal(path_of(out, 0, "", 0, 1), 0);
	assert_int_equal(out[0], 'z');
}

static void test_path_memfd(void **state)
{
	struct nj_path p = {.len = 8, .depth = 1, .flags = NJ_PATH_DETACHED};
	char out[NJ_PATH_STR_MAX];

	(void)state;
	assert_int_equal(nj_path_string(out, sizeof(out), "memfd:x", &p), 8);
	assert_string_equal(out, "/memfd:x");
	p.len = 7; /* without its NUL */
	assert_int_equal(nj_path_string(out, sizeof(out), "memfd:x", &p), 8);
	assert_string_equal(out, "/memfd:x");
}

/* Every output length: NUL-terminated, never past outlen, whole components of the full path. */
static void test_path_short_buffer_canary(void **state)
{
	static const char comps[] = "python3\0bin\0local\0usr\0/";
	static const char full[] = "/usr/local/bin/python3";
	unsigned char out[64];
	size_t outlen, n, i;

	(void)state;
	for (outlen = 0; outlen <= sizeof(full) + 4; outlen++) {
		memset(out, 0xa5, sizeof(out));
		n = path_of((char *)out, outlen, comps, sizeof(comps), 5);
		for (i = outlen; i < sizeof(out); i++)
			if (out[i] != 0xa5)
				fail_msg("outlen %zu: byte %zu written", outlen, i);
		if (outlen == 0) {
			assert_int_equal(n, 0);
			continue;
		}
		assert_true(n < outlen);
		assert_int_equal(out[n], '\0');
		assert_int_equal(strlen((char *)out), n);
		/* a prefix of the full path that ends at a component boundary; when not even the
		 * first component fits, the writer puts "/" (a cut path that reads as the root) */
		assert_memory_equal(out, full, n);
		assert_true(n == sizeof(full) - 1 || full[n] == '/' || n == 1);
		if (outlen >= sizeof(full))
			assert_string_equal((char *)out, full);
	}
	/* exact cuts */
	n = path_of((char *)out, sizeof(full) - 1, comps, sizeof(comps), 5);
	assert_string_equal((char *)out, "/usr/local/bin");
	assert_int_equal(n, 14);
	n = path_of((char *)out, 15, comps, sizeof(comps), 5);
	assert_string_equal((char *)out, "/usr/local/bin");
	n = path_of((char *)out, 14, comps, sizeof(comps), 5);
	assert_string_equal((char *)out, "/usr/local");
	assert_int_equal(n, 10);
	n = path_of((char *)out, 5, comps, sizeof(comps), 5);
	assert_string_equal((char *)out, "/usr");
	n = path_of((char *)out, 1, comps, sizeof(comps), 5);
	assert_string_equal((char *)out, "");
	assert_int_equal(n, 0);
}

/* The largest walk the kernel can send: NJ_PATH_DEPTH components filling the path area and its
 * slack. NJ_PATH_STR_MAX must hold it whole. */
static void test_path_largest_walk_fits(void **state)
{
	char *comps = malloc(NJ_PATH_MAX + NJ_NAME_MAX), *want = malloc(NJ_PATH_STR_MAX);
	char *out = malloc(NJ_PATH_STR_MAX + 16);
	size_t total = NJ_PATH_MAX + NJ_NAME_MAX, per = total / NJ_PATH_DEPTH, o = 0, w = 0, n;
	int i;

	(void)state;
	assert_non_null(comps);
	assert_non_null(want);
	assert_non_null(out);
	/* component i (leaf first) is per - 1 copies of 'a' + i % 26, the last takes the rest */
	for (i = 0; i < NJ_PATH_DEPTH; i++) {
		size_t clen = (i == NJ_PATH_DEPTH - 1 ? total - o : per) - 1;

		memset(comps + o, 'a' + i % 26, clen);
		comps[o + clen] = '\0';
		o += clen + 1;
	}
	assert_int_equal(o, total);
	for (i = NJ_PATH_DEPTH - 1; i >= 0; i--) {
		size_t clen = (i == NJ_PATH_DEPTH - 1 ? total - (size_t)i * per : per) - 1;

		want[w++] = '/';
		memset(want + w, 'a' + i % 26, clen);
		w += clen;
	}
	want[w] = '\0';
	assert_int_equal(w, total);
	memset(out, 0xa5, NJ_PATH_STR_MAX + 16);
	n = path_of(out, NJ_PATH_STR_MAX, comps, (uint32_t)total, NJ_PATH_DEPTH);
	assert_int_equal(n, total);
	assert_string_equal(out, want);
	for (n = NJ_PATH_STR_MAX; n < NJ_PATH_STR_MAX + 16; n++)
		assert_int_equal((unsigned char)out[n], 0xa5);
	free(comps);
	free(want);
	free(out);
}

/* More components than the walk keeps: the leaf-most NJ_PATH_DEPTH are rebuilt. */
static void test_path_deeper_than_walk(void **state)
{
	char comps[NJ_PATH_DEPTH * 4 + 16], want[NJ_PATH_DEPTH * 4 + 16], out[NJ_PATH_STR_MAX];
	size_t o = 0, w = 0;
	int i;

	(void)state;
	for (i = 0; i < NJ_PATH_DEPTH + 2; i++)
		o += (size_t)sprintf(comps + o, "%02d", i) + 1;
	for (i = NJ_PATH_DEPTH - 1; i >= 0; i--)
		w += (size_t)sprintf(want + w, "/%02d", i);
	assert_int_equal(path_of(out, sizeof(out), comps, (uint32_t)o, NJ_PATH_DEPTH + 2), w);
	assert_string_equal(out, want);
}

/* ---- device numbers ---- */

static void test_kdev(void **state)
{
	static const struct {
		unsigned int major, minor;
		uint32_t kdev;
	} cases[] = {
		{0, 0, 0},
		{254, 1, 0x0fe00001},	     /* virtio disk partition */
		{8, 1, 0x00800001},	     /* sda1 */
		{259, 3, 0x10300003},	     /* nvme partition */
		{0, 47, 0x0000002f},	     /* anonymous: overlayfs, tmpfs */
		{4095, 0xfffff, UINT32_MAX}, /* the largest of each */
		{1, 0x12345, 0x00112345},
	};
	struct stat st;
	size_t i;
	uint32_t k;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		k = nj_kdev(makedev(cases[i].major, cases[i].minor));
		if (k != cases[i].kdev)
			fail_msg("makedev(%u, %u) -> %#x, expected %#x", cases[i].major,
				 cases[i].minor, k, cases[i].kdev);
		assert_int_equal(nj_kdev_major(k), cases[i].major);
		assert_int_equal(nj_kdev_minor(k), cases[i].minor);
	}
	assert_int_equal(nj_kdev_major(0x0fe00001), 254);
	assert_int_equal(nj_kdev_minor(0x0fe00001), 1);
	/* this machine's root filesystem */
	assert_int_equal(stat("/", &st), 0);
	k = nj_kdev(st.st_dev);
	assert_int_equal(nj_kdev_major(k), major(st.st_dev));
	assert_int_equal(nj_kdev_minor(k), minor(st.st_dev));
}

/* ---- entity ids ---- */

static uint64_t tick_ns(void)
{
	long hz = sysconf(_SC_CLK_TCK);

	assert_true(hz > 0);
	return 1000000000ull / (uint64_t)hz;
}

static void test_ticks_to_ns(void **state)
{
	uint64_t t = tick_ns();

	(void)state;
	assert_int_equal(nj_ticks_to_ns(0), 0);
	assert_int_equal(nj_ticks_to_ns(1), t);
	assert_int_equal(nj_ticks_to_ns(95519), 95519 * t);
	/* a process started 30 days after boot */
	assert_int_equal(nj_ticks_to_ns(30ull * 86400 * (1000000000ull / t)),
			 30ull * 86400 * 1000000000ull);
}

static void test_entity_id_format(void **state)
{
	uint64_t t = tick_ns();
	char id[NJ_ENTITY_ID_LEN];

	(void)state;
	nj_entity_id(id, BOOT_ID, 4242, 123456 * t);
	assert_string_equal(id, "57636f39ad4a4c6e-4242-123456");
	nj_entity_id(id, BOOT_ID, 1, 0);
	assert_string_equal(id, "57636f39ad4a4c6e-1-0");
	/* a boot id without dashes is taken as it is, cut to 16 */
	nj_entity_id(id, "0123456789abcdef0123456789abcdef", 7, 3 * t);
	assert_string_equal(id, "0123456789abcdef-7-3");
}

static void test_entity_id_ticks(void **state)
{
	uint64_t t = tick_ns();
	char a[NJ_ENTITY_ID_LEN], b[NJ_ENTITY_ID_LEN];

	(void)state;
	/* deterministic */
	nj_entity_id(a, BOOT_ID, 4242, 123456 * t + 17);
	nj_entity_id(b, BOOT_ID, 4242, 123456 * t + 17);
	assert_string_equal(a, b);
	/* the snapshot's ticks and the kernel's nanoseconds, anywhere within one tick */
	nj_entity_id(a, BOOT_ID, 4242, 123456 * t);
	nj_entity_id(b, BOOT_ID, 4242, 123456 * t + t - 1);
	assert_string_equal(a, b);
	assert_string_equal(a, "57636f39ad4a4c6e-4242-123456");
	/* the next tick is another process */
	nj_entity_id(b, BOOT_ID, 4242, 123457 * t);
	assert_string_equal(b, "57636f39ad4a4c6e-4242-123457");
	nj_entity_id(b, BOOT_ID, 4242, 123456 * t - 1);
	assert_string_equal(b, "57636f39ad4a4c6e-4242-123455");
	/* another pid, another boot */
	nj_entity_id(b, BOOT_ID, 4243, 123456 * t);
	assert_string_equal(b, "57636f39ad4a4c6e-4243-123456");
	nj_entity_id(b, "17636f39-ad4a-4c6e-9407-07c536f96a4e", 4242, 123456 * t);
	assert_string_equal(b, "17636f39ad4a4c6e-4242-123456");
}

static void test_entity_id_largest(void **state)
{
	char id[NJ_ENTITY_ID_LEN + 16], want[64];
	size_t i;

	(void)state;
	memset(id, 0x5a, sizeof(id));
	nj_entity_id(id, BOOT_ID, UINT32_MAX, UINT64_MAX);
	snprintf(want, sizeof(want), "57636f39ad4a4c6e-4294967295-%llu",
		 (unsigned long long)(UINT64_MAX / tick_ns()));
	assert_string_equal(id, want);
	assert_true(strlen(id) < NJ_ENTITY_ID_LEN);
	for (i = strlen(id) + 1; i < sizeof(id); i++)
		assert_int_equal(id[i], 0x5a);
}

/* "<16 hex>-<pid>-<ticks>" with this machine's boot id */
static void test_entity_id_shape(void **state)
{
	char boot[40], id[NJ_ENTITY_ID_LEN];
	const char *p;
	int i;

	(void)state;
	assert_int_equal(nj_read_boot_id(boot), 0);
	assert_int_equal(strlen(boot), 36);
	nj_entity_id(id, boot, (uint32_t)getpid(), nj_ticks_to_ns(95519));
	for (i = 0; i < 16; i++)
		if (!isxdigit((unsigned char)id[i]) || isupper((unsigned char)id[i]))
			fail_msg("'%s': not 16 lowercase hex digits", id);
	assert_int_equal(id[16], '-');
	assert_int_equal(strtoul(id + 17, (char **)&p, 10), getpid());
	assert_int_equal(*p, '-');
	assert_string_equal(p + 1, "95519");
	assert_int_equal(strncmp(id, boot, 8), 0);
	assert_int_equal(strncmp(id + 8, boot + 9, 4), 0);
	assert_int_equal(strncmp(id + 12, boot + 14, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_accepts_every_kind),
		cmocka_unit_test(test_check_accepts_longer_buffer),
		cmocka_unit_test(test_check_refuses_short_buffer),
		cmocka_unit_test(test_check_refuses_unknown_kind),
		cmocka_unit_test(test_check_refuses_size_past_buffer),
		cmocka_unit_test(test_check_refuses_size_below_fixed_part),
		cmocka_unit_test(test_check_refuses_variable_overrun),
		cmocka_unit_test(test_path_leaf_first),
		cmocka_unit_test(test_path_root_component_skipped),
		cmocka_unit_test(test_path_empty),
		cmocka_unit_test(test_path_memfd),
		cmocka_unit_test(test_path_short_buffer_canary),
		cmocka_unit_test(test_path_largest_walk_fits),
		cmocka_unit_test(test_path_deeper_than_walk),
		cmocka_unit_test(test_kdev),
		cmocka_unit_test(test_ticks_to_ns),
		cmocka_unit_test(test_entity_id_format),
		cmocka_unit_test(test_entity_id_ticks),
		cmocka_unit_test(test_entity_id_largest),
		cmocka_unit_test(test_entity_id_shape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
