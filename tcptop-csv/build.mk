# SPDX-License-Identifier: GPL-2.0-or-later
# tcptop-csv: snapshot stream in, CSV or JSON Lines out; its man page, its test helper (csvcheck,
# a strict CSV reader built on libcsv's parser) and its benchmark. Objects live in
# $(OUTPUT)/csv/: $(OUTPUT)/tcptop-csv is the program itself.

CSV_OBJS := $(OUTPUT)/csv/main.o $(OUTPUT)/csv/rows.o $(OUTPUT)/csv/changes.o

$(OUTPUT)/csv/%.o: tcptop-csv/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/tcptop-csv: $(CSV_OBJS) $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) -lcsv -lm -lpthread -o $@

# built in one step: $(OUTPUT)/tests/csvcheck is the program, not a folder of objects
$(OUTPUT)/tests/csvcheck: tests/csvcheck/csvcheck.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(ALL_LDFLAGS) -lcsv -o $@

BINS += $(OUTPUT)/tcptop-csv
MAN1 += man/tcptop-csv.1
TEST_DEPS += $(OUTPUT)/tests/csvcheck

# Rows per second on a generated stream of BENCH_CSV_ROWS rows, against cat of the same output;
# with BENCH_CSV_BASE (another build of tcptop-csv), its CPU against this build's, alternating.
BENCH_CSV_ROWS ?= 10000000
BENCH_CSV_BASE ?=
.PHONY: bench-csv
bench-csv: $(OUTPUT)/tcptop-csv $(OUTPUT)/tcptop-gen
	tcptop-csv/bench.sh $(OUTPUT) $(BENCH_CSV_ROWS) $(BENCH_CSV_BASE)
BENCHES += bench-csv

# libFuzzer target for the snapshot reader and row writer (built for make test, which replays its
# seeds and saved crashes); `make fuzz-csv-run FUZZ_SECONDS=600` fuzzes, see tests/fuzz/README.md.
FUZZ_CSV := $(OUTPUT)/fuzz/fuzz-csv

$(FUZZ_CSV): tcptop-csv/fuzz_csv.c tcptop-csv/rows.c tcptop-csv/rows.h tcptop-csv/changes.c \
		tcptop-csv/changes.h $(LIB_SRCS) lib/stream.h \
		lib/util.h lib/dns.h
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -Itcptop-csv $(filter %.c,$^) -lcsv -lm -o $@

TEST_DEPS += $(FUZZ_CSV)
FUZZ_TARGETS += csv
