.asan/agent/output.o: agent/output.c agent/log.h agent/output.h \
 agent/config.h agent/control.h agent/loop.h agent/event.h \
 .asan/nightjar.pb-c.h agent/proc.h agent/records.h bpf/nightjar.h \
 agent/json.h agent/spool.h agent/pbjson.h agent/text.h
agent/log.h:
agent/output.h:
agent/config.h:
agent/control.h:
agent/loop.h:
agent/event.h:
.asan/nightjar.pb-c.h:
agent/proc.h:
agent/records.h:
bpf/nightjar.h:
agent/json.h:
agent/spool.h:
agent/pbjson.h:
agent/text.h:
