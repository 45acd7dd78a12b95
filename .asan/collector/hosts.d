.asan/collector/hosts.o: collector/hosts.c collector/collector.h \
 collector/config.h agent/json.h agent/log.h
collector/collector.h:
collector/config.h:
agent/json.h:
agent/log.h:
