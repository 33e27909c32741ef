# vkube build. `make deps` installs packages; `make` builds bin/vkube;
# `make test` builds sanitizer unit tests and runs every test; `make bench`.
CC ?= cc
PKGS := libuv openssl jansson sqlite3 yaml-0.1
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lllhttp -lpthread -lm
WARN := -Wall -Wextra -Werror -Wno-unused-parameter
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -I. -Ibuild/gen $(PKG_CFLAGS) -MMD -MP
REL_CFLAGS := $(BASE_CFLAGS) -O2 -g
ASAN_CFLAGS := $(BASE_CFLAGS) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined

# Library code: every .c in these folders (plus generated sources) is linked
# into bin/vkube, the unit tests and the benchmarks.
# A module's generated sources go in GEN_SRCS_<dir> (set in <dir>/module.mk,
# which may also add rules); TEST_LINK_<dir> lists the folders the tests in
# tests/<dir>/ link with (default: all), so a module's tests build on their own.
.DEFAULT_GOAL := all
LIB_DIRS := common store proxy syncer operator controllers
TEST_LINK_common := common
TEST_LINK_store := common store
-include $(wildcard */module.mk)
srcs_of = $(foreach d,$(1),$(wildcard $(d)/*.c) $(GEN_SRCS_$(d)))
asan_objs_of = $(patsubst %.c,build/asan/%.o,$(call srcs_of,$(1)))
LIB_SRCS := $(call srcs_of,$(LIB_DIRS))
CLI_SRCS := $(wildcard cli/*.c)
REL_OBJS := $(LIB_SRCS:%.c=build/rel/%.o)
ASAN_OBJS := $(LIB_SRCS:%.c=build/asan/%.o)

# Test programs: tests/<module>/<prog>.c, each its own binary. test_* are run
# by tests/run; other programs are helpers that tests start.
TEST_SRCS := $(wildcard tests/*/*.c)
TEST_BINS := $(patsubst tests/%.c,build/test/%,$(TEST_SRCS))
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,build/bench/%,$(BENCH_SRCS))

.PHONY: all deps test test-build bench clean run
.SECONDARY:
all: bin/vkube

deps:
	@./scripts/deps.sh

# bin/vkube links its libraries statically (only libc and libm stay shared)
# as a non-PIE executable: the loader has no relocations to apply, and only
# the library objects vkube uses are mapped. Idle tenant RSS 11.2 -> 8.9 MB,
# cold start 38 -> 26 ms (bench/README.md, "API server"). A security update
# of OpenSSL & co. then needs a rebuild. The archives come with the -dev
# packages of scripts/deps.sh. `make VKUBE_LINK=dynamic` links as the tests do.
VKUBE_LINK ?= static
ifeq ($(VKUBE_LINK),static)
VKUBE_LIBS := -no-pie -Wl,-Bstatic -luv_a -lssl -lcrypto -ljansson -lsqlite3 -lyaml -lllhttp \
	-Wl,-Bdynamic -lpthread -ldl -lm
else
VKUBE_LIBS := $(PKG_LIBS)
endif
bin/vkube: $(REL_OBJS) $(CLI_SRCS:%.c=build/rel/%.o)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(VKUBE_LIBS)

build/rel/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(REL_CFLAGS) -c -o $@ $<

build/asan/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ASAN_CFLAGS) -c -o $@ $<

TEST_DIRS := $(notdir $(wildcard tests/*))
define test_dir_rules
build/test/$(1)/%: build/asan/tests/$(1)/%.o $$(call asan_objs_of,$$(or $$(TEST_LINK_$(1)),$$(LIB_DIRS)))
	@mkdir -p $$(@D)
	$$(CC) -fsanitize=address,undefined -o $$@ $$^ $$(PKG_LIBS)
endef
$(foreach d,$(TEST_DIRS),$(eval $(call test_dir_rules,$(d))))

build/bench/%: build/rel/bench/%.o $(REL_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(PKG_LIBS)

test-build: bin/vkube $(TEST_BINS)

test: deps
	@$(MAKE) --no-print-directory -j2 test-build
	@./tests/run

bench: bin/vkube $(BENCH_BINS)
	@./bench/run

run: deps
	@$(MAKE) --no-print-directory -j2 bin/vkube
	@./scripts/demo.sh

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
