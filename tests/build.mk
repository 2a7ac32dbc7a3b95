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
