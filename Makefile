# jrvs — the two quick-start commands are `make run` and `make test`.
PRESET ?= release
BUILD_DIR := build/$(PRESET)
JOBS ?= $(shell nproc)
HOST ?= 127.0.0.1
PORT ?= 8000
DATA_DIR ?= ./data
CMAKE_EXTRA ?=
# ccache hits across checkouts in different directories (CI clones elsewhere).
export CCACHE_BASEDIR := $(CURDIR)

.PHONY: all setup configure build run test test-debug bench format format-check clean

all: build

setup:
	@bash scripts/setup.sh

$(BUILD_DIR)/build.ninja:
	cmake --preset $(PRESET) $(CMAKE_EXTRA)

configure: setup $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: setup
	@$(MAKE) --no-print-directory build PRESET=release
	./build/release/src/app/jrvs serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

test: setup
	@$(MAKE) --no-print-directory build PRESET=$(PRESET)
	ctest --preset $(PRESET)

test-debug:
	@$(MAKE) --no-print-directory test PRESET=debug

bench: setup
	@$(MAKE) --no-print-directory build PRESET=release
	bash scripts/perf.sh $(BENCH_ARGS)

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf build
