# meshkv: the two commands are `make run` and `make test`; the rest is for developers.
#   deps    install the Debian packages the build and tests need (only what is missing)
#   build   release build in build/ (binaries in build/bin/)
#   test    deps + build + every unit and integration test under ASan+UBSan (build-asan/),
#           then the Docker end-to-end tests (run in CI; skipped with a message without Docker)
#   run     a local cluster: three nodes joined through meshkv-lb on port 8080 (no Docker)
#   bench   the figures in docs/benchmarks.md (wrk against nginx, HAProxy, Redis; bench/run.sh,
#           then issue 13's collections, watch and ttl scripts)
#   swarm-up / swarm-down  the stack (docker-stack.yaml) on the local engine's swarm, balancer
#           on port 8080; a single-node swarm is created when none is active and left by swarm-down
#   images  the Docker images, built offline from host binaries (no registry needed)
#   fuzz    the libFuzzer targets of fuzz/ (clang), each for FUZZ_SECONDS (default 60); see
#           docs/fuzzing.md. `make test` replays their corpora and regressions without clang
#   chaos   the chaos test (docs/chaos.md) against the release build: DURATION seconds (default
#           600) of seeded faults, SEED to replay a run; `make test` runs a 2-minute round
#   fmt / lint  clang-format the tree / check formatting
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
FUZZ_SECONDS ?= 60
DURATION ?= 600
SEED ?=

.PHONY: deps configure configure-asan build build-asan test unit e2e run bench images swarm-up swarm-down fuzz chaos fmt lint clean

deps:
	@scripts/deps.sh build

# The generator is chosen in scripts/configure.sh, after deps, once per build directory.
configure: deps
	@scripts/configure.sh $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

configure-asan: deps
	@scripts/configure.sh $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DMESHKV_SANITIZE=ON

build-asan: configure-asan
	@cmake --build $(ASAN_DIR) -j $(JOBS)

unit: build-asan
	@cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 600

e2e: build
	@scripts/e2e.sh

test: build unit e2e

run: build
	@scripts/run-local.sh

bench: build
	@scripts/deps.sh bench
	@bench/client.sh --doc
	@bench/run.sh
	@bench/collections.sh $(BUILD_DIR) --doc
	@bench/watch_bench.sh $(BUILD_DIR) --doc
	@bench/ttl.sh $(BUILD_DIR) --doc
	@bench/run.sh assemble

images: build
	@scripts/images.sh

swarm-up: images
	@scripts/swarm.sh up

swarm-down:
	@scripts/swarm.sh down

fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) scripts/fuzz.sh

chaos: build
	@python3 packages/tests/chaos/chaos.py --bin-dir $(BUILD_DIR)/bin --duration $(DURATION) $(if $(SEED),--seed $(SEED))

fmt:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

lint:
	@git ls-files '*.cc' '*.h' | xargs clang-format --dry-run -Werror

clean:
	rm -rf build build-asan build-fuzz
