.asan/collector/main.o: collector/main.c collector/collector.h \
 collector/config.h agent/json.h agent/control.h agent/loop.h agent/log.h \
 agent/loop.h collector/server.h agent/version.h
collector/collector.h:
collector/config.h:
agent/json.h:
agent/control.h:
agent/loop.h:
agent/log.h:
agent/loop.h:
collector/server.h:
agent/version.h:
