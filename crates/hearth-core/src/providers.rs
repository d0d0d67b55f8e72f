//! Remote providers: their records (in the store), their keys (in the keychain, and only
//! there), the clients that call them, the call log and the price table.
//!
//! A key goes in through [`Core::set_provider_key`] (or with a changed base URL through
//! [`Core::update_provider`]) and never comes out: surfaces see a [`KeyState`] (set or not,
//! the last four characters). A key only ever goes to the scheme, host and port it was given
//! for: moving a provider to another origin needs its key again. Clients are cached per provider and
//! rebuilt when the record or the key changes, so a key set from the CLI reaches a running
//! server on its next call. Each provider keeps one circuit breaker for the life of the
//! process, whatever its client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use hearth_llm::remote::{
    Breaker, HttpRuntime, Protocol, Remote, RemoteConfig, RetryPolicy, Timeouts, check_base_url, preset_of, same_origin,
};
use hearth_secrets::{Secret, SecretStore};
use hearth_types::{
    KeyState, NewCall, NewProvider, Price, Provider, ProviderInfo, ProviderPatch, Timestamp, UsageRow, ValidationError, provider_name,
};

use crate::{Core, Result};

/// The keychain entry of a provider's key.
fn key_name(provider: &str) -> String {
    format!("provider:{provider}")
}

/// Words that mark a header name as a credential (`authorization`, `proxy-authorization`,
/// `x-api-key`, Azure's `api-key`, `x-goog-api-key`, `x-auth-token`, `cookie`, a gateway's
/// `helicone-auth`, ...): a key belongs in the keychain, not in a header stored in SQLite.
/// Matching words rather than listing names catches the many spellings providers invent; a
/// harmless header that happens to match is refused, which costs less than a stored key.
const CREDENTIAL_WORDS: &[&str] = &["auth", "key", "token", "secret", "cookie", "password", "passwd", "credential"];

/// A cached client with the provider record and key it was built from (rebuilt when either changes).
type CachedClient = (Provider, Option<Secret>, Remote);

/// Remote clients and what outlives them.
pub(crate) struct Remotes {
    runtime: Arc<HttpRuntime>,
    breakers: Mutex<HashMap<String, Arc<Breaker>>>,
    /// Per provider: the record and key a client was built from, and the client.
    clients: Mutex<HashMap<String, CachedClient>>,
    policy: Mutex<(Timeouts, RetryPolicy)>,
}

impl Remotes {
    pub(crate) fn new(runtime: Arc<HttpRuntime>) -> Self {
        Self {
            runtime,
            breakers: Mutex::default(),
            clients: Mutex::default(),
            policy: Mutex::new((Timeouts::default(), RetryPolicy::default())),
        }
    }
}

impl std::fmt::Debug for Remotes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remotes").finish_non_exhaustive()
    }
}

impl Core {
    /// The secret store, opened on first use.
    pub fn secrets(&self) -> Result<Arc<dyn SecretStore>> {
        Ok(self.secrets.get_or_init(|| (self.open_secrets)()).clone()?)
    }

    /// Uses `store` for secrets instead of the one [`Core::open`] was given.
    pub fn with_secrets(mut self, store: Arc<dyn SecretStore>) -> Self {
        self.secrets = OnceLock::from(Ok(store));
        self
    }

