# SPDX-License-Identifier: GPL-2.0-or-later
# tcptop-collect: the BPF object (CO-RE, types from bpf/vmlinux_min.h, never from the build
# host), its skeleton (generated, never committed), the collector and the test traffic program.

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall \
	-I/usr/include/$(shell $(CC) -print-multiarch 2>/dev/null) -Ibpf
BPF_DEPS := bpf/tcptop.bpf.c bpf/tcptop.h bpf/vmlinux_min.h

$(OUTPUT)/tcptop.bpf.o: $(BPF_DEPS) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c bpf/tcptop.bpf.c -o $@

$(OUTPUT)/tcptop.skel.h: $(OUTPUT)/tcptop.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name tcptop_bpf > $@.tmp && mv $@.tmp $@

# Objects live in $(OUTPUT)/collect/: $(OUTPUT)/tcptop-collect is the program itself.
COLLECT_OBJS := $(OUTPUT)/collect/main.o $(OUTPUT)/collect/probe.o $(OUTPUT)/collect/xlate.o \
	$(OUTPUT)/collect/cgroups.o $(OUTPUT)/collect/engine.o $(OUTPUT)/collect/ring.o

$(OUTPUT)/collect/%.o: tcptop-collect/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -Ibpf -MMD -MP -c $< -o $@

$(OUTPUT)/collect/probe.o: $(OUTPUT)/tcptop.skel.h

$(OUTPUT)/tcptop-collect: $(COLLECT_OBJS) $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) -lbpf -lelf -lz -o $@

# Its unit tests: the translation alone against a fake kernel (tests/unit/test_xlate.c), and
# the engine against a fake libbpf (tests/unit/test_engine.c): no libbpf is linked, the test
# defines the few calls the engine makes (engine.h says which), so that it can make the
# kernel's reads fail at will without a hook in the collector.
$(OUTPUT)/tests/unit/test_xlate.o $(OUTPUT)/tests/unit/test_engine.o \
		$(OUTPUT)/tests/unit/test_ring.o: TEST_CFLAGS += -Ibpf -Itcptop-collect
$(OUTPUT)/tests/unit-xlate: $(OUTPUT)/tests/unit/test_xlate.o $(OUTPUT)/collect/xlate.o \
		$(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) -o $@
$(OUTPUT)/tests/unit-engine: $(OUTPUT)/tests/unit/test_engine.o $(OUTPUT)/collect/engine.o \
		$(OUTPUT)/collect/xlate.o $(OUTPUT)/collect/cgroups.o $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) -o $@

# The ring buffer's reader on a ring laid out in memory.
$(OUTPUT)/tests/unit-ring: $(OUTPUT)/tests/unit/test_ring.o $(OUTPUT)/collect/ring.o $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) -lbpf -o $@

$(OUTPUT)/tcptop-traffic: tests/traffic/traffic.c | $(OUTPUT)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(ALL_LDFLAGS) -o $@

BINS += $(OUTPUT)/tcptop-collect
MAN1 += man/tcptop-collect.1
TEST_DEPS += $(OUTPUT)/tcptop-traffic

.PHONY: bench-collect
bench-collect: $(OUTPUT)/tcptop-collect $(OUTPUT)/tcptop-traffic
	python3 tests/traffic/bench-collect.py $(OUTPUT) $(BENCH_COLLECT_ARGS)
BENCHES += bench-collect
# PAIRS SECONDS CHURN_RATE CHURN_SECONDS (defaults 10 2 10000 30)
BENCH_COLLECT_ARGS ?=
