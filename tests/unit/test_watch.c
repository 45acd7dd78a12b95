/* test_watch.c - credential patterns: the name signatures handed to the kernel (every byte of
 * the map keys), home directories from a fake passwd and home root, and pattern expansion
 * over fake homes with globs, symlinks and directories. */
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

#include "watch.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- files ---- */

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

static void make_tmpdir(char dir[static 32])
{
	strcpy(dir, "/tmp/nj_watch_XXXXXX");
	assert_non_null(mkdtemp(dir));
}

/* mkdir -p root/rel */
static void make_dirs(const char *root, const char *rel)
{
	char path[512];
	size_t o = strlen(root) + 1;

	snprintf(path, sizeof(path), "%s/%s/", root, rel);
	for (; path[o]; o++) {
		if (path[o] != '/')
			continue;
		path[o] = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			fail_msg("mkdir %s: %s", path, strerror(errno));
		path[o] = '/';
	}
}

/* root/rel with text in it, its directories made first */
static void make_file(const char *root, const char *rel, const char *text)
{
	char path[512], *slash;
	int fd;

	snprintf(path, sizeof(path), "%s", rel);
	slash = strrchr(path, '/');
	if (slash) {
		*slash = '\0';
		make_dirs(root, path);
	}
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		fail_msg("create %s: %s", path, strerror(errno));
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		fail_msg("write %s: %s", path, strerror(errno));
	close(fd);
}

static void make_link(const char *root, const char *rel, const char *target)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (symlink(target, path))
		fail_msg("symlink %s: %s", path, strerror(errno));
}

/* ---- fixtures: a temporary directory, undone after each test, failed or not ---- */

struct fixture {
	char root[32];
	char cwd[512];
	char **homes_found; /* from nj_watch_homes, while a test holds it */
	/* the expansion tests' two homes */
	char h1[64], h2[64];
	char *homes[3];
};

static int setup_tmpdir(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || !getcwd(f->cwd, sizeof(f->cwd))) {
		free(f);
		return -1;
	}
	*state = f;
	make_tmpdir(f->root);
	return 0;
}

static void make_tree(struct fixture *t);

static int setup_tree(void **state)
{
	if (setup_tmpdir(state))
		return -1;
	make_tree(*state);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (!f)
		return 0;
	if (chdir(f->cwd))
		return -1;
	nj_watch_free_homes(f->homes_found);
	if (f->root[0])
		rm_tree(f->root);
	free(f);
	return 0;
}

/* ---- signatures ---- */

struct sig_case {
	const char *pattern;
	uint32_t ret;
	const char *leaf, *parent;
};

/* The whole key, padding included: the kernel compares all NJ_LEAF_MAX + NJ_PARENT_MAX bytes. */
#define check_signature(c) check_signature_at(__FILE__, __LINE__, c)
static void check_signature_at(const char *file, int line, const struct sig_case *c)
{
	char leaf[NJ_LEAF_MAX], parent[NJ_PARENT_MAX], want_leaf[NJ_LEAF_MAX] = {0},
						       want_parent[NJ_PARENT_MAX] = {0};
	uint32_t ret;

	memset(leaf, 0xff, sizeof(leaf));
	memset(parent, 0xff, sizeof(parent));
	assert_true(strlen(c->leaf) < sizeof(want_leaf) && strlen(c->parent) < sizeof(want_parent));
	memcpy(want_leaf, c->leaf, strlen(c->leaf));
	memcpy(want_parent, c->parent, strlen(c->parent));
	ret = nj_watch_signature(c->pattern, leaf, parent);
	if (ret != c->ret)
		fail_msg("%s:%d: '%s' -> %u, expected %u", file, line, c->pattern, ret, c->ret);
	if (memcmp(leaf, want_leaf, sizeof(leaf)))
		fail_msg("%s:%d: '%s': leaf '%.*s', expected '%s' and zeros", file, line,
			 c->pattern, (int)sizeof(leaf), leaf, c->leaf);
	if (memcmp(parent, want_parent, sizeof(parent)))
		fail_msg("%s:%d: '%s': parent '%.*s', expected '%s' and zeros", file, line,
			 c->pattern, (int)sizeof(parent), parent, c->parent);
}

