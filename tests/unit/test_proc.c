/* test_proc.c - the process table: identities by (pid, start tick), what a child inherits,
 * image replacement, the exit FIFO and its expiry, and the startup snapshot read from a fake
 * /proc built in a temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"

#define BOOT_ID "57636f39-ad4a-4c6e-9407-07c536f96a4e"

static uint64_t tick(void)
{
	return nj_ticks_to_ns(1);
}

/* ---- a fake /proc ---- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path))
		fail_msg("remove %s: %s", path, strerror(errno));
	return 0;
}

static void rm_tree(const char *dir)
{
	assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		fail_msg("create %s: %s", path, strerror(errno));
	if (write(fd, data, len) != (ssize_t)len)
		fail_msg("write %s: %s", path, strerror(errno));
	close(fd);
}

static void make_dir(char *out, size_t outlen, const char *root, const char *name)
{
	snprintf(out, outlen, "%s/%s", root, name);
	if (mkdir(out, 0755))
		fail_msg("mkdir %s: %s", out, strerror(errno));
}

/* One /proc/PID: stat, cmdline (len bytes), status, and exe when not NULL. */
static void make_pid(const char *root, const char *name, const char *stat, const char *cmdline,
		     size_t cmdline_len, const char *status, const char *exe)
{
	char dir[256], link[512];

	make_dir(dir, sizeof(dir), root, name);
	write_file(dir, "stat", stat, strlen(stat));
	write_file(dir, "cmdline", cmdline, cmdline_len);
	write_file(dir, "status", status, strlen(status));
	if (exe) {
		snprintf(link, sizeof(link), "%s/exe", dir);
		if (symlink(exe, link))
			fail_msg("symlink %s: %s", link, strerror(errno));
	}
}

/* Lines in the kernel's format, with starttime (field 22) 5000, 7000, 1 and 9000 ticks. */
static const char stat_bash[] =
	"100 (bash) S 1 100 100 34816 200 4194304 2392 11339 0 0 5 2 8 3 20 0 1 0 5000 9064448 "
	"1327 18446744073709551615 94111490023424 94111490934973 140727536347392 0 0 0 65536 "
	"3686404 1266761467 1 0 0 17 3 0 0 0 0 0 94111491165936 94111491213236 94111513341952 "
	"140727536353297 140727536353307 140727536353307 140727536357358 0\n";
static const char stat_weird[] =
	"200 (my (weird) proc) R 100 200 100 34816 200 4194304 103 0 0 0 0 0 0 0 20 0 1 0 7000 "
	"2998272 418 18446744073709551615 94336267722752 94336267746857 140723485720128 0 0 0 0 0 "
	"0 0 0 0 17 1 0 0 0 0 0 94336267762704 94336267764320 94336747745280 140723485727156 "
	"140723485727184 140723485727184 140723485728746 0\n";
static const char stat_kthreadd[] = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 1 "
				    "0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 1 0 0 "
				    "17 0 0 1 0 0 0 0 0 0 0 0 0 0 0\n";
static const char stat_long[] =
	"301 (sh) S 100 301 100 34816 200 4194304 90 0 0 0 0 0 0 0 20 0 1 0 9000 2998272 418 "
	"18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

static const char status_bash[] = "Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t100\n"
				  "Ngid:\t0\nPid:\t100\nPPid:\t1\nTracerPid:\t0\n"
				  "Uid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\n"
				  "FDSize:\t256\nGroups:\t24 27 1000 \n";
/* setuid root: real uid 1001, effective 0 */
static const char status_weird[] = "Name:\tmy (weird) proc\nUmask:\t0022\nState:\tR (running)\n"
				   "Tgid:\t200\nNgid:\t0\nPid:\t200\nPPid:\t100\nTracerPid:\t0\n"
				   "Uid:\t1001\t0\t0\t0\nGid:\t1001\t1001\t1001\t1001\n";
static const char status_root[] = "Name:\tkthreadd\nUmask:\t0000\nState:\tS (sleeping)\nTgid:\t2\n"
				  "Ngid:\t0\nPid:\t2\nPPid:\t0\nTracerPid:\t0\nUid:\t0\t0\t0\t0\n"
				  "Gid:\t0\t0\t0\t0\n";
static const char status_sh[] = "Name:\tsh\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t301\n"
				"Ngid:\t0\nPid:\t301\nPPid:\t100\nTracerPid:\t0\n"
				"Uid:\t1000\t1000\t1000\t1000\n";

static const char cmd_bash[] = "-bash";				 /* with its NUL: 6 bytes */
static const char cmd_weird[] = "/opt/my proc/run\0--name\0x y"; /* 27 bytes */

#define LONG_CMDLINE 10000

/* A fake /proc: 100 (bash) is the parent of 200 and 301, 2 is a kernel thread; 300 has a
 * stat that does not parse, 400 has exited, "self" and "sys" are not processes. */
static void make_fake_proc(char root[static 32])
{
	char dir[256], *longcmd;
	size_t i;

	strcpy(root, "/tmp/nj_proc_XXXXXX");
	assert_non_null(mkdtemp(root));
	make_pid(root, "100", stat_bash, cmd_bash, sizeof(cmd_bash), status_bash, "/usr/bin/bash");
	make_pid(root, "200", stat_weird, cmd_weird, sizeof(cmd_weird), status_weird,
		 "/opt/my proc/run");
	make_pid(root, "2", stat_kthreadd, "", 0, status_root, NULL);
	longcmd = malloc(LONG_CMDLINE);
	assert_non_null(longcmd);
	for (i = 0; i < LONG_CMDLINE; i++)
		longcmd[i] = i % 10 == 9 ? '\0' : (char)('a' + i % 10);
	make_pid(root, "301", stat_long, longcmd, LONG_CMDLINE, status_sh, "/usr/bin/dash");
	free(longcmd);
	make_pid(root, "300", "300 (truncated", "x", 2, "Uid:\t5\n", "/bin/x");
	make_dir(dir, sizeof(dir), root, "400");
	/* would parse, if the name were looked at */
	make_pid(root, "self", stat_bash, cmd_bash, sizeof(cmd_bash), status_bash, "/bin/self");
	make_dir(dir, sizeof(dir), root, "sys");
	write_file(root, "uptime", "1.00 2.00\n", 10);
}

/* ---- fixtures: a table, and for the snapshot tests a fake /proc; both undone after each
 * test, failed or not ---- */

struct fixture {
	struct nj_proctab *t;
	char root[32]; /* "" when no fake /proc */
};

static int setup_table(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->t = nj_proctab_new(BOOT_ID);
	*state = f;
	return f->t ? 0 : -1;
}

static int setup_fake_proc(void **state)
{
	struct fixture *f;

	if (setup_table(state))
		return -1;
	f = *state;
	make_fake_proc(f->root);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (!f)
		return 0;
	nj_proctab_free(f->t);
	if (f->root[0])
		rm_tree(f->root);
	free(f);
	return 0;
}

/* ---- identities ---- */

static void test_get_creates_once(void **state)
{
	struct fixture *f = *state;
	struct nj_proctab *t = f->t;
	uint64_t start = 5000 * tick() + 3, pstart = 10 * tick();
	struct nj_proc *p;

	assert_string_equal(nj_proctab_boot_id(t), BOOT_ID);
	assert_int_equal(nj_proctab_size(t), 0);
	assert_null(nj_proc_find(t, 100, start));

	p = nj_proc_get(t, 100, start, 1, pstart);
	assert_non_null(p);
	assert_int_equal(nj_proctab_size(t), 1);
	assert_int_equal(p->tgid, 100);
	assert_int_equal(p->ppid, 1);
	assert_int_equal(p->start_ns, start);
	assert_int_equal(p->parent_start_ns, pstart);
	assert_int_equal(p->exited_at_ns, 0);
	assert_int_equal(p->uid, 0);
	assert_string_equal(p->entity_id, "57636f39ad4a4c6e-100-5000");
	assert_string_equal(p->comm, "");
	assert_null(p->exe);
	assert_null(p->args);
	assert_int_equal(p->args_len, 0);
	assert_false(p->args_trunc);

	/* found again, by get and by find, anywhere in the same tick; nothing is changed */
	assert_ptr_equal(nj_proc_get(t, 100, start, 999, 0), p);
	assert_int_equal(p->ppid, 1);
	assert_int_equal(p->parent_start_ns, pstart);
	assert_ptr_equal(nj_proc_find(t, 100, 5000 * tick()), p);
	assert_ptr_equal(nj_proc_find(t, 100, 5001 * tick() - 1), p);
	assert_int_equal(nj_proctab_size(t), 1);
	/* not another pid, nor the next tick */
	assert_null(nj_proc_find(t, 101, start));
	assert_null(nj_proc_find(t, 100, 5001 * tick()));
	assert_null(nj_proc_find(t, 100, 4999 * tick()));
}

static void test_reused_pid_is_another_process(void **state)
{
	struct fixture *f = *state;
	struct nj_proctab *t = f->t;
	struct nj_proc *a, *b, *c;

	a = nj_proc_get(t, 4242, 100 * tick(), 1, 0);
	b = nj_proc_get(t, 4242, 200 * tick(), 1, 0);
	c = nj_proc_get(t, 4242, 300 * tick(), 1, 0);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_ptr_not_equal(a, b);
	assert_ptr_not_equal(b, c);
	assert_int_equal(nj_proctab_size(t), 3);
	assert_string_equal(a->entity_id, "57636f39ad4a4c6e-4242-100");
	assert_string_equal(b->entity_id, "57636f39ad4a4c6e-4242-200");
	assert_string_equal(c->entity_id, "57636f39ad4a4c6e-4242-300");
	assert_ptr_equal(nj_proc_find(t, 4242, 100 * tick()), a);
	assert_ptr_equal(nj_proc_find(t, 4242, 200 * tick()), b);
	assert_ptr_equal(nj_proc_find(t, 4242, 300 * tick()), c);
	/* dropping the middle one of the chain leaves the others */
	nj_proc_exited(t, b, 1000);
	assert_int_equal(nj_proctab_expire(t, 1000, 0), 1);
	assert_int_equal(nj_proctab_size(t), 2);
	assert_ptr_equal(nj_proc_find(t, 4242, 100 * tick()), a);
	assert_null(nj_proc_find(t, 4242, 200 * tick()));
	assert_ptr_equal(nj_proc_find(t, 4242, 300 * tick()), c);
}

/* ---- images ---- */

