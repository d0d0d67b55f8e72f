-- Hearth local schema, version 10: documents sync like the other data.
--
-- A document's metadata, its extracted text and its chunks' boundaries (`outline`) are synced
-- fields, stamped per field like a chat's; a removed document is a tombstone (`deleted_at`),
-- its text and chunks gone. A chunk is exactly `text[start..end]`, so the outline and the text
-- carry every chunk's text without sending it twice; a device that pulls a document rebuilds
-- its chunks (and their full-text index) from them. Vectors do not sync: each device embeds
-- what it pulls, as a job.
ALTER TABLE documents ADD COLUMN outline TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(outline));  -- [{heading, page, start, end}]
ALTER TABLE documents ADD COLUMN deleted_at INTEGER;
ALTER TABLE documents ADD COLUMN field_hlc TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(field_hlc));

-- Documents stored before this version: their outline from their chunks. They are stamped and
-- queued for the next push when the store opens (that needs this device's clock).
UPDATE documents SET outline = (
    SELECT coalesce(json_group_array(json_object('heading', heading, 'page', page, 'start', start, 'end', end) ORDER BY ord), '[]')
    FROM chunks WHERE document_id = documents.id
);

-- The outbox takes document changes too: rebuilt as in version 5 (nothing refers to it).
CREATE TABLE outbox_next (
    id         INTEGER PRIMARY KEY,
    tx_seq     INTEGER NOT NULL,
    tx_id      TEXT NOT NULL,
    tbl        TEXT NOT NULL CHECK (tbl IN ('workspaces', 'chats', 'messages', 'workflows', 'documents')),
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
