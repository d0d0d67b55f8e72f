-- Hearth local schema, version 6: what keeps one bad row or one account change from breaking
-- a device.

-- Rows a pull refused to apply. A pulled row that would hang or break this device (a message
-- whose parent_id closes a cycle, a second message with a chat's idempotency key, a value that
-- is not of its column's form) is kept here instead of applied, so the rest of the page
-- applies and the pull goes on. One entry per row: a newer version of the row replaces it, or
-- clears it when it applies.
CREATE TABLE sync_quarantine (
    tbl            TEXT NOT NULL,
    row_id         TEXT NOT NULL,
    reason         TEXT NOT NULL,
    row            TEXT NOT NULL CHECK (json_valid(row)),   -- the row as the server sent it
    quarantined_at INTEGER NOT NULL,
    PRIMARY KEY (tbl, row_id)
) STRICT;

-- A pulled message's walk up the tree starts only when it already has replies here, in any
-- chat; this answers that without scanning every message.
CREATE INDEX messages_parent ON messages (parent_id) WHERE parent_id IS NOT NULL;

-- The account this device's sync state belongs to (its client id, cursor and what the outbox
-- already sent). Unlike user_id it stays after signing out, so signing in as someone else is
-- seen as the change it is, not mixed into the first account's state.
ALTER TABLE sync_state ADD COLUMN owner_id TEXT;

-- Devices that signed in before this version: their signed-in user owns the state.
UPDATE sync_state SET owner_id = user_id;
