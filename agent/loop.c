/* loop.c - epoll event loop with timerfd timers. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

/* the agent's own fds plus a few control clients */
#define NJ_LOOP_MAX_HANDLERS 40

struct handler {
	int fd; /* -1: free slot */
	bool is_timer;
	nj_fd_cb cb;
	void *arg;
};

struct nj_loop {
	int epfd;
	bool stop;
	int n;
	struct handler h[NJ_LOOP_MAX_HANDLERS];
};

struct nj_loop *nj_loop_new(void)
{
	struct nj_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		nj_err("epoll_create1: %s", strerror(errno));
		free(loop);
		return NULL;
	}
	return loop;
}

void nj_loop_free(struct nj_loop *loop)
{
	int i;

	if (!loop)
		return;
	for (i = 0; i < loop->n; i++)
		if (loop->h[i].is_timer && loop->h[i].fd >= 0)
			close(loop->h[i].fd);
	close(loop->epfd);
	free(loop);
}

static int add(struct nj_loop *loop, int fd, bool is_timer, nj_fd_cb cb, void *arg)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct handler *h = NULL;
	int i;

	for (i = 0; i < loop->n && !h; i++)
		if (loop->h[i].fd < 0)
			h = &loop->h[i];
	if (!h) {
		if (loop->n == NJ_LOOP_MAX_HANDLERS) {
			nj_err("event loop: more than %d handlers", NJ_LOOP_MAX_HANDLERS);
			return -ENOSPC;
		}
		h = &loop->h[loop->n++];
	}
	*h = (struct handler){.fd = fd, .is_timer = is_timer, .cb = cb, .arg = arg};
	ev.data.ptr = h;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		nj_err("epoll_ctl(ADD, fd %d): %s", fd, strerror(errno));
		h->fd = -1;
		return err;
	}
	return 0;
}

void nj_loop_del_fd(struct nj_loop *loop, int fd)
{
	int i;

	for (i = 0; i < loop->n; i++)
		if (loop->h[i].fd == fd && !loop->h[i].is_timer) {
			epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
			/* a pending event for this slot in the current batch is skipped */
			loop->h[i].fd = -1;
			return;
		}
}

int nj_loop_set_events(struct nj_loop *loop, int fd, unsigned int events)
{
	int i;

	for (i = 0; i < loop->n; i++)
		if (loop->h[i].fd == fd && !loop->h[i].is_timer) {
			struct epoll_event ev = {.data.ptr = &loop->h[i]};

			ev.events = (events & NJ_LOOP_READ ? EPOLLIN : 0u) |
				    (events & NJ_LOOP_WRITE ? EPOLLOUT : 0u);
			if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0) {
				nj_err("epoll_ctl(MOD, fd %d): %s", fd, strerror(errno));
				return -errno;
			}
			return 0;
		}
	return -ENOENT;
}

int nj_loop_add_fd(struct nj_loop *loop, int fd, nj_fd_cb cb, void *arg)
{
	return add(loop, fd, false, cb, arg);
}

int nj_loop_add_timer(struct nj_loop *loop, uint32_t period_ms, nj_fd_cb cb, void *arg)
{
	struct itimerspec its = {0};
	int fd, err;

	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0) {
		nj_err("timerfd_create: %s", strerror(errno));
		return -errno;
	}
	its.it_interval.tv_sec = period_ms / 1000;
	its.it_interval.tv_nsec = (long)(period_ms % 1000) * 1000000L;
	its.it_value = its.it_interval;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		err = -errno;
		nj_err("timerfd_settime: %s", strerror(errno));
		close(fd);
		return err;
	}
	err = add(loop, fd, true, cb, arg);
	if (err)
		close(fd);
	return err;
}

void nj_loop_stop(struct nj_loop *loop)
{
	loop->stop = true;
}

int nj_loop_run(struct nj_loop *loop)
{
	struct epoll_event evs[NJ_LOOP_MAX_HANDLERS];
	int i, n, err;

	while (!loop->stop) {
		n = epoll_wait(loop->epfd, evs, NJ_LOOP_MAX_HANDLERS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			nj_err("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (i = 0; i < n && !loop->stop; i++) {
			struct handler *h = evs[i].data.ptr;

			if (h->fd < 0)
				continue; /* removed by an earlier callback of this batch */
			if (h->is_timer) {
				uint64_t expirations;

				/* drain the timer so it does not stay readable */
				if (read(h->fd, &expirations, sizeof(expirations)) < 0 &&
				    errno != EAGAIN)
					nj_warn("timerfd read: %s", strerror(errno));
			}
			err = h->cb(h->fd, h->arg);
			if (err < 0)
				return err;
		}
	}
	return 0;
}
