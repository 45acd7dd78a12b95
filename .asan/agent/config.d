.asan/agent/config.o: agent/config.c agent/config.h agent/log.h
agent/config.h:
agent/log.h:
