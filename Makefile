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

.PHONY: all build install install-policy uninstall test clean

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

clean:
	$(CARGO) clean
