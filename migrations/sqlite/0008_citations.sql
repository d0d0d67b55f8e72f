-- Hearth local schema, version 8: a reply keeps the knowledge passages it was given.
--
-- `citations` is a JSON array of the passages a reply was given to answer from, numbered as
-- the reply cites them ([1], [2], ...), each with its document, chunk, page, heading and the
-- passage's text (hearth-types' `Citation`). It is one field of the message, so it syncs like
-- the others; the passages' text travels with it, so a source opens on a device that has not
-- (yet) got the document.
ALTER TABLE messages ADD COLUMN citations TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(citations) AND json_type(citations) = 'array');
