.asan/agent/watch.o: agent/watch.c agent/watch.h bpf/nightjar.h
agent/watch.h:
bpf/nightjar.h:
