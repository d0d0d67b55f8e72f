-- Hearth local schema, version 7: background jobs, and a workspace's knowledge (documents,
-- their chunks, a full-text index and embeddings of the chunks). None of it syncs yet.

-- Background work the user can follow. Durable: a job that was `running` when its process
-- died is queued again (its heartbeat goes stale) and resumes. A cancel asked from another
-- process is a flag the running one reads with its heartbeat.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    workspace_id     TEXT REFERENCES workspaces (id) ON DELETE CASCADE,
    input            TEXT NOT NULL CHECK (json_valid(input)),
    output           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(output)),
    done             INTEGER NOT NULL DEFAULT 0,
    total            INTEGER,
    message          TEXT NOT NULL DEFAULT '',
    error            TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    heartbeat_at     INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER
) STRICT;

CREATE INDEX jobs_queue ON jobs (status, created_at);

-- A workspace's documents. A document and its chunks are written in one transaction, so a
-- document is searchable whole or not at all.
CREATE TABLE documents (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    path         TEXT NOT NULL,
    title        TEXT NOT NULL,
    format       TEXT NOT NULL CHECK (format IN ('markdown', 'text', 'code', 'html', 'pdf', 'docx')),
    sha256       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    text         TEXT NOT NULL,
    chunks       INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (workspace_id, path)
) STRICT;

CREATE TABLE chunks (
    seq         INTEGER PRIMARY KEY,   -- a stable rowid for the FTS index
    document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    ord         INTEGER NOT NULL,
    text        TEXT NOT NULL,
    heading     TEXT NOT NULL,
    page        INTEGER,
    start       INTEGER NOT NULL,
    end         INTEGER NOT NULL,
    UNIQUE (document_id, ord)
) STRICT;

-- Each chunk's embedding (f32 little-endian, L2-normalized, so cosine is a dot product) by
-- the model that made it: derived data, made again on each device and when the model changes.
CREATE TABLE chunk_vectors (
    seq    INTEGER PRIMARY KEY REFERENCES chunks (seq) ON DELETE CASCADE,
    model  TEXT NOT NULL,
    vector BLOB NOT NULL
) STRICT;

CREATE VIRTUAL TABLE chunks_fts USING fts5 (
    text, heading,
    content = 'chunks', content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, text, heading) VALUES (NEW.seq, NEW.text, NEW.heading);
END;

CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, text, heading) VALUES ('delete', OLD.seq, OLD.text, OLD.heading);
END;
