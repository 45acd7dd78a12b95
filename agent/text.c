/* text.c - "2026-11-28T16:40:24.123Z exec     pid=4711 ppid=4650 uid=1000 cat ..." */
#include <string.h>

#include "pbjson.h"
#include "text.h"

/* The parts every kind of body shares. */
struct body {
	const Nightjar__Process *process;
	const Nightjar__User *user;
	const Nightjar__NetworkEvent *net;
	const Nightjar__FileEvent *file;
	const Nightjar__Health *health;
};

static struct body body_of(const Nightjar__Record *r)
{
	struct body b = {0};

	switch (r->body_case) {
	case NIGHTJAR__RECORD__BODY_EXEC:
	case NIGHTJAR__RECORD__BODY_FORK:
	case NIGHTJAR__RECORD__BODY_EXIT: {
		const Nightjar__ProcessEvent *pe =
			r->body_case == NIGHTJAR__RECORD__BODY_EXEC   ? r->exec
			: r->body_case == NIGHTJAR__RECORD__BODY_FORK ? r->fork
								      : r->exit;

		b.process = pe->process;
		b.user = pe->user;
		break;
	}
	case NIGHTJAR__RECORD__BODY_CONNECT:
	case NIGHTJAR__RECORD__BODY_ACCEPT:
	case NIGHTJAR__RECORD__BODY_LISTEN:
	case NIGHTJAR__RECORD__BODY_UDP_SEND:
		b.net = r->body_case == NIGHTJAR__RECORD__BODY_CONNECT	? r->connect
			: r->body_case == NIGHTJAR__RECORD__BODY_ACCEPT ? r->accept
			: r->body_case == NIGHTJAR__RECORD__BODY_LISTEN ? r->listen
									: r->udp_send;
		b.process = b.net->process;
		b.user = b.net->user;
		break;
	case NIGHTJAR__RECORD__BODY_OPEN:
		b.file = r->open;
		b.process = b.file->process;
		b.user = b.file->user;
		break;
	case NIGHTJAR__RECORD__BODY_ALERT:
		b.process = r->alert->process;
		b.user = r->alert->user;
		break;
	case NIGHTJAR__RECORD__BODY_HEALTH:
		b.health = r->health;
		break;
	default:
		break;
	}
	return b;
}

static void endpoint(FILE *f, const Nightjar__Endpoint *e)
{
	const char *ip = e && e->ip ? e->ip : "*";

	fprintf(f, strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, e && e->has_port ? e->port : 0);
}

void nj_text_record(FILE *f, const Nightjar__Record *r)
{
	struct body b = body_of(r);
	const Nightjar__Process *p = b.process;
	char when[40];
	size_t i;

	nj_format_utc(when, r->timestamp_utc_ns);
	/* milliseconds are enough on a terminal */
	fprintf(f, "%.23sZ %-8s", when, r->event && r->event->action ? r->event->action : "?");
	if (r->event && r->event->has_sequence)
		fprintf(f, " seq=%llu", (unsigned long long)r->event->sequence);
	/* every part of a record is optional on the wire: a damaged or foreign record prints
	 * what it has */
	if (b.health && b.health->nightjar && b.health->nightjar->health) {
		const Nightjar__HealthCounters *c = b.health->nightjar->health;

		fprintf(f,
			" records=%llu ringbuf_drops=%llu args_truncated=%llu paths_truncated=%llu "
			"events=%llu watched_inodes=%llu",
			(unsigned long long)c->records, (unsigned long long)c->ringbuf_drops,
			(unsigned long long)c->args_truncated,
			(unsigned long long)c->paths_truncated, (unsigned long long)c->events,
			(unsigned long long)c->watched_inodes);
	}
	if (p) {
		fprintf(f, " pid=%u ppid=%u uid=%s %.*s", p->pid, p->parent ? p->parent->pid : 0,
			b.user && b.user->id ? b.user->id : "?", (int)p->name.len,
			(const char *)p->name.data);
	}
	switch (r->body_case) {
	case NIGHTJAR__RECORD__BODY_EXEC:
		if (!p)
			break;
		fprintf(f, " exe=%.*s args:", (int)p->executable.len,
			(const char *)p->executable.data);
		for (i = 0; i < p->n_args; i++)
			fprintf(f, " %.*s", (int)p->args[i].len, (const char *)p->args[i].data);
		break;
	case NIGHTJAR__RECORD__BODY_EXIT:
		if (p)
			fprintf(f, " code=%d", p->exit_code);
		break;
	case NIGHTJAR__RECORD__BODY_CAPTURE:
		if (r->capture->capture) {
			const Nightjar__CaptureInfo *c = r->capture->capture;
			char end[40];

			nj_format_utc(end, c->end_utc_ns);
			fprintf(f, " host=%s agent=%s until=%.23sZ records=%llu filters=%s",
				r->host && r->host->name ? r->host->name : "?",
				c->agent_version ? c->agent_version : "?", end,
				(unsigned long long)c->records,
				c->filters && c->filters[0] ? c->filters : "none");
		}
		break;
	case NIGHTJAR__RECORD__BODY_OPEN:
		if (b.file->file)
			fprintf(f, " file=%.*s", (int)b.file->file->path.len,
				(const char *)b.file->file->path.data);
		if (b.file->nightjar && b.file->nightjar->file && b.file->nightjar->file->match)
			fprintf(f, " match=%s", b.file->nightjar->file->match);
		break;
	default:
		if (!b.net)
			break;
		fprintf(f, " %s ",
			b.net->network && b.net->network->transport ? b.net->network->transport
								    : "?");
		endpoint(f, b.net->source);
		if (b.net->destination) {
			fputs(" -> ", f);
			endpoint(f, b.net->destination);
		}
		if (b.net->nightjar && b.net->nightjar->result)
			fprintf(f, " %s", b.net->nightjar->result);
		break;
	}
	fputc('\n', f);
}

const Nightjar__Process *nj_record_process(const Nightjar__Record *r)
{
	return body_of(r).process;
}

const char *nj_record_kind(const Nightjar__Record *r)
{
	const ProtobufCFieldDescriptor *f =
		protobuf_c_message_descriptor_get_field(r->base.descriptor, r->body_case);

	return f ? f->name : "none";
}
