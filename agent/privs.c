/* privs.c - drop the capabilities that only loading and attaching needed. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "log.h"
#include "privs.h"

static char kept_text[512] = "not dropped (the agent is still starting)";

/* Does a map operation need a capability on this kernel? Before 6.5, with
 * kernel.unprivileged_bpf_disabled set, every bpf() command did; since, only creating maps and
 * loading programs do. Asked of the kernel with an empty effective set (the permitted set
 * stays, so we can raise it again), the same check a map update at the next rescan meets. */
static bool map_access_needs_capability(cap_t cur, int map_fd)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	cap_t probe = cap_dup(cur);
	void *key = NULL, *val = NULL;
	bool needed = true;
	int err = 0;

	if (!probe || cap_clear_flag(probe, CAP_EFFECTIVE) || cap_set_proc(probe)) {
		nj_warn("cannot test map access without privileges: %s; keeping CAP_BPF",
			strerror(errno));
		cap_free(probe);
		return true;
	}
	if (bpf_obj_get_info_by_fd(map_fd, &info, &len) == 0) {
		key = calloc(1, info.key_size);
		val = calloc(1, info.value_size);
		if (key && val && bpf_map_lookup_elem(map_fd, key, val) && errno != ENOENT)
			err = errno;
		needed = !key || !val || err;
	} else {
		err = errno;
	}
	if (cap_set_proc(cur))
		nj_warn("restoring our capabilities after the map test: %s", strerror(errno));
	if (err && err != EPERM)
		nj_warn("testing map access without privileges: %s; keeping CAP_BPF",
			strerror(err));
	free(key);
	free(val);
	cap_free(probe);
	return needed;
}

static bool permitted(cap_t caps, cap_value_t c)
{
	cap_flag_value_t v = CAP_CLEAR;

	return cap_get_flag(caps, c, CAP_PERMITTED, &v) == 0 && v == CAP_SET;
}

static void describe(const cap_value_t *keep, size_t n)
{
	size_t i, w;

	w = (size_t)snprintf(kept_text, sizeof(kept_text), "uid %u, capabilities ",
			     (unsigned int)geteuid());
	for (i = 0; i < n && w < sizeof(kept_text); i++) {
		char *name = cap_to_name(keep[i]);

		w += (size_t)snprintf(kept_text + w, sizeof(kept_text) - w, "%s%s", i ? "," : "",
				      name ? name : "?");
		cap_free(name);
	}
	if (!n && w < sizeof(kept_text))
		snprintf(kept_text + w, sizeof(kept_text) - w, "none");
}

int nj_privs_drop(int watch_map_fd)
{
	cap_value_t keep[2];
	cap_t cur = cap_get_proc(), next = NULL;
	bool may_bound;
	size_t n = 0, i;
	int c, ret = -1;

	if (!cur) {
		nj_warn("reading our capabilities: %s; privileges not dropped", strerror(errno));
		snprintf(kept_text, sizeof(kept_text), "not dropped: %s", strerror(errno));
		return -1;
	}
	/* rescans stat credential files inside 0700 home directories */
	if (permitted(cur, CAP_DAC_READ_SEARCH))
		keep[n++] = CAP_DAC_READ_SEARCH;
	if (map_access_needs_capability(cur, watch_map_fd)) {
		/* CAP_SYS_ADMIN also grants bpf(); keep it only if CAP_BPF is not ours */
		if (permitted(cur, CAP_BPF))
			keep[n++] = CAP_BPF;
		else if (permitted(cur, CAP_SYS_ADMIN))
			keep[n++] = CAP_SYS_ADMIN;
	}
	may_bound = CAP_IS_SUPPORTED(CAP_SETPCAP) && permitted(cur, CAP_SETPCAP);

	next = cap_init();
	if (!next)
		goto err_keep;
	if (n && (cap_set_flag(next, CAP_PERMITTED, (int)n, keep, CAP_SET) ||
		  cap_set_flag(next, CAP_EFFECTIVE, (int)n, keep, CAP_SET)))
		goto err_keep;
	/* Without CAP_SETPCAP (started by systemd with ambient capabilities) the bounding set is
	 * the unit's CapabilityBoundingSet=; started as root, we narrow it ourselves so that no
	 * exec of a set-uid program can bring anything back. */
	if (may_bound) {
		for (c = 0; c <= (int)cap_max_bits() - 1; c++) {
			bool wanted = false;

			for (i = 0; i < n; i++)
				wanted |= keep[i] == c;
			if (!wanted && cap_drop_bound(c) && errno != EINVAL)
				goto err_keep;
		}
	}
	if (cap_reset_ambient() && errno != EINVAL)
		goto err_keep;
	if (cap_set_proc(next))
		goto err_keep;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		goto err_keep;
	describe(keep, n);
	nj_info("dropped privileges after attaching: kept %s%s", kept_text,
		may_bound ? "" : " (bounding set left to the service manager)");
	ret = 0;
	goto out_free_caps;

err_keep:
	nj_warn("dropping privileges failed: %s; the agent runs on with those it started with",
		strerror(errno));
	snprintf(kept_text, sizeof(kept_text), "not dropped: %s", strerror(errno));
out_free_caps:
	cap_free(next);
	cap_free(cur);
	return ret;
}

const char *nj_privs_kept(void)
{
	return kept_text;
}
