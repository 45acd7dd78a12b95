.asan/agent/host.o: agent/host.c agent/host.h
agent/host.h:
