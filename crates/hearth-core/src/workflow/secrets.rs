//! Secrets for workflows: values an http node's headers name as `{{secret:NAME}}` instead of
//! holding them. A workflow definition travels in plain text (SQLite, Supabase, exports), so a
//! key written into a header would travel with it; a secret stays in the OS keychain, under
//! `workflow-secret/NAME`, and is put into the request only when the node runs. The record of
//! the run never holds it: header values are not recorded.
//!
//! Each secret is bound to the one origin (scheme, host and port) it was set for, as a
//! provider's key is: definitions arrive by import and sync, and one that names a secret must
//! not be able to send it anywhere else. The names and origins are kept beside (in a local
//! setting Hearth manages), since a keychain cannot be listed; the values only in the keychain.

use hearth_secrets::{Secret, SecretStore};
use hearth_types::ValidationError;
use serde_json::{Map, Value};

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

/// Why a secret could not be put into a request.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SecretUseError {
    #[error("the secret {0:?} is not set (hearth workflow secret set {0} --origin ORIGIN, or PUT /api/v1/secrets/{0})")]
    NotSet(String),
    #[error("the secret {name:?} is for {origin}, not {to}: it is sent only to the origin it was set for")]
    OtherOrigin { name: String, origin: String, to: String },
    #[error("the secret {name:?} could not be read: {source}")]
    Keychain { name: String, source: hearth_secrets::SecretError },
}

/// `text` with every `{{secret:NAME}}` replaced by the secret's value from `store`, each only
/// when `origins` binds it to `to` (the request's origin).
pub(crate) fn resolve(
    text: &str,
    to: &str,
    origins: &Map<String, Value>,
    store: &dyn SecretStore,
) -> std::result::Result<String, SecretUseError> {
    if !text.contains(OPEN) {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(OPEN) {
        let after = &rest[at + OPEN.len()..];
        let Some(end) = after.find(CLOSE) else { break };
        let name = after[..end].trim();
        let origin = origins.get(name).and_then(Value::as_str).ok_or_else(|| SecretUseError::NotSet(name.to_owned()))?;
        if origin != to {
            return Err(SecretUseError::OtherOrigin { name: name.to_owned(), origin: origin.to_owned(), to: to.to_owned() });
        }
        let value = store
            .get(&format!("{KEYCHAIN_PREFIX}{name}"))
            .map_err(|source| SecretUseError::Keychain { name: name.to_owned(), source })?
            .ok_or_else(|| SecretUseError::NotSet(name.to_owned()))?;
        out.push_str(&rest[..at]);
        out.push_str(value.expose());
        rest = &after[end + CLOSE.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A workflow secret as listed: its name and the origin it is sent to, never its value.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WorkflowSecret {
    pub name: String,
    pub origin: String,
}

impl Core {
    /// The name → origin of every workflow secret set on this device.
    pub(crate) fn workflow_secret_origins(&self) -> Result<Map<String, Value>> {
        Ok(match self.store.read(|r| r.setting(NAMES_SETTING))? {
            Some(Value::Object(o)) => o,
            _ => Map::new(),
        })
    }

    /// The workflow secrets set on this device (names and origins), sorted by name.
    pub fn workflow_secrets(&self) -> Result<Vec<WorkflowSecret>> {
        let origins = self.workflow_secret_origins()?;
        let mut all: Vec<WorkflowSecret> = origins
            .iter()
            .filter_map(|(name, origin)| origin.as_str().map(|o| WorkflowSecret { name: name.clone(), origin: o.to_owned() }))
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// Sets (or replaces) a workflow secret for `origin` (a URL; its scheme, host and port are
    /// kept): the value goes to the keychain, the name and origin to the list.
    pub fn set_workflow_secret(&self, name: &str, origin: &str, value: &Secret) -> Result<WorkflowSecret> {
        check_name(name)?;
        let origin = hearth_llm::fetch::origin(origin.trim()).ok_or_else(|| {
            ValidationError::new("origin", format!("{origin:?} is not an http or https URL (the secret is sent only there)"))
        })?;
        if value.expose().is_empty() {
            return Err(ValidationError::new("value", "a secret cannot be empty").into());
        }
        self.secrets()?.set(&format!("{KEYCHAIN_PREFIX}{name}"), value)?;
        let mut origins = self.workflow_secret_origins()?;
        origins.insert(name.to_owned(), Value::String(origin.clone()));
        self.store.write(|w| w.set_setting(NAMES_SETTING, &Value::Object(origins)))?;
        Ok(WorkflowSecret { name: name.to_owned(), origin })
    }

    /// Removes a workflow secret (not found when there is none of that name).
    pub fn delete_workflow_secret(&self, name: &str) -> Result<()> {
        check_name(name)?;
        let had = self.secrets()?.delete(&format!("{KEYCHAIN_PREFIX}{name}"))?;
        let mut origins = self.workflow_secret_origins()?;
        let listed = origins.remove(name).is_some();
        self.store.write(|w| w.set_setting(NAMES_SETTING, &Value::Object(origins)))?;
        if !had && !listed {
            return Err(hearth_store::Error::NotFound { field: "name", entity: "workflow secret", id: name.to_owned() }.into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_and_resolved_from_the_store_for_their_origin_only() {
        let store = hearth_secrets::MemoryStore::new();
        store.set("workflow-secret/gh", &Secret::new("ghp_123")).unwrap();
        let origins: Map<String, Value> = serde_json::from_value(serde_json::json!({"gh": "https://api.github.com"})).unwrap();
        let gh = "https://api.github.com";
        assert_eq!(references("Bearer {{secret:gh}} and {{secret: other }}"), ["gh", "other"]);
        assert_eq!(resolve("Bearer {{secret:gh}}!", gh, &origins, &store).unwrap(), "Bearer ghp_123!");
        assert_eq!(resolve("no secrets {{#start.x#}}", gh, &origins, &store).unwrap(), "no secrets {{#start.x#}}");
        let err = resolve("{{secret:gh}}", "https://evil.example", &origins, &store).unwrap_err().to_string();
        assert!(err.contains("is for https://api.github.com, not https://evil.example"), "{err}");
        let err = resolve("{{secret:missing}}", gh, &origins, &store).unwrap_err().to_string();
        assert!(err.contains("\"missing\" is not set"), "{err}");
        assert!(check_name("GITHUB_TOKEN").is_ok() && check_name("a b").is_err() && check_name("").is_err());
    }
}
