/* proc.c - process table and /proc snapshot. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

#define NBUCKETS 8192 /* power of two; chains stay short at a workstation's few thousand */

struct nj_proctab {
	struct nj_proc *buckets[NBUCKETS];
	struct nj_proc *dead_head, *dead_tail;
	size_t size;
	char boot_id[40];
};

static inline size_t bucket(uint32_t tgid)
{
	return (tgid * 2654435761u) & (NBUCKETS - 1);
}

struct nj_proctab *nj_proctab_new(const char *boot_id)
{
	struct nj_proctab *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	snprintf(t->boot_id, sizeof(t->boot_id), "%s", boot_id);
	return t;
}

static void proc_free(struct nj_proc *p)
{
	free(p->exe);
	free(p->args);
	free(p);
}

void nj_proctab_free(struct nj_proctab *t)
{
	struct nj_proc *p, *next;
	size_t i;

	if (!t)
		return;
	for (i = 0; i < NBUCKETS; i++)
		for (p = t->buckets[i]; p; p = next) {
			next = p->next;
			proc_free(p);
		}
	free(t);
}

const char *nj_proctab_boot_id(const struct nj_proctab *t)
{
	return t->boot_id;
}

size_t nj_proctab_size(const struct nj_proctab *t)
{
	return t->size;
}

/* Two readings of one start time may differ below a clock tick: the snapshot has ticks, the
 * kernel nanoseconds. Compare in ticks, as the entity id does. */
static bool same_start(uint64_t a, uint64_t b)
{
	uint64_t tick = nj_ticks_to_ns(1);

	return a / tick == b / tick;
}

struct nj_proc *nj_proc_find(struct nj_proctab *t, uint32_t tgid, uint64_t start_ns)
{
	struct nj_proc *p;

	for (p = t->buckets[bucket(tgid)]; p; p = p->next)
		if (p->tgid == tgid && same_start(p->start_ns, start_ns))
			return p;
	return NULL;
}

static char *dup_bytes(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

int nj_proc_set_image(struct nj_proc *p, const char *exe, const char *args, uint32_t args_len,
		      bool args_trunc)
{
	char *e = exe ? strdup(exe) : NULL;
	char *a = args ? dup_bytes(args, args_len) : NULL;

	if ((exe && !e) || (args && !a)) {
		free(e);
		free(a);
		return -1;
	}
	free(p->exe);
	free(p->args);
	p->exe = e;
	p->args = a;
	p->args_len = args ? args_len : 0;
	p->args_trunc = args_trunc;
	return 0;
}

struct nj_proc *nj_proc_get(struct nj_proctab *t, uint32_t tgid, uint64_t start_ns, uint32_t ppid,
			    uint64_t parent_start_ns)
{
	struct nj_proc *p = nj_proc_find(t, tgid, start_ns), *parent;
	size_t b = bucket(tgid);

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->tgid = tgid;
	p->start_ns = start_ns;
	p->ppid = ppid;
	p->parent_start_ns = parent_start_ns;
	nj_entity_id(p->entity_id, t->boot_id, tgid, start_ns);
	parent = nj_proc_find(t, ppid, parent_start_ns);
	if (parent) {
		memcpy(p->comm, parent->comm, sizeof(p->comm));
		p->uid = parent->uid;
		p->sid = parent->sid;
		if (nj_proc_set_image(p, parent->exe, parent->args, parent->args_len,
				      parent->args_trunc)) {
			free(p);
			return NULL;
		}
	}
	p->next = t->buckets[b];
	t->buckets[b] = p;
	t->size++;
	return p;
}

void nj_proc_exited(struct nj_proctab *t, struct nj_proc *p, uint64_t now_ns)
{
	if (p->exited_at_ns)
		return;
	p->exited_at_ns = now_ns ? now_ns : 1;
	p->dead_next = NULL;
	if (t->dead_tail)
		t->dead_tail->dead_next = p;
	else
		t->dead_head = p;
	t->dead_tail = p;
}

static void unlink_proc(struct nj_proctab *t, struct nj_proc *p)
{
	struct nj_proc **pp;

	for (pp = &t->buckets[bucket(p->tgid)]; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			t->size--;
			return;
		}
}

size_t nj_proctab_expire(struct nj_proctab *t, uint64_t now_ns, uint64_t linger_ns)
{
	size_t n = 0;
	struct nj_proc *p;

	while ((p = t->dead_head) && p->exited_at_ns + linger_ns <= now_ns) {
		t->dead_head = p->dead_next;
		if (!t->dead_head)
			t->dead_tail = NULL;
		unlink_proc(t, p);
		proc_free(p);
		n++;
	}
	return n;
}

static ssize_t read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, total = 0;

	if (fd < 0)
		return -1;
	while ((size_t)total < len && (n = read(fd, buf + total, len - total)) > 0)
		total += n;
	close(fd);
	return total;
}

int nj_read_boot_id(char out[40])
{
	ssize_t n = read_file("/proc/sys/kernel/random/boot_id", out, 39);

	if (n < 32)
		return -1;
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

/* /proc/PID/stat: "pid (comm) state ppid ... starttime(22) ..."; comm may hold spaces and
 * parentheses, so parse from the last ')'. */
static int parse_stat(const char *buf, char comm[NJ_COMM_LEN], uint32_t *ppid, uint32_t *sid,
		      uint64_t *ticks)
{
	const char *open = strchr(buf, '('), *close = strrchr(buf, ')'), *p;
	unsigned long long v;
	int field;
	size_t n;

	if (!open || !close || close < open)
		return -1;
	n = (size_t)(close - open - 1);
	if (n >= NJ_COMM_LEN)
		n = NJ_COMM_LEN - 1;
	memcpy(comm, open + 1, n);
	comm[n] = '\0';
	/* field 3 (state) starts after ") " */
	p = close + 2;
	for (field = 3; *p && field < 22; field++) {
		if (field == 4)
			*ppid = (uint32_t)strtoul(p, NULL, 10);
		else if (field == 6)
			*sid = (uint32_t)strtoul(p, NULL, 10);
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	if (sscanf(p, "%llu", &v) != 1)
		return -1;
	*ticks = v;
	return 0;
}

struct snap {
	uint32_t tgid, ppid;
	uint64_t start_ns;
};

int nj_proctab_snapshot(struct nj_proctab *t, const char *proc_root, uint32_t skip_tgid)
{
	struct snap *s = NULL;
	size_t n = 0, cap = 0, i, j;
	char path[512], buf[8192];
	struct dirent *de;
	int added = 0;
	DIR *d;

	d = opendir(proc_root);
	if (!d) {
		nj_err("process snapshot: cannot open %s: %s", proc_root, strerror(errno));
		return -1;
	}
	/* pass 1: identities, so that pass 2 can give each process its parent's start time */
	while ((de = readdir(d))) {
		char comm[NJ_COMM_LEN];
		uint32_t ppid = 0, sid;
		uint64_t ticks;
		ssize_t len;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "%s/%s/stat", proc_root, de->d_name);
		len = read_file(path, buf, sizeof(buf) - 1);
		if (len <= 0)
			continue; /* exited meanwhile */
		buf[len] = '\0';
		if (parse_stat(buf, comm, &ppid, &sid, &ticks))
			continue;
		if (n == cap) {
			struct snap *ns = realloc(s, (cap = cap ? cap * 2 : 512) * sizeof(*s));

			if (!ns) {
				closedir(d);
				free(s);
				return -1;
			}
			s = ns;
		}
		s[n++] = (struct snap){(uint32_t)strtoul(de->d_name, NULL, 10), ppid,
				       nj_ticks_to_ns(ticks)};
	}
	closedir(d);

	for (i = 0; i < n; i++) {
		uint64_t pstart = 0;
		struct nj_proc *p;
		char comm[NJ_COMM_LEN], exe[4096];
		uint32_t ppid, sid = 0;
		uint64_t ticks;
		ssize_t len;

		if (s[i].tgid == skip_tgid)
			continue;
		for (j = 0; j < n; j++)
			if (s[j].tgid == s[i].ppid) {
				pstart = s[j].start_ns;
				break;
			}
		p = nj_proc_get(t, s[i].tgid, s[i].start_ns, s[i].ppid, pstart);
		if (!p)
			break;
		snprintf(path, sizeof(path), "%s/%u/stat", proc_root, s[i].tgid);
		len = read_file(path, buf, sizeof(buf) - 1);
		if (len > 0) {
			buf[len] = '\0';
			if (!parse_stat(buf, comm, &ppid, &sid, &ticks)) {
				memcpy(p->comm, comm, sizeof(comm));
				p->sid = sid;
			}
		}
		snprintf(path, sizeof(path), "%s/%u/exe", proc_root, s[i].tgid);
		len = readlink(path, exe, sizeof(exe) - 1);
		exe[len > 0 ? len : 0] = '\0';
		snprintf(path, sizeof(path), "%s/%u/cmdline", proc_root, s[i].tgid);
		len = read_file(path, buf, sizeof(buf));
		/* kernel threads have neither exe nor cmdline */
		if (nj_proc_set_image(p, exe[0] ? exe : NULL, len > 0 ? buf : NULL,
				      len > 0 ? (uint32_t)len : 0, len == (ssize_t)sizeof(buf)))
			break;
		snprintf(path, sizeof(path), "%s/%u/status", proc_root, s[i].tgid);
		len = read_file(path, buf, sizeof(buf) - 1);
		if (len > 0) {
			char *uid;

			buf[len] = '\0';
			uid = strstr(buf, "\nUid:");
			if (uid)
				p->uid = (uint32_t)strtoul(uid + 5, NULL, 10);
		}
		added++;
	}
	free(s);
	return added;
}
