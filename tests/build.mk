# SPDX-License-Identifier: GPL-2.0-or-later
# Test tools (generator, dump), C unit tests, the fuzz target and the stream reader benchmark.

SCRIPT_OBJ := $(OUTPUT)/tests/gen/script.o
TEST_CFLAGS = $(ALL_CFLAGS) -Itests/gen

$(OUTPUT)/tests/%.o: tests/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/tcptop-gen: $(OUTPUT)/tests/gen/gen.o $(SCRIPT_OBJ) $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) -o $@

$(OUTPUT)/tcptop-dump: $(OUTPUT)/tests/gen/dump.o $(SCRIPT_OBJ) $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) -o $@

TEST_DEPS += $(OUTPUT)/tcptop-gen $(OUTPUT)/tcptop-dump

# C unit tests: each prints TAP; tests/run runs every $(OUTPUT)/tests/unit-*.
UNIT_TESTS := $(patsubst tests/unit/test_%.c,$(OUTPUT)/tests/unit-%,$(wildcard tests/unit/test_*.c))

$(OUTPUT)/tests/unit-%: $(OUTPUT)/tests/unit/test_%.o $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) -o $@

TEST_DEPS += $(UNIT_TESTS)

# libFuzzer target for the stream reader. `make fuzz` builds it and its seeds (from the
# generator's scripts); `make fuzz-run FUZZ_SECONDS=600` fuzzes; crashes land in
# tests/fuzz/crashes/ and `make test` replays the seeds and every saved crash.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CORPUS ?= $(OUTPUT)/fuzz/corpus
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-std=gnu11 -D_GNU_SOURCE -DTCPTOP_VERSION='"$(VERSION)"' -Ilib
FUZZER := $(OUTPUT)/fuzz/fuzz-stream
FUZZ_SEED_SCRIPTS := $(wildcard tests/fuzz/seeds/*.txt)
FUZZ_SEEDS := $(FUZZ_SEED_SCRIPTS:tests/fuzz/seeds/%.txt=$(OUTPUT)/fuzz/seeds/%.tcpt) \
	$(OUTPUT)/fuzz/seeds/raw-truncated.tcpt $(OUTPUT)/fuzz/seeds/raw-trailer.tcpt

$(FUZZER): tests/fuzz/fuzz_stream.c $(LIB_SRCS) lib/stream.h lib/util.h
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $(filter %.c,$^) -o $@

$(OUTPUT)/fuzz/seeds/%.tcpt: tests/fuzz/seeds/%.txt $(OUTPUT)/tcptop-gen
	$(Q)mkdir -p $(@D)
	$(Q)$(OUTPUT)/tcptop-gen -o $@ $<
$(OUTPUT)/fuzz/seeds/raw-truncated.tcpt: tests/fuzz/seeds/raw.txt $(OUTPUT)/tcptop-gen
	$(Q)mkdir -p $(@D)
	$(Q)$(OUTPUT)/tcptop-gen --truncate 300 -o $@ $<
$(OUTPUT)/fuzz/seeds/raw-trailer.tcpt: tests/fuzz/seeds/raw.txt $(OUTPUT)/tcptop-gen
	$(Q)mkdir -p $(@D)
	$(Q)$(OUTPUT)/tcptop-gen --corrupt-trailer 3 -o $@ $<

.PHONY: fuzz fuzz-run
fuzz: $(FUZZER) $(FUZZ_SEEDS)

fuzz-run: fuzz
	$(Q)mkdir -p $(FUZZ_CORPUS)
	$(FUZZER) -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -print_final_stats=1 \
		-artifact_prefix=tests/fuzz/crashes/ $(FUZZ_CORPUS) $(OUTPUT)/fuzz/seeds

TEST_DEPS += fuzz

# Benchmark of the stream reader against cat (make bench-stream; joined by make bench).
$(OUTPUT)/tests/bench-read: $(OUTPUT)/tests/bench/bench_read.o $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) -o $@

.PHONY: bench-stream
bench-stream: $(OUTPUT)/tests/bench-read $(OUTPUT)/tcptop-gen
	tests/bench/stream-read.sh $(OUTPUT) $(BENCH_STREAM_MB)
BENCH_STREAM_MB ?= 1024
BENCHES += bench-stream

# Reference monitors of make bench-collect (tests/bench/floor.bpf.c) and their loader; the
# benchmark itself is defined beside the collector, this adds what it needs from here.
BENCH_BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall \
	-I/usr/include/$(shell $(CC) -print-multiarch 2>/dev/null)
BENCH_FLOOR := $(OUTPUT)/tests/bench-floor

$(OUTPUT)/tests/bench/floor.bpf.o: tests/bench/floor.bpf.c | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BENCH_BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/tests/bench/floor.skel.h: $(OUTPUT)/tests/bench/floor.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name floor_bpf > $@.tmp && mv $@.tmp $@

$(BENCH_FLOOR): tests/bench/floor.c $(OUTPUT)/tests/bench/floor.skel.h
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -I$(OUTPUT)/tests/bench $< $(ALL_LDFLAGS) -lbpf -lelf -lz -o $@

bench-collect: $(BENCH_FLOOR) $(OUTPUT)/tcptop-dump
TEST_DEPS += $(BENCH_FLOOR)

# The same benchmark inside tests/vm/run-vm (TCPTOP_VM_KERNEL picks the kernel): no KVM here,
# so only its ratios mean anything; shorter by default, nothing that needs more than the
# guest's 2 GiB.
BENCH_COLLECT_VM_ARGS ?= --pairs 5 --seconds 2 --idle 20000 --idle-seconds 5 --million 0 \
	--churn-rate 1000 --churn-seconds 10 --udp-rate 20000 --udp-peers 1000 --udp-seconds 5
BENCH_COLLECT_VM_TIMEOUT ?= 3600

.PHONY: bench-collect-vm
bench-collect-vm: $(OUTPUT)/tcptop-collect $(OUTPUT)/tcptop-traffic $(BENCH_FLOOR) \
		$(OUTPUT)/tcptop-dump
	tests/vm/run-vm -t $(BENCH_COLLECT_VM_TIMEOUT) python3 tests/traffic/bench-collect.py \
		$(abspath $(OUTPUT)) $(BENCH_COLLECT_VM_ARGS)
