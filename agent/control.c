/* control.c - control socket: accept, read one request, serve status or a tail stream. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "spool.h"

#define MAX_CLIENTS 16
#define REQ_MAX	    64
/* a tail client gets this much kernel buffering before it counts as too slow */
#define TAIL_SNDBUF (4 << 20)

struct client {
	int fd; /* -1: free */
	bool tail;
	size_t len;
	char req[REQ_MAX];
	struct nj_control *ctl;
};

struct nj_control {
	int fd;
	char *path;
	struct nj_loop *loop;
	nj_status_fn status;
	void *arg;
	struct client clients[MAX_CLIENTS];
	size_t tails;
	uint64_t dropped;
};

static void drop(struct client *cl, const char *why)
{
	struct nj_control *c = cl->ctl;

	if (why)
		nj_warn("control: closing a %s client: %s", cl->tail ? "tail" : "new", why);
	nj_loop_del_fd(c->loop, cl->fd);
	close(cl->fd);
	if (cl->tail)
		c->tails--;
	cl->fd = -1;
	cl->tail = false;
	cl->len = 0;
}

static void serve_status(struct client *cl, bool json)
{
	struct nj_control *c = cl->ctl;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f) {
		c->status(c->arg, f, json);
		fclose(f);
		/* a status is small; a client that cannot take it at once is not worth waiting
		 * for */
		if (buf && write(cl->fd, buf, len) != (ssize_t)len)
			nj_debug("control: status reply cut short");
	}
	free(buf);
	drop(cl, NULL);
}

static int on_client(int fd, void *arg)
{
	struct client *cl = arg;
	ssize_t n;
	char *nl;

	(void)fd;
	if (cl->tail) {
		char tmp[64];

		/* a tail client only ever sends its request; anything else, or EOF, ends it */
		n = read(cl->fd, tmp, sizeof(tmp));
		if (n == 0 || (n < 0 && errno != EAGAIN))
			drop(cl, NULL);
		return 0;
	}
	n = read(cl->fd, cl->req + cl->len, sizeof(cl->req) - 1 - cl->len);
	if (n <= 0) {
		if (n == 0 || errno != EAGAIN)
			drop(cl, NULL);
		return 0;
	}
	cl->len += (size_t)n;
	cl->req[cl->len] = '\0';
	nl = strchr(cl->req, '\n');
	if (!nl) {
		if (cl->len == sizeof(cl->req) - 1)
			drop(cl, "request too long");
		return 0;
	}
	*nl = '\0';
	if (!strcmp(cl->req, "status")) {
		serve_status(cl, false);
	} else if (!strcmp(cl->req, "status json")) {
		serve_status(cl, true);
	} else if (!strcmp(cl->req, "tail")) {
		uint8_t hdr[NJ_FILE_HEADER_LEN];
		int sz = TAIL_SNDBUF;

		setsockopt(cl->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		nj_file_header(hdr, NJ_FILE_CAPTURE);
		if (write(cl->fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr)) {
			drop(cl, "cannot send the stream header");
			return 0;
		}
		cl->tail = true;
		cl->ctl->tails++;
	} else {
		if (write(cl->fd, "error: unknown request\n", 23) < 0)
			nj_debug("control: cannot answer a bad request");
		drop(cl, "unknown request");
	}
	return 0;
}

static int on_accept(int fd, void *arg)
{
	struct nj_control *c = arg;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct client *cl = NULL;
	int cfd, i;

	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return 0;
	/* the socket's mode already keeps others out; the credentials say so for certain */
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || cred.uid != 0) {
		nj_warn("control: refused a client with uid %d: only root may connect",
			clen == sizeof(cred) ? (int)cred.uid : -1);
		close(cfd);
		return 0;
	}
	for (i = 0; i < MAX_CLIENTS && !cl; i++)
		if (c->clients[i].fd < 0)
			cl = &c->clients[i];
	if (!cl) {
		nj_warn("control: %d clients already connected; refusing another", MAX_CLIENTS);
		close(cfd);
		return 0;
	}
	*cl = (struct client){.fd = cfd, .ctl = c};
	if (nj_loop_add_fd(c->loop, cfd, on_client, cl) < 0) {
		close(cfd);
		cl->fd = -1;
	}
	return 0;
}

struct nj_control *nj_control_open(const char *path, struct nj_loop *loop, nj_status_fn status,
				   void *arg)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct nj_control *c;
	int i;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		nj_warn("control socket path %s is too long; nightjarctl tail and status will not "
			"work (choose a shorter --state-dir)",
			path);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->path = strdup(path);
	c->loop = loop;
	c->status = status;
	c->arg = arg;
	for (i = 0; i < MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	memcpy(sa.sun_path, path, strlen(path));
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || !c->path)
		goto err;
	/* a socket left by an agent that was killed: nobody listens on it any more */
	unlink(path);
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(c->fd, 8) < 0 || nj_loop_add_fd(loop, c->fd, on_accept, c) < 0)
		goto err;
	return c;
err:
	nj_warn("control socket %s: %s; nightjarctl tail and status will not work", path,
		strerror(errno));
	if (c->fd >= 0)
		close(c->fd);
	free(c->path);
	free(c);
	return NULL;
}

void nj_control_close(struct nj_control *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			drop(&c->clients[i], NULL);
	nj_loop_del_fd(c->loop, c->fd);
	close(c->fd);
	unlink(c->path);
	free(c->path);
	free(c);
}

void nj_control_broadcast(struct nj_control *c, const void *frames, size_t len)
{
	ssize_t n;
	int i;

	if (!c || !c->tails || !len)
		return;
	for (i = 0; i < MAX_CLIENTS; i++) {
		struct client *cl = &c->clients[i];

		if (cl->fd < 0 || !cl->tail)
			continue;
		n = write(cl->fd, frames, len);
		if (n != (ssize_t)len) {
			/* a partial frame would tear the stream: this client has to go */
			c->dropped++;
			drop(cl, n < 0 && errno != EAGAIN ? strerror(errno)
							  : "too slow to follow the stream");
		}
	}
}

size_t nj_control_tail_clients(const struct nj_control *c)
{
	return c ? c->tails : 0;
}

uint64_t nj_control_dropped_clients(const struct nj_control *c)
{
	return c ? c->dropped : 0;
}
