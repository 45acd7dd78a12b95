/* bench.c - nightjar-bench: the workloads bench/run.sh times with and without the agent.
 *
 * Each subcommand runs one workload and prints one line of key=value figures on stdout:
 *   WORKLOAD ns_per_op=N iters=N
 *   exec_rate target=N achieved=N seconds=N execs=N pid=N
 *   exec_steady target=N achieved=N seconds=N execs=N workers=N
 * Only the timed loop is measured (CLOCK_MONOTONIC), after an untimed warm-up, so process
 * start-up and first-touch page faults stay out of the figure. Any failed syscall is fatal:
 * a workload that silently stops doing its syscall would look like a fast agent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Untimed iterations before each timed loop. */
#define WARMUP_OPEN    1000
#define WARMUP_EXEC    10
#define WARMUP_CONNECT 100

static const char *prog = "nightjar-bench";

#include "common.h"

extern char **environ;

static void print_ns_per_op(const char *name, uint64_t elapsed_ns, uint64_t iters)
{
	printf("%s ns_per_op=%" PRIu64 " iters=%" PRIu64 "\n", name,
	       (elapsed_ns + iters / 2) / iters, iters);
}

static void open_close(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	if (close(fd))
		die("close %s: %s", path, strerror(errno));
}

/* open_unwatched and open_watched run the same loop; only the agent's view of PATH differs. */
static int do_open(const char *name, char **argv)
{
	const char *path = argv[0];
	uint64_t iters = parse_count(argv[1], "ITERS", UINT32_MAX);
	uint64_t i, t0;

	for (i = 0; i < WARMUP_OPEN; i++)
		open_close(path);
	t0 = now_ns();
	for (i = 0; i < iters; i++)
		open_close(path);
	print_ns_per_op(name, now_ns() - t0, iters);
	return 0;
}

/* The program every exec workload starts: /bin/true, or exec_steady's PROGRAM. */
static const char *exec_path = "/bin/true";
/* exec_steady starts its children with posix_spawn (a vfork: no page tables copied) */
static bool use_spawn;

/* Start exec_path in a new child; returns its pid. */
static pid_t spawn_true(void)
{
	char *const args[] = {(char *)exec_path, NULL};
	pid_t pid;
	int err;

	if (use_spawn) {
		/* glibc's posix_spawn reports a failed exec here, not through the child */
		err = posix_spawn(&pid, exec_path, NULL, NULL, args, environ);
		if (err)
			die("posix_spawn %s: %s", exec_path, strerror(err));
		return pid;
	}
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		execve(exec_path, args, environ);
		/* Only async-signal-safe calls between fork and exit: no stdio here. */
		_exit(127);
	}
	return pid;
}

static void check_child(pid_t pid, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		die("execve %s failed in child %d", exec_path, (int)pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("child %d (%s) ended with wait status 0x%x", (int)pid, exec_path, status);
}

static void fork_exec_wait(void)
{
	pid_t pid = spawn_true();
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			die("waitpid %d: %s", (int)pid, strerror(errno));
	}
	check_child(pid, status);
}

static int do_fork_exec(const char *name, char **argv)
{
	uint64_t iters = parse_count(argv[0], "ITERS", UINT32_MAX);
	uint64_t i, t0;

	for (i = 0; i < WARMUP_EXEC; i++)
		fork_exec_wait();
	t0 = now_ns();
	for (i = 0; i < iters; i++)
		fork_exec_wait();
	print_ns_per_op(name, now_ns() - t0, iters);
	return 0;
}

/* A loopback listener on an ephemeral port; *addr receives its address. */
static int listen_loopback(struct sockaddr_in *addr)
{
	/* Inherited by every accepted socket: closing it first sends RST instead of FIN, so no
	 * side enters TIME_WAIT and thousands of connects per run cannot exhaust the ports. */
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	socklen_t len = sizeof(*addr);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket(AF_INET, SOCK_STREAM): %s", strerror(errno));
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
		die("setsockopt SO_LINGER: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)))
		die("bind 127.0.0.1:0: %s", strerror(errno));
	if (listen(fd, 128))
		die("listen 127.0.0.1: %s", strerror(errno));
	if (getsockname(fd, (struct sockaddr *)addr, &len))
		die("getsockname: %s", strerror(errno));
	return fd;
}

/* One connection, start to end. The loopback handshake completes inside connect() (the SYN
 * is processed in the same softirq pass), so one thread can connect and then accept. */
static void connect_accept(int lfd, const struct sockaddr_in *addr)
{
	int cfd, afd;

	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0)
		die("socket(AF_INET, SOCK_STREAM): %s", strerror(errno));
	if (connect(cfd, (const struct sockaddr *)addr, sizeof(*addr)))
		die("connect 127.0.0.1:%u: %s", ntohs(addr->sin_port), strerror(errno));
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (afd < 0)
		die("accept4 on 127.0.0.1:%u: %s", ntohs(addr->sin_port), strerror(errno));
	/* Accepted side first: its inherited zero linger resets the connection. */
	if (close(afd))
		die("close accepted socket: %s", strerror(errno));
	if (close(cfd))
		die("close connected socket: %s", strerror(errno));
}

static int do_connect(const char *name, char **argv)
{
	uint64_t iters = parse_count(argv[0], "ITERS", UINT32_MAX);
	struct sockaddr_in addr;
	uint64_t i, t0;
	int lfd;

	lfd = listen_loopback(&addr);
	for (i = 0; i < WARMUP_CONNECT; i++)
		connect_accept(lfd, &addr);
	t0 = now_ns();
	for (i = 0; i < iters; i++)
		connect_accept(lfd, &addr);
	print_ns_per_op(name, now_ns() - t0, iters);
	close(lfd);
	return 0;
}

/* Reap finished children without blocking (or all of them, with block); returns how many. */
static uint64_t reap_children(int block)
{
	uint64_t n = 0;
	int status;
	pid_t pid;

	for (;;) {
		pid = waitpid(-1, &status, block ? 0 : WNOHANG);
		if (pid == 0)
			break;
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				break;
			die("waitpid: %s", strerror(errno));
		}
		check_child(pid, status);
		n++;
	}
	return n;
}

static void sleep_until(uint64_t deadline)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline / NSEC_PER_SEC),
		.tv_nsec = (long)(deadline % NSEC_PER_SEC),
	};
	int err;

	/* Absolute deadlines: a late wake-up shortens the next wait instead of shifting every
	 * later exec, so the rate holds on average. clock_nanosleep returns the error. */
	while ((err = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL)) == EINTR)
		;
	if (err)
		die("clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME): %s", strerror(err));
}

/* Start exec_path at start + (first + k * stride) / rate for k = 0, 1, ... until end,
 * reaping children as they finish; returns the number started. Deadlines are computed from the
 * start each time, not by adding a rounded period: no drift. Behind schedule at the end of the
 * window, it stops rather than run long, so a machine that cannot keep up shows a lower
 * achieved rate, not a longer run. */
static uint64_t paced_execs(uint64_t start, uint64_t end, uint64_t rate, uint64_t first,
			    uint64_t stride)
{
	uint64_t k, deadline, execs = 0;

	for (k = first;; k += stride) {
		deadline = start + k * NSEC_PER_SEC / rate;
		if (deadline >= end)
			break;
		sleep_until(deadline);
		if (now_ns() >= end)
			break;
		spawn_true();
		execs++;
		reap_children(0);
	}
	return execs;
}

/* executions per second over a window of elapsed ns, rounded */
static uint64_t per_second(uint64_t execs, uint64_t elapsed)
{
	return (execs * NSEC_PER_SEC + elapsed / 2) / elapsed;
}

/* A steady exec load for the agent's ring buffer. Children are not waited for one by one: a
 * fork+exec+wait takes about 3 ms on the project VM, so waiting would cap the rate near 350/s.
 * They run concurrently and are reaped as they finish. No warm-up: the first late exec is
 * caught up by the absolute schedule, and the achieved rate covers the whole window. */
static int do_exec_rate(const char *name, char **argv)
{
	uint64_t rate = parse_count(argv[0], "RATE", 1000000);
	uint64_t seconds = parse_count(argv[1], "SECONDS", 3600);
	uint64_t start, end, elapsed, t, execs;

	start = now_ns();
	end = start + seconds * NSEC_PER_SEC;
	execs = paced_execs(start, end, rate, 0, 1);
	t = now_ns();
	elapsed = (t > end ? t : end) - start;
	reap_children(1);
	printf("%s target=%" PRIu64 " achieved=%" PRIu64 " seconds=%" PRIu64 " execs=%" PRIu64
	       " pid=%d\n",
	       name, rate, per_second(execs, elapsed), seconds, execs, (int)getpid());
	return 0;
}

/* The same paced load split over WORKERS processes, so that one process's spawn cost does not
 * cap the rate: worker w takes every WORKERS-th slot of the one schedule, starting at slot w,
 * so together they start PROGRAM evenly at RATE. Each counts its execs in a shared page.
 * Children start with posix_spawn: on the project VM a fork+exec+wait of a static no-op costs
 * ~1.1 ms of CPU and a vfork-style spawn ~0.5 ms, the difference being the page tables fork
 * copies; the kernel still runs its fork, exec and exit paths for every child. */
static int do_exec_steady(const char *name, char **argv)
{
	uint64_t rate = parse_count(argv[0], "RATE", 1000000);
	uint64_t seconds = parse_count(argv[1], "SECONDS", 3600);
	uint64_t workers = parse_count(argv[2], "WORKERS", 64);
	uint64_t start, end, execs = 0, w;
	volatile uint64_t *counts;
	int status, failed = 0;
	pid_t pid;

	exec_path = argv[3];
	use_spawn = true;
	if (access(exec_path, X_OK))
		die("PROGRAM %s: %s", exec_path, strerror(errno));
	counts = mmap(NULL, workers * sizeof(*counts), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (counts == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	/* a common start a little ahead, so that no worker begins behind schedule */
	start = now_ns() + NSEC_PER_SEC / 20;
	end = start + seconds * NSEC_PER_SEC;
	fflush(stdout);
	for (w = 0; w < workers; w++) {
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			counts[w] = paced_execs(start, end, rate, w, workers);
			reap_children(1);
			_exit(0);
		}
	}
	/* the workers die on any failed exec or child; their status says so */
	while ((pid = wait(&status)) > 0 || (pid < 0 && errno == EINTR)) {
		if (pid > 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
			failed = 1;
	}
	if (errno != ECHILD)
		die("wait: %s", strerror(errno));
	if (failed)
		die("a worker failed: see its message above");
	for (w = 0; w < workers; w++)
		execs += counts[w];
	/* The window is fixed: workers stop at its end whether or not they kept up. */
	printf("%s target=%" PRIu64 " achieved=%" PRIu64 " seconds=%" PRIu64 " execs=%" PRIu64
	       " workers=%" PRIu64 "\n",
	       name, rate, per_second(execs, seconds * NSEC_PER_SEC), seconds, execs, workers);
	return 0;
}

/* The workloads; main() checks the argument count, so a handler may index argv freely. */
static const struct bench_cmd cmds[] = {
	{.name = "open_unwatched", .nargs = 2, .args = "PATH ITERS", .fn = do_open},
	{.name = "open_watched", .nargs = 2, .args = "PATH ITERS", .fn = do_open},
	{.name = "fork_exec", .nargs = 1, .args = "ITERS", .fn = do_fork_exec},
	{.name = "connect", .nargs = 1, .args = "ITERS", .fn = do_connect},
	{.name = "exec_rate", .nargs = 2, .args = "RATE SECONDS", .fn = do_exec_rate},
	{.name = "exec_steady",
	 .nargs = 4,
	 .args = "RATE SECONDS WORKERS PROGRAM",
	 .fn = do_exec_steady},
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s WORKLOAD [ARGS]\n", prog);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "       %s %s %s\n", prog, cmds[i].name, cmds[i].args);
}

int main(int argc, char **argv)
{
	return bench_main(argc, argv, cmds, sizeof(cmds) / sizeof(cmds[0]), usage, "workload");
}
