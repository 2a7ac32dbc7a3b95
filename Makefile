# SPDX-License-Identifier: GPL-2.0-or-later
# tcptop: top-level build. Every tool builds into $(OUTPUT); each part adds its rules in its own
# build.mk, included below. `make V=1` shows full command lines.

VERSION := 0.1.0

OUTPUT ?= .output
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
DESTDIR ?=

CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
INSTALL ?= install

CFLAGS ?= -O2 -g
WARNFLAGS := -Wall -Wextra -Wno-missing-field-initializers
ifeq ($(WERROR),1)
WARNFLAGS += -Werror
endif
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE -DTCPTOP_VERSION='"$(VERSION)"' $(WARNFLAGS) \
	-I$(OUTPUT) -Ilib $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(LDFLAGS)

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SUFFIXES:
.PHONY: all clean install uninstall deps run test bench fuzz format format-check check-werror

# What each part adds to.
BINS :=
MAN1 :=
MAN5 :=
BENCHES :=
TEST_DEPS :=
CLEAN_FILES :=

all:

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(OUTPUT)/%.o)
LIBTCPTOP := $(OUTPUT)/libtcptop.a

$(OUTPUT)/%.o: %.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIBTCPTOP): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(OUTPUT):
	$(Q)mkdir -p $@

include $(wildcard tcptop-collect/build.mk tcptop-agg/build.mk tcptop-view/build.mk \
	tcptop-csv/build.mk tcptop-prom/build.mk tcptop/build.mk tests/build.mk tests/vm/build.mk man/build.mk \
	packaging/build.mk tests/system/build.mk)

all: $(BINS)

-include $(shell find $(OUTPUT) -name '*.d' 2>/dev/null)

# ---- dependencies (Debian and Ubuntu) ----
# Packages to build, then to test; `make deps` installs only the missing ones.
DEB_BUILD := make gcc clang llvm libbpf-dev libelf-dev zlib1g-dev libcsv-dev libncurses-dev \
	libmicrohttpd-dev \
	bpftool pkg-config
DEB_TEST := bats bc bats-assert bats-support python3 tmux mandoc groff-base iproute2 procps clang-format \
	valgrind \
	nftables \
	util-linux libclang-rt-14-dev qemu-system-x86 busybox-static debian-archive-keyring \
	debhelper dpkg-dev fakeroot lintian rpm rpmlint bash-completion man-db prometheus systemd \
	mmdebstrap
DEB_DEPS ?= $(DEB_BUILD) $(DEB_TEST)

deps:
	@missing=$$(for p in $(DEB_DEPS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || \
		echo $$p; done); \
	[ -z "$$missing" ] && exit 0; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "make deps: no apt-get here; install these packages (or your system's" \
		     "equivalents):" $$missing >&2; exit 1; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "make deps: missing packages:" $$missing "- run as root (sudo make deps)" >&2; \
		exit 1; fi; \
	echo "make deps: installing" $$missing; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 || \
	{ apt-get update -q >/dev/null && \
	  apt-get install -y -q --no-install-recommends $$missing; }

# ---- running ----
run: deps all
	$(OUTPUT)/tcptop $(ARGS)

# ---- tests, benchmarks, fuzzing ----
test: deps
	$(MAKE) --no-print-directory WERROR=1 all $(TEST_DEPS)
	@OUTPUT=$(abspath $(OUTPUT)) tests/run

bench: $(BENCHES)

# ---- install ----
install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	$(INSTALL) -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	$(if $(MAN1),$(INSTALL) -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/)
	$(if $(MAN5),$(INSTALL) -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/)

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(BINS)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5)))

clean:
	rm -rf $(OUTPUT) $(CLEAN_FILES)

# ---- formatting ----
FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRCS)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_SRCS)
