/* log.c - the one error reporter. */
#include <stdio.h>
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
	char buf[1024];
	size_t n;

	if (level < log_min)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* libbpf hands us lines that already end in '\n'; never print two */
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	fprintf(stderr, "%s: %s: %s\n", log_prog, names[level], buf);
}

void nj_log(enum nj_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nj_vlog(level, fmt, ap);
	va_end(ap);
}
