.asan/collector/server.o: collector/server.c agent/log.h agent/pbjson.h \
 agent/json.h .asan/nightjar.pb-c.h collector/server.h \
 collector/collector.h collector/config.h agent/json.h agent/loop.h \
 agent/version.h agent/wire.h
agent/log.h:
agent/pbjson.h:
agent/json.h:
.asan/nightjar.pb-c.h:
collector/server.h:
collector/collector.h:
collector/config.h:
agent/json.h:
agent/loop.h:
agent/version.h:
agent/wire.h:
