# SPDX-License-Identifier: GPL-2.0-or-later
# tcptop-csv: snapshot stream in, CSV or JSON Lines out; its man page, its test helper (csvcheck,
# a strict CSV reader built on libcsv's parser) and its benchmark. Objects live in
# $(OUTPUT)/csv/: $(OUTPUT)/tcptop-csv is the program itself.

CSV_OBJS := $(OUTPUT)/csv/main.o $(OUTPUT)/csv/rows.o

$(OUTPUT)/csv/%.o: tcptop-csv/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/tcptop-csv: $(CSV_OBJS) $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) -lcsv -lm -o $@

# built in one step: $(OUTPUT)/tests/csvcheck is the program, not a folder of objects
$(OUTPUT)/tests/csvcheck: tests/csvcheck/csvcheck.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(ALL_LDFLAGS) -lcsv -o $@

BINS += $(OUTPUT)/tcptop-csv
MAN1 += man/tcptop-csv.1
TEST_DEPS += $(OUTPUT)/tests/csvcheck

# Rows per second on a generated stream of BENCH_CSV_ROWS rows, against cat of the same output.
BENCH_CSV_ROWS ?= 10000000
.PHONY: bench-csv
bench-csv: $(OUTPUT)/tcptop-csv $(OUTPUT)/tcptop-gen
	tcptop-csv/bench.sh $(OUTPUT) $(BENCH_CSV_ROWS)
BENCHES += bench-csv
