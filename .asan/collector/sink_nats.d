.asan/collector/sink_nats.o: collector/sink_nats.c collector/collector.h \
 collector/config.h agent/json.h agent/log.h agent/wire.h \
 .asan/nightjar.pb-c.h
collector/collector.h:
collector/config.h:
agent/json.h:
agent/log.h:
agent/wire.h:
.asan/nightjar.pb-c.h:
