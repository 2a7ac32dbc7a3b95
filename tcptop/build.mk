# SPDX-License-Identifier: GPL-2.0-or-later
# tcptop: the wrapper that runs the pipeline. Its object lives apart: $(OUTPUT)/tcptop is the
# program itself.
$(OUTPUT)/wrapper/main.o: tcptop/main.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/tcptop: $(OUTPUT)/wrapper/main.o $(LIBTCPTOP)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(ALL_LDFLAGS) -o $@

BINS += $(OUTPUT)/tcptop
