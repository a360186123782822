# Metro's two front doors: `make run` (the system on embedded defaults) and
# `make test` (the whole test suite). Both install what they need first.
SHELL := /bin/bash
SWIFT ?= swift
DATA ?= data

.PHONY: setup setup-test build run lint test bench clean soak-report-check

# Debian packages, installed through apt when missing (as root, or through
# sudo): libzmq for Metro itself, ffmpeg (which brings ffprobe) for the video
# worker's media step (`metro worker video`; its tests make clips with it), and Debian's
# pyzmq (python3-zmq) for the tests that talk to Metro as a foreign client
# would, following docs/protocol.md alone. pyzmq comes from apt, not pip: a
# stock Debian's python3 refuses `pip install` (PEP 668). tmux for the test that
# drives `metro top` on a real terminal (send-keys, capture-pane). promtool
# (Debian's prometheus package; its server is not started) for the tests of the
# alerting rules in deploy/prometheus. systemd for systemd-analyze, which checks
# the unit files in deploy/systemd (nothing is started: no unit is installed).
APT_GET = $(if $(filter 0,$(shell id -u)),,sudo) apt-get

setup:
	@if ! pkg-config --exists libzmq 2>/dev/null; then \
		echo "installing libzmq3-dev"; \
		$(APT_GET) update -qq && $(APT_GET) install -y -qq libzmq3-dev pkg-config; \
	fi
	@if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then \
		echo "installing ffmpeg"; \
		$(APT_GET) update -qq && $(APT_GET) install -y -qq ffmpeg; \
	fi

setup-test: setup
	@if ! /usr/bin/python3 -c 'import zmq' 2>/dev/null; then \
		echo "installing python3-zmq"; \
		$(APT_GET) update -qq && $(APT_GET) install -y -qq python3 python3-zmq; \
	fi
	@if ! command -v tmux >/dev/null; then \
		echo "installing tmux (metro top's terminal test)"; \
		$(APT_GET) update -qq && $(APT_GET) install -y -qq tmux; \
	fi
	@if [ ! -x /usr/bin/openssl ] || [ ! -x /usr/bin/curl ]; then \
		echo "installing openssl and curl (the gateway's TLS test)"; \
		$(APT_GET) update -qq && $(APT_GET) install -y -qq openssl curl; \
	fi
	@if ! command -v promtool >/dev/null; then \
		echo "installing prometheus (promtool: the alerting rules' tests; its server is not started)"; \
		$(APT_GET) update -qq && $(APT_GET) install -y -qq prometheus; \
	fi
	@if ! command -v systemd-analyze >/dev/null; then \
		echo "installing systemd (systemd-analyze: the unit files' test; no unit is installed)"; \
		$(APT_GET) update -qq && $(APT_GET) install -y -qq systemd; \
	fi

# Release binaries in their own scratch path (.build-release, also the
# benchmarks'), so that `make run` shows the broker at its real speed and the
# debug build of `make test` in .build is left alone.
RELEASE_DIR ?= .build-release
METRO_RELEASE = $(RELEASE_DIR)/release/metro

# `--product metro` alone does not build libMetroFaultInject.so, which
# `metro soak --chaos` preloads for its disk-full faults (found beside metro).
build: setup
	$(SWIFT) build -c release --scratch-path $(RELEASE_DIR) --product metro
	$(SWIFT) build -c release --scratch-path $(RELEASE_DIR) --product MetroFaultInject

# The whole system on loopback with its data under ./$(DATA), from the release
# build: checks the machine, then runs the whole system in the foreground:
# broker, registry and the service workers Broker/system.yaml names (Ctrl-C
# stops them all, workers first).
run: build
	$(METRO_RELEASE) doctor --data-dir $(DATA)
	$(METRO_RELEASE) up --data-dir $(DATA)

# `swift format lint --strict` with the repository's .swift-format: any finding
# fails (`swift format --in-place --recursive <paths>` fixes most of them).
LINT_PATHS ?= Package.swift Sources Tests Benchmarks Examples

lint:
	$(SWIFT) format lint --strict --configuration .swift-format --recursive $(LINT_PATHS)

# METRO_REQUIRE_PYZMQ / _PROMTOOL / _SYSTEMD_ANALYZE: those tests fail rather than
# skip when pyzmq, promtool or systemd-analyze is missing.
# TEST_WIDTH: at most this many test cases run at once (Swift Testing's
# SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH; an older Swift ignores it).
# Four per core: on 2 cores the suite takes as long as unbounded (97 s against
# 99 s) while a command started beside it waits 1.3 s at worst instead of 6.4 s
# (docs/performance.md, "The test suite starves itself").
TEST_WIDTH ?= $(shell echo $$((4 * $$(nproc))))
test: setup-test
	$(SWIFT) build --build-tests
	METRO_REQUIRE_PYZMQ=1 METRO_REQUIRE_PROMTOOL=1 METRO_REQUIRE_SYSTEMD_ANALYZE=1 \
		SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=$(TEST_WIDTH) $(SWIFT) test --skip-build

# Benchmarks are release builds and never part of the tests. The gateway's
# needs wrk and curl (Debian's).
bench: setup
	@if ! command -v wrk >/dev/null || ! command -v curl >/dev/null; then \
		echo "installing wrk curl"; \
		$(APT_GET) update -qq && $(APT_GET) install -y -qq wrk curl; \
	fi
	$(SWIFT) build -c release --scratch-path .build-release --product metro
	$(SWIFT) build -c release --scratch-path .build-release --product metro-bench
	$(SWIFT) build -c release --scratch-path .build-release --product metro-broker-bench
	$(SWIFT) build -c release --scratch-path .build-release --product metro-registry-bench
	$(SWIFT) build -c release --scratch-path .build-release --product metro-rpc-bench
	$(SWIFT) build -c release --scratch-path .build-release --product metro-video-bench
	$(SWIFT) build -c release --scratch-path .build-release --product metro-reco-eval
	$(SWIFT) build -c release --scratch-path .build-release --product metro-gateway-bench-direct
	.build-release/release/metro-bench wrapper
	.build-release/release/metro-broker-bench
	.build-release/release/metro-broker-bench delivery
	.build-release/release/metro-registry-bench
	.build-release/release/metro-rpc-bench
	.build-release/release/metro-rpc-bench services
	.build-release/release/metro-video-bench
	.build-release/release/metro-reco-eval evaluate Benchmarks/reco-eval/data/planted.csv
	.build-release/release/metro-reco-eval bench
	Benchmarks/gateway-bench/run.sh .build-release/release

clean:
	rm -rf .build .build-release

# The soak report's browser check (issue 16 §4), outside `make test`: writes the
# sample report from a fixture history and opens it in headless Chromium
# (Debian's package, installed here when missing), checking that the SVG charts
# render; leaves the screenshot in $(SOAK_SAMPLE_DIR).
SOAK_SAMPLE_DIR ?= .build/soak-report-sample

soak-report-check: setup
	@if ! command -v chromium >/dev/null; then \
		echo "installing chromium"; \
		$(APT_GET) update -qq && $(APT_GET) install -y -qq chromium; \
	fi
	$(SWIFT) build --build-tests
	scripts/soak-report-check.sh --sample $(SOAK_SAMPLE_DIR)
