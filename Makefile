# nioxide's two commands, `make demo` and `make test`, and the steps they are made of.
#
# Needs only a Rust toolchain, gcc and Python 3.11 with pip. Everything else comes from PyPI into
# a local virtualenv (.venv: cmake, maturin, pytest, mypy) or, for Debian-only tools
# (valgrind, pkg-config, readelf/nm; clang-14 and its libFuzzer runtime for the fuzz targets),
# from apt-get when missing.
#
# One cargo target directory serves every build: cargo test and the C tests share the `dev`
# build (with the `testing` feature), `make build`, the install check and the Python wheel share
# the `release` build.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
CARGO ?= cargo
export CARGO_TARGET_DIR ?= $(CURDIR)/target
# Rust programs print backtraces only when asked; keep the deliberate test panics short.
export RUST_BACKTRACE ?= 0

VENV := $(CURDIR)/.venv
# Pinned tools from PyPI. Changing this list reinstalls them (the stamp's name follows it).
VENV_PACKAGES := maturin==1.16.0 pytest==9.2.0 mypy==2.4.1 cmake==4.4.5
VENV_STAMP := $(VENV)/.installed-$(shell echo '$(VENV_PACKAGES)' | cksum | cut -d' ' -f1)
CMAKE := $(VENV)/bin/cmake
CTEST := $(VENV)/bin/ctest

BUILD := $(CURDIR)/build
VERSION := $(shell sed -n 's/^version = "\([0-9.]*\)"/\1/p' Cargo.toml | head -n1)
SONAME := libnioxide.so.$(firstword $(subst ., ,$(VERSION)))

# cargo test: the whole workspace, with the C library's test entry points. Set
# CARGO_TEST_EXCLUDE=--exclude nioxide-python if a crate's tests cannot link libpython.
CARGO_FEATURES ?= --features nioxide/testing
CARGO_TEST_EXCLUDE ?=
CTEST_JOBS ?= 2
# The C tests link the `dev` build that cargo test already made.
C_TEST_CMAKE_FLAGS := -DNIOXIDE_CARGO_PROFILE=dev -DNIOXIDE_CARGO_TARGET_DIR=$(CARGO_TARGET_DIR)

# Prints a step's banner; `$(call step_done,NAME)` prints how long it took.
define step
	@echo; echo "==> $(1)"; date +%s > $(BUILD)/.step-start
endef
define step_done
	@echo "<== $(1): $$(( $$(date +%s) - $$(cat $(BUILD)/.step-start) )) s"
endef

.PHONY: help
help:
	@echo "make demo      build everything and run the demo (examples/run-demo.sh)"
	@echo "make test      run every test: cargo, fmt, clippy, C (plain, ASan+UBSan, valgrind),"
	@echo "               Python, header freshness, install + consumers, fuzz targets (short)"
	@echo "make build     the installable library (cargo --release, CMake build in build/release)"
	@echo "make bench     the benchmarks (bench/run.sh, bench/runtime/run.sh, bench/idle/run.sh,"
	@echo "               bench/lines/run.sh, bench/codec/run.sh); not part of the tests"
	@echo "steps: cargo-test fmt-check clippy c-test c-test-asan c-test-valgrind python-test"
	@echo "       header-check install-check fuzz-test; tools: venv system-tools fuzz-tools;"
	@echo "       clean, distclean"
	@echo "make fuzz      fuzz every tests/fuzz target for FUZZ_SECONDS (300) each"

# ---------------------------------------------------------------------------------------------
# Tools

.PHONY: venv
venv: $(VENV_STAMP)

$(VENV_STAMP):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check -q $(VENV_PACKAGES)
	rm -f $(VENV)/.installed-*
	touch $@

# Debian-only tools the tests use, installed with apt-get when missing.
.PHONY: system-tools
system-tools:
	@missing=""; \
	command -v valgrind >/dev/null || missing="$$missing valgrind"; \
	command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	{ command -v readelf >/dev/null && command -v nm >/dev/null; } || missing="$$missing binutils"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing with apt-get"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends $$missing; \
	fi

# clang and its runtime libraries (libFuzzer among them) for the fuzz targets: Debian's clang-14,
# no nightly Rust. Installed with apt-get when missing.
FUZZ_CLANG := clang-14
.PHONY: fuzz-tools
fuzz-tools:
	@missing=""; \
	command -v $(FUZZ_CLANG) >/dev/null || missing="$$missing clang"; \
	{ command -v $(FUZZ_CLANG) >/dev/null && \
	  test -f "$$($(FUZZ_CLANG) -print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a"; } || \
	  missing="$$missing libclang-rt-14-dev"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing with apt-get"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BUILD):
	mkdir -p $@

# ---------------------------------------------------------------------------------------------
# Build

