/* watch.c - pattern signatures, home directories and glob expansion. */
#include <dirent.h>
#include <glob.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "watch.h"

static bool has_glob(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == '*' || s[i] == '?' || s[i] == '[')
			return true;
	return false;
}

uint32_t nj_watch_signature(const char *pattern, char leaf[NJ_LEAF_MAX], char parent[NJ_PARENT_MAX])
{
	const char *slash = strrchr(pattern, '/'), *pslash, *pstart;
	size_t llen, plen;

	memset(leaf, 0, NJ_LEAF_MAX);
	memset(parent, 0, NJ_PARENT_MAX);
	if (!slash)
		return 0;
	llen = strlen(slash + 1);
	if (llen == 0 || llen >= NJ_LEAF_MAX || has_glob(slash + 1, llen))
		return 0;
	memcpy(leaf, slash + 1, llen);

	/* the parent component: between the previous '/' and this one */
	for (pslash = slash; pslash > pattern && pslash[-1] != '/'; pslash--)
		;
	pstart = pslash;
	plen = (size_t)(slash - pstart);
	/* "~/x" has the home as parent, "/x" the root, a glob any directory: the leaf alone */
	if (plen == 0 || (plen == 1 && pstart[0] == '~') || has_glob(pstart, plen) ||
	    plen >= NJ_PARENT_MAX)
		return NJ_NAME_ANY_PARENT;
	memcpy(parent, pstart, plen);
	return NJ_NAME_NEED_PARENT;
}

static int add_home(char ***homes, size_t *n, size_t *cap, const char *path)
{
	char dir[PATH_MAX];
	struct stat st;
	size_t i;

	/* one directory, one entry: "/home/a/", "/home/a" and "/var/home/a" behind a /home
	 * symlink are the same home */
	if (path[0] != '/' || !realpath(path, dir) || stat(dir, &st) || !S_ISDIR(st.st_mode))
		return 0;
	for (i = 0; i < *n; i++)
		if (!strcmp((*homes)[i], dir))
			return 0;
	if (*n + 2 > *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		char **nh = realloc(*homes, ncap * sizeof(**homes));

		if (!nh)
			return -1;
		*homes = nh;
		*cap = ncap;
	}
	(*homes)[*n] = strdup(dir);
	if (!(*homes)[*n])
		return -1;
	(*n)++;
	(*homes)[*n] = NULL;
	return 0;
}

size_t nj_watch_homes(const char *passwd_path, const char *home_root, char ***homes)
{
	char line[4096], dir[4096];
	size_t n = 0, cap = 0;
	struct dirent *de;
	FILE *f;
	DIR *d;

	*homes = calloc(1, sizeof(**homes));
	if (!*homes)
		return 0;
	cap = 1;
	/* parsed by hand, not getpwent(): tests point this at their own file, and NSS modules
	 * (LDAP, sssd) should not be queried on every rescan */
	f = fopen(passwd_path, "re");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *field = line;
			int i;

			for (i = 0; i < 5 && field; i++) {
				field = strchr(field, ':');
				if (field)
					field++;
			}
			if (!field)
				continue;
			field[strcspn(field, ":\n")] = '\0';
			/* the root directory as a home would make "~/x" mean "/x" */
			if (strcmp(field, "/") && add_home(homes, &n, &cap, field))
				break;
		}
		fclose(f);
	}
	d = opendir(home_root);
	if (d) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(dir, sizeof(dir), "%s/%s", home_root, de->d_name);
			if (add_home(homes, &n, &cap, dir))
				break;
		}
		closedir(d);
	}
	return n;
}

void nj_watch_free_homes(char **homes)
{
	size_t i;

	if (!homes)
		return;
	for (i = 0; homes[i]; i++)
		free(homes[i]);
	free(homes);
}

static size_t expand_one(const char *path, nj_watch_found_cb found, void *arg)
{
	size_t i, count = 0;
	struct stat st;
	glob_t g;

	if (glob(path, GLOB_NOSORT, NULL, &g))
		return 0;
	for (i = 0; i < g.gl_pathc; i++) {
		if (stat(g.gl_pathv[i], &st) || !S_ISREG(st.st_mode))
			continue;
		found(g.gl_pathv[i], st.st_dev, st.st_ino, arg);
		count++;
	}
	globfree(&g);
	return count;
}

size_t nj_watch_expand(const char *pattern, char *const *homes, nj_watch_found_cb found, void *arg)
{
	char path[8192];
	size_t count = 0, i;

	if (pattern[0] == '/')
		return expand_one(pattern, found, arg);
	if (strncmp(pattern, "~/", 2))
		return 0;
	for (i = 0; homes && homes[i]; i++) {
		snprintf(path, sizeof(path), "%s%s", homes[i], pattern + 1);
		count += expand_one(path, found, arg);
	}
	return count;
}
