# jwtgate - thin wrapper around the autotools build in build/.
#
#   make run     install missing packages, build, serve conf/jwtgate.ini
#   make check   install missing packages, build, run every test
#
# Everything else: make deps | deps-test | build | install | sanitize | distcheck | format | lint | clean

BUILD     ?= build
CONFIG    ?= conf/jwtgate.ini
CONFIGURE_FLAGS ?=
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)

# Debian packages needed to build (Check and libcurl: the test programs are
# configured with the build, so a later make check needs no reconfigure).
PACKAGES = build-essential autoconf automake pkg-config \
	libmicrohttpd-dev libjwt-dev libssl-dev libjansson-dev libinih-dev \
	libpcre2-dev libargon2-dev libcrypt-dev libsqlite3-dev libsystemd-dev \
	libhiredis-dev check libcurl4-openssl-dev
# ... and to run every test and the lint: PyJWT, the Prometheus parser, a
# real Redis and nginx, systemd-socket-activate, other hashers, the linters.
TEST_PACKAGES = python3-jwt python3-cryptography python3-prometheus-client \
	apache2-utils whois redis-server nginx-light systemd \
	cppcheck clang-format

.PHONY: all deps deps-test build run check install uninstall sanitize distcheck format lint clean

all: build

# $(call install_missing,LIST): install the Debian packages of LIST not yet
# installed (as root; otherwise say which are missing and stop).
define install_missing
	@missing=$$(for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "jwtgate: missing Debian packages: $$missing"; \
			echo "jwtgate: run 'make $@' as root, or: apt-get install $$missing"; exit 1; \
		fi; \
		echo "jwtgate: installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call install_missing,$(PACKAGES))

# Only the tests need these, and the independent OpenAPI 3.1 validator of
# tests/openapi/check.sh (npm, from the lock file in tests/openapi).
deps-test: deps
	$(call install_missing,$(TEST_PACKAGES))
	@command -v npm >/dev/null || { \
		if [ "$$(id -u)" != 0 ]; then \
			echo "jwtgate: missing: npm"; \
			echo "jwtgate: run 'make deps-test' as root, or: apt-get install npm"; exit 1; \
		fi; \
		echo "jwtgate: installing npm"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	@[ -d tests/openapi/node_modules/@seriousme/openapi-schema-validator ] || \
		(cd tests/openapi && npm ci --no-audit --no-fund --loglevel=error)

configure: configure.ac Makefile.am
	autoreconf -fi

$(BUILD)/Makefile: configure
	mkdir -p $(BUILD)
	cd $(BUILD) && ../configure $(CONFIGURE_FLAGS)

build: deps $(BUILD)/Makefile
	$(MAKE) -C $(BUILD) -j$(JOBS)

run: build conf/secret.key
	$(BUILD)/jwtgate serve -c $(CONFIG)

# The example configuration's HMAC secret: random, made once, never committed.
conf/secret.key:
	umask 077 && head -c 48 /dev/urandom | base64 -w0 > $@

check: build deps-test
	@rc=0; $(MAKE) -C $(BUILD) -j$(JOBS) check || rc=$$?; \
	[ $$rc = 0 ] || cat $(BUILD)/test-suite.log; \
	cat $(BUILD)/tests/*.log | grep -h '^[0-9]*%: Checks: ' || true; \
	cat $(BUILD)/tests/*.trs $(BUILD)/tests/*/*.trs 2>/dev/null | awk \
		'/^:test-result:/ { if ($$2 == "PASS") p++; else if ($$2 == "SKIP") s++; else f++ } \
		END { printf "Test programs: %d passed, %d skipped, %d failed (Check suites and shell suites)\n", p, s, f }'; \
	cat $(BUILD)/tests/*.log | awk '/^[0-9]+%: Checks: / { \
		gsub(",", ""); n += $$3; f += $$5 + $$7 } \
		END { printf "Check: %d passed, %d failed\n", n - f, f }'; \
	exit $$rc

install: build
	$(MAKE) -C $(BUILD) install

uninstall: $(BUILD)/Makefile
	$(MAKE) -C $(BUILD) uninstall

sanitize:
	$(MAKE) BUILD=build-san CONFIGURE_FLAGS="--enable-sanitizers --enable-werror" check

distcheck: build deps-test
	$(MAKE) -C $(BUILD) distcheck OPENAPI_NODE_MODULES=$(CURDIR)/tests/openapi/node_modules

format:
	clang-format -i src/*.c src/*.h tests/*.c tests/*.h bench/*.c

# Layout and static analysis; jansson's foreach macros are unknown to cppcheck.
lint: deps-test $(BUILD)/Makefile
	clang-format --dry-run --Werror src/*.c src/*.h tests/*.c tests/*.h
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		-I src -I $(BUILD) --std=c11 -D_GNU_SOURCE --suppress=unknownMacro src/*.c

clean:
	rm -rf $(BUILD) build-san
