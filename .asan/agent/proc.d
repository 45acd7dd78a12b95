.asan/agent/proc.o: agent/proc.c agent/log.h agent/proc.h agent/records.h \
 bpf/nightjar.h
agent/log.h:
agent/proc.h:
agent/records.h:
bpf/nightjar.h:
