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

# lib/dns.c runs a thread
$(OUTPUT)/tests/unit-dns: ALL_LDFLAGS += -lpthread

TEST_DEPS += $(UNIT_TESTS)

# libFuzzer targets, one per reader: stream (lib/stream.c), dns (lib/dns.c's reply parser), agg
# (tcptop-agg/fuzz_agg.c), csv (tcptop-csv/fuzz_csv.c), view (tcptop-view/fuzz_view.c), prom
# (tcptop-prom/fuzz_prom.c), each built as $(OUTPUT)/fuzz/fuzz-T under ASan and UBSan. Seeds:
# tests/fuzz/corpus/T/ (committed, minimised after each campaign)
# and streams generated here (the generator's scripts, the agg fixtures, and tcptop-agg's
# snapshots of them for csv and view). `make fuzz-T-run FUZZ_SECONDS=600` fuzzes one,
# `make fuzz-all FUZZ_SECONDS=N` each in turn; new inputs go to $(OUTPUT)/fuzz/corpus-T/,
# crashes to tests/fuzz/crashes/T/; `make test` replays every seed and saved crash
# (tests/015-fuzz.bats). tests/fuzz/README.md has the campaigns' figures.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 16384
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-std=gnu11 -D_GNU_SOURCE -DTCPTOP_VERSION='"$(VERSION)"' -Ilib
FUZZER := $(OUTPUT)/fuzz/fuzz-stream
FUZZ_TARGETS += stream
FUZZ_SEED_SCRIPTS := $(wildcard tests/fuzz/seeds/*.txt)
FUZZ_SEEDS := $(FUZZ_SEED_SCRIPTS:tests/fuzz/seeds/%.txt=$(OUTPUT)/fuzz/seeds/%.tcpt) \
	$(OUTPUT)/fuzz/seeds/raw-truncated.tcpt $(OUTPUT)/fuzz/seeds/raw-trailer.tcpt
FUZZ_AGG_FIXTURES := $(wildcard tests/fixtures/agg/*.txt)

$(FUZZER): tests/fuzz/fuzz_stream.c $(LIB_SRCS) lib/stream.h lib/util.h
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $(filter %.c,$^) -o $@

# The DNS reply parser of lib/dns.c, the one reader of bytes from the network: its seeds are
# the committed replies of tests/fuzz/corpus/dns/ (tests/fuzz/dns-seeds.py wrote the first).
$(OUTPUT)/fuzz/fuzz-dns: tests/fuzz/fuzz_dns.c $(LIB_SRCS) lib/dns.h lib/util.h
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $(filter %.c,$^) -lpthread -o $@
FUZZ_TARGETS += dns
TEST_DEPS += $(OUTPUT)/fuzz/fuzz-dns

$(OUTPUT)/fuzz/seeds/%.tcpt: tests/fuzz/seeds/%.txt $(OUTPUT)/tcptop-gen
	$(Q)mkdir -p $(@D)
	$(Q)$(OUTPUT)/tcptop-gen -o $@ $<
$(OUTPUT)/fuzz/seeds/raw-truncated.tcpt: tests/fuzz/seeds/raw.txt $(OUTPUT)/tcptop-gen
	$(Q)mkdir -p $(@D)
	$(Q)$(OUTPUT)/tcptop-gen --truncate 300 -o $@ $<
$(OUTPUT)/fuzz/seeds/raw-trailer.tcpt: tests/fuzz/seeds/raw.txt $(OUTPUT)/tcptop-gen
	$(Q)mkdir -p $(@D)
	$(Q)$(OUTPUT)/tcptop-gen --corrupt-trailer 3 -o $@ $<

# Raw seeds for agg: the fixtures' streams (those the generator refuses on purpose are left out);
# snapshot seeds for csv and view: tcptop-agg's output on them, at two intervals (with delta
# snapshots: the default's, and one every other snapshot), and the generator's snapshot and
# delta scripts (a late start, a table out of step).
$(OUTPUT)/fuzz/seeds-agg/.done: $(FUZZ_AGG_FIXTURES) $(OUTPUT)/tcptop-gen
	$(Q)rm -rf $(@D) && mkdir -p $(@D)
	$(Q)for f in $(FUZZ_AGG_FIXTURES); do \
		$(OUTPUT)/tcptop-gen -o $(@D)/$$(basename $$f .txt).tcpt $$f 2>/dev/null || \
			rm -f $(@D)/$$(basename $$f .txt).tcpt; done
	$(Q)touch $@
$(OUTPUT)/fuzz/seeds-snap/.done: $(OUTPUT)/fuzz/seeds-agg/.done $(OUTPUT)/tcptop-agg \
		$(OUTPUT)/fuzz/seeds/snapshot.tcpt $(OUTPUT)/fuzz/seeds/delta.tcpt
	$(Q)rm -rf $(@D) && mkdir -p $(@D)
	$(Q)cp $(OUTPUT)/fuzz/seeds/snapshot.tcpt $(OUTPUT)/fuzz/seeds/delta.tcpt $(@D)/
	$(Q)for f in $(OUTPUT)/fuzz/seeds-agg/*.tcpt; do b=$$(basename $$f .tcpt); \
		$(OUTPUT)/tcptop-agg $$f >$(@D)/$$b.tcps 2>/dev/null; \
		$(OUTPUT)/tcptop-agg --interval 0.3 --port 443 --full-every 2 $$f \
			>$(@D)/$$b-filtered.tcps 2>/dev/null; done; true
	$(Q)touch $@

# prom's byte 0 chooses its options (tcptop-prom/fuzz_prom.c): the snapshot seeds behind three
# of them (none; --max-series 3, --series-ttl 1, OpenMetrics; all ports ephemeral, OpenMetrics,
# 2 rows a snapshot).
$(OUTPUT)/fuzz/seeds-prom/.done: $(OUTPUT)/fuzz/seeds-snap/.done
	$(Q)rm -rf $(@D) && mkdir -p $(@D)
	$(Q)for f in $(OUTPUT)/fuzz/seeds-snap/*.tcp[st]; do b=$$(basename $$f); \
		for k in 000 013 034; do { printf "\\$$k"; cat $$f; } >$(@D)/$$k-$$b; done; done
	$(Q)touch $@

FUZZ_SEED_DIR_stream := $(OUTPUT)/fuzz/seeds
FUZZ_SEED_DIR_agg := $(OUTPUT)/fuzz/seeds-agg
FUZZ_SEED_DIR_csv := $(OUTPUT)/fuzz/seeds-snap
FUZZ_SEED_DIR_view := $(OUTPUT)/fuzz/seeds-snap
FUZZ_SEED_DIR_dns :=
FUZZ_SEED_DIR_prom := $(OUTPUT)/fuzz/seeds-prom
FUZZ_SEED_STAMPS := $(FUZZ_SEEDS) $(OUTPUT)/fuzz/seeds-agg/.done $(OUTPUT)/fuzz/seeds-snap/.done \
	$(OUTPUT)/fuzz/seeds-prom/.done

.PHONY: fuzz fuzz-run fuzz-all $(FUZZ_TARGETS:%=fuzz-%-run)
fuzz: $(FUZZ_TARGETS:%=$(OUTPUT)/fuzz/fuzz-%) $(FUZZ_SEED_STAMPS)

fuzz-%-run: $(OUTPUT)/fuzz/fuzz-% $(FUZZ_SEED_STAMPS)
	$(Q)mkdir -p $(OUTPUT)/fuzz/corpus-$* tests/fuzz/crashes/$* tests/fuzz/corpus/$*
	$(OUTPUT)/fuzz/fuzz-$* -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) \
		-print_final_stats=1 -artifact_prefix=tests/fuzz/crashes/$*/ \
		$(OUTPUT)/fuzz/corpus-$* tests/fuzz/corpus/$* $(FUZZ_SEED_DIR_$*)

fuzz-run: fuzz-stream-run

# One after the other, never together: each takes a core.
fuzz-all: fuzz
	$(Q)for t in $(FUZZ_TARGETS); do \
		echo "== fuzz-$$t: $(FUZZ_SECONDS) s"; \
		$(MAKE) --no-print-directory fuzz-$$t-run || exit 1; done

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

# The option ranges of lib/opts.c at both ends, for tests/066-options.bats.
$(OUTPUT)/tcptop-optdump: $(OUTPUT)/tests/opts/optdump.o $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) -o $@

TEST_DEPS += $(OUTPUT)/tcptop-optdump

# The collector's unit tests (unit-xlate, unit-engine, unit-ring) are linked in
# tcptop-collect/build.mk.

# Torture trials (tests/torture/torture.sh, figures in tests/torture/README.md): 1,000 SIGINTs
# to tcptop --replay --log, 80 signals to the table in tmux; TORTURE_LIVE=1 (root) adds 100
# SIGINTs to a live tcptop --log. `make test` runs a sample (tests/065-torture.bats).
.PHONY: torture
torture: all $(OUTPUT)/tcptop-gen $(OUTPUT)/tests/csvcheck $(OUTPUT)/tcptop-traffic
	OUTPUT=$(abspath $(OUTPUT)) tests/torture/torture.sh $(TORTURE_ARGS)

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

# The contracts between stages, one fact a line, for tests/025-exit-status.bats.
$(OUTPUT)/tcptop-contract: $(OUTPUT)/tests/contract/contractdump.o $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) -o $@

TEST_DEPS += $(OUTPUT)/tcptop-contract

# The whole pipeline at 100,000 and 1,000,000 idle connections (tests/bench/scale.py), this
# build beside today's: BENCH_SCALE_BASE, a commit built into $(OUTPUT)/bench-base from `git
# archive` (default: main before the pipeline's scale work). BENCH_SCALE_ARGS: e.g.
# --sizes 100000 --configs collect,log. Root; each run settles until the collector's first walk
# is done, then samples 60 intervals: 19 to 20 minutes with the defaults, alone on the machine.
BENCH_SCALE_BASE ?= 1214b66
BENCH_SCALE_ARGS ?=
.PHONY: bench-scale
bench-scale: all $(OUTPUT)/tcptop-traffic
	$(Q)if [ ! -x $(OUTPUT)/bench-base/.output/tcptop ] || \
		[ "$$(cat $(OUTPUT)/bench-base/.commit 2>/dev/null)" != "$(BENCH_SCALE_BASE)" ]; then \
		rm -rf $(OUTPUT)/bench-base && mkdir -p $(OUTPUT)/bench-base && \
		git archive $(BENCH_SCALE_BASE) | tar -x -C $(OUTPUT)/bench-base && \
		$(MAKE) --no-print-directory -C $(OUTPUT)/bench-base OUTPUT=.output all >/dev/null && \
		echo $(BENCH_SCALE_BASE) >$(OUTPUT)/bench-base/.commit; fi
	python3 tests/bench/scale.py $(OUTPUT) --base $(OUTPUT)/bench-base/.output $(BENCH_SCALE_ARGS)
BENCHES += bench-scale
