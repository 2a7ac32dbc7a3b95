# SPDX-License-Identifier: GPL-2.0-or-later
# Source tarball and Linux packages: `make dist`, `make deb`, `make rpm` (packaging/README).
#
# The version has one home, VERSION in the top Makefile. debian/changelog and the RPM spec must
# carry a version too (their formats demand it); `make deb` and `make rpm` refuse to build when
# either disagrees with VERSION, so a release bump cannot forget them.

DISTDIR ?= $(OUTPUT)/dist
DIST_NAME := tcptop-$(VERSION)
DIST_TARBALL := $(DISTDIR)/$(DIST_NAME).tar.gz
PKGDIR ?= $(OUTPUT)/pkg

# Reproducible: `git archive` of a commit (DIST_REF, default HEAD: what is committed, never
# the work tree's uncommitted edits or untracked files) gives names in git's sorted order, owner
# and group 0, modes 0644/0755, every mtime the commit's time; gzip -n adds no name or time.
# The same commit gives the same bytes.
DIST_REF ?= HEAD

# The package builds run their own make in their own tree: nothing of the caller's make (flags,
# OUTPUT, install paths) may leak into them (an inherited absolute OUTPUT would make their
# `make clean` remove the caller's build directory).
PKG_ENV := env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u OUTPUT -u DESTDIR \
	-u PREFIX -u BINDIR -u MANDIR -u DATADIR -u BASHCOMPDIR -u WERROR

.PHONY: dist deb rpm pkg-version-check

dist:
	$(call msg,DIST,$(DIST_TARBALL))
	$(Q)git rev-parse --verify -q '$(DIST_REF)^{commit}' >/dev/null || \
		{ echo "make dist: needs a git checkout and a commit (DIST_REF=$(DIST_REF))" >&2; exit 1; }
	$(Q)mkdir -p $(DISTDIR)
	$(Q)git -c tar.umask=022 archive --format=tar --prefix=$(DIST_NAME)/ '$(DIST_REF)' | gzip -n -9 \
		> $(DIST_TARBALL).tmp
	$(Q)mv $(DIST_TARBALL).tmp $(DIST_TARBALL)

# The package versions must be VERSION (and, for Debian, VERSION-REVISION).
pkg-version-check:
	@deb=$$(dpkg-parsechangelog -l packaging/debian/changelog -S Version 2>/dev/null); \
	[ "$${deb%-*}" = "$(VERSION)" ] || { echo "make: packaging/debian/changelog says" \
		"$${deb:-nothing}, the Makefile's VERSION is $(VERSION): add a changelog entry" \
		"(dch -v $(VERSION)-1)" >&2; exit 1; }; \
	rpmv=$$(sed -n 's/^Version:[[:space:]]*//p' packaging/rpm/tcptop.spec); \
	[ "$$rpmv" = "$(VERSION)" ] || { echo "make: packaging/rpm/tcptop.spec says Version:" \
		"$$rpmv, the Makefile's VERSION is $(VERSION)" >&2; exit 1; }