.PHONY: build
build: venv | $(BUILD)
	$(call step,build: cargo build --release and CMake (build/release))
	$(CARGO) build --release -p nioxide
	$(CMAKE) -S . -B $(BUILD)/release -DNIOXIDE_BUILD_TESTS=OFF \
	  -DNIOXIDE_CARGO_TARGET_DIR=$(CARGO_TARGET_DIR) >/dev/null
	$(CMAKE) --build $(BUILD)/release
	$(call step_done,build)

.PHONY: demo
demo: build
	@if [ ! -f examples/run-demo.sh ]; then \
	  echo "make demo: examples/run-demo.sh does not exist yet"; exit 1; fi
	bash examples/run-demo.sh

.PHONY: bench
bench: build
	@if [ ! -f bench/run.sh ]; then echo "make bench: bench/run.sh does not exist yet"; exit 1; fi
	bash bench/run.sh
	bash bench/runtime/run.sh
	bash bench/idle/run.sh
	bash bench/lines/run.sh
	bash bench/codec/run.sh

# ---------------------------------------------------------------------------------------------
# Tests

.PHONY: test
test: venv system-tools fuzz-tools | $(BUILD)
	@date +%s > $(BUILD)/.test-start
	$(MAKE) --no-print-directory cargo-test
	$(MAKE) --no-print-directory fmt-check
	$(MAKE) --no-print-directory clippy
	$(MAKE) --no-print-directory c-test
	$(MAKE) --no-print-directory c-test-asan
	$(MAKE) --no-print-directory c-test-valgrind
	$(MAKE) --no-print-directory python-test
	$(MAKE) --no-print-directory header-check
	$(MAKE) --no-print-directory install-check
	$(MAKE) --no-print-directory fuzz-test
	@echo; echo "make test: every step passed in $$(( $$(date +%s) - $$(cat $(BUILD)/.test-start) )) s"

.PHONY: cargo-test
cargo-test: | $(BUILD)
	$(call step,cargo test)
	$(CARGO) test --workspace $(CARGO_FEATURES) $(CARGO_TEST_EXCLUDE)
	$(call step_done,cargo test)

.PHONY: fmt-check
fmt-check: | $(BUILD)
	$(call step,cargo fmt --check)
	$(CARGO) fmt --all -- --check
	$(call step_done,cargo fmt --check)

.PHONY: clippy
clippy: | $(BUILD)
	$(call step,cargo clippy)
	$(CARGO) clippy --workspace --all-targets $(CARGO_FEATURES) -- -D warnings
	$(call step_done,cargo clippy)

# The committed headers (include/nioxide.h and include/nioxide/) against a fresh cbindgen run
# (tests/header.rs).
.PHONY: header-check
header-check: | $(BUILD)
	$(call step,header freshness)
	$(CARGO) test -p nioxide $(CARGO_FEATURES) --test header
	$(call step_done,header freshness)

# $(1): build directory name, $(2): extra CMake flags.
define c_tests
	$(CMAKE) -S . -B $(BUILD)/$(1) $(C_TEST_CMAKE_FLAGS) $(2) >/dev/null
	$(CMAKE) --build $(BUILD)/$(1) -j2
endef

.PHONY: c-test
c-test: venv | $(BUILD)
	$(call step,C tests)
	$(call c_tests,c,)
	$(CTEST) --test-dir $(BUILD)/c --output-on-failure -j$(CTEST_JOBS)
	$(call step_done,C tests)

.PHONY: c-test-asan asan
asan: c-test-asan
c-test-asan: venv system-tools | $(BUILD)
	$(call step,C tests under ASan + UBSan)
	$(call c_tests,c-asan,-DNIOXIDE_SANITIZE=ON)
	@nm $(BUILD)/c-asan/tests/c/nx_run_tests | grep __asan_init >/dev/null || \
	  { echo "AddressSanitizer is not linked into nx_run_tests"; exit 1; }
	$(CTEST) --test-dir $(BUILD)/c-asan --output-on-failure -j$(CTEST_JOBS)
	$(call step_done,C tests under ASan + UBSan)

.PHONY: c-test-valgrind
c-test-valgrind: venv system-tools | $(BUILD)
	$(call step,C tests under valgrind memcheck)
	$(call c_tests,c-valgrind,-DNIOXIDE_VALGRIND=ON)
	$(CTEST) --test-dir $(BUILD)/c-valgrind --output-on-failure -j$(CTEST_JOBS)
	$(call step_done,C tests under valgrind memcheck)

# The Python package: a real wheel build installed into .venv, then pytest and stubtest.
# Does nothing until python/pyproject.toml exists.
.PHONY: python-test
python-test: venv system-tools | $(BUILD)
	@if [ -f python/pyproject.toml ]; then \
	  echo; echo "==> Python: pip install ./python, pytest, stubtest"; \
	  export PATH="$(VENV)/bin:$$PATH"; \
	  $(VENV)/bin/pip install --disable-pip-version-check -q --no-build-isolation ./python && \
	  ext=$$($(VENV)/bin/python -c 'import nioxide._nioxide as m; print(m.__file__)') && \
	  if readelf -S -W "$$ext" | grep '\] \.debug_' >/dev/null; then \
	    echo "$$ext carries debug information"; exit 1; fi && \
	  $(VENV)/bin/pytest -q tests/python && \
	  $(VENV)/bin/python -m mypy.stubtest nioxide._nioxide --allowlist python/stubtest-allowlist; \
	fi

