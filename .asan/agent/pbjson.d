.asan/agent/pbjson.o: agent/pbjson.c .asan/nightjar.pb-c.h agent/pbjson.h \
 agent/json.h
.asan/nightjar.pb-c.h:
agent/pbjson.h:
agent/json.h:
