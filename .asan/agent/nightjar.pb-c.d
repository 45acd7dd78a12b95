.asan/agent/nightjar.pb-c.o: .asan/nightjar.pb-c.c .asan/nightjar.pb-c.h
.asan/nightjar.pb-c.h:
