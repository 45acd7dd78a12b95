/* common.h - what both benchmark drivers need: one error exit, a clock, a count parser.
 * Each driver defines `static const char *prog` before including this; a driver with its own
 * option parsing (the collector load generator) uses only the first two, hence "unused". */
#ifndef NJ_BENCH_COMMON_H
#define NJ_BENCH_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NSEC_PER_SEC ((uint64_t)1000000000)

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC is served by the vDSO: no syscall inside the figures. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		die("clock_gettime(CLOCK_MONOTONIC): %s", strerror(errno));
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* A positive decimal count in [1, max]; anything else is a usage error naming the argument. */
static __attribute__((unused)) uint64_t parse_count(const char *s, const char *what, uint64_t max)
{
	unsigned long long v;
	char *end;

	/* strtoull accepts a sign and leading blanks; a count has neither. */
	if (*s < '0' || *s > '9')
		die("%s: '%s' is not a positive integer", what, s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v == 0 || v > max)
		die("%s: '%s' is not an integer in 1..%" PRIu64, what, s, max);
	return v;
}

/* A mode of a driver: its name, its arguments, and the function that runs it. */
struct bench_cmd {
	const char *name;
	int nargs;
	const char *args;
	int (*fn)(const char *name, char **argv);
};

/* Run argv[1]'s mode with its arguments; what is a mode is called `what` in messages. */
static __attribute__((unused)) int bench_main(int argc, char **argv, const struct bench_cmd *cmds, size_t n,
		      void (*usage)(FILE *f), const char *what)
{
	size_t i;
	int ret;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		if (argc - 2 != cmds[i].nargs) {
			fprintf(stderr, "%s: %s takes %d argument%s: %s\n", prog, cmds[i].name,
				cmds[i].nargs, cmds[i].nargs == 1 ? "" : "s", cmds[i].args);
			return 2;
		}
		ret = cmds[i].fn(cmds[i].name, argv + 2);
		/* the line is the product: losing it (full disk, closed pipe) is a failure */
		if (fflush(stdout) || ferror(stdout))
			die("writing to stdout: %s", strerror(errno));
		return ret;
	}
	fprintf(stderr, "%s: unknown %s '%s'\n", prog, what, argv[1]);
	usage(stderr);
	return 2;
}

#endif