static void test_child_copies_known_parent(void **state)
{
	static const char args[] = "bash\0-l\0-c\0echo hi"; /* 19 bytes */
	struct fixture *f = *state;
	struct nj_proctab *t = f->t;
	struct nj_proc *parent, *child, *other;

	parent = nj_proc_get(t, 10, 50 * tick(), 1, tick());
	assert_non_null(parent);
	memcpy(parent->comm, "bash", 5);
	parent->uid = 1000;
	assert_int_equal(nj_proc_set_image(parent, "/usr/bin/bash", args, sizeof(args), true), 0);

	child = nj_proc_get(t, 11, 60 * tick(), 10, 50 * tick() + 5);
	assert_non_null(child);
	assert_int_equal(child->tgid, 11);
	assert_int_equal(child->ppid, 10);
	assert_int_equal(child->parent_start_ns, 50 * tick() + 5);
	assert_string_equal(child->comm, "bash");
	assert_int_equal(child->uid, 1000);
	assert_string_equal(child->exe, "/usr/bin/bash");
	assert_ptr_not_equal(child->exe, parent->exe);
	assert_int_equal(child->args_len, sizeof(args));
	assert_memory_equal(child->args, args, sizeof(args));
	assert_int_equal(child->args[sizeof(args)], '\0');
	assert_ptr_not_equal(child->args, parent->args);
	assert_true(child->args_trunc);
	assert_string_equal(child->entity_id, "57636f39ad4a4c6e-11-60");

	/* the child's exec leaves the parent as it was */
	assert_int_equal(nj_proc_set_image(child, "/usr/bin/ls", "ls", 3, false), 0);
	assert_string_equal(parent->exe, "/usr/bin/bash");
	assert_memory_equal(parent->args, args, sizeof(args));

	/* the same parent pid with another start time is not this parent: nothing copied */
	other = nj_proc_get(t, 12, 60 * tick(), 10, 49 * tick());
	assert_non_null(other);
	assert_string_equal(other->comm, "");
	assert_int_equal(other->uid, 0);
	assert_null(other->exe);
	assert_null(other->args);
	/* nor from an unknown parent */
	other = nj_proc_get(t, 13, 60 * tick(), 77, 50 * tick());
	assert_non_null(other);
	assert_null(other->exe);
	assert_int_equal(nj_proctab_size(t), 4);
}

static void test_child_of_parent_without_image(void **state)
{
	struct fixture *f = *state;
	struct nj_proctab *t = f->t;
	struct nj_proc *parent, *child;

	parent = nj_proc_get(t, 2, tick(), 0, 0);
	assert_non_null(parent);
	memcpy(parent->comm, "kthreadd", 9);
	child = nj_proc_get(t, 90, 2 * tick(), 2, tick());
	assert_non_null(child);
	assert_string_equal(child->comm, "kthreadd");
	assert_null(child->exe);
	assert_null(child->args);
	assert_int_equal(child->args_len, 0);
}

static void test_set_image_replaces(void **state)
{
	struct fixture *f = *state;
	struct nj_proctab *t = f->t;
	struct nj_proc *p;

	p = nj_proc_get(t, 100, tick(), 1, 0);
	assert_non_null(p);
	assert_int_equal(nj_proc_set_image(p, "/bin/a", "a\0", 2, false), 0);
	assert_string_equal(p->exe, "/bin/a");
	assert_int_equal(p->args_len, 2);
	assert_memory_equal(p->args, "a\0", 3);
	assert_false(p->args_trunc);

	assert_int_equal(nj_proc_set_image(p, "/usr/bin/b", "b\0-x\0y", 7, true), 0);
	assert_string_equal(p->exe, "/usr/bin/b");
	assert_int_equal(p->args_len, 7);
	assert_memory_equal(p->args, "b\0-x\0y", 8);
	assert_true(p->args_trunc);

	/* an empty argv is not an unknown one */
	assert_int_equal(nj_proc_set_image(p, "/bin/c", "", 0, false), 0);
	assert_non_null(p->args);
	assert_int_equal(p->args_len, 0);
	assert_int_equal(p->args[0], '\0');

	/* unknown image: a length without args is not kept */
	assert_int_equal(nj_proc_set_image(p, NULL, NULL, 5, false), 0);
	assert_null(p->exe);
	assert_null(p->args);
	assert_int_equal(p->args_len, 0);
}

/* ---- exit and expiry ---- */

