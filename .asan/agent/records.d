.asan/agent/records.o: agent/records.c agent/records.h bpf/nightjar.h
agent/records.h:
bpf/nightjar.h:
