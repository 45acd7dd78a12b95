/* loop.h - the one event loop of the agent and the collector: file descriptors and periodic
 * timers on one epoll. The shape of redis' ae, cut to what they need; every epoll detail stays
 * in loop.c. */
#ifndef NJ_LOOP_H
#define NJ_LOOP_H

#include <stdint.h>

struct nj_loop;

/* Called when fd is ready. Return 0 to keep going, <0 to stop the loop with that error. */
typedef int (*nj_fd_cb)(int fd, void *arg);
/* Called after each round of callbacks, before the loop waits again (the collector's group
 * commit). Returns the longest the next wait may take in ms, -1 for no limit. */
typedef int (*nj_idle_cb)(void *arg);

struct nj_loop *nj_loop_new(void);
void nj_loop_free(struct nj_loop *loop);

/* Watch fd for reading (level-triggered). */
int nj_loop_add_fd(struct nj_loop *loop, int fd, nj_fd_cb cb, void *arg);
/* What wakes fd's callback from now on: NJ_LOOP_READ, NJ_LOOP_WRITE, both, or 0 (paused). */
#define NJ_LOOP_READ  1u
#define NJ_LOOP_WRITE 2u
int nj_loop_set_events(struct nj_loop *loop, int fd, unsigned int events);
/* Stop watching fd (the caller closes it). Safe from inside a callback, even fd's own. */
void nj_loop_del_fd(struct nj_loop *loop, int fd);
/* A periodic timer (timerfd, CLOCK_MONOTONIC); the first run is one period from now. */
int nj_loop_add_timer(struct nj_loop *loop, uint32_t period_ms, nj_fd_cb cb, void *arg);
void nj_loop_set_idle(struct nj_loop *loop, nj_idle_cb cb, void *arg);

/* Run until a callback fails or nj_loop_stop() is called. Returns 0 or the callback's error. */
int nj_loop_run(struct nj_loop *loop);
void nj_loop_stop(struct nj_loop *loop);

#endif
