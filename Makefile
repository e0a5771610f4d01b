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

.PHONY: all build deps test clean bench bench-ci bench-baseline soak fuzz format help

all: build

help:
	@echo "make                build into $(BUILD)/ (installs missing dependencies first)"
	@echo "make test           build and run the unit and integration tests"
	@echo "make bench          run the model comparison (see scripts/bench.sh --help)"
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

clean:
	rm -rf build build-sanitize

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
