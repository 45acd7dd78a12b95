.asan/agent/control.o: agent/control.c agent/control.h agent/loop.h \
 agent/log.h agent/spool.h
agent/control.h:
agent/loop.h:
agent/log.h:
agent/spool.h:
