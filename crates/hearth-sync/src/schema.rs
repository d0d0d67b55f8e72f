//! The server side of sync: the files of `migrations/supabase/`, embedded, to print for the
//! Supabase SQL editor or to apply to a database URL with a tracking table (as the Supabase
//! CLI keeps `supabase_migrations.schema_migrations`, Hearth keeps
//! `hearth_migrations.schema_migrations`), so each file runs once.
//!
//! [`Database`] reads the URL and settles the transport first: verified TLS by default, plain
//! text only to this machine unless the caller allows it (see `schema/database.rs`).

mod database;

pub use database::{Database, Plaintext};

/// Every server migration, in order: `(version, name, sql)`. Append-only, like the files.
pub const FILES: &[(&str, &str, &str)] = &[
    ("0001", "sync", include_str!("../../../migrations/supabase/0001_sync.sql")),
    ("0002", "workflows", include_str!("../../../migrations/supabase/0002_workflows.sql")),
    ("0003", "message_tree", include_str!("../../../migrations/supabase/0003_message_tree.sql")),
    ("0004", "citations", include_str!("../../../migrations/supabase/0004_citations.sql")),
    ("0005", "documents", include_str!("../../../migrations/supabase/0005_documents.sql")),
    ("0006", "tool_calls", include_str!("../../../migrations/supabase/0006_tool_calls.sql")),
];

/// All files as one script, each headed by its name, for pasting into the SQL editor.
pub fn script() -> String {
    FILES.iter().map(|(version, name, sql)| format!("-- ==== migrations/supabase/{version}_{name}.sql\n{sql}\n")).collect()
}

/// What [`migrate`] did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Migrated {
    /// Versions applied now.
    pub applied: Vec<String>,
    /// Versions that were already there.
    pub present: Vec<String>,
}

/// Applies the files the database does not have yet, in one transaction (all or none),
/// recording each in the tracking table. Blocking: call it outside an async runtime.
pub fn migrate(database: &Database) -> crate::Result<Migrated> {
    let db = |e: postgres::Error| crate::Error::Database(describe(&e));
    let mut client = database.connect()?;
    let mut tx = client.transaction().map_err(db)?;
    tx.batch_execute(
        "create schema if not exists hearth_migrations;
         create table if not exists hearth_migrations.schema_migrations (
           version    text primary key,
           name       text not null,
           statements text not null,
           applied_at timestamptz not null default now());
         lock table hearth_migrations.schema_migrations in exclusive mode;",
    )
    .map_err(db)?;
    let present: Vec<String> = tx
        .query("select version from hearth_migrations.schema_migrations order by version", &[])
        .map_err(db)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut applied = Vec::new();
    for (version, name, sql) in FILES {
        if present.iter().any(|p| p == version) {
            continue;
        }
        tx.batch_execute(sql).map_err(|e| crate::Error::Database(format!("{version}_{name}.sql: {}", describe(&e))))?;
        tx.execute(
            "insert into hearth_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)",
            &[version, name, sql],
        )
        .map_err(db)?;
        applied.push((*version).to_owned());
    }
    tx.commit().map_err(db)?;
    Ok(Migrated { applied, present })
}

/// A PostgreSQL error with the server's message when there is one.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_on_disk_is_embedded_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/supabase");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        on_disk.sort();
        let embedded: Vec<String> = FILES.iter().map(|(v, n, _)| format!("{v}_{n}.sql")).collect();
        assert_eq!(on_disk, embedded);
        assert!(script().contains("create or replace function public.sync_push"));
    }

    /// Shipped server files never change (projects have run them): pin each one's SHA-256,
    /// and put changes in a new numbered file.
    #[test]
    fn shipped_files_never_change() {
        use sha2::{Digest, Sha256};
        const PINNED: &[(&str, &str)] = &[
            ("0001", "741504dc2e9d6bd5bc40bd4c13a26bd669fec0bfd229deb35edb4c11dc7eb401"),
            ("0002", "11a0fd6329ae8ce4d00b10133cac6e6fa71c75edef05edd4cacf609d2d05796e"),
            ("0003", "89ac301d3a06cdc1735a11bfd58f4eb402e55e0b7843e1f073e7db8678516858"),
            ("0004", "1e046ada830d033cb2293ce5e3cf939eec9342f6febe1f8476ca87408114ea0d"),
            ("0005", "9559cc4d191df02884e3f861a92e9f56c4c7c6990842a01132e2a11db7ab2c93"),
            ("0006", "2b09d4dc1e6932f69c7a6a6a30b38f639da935b715db9f948a614513d6754441"),
        ];
        assert_eq!(FILES.len(), PINNED.len(), "every file is pinned");
        for ((version, name, sql), (pinned_version, hash)) in FILES.iter().zip(PINNED) {
            assert_eq!(version, pinned_version);
            assert_eq!(&format!("{:x}", Sha256::digest(sql.as_bytes())), hash, "{version}_{name}.sql changed after it shipped");
        }
    }

    #[test]
    fn an_unreachable_database_is_a_clear_error() {
        let database = Database::parse("postgres://nobody@127.0.0.1:9/none", Plaintext::LoopbackOnly).unwrap();
        let err = migrate(&database).unwrap_err().to_string();
        assert!(err.starts_with("database: "), "{err}");
        assert!(err.contains("connect") || err.contains("refused"), "{err}");
    }
}
