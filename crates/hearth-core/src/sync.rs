//! Sync with the user's Supabase project, as Core offers it: one engine per Core over the same
//! store, built on first use with the options Core was given (`CoreServices`), its session kept
//! in the same secret store as provider keys. The surfaces drive the
//! engine directly (its calls are async); Core only builds it and names its types.

use std::sync::Arc;

pub use hearth_sync::{
    Endpoints as SyncEndpoints, Engine as SyncEngine, Error as SyncError, LocalData as SyncLocalData, Options as SyncOptions,
    Progress as SyncProgress, Round as SyncRound, Status as SyncStatus,
    schema::{Database as SupabaseDatabase, Plaintext as SupabasePlaintext},
};

use crate::{Core, Result};

/// The server schema (`migrations/supabase/`) as one script for the SQL editor.
pub fn supabase_schema() -> String {
    hearth_sync::schema::script()
}

impl Core {
    /// This Core's sync engine, built on first use (it needs the secret store).
    pub fn sync(&self) -> Result<Arc<SyncEngine>> {
        if let Some(engine) = self.sync.get() {
            return Ok(engine.clone());
        }
        let engine = SyncEngine::new(self.store.clone(), self.secrets()?, self.sync_options.clone());
        Ok(self.sync.get_or_init(|| engine).clone())
    }

    /// Applies the server schema to a PostgreSQL database (blocking; see `hearth_sync::schema`).
    pub fn migrate_supabase(database: &SupabaseDatabase) -> Result<hearth_sync::schema::Migrated> {
        Ok(hearth_sync::schema::migrate(database)?)
    }
}
