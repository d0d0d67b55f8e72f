//! Secrets in memory, for unit tests (and nothing else: they vanish with the process).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::{Result, Secret, SecretStore, check_name};

#[derive(Debug, Default)]
pub struct MemoryStore {
    secrets: Mutex<HashMap<String, Secret>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, name: &str) -> Result<Option<Secret>> {
        check_name(name)?;
        Ok(self.secrets.lock().expect("secrets lock").get(name).cloned())
    }

    fn set(&self, name: &str, secret: &Secret) -> Result<()> {
        check_name(name)?;
        self.secrets.lock().expect("secrets lock").insert(name.to_owned(), secret.clone());
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<bool> {
        check_name(name)?;
        Ok(self.secrets.lock().expect("secrets lock").remove(name).is_some())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}
