# SPDX-License-Identifier: GPL-2.0-or-later
# tcptop-agg: raw stream in, snapshot stream out; its man page and benchmarks. Objects live in
# $(OUTPUT)/agg/: $(OUTPUT)/tcptop-agg is the program itself.

AGG_OBJS := $(OUTPUT)/agg/main.o $(OUTPUT)/agg/agg.o

$(OUTPUT)/agg/%.o: tcptop-agg/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/tcptop-agg: $(AGG_OBJS) $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) -o $@

BINS += $(OUTPUT)/tcptop-agg
