# SPDX-License-Identifier: GPL-2.0-or-later
# Kernel matrix: tests/090-kernels.bats boots Debian's 5.10, 6.1, 6.12 and 7.2 under qemu
# (tests/vm/run-vm) and runs the live scenario in each; `make test-kernels` runs only that file,
# with 15 minutes for it (9.5 measured on this machine under other sessions' load).

.PHONY: test-kernels
test-kernels: deps
	$(MAKE) --no-print-directory WERROR=1 all $(TEST_DEPS)
	@OUTPUT=$(abspath $(OUTPUT)) TCPTOP_TEST_FILE_TIMEOUT=$${TCPTOP_TEST_FILE_TIMEOUT:-900} \
		tests/run tests/090-kernels.bats
