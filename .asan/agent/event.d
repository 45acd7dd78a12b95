.asan/agent/event.o: agent/event.c agent/event.h .asan/nightjar.pb-c.h \
 agent/proc.h agent/records.h bpf/nightjar.h
agent/event.h:
.asan/nightjar.pb-c.h:
agent/proc.h:
agent/records.h:
bpf/nightjar.h:
