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

# The option ranges of lib/opts.c at both ends, for tests/065-options.bats.
$(OUTPUT)/tcptop-optdump: $(OUTPUT)/tests/opts/optdump.o $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) -o $@

TEST_DEPS += $(OUTPUT)/tcptop-optdump