static void test_exit_and_expire(void **state)
{
	struct fixture *f = *state;
	struct nj_proctab *t = f->t;
	struct nj_proc *p[5];
	uint32_t i;

	for (i = 0; i < 5; i++) {
		p[i] = nj_proc_get(t, 100 + i, (10 + i) * tick(), 1, 0);
		assert_non_null(p[i]);
		assert_int_equal(nj_proc_set_image(p[i], "/bin/true", "true", 5, false), 0);
	}
	assert_int_equal(nj_proctab_size(t), 5);
	assert_int_equal(nj_proctab_expire(t, UINT64_MAX / 2, 0), 0);

	nj_proc_exited(t, p[0], 1000);
	nj_proc_exited(t, p[1], 2000);
	nj_proc_exited(t, p[2], 3000);
	/* a second exit of the same process keeps the first time and one place in line */
	nj_proc_exited(t, p[0], 2500);
	assert_int_equal(p[0]->exited_at_ns, 1000);
	assert_int_equal(p[2]->exited_at_ns, 3000);
	assert_int_equal(p[3]->exited_at_ns, 0);

	/* lingering: still found, size unchanged */
	assert_int_equal(nj_proctab_expire(t, 1999, 1000), 0);
	assert_int_equal(nj_proctab_size(t), 5);
	assert_ptr_equal(nj_proc_find(t, 100, 10 * tick()), p[0]);
	assert_ptr_equal(nj_proc_get(t, 100, 10 * tick(), 1, 0), p[0]);

	/* exactly linger_ns after the exit: dropped, the first in line only */
	assert_int_equal(nj_proctab_expire(t, 2000, 1000), 1);
	assert_int_equal(nj_proctab_size(t), 4);
	assert_null(nj_proc_find(t, 100, 10 * tick()));
	assert_ptr_equal(nj_proc_find(t, 101, 11 * tick()), p[1]);

	/* the next two in exit order; the live ones stay */
	assert_int_equal(nj_proctab_expire(t, 4000, 1000), 2);
	assert_int_equal(nj_proctab_size(t), 2);
	assert_null(nj_proc_find(t, 101, 11 * tick()));
	assert_null(nj_proc_find(t, 102, 12 * tick()));
	assert_ptr_equal(nj_proc_find(t, 103, 13 * tick()), p[3]);
	assert_ptr_equal(nj_proc_find(t, 104, 14 * tick()), p[4]);
	assert_int_equal(nj_proctab_expire(t, UINT64_MAX / 2, 1000), 0);

	/* the queue works again once emptied; time 0 counts as exited */
	nj_proc_exited(t, p[4], 0);
	assert_int_equal(p[4]->exited_at_ns, 1);
	nj_proc_exited(t, p[3], 5000);
	assert_int_equal(nj_proctab_expire(t, 5000, 0), 2);
	assert_int_equal(nj_proctab_size(t), 0);
	assert_null(nj_proc_find(t, 103, 13 * tick()));
	assert_null(nj_proc_find(t, 104, 14 * tick()));

	/* a dropped identity seen again is a new, empty entry */
	p[0] = nj_proc_get(t, 100, 10 * tick(), 1, 0);
	assert_non_null(p[0]);
	assert_null(p[0]->exe);
	assert_int_equal(p[0]->exited_at_ns, 0);
	assert_int_equal(nj_proctab_size(t), 1);
}

/* Freeing the table frees lingering entries too (the leak checker watches). */
static void test_free_with_lingering(void **state)
{
	struct fixture *f = *state;
	struct nj_proctab *t = f->t;
	struct nj_proc *p;
	uint32_t i;

	for (i = 0; i < 100; i++) {
		p = nj_proc_get(t, 1000 + i, tick() * i, 1, 0);
		assert_non_null(p);
		assert_int_equal(nj_proc_set_image(p, "/bin/sh", "sh\0-c", 6, false), 0);
		if (i % 3 == 0)
			nj_proc_exited(t, p, 1000 + i);
	}
	assert_int_equal(nj_proctab_size(t), 100);
	assert_int_equal(nj_proctab_expire(t, 1010, 0), 4);
	assert_int_equal(nj_proctab_size(t), 96);
	nj_proctab_free(t);
	f->t = NULL;
	nj_proctab_free(NULL);
}

/* ---- the /proc snapshot ---- */