    /// Timeouts and retries for remote calls (tests shorten them).
    pub fn set_remote_policy(&self, timeouts: Timeouts, retry: RetryPolicy) {
        *self.remotes.policy.lock().unwrap_or_else(|e| e.into_inner()) = (timeouts, retry);
        self.remotes.clients.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    // ------------------------------------------------------------ records

    /// Adds a provider: the kind must be a preset, the base URL (the preset's unless given)
    /// must be a plain http(s) URL, and headers must not carry credentials.
    pub fn add_provider(&self, new: &NewProvider) -> Result<ProviderInfo> {
        let name = provider_name(&new.name)?;
        let preset = preset_of(new.kind.trim()).ok_or_else(|| {
            let kinds: Vec<&str> = hearth_llm::remote::PRESETS.iter().map(|p| p.kind).collect();
            ValidationError::new("kind", format!("{:?} is not a provider kind; one of: {}", new.kind, kinds.join(", ")))
        })?;
        let base_url = match (new.base_url.as_deref().map(str::trim).filter(|u| !u.is_empty()), preset.base_url) {
            (Some(url), _) | (None, Some(url)) => url,
            (None, None) => return Err(ValidationError::new("base_url", format!("a {} provider needs --base-url", preset.kind)).into()),
        };
        let now = Timestamp::now();
        let provider = Provider {
            name,
            kind: preset.kind.to_owned(),
            base_url: check_base_url(base_url).map_err(|e| ValidationError::new("base_url", e))?,
            default_model: new.default_model.as_deref().map(str::trim).filter(|m| !m.is_empty()).map(str::to_owned),
            headers: checked_headers(&new.headers)?,
            enabled: new.enabled,
            models: Vec::new(),
            models_fetched_at: None,
            created_at: now,
            updated_at: now,
        };
        let provider = self.store.write(|w| w.add_provider(&provider))?;
        tracing::info!(provider = %provider.name, kind = %provider.kind, "added a provider");
        self.info(provider)
    }

    /// Changes a provider; `key`, when given, replaces its key.
    ///
    /// A key goes only where it was given for: a new base URL on another scheme, host or port
    /// is refused (field `api_key`) while a key is stored, unless the new key comes with it.
    /// Whoever holds the API token could otherwise point the provider at their own host and
    /// have the keychain's key sent there. With a new key, the old one is deleted before the
    /// record changes, so a failure part-way leaves a provider without a key, never the old
    /// key with the new host.
    pub fn update_provider(&self, name: &str, patch: &ProviderPatch, key: Option<&Secret>) -> Result<ProviderInfo> {
        let mut patch = patch.clone();
        patch.base_url = patch.base_url.map(|u| check_base_url(&u).map_err(|e| ValidationError::new("base_url", e))).transpose()?;
        patch.headers = patch.headers.as_ref().map(checked_headers).transpose()?;
        patch.default_model = patch.default_model.map(|m| m.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()));
        let key = key.map(|k| checked_key(k, "api_key")).transpose()?;
        let current = self.store.read(|r| r.provider(name))?;
        let moved_from = patch.base_url.as_deref().filter(|url| !same_origin(url, &current.base_url)).map(|_| &current.base_url);
        if let Some(old) = moved_from {
            // Headers stored before the credential rule could carry a key too: they do not
            // follow the provider to another host unless this same change replaces them.
            let kept_headers = if patch.headers.is_some() { None } else { Some(&current.headers) };
            if let Some(name_) =
                kept_headers.and_then(|h| h.keys().find(|k| CREDENTIAL_WORDS.iter().any(|w| k.to_ascii_lowercase().contains(w))))
            {
                return Err(ValidationError::new(
                    "headers",
                    format!("the stored header {name_:?} looks like a credential and would go to the new host; set the headers again with the new base URL"),
                )
                .into());
            }
            match &key {
                None if self.secrets()?.get(&key_name(name))?.is_some() => {
                    return Err(ValidationError::new(
                        "api_key",
                        format!(
                            "the new base URL is on another host than {old}; give the key again with it (api_key, or `hearth providers update {name} --base-url URL --key`): a stored key only goes to the host it was set for"
                        ),
                    )
                    .into());
                }
                None => {}
                Some(_) => {
                    self.secrets()?.delete(&key_name(name))?;
                }
            }
        }
        let provider = self.store.write(|w| w.update_provider(name, &patch))?;
        if let Some(key) = key {
            self.secrets()?.set(&key_name(name), &key)?;
            tracing::info!(provider = %name, "stored a provider key in the keychain");
        }
        if moved_from.is_some() {
            tracing::info!(provider = %name, "moved a provider to another host");
        }
        self.info(provider)
    }

    /// Removes a provider and its key. A keychain that cannot be reached keeps both: the key
    /// is not left behind without a provider to name it.
    pub fn remove_provider(&self, name: &str) -> Result<()> {
        self.store.read(|r| r.provider(name))?;
        self.secrets()?.delete(&key_name(name))?;
        self.store.write(|w| w.remove_provider(name))?;
        self.remotes.clients.lock().unwrap_or_else(|e| e.into_inner()).remove(name);
        tracing::info!(provider = %name, "removed a provider and its key");
        Ok(())
    }

    pub fn providers(&self) -> Result<Vec<ProviderInfo>> {
        self.store.read(|r| r.providers())?.into_iter().map(|p| self.info(p)).collect()
    }

    pub fn provider(&self, name: &str) -> Result<ProviderInfo> {
        self.info(self.store.read(|r| r.provider(name))?)
    }

    fn info(&self, provider: Provider) -> Result<ProviderInfo> {
        let preset = preset_of(&provider.kind).ok_or_else(|| ValidationError::new("kind", format!("unknown kind {:?}", provider.kind)))?;
        let key = match self.secrets().and_then(|s| Ok(s.get(&key_name(&provider.name))?)) {
            Ok(Some(secret)) => KeyState { set: true, last_four: secret.hint(), error: None },
            Ok(None) => KeyState { set: false, last_four: None, error: None },
            Err(e) => KeyState { set: false, last_four: None, error: Some(e.to_string()) },
        };
        Ok(ProviderInfo {
            label: preset.label.to_owned(),
            protocol: match preset.protocol {
                Protocol::OpenAi => "openai",
                Protocol::Anthropic => "anthropic",
            }
            .to_owned(),
            needs_key: preset.needs_key,
            provider,
            key,
        })
    }

    // ------------------------------------------------------------ keys

    /// Keeps a provider's key in the keychain (and nowhere else).
    pub fn set_provider_key(&self, name: &str, key: &Secret) -> Result<ProviderInfo> {
        let provider = self.store.read(|r| r.provider(name))?;
        self.secrets()?.set(&key_name(name), &checked_key(key, "key")?)?;
        tracing::info!(provider = %name, "stored a provider key in the keychain");
        self.info(provider)
    }

    pub fn remove_provider_key(&self, name: &str) -> Result<ProviderInfo> {
        let provider = self.store.read(|r| r.provider(name))?;
        self.secrets()?.delete(&key_name(name))?;
        self.info(provider)
    }

    // ------------------------------------------------------------ clients

    /// A client for a provider, with its key from the keychain.
    pub fn remote(&self, name: &str) -> Result<Remote> {
        let provider = self.store.read(|r| r.provider(name))?;
        if !provider.enabled {
            return Err(ValidationError::new("model", format!("provider {name} is disabled (`hearth providers enable {name}`)")).into());
        }
        let key = self.secrets()?.get(&key_name(name))?;
        let mut clients = self.remotes.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((built_from, built_key, client)) = clients.get(name)
            && *built_from == provider
            && *built_key == key
        {
            return Ok(client.clone());
        }
        let preset = preset_of(&provider.kind).ok_or_else(|| ValidationError::new("kind", format!("unknown kind {:?}", provider.kind)))?;
        let (timeouts, retry) = *self.remotes.policy.lock().unwrap_or_else(|e| e.into_inner());
        let config = RemoteConfig {
            name: provider.name.clone(),
            protocol: preset.protocol,
            base_url: provider.base_url.clone(),
            headers: provider.headers.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect(),
            key: key.clone(),
            needs_key: preset.needs_key,
            timeouts,
            retry,
        };
        let breaker = self.remotes.breakers.lock().unwrap_or_else(|e| e.into_inner()).entry(provider.name.clone()).or_default().clone();
        let client = Remote::new(config, self.remotes.runtime.clone(), breaker)?;
        clients.insert(name.to_owned(), (provider, key, client.clone()));
        Ok(client)
    }

    /// Asks the provider for its models and keeps the list (for `/v1/models` and pickers).
    /// Doubles as a check of the URL and the key.
    pub fn refresh_provider_models(&self, name: &str) -> Result<ProviderInfo> {
        let models = self.remote(name)?.list_models()?;
        let provider = self.store.write(|w| w.set_provider_models(name, &models))?;
        self.info(provider)
    }

    // ------------------------------------------------------------ calls and prices

    /// Logs a model call (the router does, for every call).
    pub fn record_call(&self, call: &NewCall) -> Result<()> {
        Ok(self.store.write(|w| w.record_call(call))?)
    }

    /// Calls since `since`, per UTC day, provider and model, with their cost.
    pub fn usage(&self, since: Option<Timestamp>) -> Result<Vec<UsageRow>> {
        Ok(self.store.read(|r| r.usage(since))?)
    }

    pub fn prices(&self) -> Result<Vec<Price>> {
        Ok(self.store.read(|r| r.prices())?)
    }

    pub fn set_price(&self, price: &Price) -> Result<()> {
        let price = price.checked()?;
        Ok(self.store.write(|w| w.set_price(&price))?)
    }

    pub fn remove_price(&self, provider: &str, model: &str) -> Result<()> {
        Ok(self.store.write(|w| w.remove_price(provider, model))?)
    }
}

/// The start (UTC midnight) of the day `days - 1` days ago: "the last N days" for usage.
pub fn since_days(days: u32) -> Option<Timestamp> {
    let utc = jiff::tz::TimeZone::UTC;
    let today = Timestamp::now().to_zoned(utc.clone()).date();
    let back = jiff::Span::new().try_days(i64::from(days.max(1)) - 1).ok()?;
    let first = today.checked_sub(back).ok()?;
    first.to_zoned(utc).ok().map(|z| z.timestamp())
}

/// A key as the keychain keeps it: trimmed, one line of visible characters. `field` is what
/// the caller's input calls it.
fn checked_key(key: &Secret, field: &'static str) -> Result<Secret> {
    let value = key.expose().trim();
    if value.is_empty() || value.len() > 4096 || value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ValidationError::new(field, "must be one line of visible characters (the key as the provider shows it)").into());
    }
    Ok(Secret::new(value))
}

/// Header names are tokens, values are strings, and nothing carries a credential.
fn checked_headers(headers: &serde_json::Map<String, serde_json::Value>) -> Result<serde_json::Map<String, serde_json::Value>> {
    for (name, value) in headers {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(ValidationError::new("headers", format!("{name:?} is not a header name")).into());
        }
        let lower = name.to_ascii_lowercase();
        if CREDENTIAL_WORDS.iter().any(|word| lower.contains(word)) {
            return Err(ValidationError::new(
                "headers",
                format!("{name} carries a credential; set the key with `hearth providers key set`"),
            )
            .into());
        }
        if value.as_str().is_none_or(|v| v.chars().any(char::is_control)) {
            return Err(ValidationError::new("headers", format!("the value of {name} must be a string on one line")).into());
        }
    }
    Ok(headers.clone())
}
