.asan/agent/text.o: agent/text.c agent/pbjson.h agent/json.h \
 .asan/nightjar.pb-c.h agent/text.h
agent/pbjson.h:
agent/json.h:
.asan/nightjar.pb-c.h:
agent/text.h:
