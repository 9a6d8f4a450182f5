# Install brp-pyc, its rpm macros, the brp-python-hardlink wrapper, the rpmlint filters and the
# man pages:
#   make install DESTDIR=/tmp/stage PREFIX=/usr
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
# Where rpm reads macro drop-ins and keeps its helper scripts.
RPMMACRODIR ?= $(PREFIX)/lib/rpm/macros.d
RPMCONFIGDIR ?= $(PREFIX)/lib/rpm
# The policy file for configurations without Python brp steps (see rpm-config/).
RPMPOLICYDIR ?= /etc/rpm
# rpmlint 2.x reads every *.toml in rpmlint/ below each XDG config directory (/etc/xdg).
RPMLINTDIR ?= /etc/xdg/rpmlint
CARGO ?= cargo

BINARY = target/release/brp-pyc

# The package of brp-pyc (rpm/brp-pyc.spec.in): its version is Cargo.toml's, the one place it
# is kept, written into the spec by `make dist`.
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n 1)
DISTDIR ?= target/dist
RPMTOPDIR ?= target/rpmbuild
# The release tarball is the committed tree at DIST_REF: what a clone of it would build.
DIST_REF ?= HEAD
TARBALL = $(DISTDIR)/brp-pyc-$(VERSION).tar.gz
VENDOR_TARBALL = $(DISTDIR)/brp-pyc-$(VERSION)-vendor.tar.gz
# An rpm database that does not know rpm itself describes no installed system (Debian's
# rpm): BuildRequires cannot be checked there.
RPMBUILD_NODEPS := $(shell rpm -q rpm >/dev/null 2>&1 || echo --nodeps)
# Reproducible: build time and file times from the spec's %changelog, a fixed build host.
# (Fedora's build system sets the first two itself.)
RPMBUILD_FLAGS ?= --define "source_date_epoch_from_changelog 1" \
	--define "use_source_date_epoch_as_buildtime 1" \
	--define "clamp_mtime_to_source_date_epoch 1" \
	--define "_buildhost reproducible"

.PHONY: all build install install-policy uninstall test clean spec dist vendor rpm rpm-from-dist

all: build

# Always asks cargo, which rebuilds only what changed.
build:
	$(CARGO) build --release --locked

install: build
	install -D -m 0755 $(BINARY) $(DESTDIR)$(BINDIR)/brp-pyc
	# rpm reads macros.d in name order and the last definition wins: "zz-" sorts the files
	# after Fedora's macros.pybytecompile, macros.pyproject and macros.python-srpm, whose
	# %py_byte_compile and %__brp_python_hardlink they replace.
	install -D -m 0644 macros/macros.brp-pyc $(DESTDIR)$(RPMMACRODIR)/macros.zz-brp-pyc
	for f in macros/macros.brp-pyc-*; do [ -e "$$f" ] || continue; \
		install -D -m 0644 "$$f" $(DESTDIR)$(RPMMACRODIR)/macros.zz-$$(basename "$$f" | sed 's/^macros\.//'); done
	sed -i 's|^%__brp_pyc .*|%__brp_pyc $(BINDIR)/brp-pyc|' $(DESTDIR)$(RPMMACRODIR)/macros.zz-brp-pyc
	install -d $(DESTDIR)$(RPMCONFIGDIR)/brp-pyc
	sed 's|@BINDIR@|$(BINDIR)|' rpm-config/brp-python-hardlink > $(DESTDIR)$(RPMCONFIGDIR)/brp-pyc/brp-python-hardlink
	chmod 0755 $(DESTDIR)$(RPMCONFIGDIR)/brp-pyc/brp-python-hardlink
	# Run by %_brp_pyc_record_owner while rpm parses a spec (which package lists each list).
	install -m 0644 macros/list-owners.lua $(DESTDIR)$(RPMCONFIGDIR)/brp-pyc/list-owners.lua
	install -D -m 0644 rpm-config/brp-pyc.toml $(DESTDIR)$(RPMLINTDIR)/brp-pyc.toml
	install -d $(DESTDIR)$(MANDIR)/man1
	$(BINARY) manpages $(DESTDIR)$(MANDIR)/man1

install-policy:
	install -D -m 0644 rpm-config/macros.brp-pyc-policy $(DESTDIR)$(RPMPOLICYDIR)/macros.brp-pyc-policy

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/brp-pyc $(DESTDIR)$(RPMMACRODIR)/macros.zz-brp-pyc*
	rm -rf $(DESTDIR)$(RPMCONFIGDIR)/brp-pyc
	rm -f $(DESTDIR)$(MANDIR)/man1/brp-pyc*.1 $(DESTDIR)$(RPMPOLICYDIR)/macros.brp-pyc-policy
	rm -f $(DESTDIR)$(RPMLINTDIR)/brp-pyc.toml

test:
	$(CARGO) test --locked

spec:
	mkdir -p $(DISTDIR)
	sed 's/@VERSION@/$(VERSION)/g' rpm/brp-pyc.spec.in > $(DISTDIR)/brp-pyc.spec

# git archive stamps every entry with the commit's time: the same commit, the same bytes.
# The spec rides along at the top, so `rpmbuild -ta` works too.
dist: spec
	git archive --format=tar.gz --prefix=brp-pyc-$(VERSION)/ --add-file=$(DISTDIR)/brp-pyc.spec \
		-o $(TARBALL) $(DIST_REF)

# The crates of Cargo.lock (build and test), for a build that reaches no registry. Stamped
# with the time of the last commit of Cargo.lock: the same lock, the same bytes.
vendor:
	rm -rf $(DISTDIR)/vendor-stage
	mkdir -p $(DISTDIR)/vendor-stage
	$(CARGO) vendor --quiet --locked --versioned-dirs $(DISTDIR)/vendor-stage/vendor >/dev/null
	tar --sort=name --mtime=@$$(git log -1 --format=%ct -- Cargo.lock) --owner=0 --group=0 --numeric-owner \
		-C $(DISTDIR)/vendor-stage -cf - vendor | gzip -n > $(VENDOR_TARBALL)
	rm -rf $(DISTDIR)/vendor-stage

# The binary rpms land in $(RPMTOPDIR)/RPMS/. rpm-from-dist builds from the tarballs already
# in $(DISTDIR), reaching no network (`make vendor` needs a registry or cargo's cache).
rpm: dist vendor
	$(MAKE) --no-print-directory rpm-from-dist

rpm-from-dist:
	rm -rf $(RPMTOPDIR)
	rpmbuild -bb $(RPMBUILD_NODEPS) $(RPMBUILD_FLAGS) --define "_topdir $(abspath $(RPMTOPDIR))" \
		--define "_sourcedir $(abspath $(DISTDIR))" $(DISTDIR)/brp-pyc.spec

clean:
	$(CARGO) clean
