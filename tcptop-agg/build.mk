# SPDX-License-Identifier: GPL-2.0-or-later
# tcptop-agg: raw stream in, snapshot stream out; its man page and benchmarks. Objects live in
# $(OUTPUT)/agg/: $(OUTPUT)/tcptop-agg is the program itself.

AGG_OBJS := $(OUTPUT)/agg/main.o $(OUTPUT)/agg/agg.o $(OUTPUT)/agg/merge.o

$(OUTPUT)/agg/%.o: tcptop-agg/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/tcptop-agg: $(AGG_OBJS) $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) -pthread -o $@

BINS += $(OUTPUT)/tcptop-agg
MAN1 += man/tcptop-agg.1

# Throughput against cat and memory per connection (make bench-agg; joined by make bench).
.PHONY: bench-agg
bench-agg: $(OUTPUT)/tcptop-agg $(OUTPUT)/tcptop-gen $(OUTPUT)/tests/bench-read
	tcptop-agg/bench.sh $(OUTPUT)
BENCHES += bench-agg

# libFuzzer target for the aggregator (built for make test, which replays the fixtures through
# it under ASan and UBSan); `make fuzz-agg-run FUZZ_SECONDS=600` fuzzes from those fixtures.
FUZZ_AGG := $(OUTPUT)/fuzz/fuzz-agg

$(FUZZ_AGG): tcptop-agg/fuzz_agg.c tcptop-agg/fuzz_opts.h tcptop-agg/agg.c tcptop-agg/agg.h \
		$(LIB_SRCS) lib/stream.h lib/util.h
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -Itcptop-agg $(filter %.c,$^) -o $@

TEST_DEPS += $(FUZZ_AGG)
FUZZ_TARGETS += agg

# libFuzzer target for tcptop-agg --merge: up to four raw streams in one input, separated by
# "--next--" (fuzz_merge.c); seeds are pairs of the agg fixtures' streams so joined.
FUZZ_MERGE := $(OUTPUT)/fuzz/fuzz-merge

$(FUZZ_MERGE): tcptop-agg/fuzz_merge.c tcptop-agg/fuzz_opts.h tcptop-agg/merge.c \
		tcptop-agg/merge.h tcptop-agg/agg.c tcptop-agg/agg.h $(LIB_SRCS) lib/stream.h lib/util.h
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -pthread -Itcptop-agg $(filter %.c,$^) -o $@

$(OUTPUT)/fuzz/seeds-merge/.done: $(OUTPUT)/fuzz/seeds-agg/.done
	$(Q)rm -rf $(@D) && mkdir -p $(@D)
	$(Q)set -- $(OUTPUT)/fuzz/seeds-agg/*.tcpt; prev=$$1; for f; do \
		{ printf '\000'; cat $$prev; printf -- --next--; cat $$f; } \
			>$(@D)/$$(basename $$prev .tcpt)+$$(basename $$f .tcpt).tcpt; \
		{ printf '\200'; cat $$f; } >$(@D)/$$(basename $$f .tcpt)-twice.tcpt; \
		prev=$$f; done
	$(Q)touch $@

FUZZ_SEED_DIR_merge := $(OUTPUT)/fuzz/seeds-merge
# (tests/build.mk sets FUZZ_SEED_STAMPS after this file: the seeds are added to the targets)
fuzz fuzz-merge-run: $(OUTPUT)/fuzz/seeds-merge/.done
TEST_DEPS += $(FUZZ_MERGE)
FUZZ_TARGETS += merge
