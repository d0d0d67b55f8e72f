# Hearth's two commands. On a fresh Debian machine:
#   make run    install what is missing, build, and start Hearth
#   make test   install what is missing and run every test, end-to-end suite included
# Helpers: make deps | model | ui | build | testbed | bench | tidy

SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help deps model ui build run test testbed bench tidy

# Build output lives outside the clone so CI runs and later clones reuse it.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/hearth/target
CARGO ?= cargo
PYTHON ?= python3
# Where the app keeps its data by default (the platform data folder on Linux), and so where
# it looks for the default model.
DATA_DIR ?= $(or $(HEARTH_DATA_DIR),$(or $(XDG_DATA_HOME),$(HOME)/.local/share)/hearth)
MODEL ?= $(DATA_DIR)/models/gemma-3-270m-q4_k_m.gguf
HEARTH := $(CARGO_TARGET_DIR)/release/hearth
DESKTOP := $(CARGO_TARGET_DIR)/release/hearth-desktop
# WebDriver for the real desktop window (with Debian's WebKitWebDriver), for `make test`.
TAURI_DRIVER ?= $(HOME)/.cargo/bin/tauri-driver
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

# The web UI (ui/dist), embedded in both binaries' API server.
ui: deps
	@scripts/build-ui.sh

build: deps ui
	$(CARGO) build --locked --release --workspace --bins

# Checks the install, then opens the desktop window when there is a display, else serves
# the API and the UI on loopback until Ctrl-C (open the printed address in a browser).
run: build model
	@$(HEARTH) --default-model "$(MODEL)" doctor
	@echo
	@if [ -n "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then \
		echo "Opening the Hearth window (the app and its API stop when it closes)"; \
		HEARTH_DEFAULT_MODEL="$(MODEL)" exec "$(DESKTOP)"; \
	fi; \
	echo "Hearth is installed: $(HEARTH) (no display here, so no window: the app is served to your browser)"; \
	echo "Or chat here:  $(HEARTH) chat 'Write a haiku about bread'   (works offline)"; \
	echo "The API: OpenAI-compatible /v1 and /api/v1 (token from \`$(HEARTH) token show\`), docs at /docs"; \
	echo "Serving until Ctrl-C; open the address with the token in a browser:"; \
	exec $(HEARTH) --default-model "$(MODEL)" serve --app-link

# Unit tests, CLI tests, tidy and the end-to-end suite, all on the release profile so one
# build serves run, test and bench.
# The sync test bed's REST server: postrust-server from crates.io, when missing (about ten
# minutes the first time; it does not build with --locked against this registry).
POSTRUST ?= $(HOME)/.cargo/bin/postrust
testbed: deps
	@[ -x "$(POSTRUST)" ] || $(CARGO) install postrust-server --version 3.1.0
	@[ -x "$(TAURI_DRIVER)" ] || $(CARGO) install tauri-driver --version 2.1.0

test: build model testbed
	@# Inside a private D-Bus session with an unlocked GNOME Keyring: the keychain tests need
	@# a real Secret Service.
	@# The sync tests run against PostgreSQL 15 and postrust (tests/src/testbed.rs).
	HEARTH_BIN="$(HEARTH)" HEARTH_E2E_MODEL="$(MODEL)" POSTRUST_BIN="$(POSTRUST)" scripts/with-keyring.sh $(CARGO) test --locked --release --workspace
	@# The HTTP API through real clients: the openai SDK, raw HTTP, and Schemathesis; remote
	@# providers keep their keys in the same kind of private keyring.
	HEARTH_BIN="$(HEARTH)" HEARTH_E2E_MODEL="$(MODEL)" scripts/with-keyring.sh scripts/api-tests.sh
	@# The UI: Vitest, the generated API types, then Chromium against `hearth serve` with the
	@# real model and no network (screenshots in ui/e2e-artifacts).
	HEARTH_BIN="$(HEARTH)" HEARTH_E2E_MODEL="$(MODEL)" scripts/isolated.sh scripts/ui-tests.sh
	@# The real desktop window under Xvfb, through tauri-driver and WebKitWebDriver, offline
	@# (its own network namespace and D-Bus session).
	HEARTH_DESKTOP_BIN="$(DESKTOP)" HEARTH_E2E_MODEL="$(MODEL)" TAURI_DRIVER="$(TAURI_DRIVER)" scripts/isolated.sh scripts/desktop-tests.sh
	@# The README's other command must work too: `make run` (already built, so quick) must
	@# come up serving, on a throwaway data folder so tests never touch a developer's data.
	@MODEL="$(MODEL)" scripts/check-make-run.sh

# The store against bare SQLite, the workflow engine against the same work done without it
# (a 1,000-node variable chain, a 100-way code fan-out), sync against plain PostgREST bulk
# upserts on the test bed,
# the engine against llama-bench, `hearth serve` against llama-server through the openai
# SDK (the API suite's venv), and the UI and desktop window (JS size, launch times, memory
# against a bare Tauri window: benches/bare-window).
bench: build model testbed
	$(CARGO) bench --locked -p hearth-store --bench store
	$(CARGO) bench --locked -p hearth-core --bench workflow
	POSTRUST_BIN="$(POSTRUST)" $(CARGO) bench --locked -p hearth-e2e --bench sync
	tools=$$(PYTHON=$(PYTHON) scripts/build-llama-tools.sh "$(LLAMA_BENCH_DIR)") && \
	HEARTH_BENCH_MODEL="$(MODEL)" HEARTH_LLAMA_BENCH="$$tools/llama-bench" \
		$(CARGO) bench --locked -p hearth-llama --bench engine && \
	python=$$(HEARTH_BIN="$(HEARTH)" HEARTH_E2E_MODEL="$(MODEL)" PYTHON=$(PYTHON) scripts/api-tests.sh --venv-only) && \
	HEARTH_BIN="$(HEARTH)" HEARTH_E2E_MODEL="$(MODEL)" LLAMA_SERVER="$$tools/llama-server" PYTHONDONTWRITEBYTECODE=1 \
		"$$python" benches/api.py
	HEARTH_BIN="$(HEARTH)" HEARTH_DESKTOP_BIN="$(DESKTOP)" BARE_WINDOW_BIN="$(CARGO_TARGET_DIR)/release/bare-window" \
		HEARTH_E2E_MODEL="$(MODEL)" TAURI_DRIVER="$(TAURI_DRIVER)" scripts/with-keyring.sh scripts/bench-ui.sh

tidy:
	$(CARGO) xtask tidy
	$(CARGO) fmt --check