# dpkg-buildpackage wants debian/ at the top of a source tree: unpack the dist tarball into a
# scratch directory, put packaging/debian there as debian/, build the binary package, and keep
# the .deb (and the lintian-checkable .changes/.buildinfo) in $(PKGDIR).
# $(PKGDIR)/tcptop.commit names the commit the .deb was built from (tests/system/run-system
# takes a .deb of HEAD from there rather than build it twice).
DEB_BUILD_DIR := $(PKGDIR)/deb
deb: dist pkg-version-check
	$(call msg,DEB,$(PKGDIR))
	$(Q)rm -rf $(DEB_BUILD_DIR) $(PKGDIR)/tcptop.commit && mkdir -p $(DEB_BUILD_DIR)
	$(Q)tar -xzf $(DIST_TARBALL) -C $(DEB_BUILD_DIR)
	$(Q)cp -a packaging/debian $(DEB_BUILD_DIR)/$(DIST_NAME)/debian
	$(Q)cd $(DEB_BUILD_DIR)/$(DIST_NAME) && \
		$(PKG_ENV) dpkg-buildpackage -us -uc -b > ../build.log 2>&1 || \
		{ tail -n 40 ../build.log >&2; echo "make deb: failed, see $(DEB_BUILD_DIR)/build.log" >&2; \
		  exit 1; }
	$(Q)rm -f $(PKGDIR)/tcptop_*.deb $(PKGDIR)/tcptop-dbgsym_*.deb
	$(Q)cp $(DEB_BUILD_DIR)/*.deb $(DEB_BUILD_DIR)/*.changes $(DEB_BUILD_DIR)/*.buildinfo $(PKGDIR)/
	$(Q)git rev-parse '$(DIST_REF)^{commit}' >$(PKGDIR)/tcptop.commit
	@ls $(PKGDIR)/*.deb

# rpmbuild from the dist tarball in a private _topdir. Debian's rpm database knows none of the
# BuildRequires (they are Debian packages here), hence --nodeps on Debian. Debian's
# brp-compress uses bash's `read -d` under #!/bin/sh (dash), so man pages would stay
# uncompressed: run it with bash.
RPM_TOP := $(PKGDIR)/rpm
RPM_DEBIAN_FIXES := $(if $(wildcard /etc/debian_version),--nodeps \
	--define '__brp_compress /bin/bash /usr/lib/rpm/brp-compress %{_prefix}')
rpm: dist pkg-version-check
	$(call msg,RPM,$(PKGDIR))
	$(Q)rm -rf $(RPM_TOP) && mkdir -p $(RPM_TOP)/SOURCES
	$(Q)cp $(DIST_TARBALL) $(RPM_TOP)/SOURCES/
	$(Q)$(PKG_ENV) rpmbuild -bb $(RPM_DEBIAN_FIXES) --define '_topdir $(abspath $(RPM_TOP))' \
		packaging/rpm/tcptop.spec > $(RPM_TOP)/build.log 2>&1 || \
		{ tail -n 40 $(RPM_TOP)/build.log >&2; echo "make rpm: failed, see $(RPM_TOP)/build.log" >&2; \
		  exit 1; }
	$(Q)rm -f $(PKGDIR)/tcptop-*.rpm
	$(Q)cp $(RPM_TOP)/RPMS/*/tcptop-*.rpm $(PKGDIR)/
	@ls $(PKGDIR)/*.rpm

# Bash completion for the wrapper, installed by `make install` (extra prerequisites of the top rules).
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
install: install-bash-completion
uninstall: uninstall-bash-completion
.PHONY: install-bash-completion uninstall-bash-completion
install-bash-completion:
	$(INSTALL) -d $(DESTDIR)$(BASHCOMPDIR)
	$(INSTALL) -m 0644 packaging/bash-completion/tcptop $(DESTDIR)$(BASHCOMPDIR)/tcptop
uninstall-bash-completion:
	rm -f $(DESTDIR)$(BASHCOMPDIR)/tcptop

# systemd units (disabled after install: the packages neither enable nor start them), their
# programs' paths filled in from BINDIR.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSTEMD_UNITS := tcptop-exporter.service tcptop-collect.service
install: install-systemd
uninstall: uninstall-systemd
.PHONY: install-systemd uninstall-systemd
install-systemd:
	$(INSTALL) -d $(DESTDIR)$(SYSTEMDUNITDIR)
	$(Q)for u in $(SYSTEMD_UNITS); do \
		sed 's|@BINDIR@|$(BINDIR)|g' packaging/systemd/$$u.in > $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp && \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp && \
		mv $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp $(DESTDIR)$(SYSTEMDUNITDIR)/$$u || exit 1; done
uninstall-systemd:
	rm -f $(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(SYSTEMD_UNITS))
