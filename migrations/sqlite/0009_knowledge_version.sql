-- Hearth local schema, version 9: a number per workspace that changes with every document
-- stored, replaced or removed in it, so a copy of its vectors kept in memory knows when it is
-- out of date (hearth-core `knowledge/vectors.rs`) with one indexed read. Kept by triggers, so
-- every writer (the app, the CLI, another process) moves it.
CREATE TABLE knowledge_versions (
    workspace_id TEXT PRIMARY KEY NOT NULL,
    version      INTEGER NOT NULL
) STRICT;

CREATE TRIGGER documents_version_insert AFTER INSERT ON documents BEGIN
    INSERT INTO knowledge_versions (workspace_id, version) VALUES (NEW.workspace_id, 1)
        ON CONFLICT (workspace_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER documents_version_update AFTER UPDATE ON documents BEGIN
    INSERT INTO knowledge_versions (workspace_id, version) VALUES (NEW.workspace_id, 1)
        ON CONFLICT (workspace_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER documents_version_delete AFTER DELETE ON documents BEGIN
    INSERT INTO knowledge_versions (workspace_id, version) VALUES (OLD.workspace_id, 1)
        ON CONFLICT (workspace_id) DO UPDATE SET version = version + 1;
END;
