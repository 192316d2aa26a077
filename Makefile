# Builds and installs libkerbsasl (shared and static), its header and a
# pkg-config file. Tests and the demo have their own commands: see README.
#
#   make                      release build
#   make install PREFIX=/usr/local [DESTDIR=...] [BUILD=debug]

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BUILD ?= release
CARGO ?= cargo

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR := $(firstword $(subst ., ,$(VERSION)))
ifeq ($(BUILD),release)
CARGO_FLAGS := --release
else
CARGO_FLAGS :=
endif
OUT := target/$(BUILD)

.PHONY: all install uninstall

all:
	$(CARGO) build --lib $(CARGO_FLAGS)

install: all
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 755 $(OUT)/libkerbsasl.so $(DESTDIR)$(LIBDIR)/libkerbsasl.so.$(VERSION)
	ln -sfn libkerbsasl.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libkerbsasl.so.$(MAJOR)
	ln -sfn libkerbsasl.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libkerbsasl.so
	install -m 644 $(OUT)/libkerbsasl.a $(DESTDIR)$(LIBDIR)/libkerbsasl.a
	install -m 644 include/kerbsasl.h $(DESTDIR)$(INCLUDEDIR)/kerbsasl.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    kerbsasl.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/kerbsasl.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libkerbsasl.so* $(DESTDIR)$(LIBDIR)/libkerbsasl.a \
	    $(DESTDIR)$(INCLUDEDIR)/kerbsasl.h $(DESTDIR)$(LIBDIR)/pkgconfig/kerbsasl.pc
