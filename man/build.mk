# SPDX-License-Identifier: GPL-2.0-or-later
# The wrapper's page and the stream format's page (each tool's page is added by its own
# build.mk). `make man-lint` runs both linters over every page in man/, as tests/070-man.bats does.

MAN1 += man/tcptop.1
MAN5 += man/tcptop-stream.5

.PHONY: man-lint
man-lint:
	@status=0; for page in man/*.[0-9]; do \
		out=$$(mandoc -Tlint "$$page" 2>&1; \
		       LC_ALL=C.UTF-8 groff -man -ww -z "$$page" 2>&1); \
		if [ -n "$$out" ]; then printf '%s\n' "$$out"; status=1; fi; \
	done; exit $$status
