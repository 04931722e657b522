# relaylab — one Makefile for every program, test and benchmark.
#
#   make                      build every program into bin/
#   make test                 unit (Check) + end-to-end tests, ends with "N passed, N failed"
#   make test SANITIZE=address,undefined
#                             the same under ASan/UBSan (objects in build/san, programs in build/san/bin)
#   make deps                 install the Debian packages the project uses (idempotent)
#   make demo | bench | fuzz  see README.md

SHELL := /bin/bash
CC ?= cc
SANITIZE ?=

ifneq ($(strip $(SANITIZE)),)
BUILD := build/san
BIN := build/san/bin
OPT := -O1 -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDSAN := -fsanitize=$(SANITIZE)
else
BUILD := build/default
BIN := bin
OPT := -O2
LDSAN :=
endif

PKG_CORE := libwebsockets libmicrohttpd jansson libjwt libcrypto
CFLAGS_PKG := $(shell pkg-config --cflags $(PKG_CORE) libmongoc-1.0 libcurl check 2>/dev/null)
CFLAGS := -std=c11 -Wall -Wextra -Werror -g $(OPT) -D_GNU_SOURCE -Icommon $(CFLAGS_PKG) $(EXTRA_CFLAGS)
LDFLAGS := $(LDSAN) $(EXTRA_LDFLAGS)

# libev: the hub runs lws on an epoll loop (lws's libev plugin); Debian ships no libev.pc.
LIBS_CORE := $(shell pkg-config --libs $(PKG_CORE) 2>/dev/null) -lev -lpthread -lm
LIBS_MONGO := $(shell pkg-config --libs libmongoc-1.0 2>/dev/null)
LIBS_BSON := $(shell pkg-config --libs libbson-1.0 2>/dev/null)
LIBS_CURL := $(shell pkg-config --libs libcurl 2>/dev/null)
LIBS_CHECK := $(shell pkg-config --libs check 2>/dev/null)

# Programs: each folder holds main.c plus modules; the modules (everything but main.c)
# go into a static library so that unit tests can link them.
PROGRAMS := relay fakeapp loadgen mongosim
LIBS_relay := $(LIBS_CORE) $(LIBS_MONGO)
LIBS_fakeapp := $(LIBS_CORE) $(LIBS_MONGO) $(LIBS_CURL)
LIBS_loadgen := $(LIBS_CORE) $(LIBS_CURL)
LIBS_mongosim := $(LIBS_CORE) $(LIBS_BSON)

COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
COMMON_LIB := $(BUILD)/libcommon.a

.PHONY: all deps test test-run unit e2e bench demo fuzz soak clean format lint kind-demo kind-down
TOOLS := wsprint
all: $(foreach p,$(PROGRAMS),$(if $(wildcard $(p)/main.c),$(BIN)/$(p))) $(TOOLS:%=$(BIN)/%)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(COMMON_LIB): $(COMMON_OBJ)
	@rm -f $@
	ar rcs $@ $^

