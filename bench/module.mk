# bench/module.mk: store_bench links only what it measures (store/ and the
# common/ files it uses) and only libuv and SQLite, so that its idle-RSS
# figure is a store's, not the whole server's (the generic build/bench/% rule
# links every library folder and every package library).
STORE_BENCH_OBJS := $(patsubst %.c,build/rel/%.o,$(wildcard store/*.c) common/err.c common/log.c common/mem.c)
build/bench/store_bench: build/rel/bench/store_bench.o $(STORE_BENCH_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(shell pkg-config --libs libuv sqlite3 2>/dev/null) -lpthread -lm
# patch_bench links only the pure modules it measures (selector, patch, apply, schema).
PATCH_BENCH_OBJS := $(patsubst %.c,build/rel/%.o,proxy/selector.c proxy/patch.c proxy/apply.c proxy/schema.c build/gen/proxy/schema_gen.c common/err.c common/mem.c common/strbuf.c)
build/bench/patch_bench: build/rel/bench/patch_bench.o $(PATCH_BENCH_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(shell pkg-config --libs jansson 2>/dev/null) -lm
