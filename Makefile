# The front door. `make` builds (Release) into build/, `make test` builds and runs every test,
# `make bench` runs the comparison. Missing dependencies are installed on first use.
BUILD      ?= build
SANITIZE   ?=
WERROR     ?= OFF
JOBS       ?= $(shell getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
CMAKE_ARGS ?=

ifneq ($(SANITIZE),)
  BUILD := build-sanitize
  CMAKE_ARGS += -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFANOUT_SANITIZE=$(SANITIZE)
endif

.PHONY: all build deps test clean bench bench-blog bench-ci bench-baseline bench-scale bench-peers soak fuzz format format-check help

all: build

help:
	@echo "make                build into $(BUILD)/ (installs missing dependencies first)"
	@echo "make test           build and run the unit and integration tests"
	@echo "make bench          run the model comparison (see scripts/bench.sh --help)"
	@echo "make bench-blog     the blog's six Django stacks for real, beside the models (scripts/bench-blog.sh)"
	@echo "make bench-scale    every model on a ladder of users up to 30,000 (scripts/bench-scale.sh)"
	@echo "make bench-peers    every model beside Node.js, Go and nginx+Lua (bench/peers.sh --help)"
	@echo "make bench-ci       short regression run against bench/baseline.json"
	@echo "make bench-baseline rewrite bench/baseline.json from a bench-ci run"
	@echo "make format         format the C sources with .clang-format (format-check: only list)"
	@echo "make clean          remove build directories"
	@echo "options: SANITIZE=address,undefined  WERROR=ON  BUILD=dir"

deps:
	@scripts/install-deps.sh --check >/dev/null 2>&1 || scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DFANOUT_WERROR=$(WERROR) $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	@cmake -S . -B $(BUILD) -DFANOUT_WERROR=$(WERROR) $(CMAKE_ARGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The comparison. Settings pass through: make bench CONFIGS="uv:1 threads:100" USERS=200
# DURATION=60s MS=300 (see scripts/bench.sh --help).
BENCH_ENV = CONFIGS="$(CONFIGS)" USERS="$(USERS)" SPAWN_RATE="$(SPAWN_RATE)" \
            DURATION="$(DURATION)" MS="$(MS)" FANOUT_BIN="$(CURDIR)/$(BUILD)/bin"
# The open model (issue 13): make bench MODE=open [RATE=150] runs every configuration at one
# offered rate (default 0.9 of the uncapped bound, users / (2 * ms / 1000)).
BENCH_ENV += MODE="$(MODE)" RATE="$(RATE)"
bench: build
	$(BENCH_ENV) scripts/bench.sh

# The blog's six Python configurations for real (Django under uWSGI, Gunicorn, Uvicorn; each also
# with one client per process) beside the closest C models, under the blog's load; installs the
# stacks when missing (scripts/bench-blog.sh). make bench-blog DURATION=5s for a quick look.
bench-blog: build
	$(BENCH_ENV) scripts/bench-blog.sh

# The models at scale: make bench-scale MODELS="uv threads" LADDER="100 1000 30000" RATE=1667;
# LOAD_PROCS=N splits each step's load over N fanout-load processes at least, LOAD_SOURCES="A B"
# names their source addresses (macOS, where only 127.0.0.1 exists unless aliases are added).
bench-scale: build
	MODELS="$(MODELS)" LADDER="$(LADDER)" RATE="$(RATE)" LOAD_PROCS="$(LOAD_PROCS)" \
	    LOAD_SOURCES="$(LOAD_SOURCES)" FANOUT_BIN="$(CURDIR)/$(BUILD)/bin" scripts/bench-scale.sh

# The models beside their best-known peers (issue 21): make bench-peers PEERS_ARGS="--users 1000"
# (bench/peers.sh --help); installs the peers first (scripts/install-deps.sh --peers).
bench-peers: build
	scripts/install-deps.sh --peers
	FANOUT_BIN="$(CURDIR)/$(BUILD)/bin" bench/peers.sh $(PEERS_ARGS)

# The regression run for CI: short, fast pages, compared with bench/baseline.json by ratios.
CI_BENCH = CONFIGS="$(or $(CONFIGS),$(CI_CONFIGS))" USERS=20 SPAWN_RATE=20 DURATION=6s MS=30 \
           FANOUT_BIN="$(CURDIR)/$(BUILD)/bin"
CI_CONFIGS = threads:2 threads:100 prefork:2 prefork:100 uv:1 coro:1
bench-ci: build
	$(CI_BENCH) scripts/bench.sh --out $(BUILD)/bench-ci --baseline bench/baseline.json

bench-baseline: build
	$(CI_BENCH) scripts/bench.sh --out $(BUILD)/bench-ci --write-baseline bench/baseline.json

clean:
	rm -rf build build-sanitize

# The C sources in .clang-format's form: make format rewrites them, make format-check lists the
# files it would change and fails when there are any (CI runs it). See scripts/format.sh.
format:
	scripts/format.sh

format-check:
	scripts/format.sh --check

# Robustness runs kept out of `make test` (issue 6): fuzzing with libFuzzer (clang, build-fuzz/),
# the soak (10,000 failed pages per fault, then 100 users against each model), and valgrind.
# make fuzz FUZZ_SECONDS=300   make soak SOAK_SECONDS=600   make valgrind MODELS="uv threads"
.PHONY: valgrind
FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 120
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

soak: build
	SOAK_SECONDS=$(SOAK_SECONDS) FANOUT_BIN="$(CURDIR)/$(BUILD)/bin" scripts/soak.sh

valgrind: build
	FANOUT_BIN="$(CURDIR)/$(BUILD)/bin" scripts/valgrind.sh
