/* control.h - the agent's local control socket, for nightjarctl tail, capture and status.
 *
 * A UNIX stream socket in the state directory (mode 0600 in a 0700 directory), and every
 * peer's credentials are checked: only root may connect. A client sends one line:
 *   "tail\n"         the agent answers with a file header, then a frame (spool framing) for
 *                    every record from then on; a client that cannot keep up is disconnected
 *                    rather than allowed to slow the agent or receive a torn stream
 *   "status\n"       a human-readable summary, then the agent closes
 *   "status json\n"  the same as one JSON object
 */
#ifndef NJ_CONTROL_H
#define NJ_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "loop.h"

struct nj_control;

/* Write the status to out, as text or JSON. */
typedef void (*nj_status_fn)(void *arg, FILE *out, bool json);

struct nj_control *nj_control_open(const char *path, struct nj_loop *loop, nj_status_fn status,
				   void *arg);
void nj_control_close(struct nj_control *c);

/* Send framed records (spool framing, whole frames only) to every tail client. */
void nj_control_broadcast(struct nj_control *c, const void *frames, size_t len);
/* Clients following the stream now, and those dropped for being too slow since start. */
size_t nj_control_tail_clients(const struct nj_control *c);
uint64_t nj_control_dropped_clients(const struct nj_control *c);

#endif
