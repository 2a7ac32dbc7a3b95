# SPDX-License-Identifier: GPL-2.0-or-later
# tcptop-view: the ncurses live table, and its frame benchmark (not installed). Objects live in
# $(OUTPUT)/view/: $(OUTPUT)/tcptop-view is the program itself.

VIEW_CURSES_LIBS := $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw -ltinfo)
VIEW_OBJS := $(addprefix $(OUTPUT)/view/,table.o strtab.o hist.o view.o ui.o trend.o names.o \
	reader.o)

$(OUTPUT)/view/%.o: tcptop-view/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/tcptop-view: $(OUTPUT)/view/main.o $(OUTPUT)/view/feed.o $(VIEW_OBJS) $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) $(VIEW_CURSES_LIBS) -lpthread -o $@

$(OUTPUT)/tcptop-view-bench: $(OUTPUT)/view/bench.o $(VIEW_OBJS) $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) $(VIEW_CURSES_LIBS) -o $@

# What the view costs a second on a stream of idle rows with deltas, reader thread included
# (make bench-view-stream; BENCH_VIEW_STREAM_ARGS: ROWS INTERVALS FULL_EVERY BUSY).
$(OUTPUT)/tcptop-view-bench-stream: $(OUTPUT)/view/bench_stream.o $(OUTPUT)/view/feed.o \
		$(VIEW_OBJS) $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) $(VIEW_CURSES_LIBS) -lpthread -o $@

# Unit tests of the data layer: tests/run runs every $(OUTPUT)/tests/unit-*.
$(OUTPUT)/tests/unit-view: $(OUTPUT)/view/test_table.o $(VIEW_OBJS) $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(filter-out %/ui.o,$^) $(ALL_LDFLAGS) -o $@

BINS += $(OUTPUT)/tcptop-view
MAN1 += man/tcptop-view.1
TEST_DEPS += $(OUTPUT)/tcptop-view-bench $(OUTPUT)/tcptop-view-bench-stream \
	$(OUTPUT)/tests/unit-view
BENCHES += bench-view bench-view-stream

.PHONY: bench-view
bench-view: $(OUTPUT)/tcptop-view-bench
	$(OUTPUT)/tcptop-view-bench

.PHONY: bench-view-stream
bench-view-stream: $(OUTPUT)/tcptop-view-bench-stream
	$(OUTPUT)/tcptop-view-bench-stream $(BENCH_VIEW_STREAM_ARGS)

# libFuzzer target for the data layer (VIEW_OBJS but ui.c: no curses drawn; curses.h only for the
# key codes); built for make test, which replays its seeds and saved crashes. `make fuzz-view-run`.
FUZZ_VIEW := $(OUTPUT)/fuzz/fuzz-view

$(FUZZ_VIEW): tcptop-view/fuzz_view.c $(patsubst $(OUTPUT)/view/%.o,tcptop-view/%.c,$(filter-out \
		%/ui.o,$(VIEW_OBJS))) $(wildcard tcptop-view/*.h) $(LIB_SRCS) lib/stream.h lib/util.h
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -Itcptop-view $(filter %.c,$^) -o $@

TEST_DEPS += $(FUZZ_VIEW)
FUZZ_TARGETS += view
