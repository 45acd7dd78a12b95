.asan/collector/config.o: collector/config.c collector/../agent/config.h \
 collector/config.h
collector/../agent/config.h:
collector/config.h:
