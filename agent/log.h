/* log.h - the one error reporter: every message, including libbpf's, goes through here. */
#ifndef NJ_LOG_H
#define NJ_LOG_H

#include <stdarg.h>

enum nj_log_level { NJ_LOG_DEBUG, NJ_LOG_INFO, NJ_LOG_WARN, NJ_LOG_ERROR };

/* Messages go to stderr as "nightjar-agent: level: text"; stdout is reserved for events. */
void nj_log_init(const char *prog, enum nj_log_level min_level);
void nj_vlog(enum nj_log_level level, const char *fmt, va_list ap);
void nj_log(enum nj_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define nj_debug(...) nj_log(NJ_LOG_DEBUG, __VA_ARGS__)
#define nj_info(...)  nj_log(NJ_LOG_INFO, __VA_ARGS__)
#define nj_warn(...)  nj_log(NJ_LOG_WARN, __VA_ARGS__)
#define nj_err(...)   nj_log(NJ_LOG_ERROR, __VA_ARGS__)

#endif
