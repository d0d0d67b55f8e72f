-- Hearth local schema, version 4: the client side of sync with the user's Supabase project.
--
-- All of it is local to this device. Session tokens are never here: they live in the OS
-- keychain, named after this connection's client id.

-- Pulling a row asks whether the outbox still holds a change to it.
CREATE INDEX outbox_row ON outbox (tbl, row_id);

-- The connection, its pull cursor and the outcome of the last rounds. At most one row: no
-- row means sync was never connected.
CREATE TABLE sync_state (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    rest_url       TEXT NOT NULL,                     -- PostgREST root (Supabase: URL/rest/v1)
    auth_url       TEXT,                              -- GoTrue root (Supabase: URL/auth/v1); NULL: tokens given directly
    anon_key       TEXT,                              -- the project's public anon key (sent as `apikey`)
    client_id      TEXT NOT NULL,                     -- this device to the server; new for each project
    user_id        TEXT,                              -- the signed-in user (the JWT's sub)
    email          TEXT,
    cursor_version INTEGER NOT NULL DEFAULT 0,        -- pull cursor: (server_version, id) of the last row applied
    cursor_id      TEXT NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    head           INTEGER NOT NULL DEFAULT 0,        -- the server's newest version at the last pull
    last_push_at   INTEGER,
    last_pull_at   INTEGER,
    last_error     TEXT,
    last_error_at  INTEGER,
    connected_at   INTEGER NOT NULL
) STRICT;

-- Client transactions the server refused (a dead letter each), with its reason and the
-- changes it carried, so the user can see them and nothing vanishes silently.
CREATE TABLE sync_rejected (
    id          INTEGER PRIMARY KEY,
    tx_seq      INTEGER NOT NULL,
    tx_id       TEXT NOT NULL,
    sqlstate    TEXT,
    message     TEXT NOT NULL,
    changes     TEXT NOT NULL CHECK (json_valid(changes)),  -- [{"table", "row_id", "patch"}]
    rejected_at INTEGER NOT NULL
) STRICT;
