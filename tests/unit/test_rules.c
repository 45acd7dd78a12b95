/* test_rules.c - the default ruleset against its test cases, and the rules loader.
 *
 * The cases are rules/TESTCASES.md itself: every table row is read at run time and checked
 * against the rules files as loaded by nj_rules_load_file(), so the human-readable table and the
 * test cannot drift apart, and a rule that regresses fails here. The loader half checks that
 * every refusal a user can meet names FILE:LINE:COL, and the merge, CIDR and path semantics
 * the detector relies on. Paths are relative to the repository root, where `make unit` runs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "match.h"
#include "rules.h"
#include "watch.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *const rules_files[] = {"rules/credentials.yaml", "rules/tunnels.yaml",
					  "rules/network.yaml"};

/* ---- helpers ---------------------------------------------------------------------------- */

static void load_repo(struct nj_rules *r)
{
	char err[1024];
	size_t i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < ARRAY_SIZE(rules_files); i++)
		if (nj_rules_load_file(r, rules_files[i], err, sizeof(err)))
			fail_msg("%s (run from the repository root)", err);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long n;

	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static const struct nj_tool *tool_by_id(const struct nj_rules *r, const char *id)
{
	size_t i;

	for (i = 0; i < r->n_tools; i++)
		if (!strcmp(r->tools[i].r.id, id))
			return &r->tools[i];
	return NULL;
}

static const struct nj_store *store_by_id(const struct nj_rules *r, const char *id)
{
	size_t i;

	for (i = 0; i < r->n_stores; i++)
		if (!strcmp(r->stores[i].r.id, id))
			return &r->stores[i];
	return NULL;
}

/* A subject: argv split like a POSIX shell splits words ('...', "..." with \ escapes, \ outside
 * quotes), argv[0] the resolved executable; ancestors likewise, parent first. */
struct subj {
	struct nj_subject s;
	char args[4096];
	char anc[1024];
};

static size_t split_words(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	bool in_word = false;
	char q = 0;

	for (; *in; in++) {
		char c = *in;

		if (!q && (c == ' ' || c == '\t')) {
			if (in_word)
				out[o++] = '\0';
			in_word = false;
			continue;
		}
		in_word = true;
		if (q != '\'' && c == '\\' && in[1] && (!q || strchr("\"\\$`", in[1]))) {
			out[o++] = *++in;
		} else if (!q && (c == '\'' || c == '"')) {
			q = c;
		} else if (q && c == q) {
			q = 0;
		} else {
			out[o++] = c;
		}
		assert_true(o + 2 < outlen);
	}
	assert_int_equal(q, 0); /* an unclosed quote in a test case */
	if (in_word)
		out[o++] = '\0';
	return o;
}

static void subj_init(struct subj *t, const char *argv, const char *ancestors, bool owner)
{
	size_t len, i, off;

	memset(t, 0, sizeof(*t));
	len = split_words(argv, t->args, sizeof(t->args));
	nj_subject_set_args(&t->s, t->args, len);
	assert_true(t->s.argc > 0);
	t->s.exe = t->s.argv[0];
	if (ancestors) {
		len = split_words(ancestors, t->anc, sizeof(t->anc));
		for (off = 0, i = 0; off < len && i < NJ_MATCH_ANCESTORS; i++) {
			t->s.ancestors[i] = t->anc + off;
			off += strlen(t->anc + off) + 1;
		}
		t->s.n_ancestors = i;
	}
	/* owner: the reader's uid owns the file; otherwise root reads a user's file */
	t->s.has_owner = true;
	t->s.owner = 1000;
	t->s.uid = owner ? 1000 : 0;
}

/* As the detector decides (detect.c on_exec): a match, and no exception. */
static bool tool_fires(const struct nj_tool *t, const struct nj_subject *s)
{
	return !t->r.disabled && nj_pmatch_any(t->match, t->n_match, s) &&
	       !nj_pmatch_any(t->except, t->n_except, s);
}

/* ---- TESTCASES.md ----------------------------------------------------------------------- */

#define MAX_CELLS 6

struct row {
	char section[128]; /* the last "##" or "###" heading */
	char cell[MAX_CELLS][1024];
	size_t n;
	int line;
};

/* Split "| a | b |" into cells, '|' inside backticks included in the cell. */
static void split_row(const char *line, struct row *r)
{
	const char *p = line + 1;
	bool tick = false;
	size_t o = 0;

	r->n = 0;
	for (; *p && r->n < MAX_CELLS; p++) {
		if (*p == '`')
			tick = !tick;
		if (*p == '|' && !tick) {
			char *c = r->cell[r->n], *end;

			c[o] = '\0';
			while (*c == ' ')
				memmove(c, c + 1, strlen(c));
			end = c + strlen(c);
			while (end > c && end[-1] == ' ')
				*--end = '\0';
			r->n++;
			o = 0;
			continue;
		}
		if (o + 1 < sizeof(r->cell[0]))
			r->cell[r->n][o++] = *p;
	}
}

/* The first `code` span of a cell into out; false if the cell has none. */
static bool code_of(const char *cell, char *out, size_t len)
{
	const char *a = strchr(cell, '`'), *b = a ? strchr(a + 1, '`') : NULL;

	if (!b || (size_t)(b - a) > len)
		return false;
	memcpy(out, a + 1, (size_t)(b - a - 1));
	out[b - a - 1] = '\0';
	return true;
}

typedef void (*row_fn)(const struct nj_rules *r, const struct row *row, void *arg);

/* Call fn for every data row of the tables under headings starting with section. */
static size_t each_row(const struct nj_rules *r, const char *section, row_fn fn, void *arg)
{
	char *text = slurp("rules/TESTCASES.md"), *line, *save = NULL;
	struct row row = {0};
	size_t n = 0;
	int lineno = 0;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		if (!strncmp(line, "#", 1)) {
			snprintf(row.section, sizeof(row.section), "%s", line + strspn(line, "# "));
			continue;
		}
		if (strncmp(line, "| ", 2) || strncmp(row.section, section, strlen(section)))
			continue;
		split_row(line, &row);
		/* the header row names columns; the separator row is |---| */
		if (!strncmp(row.cell[0], "---", 3) || !strchr(line, '`'))
			continue;
		row.line = lineno;
		fn(r, &row, arg);
		n++;
	}
	free(text);
	return n;
}

