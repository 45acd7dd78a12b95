/* server.h - the TLS listener, its connections, and the group commit (server.c). */
#ifndef NJC_SERVER_H
#define NJC_SERVER_H

#include <stdio.h>

#include "collector.h"
#include "loop.h"

struct njc_server;

/* Listen on cfg->listen with the TLS material of cfg; batches go to sink. NULL with err. */
struct njc_server *njc_server_open(const struct njc_config *cfg, struct nj_loop *loop,
				   struct njc_sink *sink, char *err, size_t errlen);
/* Commit and acknowledge what was received, then close every connection. */
void njc_server_close(struct njc_server *s);
/* The whole status, for the control socket. */
void njc_server_status(void *arg, FILE *out, bool json);

#endif
