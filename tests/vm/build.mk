# SPDX-License-Identifier: GPL-2.0-or-later
# Kernel matrix: tests/090-kernels.bats boots Debian's 5.10, 6.1, 6.12 and 7.2 under qemu
# (tests/vm/run-vm) and runs the live scenario in each; `make test-kernels` runs only that file.

.PHONY: test-kernels
test-kernels: deps
	$(MAKE) --no-print-directory WERROR=1 all $(TEST_DEPS)
	@OUTPUT=$(abspath $(OUTPUT)) tests/run tests/090-kernels.bats