# The libFuzzer targets (tests/fuzz/fuzz_*.c, tests/fuzz/README.md): `make fuzz` fuzzes each for
# FUZZ_SECONDS; `make test` runs each for a short fixed time (FUZZ_TEST_SECONDS, at most
# FUZZ_TEST_RUNS inputs) on a copy of its committed corpus. A finding fails the step and prints
# its reproducer.
FUZZ_SECONDS ?= 300
FUZZ_TEST_SECONDS ?= 10
FUZZ_TEST_RUNS ?= 200000
.PHONY: fuzz fuzz-test fuzz-build
fuzz-build: fuzz-tools
	CLANG=$(FUZZ_CLANG) bash tests/fuzz/run.sh build
fuzz: fuzz-tools | $(BUILD)
	$(call step,fuzz: $(FUZZ_SECONDS) s per target)
	CLANG=$(FUZZ_CLANG) FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh run
	$(call step_done,fuzz)
fuzz-test: fuzz-tools | $(BUILD)
	$(call step,fuzz targets: $(FUZZ_TEST_SECONDS) s per target)
	CLANG=$(FUZZ_CLANG) FUZZ_SECONDS=$(FUZZ_TEST_SECONDS) FUZZ_RUNS=$(FUZZ_TEST_RUNS) \
	  bash tests/fuzz/run.sh run
	$(call step_done,fuzz targets)

# Installs build/release into a temporary prefix and builds two consumers against it.
PREFIX := $(BUILD)/install-prefix
.PHONY: install-check
install-check: build system-tools
	$(call step,install check)
	rm -rf $(PREFIX) $(BUILD)/consumer
	$(CMAKE) --install $(BUILD)/release --prefix $(PREFIX)
	readelf -d $(PREFIX)/lib/libnioxide.so.$(VERSION) | grep -q 'SONAME.*\[$(SONAME)\]' || \
	  { echo "libnioxide.so.$(VERSION) has no SONAME $(SONAME)"; exit 1; }
	test "$$(readlink $(PREFIX)/lib/$(SONAME))" = libnioxide.so.$(VERSION)
	test "$$(readlink $(PREFIX)/lib/libnioxide.so)" = $(SONAME)
	@echo "-- no debug information in the installed libraries; the shared library's in lib/.debug/"
	for lib in libnioxide.so.$(VERSION) libnioxide.a; do \
	  if readelf -S -W $(PREFIX)/lib/$$lib | grep '\] \.debug_' >/dev/null; then \
	    echo "the installed $$lib carries debug information"; exit 1; fi; \
	done
	readelf -S -W $(PREFIX)/lib/.debug/libnioxide.so.$(VERSION).debug | grep '\] \.debug_info' >/dev/null || \
	  { echo "lib/.debug/libnioxide.so.$(VERSION).debug has no .debug_info"; exit 1; }
	readelf -p .gnu_debuglink $(PREFIX)/lib/libnioxide.so.$(VERSION) | \
	  grep -q '\] *libnioxide.so.$(VERSION).debug$$' || \
	  { echo "libnioxide.so.$(VERSION) does not name its debug file (.gnu_debuglink)"; exit 1; }
	@echo "-- CMake consumer: find_package(nioxide CONFIG REQUIRED)"
	$(CMAKE) -S tests/consumer -B $(BUILD)/consumer -DCMAKE_PREFIX_PATH=$(PREFIX) >/dev/null
	$(CMAKE) --build $(BUILD)/consumer
	$(BUILD)/consumer/consumer_shared
	$(BUILD)/consumer/consumer_static
	readelf -d $(BUILD)/consumer/consumer_shared | grep -q 'NEEDED.*\[$(SONAME)\]'
	@echo "-- pkg-config consumers: nioxide and nioxide-static"
	export PKG_CONFIG_PATH=$(PREFIX)/lib/pkgconfig; \
	gcc -Wall -Wextra -Werror -o $(BUILD)/consumer/consumer_pkgconfig tests/consumer/main.c \
	  $$(pkg-config --cflags --libs nioxide); \
	LD_LIBRARY_PATH=$$(pkg-config --variable=libdir nioxide) $(BUILD)/consumer/consumer_pkgconfig; \
	gcc -Wall -Wextra -Werror -o $(BUILD)/consumer/consumer_pkgconfig_static tests/consumer/main.c \
	  $$(pkg-config --static --cflags --libs nioxide-static); \
	$(BUILD)/consumer/consumer_pkgconfig_static
	$(call step_done,install check)

# ---------------------------------------------------------------------------------------------

.PHONY: clean distclean
clean:
	rm -rf $(BUILD)
distclean: clean
	rm -rf $(VENV) $(CARGO_TARGET_DIR)
