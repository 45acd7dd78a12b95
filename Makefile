# Nightjar build. `make` builds the BPF object, its skeleton and the agent into .output/.
# `make run` and `make check` first install missing Debian packages (scripts/deps.sh).
# V=1 shows full commands.

OUTPUT   := .output
CLANG    ?= clang
BPFTOOL  ?= bpftool
CC       ?= gcc
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
# CO-RE makes one vmlinux.h good for every kernel; generated from this machine's BTF unless
# VMLINUX_H points at another.
VMLINUX_H ?= $(OUTPUT)/vmlinux.h

WARN     := -Wall -Wextra -Werror
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 $(WARN) -MMD -MP -I$(OUTPUT) -Ibpf -Iagent -D_GNU_SOURCE
LDLIBS   := -lbpf -lelf -lz -lyaml -lprotobuf-c -lssl -lcrypto
# BPF_PROG() declares every tracepoint argument, used or not.
BPF_CFLAGS := -g -O2 $(WARN) -Wno-unused-function -Wno-unused-parameter -target bpf -D__TARGET_ARCH_$(ARCH) \
	-I$(OUTPUT) -Ibpf -MMD -MP

SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

AGENT      := $(OUTPUT)/nightjar-agent
AGENT_SRCS := $(wildcard agent/*.c)
# protoc-c output is generated at build time, never committed
PROTO_C    := $(OUTPUT)/nightjar.pb-c.c
PROTO_H    := $(OUTPUT)/nightjar.pb-c.h
# the default rules, compiled in (scripts/embed-rules.sh)
RULES      := $(sort $(wildcard rules/*.yaml))
RULES_C    := $(OUTPUT)/rules_default.c
AGENT_OBJS := $(AGENT_SRCS:agent/%.c=$(OUTPUT)/agent/%.o) $(OUTPUT)/agent/nightjar.pb-c.o \
	$(OUTPUT)/agent/rules_default.o
# Unit tests link every agent module except the entry point, the BPF loader and the privilege
# drop, built again with sanitizers.
LIB_SRCS   := $(filter-out agent/main.c agent/sensor.c agent/privs.c,$(AGENT_SRCS))
SAN_OBJS   := $(LIB_SRCS:agent/%.c=$(OUTPUT)/san/%.o) $(OUTPUT)/san/nightjar.pb-c.o \
	$(OUTPUT)/san/rules_default.o
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(OUTPUT)/tests/%)
BENCH      := $(OUTPUT)/nightjar-bench
# the static do-nothing program bench/compare.sh starts at a steady rate
BENCH_TRUE := $(OUTPUT)/nightjar-true
CTL        := $(OUTPUT)/nightjarctl
SPOOL_BENCH := $(OUTPUT)/nightjar-spool-bench
SHIP_BENCH := $(OUTPUT)/nightjar-ship-bench
FUZZ_READER := $(OUTPUT)/fuzz_reader
# the modules the record reader runs through, fuzzed with libFuzzer and sanitizers
FUZZ_SRCS  := agent/spool.c agent/pbjson.c agent/json.c agent/text.c agent/log.c
FUZZ_SECONDS ?= 30
FUZZ_WIRE_SECONDS ?= 20
# nightjarctl links the agent's modules that need no BPF
CTL_OBJS   := $(LIB_SRCS:agent/%.c=$(OUTPUT)/agent/%.o) $(OUTPUT)/agent/nightjar.pb-c.o \
	$(OUTPUT)/agent/rules_default.o
# the collector: its own modules plus the agent's (wire codec, spool, loop, log, JSON...)
COLLECTOR  := $(OUTPUT)/nightjar-collector
COLL_SRCS  := $(wildcard collector/*.c)
COLL_OBJS  := $(COLL_SRCS:collector/%.c=$(OUTPUT)/collector/%.o)
COLL_LIBS  := -lssl -lnats -lpthread
# collector modules the unit tests reach (no TLS, no NATS), with sanitizers
COLL_SAN_OBJS := $(OUTPUT)/san/collector/config.o $(OUTPUT)/san/collector/hosts.o
COLL_LOAD  := $(OUTPUT)/nightjar-collector-load
FUZZ_WIRE  := $(OUTPUT)/fuzz_wire

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps run check unit integration fuzz bench bench-compare format format-check clean \
	install install-agent install-collector deb rpm

all: $(AGENT) $(CTL) $(BENCH) $(BENCH_TRUE) $(SPOOL_BENCH) $(SHIP_BENCH) $(COLLECTOR) $(COLL_LOAD)

$(OUTPUT) $(OUTPUT)/agent $(OUTPUT)/san $(OUTPUT)/tests:
	$(Q)mkdir -p $@

$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(VMLINUX_H) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $* > $@

# sensor.c includes the skeleton: build it first, then the depfile tracks it.
$(OUTPUT)/agent/sensor.o: $(OUTPUT)/nightjar.skel.h

$(PROTO_C) $(PROTO_H) &: proto/nightjar.proto | $(OUTPUT)
	$(call msg,PROTOC,$@)
	$(Q)protoc-c --proto_path=proto --c_out=$(OUTPUT) $<

# every agent source may include the generated header: generate it before compiling any
$(AGENT_SRCS:agent/%.c=$(OUTPUT)/agent/%.o) $(LIB_SRCS:agent/%.c=$(OUTPUT)/san/%.o): | $(PROTO_H)

$(OUTPUT)/agent/nightjar.pb-c.o: $(PROTO_C) | $(OUTPUT)/agent
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/san/nightjar.pb-c.o: $(PROTO_C) | $(OUTPUT)/san
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(RULES_C): $(RULES) scripts/embed-rules.sh | $(OUTPUT)
	$(call msg,EMBED,$@)
	$(Q)scripts/embed-rules.sh $(RULES) > $@

$(OUTPUT)/agent/rules_default.o: $(RULES_C) | $(OUTPUT)/agent
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/san/rules_default.o: $(RULES_C) | $(OUTPUT)/san
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(OUTPUT)/agent/%.o: agent/%.c | $(OUTPUT)/agent
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(AGENT): $(AGENT_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -lcap -o $@

$(OUTPUT)/ctl/%.o: ctl/%.c | $(PROTO_H)
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(CTL): $(OUTPUT)/ctl/nightjarctl.o $(CTL_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/san/%.o: agent/%.c | $(OUTPUT)/san
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(OUTPUT)/collector/%.o: collector/%.c | $(PROTO_H)
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/san/collector/%.o: collector/%.c | $(PROTO_H)
	$(Q)mkdir -p $(@D)
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(COLLECTOR): $(COLL_OBJS) $(CTL_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) $(COLL_LIBS) -o $@

# the load generator: many simulated agents over TLS (bench/collector.sh)
$(COLL_LOAD): bench/collector_load.c $(OUTPUT)/agent/wire.o $(OUTPUT)/agent/nightjar.pb-c.o | $(PROTO_H)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $< $(filter %.o,$^) -lssl -lcrypto -lprotobuf-c -lpthread -lm -o $@

$(OUTPUT)/tests/%: tests/unit/%.c $(SAN_OBJS) $(COLL_SAN_OBJS) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $< $(SAN_OBJS) $(COLL_SAN_OBJS) $(LDLIBS) -lcmocka -o $@

# the bench builds records with the agent's own modules
$(SPOOL_BENCH): bench/spool_bench.c $(CTL_OBJS) | $(PROTO_H)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $< $(CTL_OBJS) $(LDLIBS) -o $@

# the agent's shipper without the sensor: catch-up throughput needs no BPF
$(SHIP_BENCH): bench/ship_bench.c $(CTL_OBJS) | $(PROTO_H)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $< $(CTL_OBJS) $(LDLIBS) -o $@

$(FUZZ_READER): tests/fuzz/fuzz_reader.c $(FUZZ_SRCS) $(PROTO_C) | $(PROTO_H)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
		-Iagent -Ibpf -I$(OUTPUT) $< $(FUZZ_SRCS) $(PROTO_C) -lprotobuf-c -lz -o $@

$(FUZZ_WIRE): tests/fuzz/fuzz_wire.c agent/wire.c $(PROTO_C) | $(PROTO_H)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
		-Iagent -Ibpf -I$(OUTPUT) $< agent/wire.c $(PROTO_C) -lprotobuf-c -o $@

# a bounded run of each target inside make check; longer runs: tests/fuzz/README.md
fuzz: $(FUZZ_READER) $(FUZZ_WIRE)
	$(Q)tests/fuzz/run.sh $(FUZZ_SECONDS)
	$(Q)tests/fuzz/run.sh --target fuzz_wire $(FUZZ_WIRE_SECONDS)

$(BENCH): bench/bench.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

# no C library and no dynamic loader: its whole run is the exec and one exit syscall
$(BENCH_TRUE): bench/true.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 $(WARN) -MMD -MP -static -nostdlib -fno-pie -no-pie $< -o $@

deps:
	$(Q)scripts/deps.sh

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(AGENT) $(ARGS)

unit: $(UNIT_BINS)
	$(Q)rc=0; for t in $(UNIT_BINS); do echo "== $$t"; \
		$$t || { echo "unit-binary-failed: $$t"; rc=1; }; done; exit $$rc

integration: all
	$(Q)bats --print-output-on-failure tests/integration

# Both suites run even if the first fails; the logs feed one closing line.
check: deps
	$(Q)$(MAKE) --no-print-directory all format-check
	$(Q)rm -f $(OUTPUT)/unit.log $(OUTPUT)/integration.tap
	$(Q)$(MAKE) --no-print-directory unit 2>&1 | tee $(OUTPUT)/unit.log
	$(Q)bats --print-output-on-failure tests/integration 2>&1 | tee $(OUTPUT)/integration.tap
	$(Q)$(MAKE) --no-print-directory fuzz 2>&1 | tee $(OUTPUT)/fuzz.log
	$(Q)scripts/test-summary.sh $(OUTPUT)/unit.log $(OUTPUT)/integration.tap $(OUTPUT)/fuzz.log

bench: all
	$(Q)bench/run.sh
	$(Q)bench/spool.sh
	$(Q)bench/ship.sh
	$(Q)bench/collector.sh

# Nightjar against auditd on the same work (installs auditd if missing; bench/README.md)
bench-compare: all
	$(Q)bench/compare.sh

FORMAT_SRCS := $(wildcard bpf/*.c bpf/*.h agent/*.c agent/*.h ctl/*.c collector/*.c collector/*.h \
	tests/unit/*.c tests/fuzz/*.c bench/*.c)
format:
	$(Q)clang-format -i $(FORMAT_SRCS)

format-check:
	$(Q)clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	$(Q)rm -rf $(OUTPUT)

# Installation, as the packages lay it out (packaging/: debian/, rpm/nightjar.spec). One list
# for both package formats; docs/packaging.md describes the result.
DESTDIR    ?=
PREFIX     ?= /usr
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
# where this distribution's systemd wants units (/lib/systemd/system on Debian 12)
UNITDIR    ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/usr/lib/systemd/system)
SYSUSERSDIR ?= /usr/lib/sysusers.d
COLLECTOR  := $(OUTPUT)/nightjar-collector

install: install-agent $(if $(wildcard collector/*.c),install-collector)

install-agent: $(AGENT) $(CTL)
	$(Q)install -D -m 0755 $(AGENT) $(DESTDIR)$(SBINDIR)/nightjar-agent
	$(Q)install -D -m 0755 $(CTL) $(DESTDIR)$(SBINDIR)/nightjarctl
	$(Q)install -D -m 0755 packaging/nightjar-enrol $(DESTDIR)$(SBINDIR)/nightjar-enrol
	$(Q)install -D -m 0644 -t $(DESTDIR)$(MANDIR)/man8 packaging/man/nightjar-agent.8 \
		packaging/man/nightjarctl.8 packaging/man/nightjar-enrol.8
	$(Q)install -D -m 0644 packaging/etc/agent.yaml $(DESTDIR)$(SYSCONFDIR)/nightjar/agent.yaml
	$(Q)install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/nightjar/rules.d
	$(Q)install -D -m 0644 packaging/systemd/nightjar-agent.service \
		$(DESTDIR)$(UNITDIR)/nightjar-agent.service
	$(Q)install -D -m 0644 packaging/sysusers/nightjar-agent.conf \
		$(DESTDIR)$(SYSUSERSDIR)/nightjar-agent.conf

install-collector: $(COLLECTOR)
	$(Q)install -D -m 0755 $(COLLECTOR) $(DESTDIR)$(SBINDIR)/nightjar-collector
	$(Q)install -D -m 0644 packaging/man/nightjar-collector.8 \
		$(DESTDIR)$(MANDIR)/man8/nightjar-collector.8
	$(Q)install -D -m 0644 packaging/etc/collector.yaml $(DESTDIR)$(SYSCONFDIR)/nightjar/collector.yaml
	$(Q)install -D -m 0644 packaging/systemd/nightjar-collector.service \
		$(DESTDIR)$(UNITDIR)/nightjar-collector.service
	$(Q)install -D -m 0644 packaging/sysusers/nightjar-collector.conf \
		$(DESTDIR)$(SYSUSERSDIR)/nightjar-collector.conf

# Packages into .output/pkg/, built from a copy of the tree so the repository stays clean.
deb rpm: deps
	$(Q)packaging/build.sh $@ $(OUTPUT)/pkg

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/agent/*.d $(OUTPUT)/ctl/*.d $(OUTPUT)/san/*.d \
	$(OUTPUT)/tests/*.d $(OUTPUT)/collector/*.d $(OUTPUT)/san/collector/*.d)
