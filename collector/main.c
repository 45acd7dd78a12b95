/* main.c - nightjar-collector: receives every agent's records over mutual TLS and stores them
 * durably (docs/collector.md). One thread, one epoll loop: the listener and its connections
 * (server.c), a one-second tick, the control socket and a signalfd.
 *
 *   nightjar-collector [--config FILE] [--check-config] [--log-level LEVEL]
 *   nightjar-collector status [--json] [--config FILE | --socket PATH]
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "collector.h"
#include "config.h"
#include "control.h"
#include "log.h"
#include "loop.h"
#include "server.h"
#include "version.h"

static const char usage[] =
	"Usage: nightjar-collector [--config FILE] [--check-config] [--log-level LEVEL]\n"
	"       nightjar-collector status [--json] [--config FILE | --socket PATH]\n"
	"Receives agents' records over mutual TLS and stores them (docs/collector.md).\n"
	"  --config FILE      default " NJC_CONFIG_DEFAULT_PATH "\n"
	"  --check-config     parse the configuration, print the problem if any, exit\n"
	"  --log-level LEVEL  debug, info (default), warning, error\n";

static int on_signal(int fd, void *arg)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == sizeof(si))
		nj_info("received %s, stopping", strsignal((int)si.ssi_signo));
	nj_loop_stop(arg);
	return 0;
}

static int load_config(struct njc_config *cfg, const char *file, bool given)
{
	char err[1024];

	njc_config_defaults(cfg);
	if (!given && access(file, F_OK) < 0) {
		fprintf(stderr,
			"nightjar-collector: %s: not found (the collector needs at least "
			"tls.ca, tls.cert and tls.key; see docs/collector.md)\n",
			file);
		return -1;
	}
	if (njc_config_load(cfg, file, err, sizeof(err)) < 0) {
		fprintf(stderr, "nightjar-collector: %s\n", err);
		return -1;
	}
	if (!cfg->listen)
		cfg->listen = strdup("0.0.0.0:6445");
	if (!cfg->data_dir)
		cfg->data_dir = strdup(NJC_DATA_DIR_DEFAULT);
	if (!cfg->control_socket && cfg->data_dir &&
	    asprintf(&cfg->control_socket, "%s/control.sock", cfg->data_dir) < 0)
		cfg->control_socket = NULL;
	if (!cfg->nats_stream)
		cfg->nats_stream = strdup("NIGHTJAR");
	if (!cfg->nats_subject)
		cfg->nats_subject = strdup("nightjar.records");
	if (!cfg->listen || !cfg->data_dir || !cfg->control_socket || !cfg->nats_stream ||
	    !cfg->nats_subject) {
		fprintf(stderr, "nightjar-collector: out of memory\n");
		return -1;
	}
	return 0;
}

static int do_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"config", required_argument, NULL, 'c'},
		{"socket", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *config = NJC_CONFIG_DEFAULT_PATH, *sock = NULL;
	bool json = false, given = false;
	struct njc_config cfg;
	const char *req;
	char buf[4096];
	ssize_t n;
	int opt, fd;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'c':
			config = optarg;
			given = true;
			break;
		case 's':
			sock = optarg;
			break;
		case 'h':
			printf("Usage: nightjar-collector status [--json] [--config FILE | "
			       "--socket "
			       "PATH]\n"
			       "Connections, counters, ack latency, the sink, and every host: last "
			       "seen,\n"
			       "records/s, stored through, sequence gaps. The socket is "
			       "control_socket of\n"
			       "the configuration (default <data_dir>/control.sock); root only.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!sock) {
		if (load_config(&cfg, config, given) < 0)
			return 1;
		sock = cfg.control_socket;
	}
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "nightjar-collector: socket path too long: %s\n", sock);
		return 1;
	}
	strcpy(sa.sun_path, sock);
	req = json ? "status json\n" : "status\n";
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr,
			"nightjar-collector: cannot reach the collector at %s: %s (is it running, "
			"and are you root?)\n",
			sock, strerror(errno));
		return 1;
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		fprintf(stderr, "nightjar-collector: sending to the collector: %s\n",
			strerror(errno));
		close(fd);
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	close(fd);
	return n < 0 ? 1 : 0;
}

static void known_host(const char *id, void *arg)
{
	(void)arg;
	njc_host_get(id, true);
}

/* a thousand agents, each a socket, each host a segment file and a directory */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			nj_warn("cannot raise the open file limit: %s", strerror(errno));
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, 'k'},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	const char *config = NJC_CONFIG_DEFAULT_PATH;
	enum nj_log_level level = NJ_LOG_INFO;
	bool check = false, given = false;
	struct nj_control *control = NULL;
	struct njc_server *server;
	struct njc_sink *sink;
	struct njc_config cfg;
	struct nj_loop *loop;
	char err[1024];
	sigset_t mask;
	int opt, sigfd, ret = 1;

	if (argc > 1 && !strcmp(argv[1], "status"))
		return do_status(argc - 1, argv + 1);
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			given = true;
			break;
		case 'k':
			check = true;
			break;
		case 'l':
			if (!strcmp(optarg, "debug"))
				level = NJ_LOG_DEBUG;
			else if (!strcmp(optarg, "info"))
				level = NJ_LOG_INFO;
			else if (!strcmp(optarg, "warning"))
				level = NJ_LOG_WARN;
			else if (!strcmp(optarg, "error"))
				level = NJ_LOG_ERROR;
			else {
				fprintf(stderr, "nightjar-collector: --log-level: expected debug, "
						"info, warning or error\n");
				return 2;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("nightjar-collector %s\n", NJ_VERSION);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nightjar-collector: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	nj_log_init("nightjar-collector", level);
	if (load_config(&cfg, config, given) < 0)
		return 1;
	if (check) {
		printf("%s: ok\n", config);
		ret = 0;
		goto out_config;
	}
	raise_fd_limit();
	/* a peer that vanishes mid-write must cost its connection, not the process */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	loop = nj_loop_new();
	if (sigfd < 0 || !loop || nj_loop_add_fd(loop, sigfd, on_signal, loop)) {
		nj_err("cannot set up the event loop");
		goto out_loop;
	}
	sink = cfg.sink == NJC_SINK_NATS ? njc_sink_nats_open(&cfg, err, sizeof(err))
					 : njc_sink_file_open(&cfg, err, sizeof(err));
	if (!sink) {
		nj_err("sink %s: %s", cfg.sink == NJC_SINK_NATS ? "nats" : "file", err);
		goto out_loop;
	}
	if (cfg.sink == NJC_SINK_FILE)
		njc_sink_file_list_hosts(cfg.data_dir, known_host, NULL);
	server = njc_server_open(&cfg, loop, sink, err, sizeof(err));
	if (!server) {
		nj_err("%s", err);
		goto out_sink;
	}
	control = nj_control_open(cfg.control_socket, loop, njc_server_status, server);
	nj_info("listening on %s (TLS 1.3, client certificates from %s), sink %s, %zu known "
		"hosts",
		cfg.listen, cfg.tls_ca, sink->ops->name, njc_host_count());
	ret = nj_loop_run(loop) < 0 ? 1 : 0;
	if (control)
		nj_control_close(control);
	njc_server_close(server);
out_sink:
	sink->ops->close(sink);
out_loop:
	nj_loop_free(loop);
	if (sigfd >= 0)
		close(sigfd);
out_config:
	njc_config_free(&cfg);
	return ret;
}
