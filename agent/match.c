/* match.c - process matchers. A matcher never looks at comm: the process sets it itself. */
#include <fnmatch.h>
#include <string.h>

#include "match.h"

void nj_subject_set_args(struct nj_subject *s, const char *args, size_t len)
{
	size_t off = 0;

	s->argc = 0;
	while (args && off < len && s->argc < NJ_MATCH_ARGV_MAX) {
		s->argv[s->argc++] = args + off;
		off += strnlen(args + off, len - off) + 1;
	}
}

/* An argument glob that names a path never matches a path with "." or ".." in it: otherwise
 * "/home/u/../../tmp/x/lib/gcloud.py" would pass for "/home/ * /lib/gcloud.py". */
static bool arg_match(const char *glob, const char *arg, int flags)
{
	if (strchr(glob, '/') && (strstr(arg, "/../") || strstr(arg, "/./") ||
				  !strncmp(arg, "../", 3) || !strncmp(arg, "./", 2)))
		return false;
	return !fnmatch(glob, arg, flags);
}

static bool glob_any(const struct nj_strv *g, const char *s, int flags)
{
	size_t i;

	for (i = 0; s && i < g->n; i++)
		if (!fnmatch(g->v[i], s, flags))
			return true;
	return false;
}

static const char *base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* g matches the arguments from argv[i] on, one glob each */
static bool args_at(const struct nj_strv *g, const struct nj_subject *s, size_t i, int flags)
{
	size_t j;

	if (i + g->n > s->argc)
		return false;
	for (j = 0; j < g->n; j++)
		if (!arg_match(g->v[j], s->argv[i + j], flags))
			return false;
	return true;
}

/* args: consecutive globs somewhere in argv[1..] */
static bool args_seq(const struct nj_strv *g, const struct nj_subject *s, int flags)
{
	size_t i;

	for (i = 1; i + g->n <= s->argc; i++)
		if (args_at(g, s, i, flags))
			return true;
	return false;
}

static bool args_any(const struct nj_strv *g, const struct nj_subject *s, int flags)
{
	size_t i, j;

	for (i = 1; i < s->argc; i++)
		for (j = 0; j < g->n; j++)
			if (arg_match(g->v[j], s->argv[i], flags))
				return true;
	return false;
}

static bool args_all(const struct nj_strv *g, const struct nj_subject *s, int flags)
{
	size_t i, j;

	for (j = 0; j < g->n; j++) {
		for (i = 1; i < s->argc && !arg_match(g->v[j], s->argv[i], flags); i++)
			;
		if (i == s->argc)
			return false;
	}
	return true;
}

static bool opt_wanted(const struct nj_pmatch *m, char letter, const char *value)
{
	size_t i;

	for (i = 0; i < m->n_opts; i++) {
		if (m->opts[i].letter != letter)
			continue;
		if (!m->opts[i].glob || (value && !fnmatch(m->opts[i].glob, value, FNM_CASEFOLD)))
			return true;
	}
	return false;
}

/* argv parsed as getopt(3) with m->optstring would: "-fND1080" is f, N, D=1080. Options may
 * follow the first operand, as ssh allows ("ssh host -D 1080"); the second operand (ssh's
 * remote command) or "--" ends them, so "ssh host ls -lR" has no -R. */
static bool options(const struct nj_pmatch *m, const struct nj_subject *s)
{
	int operands = 0;
	size_t i;

	for (i = 1; i < s->argc; i++) {
		const char *a = s->argv[i], *c;

		if (!strcmp(a, "--"))
			break;
		if (a[0] != '-' || !a[1]) {
			if (++operands == 2)
				break;
			continue;
		}
		for (c = a + 1; *c; c++) {
			const char *spec = *c != ':' ? strchr(m->optstring, *c) : NULL;
			const char *value = NULL;

			if (!spec) /* unknown to the program: it would refuse to run */
				break;
			if (spec[1] == ':') {
				value = c[1] ? c + 1 : (i + 1 < s->argc ? s->argv[++i] : NULL);
				if (opt_wanted(m, *c, value))
					return true;
				break;
			}
			if (opt_wanted(m, *c, NULL))
				return true;
		}
	}
	return false;
}

bool nj_pmatch(const struct nj_pmatch *m, const struct nj_subject *s)
{
	const int fl = m->nocase ? FNM_CASEFOLD : 0;
	size_t i;

	if (m->executable.n && !glob_any(&m->executable, s->exe, 0))
		return false;
	if (m->name.n && !glob_any(&m->name, base(s->exe), 0))
		return false;
	if (m->min_args && s->argc < (size_t)m->min_args + 1)
		return false;
	/* an interpreter's script or module: anchored, so "python3 x.py -m azure.cli" is not az */
	if (m->args_prefix.n && !args_at(&m->args_prefix, s, 1, fl))
		return false;
	if (m->args.n && !args_seq(&m->args, s, fl))
		return false;
	if (m->args_all.n && !args_all(&m->args_all, s, fl))
		return false;
	if (m->args_any.n && !args_any(&m->args_any, s, fl))
		return false;
	if (m->optstring && !options(m, s))
		return false;
	if (m->parent_exe.n && (!s->n_ancestors || !glob_any(&m->parent_exe, s->ancestors[0], 0)))
		return false;
	if (m->ancestor_exe.n) {
		for (i = 0; i < s->n_ancestors; i++)
			if (glob_any(&m->ancestor_exe, s->ancestors[i], 0))
				break;
		if (i == s->n_ancestors)
			return false;
	}
	if (m->owner && (!s->has_owner || s->owner != s->uid))
		return false;
	return true;
}

bool nj_pmatch_any(const struct nj_pmatch *m, size_t n, const struct nj_subject *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (nj_pmatch(&m[i], s))
			return true;
	return false;
}
