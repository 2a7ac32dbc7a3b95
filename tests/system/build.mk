# SPDX-License-Identifier: GPL-2.0-or-later
# The booted system: tests/120-system.bats builds (once, cached) a Debian root file system with
# mmdebstrap, boots it under qemu with systemd as PID 1, and installs, runs, upgrades and purges
# the .deb there (tests/system/README.md); `make test-system` runs only that file.

.PHONY: test-system
test-system: deps
	$(MAKE) --no-print-directory WERROR=1 all $(TEST_DEPS)
	@OUTPUT=$(abspath $(OUTPUT)) tests/run tests/120-system.bats