static void test_signature_defaults(void **state)
{
	static const struct sig_case cases[] = {
		{"~/.aws/credentials", NJ_NAME_NEED_PARENT, "credentials", ".aws"},
		{"~/.aws/config", NJ_NAME_NEED_PARENT, "config", ".aws"},
		{"~/.kube/config", NJ_NAME_NEED_PARENT, "config", ".kube"},
		{"~/.ssh/id_rsa", NJ_NAME_NEED_PARENT, "id_rsa", ".ssh"},
		{"~/.config/gcloud/credentials.db", NJ_NAME_NEED_PARENT, "credentials.db",
		 "gcloud"},
		{"~/.netrc", NJ_NAME_ANY_PARENT, ".netrc", ""},
		{"~/.git-credentials", NJ_NAME_ANY_PARENT, ".git-credentials", ""},
		{"/etc/shadow", NJ_NAME_NEED_PARENT, "shadow", "etc"},
		{"/etc/gshadow", NJ_NAME_NEED_PARENT, "gshadow", "etc"},
		/* a glob in the parent: any directory, so the leaf alone */
		{"~/.mozilla/firefox/*/cookies.sqlite", NJ_NAME_ANY_PARENT, "cookies.sqlite", ""},
		{"~/.config/google-chrome/*/Login Data", NJ_NAME_ANY_PARENT, "Login Data", ""},
		{"~/.config/gcloud/legacy_credentials/*/adc.json", NJ_NAME_ANY_PARENT, "adc.json",
		 ""},
		/* a glob in the leaf: identities only */
		{"~/.aws/sso/cache/*.json", 0, "", ""},
		{"~/.aws/cli/cache/*.json", 0, "", ""},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		check_signature(&cases[i]);
}

static void test_signature_shapes(void **state)
{
	static const struct sig_case cases[] = {
		/* directly under the root: the leaf alone */
		{"/shadow", NJ_NAME_ANY_PARENT, "shadow", ""},
		{"/srv/app/token", NJ_NAME_NEED_PARENT, "token", "app"},
		/* every glob character, in the leaf and in the parent */
		{"/etc/shadow?", 0, "", ""},
		{"/etc/[sg]shadow", 0, "", ""},
		{"/srv/a?b/token", NJ_NAME_ANY_PARENT, "token", ""},
		{"/srv/[ab]/token", NJ_NAME_ANY_PARENT, "token", ""},
		/* no leaf at all */
		{"/etc/", 0, "", ""},
		{"~/", 0, "", ""},
		{"/", 0, "", ""},
		{"shadow", 0, "", ""},
		{"", 0, "", ""},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		check_signature(&cases[i]);
}

static void test_signature_lengths(void **state)
{
	char pattern[256], name63[64], name64[65], dir31[32], dir32[33];
	struct sig_case c;

	(void)state;
	memset(name63, 'l', 63);
	name63[63] = '\0';
	memset(name64, 'l', 64);
	name64[64] = '\0';
	memset(dir31, 'p', 31);
	dir31[31] = '\0';
	memset(dir32, 'p', 32);
	dir32[32] = '\0';

	/* the longest leaf the key holds with its NUL */
	snprintf(pattern, sizeof(pattern), "/etc/%s", name63);
	c = (struct sig_case){pattern, NJ_NAME_NEED_PARENT, name63, "etc"};
	check_signature(&c);
	snprintf(pattern, sizeof(pattern), "~/%s", name63);
	c = (struct sig_case){pattern, NJ_NAME_ANY_PARENT, name63, ""};
	check_signature(&c);
	/* one more: no signature */
	snprintf(pattern, sizeof(pattern), "/etc/%s", name64);
	c = (struct sig_case){pattern, 0, "", ""};
	check_signature(&c);

	/* the longest parent */
	snprintf(pattern, sizeof(pattern), "/srv/%s/token", dir31);
	c = (struct sig_case){pattern, NJ_NAME_NEED_PARENT, "token", dir31};
	check_signature(&c);
	/* one more: too long for the key, so the leaf alone */
	snprintf(pattern, sizeof(pattern), "/srv/%s/token", dir32);
	c = (struct sig_case){pattern, NJ_NAME_ANY_PARENT, "token", ""};
	check_signature(&c);
	/* both at their longest */
	snprintf(pattern, sizeof(pattern), "~/%s/%s", dir31, name63);
	c = (struct sig_case){pattern, NJ_NAME_NEED_PARENT, name63, dir31};
	check_signature(&c);
}

/* ---- home directories ---- */

static void test_homes_passwd_and_home_root(void **state)
{
	struct fixture *f = *state;
	const char *root = f->root;
	char passwd[1024], home_root[64], want[4][64];
	char **homes;
	size_t n, i;

	make_dirs(root, "home/alice");
	make_dirs(root, "home/bob");
	make_dirs(root, "home/carol");
	make_dirs(root, "home/.cache"); /* dotted: never a home */
	make_file(root, "home/notes.txt", "x");
	make_dirs(root, "srv/shared");
	snprintf(passwd, sizeof(passwd),
		 "# comment\n"
		 "daemon:x:1:1:daemon:/:/usr/sbin/nologin\n"
		 "svc:x:998:998:Service:%s/srv/shared:/usr/sbin/nologin\n"
		 "\n"
		 "alice:x:1000:1000:Alice,,,:%s/home/alice:/bin/bash\n"
		 "ghost:x:1001:1001::%s/home/ghost:/bin/sh\n"
		 "svc2:x:997:997::%s/srv/shared:/bin/false\n"
		 "notes:x:996:996::%s/home/notes.txt:/bin/false\n"
		 "rel:x:995:995::relative/home:/bin/sh\n"
		 "nohome:x:994:994:::/bin/sh\n"
		 "short:x:1\n"
		 "carol:x:1002:1002::%s/home/carol",
		 root, root, root, root, root, root);
	make_file(root, "passwd", passwd);
	snprintf(passwd, sizeof(passwd), "%s/passwd", root);
	snprintf(home_root, sizeof(home_root), "%s/home", root);

	/* passwd first, in its order; then what only the home root has */
	snprintf(want[0], sizeof(want[0]), "%s/srv/shared", root);
	snprintf(want[1], sizeof(want[1]), "%s/home/alice", root);
	snprintf(want[2], sizeof(want[2]), "%s/home/carol", root);
	snprintf(want[3], sizeof(want[3]), "%s/home/bob", root);
	n = nj_watch_homes(passwd, home_root, &homes);
	f->homes_found = homes;
	assert_non_null(homes);
	for (i = 0; homes[i]; i++)
		if (i >= ARRAY_SIZE(want) || strcmp(homes[i], want[i]))
			fail_msg("home %zu is '%s', expected '%s'", i, homes[i],
				 i < ARRAY_SIZE(want) ? want[i] : "(end)");
	assert_int_equal(i, ARRAY_SIZE(want));
	assert_int_equal(n, ARRAY_SIZE(want));
	nj_watch_free_homes(homes);
	f->homes_found = NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_homes_from_home_root_only(void **state)
{
	struct fixture *f = *state;
	const char *root = f->root;
	char passwd[64], home_root[64], want[64];
	char **homes;
	size_t n, i;

	make_dirs(root, "home/zed");
	make_dirs(root, "home/amy");
	make_dirs(root, "home/.skel");
	snprintf(passwd, sizeof(passwd), "%s/no-passwd", root);
	snprintf(home_root, sizeof(home_root), "%s/home", root);
	n = nj_watch_homes(passwd, home_root, &homes);
	f->homes_found = homes;
	assert_int_equal(n, 2);
	assert_non_null(homes);
	assert_null(homes[2]);
	/* readdir order: compare as a set */
	qsort(homes, n, sizeof(*homes), cmp_str);
	snprintf(want, sizeof(want), "%s/home/amy", root);
	assert_string_equal(homes[0], want);
	snprintf(want, sizeof(want), "%s/home/zed", root);
	assert_string_equal(homes[1], want);
	nj_watch_free_homes(homes);
	f->homes_found = NULL;

	/* neither source: an empty, NULL-terminated list */
	snprintf(home_root, sizeof(home_root), "%s/no-home", root);
	n = nj_watch_homes(passwd, home_root, &homes);
	f->homes_found = homes;
	assert_int_equal(n, 0);
	assert_non_null(homes);
	assert_null(homes[0]);
	nj_watch_free_homes(homes);
	f->homes_found = NULL;
	nj_watch_free_homes(NULL);

	/* many: the list grows, stays NULL-terminated, no duplicates */
	for (i = 0; i < 70; i++) {
		snprintf(want, sizeof(want), "home/u%02zu", i);
		make_dirs(root, want);
	}
	snprintf(home_root, sizeof(home_root), "%s/home", root);
	n = nj_watch_homes(passwd, home_root, &homes);
	f->homes_found = homes;
	assert_int_equal(n, 72);
	assert_null(homes[72]);
	qsort(homes, n, sizeof(*homes), cmp_str);
	for (i = 0; i < 70; i++) {
		snprintf(want, sizeof(want), "%s/home/u%02zu", root, i);
		assert_string_equal(homes[1 + i], want);
	}
	snprintf(want, sizeof(want), "%s/home/amy", root);
	assert_string_equal(homes[0], want);
	snprintf(want, sizeof(want), "%s/home/zed", root);
	assert_string_equal(homes[71], want);
	nj_watch_free_homes(homes);
	f->homes_found = NULL;
}

/* ---- expansion ---- */

struct found {
	size_t n;
	struct {
		char path[256];
		uint64_t dev, ino;
	} f[16];
};

static void on_found(const char *path, uint64_t st_dev, uint64_t st_ino, void *arg)
{
	struct found *fs = arg;

	assert_true(fs->n < ARRAY_SIZE(fs->f));
	snprintf(fs->f[fs->n].path, sizeof(fs->f[0].path), "%s", path);
	fs->f[fs->n].dev = st_dev;
	fs->f[fs->n].ino = st_ino;
	fs->n++;
}

static int cmp_found(const void *a, const void *b)
{
	return strcmp(a, b); /* path is the first member */
}

/* Sort by path: glob's order is not specified (GLOB_NOSORT). */
static void sort_found(struct found *fs)
{
	qsort(fs->f, fs->n, sizeof(fs->f[0]), cmp_found);
}

/* found entry i is root/rel, with the identity of root/target (rel itself unless a link) */
#define assert_found(fs, i, root, rel, target)                                                     \
	assert_found_at(__FILE__, __LINE__, fs, i, root, rel, target)
static void assert_found_at(const char *file, int line, const struct found *fs, size_t i,
			    const char *root, const char *rel, const char *target)
{
	char path[512];
	struct stat st;

	if (i >= fs->n)
		fail_msg("%s:%d: only %zu found", file, line, fs->n);
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (strcmp(fs->f[i].path, path))
		fail_msg("%s:%d: found '%s', expected '%s'", file, line, fs->f[i].path, path);
	snprintf(path, sizeof(path), "%s/%s", root, target);
	assert_int_equal(stat(path, &st), 0);
	if (fs->f[i].dev != st.st_dev || fs->f[i].ino != st.st_ino)
		fail_msg("%s:%d: '%s' reported as %llu:%llu, expected %llu:%llu", file, line,
			 fs->f[i].path, (unsigned long long)fs->f[i].dev,
			 (unsigned long long)fs->f[i].ino, (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
}

static void make_tree(struct fixture *t)
{
	make_file(t->root, "etc/shadow", "root:*:19000:0:99999:7:::\n");
	make_file(t->root, "etc/gshadow", "root:*::\n");
	make_file(t->root, "h1/.aws/credentials", "[default]\n");
	make_file(t->root, "h2/.aws/credentials", "[prod]\n");
	make_file(t->root, "h1/.mozilla/firefox/abc.default/cookies.sqlite", "a");
	make_file(t->root, "h1/.mozilla/firefox/xyz.dev/cookies.sqlite", "b");
	/* a directory the glob matches: not a file */
	make_dirs(t->root, "h1/.mozilla/firefox/dir.default/cookies.sqlite");
	/* a link to a regular file elsewhere, and one to nothing */
	make_file(t->root, "real/cookies.db", "c");
	make_dirs(t->root, "h2/.mozilla/firefox/p.default");
	make_link(t->root, "h2/.mozilla/firefox/p.default/cookies.sqlite",
		  "../../../../real/cookies.db");
	make_dirs(t->root, "h2/.mozilla/firefox/broken.default");
	make_link(t->root, "h2/.mozilla/firefox/broken.default/cookies.sqlite", "/nonexistent/nj");
	/* glob's '*' does not match a leading dot */
	make_file(t->root, "h2/.mozilla/firefox/.hidden/cookies.sqlite", "d");
	snprintf(t->h1, sizeof(t->h1), "%s/h1", t->root);
	snprintf(t->h2, sizeof(t->h2), "%s/h2", t->root);
	t->homes[0] = t->h1;
	t->homes[1] = t->h2;
	t->homes[2] = NULL;
}

static void test_expand_absolute(void **state)
{
	struct found fs = {0};
	char pattern[128];
	struct fixture *t = *state;

	snprintf(pattern, sizeof(pattern), "%s/etc/shadow", t->root);
	assert_int_equal(nj_watch_expand(pattern, t->homes, on_found, &fs), 1);
	assert_int_equal(fs.n, 1);
	assert_found(&fs, 0, t->root, "etc/shadow", "etc/shadow");

	/* homes do not matter to an absolute pattern */
	memset(&fs, 0, sizeof(fs));
	snprintf(pattern, sizeof(pattern), "%s/etc/*shadow", t->root);
	assert_int_equal(nj_watch_expand(pattern, NULL, on_found, &fs), 2);
	assert_int_equal(fs.n, 2);
	sort_found(&fs);
	assert_found(&fs, 0, t->root, "etc/gshadow", "etc/gshadow");
	assert_found(&fs, 1, t->root, "etc/shadow", "etc/shadow");

	/* nothing there */
	memset(&fs, 0, sizeof(fs));
	snprintf(pattern, sizeof(pattern), "%s/etc/passwd", t->root);
	assert_int_equal(nj_watch_expand(pattern, t->homes, on_found, &fs), 0);
	snprintf(pattern, sizeof(pattern), "%s/nodir/*.json", t->root);
	assert_int_equal(nj_watch_expand(pattern, t->homes, on_found, &fs), 0);
	/* a directory is not a file */
	snprintf(pattern, sizeof(pattern), "%s/etc", t->root);
	assert_int_equal(nj_watch_expand(pattern, t->homes, on_found, &fs), 0);
	assert_int_equal(fs.n, 0);
}

static void test_expand_in_every_home(void **state)
{
	struct found fs = {0};
	char *none[] = {NULL};
	struct fixture *t = *state;

	/* one per home, in the homes' order */
	assert_int_equal(nj_watch_expand("~/.aws/credentials", t->homes, on_found, &fs), 2);
	assert_int_equal(fs.n, 2);
	assert_found(&fs, 0, t->root, "h1/.aws/credentials", "h1/.aws/credentials");
	assert_found(&fs, 1, t->root, "h2/.aws/credentials", "h2/.aws/credentials");
	assert_true(fs.f[0].ino != fs.f[1].ino);

	/* one home only */
	memset(&fs, 0, sizeof(fs));
	t->homes[1] = NULL;
	assert_int_equal(nj_watch_expand("~/.aws/credentials", t->homes, on_found, &fs), 1);
	assert_found(&fs, 0, t->root, "h1/.aws/credentials", "h1/.aws/credentials");
	t->homes[1] = t->h2;

	/* no homes */
	memset(&fs, 0, sizeof(fs));
	assert_int_equal(nj_watch_expand("~/.aws/credentials", none, on_found, &fs), 0);
	assert_int_equal(nj_watch_expand("~/.aws/credentials", NULL, on_found, &fs), 0);
	assert_int_equal(nj_watch_expand("~/.aws/sso/cache/*.json", t->homes, on_found, &fs), 0);
	assert_int_equal(fs.n, 0);
}

static void test_expand_glob_in_the_middle(void **state)
{
	struct found fs = {0};
	char link[256];
	struct stat lst;
	struct fixture *t = *state;

	assert_int_equal(
		nj_watch_expand("~/.mozilla/firefox/*/cookies.sqlite", t->homes, on_found, &fs), 3);
	assert_int_equal(fs.n, 3);
	/* h1's two files (its directory match left out), then h2's link (not the broken one,
	 * not the dotted profile); h1's paths sort first */
	sort_found(&fs);
	assert_found(&fs, 0, t->root, "h1/.mozilla/firefox/abc.default/cookies.sqlite",
		     "h1/.mozilla/firefox/abc.default/cookies.sqlite");
	assert_found(&fs, 1, t->root, "h1/.mozilla/firefox/xyz.dev/cookies.sqlite",
		     "h1/.mozilla/firefox/xyz.dev/cookies.sqlite");
	/* the link is reported by its name, with the identity of the file it names */
	assert_found(&fs, 2, t->root, "h2/.mozilla/firefox/p.default/cookies.sqlite",
		     "real/cookies.db");
	snprintf(link, sizeof(link), "%s/h2/.mozilla/firefox/p.default/cookies.sqlite", t->root);
	assert_int_equal(lstat(link, &lst), 0);
	assert_true(S_ISLNK(lst.st_mode));
	assert_true(fs.f[2].ino != lst.st_ino);
}

static void test_expand_refuses_other_patterns(void **state)
{
	static const char *const bad[] = {
		"etc/shadow",
		".aws/credentials",
		"~root/.ssh/id_rsa",
		"~",
		"~.aws/credentials",
		"",
		"./h1/.aws/credentials",
		"*/.aws/credentials",
	};
	struct found fs = {0};
	struct fixture *t = *state;
	char prefix[64], *homes[] = {prefix, NULL};
	size_t i;

	/* run from the tree, so that a relative pattern would match if it were expanded (the
	 * teardown goes back) */
	assert_int_equal(chdir(t->root), 0);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		if (nj_watch_expand(bad[i], t->homes, on_found, &fs) != 0)
			fail_msg("'%s' expanded", bad[i]);
	/* "~1/x" is no home's "/x", even where a home's name plus "1" is another home */
	snprintf(prefix, sizeof(prefix), "%s/h", t->root);
	assert_int_equal(nj_watch_expand("~1/.aws/credentials", homes, on_found, &fs), 0);
	assert_int_equal(nj_watch_expand("~2/.aws/credentials", homes, on_found, &fs), 0);
	assert_int_equal(fs.n, 0);
}

/* One directory is one home, however passwd spells it: a trailing slash, or a path through a
 * symlinked /home (Fedora Atomic's /home -> var/home). */
static void test_homes_same_directory_once(void **state)
{
	struct fixture *f = *state;
	const char *root = f->root;
	char passwd[1024], home_root[64], want[128];
	char **homes;

	make_dirs(root, "var/home/alice");
	make_link(root, "home", "var/home");
	snprintf(passwd, sizeof(passwd),
		 "alice:x:1000:1000::%s/var/home/alice:/bin/sh\n"
		 "alias:x:1001:1001::%s/home/alice/:/bin/sh\n",
		 root, root);
	make_file(root, "passwd", passwd);
	snprintf(passwd, sizeof(passwd), "%s/passwd", root);
	snprintf(home_root, sizeof(home_root), "%s/home", root);
	assert_int_equal(nj_watch_homes(passwd, home_root, &homes), 1);
	f->homes_found = homes;
	snprintf(want, sizeof(want), "%s/var/home/alice", root);
	assert_string_equal(homes[0], want);
	assert_null(homes[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signature_defaults),
		cmocka_unit_test(test_signature_shapes),
		cmocka_unit_test(test_signature_lengths),
		cmocka_unit_test_setup_teardown(test_homes_passwd_and_home_root, setup_tmpdir,
						teardown),
		cmocka_unit_test_setup_teardown(test_homes_same_directory_once, setup_tmpdir,
						teardown),
		cmocka_unit_test_setup_teardown(test_homes_from_home_root_only, setup_tmpdir,
						teardown),
		cmocka_unit_test_setup_teardown(test_expand_absolute, setup_tree, teardown),
		cmocka_unit_test_setup_teardown(test_expand_in_every_home, setup_tree, teardown),
		cmocka_unit_test_setup_teardown(test_expand_glob_in_the_middle, setup_tree,
						teardown),
		cmocka_unit_test_setup_teardown(test_expand_refuses_other_patterns, setup_tree,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