static void test_snapshot(void **state)
{
	struct fixture *f = *state;
	struct nj_proctab *t = f->t;
	struct nj_proc *bash, *weird, *kthread, *sh;
	const char *root = f->root;
	char want_id[NJ_ENTITY_ID_LEN];
	size_t i;

	assert_int_equal(nj_proctab_snapshot(t, root, 0), 4);
	assert_int_equal(nj_proctab_size(t), 4);

	bash = nj_proc_find(t, 100, nj_ticks_to_ns(5000));
	assert_non_null(bash);
	assert_int_equal(bash->tgid, 100);
	assert_int_equal(bash->ppid, 1);
	assert_int_equal(bash->start_ns, nj_ticks_to_ns(5000));
	assert_int_equal(bash->parent_start_ns, 0); /* pid 1 is not in this /proc */
	assert_string_equal(bash->comm, "bash");
	assert_int_equal(bash->uid, 1000);
	assert_string_equal(bash->exe, "/usr/bin/bash");
	assert_int_equal(bash->args_len, sizeof(cmd_bash));
	assert_memory_equal(bash->args, cmd_bash, sizeof(cmd_bash));
	assert_false(bash->args_trunc);
	assert_int_equal(bash->exited_at_ns, 0);
	nj_entity_id(want_id, BOOT_ID, 100, nj_ticks_to_ns(5000));
	assert_string_equal(bash->entity_id, want_id);
	assert_string_equal(bash->entity_id, "57636f39ad4a4c6e-100-5000");

	weird = nj_proc_find(t, 200, nj_ticks_to_ns(7000));
	assert_non_null(weird);
	assert_int_equal(weird->ppid, 100);
	assert_int_equal(weird->start_ns, nj_ticks_to_ns(7000));
	assert_int_equal(weird->parent_start_ns, bash->start_ns);
	assert_string_equal(weird->comm, "my (weird) proc");
	assert_int_equal(weird->uid, 1001);
	assert_string_equal(weird->exe, "/opt/my proc/run");
	assert_int_equal(weird->args_len, sizeof(cmd_weird));
	assert_memory_equal(weird->args, cmd_weird, sizeof(cmd_weird));
	assert_false(weird->args_trunc);
	assert_string_equal(weird->entity_id, "57636f39ad4a4c6e-200-7000");

	/* a kernel thread: no exe, no cmdline */
	kthread = nj_proc_find(t, 2, nj_ticks_to_ns(1));
	assert_non_null(kthread);
	assert_int_equal(kthread->ppid, 0);
	assert_int_equal(kthread->parent_start_ns, 0);
	assert_string_equal(kthread->comm, "kthreadd");
	assert_int_equal(kthread->uid, 0);
	assert_null(kthread->exe);
	assert_null(kthread->args);
	assert_int_equal(kthread->args_len, 0);

	/* a command line longer than the read is cut and flagged */
	sh = nj_proc_find(t, 301, nj_ticks_to_ns(9000));
	assert_non_null(sh);
	assert_int_equal(sh->parent_start_ns, bash->start_ns);
	assert_string_equal(sh->comm, "sh");
	assert_string_equal(sh->exe, "/usr/bin/dash");
	assert_true(sh->args_trunc);
	assert_true(sh->args_len > 0 && sh->args_len <= NJ_ARGS_MAX);
	for (i = 0; i < sh->args_len; i++)
		if (sh->args[i] != (i % 10 == 9 ? '\0' : (char)('a' + i % 10)))
			fail_msg("args byte %zu differs", i);
	assert_int_equal(sh->args[sh->args_len], '\0');

	/* four found and a size of four: the unparsable stat (300), the empty directory (400) and
	 * the names that are not pids added nothing */
}

