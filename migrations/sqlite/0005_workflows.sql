-- Hearth local schema, version 5: workflows and their runs.
--
-- A workflow's definition (nodes and edges, the React Flow shape) is one JSON column: the
-- editor saves it whole, and a run works on a snapshot of it. Workflows sync like
-- workspaces (tombstones, field_hlc; the server mirror is migrations/supabase/0002).
--
-- Runs, node runs and run events are this device's history: local only, never synced.

CREATE TABLE workflows (
    id          TEXT PRIMARY KEY NOT NULL,               -- UUIDv7
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    graph       TEXT NOT NULL CHECK (json_valid(graph) AND json_type(graph) = 'object'),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    deleted_at  INTEGER,
    field_hlc   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(field_hlc))
) STRICT;

CREATE INDEX workflows_list ON workflows (updated_at) WHERE deleted_at IS NULL;

CREATE TABLE workflow_runs (
    id                TEXT PRIMARY KEY NOT NULL,         -- UUIDv7
    workflow_id       TEXT,                              -- NULL: a definition run from a file
    workflow_name     TEXT NOT NULL,
    graph             TEXT NOT NULL CHECK (json_valid(graph)),  -- the definition as it ran
    status            TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
    inputs            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(inputs)),
    outputs           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(outputs)),
    error             TEXT,
    steps             INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    started_at        INTEGER NOT NULL,
    finished_at       INTEGER,
    -- Bumped by the process running it every few seconds: a `running` run whose heartbeat
    -- has stopped was left by a process that died, while a fresh one belongs to another
    -- process (the CLI and the app share the database).
    heartbeat_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX workflow_runs_list ON workflow_runs (workflow_id, started_at);
-- Finding the runs a stopped app left behind, at start.
CREATE INDEX workflow_runs_running ON workflow_runs (status) WHERE status = 'running';

CREATE TABLE workflow_node_runs (
    run_id            TEXT NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
    node_id           TEXT NOT NULL,
    ord               INTEGER NOT NULL,                  -- the order nodes started (or were skipped)
    node_type         TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped', 'cancelled')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    inputs            TEXT NOT NULL DEFAULT 'null' CHECK (json_valid(inputs)),
    outputs           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(outputs)),
    error             TEXT,
    started_at        INTEGER,
    finished_at       INTEGER,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, node_id)
) STRICT;

-- The numbered event log of each run, so a client that reconnects (even to a restarted app)
-- gets what it missed.
CREATE TABLE workflow_run_events (
    run_id TEXT NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    event  TEXT NOT NULL CHECK (json_valid(event)),
    PRIMARY KEY (run_id, seq)
) STRICT, WITHOUT ROWID;

-- The outbox takes workflow changes too. SQLite cannot change a CHECK constraint in place,
-- so the table is rebuilt (nothing refers to it) with its rows and indexes.
CREATE TABLE outbox_next (
    id         INTEGER PRIMARY KEY,
    tx_seq     INTEGER NOT NULL,
    tx_id      TEXT NOT NULL,
    tbl        TEXT NOT NULL CHECK (tbl IN ('workspaces', 'chats', 'messages', 'workflows')),
    row_id     TEXT NOT NULL,
    patch      TEXT NOT NULL CHECK (json_valid(patch)),
    created_at INTEGER NOT NULL
) STRICT;
INSERT INTO outbox_next (id, tx_seq, tx_id, tbl, row_id, patch, created_at)
    SELECT id, tx_seq, tx_id, tbl, row_id, patch, created_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_next RENAME TO outbox;
CREATE INDEX outbox_tx ON outbox (tx_seq);
CREATE INDEX outbox_row ON outbox (tbl, row_id);
