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

/* events taken from one epoll_wait(); more wait for the next round */
#define NJ_LOOP_BATCH 256

/* One per watched fd, found by fd number. Handlers removed during a round stay allocated until
 * the round ends: a later event of the same round still points at them, and is skipped. */
struct handler {
	int fd; /* -1: removed */
	bool is_timer;
	nj_fd_cb cb;
	void *arg;
	struct handler *next_dead;
};

struct nj_loop {
	int epfd;
	bool stop;
	struct handler **by_fd; /* index: fd */
	int nfd;
	struct handler *dead;
	nj_idle_cb idle;
	void *idle_arg;
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

static void free_dead(struct nj_loop *loop)
{
	while (loop->dead) {
		struct handler *h = loop->dead;

		loop->dead = h->next_dead;
		free(h);
	}
}

void nj_loop_free(struct nj_loop *loop)
{
	int i;

	if (!loop)
		return;
	for (i = 0; i < loop->nfd; i++) {
		struct handler *h = loop->by_fd[i];

		if (!h)
			continue;
		if (h->is_timer)
			close(h->fd);
		free(h);
	}
	free_dead(loop);
	free(loop->by_fd);
	close(loop->epfd);
	free(loop);
}

static int add(struct nj_loop *loop, int fd, bool is_timer, nj_fd_cb cb, void *arg)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct handler *h;

	if (fd < 0)
		return -EBADF;
	if (fd >= loop->nfd) {
		int n = loop->nfd ? loop->nfd : 64;
		struct handler **t;

		while (n <= fd)
			n *= 2;
		t = realloc(loop->by_fd, (size_t)n * sizeof(*t));
		if (!t)
			return -ENOMEM;
		memset(t + loop->nfd, 0, (size_t)(n - loop->nfd) * sizeof(*t));
		loop->by_fd = t;
		loop->nfd = n;
	}
	if (loop->by_fd[fd]) {
		nj_err("event loop: fd %d is already watched", fd);
		return -EEXIST;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	*h = (struct handler){.fd = fd, .is_timer = is_timer, .cb = cb, .arg = arg};
	ev.data.ptr = h;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		nj_err("epoll_ctl(ADD, fd %d): %s", fd, strerror(errno));
		free(h);
		return err;
	}
	loop->by_fd[fd] = h;
	return 0;
}

int nj_loop_set_events(struct nj_loop *loop, int fd, unsigned int events)
{
	struct epoll_event ev = {0};
	struct handler *h = fd >= 0 && fd < loop->nfd ? loop->by_fd[fd] : NULL;

	if (!h)
		return -ENOENT;
	ev.events = (events & NJ_LOOP_READ ? EPOLLIN : 0) | (events & NJ_LOOP_WRITE ? EPOLLOUT : 0);
	ev.data.ptr = h;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0) {
		nj_err("epoll_ctl(MOD, fd %d): %s", fd, strerror(errno));
		return -errno;
	}
	return 0;
}

void nj_loop_del_fd(struct nj_loop *loop, int fd)
{
	struct handler *h = fd >= 0 && fd < loop->nfd ? loop->by_fd[fd] : NULL;

	if (!h || h->is_timer)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	loop->by_fd[fd] = NULL;
	/* a pending event for this handler in the current round is skipped */
	h->fd = -1;
	h->next_dead = loop->dead;
	loop->dead = h;
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

void nj_loop_set_idle(struct nj_loop *loop, nj_idle_cb cb, void *arg)
{
	loop->idle = cb;
	loop->idle_arg = arg;
}

void nj_loop_stop(struct nj_loop *loop)
{
	loop->stop = true;
}

int nj_loop_run(struct nj_loop *loop)
{
	struct epoll_event evs[NJ_LOOP_BATCH];
	int i, n, err, timeout = -1;

	while (!loop->stop) {
		n = epoll_wait(loop->epfd, evs, NJ_LOOP_BATCH, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			nj_err("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (i = 0; i < n && !loop->stop; i++) {
			struct handler *h = evs[i].data.ptr;

			if (h->fd < 0)
				continue; /* removed by an earlier callback of this round */
			if (h->is_timer) {
				uint64_t expirations;

				/* drain the timer so it does not stay readable */
				if (read(h->fd, &expirations, sizeof(expirations)) < 0 &&
				    errno != EAGAIN)
					nj_warn("timerfd read: %s", strerror(errno));
			}
			err = h->cb(h->fd, h->arg);
			if (err < 0) {
				free_dead(loop);
				return err;
			}
		}
		free_dead(loop);
		timeout = loop->idle && !loop->stop ? loop->idle(loop->idle_arg) : -1;
	}
	return 0;
}
