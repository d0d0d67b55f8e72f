//! Secrets for workflows: values an http node's headers name as `{{secret:NAME}}` instead of
//! holding them. A workflow definition travels in plain text (SQLite, Supabase, exports), so a
//! key written into a header would travel with it; a secret stays in the OS keychain, under
//! `workflow-secret/NAME`, and is put into the request only when the node runs. The record of
//! the run never holds it: header values are not recorded.
//!
//! The names are kept beside (in a local setting Hearth manages), since a keychain cannot be
//! listed; the values only in the keychain.

use hearth_secrets::{Secret, SecretStore};
use hearth_types::ValidationError;
use serde_json::Value;

use crate::{Core, Result};

/// The local setting that lists the names (never synced, not writable as a plain setting).
pub(crate) const NAMES_SETTING: &str = "workflows.secrets";
const KEYCHAIN_PREFIX: &str = "workflow-secret/";
const OPEN: &str = "{{secret:";
const CLOSE: &str = "}}";

/// A secret's name: 1 to 64 letters, digits, `_`, `-` or `.`.
pub fn check_name(name: &str) -> std::result::Result<(), ValidationError> {
    let ok = (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok { Ok(()) } else { Err(ValidationError::new("name", format!("{name:?} is not 1 to 64 letters, digits, '_', '-' or '.'"))) }
}

/// The names of the secrets `text` refers to, in order (names that are not valid included, so
/// validation can say so).
pub(crate) fn references(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(OPEN) {
        let after = &rest[at + OPEN.len()..];
        let Some(end) = after.find(CLOSE) else { break };
        out.push(after[..end].trim());
        rest = &after[end + CLOSE.len()..];
    }
    out
}

/// `text` with every `{{secret:NAME}}` replaced by the secret's value from `store`.
pub(crate) fn resolve(text: &str, store: &dyn SecretStore) -> std::result::Result<String, String> {
    if !text.contains(OPEN) {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(OPEN) {
        let after = &rest[at + OPEN.len()..];
        let Some(end) = after.find(CLOSE) else { break };
        let name = after[..end].trim();
        let value = store
            .get(&format!("{KEYCHAIN_PREFIX}{name}"))
            .map_err(|e| format!("the secret {name:?} could not be read: {e}"))?
            .ok_or_else(|| format!("the secret {name:?} is not set (hearth workflow secret set {name}, or PUT /api/v1/secrets/{name})"))?;
        out.push_str(&rest[..at]);
        out.push_str(value.expose());
        rest = &after[end + CLOSE.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

impl Core {
    /// The names of the workflow secrets set on this device, sorted.
    pub fn workflow_secrets(&self) -> Result<Vec<String>> {
        let names = self.store.read(|r| r.setting(NAMES_SETTING))?;
        let mut names: Vec<String> = match names {
            Some(Value::Array(a)) => a.into_iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        };
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Sets (or replaces) a workflow secret: the value goes to the keychain, the name to the list.
    pub fn set_workflow_secret(&self, name: &str, value: &Secret) -> Result<()> {
        check_name(name)?;
        if value.expose().is_empty() {
            return Err(ValidationError::new("value", "a secret cannot be empty").into());
        }
        self.secrets()?.set(&format!("{KEYCHAIN_PREFIX}{name}"), value)?;
        let mut names = self.workflow_secrets()?;
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
            names.sort();
            self.store.write(|w| w.set_setting(NAMES_SETTING, &Value::from(names)))?;
        }
        Ok(())
    }

    /// Removes a workflow secret (not found when there is none of that name).
    pub fn delete_workflow_secret(&self, name: &str) -> Result<()> {
        check_name(name)?;
        let had = self.secrets()?.delete(&format!("{KEYCHAIN_PREFIX}{name}"))?;
        let names: Vec<String> = self.workflow_secrets()?.into_iter().filter(|n| n != name).collect();
        self.store.write(|w| w.set_setting(NAMES_SETTING, &Value::from(names)))?;
        if !had {
            return Err(hearth_store::Error::NotFound { field: "name", entity: "workflow secret", id: name.to_owned() }.into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_and_resolved_from_the_store() {
        let store = hearth_secrets::MemoryStore::new();
        store.set("workflow-secret/gh", &Secret::new("ghp_123")).unwrap();
        assert_eq!(references("Bearer {{secret:gh}} and {{secret: other }}"), ["gh", "other"]);
        assert_eq!(resolve("Bearer {{secret:gh}}!", &store).unwrap(), "Bearer ghp_123!");
        assert_eq!(resolve("no secrets {{#start.x#}}", &store).unwrap(), "no secrets {{#start.x#}}");
        let err = resolve("{{secret:missing}}", &store).unwrap_err();
        assert!(err.contains("\"missing\" is not set"), "{err}");
        assert!(check_name("GITHUB_TOKEN").is_ok() && check_name("a b").is_err() && check_name("").is_err());
    }
}
