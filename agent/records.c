/* records.c - record validation, path rebuilding, device and identity helpers. */
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "records.h"

/* The layout is shared with clang -target bpf: any drift must break the build here. */
_Static_assert(sizeof(struct nj_task) == 12 * 4 + 3 * 8 + NJ_COMM_LEN, "nj_task layout changed");
_Static_assert(sizeof(struct nj_hdr) == 16 + sizeof(struct nj_task), "nj_hdr layout changed");
_Static_assert(offsetof(struct nj_hdr, task) == 16, "nj_hdr.task moved");
_Static_assert(sizeof(struct nj_path) == 8, "nj_path layout changed");
_Static_assert(sizeof(struct nj_exec) == sizeof(struct nj_hdr) + 32 + NJ_TTY_LEN,
	       "nj_exec layout changed");
_Static_assert(offsetof(struct nj_exec, data) == sizeof(struct nj_exec), "nj_exec.data moved");
_Static_assert(sizeof(struct nj_exit) == sizeof(struct nj_hdr) + 8, "nj_exit layout changed");
_Static_assert(sizeof(struct nj_net) == sizeof(struct nj_hdr) + 16 + 32, "nj_net layout changed");
_Static_assert(offsetof(struct nj_net, saddr) == sizeof(struct nj_hdr) + 16, "nj_net.saddr moved");
_Static_assert(sizeof(struct nj_open) == sizeof(struct nj_hdr) + 40, "nj_open layout changed");
_Static_assert(sizeof(struct nj_inode_key) == 16, "nj_inode_key layout changed");
_Static_assert(sizeof(struct nj_sig_key) == NJ_LEAF_MAX + NJ_PARENT_MAX, "nj_sig_key changed");
_Static_assert((NJ_ARGS_MAX & (NJ_ARGS_MAX - 1)) == 0, "NJ_ARGS_MAX must be a power of two");
_Static_assert((NJ_PATH_MAX & (NJ_PATH_MAX - 1)) == 0, "NJ_PATH_MAX must be a power of two");

static const size_t fixed_size[] = {
	[NJ_REC_EXEC] = sizeof(struct nj_exec),	   [NJ_REC_FORK] = sizeof(struct nj_fork),
	[NJ_REC_EXIT] = sizeof(struct nj_exit),	   [NJ_REC_CONNECT] = sizeof(struct nj_net),
	[NJ_REC_ACCEPT] = sizeof(struct nj_net),   [NJ_REC_LISTEN] = sizeof(struct nj_net),
	[NJ_REC_UDP_SEND] = sizeof(struct nj_net), [NJ_REC_OPEN] = sizeof(struct nj_open),
};

int nj_record_check(const void *data, size_t len, const char **why)
{
	const struct nj_hdr *h = data;
	size_t var = 0;

	if (len < sizeof(*h)) {
		*why = "shorter than a record header";
		return -1;
	}
	if (h->kind == 0 || h->kind >= sizeof(fixed_size) / sizeof(fixed_size[0])) {
		*why = "unknown record kind";
		return -1;
	}
	if (h->size > len || h->size < fixed_size[h->kind]) {
		*why = "size field disagrees with the record";
		return -1;
	}
	if (h->kind == NJ_REC_EXEC) {
		const struct nj_exec *e = data;

		var = (size_t)e->args_len + e->exe.len;
	} else if (h->kind == NJ_REC_OPEN) {
		var = ((const struct nj_open *)data)->path.len;
	}
	if (fixed_size[h->kind] + var > h->size) {
		*why = "variable part overruns the record";
		return -1;
	}
	return (int)h->kind;
}

size_t nj_path_string(char *out, size_t outlen, const char *comps, const struct nj_path *p)
{
	const char *starts[NJ_PATH_DEPTH];
	size_t n = 0, off = 0, w = 0;
	int i;

	if (outlen == 0)
		return 0;
	/* components are leaf first; remember where each starts, then write them root first */
	while (off < p->len && n < NJ_PATH_DEPTH) {
		starts[n++] = comps + off;
		off += strnlen(comps + off, p->len - off) + 1;
	}
	if (n == 0) {
		/* the root itself, or nothing known */
		w = snprintf(out, outlen, "%s", p->len == 0 && p->depth == 0 ? "" : "/");
		return w < outlen ? w : outlen - 1;
	}
	for (i = (int)n - 1; i >= 0; i--) {
		size_t clen = strnlen(starts[i], comps + p->len - starts[i]);

		/* the root dentry's name is "/" itself; skip it, every component gets its '/' */
		if (clen == 1 && starts[i][0] == '/')
			continue;
		if (w + 1 + clen + 1 > outlen)
			break;
		out[w++] = '/';
		memcpy(out + w, starts[i], clen);
		w += clen;
	}
	if (w == 0 && outlen > 1)
		out[w++] = '/';
	out[w] = '\0';
	return w;
}

uint32_t nj_kdev(uint64_t st_dev)
{
	return (uint32_t)(major(st_dev) << 20) | (minor(st_dev) & 0xfffff);
}

unsigned int nj_kdev_major(uint32_t kdev)
{
	return kdev >> 20;
}

unsigned int nj_kdev_minor(uint32_t kdev)
{
	return kdev & 0xfffff;
}

static uint64_t ns_per_tick(void)
{
	static uint64_t npt;

	if (!npt) {
		long hz = sysconf(_SC_CLK_TCK);

		npt = 1000000000ull / (uint64_t)(hz > 0 ? hz : 100);
	}
	return npt;
}

uint64_t nj_ticks_to_ns(uint64_t ticks)
{
	return ticks * ns_per_tick();
}

void nj_entity_id(char out[NJ_ENTITY_ID_LEN], const char *boot_id, uint32_t tgid, uint64_t start_ns)
{
	char b[17] = {0};
	size_t i, j;

	/* the first 64 bits of the boot id, without its dashes */
	for (i = 0, j = 0; boot_id[i] && j < 16; i++)
		if (boot_id[i] != '-')
			b[j++] = boot_id[i];
	snprintf(out, NJ_ENTITY_ID_LEN, "%s-%u-%llu", b, tgid,
		 (unsigned long long)(start_ns / ns_per_tick()));
}
