.asan/agent/spool.o: agent/spool.c agent/log.h agent/spool.h
agent/log.h:
agent/spool.h:
