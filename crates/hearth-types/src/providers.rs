//! Remote providers, the record of every model call, and the price table usage costs come
//! from. All local to a device: a provider's key lives in the OS keychain, never here.

use serde::{Deserialize, Serialize};

use crate::{Handle, Timestamp, ValidationError};

/// A configured provider, as stored (no key: see [`KeyState`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Provider {
    /// What its models are called by: `NAME/model`.
    pub name: String,
    /// A preset (`openai`, `anthropic`, `groq`, ...) or `openai-compatible`.
    pub kind: String,
    pub base_url: String,
    pub default_model: Option<String>,
    /// Sent with every request (never a key: that goes to the keychain).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub headers: serde_json::Map<String, serde_json::Value>,
    pub enabled: bool,
    /// Model ids the provider listed when last asked.
    pub models: Vec<String>,
    pub models_fetched_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A provider to add. Core fills the base URL from the kind's preset when it has one.
#[derive(Clone, Debug, PartialEq)]
pub struct NewProvider {
    pub name: String,
    pub kind: String,
    pub base_url: Option<String>,
    pub default_model: Option<String>,
    pub headers: serde_json::Map<String, serde_json::Value>,
    pub enabled: bool,
}

impl NewProvider {
    pub fn new(name: impl Into<String>, kind: impl Into<String>) -> Self {
        Self { name: name.into(), kind: kind.into(), base_url: None, default_model: None, headers: Default::default(), enabled: true }
    }
}

/// Changes to a provider; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProviderPatch {
    pub base_url: Option<String>,
    /// `Some(None)` clears it.
    pub default_model: Option<Option<String>>,
    pub headers: Option<serde_json::Map<String, serde_json::Value>>,
    pub enabled: Option<bool>,
}

/// Whether a provider's key is set, shown the only way it is ever shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyState {
    pub set: bool,
    /// The key's last four characters (none for short keys).
    pub last_four: Option<String>,
    /// Why the keychain could not say (locked, absent); `set` is then false.
    pub error: Option<String>,
}

/// A provider name: a handle (lowercase letters, digits, dashes), since it prefixes model
/// names (`groq/llama-3.1-8b-instant`) and `local` is taken by the local models.
pub fn provider_name(name: &str) -> Result<String, ValidationError> {
    let handle = Handle::parse(name.trim()).map_err(|e| ValidationError::new("name", e.reason))?;
    if handle.as_str() == "local" {
        return Err(ValidationError::new("name", "\"local\" names the models on this device; choose another name"));
    }
    Ok(handle.as_str().to_owned())
}

crate::text_enum! {
    /// How a model call ended.
    pub enum CallOutcome: "outcome" { Ok = "ok", Cancelled = "cancelled", Error = "error" }
}

/// One model call, local or remote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewCall {
    /// `local` or a provider name.
    pub provider: String,
    pub model: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub time_to_first_token_ms: Option<u64>,
    pub duration_ms: u64,
    pub outcome: CallOutcome,
    /// Why it failed (provider messages are redacted before they get here).
    pub error: Option<String>,
}

/// Calls summed per day (UTC), provider and model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageRow {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub provider: String,
    pub model: String,
    pub calls: u64,
    pub errors: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Mean time to first token of the calls that produced one.
    pub avg_time_to_first_token_ms: Option<f64>,
    pub duration_ms: u64,
    /// In the price table's currency; `None` when no price is known (local models cost 0).
    pub cost: Option<f64>,
}

/// A price per million tokens. `model` `*` applies to every model of the provider without
/// a price of its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Price {
    pub provider: String,
    pub model: String,
    pub input_per_million: f64,
    pub output_per_million: f64,
}

impl Price {
    pub fn checked(&self) -> Result<Price, ValidationError> {
        for (field, v) in [("input_per_million", self.input_per_million), ("output_per_million", self.output_per_million)] {
            if !v.is_finite() || v < 0.0 {
                return Err(ValidationError::new(field, "must be a number, 0 or more"));
            }
        }
        let provider = crate::non_blank("provider", &self.provider)?;
        let model = crate::non_blank("model", &self.model)?;
        Ok(Price { provider, model, ..self.clone() })
    }
}

/// A provider as surfaces show it: the record, what its kind means, and its key's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderInfo {
    #[serde(flatten)]
    pub provider: Provider,
    /// The preset's display name ("OpenAI", "Any OpenAI-compatible server").
    pub label: String,
    /// `openai` or `anthropic`: the wire format it speaks.
    pub protocol: String,
    pub needs_key: bool,
    pub key: KeyState,
}
