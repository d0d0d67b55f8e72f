-- Hearth local schema, version 3: remote providers, the record of every model call, the
-- price table, and why a reply came from another model than the one asked.
--
-- Providers, calls and prices are local to this device (no outbox, HLC or tombstone). A
-- provider's API key is never here: it lives in the OS keychain under the provider's name.

CREATE TABLE providers (
    name              TEXT PRIMARY KEY NOT NULL,          -- a handle; models are NAME/model
    kind              TEXT NOT NULL,                      -- a preset (openai, anthropic, ...) or openai-compatible
    base_url          TEXT NOT NULL,                      -- checked: http(s), a host, no credentials
    default_model     TEXT,
    headers           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(headers) AND json_type(headers) = 'object'),
    enabled           INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    models            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(models) AND json_type(models) = 'array'),
    models_fetched_at INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;

-- One row per model call, local or remote, whatever its outcome.
CREATE TABLE calls (
    id                INTEGER PRIMARY KEY,
    at                INTEGER NOT NULL,                   -- ms since the epoch, when the call ended
    provider          TEXT NOT NULL,                      -- 'local' or a provider name
    model             TEXT NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    ttft_ms           INTEGER,
    duration_ms       INTEGER NOT NULL,
    outcome           TEXT NOT NULL CHECK (outcome IN ('ok', 'cancelled', 'error')),
    error             TEXT
) STRICT;
CREATE INDEX calls_at ON calls (at);

-- Prices per million tokens; model '*' covers a provider's models without a row of their own.
CREATE TABLE prices (
    provider           TEXT NOT NULL,
    model              TEXT NOT NULL,
    input_per_million  REAL NOT NULL CHECK (input_per_million >= 0),
    output_per_million REAL NOT NULL CHECK (output_per_million >= 0),
    PRIMARY KEY (provider, model)
) STRICT;

-- When a fallback chain moved on, the reply says from which model and why.
ALTER TABLE messages ADD COLUMN notice TEXT;
