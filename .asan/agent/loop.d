.asan/agent/loop.o: agent/loop.c agent/log.h agent/loop.h
agent/log.h:
agent/loop.h:
