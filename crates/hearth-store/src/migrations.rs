//! The shipped migrations, embedded at compile time from `migrations/sqlite/`.
//!
//! The list is append-only: a shipped file never changes (the hash pin in `tests.rs` fails if
//! one does) and its position is its version number.

/// Every migration, in order. Version N is the state after the first N have run.
pub(crate) const FILES: &[(&str, &str)] = &[
    ("0001_init.sql", include_str!("../../../migrations/sqlite/0001_init.sql")),
    ("0002_models.sql", include_str!("../../../migrations/sqlite/0002_models.sql")),
    ("0003_providers.sql", include_str!("../../../migrations/sqlite/0003_providers.sql")),
    ("0004_sync.sql", include_str!("../../../migrations/sqlite/0004_sync.sql")),
    ("0005_workflows.sql", include_str!("../../../migrations/sqlite/0005_workflows.sql")),
    ("0006_sync_guards.sql", include_str!("../../../migrations/sqlite/0006_sync_guards.sql")),
    ("0007_knowledge.sql", include_str!("../../../migrations/sqlite/0007_knowledge.sql")),
    ("0008_citations.sql", include_str!("../../../migrations/sqlite/0008_citations.sql")),
    ("0009_knowledge_version.sql", include_str!("../../../migrations/sqlite/0009_knowledge_version.sql")),
    ("0010_document_sync.sql", include_str!("../../../migrations/sqlite/0010_document_sync.sql")),
    ("0011_tool_calls.sql", include_str!("../../../migrations/sqlite/0011_tool_calls.sql")),
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: u32 = FILES.len() as u32;
