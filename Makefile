# Hearth's two commands. On a fresh Debian machine:
#   make run    install what is missing, build, and start Hearth
#   make test   install what is missing and run every test, end-to-end suite included
# Helpers: make deps | model | build | testbed | bench | tidy

SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help deps model build run test testbed bench tidy

# Build output lives outside the clone so CI runs and later clones reuse it.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/hearth/target
CARGO ?= cargo
PYTHON ?= python3
# Where the app keeps its data by default (the platform data folder on Linux), and so where
# it looks for the default model.
DATA_DIR ?= $(or $(HEARTH_DATA_DIR),$(or $(XDG_DATA_HOME),$(HOME)/.local/share)/hearth)
MODEL ?= $(DATA_DIR)/models/gemma-3-270m-q4_k_m.gguf
HEARTH := $(CARGO_TARGET_DIR)/release/hearth
# llama.cpp's own llama-bench and llama-server, built once from the matching sources, for
# `make bench`.
LLAMA_BENCH_DIR ?= $(HOME)/.cache/hearth

help:
	@echo "make run    install what is missing, build, and start Hearth"
	@echo "make test   install what is missing and run every test"
	@echo "make bench  run the benchmarks (figures on stdout and in bench-results/)"

deps:
	@scripts/deps.sh

model: deps
	@PYTHON=$(PYTHON) scripts/fetch-model.sh "$(MODEL)"

build: deps
	$(CARGO) build --locked --release --workspace --bins

# Checks the install, then serves the API on loopback until Ctrl-C (the desktop window
# joins here with the desktop issue).
run: build model
	@$(HEARTH) --default-model "$(MODEL)" doctor
	@echo
	@echo "Hearth is installed: $(HEARTH)"
	@echo "Try, in another terminal:  $(HEARTH) chat 'Write a haiku about bread'   (works offline)"
	@echo "  the API (OpenAI-compatible /v1, token from \`$(HEARTH) token show\`), docs at /docs"
	@echo "Serving until Ctrl-C:"
	@exec $(HEARTH) --default-model "$(MODEL)" serve

# Unit tests, CLI tests, tidy and the end-to-end suite, all on the release profile so one
# build serves run, test and bench.
# The sync test bed's REST server: postrust-server from crates.io, when missing (about ten
# minutes the first time; it does not build with --locked against this registry).
POSTRUST ?= $(HOME)/.cargo/bin/postrust
testbed: deps
	@[ -x "$(POSTRUST)" ] || $(CARGO) install postrust-server --version 3.1.0

test: build model testbed
	@# Inside a private D-Bus session with an unlocked GNOME Keyring: the keychain tests need
	@# a real Secret Service.
	@# The sync tests run against PostgreSQL 15 and postrust (tests/src/testbed.rs).
	HEARTH_BIN="$(HEARTH)" HEARTH_E2E_MODEL="$(MODEL)" POSTRUST_BIN="$(POSTRUST)" scripts/with-keyring.sh $(CARGO) test --locked --release --workspace
	@# The HTTP API through real clients: the openai SDK, raw HTTP, and Schemathesis; remote
	@# providers keep their keys in the same kind of private keyring.
	HEARTH_BIN="$(HEARTH)" HEARTH_E2E_MODEL="$(MODEL)" scripts/with-keyring.sh scripts/api-tests.sh
	@# The README's other command must work too: `make run` (already built, so quick) must
	@# come up serving, on a throwaway data folder so tests never touch a developer's data.
	@MODEL="$(MODEL)" scripts/check-make-run.sh

# The store against bare SQLite, sync against plain PostgREST bulk upserts on the test bed,
# the engine against llama-bench, and `hearth serve` against llama-server through the openai
# SDK (the API suite's venv).
bench: build model testbed
	$(CARGO) bench --locked -p hearth-store --bench store
	POSTRUST_BIN="$(POSTRUST)" $(CARGO) bench --locked -p hearth-e2e --bench sync
	tools=$$(PYTHON=$(PYTHON) scripts/build-llama-tools.sh "$(LLAMA_BENCH_DIR)") && \
	HEARTH_BENCH_MODEL="$(MODEL)" HEARTH_LLAMA_BENCH="$$tools/llama-bench" \
		$(CARGO) bench --locked -p hearth-llama --bench engine && \
	python=$$(HEARTH_BIN="$(HEARTH)" HEARTH_E2E_MODEL="$(MODEL)" PYTHON=$(PYTHON) scripts/api-tests.sh --venv-only) && \
	HEARTH_BIN="$(HEARTH)" HEARTH_E2E_MODEL="$(MODEL)" LLAMA_SERVER="$$tools/llama-server" PYTHONDONTWRITEBYTECODE=1 \
		"$$python" benches/api.py

tidy:
	$(CARGO) xtask tidy
	$(CARGO) fmt --check
