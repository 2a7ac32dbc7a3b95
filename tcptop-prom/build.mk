# SPDX-License-Identifier: GPL-2.0-or-later
# tcptop-prom: snapshot stream in, Prometheus/OpenMetrics text out (HTTP through libmicrohttpd,
# or a node_exporter textfile); its man page and its benchmark. Objects live in $(OUTPUT)/prom/.

PROM_OBJS := $(OUTPUT)/prom/main.o $(OUTPUT)/prom/prom.o $(OUTPUT)/prom/feed.o $(OUTPUT)/prom/http.o
MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS := $(or $(shell pkg-config --libs libmicrohttpd 2>/dev/null),-lmicrohttpd)

$(OUTPUT)/prom/%.o: tcptop-prom/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(MHD_CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/tcptop-prom: $(PROM_OBJS) $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) $(MHD_LIBS) -pthread -o $@

# The benchmark: exposition time and memory per label set at BENCH_PROM_SERIES label sets.
$(OUTPUT)/tests/bench-prom: $(OUTPUT)/prom/bench.o $(OUTPUT)/prom/prom.o $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) -o $@

BINS += $(OUTPUT)/tcptop-prom
MAN1 += man/tcptop-prom.1

BENCH_PROM_SERIES ?= 100000
.PHONY: bench-prom
bench-prom: $(OUTPUT)/tcptop-prom $(OUTPUT)/tests/bench-prom
	tcptop-prom/bench.sh $(OUTPUT) $(BENCH_PROM_SERIES)
BENCHES += bench-prom

# libFuzzer target for the exposition from a snapshot stream (feed.c, prom.c), under ASan and
# UBSan; built for make test, which replays its seeds, corpus and saved crashes
# (tests/015-fuzz.bats). `make fuzz-prom-run FUZZ_SECONDS=600`; tests/fuzz/README.md.
FUZZ_PROM := $(OUTPUT)/fuzz/fuzz-prom

$(FUZZ_PROM): tcptop-prom/fuzz_prom.c tcptop-prom/feed.c tcptop-prom/prom.c tcptop-prom/feed.h \
		tcptop-prom/prom.h $(LIB_SRCS) lib/stream.h lib/htab.h
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -Itcptop-prom $(filter %.c,$^) -lpthread -o $@

TEST_DEPS += $(FUZZ_PROM)
FUZZ_TARGETS += prom

# The exporter's state and reader, tested alone at their limits (tests/unit/test_prom.c).
$(OUTPUT)/tests/unit/test_prom.o: TEST_CFLAGS += -Itcptop-prom
$(OUTPUT)/tests/unit-prom: $(OUTPUT)/tests/unit/test_prom.o $(OUTPUT)/prom/prom.o \
		$(OUTPUT)/prom/feed.o $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) -pthread -o $@
