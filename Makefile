# Builds and installs libkerbsasl (shared and static), its header, a
# pkg-config file and the tools kerbsasl-authd and kerbsasl-check. Tests and
# the demo have their own commands: see README.
#
#   make [BUILD=debug]                        build with cargo, as yourself
#   sudo make install PREFIX=/usr/local [DESTDIR=...] [BUILD=debug]
#                                             copy what `make` built
#   sudo make uninstall PREFIX=/usr/local
#
# `install` only copies: it runs no cargo (root may have none) and writes
# nothing under target/, which stays owned by whoever built.

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
BUILD ?= release
CARGO ?= cargo

# Cargo.toml's version, as build.rs renders it into the header.
HEADER := include/kerbsasl.h
VERSION := $(shell sed -n 's/^\#define KERBSASL_VERSION_STRING "\(.*\)"$$/\1/p' $(HEADER))
MAJOR := $(shell sed -n 's/^\#define KERBSASL_VERSION_MAJOR \([0-9]*\)$$/\1/p' $(HEADER))
OUT := target/$(BUILD)
BUILT := $(OUT)/libkerbsasl.so $(OUT)/libkerbsasl.a
TOOLS := kerbsasl-authd kerbsasl-check
BUILD_COMMAND := make$(if $(filter-out release,$(BUILD)), BUILD=$(BUILD))

.PHONY: all install uninstall

# The workspace's default members: the library and both tools.
all:
	$(CARGO) build $(if $(filter release,$(BUILD)),--release)

install:
	@for built in $(BUILT) $(addprefix $(OUT)/,$(TOOLS)); do \
	    if [ ! -f "$$built" ]; then \
	        echo "make install: $$built is missing: run '$(BUILD_COMMAND)' first (as yourself, not root)" >&2; \
	        exit 1; \
	    fi; \
	done
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR)
	install -m 755 $(addprefix $(OUT)/,$(TOOLS)) $(DESTDIR)$(BINDIR)/
	install -m 755 $(OUT)/libkerbsasl.so $(DESTDIR)$(LIBDIR)/libkerbsasl.so.$(VERSION)
	ln -sfn libkerbsasl.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libkerbsasl.so.$(MAJOR)
	ln -sfn libkerbsasl.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libkerbsasl.so
	install -m 644 $(OUT)/libkerbsasl.a $(DESTDIR)$(LIBDIR)/libkerbsasl.a
	install -m 644 $(HEADER) $(DESTDIR)$(INCLUDEDIR)/kerbsasl.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    kerbsasl.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/kerbsasl.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libkerbsasl.so* $(DESTDIR)$(LIBDIR)/libkerbsasl.a \
	    $(DESTDIR)$(INCLUDEDIR)/kerbsasl.h $(DESTDIR)$(LIBDIR)/pkgconfig/kerbsasl.pc \
	    $(addprefix $(DESTDIR)$(BINDIR)/,$(TOOLS))
