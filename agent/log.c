/* log.c - the one error reporter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *log_prog = "nightjar";
static enum nj_log_level log_min = NJ_LOG_INFO;

void nj_log_init(const char *prog, enum nj_log_level min_level)
{
	log_prog = prog;
	log_min = min_level;
}

void nj_vlog(enum nj_log_level level, const char *fmt, va_list ap)
{
	static const char *const names[] = {"debug", "info", "warning", "error"};
	char small[1024], *buf = small;
	va_list copy;
	int n;

	if (level < log_min)
		return;
	va_copy(copy, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	/* a verifier log is one message of many kilobytes: never cut it */
	if (n >= (int)sizeof(small)) {
		buf = malloc((size_t)n + 1);
		if (buf)
			vsnprintf(buf, (size_t)n + 1, fmt, copy);
		else
			buf = small;
	}
	va_end(copy);
	/* libbpf hands us lines that already end in '\n'; never print two */
	n = (int)strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	fprintf(stderr, "%s: %s: %s\n", log_prog, names[level], buf);
	if (buf != small)
		free(buf);
}

void nj_log(enum nj_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nj_vlog(level, fmt, ap);
	va_end(ap);
}
