# Metro's two front doors: `make run` (the system on embedded defaults) and
# `make test` (the whole test suite). Both install what they need first.
SHELL := /bin/bash
SWIFT ?= swift
DATA ?= data

.PHONY: setup build run test bench clean

# libzmq (Debian libzmq3-dev) for Metro itself; pyzmq for the tests that talk
# to Metro as a foreign client would, following docs/protocol.md alone.
setup:
	@if ! pkg-config --exists libzmq 2>/dev/null; then \
		echo "installing libzmq3-dev"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq libzmq3-dev pkg-config; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq libzmq3-dev pkg-config; fi; \
	fi
	@python3 -c 'import zmq' 2>/dev/null || python3 -m pip install -q pyzmq

build: setup
	$(SWIFT) build --product metro

# The whole system on loopback with its data under ./$(DATA): checks the machine,
# then runs the broker and the registry in the foreground (Ctrl-C stops both).
run: build
	.build/debug/metro doctor --data-dir $(DATA)/broker
	.build/debug/metro up --data-dir $(DATA)

test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# Benchmarks are release builds and never part of the tests.
bench: setup
	$(SWIFT) build -c release --scratch-path .build-release --product metro
	$(SWIFT) build -c release --scratch-path .build-release --product metro-bench
	$(SWIFT) build -c release --scratch-path .build-release --product metro-broker-bench
	$(SWIFT) build -c release --scratch-path .build-release --product metro-registry-bench
	.build-release/release/metro-bench wrapper
	.build-release/release/metro-broker-bench
	.build-release/release/metro-broker-bench delivery
	.build-release/release/metro-registry-bench

clean:
	rm -rf .build .build-release
