.asan/agent/wire.o: agent/wire.c agent/wire.h .asan/nightjar.pb-c.h
agent/wire.h:
.asan/nightjar.pb-c.h:
