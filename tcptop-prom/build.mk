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