struct tally {
	size_t checks, failures;
};

static void failed(struct tally *t, const struct row *row, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void failed(struct tally *t, const struct row *row, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "rules/TESTCASES.md:%d: ", row->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	t->failures++;
}

/* | rule id | must match | must not match | */
static void tunnel_row(const struct nj_rules *r, const struct row *row, void *arg)
{
	struct tally *t = arg;
	const struct nj_tool *tool = tool_by_id(r, row->cell[0]);
	char argv[1024];
	struct subj s;
	int side;

	if (!tool) {
		failed(t, row, "no tunnel tool '%s'", row->cell[0]);
		return;
	}
	for (side = 1; side <= 2; side++) {
		if (!code_of(row->cell[side], argv, sizeof(argv)))
			continue;
		subj_init(&s, argv, NULL, true);
		t->checks++;
		if (tool_fires(tool, &s.s) != (side == 1))
			failed(t, row, "%s %s: %s", tool->r.id,
			       side == 1 ? "must match but does not" : "must not match but does",
			       argv);
	}
}

static void test_tunnel_cases(void **state)
{
	struct tally t = {0};
	struct nj_rules r;

	(void)state;
	load_repo(&r);
	each_row(&r, "Tunnel tools", tunnel_row, &t);
	fprintf(stderr, "tunnel cases: %zu checked, %zu failed\n", t.checks, t.failures);
	/* a table the parser no longer reads must not pass as "nothing failed" */
	assert_true(t.checks >= 200);
	assert_int_equal(t.failures, 0);
	nj_rules_free(&r);
}

/* | exec | rules that fire | : exactly those tunnel.* ids */
static void overlap_row(const struct nj_rules *r, const struct row *row, void *arg)
{
	struct tally *t = arg;
	char argv[1024], want[1024];
	struct subj s;
	size_t i;

	if (!code_of(row->cell[0], argv, sizeof(argv)))
		return;
	subj_init(&s, argv, NULL, true);
	for (i = 0; i < r->n_tools; i++) {
		const char *id = r->tools[i].r.id, *at = strstr(row->cell[1], id);
		bool listed = at && !strchr("abcdefghijklmnopqrstuvwxyz0123456789.-",
					    at[strlen(id)] ? at[strlen(id)] : ' ');

		snprintf(want, sizeof(want), "%s", id);
		t->checks++;
		if (tool_fires(&r->tools[i], &s.s) != listed)
			failed(t, row, "%s %s: %s", want,
			       listed ? "listed but does not fire" : "fires but is not listed",
			       argv);
	}
}

static void test_overlap_cases(void **state)
{
	struct tally t = {0};
	struct nj_rules r;
	size_t rows;

	(void)state;
	load_repo(&r);
	rows = each_row(&r, "Overlaps", overlap_row, &t);
	fprintf(stderr, "overlap rows: %zu, %zu checks, %zu failed\n", rows, t.checks, t.failures);
	assert_true(rows >= 8);
	assert_int_equal(t.failures, 0);
	nj_rules_free(&r);
}

/* | rule id | exec | ancestors | expected | */
static void exception_row(const struct nj_rules *r, const struct row *row, void *arg)
{
	struct tally *t = arg;
	const struct nj_tool *tool = tool_by_id(r, row->cell[0]);
	char argv[1024], anc[1024];
	bool excepted = !strcmp(row->cell[3], "excepted");
	struct subj s;

	if (!tool || !code_of(row->cell[1], argv, sizeof(argv)) ||
	    !code_of(row->cell[2], anc, sizeof(anc)) ||
	    (!excepted && strcmp(row->cell[3], "reported"))) {
		failed(t, row, "malformed row");
		return;
	}
	subj_init(&s, argv, anc, true);
	t->checks++;
	if (!nj_pmatch_any(tool->match, tool->n_match, &s.s))
		failed(t, row, "%s does not match at all: %s", tool->r.id, argv);
	else if (tool_fires(tool, &s.s) == excepted)
		failed(t, row, "%s: expected %s: %s (ancestors %s)", tool->r.id, row->cell[3], argv,
		       anc);
}

static void test_exception_cases(void **state)
{
	struct tally t = {0};
	struct nj_rules r;

	(void)state;
	load_repo(&r);
	each_row(&r, "Exceptions", exception_row, &t);
	fprintf(stderr, "exception cases: %zu checked, %zu failed\n", t.checks, t.failures);
	assert_true(t.checks >= 8);
	assert_int_equal(t.failures, 0);
	nj_rules_free(&r);
}

/* | store id | reader | owner | expected | */
static void store_row(const struct nj_rules *r, const struct row *row, void *arg)
{
	struct tally *t = arg;
	const struct nj_store *st = store_by_id(r, row->cell[0]);
	const char *exp = row->cell[3];
	char argv[1024], path[1024];
	struct subj s;
	bool consumer;

	if (!st || !code_of(row->cell[1], argv, sizeof(argv))) {
		failed(t, row, "no credential store '%s', or no reader", row->cell[0]);
		return;
	}
	t->checks++;
	if (!strncmp(exp, "not a store file", 16)) {
		/* the reader's cell names the file after the reader: "`exe` reading `path`" */
		const char *second = strstr(row->cell[1], "reading `");

		if (!second || !code_of(second, path, sizeof(path))) {
			failed(t, row, "malformed row");
			return;
		}
		if (!strncmp(path, "~/", 2)) {
			memmove(path + 7, path + 1, strlen(path));
			memcpy(path, "/home/u", 7);
		}
		if (nj_store_has_path(st, path))
			failed(t, row, "%s claims %s", st->r.id, path);
		return;
	}
	subj_init(&s, argv, NULL, !strncmp(row->cell[2], "yes", 3));
	consumer = nj_pmatch_any(st->consumers, st->n_consumers, &s.s);
	if (!strcmp(exp, "consumer") && !consumer)
		failed(t, row, "%s: not a consumer: %s", st->r.id, argv);
	else if (!strcmp(exp, "alert") && (consumer || st->learn))
		failed(t, row, "%s: expected an alert, got %s: %s", st->r.id,
		       consumer ? "a consumer" : "a learned store", argv);
	else if (!strcmp(exp, "learn") && (consumer || !st->learn))
		failed(t, row, "%s: expected a learned reader, got %s: %s", st->r.id,
		       consumer ? "a consumer" : "an alert", argv);
	else if (strcmp(exp, "consumer") && strcmp(exp, "alert") && strcmp(exp, "learn"))
		failed(t, row, "unknown expectation '%s'", exp);
}

static void test_store_cases(void **state)
{
	struct tally t = {0};
	struct nj_rules r;

	(void)state;
	load_repo(&r);
	each_row(&r, "Credential store consumers", store_row, &t);
	fprintf(stderr, "store cases: %zu checked, %zu failed\n", t.checks, t.failures);
	assert_true(t.checks >= 100);
	assert_int_equal(t.failures, 0);
	nj_rules_free(&r);
}

/* Does the sensor report path by the name signature of one of st's patterns? */
static bool signature_fits(const struct nj_store *st, const char *path)
{
	char leaf[NJ_LEAF_MAX], parent[NJ_PARENT_MAX], dir[NJ_PARENT_MAX + 2];
	const char *base = strrchr(path, '/'), *d;
	size_t i;

	for (i = 0; i < st->paths.n; i++) {
		uint32_t sig = nj_watch_signature(st->paths.v[i], leaf, parent);

		if (!sig || strcmp(base + 1, leaf))
			continue;
		if (sig == NJ_NAME_ANY_PARENT)
			return true;
		for (d = base; d > path && d[-1] != '/'; d--)
			;
		snprintf(dir, sizeof(dir), "%.*s", (int)(base - d), d);
		if (!strcmp(dir, parent))
			return true;
	}
	return false;
}

/* | path opened | store | why | */
static void name_row(const struct nj_rules *r, const struct row *row, void *arg)
{
	struct tally *t = arg;
	const bool identity_only = strstr(row->cell[2], "identity only") != NULL;
	const struct nj_store *first = NULL;
	char path[1024];
	bool reported = false;
	size_t i;

	if (!code_of(row->cell[0], path, sizeof(path))) {
		failed(t, row, "malformed row");
		return;
	}
	for (i = 0; i < r->n_stores; i++) {
		if (r->stores[i].r.disabled)
			continue;
		if (!first && nj_store_has_path(&r->stores[i], path))
			first = &r->stores[i];
		reported |= signature_fits(&r->stores[i], path);
	}
	t->checks++;
	if (!strcmp(row->cell[1], "none")) {
		if (reported)
			failed(t, row, "%s is reported by name, expected identity only", path);
		return;
	}
	if (!first || strcmp(first->r.id, row->cell[1]))
		failed(t, row, "%s is attributed to %s, expected %s", path,
		       first ? first->r.id : "no store", row->cell[1]);
	if (reported == identity_only)
		failed(t, row, "%s: the sensor %s report it by name", path,
		       identity_only ? "must not" : "does not");
}

static void test_name_signature_cases(void **state)
{
	struct tally t = {0};
	struct nj_rules r;

	(void)state;
	load_repo(&r);
	each_row(&r, "Name-signature cases", name_row, &t);
	fprintf(stderr, "name-signature cases: %zu checked, %zu failed\n", t.checks, t.failures);
	assert_true(t.checks >= 12);
	assert_int_equal(t.failures, 0);
	nj_rules_free(&r);
}

/* ---- the default ruleset as a whole ------------------------------------------------------ */

/* The embedded copy is built from the same files. */
static void test_defaults_are_the_files(void **state)
{
	struct nj_rules a, b = {0};
	char err[1024];
	size_t i;

	(void)state;
	load_repo(&a);
	if (nj_rules_load_defaults(&b, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(a.n_stores, b.n_stores);
	assert_int_equal(a.n_tools, b.n_tools);
	assert_int_equal(a.n_lists, b.n_lists);
	assert_int_equal(a.n_proxy_ports, b.n_proxy_ports);
	for (i = 0; i < a.n_stores; i++)
		assert_string_equal(a.stores[i].r.id, b.stores[i].r.id);
	for (i = 0; i < a.n_tools; i++)
		assert_string_equal(a.tools[i].r.id, b.tools[i].r.id);
	nj_rules_free(&a);
	nj_rules_free(&b);
}

static const struct nj_store *claimed_by(const struct nj_rules *r, const char *path)
{
	size_t i;

	for (i = 0; i < r->n_stores; i++)
		if (!r->stores[i].r.disabled && nj_store_has_path(&r->stores[i], path))
			return &r->stores[i];
	return NULL;
}

/* Every store the detection issue names has a representative file claimed by an enabled
 * store, and that store is the expected one (the first in file order wins). */
static void test_issue_stores_covered(void **state)
{
	static const struct {
		const char *what, *path, *store;
	} want[] = {
		{"azure msal", "/home/u/.azure/msal_token_cache.json", "cred.azure-cli-msal"},
		{"azure SP", "/home/u/.azure/service_principal_entries.json", "cred.azure-cli-sp"},
		{"identity broker", "/home/u/.config/microsoft-identity-broker/account-data.db",
		 "cred.ms-identity-broker"},
		{"intune", "/home/u/.config/intune/registration.toml", "cred.ms-identity-broker"},
		{"azure powershell", "/home/u/.Azure/AzureRmContext.json",
		 "cred.azure-powershell-context"},
		{"msal shared cache", "/home/u/.local/.IdentityService/msal.cache",
		 "cred.msal-shared-cache"},
		{"aws credentials", "/home/u/.aws/credentials", "cred.aws-credentials"},
		{"aws config", "/home/u/.aws/config", "cred.aws-credentials"},
		{"aws sso", "/home/u/.aws/sso/cache/0a1b2c.json", "cred.aws-sso-cache"},
		{"aws cli cache", "/home/u/.aws/cli/cache/0a1b2c.json", "cred.aws-sso-cache"},
		{"gcloud credentials", "/home/u/.config/gcloud/credentials.db",
		 "cred.gcloud-credentials"},
		{"gcloud access tokens", "/home/u/.config/gcloud/access_tokens.db",
		 "cred.gcloud-credentials"},
		{"gcloud ADC", "/home/u/.config/gcloud/application_default_credentials.json",
		 "cred.gcloud-adc"},
		{"kubeconfig", "/home/u/.kube/config", "cred.kubeconfig"},
		{"kube token cache", "/home/u/.kube/cache/kubelogin/AzurePublicCloud-x.json",
		 "cred.kube-token-cache"},
		{"docker auth", "/home/u/.docker/config.json", "cred.docker-config"},
		{"podman auth", "/run/user/1000/containers/auth.json", "cred.containers-auth"},
		{"gh", "/home/u/.config/gh/hosts.yml", "cred.gh-cli"},
		{"git-credential-store", "/home/u/.git-credentials", "cred.git-credential-store"},
		{"netrc", "/home/u/.netrc", "cred.netrc"},
		{"npm", "/home/u/.npmrc", "cred.npm-token"},
		{"pypi", "/home/u/.pypirc", "cred.pypirc"},
		{"vault", "/home/u/.vault-token", "cred.vault-token"},
		{"terraform", "/home/u/.terraform.d/credentials.tfrc.json", "cred.terraform"},
		{"ssh private key", "/home/u/.ssh/id_ed25519", "cred.ssh-private-key"},
		{"gnupg private key", "/home/u/.gnupg/private-keys-v1.d/ABCDEF.key",
		 "cred.gnupg-private-key"},
		{"chromium cookies", "/home/u/.config/google-chrome/Default/Network/Cookies",
		 "cred.chromium-cookies"},
		{"chromium logins", "/home/u/.config/chromium/Default/Login Data",
		 "cred.chromium-logins"},
		{"chromium key", "/home/u/.config/google-chrome/Local State",
		 "cred.chromium-local-state"},
		{"firefox cookies", "/home/u/.mozilla/firefox/abc.default-release/cookies.sqlite",
		 "cred.firefox-cookies"},
		{"firefox logins", "/home/u/.mozilla/firefox/abc.default-release/logins.json",
		 "cred.firefox-logins"},
		{"firefox key db", "/home/u/.mozilla/firefox/abc.default-release/key4.db",
		 "cred.firefox-logins"},
		{"gnome keyring", "/home/u/.local/share/keyrings/login.keyring",
		 "cred.desktop-keyring"},
		{"kwallet", "/home/u/.local/share/kwalletd/kdewallet.kwl", "cred.desktop-keyring"},
		{"shadow", "/etc/shadow", "cred.shadow"},
	};
	const struct nj_store *st;
	struct nj_rules r;
	size_t i, bad = 0;

	(void)state;
	load_repo(&r);
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		st = claimed_by(&r, want[i].path);
		if (!st || strcmp(st->r.id, want[i].store)) {
			fprintf(stderr, "%s: %s is claimed by %s, expected %s\n", want[i].what,
				want[i].path, st ? st->r.id : "no store", want[i].store);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
	nj_rules_free(&r);
}

/* The built-in watch list the rules replaced (git show a75b7a7:agent/config.c, default_watch),
 * with "~" as a home and each glob as one file it named. */
static void test_old_watch_list_covered(void **state)
{
	static const char *const old[] = {
		"/home/u/.aws/credentials",
		"/home/u/.aws/config",
		"/home/u/.aws/sso/cache/x.json",
		"/home/u/.aws/cli/cache/x.json",
		"/home/u/.azure/msal_token_cache.json",
		"/home/u/.azure/msal_token_cache.bin",
		"/home/u/.azure/accessTokens.json",
		"/home/u/.azure/service_principal_entries.json",
		"/home/u/.azure/service_principal_entries.bin",
		"/home/u/.config/gcloud/credentials.db",
		"/home/u/.config/gcloud/access_tokens.db",
		"/home/u/.config/gcloud/application_default_credentials.json",
		"/home/u/.config/gcloud/legacy_credentials/a@b.c/adc.json",
		"/home/u/.kube/config",
		"/home/u/.docker/config.json",
		"/home/u/.config/containers/auth.json",
		"/home/u/.config/gh/hosts.yml",
		"/home/u/.git-credentials",
		"/home/u/.netrc",
		"/home/u/.npmrc",
		"/home/u/.pypirc",
		"/home/u/.vault-token",
		"/home/u/.terraform.d/credentials.tfrc.json",
		"/home/u/.ssh/id_rsa",
		"/home/u/.ssh/id_ecdsa",
		"/home/u/.ssh/id_ed25519",
		"/home/u/.ssh/id_dsa",
		"/home/u/.ssh/id_ecdsa_sk",
		"/home/u/.ssh/id_ed25519_sk",
		"/home/u/.config/google-chrome/Default/Cookies",
		"/home/u/.config/chromium/Default/Cookies",
		"/home/u/.config/microsoft-edge/Default/Cookies",
		"/home/u/.config/google-chrome/Default/Login Data",
		"/home/u/.config/chromium/Default/Login Data",
		"/home/u/.mozilla/firefox/p.default/cookies.sqlite",
		"/home/u/.mozilla/firefox/p.default/logins.json",
		"/home/u/.mozilla/firefox/p.default/key4.db",
		"/home/u/.local/share/keyrings/login.keyring",
		"/etc/shadow",
		"/etc/gshadow",
	};
	struct nj_rules r;
	size_t i, bad = 0;

	(void)state;
	load_repo(&r);
	for (i = 0; i < ARRAY_SIZE(old); i++)
		if (!claimed_by(&r, old[i])) {
			fprintf(stderr, "old watch list entry %s is in no enabled store\n", old[i]);
			bad++;
		}
	assert_int_equal(bad, 0);
	nj_rules_free(&r);
}

/* Every store and tool of the defaults is complete: an enabled store has consumers unless it
 * is learned, and ids are unique across the files. */
static void test_defaults_well_formed(void **state)
{
	struct nj_rules r;
	size_t i, j;

	(void)state;
	load_repo(&r);
	assert_true(r.n_stores >= 30);
	assert_true(r.n_tools >= 30);
	for (i = 0; i < r.n_stores; i++) {
		assert_true(r.stores[i].n_consumers > 0);
		assert_non_null(r.stores[i].r.technique);
		for (j = i + 1; j < r.n_stores; j++)
			assert_string_not_equal(r.stores[i].r.id, r.stores[j].r.id);
	}
	for (i = 0; i < r.n_tools; i++) {
		assert_non_null(r.tools[i].r.technique);
		assert_false(r.tools[i].r.disabled);
	}
	nj_rules_free(&r);
}

static bool is_top_key(const char *line)
{
	size_t n;

	if (!line || strncmp(line, "# ", 2))
		return false;
	n = strspn(line + 2, "abcdefghijklmnopqrstuvwxyz_");
	return n > 0 && line[2 + n] == ':';
}

/* Each example of rules/examples/local.yaml, uncommented, loads over the defaults. */
static void test_examples_load(void **state)
{
	char *text = slurp("rules/examples/local.yaml"), *line, *save = NULL;
	char doc[16384], err[1024];
	size_t len = 0, docs = 0;
	struct nj_rules r;
	bool in = false;

	(void)state;
	load_repo(&r);
	for (line = strtok_r(text, "\n", &save);; line = strtok_r(NULL, "\n", &save)) {
		/* a block starts at "# <top-level key>:" and ends at a rule line or the next
		 * key; blank lines are skipped by strtok_r */
		bool top = is_top_key(line);

		if (in && (!line || strncmp(line, "# ", 2) || !strncmp(line, "# ---", 5) || top)) {
			doc[len] = '\0';
			if (nj_rules_load_text(&r, "local.yaml example", doc, len, err,
					       sizeof(err)))
				fail_msg("%s\n%s", err, doc);
			docs++;
			in = false;
			len = 0;
		}
		if (!line)
			break;
		if (top)
			in = true;
		if (in) {
			len += (size_t)snprintf(doc + len, sizeof(doc) - len, "%s\n", line + 2);
			assert_true(len < sizeof(doc));
		}
	}
	assert_true(docs >= 5);
	/* what the examples did */
	assert_true(tool_by_id(&r, "tunnel.cloudflared-named")->r.disabled);
	assert_int_equal(tool_by_id(&r, "tunnel.ssh-forward")->n_except, 2);
	assert_non_null(store_by_id(&r, "local.acme-deploy-token"));
	assert_int_equal(r.n_proxy_ports, 7);
	free(text);
	nj_rules_free(&r);
}

/* ---- the loader ------------------------------------------------------------------------- */

/* Load text as "t.yaml"; it must be refused with exactly this location and a message
 * containing msg. */
#define refused(text, where, msg) refused_at(__LINE__, text, where, msg)
static void refused_at(int line, const char *text, const char *where, const char *msg)
{
	struct nj_rules r = {0};
	char err[1024] = "";

	if (!nj_rules_load_text(&r, "t.yaml", text, strlen(text), err, sizeof(err)))
		fail_msg("line %d: accepted:\n%s", line, text);
	if (strncmp(err, where, strlen(where)) || err[strlen(where)] != ':' || !strstr(err, msg))
		fail_msg("line %d: got \"%s\", expected \"%s: ...%s...\"", line, err, where, msg);
	/* refused whole: nothing of it was kept */
	assert_int_equal(r.n_stores + r.n_tools + r.n_lists + r.n_proxy_ports + r.files, 0);
	nj_rules_free(&r);
}

static void accepted(struct nj_rules *r, const char *text)
{
	char err[1024];

	if (nj_rules_load_text(r, "t.yaml", text, strlen(text), err, sizeof(err)))
		fail_msg("refused: %s\n%s", err, text);
}

#define STORE_HEAD "credential_stores:\n  - id: s.x\n    name: X\n"

static void test_error_unknown_key(void **state)
{
	(void)state;
	refused(STORE_HEAD "    path: [\"~/.x\"]\n", "t.yaml:4:5",
		"unknown key 'path' in a credential store (expected one of: id, name");
	refused("credential_store: []\n", "t.yaml:1:1", "unknown key 'credential_store'");
	refused(STORE_HEAD "    paths: [\"~/.x\"]\n    consumers:\n      - exe: [\"/bin/x\"]\n",
		"t.yaml:6:9", "unknown key 'exe' in a process matcher");
	refused("tunnel_tools:\n  - id: t.x\n    name: X\n    match:\n"
		"      - options: {optstring: \"ab:\", all: [a]}\n",
		"t.yaml:5:37", "unknown key 'all' in options");
}

static void test_error_bad_id(void **state)
{
	(void)state;
	refused("credential_stores:\n  - id: Cred_X\n    name: X\n    paths: [\"~/.x\"]\n",
		"t.yaml:2:9", "expected an id: up to 64 of a-z 0-9 . -");
	refused("credential_stores:\n  - name: X\n    paths: [\"~/.x\"]\n", "t.yaml:2:5",
		"a credential store needs an id");
}

static void test_error_missing_fields(void **state)
{
	(void)state;
	refused("credential_stores:\n  - id: s.x\n    paths: [\"~/.x\"]\n", "t.yaml:2:5",
		"credential store 's.x' needs a name");
	refused(STORE_HEAD "    learn: true\n", "t.yaml:2:5", "credential store 's.x' needs paths");
	refused("tunnel_tools:\n  - id: t.x\n    name: X\n", "t.yaml:2:5",
		"tunnel tool 't.x' needs match");
	refused("destination_lists:\n  - id: d.x\n    name: X\n", "t.yaml:2:5",
		"destination list 'd.x' needs cidrs or files");
	refused("tunnel_tools:\n  - id: t.x\n    name: X\n    match: [{}]\n", "t.yaml:4:13",
		"an empty process matcher would match every process");
	refused("tunnel_tools:\n  - id: t.x\n    name: X\n    match: []\n", "t.yaml:4:12",
		"expected at least one process matcher in match");
	refused("tunnel_tools:\n  - id: t.x\n    name: X\n    match:\n      - options: "
		"{any: [a]}\n",
		"t.yaml:5:18", "options needs both optstring and any");
}

static void test_error_bad_severity(void **state)
{
	(void)state;
	refused(STORE_HEAD "    severity: severe\n", "t.yaml:4:15",
		"expected low, medium, high, critical or a number from 1 to 100");
	refused(STORE_HEAD "    severity: 101\n", "t.yaml:4:15",
		"expected a number from 1 to 100, got '101'");
	refused(STORE_HEAD "    severity: 0\n", "t.yaml:4:15", "got '0'");
}

static void test_error_bad_cidr(void **state)
{
	(void)state;
	refused("destination_lists:\n  - id: d.x\n    name: X\n    cidrs: [\"10.0.0.0/8\", "
		"\"10.0.0.0/33\"]\n",
		"t.yaml:4:12", "'10.0.0.0/33' is not an address or CIDR prefix");
	refused("destination_lists:\n  - id: d.x\n    name: X\n    cidrs: [\"example.com\"]\n",
		"t.yaml:4:12", "'example.com' is not an address");
}

static void test_error_relative_path(void **state)
{
	(void)state;
	refused(STORE_HEAD "    paths: [\"~/.x\", \".aws/credentials\"]\n"
			   "    consumers: {executable: [\"/bin/x\"]}\n",
		"t.yaml:2:5", "path '.aws/credentials' must be absolute or start with ~/");
	refused(STORE_HEAD "    paths: [\"~user/.x\"]\n    consumers: {executable: [\"/bin/x\"]}\n",
		"t.yaml:2:5", "path '~user/.x' must be absolute");
}

static void test_error_options(void **state)
{
	(void)state;
	refused("tunnel_tools:\n  - id: t.x\n    name: X\n    match:\n"
		"      - options: {optstring: \"fND:\", any: [D, Z]}\n",
		"t.yaml:5:43", "option 'Z' is not a letter of optstring \"fND:\"");
	refused("tunnel_tools:\n  - id: t.x\n    name: X\n    match:\n"
		"      - options: {optstring: \"fND:\", any: [\"N=yes\"]}\n",
		"t.yaml:5:43", "option 'N' takes no value in optstring \"fND:\"");
	refused("tunnel_tools:\n  - id: t.x\n    name: X\n    match:\n"
		"      - options: {optstring: \"fND:\", any: [\"DN\"]}\n",
		"t.yaml:5:43", "option 'DN' is not a letter of optstring");
}

static void test_error_values(void **state)
{
	(void)state;
	refused(STORE_HEAD "    learn: yes\n", "t.yaml:4:12", "expected true or false");
	refused("tunnel_tools:\n  - id: t.x\n    name: X\n    match: {name: [ssh], nocase: 1}\n",
		"t.yaml:4:34", "expected true or false");
	refused("tunnel_tools:\n  - id: t.x\n    name: X\n    match: {args_prefix: []}\n",
		"t.yaml:4:26", "expected an argument glob, not an empty list");
	refused("proxy_ports: [1080, 70000]\n", "t.yaml:1:21",
		"expected a number from 1 to 65535, got '70000'");
	refused("credential_stores: {id: x}\n", "t.yaml:1:20", "expected a list of entries");
}

static void test_error_disable_unknown(void **state)
{
	(void)state;
	refused("tunnel_tools:\n  - id: tunnel.nope\n    disabled: true\n", "t.yaml:2:5",
		"no tunnel tool 'tunnel.nope' to disable");
	refused("credential_stores:\n  - {id: cred.nope, disabled: true}\n", "t.yaml:2:5",
		"no credential store 'cred.nope' to disable");
	refused("destination_lists:\n\n  - id: intel.nope\n    disabled: true\n", "t.yaml:3:5",
		"no destination list 'intel.nope' to disable");
}

static void test_error_yaml_syntax(void **state)
{
	(void)state;
	refused("tunnel_tools:\n  - id: t.x\n    name: [unclosed\n", "t.yaml:4:1",
		"did not find expected");
	refused("tunnel_tools:\n  - id: t.x\n\tname: X\n", "t.yaml:3:1",
		"found a tab character that violates indentation");
}

/* A file on disk: the message starts with its path. */
static void test_error_names_the_file(void **state)
{
	char path[] = "/tmp/nj_rules_XXXXXX", err[1024], want[64];
	const char *text = "tunnel_tools:\n  - id: t.x\n    nme: X\n";
	struct nj_rules r = {0};
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(nj_rules_load_file(&r, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3:5: unknown key 'nme'", path);
	assert_memory_equal(err, want, strlen(want));
	unlink(path);
	assert_int_equal(nj_rules_load_file(&r, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	nj_rules_free(&r);
}

/* A failed document leaves what was loaded before it untouched. */
static void test_error_keeps_earlier_rules(void **state)
{
	struct nj_rules r;
	char err[512];
	const char *bad = "tunnel_tools:\n  - id: tunnel.ssh-forward\n    disabled: true\n"
			  "  - id: t.bad\n    name: X\n";

	(void)state;
	load_repo(&r);
	assert_int_equal(nj_rules_load_text(&r, "t.yaml", bad, strlen(bad), err, sizeof(err)), -1);
	assert_false(tool_by_id(&r, "tunnel.ssh-forward")->r.disabled);
	assert_null(tool_by_id(&r, "t.bad"));
	nj_rules_free(&r);
}

static void test_merge_by_id(void **state)
{
	struct nj_rules r;
	size_t stores;
	struct subj s;
	const struct nj_store *st;

	(void)state;
	load_repo(&r);
	stores = r.n_stores;
	accepted(&r, "credential_stores:\n"
		     "  - id: cred.gh-cli\n    name: gh, local copy\n    severity: 90\n"
		     "    paths: [\"~/.config/gh/hosts.yml\"]\n"
		     "    consumers: [{executable: [\"/opt/gh/bin/gh\"]}]\n"
		     "  - id: local.new\n    name: New\n    paths: [\"/etc/new.key\"]\n"
		     "    consumers: {executable: \"/usr/bin/new\"}\n");
	assert_int_equal(r.n_stores, stores + 1);
	st = store_by_id(&r, "cred.gh-cli");
	assert_string_equal(st->r.name, "gh, local copy");
	assert_int_equal(st->r.severity, 90);
	assert_null(st->r.technique); /* replaced whole, not merged field by field */
	subj_init(&s, "/usr/bin/gh auth status", NULL, true);
	assert_false(nj_pmatch_any(st->consumers, st->n_consumers, &s.s));
	subj_init(&s, "/opt/gh/bin/gh auth status", NULL, true);
	assert_true(nj_pmatch_any(st->consumers, st->n_consumers, &s.s));
	st = store_by_id(&r, "local.new");
	assert_int_equal(st->r.severity, NJ_SEV_MEDIUM);
	assert_string_equal(r.stores[r.n_stores - 1].r.id, "local.new");
	nj_rules_free(&r);
}

static void test_disable_only(void **state)
{
	struct nj_rules r;
	size_t tools;
	struct subj s;
	const struct nj_tool *t;

	(void)state;
	load_repo(&r);
	tools = r.n_tools;
	accepted(&r, "tunnel_tools:\n  - id: tunnel.ssh-forward\n    disabled: true\n");
	assert_int_equal(r.n_tools, tools);
	t = tool_by_id(&r, "tunnel.ssh-forward");
	assert_true(t->r.disabled);
	/* switched off, not emptied: a later file can still replace it */
	assert_true(t->n_match > 0);
	assert_string_equal(t->r.name, "ssh local port forwarding or SOCKS proxy");
	subj_init(&s, "/usr/bin/ssh -D 1080 host", NULL, true);
	assert_false(tool_fires(t, &s.s));
	/* a full entry with disabled: true is a replacement, not a disable-only */
	accepted(&r, "tunnel_tools:\n  - id: tunnel.ssh-forward\n    name: Y\n    disabled: true\n"
		     "    match: {name: [ssh]}\n");
	assert_string_equal(tool_by_id(&r, "tunnel.ssh-forward")->r.name, "Y");
	nj_rules_free(&r);
}

static void test_proxy_ports_replace(void **state)
{
	static const uint16_t defaults[] = {1080, 7890, 7891, 8118, 9050, 9150};
	struct nj_rules r;

	(void)state;
	load_repo(&r);
	assert_int_equal(r.n_proxy_ports, ARRAY_SIZE(defaults));
	assert_memory_equal(r.proxy_ports, defaults, sizeof(defaults));
	accepted(&r, "proxy_ports: [3128]\n");
	assert_int_equal(r.n_proxy_ports, 1);
	assert_int_equal(r.proxy_ports[0], 3128);
	/* a file without proxy_ports keeps the list */
	accepted(&r, "tunnel_tools: []\n");
	assert_int_equal(r.n_proxy_ports, 1);
	accepted(&r, "proxy_ports: []\n");
	assert_int_equal(r.n_proxy_ports, 0);
	nj_rules_free(&r);
}

static void test_yaml_anchors(void **state)
{
	struct nj_rules r;

	(void)state;
	load_repo(&r);
	/* the az stores share one consumer list by alias; each got its own copy */
	assert_int_equal(store_by_id(&r, "cred.azure-cli-sp")->n_consumers,
			 store_by_id(&r, "cred.azure-cli-msal")->n_consumers);
	assert_int_equal(store_by_id(&r, "cred.azure-devops-pat")->n_consumers, 3);
	assert_true(store_by_id(&r, "cred.azure-cli-msal")->consumers !=
		    store_by_id(&r, "cred.azure-cli-sp")->consumers);
	nj_rules_free(&r);
}

/* ---- matcher semantics the rules rely on --------------------------------------------- */

static bool matches(const char *matcher_yaml, const char *argv, const char *ancestors)
{
	char text[2048];
	struct nj_rules r = {0};
	struct subj s;
	bool m;

	snprintf(text, sizeof(text), "tunnel_tools:\n  - id: t.x\n    name: X\n    match: %s\n",
		 matcher_yaml);
	accepted(&r, text);
	subj_init(&s, argv, ancestors, true);
	m = nj_pmatch_any(r.tools[0].match, r.tools[0].n_match, &s.s);
	nj_rules_free(&r);
	return m;
}

static void test_match_args_prefix(void **state)
{
	const char *m = "{args_prefix: [\"-Im\", azure.cli]}";

	(void)state;
	assert_true(matches(m, "/opt/az/bin/python3 -Im azure.cli account show", NULL));
	assert_false(matches(m, "/usr/bin/python3 /tmp/steal.py -Im azure.cli", NULL));
	assert_false(matches(m, "/usr/bin/python3 -Im", NULL));
	assert_false(matches(m, "/usr/bin/python3 -im azure.cli", NULL));
	assert_true(matches("{args_prefix: [\"-im\", azure.cli], nocase: true}",
			    "/usr/bin/python3 -IM AZURE.CLI", NULL));
}

static void test_match_nocase(void **state)
{
	(void)state;
	assert_true(matches("{args_any: [\"tcp-l*\"], nocase: true}",
			    "/usr/bin/socat TCP-LISTEN:1 -", NULL));
	assert_false(matches("{args_any: [\"tcp-l*\"]}", "/usr/bin/socat TCP-LISTEN:1 -", NULL));
	/* executables stay case-sensitive */
	assert_false(
		matches("{executable: [/usr/bin/socat], nocase: true}", "/usr/bin/SOCAT", NULL));
}

static void test_match_options(void **state)
{
	const char *m = "{options: {optstring: \"fNl:D:R:\", any: [D, \"R=*:*\"]}}";

	(void)state;
	assert_true(matches(m, "/usr/bin/ssh -fND1080 host", NULL));
	assert_true(matches(m, "/usr/bin/ssh host -D 1080", NULL));
	assert_true(matches(m, "/usr/bin/ssh host -R 80:x:80 ls", NULL));
	assert_false(matches(m, "/usr/bin/ssh host -R 8080 ls", NULL));
	assert_false(matches(m, "/usr/bin/ssh host ls -D", NULL));
	assert_false(matches(m, "/usr/bin/ssh -l D host", NULL));
	assert_false(matches(m, "/usr/bin/ssh -- -D 1080", NULL));
	/* an unknown letter ends that word: the program would refuse it */
	assert_false(matches(m, "/usr/bin/ssh -zD 1080 host", NULL));
}

static void test_match_lineage(void **state)
{
	(void)state;
	assert_true(matches("{parent_executable: [/usr/bin/bash]}", "/usr/bin/x",
			    "/usr/bin/bash /usr/bin/sshd"));
	assert_false(matches("{parent_executable: [/usr/bin/sshd]}", "/usr/bin/x",
			     "/usr/bin/bash /usr/bin/sshd"));
	assert_true(matches("{ancestor_executable: [/usr/bin/sshd]}", "/usr/bin/x",
			    "/usr/bin/bash /usr/bin/sshd"));
	assert_false(matches("{ancestor_executable: [/usr/bin/sshd]}", "/usr/bin/x", NULL));
}

/* ---- nj_parse_cidr, nj_store_has_path ------------------------------------------------ */

static void test_parse_cidr(void **state)
{
	static const uint8_t v4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 0};
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
	static const char *const bad[] = {
		"10.0.0.0/33",	"2001:db8::/129", "10.0.0.0/", "10.0.0.0/-1",
		"10.0.0.0/8x",	"300.1.1.1",	  "",	       "10.0.0.0/ 8",
		"host.example", "10.0.0.0/+8"};
	struct nj_cidr c;
	size_t i;

	(void)state;
	assert_int_equal(nj_parse_cidr("203.0.113.0/24", &c), 0);
	assert_memory_equal(c.addr, v4, 16);
	assert_int_equal(c.prefixlen, 96 + 24);
	assert_int_equal(nj_parse_cidr("2001:db8::/32", &c), 0);
	assert_memory_equal(c.addr, v6, 16);
	assert_int_equal(c.prefixlen, 32);
	assert_int_equal(nj_parse_cidr("203.0.113.0", &c), 0);
	assert_int_equal(c.prefixlen, 128);
	assert_int_equal(nj_parse_cidr("2001:db8::1", &c), 0);
	assert_int_equal(c.prefixlen, 128);
	assert_int_equal(nj_parse_cidr("0.0.0.0/0", &c), 0);
	assert_int_equal(c.prefixlen, 96);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		if (!nj_parse_cidr(bad[i], &c))
			fail_msg("accepted '%s'", bad[i]);
}

static void test_store_has_path(void **state)
{
	struct nj_rules r = {0};
	const struct nj_store *st;

	(void)state;
	accepted(&r,
		 "credential_stores:\n"
		 "  - {id: a, name: A, paths: [\"~/.aws/credentials\"], consumers: {owner: true}}\n"
		 "  - {id: b, name: B, paths: [\"/etc/shadow\"], consumers: {owner: true}}\n"
		 "  - {id: c, name: C, paths: [\"~/.aws/sso/cache/*.json\"], consumers: {owner: "
		 "true}}\n"
		 "  - {id: d, name: D, paths: [\"~/.config/x/*/Login Data\", \"~/.y/*/Cookie[s]\"],"
		 " consumers: {owner: true}}\n");
	st = store_by_id(&r, "a");
	assert_true(nj_store_has_path(st, "/home/u/.aws/credentials"));
	assert_true(nj_store_has_path(st, "/root/.aws/credentials"));
	assert_true(nj_store_has_path(st, "/tmp/loot/.aws/credentials")); /* a copy */
	assert_false(nj_store_has_path(st, "/tmp/loot/aws/credentials")); /* parent is .aws */
	assert_false(nj_store_has_path(st, "/home/u/.aws/credentials.bak"));
	assert_false(nj_store_has_path(st, "/home/u/credentials"));
	st = store_by_id(&r, "b");
	assert_true(nj_store_has_path(st, "/etc/shadow"));
	assert_true(nj_store_has_path(st, "/srv/chroot/etc/shadow"));
	assert_false(nj_store_has_path(st, "/etc/shadow.bak"));
	assert_false(nj_store_has_path(st, "/tmp/shadow"));
	st = store_by_id(&r, "c");
	assert_true(nj_store_has_path(st, "/home/u/.aws/sso/cache/0a1b.json"));
	assert_false(nj_store_has_path(st, "/home/u/.aws/sso/cache/0a1b.txt"));
	assert_false(nj_store_has_path(st, "/tmp/0a1b.json")); /* a glob leaf has no name */
	st = store_by_id(&r, "d");
	assert_true(nj_store_has_path(st, "/home/u/.config/x/Default/Login Data"));
	assert_true(nj_store_has_path(st, "/tmp/p/Login Data")); /* the leaf alone */
	assert_true(nj_store_has_path(st, "/home/u/.y/Default/Cookies"));
	assert_false(nj_store_has_path(st, "/home/u/.config/Code/Cookies")); /* identity only */
	nj_rules_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tunnel_cases),
		cmocka_unit_test(test_overlap_cases),
		cmocka_unit_test(test_exception_cases),
		cmocka_unit_test(test_store_cases),
		cmocka_unit_test(test_name_signature_cases),
		cmocka_unit_test(test_defaults_are_the_files),
		cmocka_unit_test(test_issue_stores_covered),
		cmocka_unit_test(test_old_watch_list_covered),
		cmocka_unit_test(test_defaults_well_formed),
		cmocka_unit_test(test_examples_load),
		cmocka_unit_test(test_error_unknown_key),
		cmocka_unit_test(test_error_bad_id),
		cmocka_unit_test(test_error_missing_fields),
		cmocka_unit_test(test_error_bad_severity),
		cmocka_unit_test(test_error_bad_cidr),
		cmocka_unit_test(test_error_relative_path),
		cmocka_unit_test(test_error_options),
		cmocka_unit_test(test_error_values),
		cmocka_unit_test(test_error_disable_unknown),
		cmocka_unit_test(test_error_yaml_syntax),
		cmocka_unit_test(test_error_names_the_file),
		cmocka_unit_test(test_error_keeps_earlier_rules),
		cmocka_unit_test(test_merge_by_id),
		cmocka_unit_test(test_disable_only),
		cmocka_unit_test(test_proxy_ports_replace),
		cmocka_unit_test(test_yaml_anchors),
		cmocka_unit_test(test_match_args_prefix),
		cmocka_unit_test(test_match_nocase),
		cmocka_unit_test(test_match_options),
		cmocka_unit_test(test_match_lineage),
		cmocka_unit_test(test_parse_cidr),
		cmocka_unit_test(test_store_has_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