define program_rules
$(1)_SRC := $$(filter-out $(1)/main.c,$$(wildcard $(1)/*.c))
$(1)_OBJ := $$($(1)_SRC:%.c=$$(BUILD)/%.o)
$(1)_LIB := $$(BUILD)/lib$(1).a
$$($(1)_LIB): $$($(1)_OBJ)
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	ar rcs $$@ $$^
$$(BIN)/$(1): $$(BUILD)/$(1)/main.o $$($(1)_LIB) $$(COMMON_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LIBS_$(1))
endef
$(foreach p,$(PROGRAMS),$(eval $(call program_rules,$(p))))

# Small tools: tools/<name>.c, one file each, linking libcommon.a.
$(BIN)/wsprint: $(BUILD)/tools/wsprint.o $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_CORE)

# socket.io-client's browser bundle for fakeapp's page (GET /socket.io/socket.io.js): copied
# from the npm package that make deps installs (tests/e2e/node) to $(BIN)/web/, where fakeapp
# looks by default. Nothing of it is kept in git; without the package fakeapp's page says so.
SIO_CLIENT_PKG := tests/e2e/node/node_modules/socket.io-client
SIO_CLIENT_WEB := $(BIN)/web/socket.io-client
all: $(if $(wildcard $(SIO_CLIENT_PKG)/dist/socket.io.min.js),$(SIO_CLIENT_WEB)/dist/socket.io.min.js)
$(SIO_CLIENT_WEB)/dist/socket.io.min.js: $(SIO_CLIENT_PKG)/dist/socket.io.min.js $(SIO_CLIENT_PKG)/package.json
	@mkdir -p $(SIO_CLIENT_WEB)/dist
	cp $(SIO_CLIENT_PKG)/package.json $(SIO_CLIENT_WEB)/package.json
	cp $(SIO_CLIENT_PKG)/dist/socket.io.min.js.map $(SIO_CLIENT_WEB)/dist/ 2>/dev/null || true
	cp $< $@

# mongo-init: initiates a real mongod replica set for local-cluster/mongo-up; links libmongoc.
all: $(BIN)/mongo-init
$(BIN)/mongo-init: $(BUILD)/tools/mongo-init.o $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_MONGO) $(LIBS_CORE)

# Unit tests: tests/unit/<module>_<what>.c links lib<module>.a (when <module> is a program)
# and libcommon.a. Each is a Check suite.
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
define unit_rule
$(BUILD)/tests/unit/$(1): $(BUILD)/tests/unit/$(1).o $$(if $$(filter $$(firstword $$(subst _, ,$(1))),$$(PROGRAMS)),$$(BUILD)/lib$$(firstword $$(subst _, ,$(1))).a) $$(COMMON_LIB)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LIBS_CHECK) $$(LIBS_CORE) $$(LIBS_MONGO) $$(LIBS_CURL)
endef
$(foreach t,$(UNIT_SRC:tests/unit/%.c=%),$(eval $(call unit_rule,$(t))))
# A unit test of a program's module includes that program's headers.
$(foreach p,$(PROGRAMS),$(eval $$(BUILD)/tests/unit/$(p)_%.o: CFLAGS += -I$(p))$(eval $$(BUILD)/fuzz/$(p)_%.o: CFLAGS += -I$(p)))

# End-to-end helpers written in C: tests/e2e/*.c, each its own program.
E2E_C_SRC := $(wildcard tests/e2e/*.c)
E2E_C_BIN := $(E2E_C_SRC:tests/e2e/%.c=$(BUILD)/tests/e2e/%)
$(BUILD)/tests/e2e/%: $(BUILD)/tests/e2e/%.o $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_CORE) $(LIBS_CURL)

# Benchmarks: bench/*.c, each its own program, linking the bench client (bench/client/*.c)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
BENCH_CLIENT_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard bench/client/*.c))
$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BENCH_CLIENT_OBJ) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_CORE) $(LIBS_CURL)
# mongosim_bench drives mongosim with the C driver.
$(BUILD)/bench/mongosim_bench: $(BUILD)/bench/mongosim_bench.o $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_MONGO) $(LIBS_CORE)

# The soak client: tests/soak/*.c, one program (built by make test too, so it cannot rot).
SOAK_SRC := $(wildcard tests/soak/*.c)
SOAK_BIN := $(BUILD)/tests/soak/soakclient
$(SOAK_BIN): $(SOAK_SRC:%.c=$(BUILD)/%.o) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_CORE) $(LIBS_CURL)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# make test, demo, bench and soak install what they need first (make deps), then build in a
# second make: pkg-config's flags and the socket.io-client bundle (SIO_CLIENT_PKG) are looked
# up when a Makefile is read, so on a fresh machine a single make would build without them.
test: deps
	@$(MAKE) --no-print-directory test-run
test-run: all $(UNIT_BIN) $(E2E_C_BIN) $(SOAK_BIN)
	@BUILD=$(BUILD) BIN=$(BIN) SANITIZE="$(SANITIZE)" tests/run

unit: all $(UNIT_BIN)
	@BUILD=$(BUILD) BIN=$(BIN) SANITIZE="$(SANITIZE)" ONLY=unit tests/run

e2e: all $(E2E_C_BIN)
	@BUILD=$(BUILD) BIN=$(BIN) SANITIZE="$(SANITIZE)" ONLY=e2e tests/run

deps:
	@scripts/deps

# make soak (scripts/soak, not part of make test): the relay with thousands of clients, churn,
# slow clients and bad input for SOAK_SECONDS (600), failing when RSS, fds or queues keep
# growing or a resumed client misses an event.
soak: deps
	@$(MAKE) --no-print-directory all $(SOAK_BIN)
	@BUILD=$(BUILD) BIN=$(BIN) scripts/soak

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@BUILD=$(BUILD) BIN=$(BIN) bench/run

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) BIN=$(BIN) scripts/demo

FUZZ_TARGETS := $(wildcard fuzz/*.c)
fuzz:
	@BUILD=build/fuzz scripts/fuzz $(FUZZ_TARGETS)

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

lint:
	scripts/lint

clean:
	rm -rf build bin out

# kind-cluster: the topologies on Kubernetes in Docker (needs docker, kind, kubectl; see docs/kind.md).
kind-demo:
	@$(MAKE) --no-print-directory all || echo "kind-demo: bin/ not built; the relaylab/loadgen image judges the runs instead" >&2
	@BIN=$(BIN) scripts/demo --cluster kind

kind-down:
	@kind-cluster/down
