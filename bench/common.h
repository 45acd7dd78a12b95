/* common.h - what both benchmark drivers need: one error exit, a clock, a count parser.
 * Each driver defines `static const char *prog` before including this. */
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
static uint64_t parse_count(const char *s, const char *what, uint64_t max)
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

#endif
