# SPDX-License-Identifier: GPL-2.0-or-later
# Kernel portability tests: tests/vm/run-vm boots Debian's 6.1 kernel under qemu;
# tests/vm/hookcheck checks bpf/backends.bpf.h there with exact traffic; tests/090-kernels.bats
# runs both backends in one boot. `make test-kernels` runs only that file.

HOOKCHECK := $(OUTPUT)/tests/vm/hookcheck
HOOKCHECK_BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 \
	-I/usr/include/$(shell $(CC) -dumpmachine 2>/dev/null)

$(OUTPUT)/tests/vm/hookcheck.bpf.o: tests/vm/hookcheck.bpf.c bpf/backends.bpf.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(HOOKCHECK_BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/tests/vm/hookcheck.skel.h: $(OUTPUT)/tests/vm/hookcheck.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name hookcheck_bpf >$@

$(HOOKCHECK): tests/vm/hookcheck.c $(OUTPUT)/tests/vm/hookcheck.skel.h
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -I$(OUTPUT)/tests/vm $< $(ALL_LDFLAGS) -lbpf -lelf -lz -lpthread -o $@

TEST_DEPS += $(HOOKCHECK)

.PHONY: test-kernels
test-kernels: deps
	$(MAKE) --no-print-directory WERROR=1 all $(TEST_DEPS)
	@OUTPUT=$(abspath $(OUTPUT)) tests/run tests/090-kernels.bats