static void test_snapshot_skip_tgid(void **state)
{
	struct fixture *f = *state;
	struct nj_proctab *t = f->t;
	struct nj_proc *weird, *sh;
	const char *root = f->root;

	/* the agent is the parent: skipped, and its children still name its start time */
	assert_int_equal(nj_proctab_snapshot(t, root, 100), 3);
	assert_int_equal(nj_proctab_size(t), 3);
	assert_null(nj_proc_find(t, 100, nj_ticks_to_ns(5000)));
	weird = nj_proc_find(t, 200, nj_ticks_to_ns(7000));
	assert_non_null(weird);
	assert_int_equal(weird->parent_start_ns, nj_ticks_to_ns(5000));
	assert_string_equal(weird->comm, "my (weird) proc");
	sh = nj_proc_find(t, 301, nj_ticks_to_ns(9000));
	assert_non_null(sh);
	assert_int_equal(sh->parent_start_ns, nj_ticks_to_ns(5000));
	nj_proctab_free(t);

	/* a leaf */
	t = f->t = nj_proctab_new(BOOT_ID);
	assert_non_null(t);
	assert_int_equal(nj_proctab_snapshot(t, root, 200), 3);
	assert_null(nj_proc_find(t, 200, nj_ticks_to_ns(7000)));
	assert_non_null(nj_proc_find(t, 100, nj_ticks_to_ns(5000)));
	assert_non_null(nj_proc_find(t, 2, nj_ticks_to_ns(1)));
	assert_non_null(nj_proc_find(t, 301, nj_ticks_to_ns(9000)));
}

/* A snapshot over entries the table already has fills them in place. */
static void test_snapshot_over_known(void **state)
{
	struct fixture *f = *state;
	struct nj_proctab *t = f->t;
	struct nj_proc *p;
	const char *root = f->root;

	p = nj_proc_get(t, 200, nj_ticks_to_ns(7000) + 1, 100, nj_ticks_to_ns(5000));
	assert_non_null(p);
	assert_int_equal(nj_proc_set_image(p, "/old", "old", 4, true), 0);
	assert_int_equal(nj_proctab_snapshot(t, root, 0), 4);
	assert_int_equal(nj_proctab_size(t), 4);
	assert_ptr_equal(nj_proc_find(t, 200, nj_ticks_to_ns(7000)), p);
	assert_string_equal(p->exe, "/opt/my proc/run");
	assert_int_equal(p->args_len, sizeof(cmd_weird));
	assert_false(p->args_trunc);
}

static void test_snapshot_missing_root(void **state)
{
	struct fixture *f = *state;
	struct nj_proctab *t = f->t;
	char root[32];

	strcpy(root, "/tmp/nj_proc_XXXXXX");
	assert_non_null(mkdtemp(root));
	assert_int_equal(rmdir(root), 0);
	assert_int_equal(nj_proctab_snapshot(t, root, 0), -1);
	assert_int_equal(nj_proctab_size(t), 0);
}

static void test_read_boot_id(void **state)
{
	char id[40];
	int i;

	(void)state;
	memset(id, 'x', sizeof(id));
	assert_int_equal(nj_read_boot_id(id), 0);
	assert_int_equal(strlen(id), 36);
	for (i = 0; i < 36; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(id[i], '-');
		else if (!strchr("0123456789abcdef", id[i]))
			fail_msg("boot id '%s': byte %d", id, i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_creates_once, setup_table, teardown),
		cmocka_unit_test_setup_teardown(test_reused_pid_is_another_process, setup_table,
						teardown),
		cmocka_unit_test_setup_teardown(test_child_copies_known_parent, setup_table,
						teardown),
		cmocka_unit_test_setup_teardown(test_child_of_parent_without_image, setup_table,
						teardown),
		cmocka_unit_test_setup_teardown(test_set_image_replaces, setup_table, teardown),
		cmocka_unit_test_setup_teardown(test_exit_and_expire, setup_table, teardown),
		cmocka_unit_test_setup_teardown(test_free_with_lingering, setup_table, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot, setup_fake_proc, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_skip_tgid, setup_fake_proc, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_over_known, setup_fake_proc,
						teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_missing_root, setup_table, teardown),
		cmocka_unit_test(test_read_boot_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
