.asan/collector/sink_file.o: collector/sink_file.c collector/collector.h \
 collector/config.h agent/json.h agent/log.h agent/pbjson.h agent/json.h \
 .asan/nightjar.pb-c.h agent/spool.h
collector/collector.h:
collector/config.h:
agent/json.h:
agent/log.h:
agent/pbjson.h:
agent/json.h:
.asan/nightjar.pb-c.h:
agent/spool.h:
