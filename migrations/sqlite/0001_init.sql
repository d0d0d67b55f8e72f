-- Hearth local schema, version 1.
--
-- Append-only: once shipped, this file never changes (a test pins its hash); later changes
-- go in new numbered files. Times are integer milliseconds since the Unix epoch (UTC) so they
-- sort and compare cheaply; the store turns them into RFC 3339 at its edge.
--
-- Synced tables (workspaces, chats, messages) carry created_at, updated_at, deleted_at (a
-- tombstone: rows are never hard-deleted) and field_hlc, a JSON object holding the hybrid
-- logical clock stamp of the last write to each field. Columns marked "local only" never sync.

-- There are no foreign keys between synced tables, on purpose: sync applies pages in server
-- order, in which a message can arrive before its chat. The repositories check that a parent
-- exists when the user writes, and every read joins through the parents, so an orphan stays
-- invisible until its parent arrives.

-- Marks the file as Hearth's ('HRTH'), so opening another program's SQLite file is refused.
PRAGMA application_id = 1213355080;

CREATE TABLE workspaces (
    id             TEXT PRIMARY KEY NOT NULL,             -- UUIDv7
    name           TEXT NOT NULL,
    handle         TEXT NOT NULL,                         -- ^[a-z0-9]+(?:-[a-z0-9]+)*$, checked in hearth-types
    description    TEXT NOT NULL DEFAULT '',
    tone           TEXT NOT NULL DEFAULT '',
    timezone       TEXT NOT NULL DEFAULT 'UTC',           -- IANA name, checked in hearth-types
    system_prompt  TEXT NOT NULL DEFAULT '',
    knowledge_base TEXT NOT NULL DEFAULT '',
    default_model  TEXT,
    settings       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings) AND json_type(settings) = 'object'),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    deleted_at     INTEGER,
    field_hlc      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(field_hlc))
) STRICT;

-- A handle names one live workspace; a deleted workspace gives its handle back. The repository
-- enforces the uniqueness, not the index: two devices may each create the same handle offline,
-- and sync must be able to store both before it resolves the collision.
CREATE INDEX workspaces_handle ON workspaces (handle) WHERE deleted_at IS NULL;

CREATE TABLE chats (
    id             TEXT PRIMARY KEY NOT NULL,
    workspace_id   TEXT NOT NULL,
    title          TEXT NOT NULL DEFAULT '',
    model          TEXT,
    pinned         INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
    archived       INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    active_leaf_id TEXT,                                  -- local only: the branch on screen
    activity_at    INTEGER NOT NULL,                      -- local only: last change or message
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    deleted_at     INTEGER,
    field_hlc      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(field_hlc))
) STRICT;

-- The chat list: one workspace, pinned first, then most recent.
CREATE INDEX chats_list ON chats (workspace_id, archived, pinned, activity_at) WHERE deleted_at IS NULL;

CREATE TABLE messages (
    seq               INTEGER PRIMARY KEY,                -- local only: a stable rowid for the FTS index
    id                TEXT NOT NULL UNIQUE,
    chat_id           TEXT NOT NULL,
    parent_id         TEXT,
    role              TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content           TEXT NOT NULL DEFAULT '',
    model             TEXT,
    provider          TEXT,
    status            TEXT NOT NULL DEFAULT 'complete'
                      CHECK (status IN ('pending', 'streaming', 'complete', 'error', 'cancelled')),
    error             TEXT,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    latency_ms        INTEGER,
    idempotency_key   TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    deleted_at        INTEGER,
    field_hlc         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(field_hlc))
) STRICT;

-- Children of a message (branches), and the messages of a chat.
CREATE INDEX messages_tree ON messages (chat_id, parent_id, created_at, id);
-- A retried send with the same key finds the first message instead of adding a second.
CREATE UNIQUE INDEX messages_idempotency ON messages (chat_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- A new message is chat activity, whichever path wrote it (a repository call or, later, sync).
CREATE TRIGGER messages_activity AFTER INSERT ON messages BEGIN
    UPDATE chats SET activity_at = NEW.created_at WHERE id = NEW.chat_id AND activity_at < NEW.created_at;
END;

-- Full-text search over live message content. External content: the text lives once, in
-- messages; the triggers keep the index in step, and a tombstoned message leaves the index.
-- unicode61 without a stemmer: stemmers are per language (porter is English only) and a
-- stemmed index breaks prefix queries ("embedd*" would miss "embedding"), which
-- search-as-you-type relies on.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    content,
    content = 'messages',
    content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN NEW.deleted_at IS NULL BEGIN
    INSERT INTO messages_fts (rowid, content) VALUES (NEW.seq, NEW.content);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, deleted_at ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content)
        SELECT 'delete', OLD.seq, OLD.content WHERE OLD.deleted_at IS NULL;
    INSERT INTO messages_fts (rowid, content)
        SELECT NEW.seq, NEW.content WHERE NEW.deleted_at IS NULL;
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN OLD.deleted_at IS NULL BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', OLD.seq, OLD.content);
END;

-- Local preferences: key -> JSON value. Local only.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL CHECK (json_valid(value))
) STRICT;

-- This device's sync clock: its HLC node id, the newest stamp it has issued or seen, and the
-- next client transaction number for the outbox. Exactly one row. Local only.
CREATE TABLE sync_clock (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    node        TEXT NOT NULL,
    last_hlc    TEXT,
    next_tx_seq INTEGER NOT NULL
) STRICT;
INSERT INTO sync_clock (id, node, last_hlc, next_tx_seq) VALUES (1, lower(hex(randomblob(8))), NULL, 1);

-- Changes waiting to be pushed. Every repository write appends here in the same transaction
-- as the change; all rows of one user action share a tx_seq (this device's counter, which
-- sync pushes as one client transaction) and a tx_id (a UUIDv7 that stays unique even when
-- a database file is copied to another machine or restored from a backup).
-- `patch` is {"id": ..., <changed fields>, "field_hlc": {field: stamp}}.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY,
    tx_seq     INTEGER NOT NULL,
    tx_id      TEXT NOT NULL,
    tbl        TEXT NOT NULL CHECK (tbl IN ('workspaces', 'chats', 'messages')),
    row_id     TEXT NOT NULL,
    patch      TEXT NOT NULL CHECK (json_valid(patch)),
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_tx ON outbox (tx_seq);
