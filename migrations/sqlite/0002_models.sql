-- Hearth local schema, version 2: the registry of local model files.
--
-- Local only: a model is a file on this device, so these rows never sync and have no
-- outbox, HLC or tombstone. The default model's name lives in settings ('default_model').

CREATE TABLE models (
    id             TEXT PRIMARY KEY NOT NULL,              -- UUIDv7
    name           TEXT NOT NULL UNIQUE,                   -- what requests and the CLI call it
    path           TEXT NOT NULL,
    size           INTEGER NOT NULL,
    sha256         TEXT NOT NULL,
    architecture   TEXT NOT NULL,
    parameters     INTEGER NOT NULL,
    quantization   TEXT NOT NULL,
    context_length INTEGER,
    chat_template  TEXT,                                   -- the GGUF's own template, if any
    source         TEXT NOT NULL CHECK (source IN ('default', 'import')),
    created_at     INTEGER NOT NULL
) STRICT;
