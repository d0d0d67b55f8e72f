//! `hearth providers ...` and `hearth usage`: remote providers, their keys, and what every
//! model call cost.
//!
//! A key is read from a prompt (without echo) or from standard input, never from an argument:
//! arguments land in shell history and in every user's view of the process list.

use std::sync::Arc;

use clap::{Args, Subcommand};
use hearth_core::{Core, Secret};
use hearth_types::{NewProvider, Price, ProviderInfo, ProviderPatch};

use crate::failure::{CmdResult, Failure};
use crate::output::{Output, table};

#[derive(Debug, Subcommand)]
pub(crate) enum ProvidersCommand {
    /// Add a provider (its key is set apart, with `hearth providers key set NAME`)
    Add {
        /// What its models are called by: NAME/model
        name: String,
        /// openai, anthropic, groq, openrouter, mistral, deepseek, together, gemini, ollama,
        /// lmstudio, llamacpp, or openai-compatible (any other server speaking OpenAI's API)
        #[arg(long)]
        kind: String,
        /// The API root, e.g. http://127.0.0.1:8080/v1 [default: the kind's]
        #[arg(long)]
        base_url: Option<String>,
        /// The model `NAME/` alone means
        #[arg(long)]
        model: Option<String>,
        /// An extra header for every request, as NAME=VALUE (repeatable; never a key)
        #[arg(long = "header", value_name = "NAME=VALUE")]
        headers: Vec<String>,
    },
    /// List providers, whether their key is set, and their models
    List,
    /// Check a provider's URL and key by listing its models (kept for /v1/models)
    Test { name: String },
    /// Change a provider
    Update {
        name: String,
        /// A new API root; on another scheme, host or port it needs --key too (a stored key
        /// only goes to the host it was set for)
        #[arg(long)]
        base_url: Option<String>,
        /// The default model; an empty value clears it
        #[arg(long)]
        model: Option<String>,
        /// Also set the key, read as `key set` reads it (a prompt, or standard input)
        #[arg(long)]
        key: bool,
    },
    /// Use a provider again
    Enable { name: String },
    /// Stop using a provider (its key stays)
    Disable { name: String },
    /// Remove a provider and its key
    Rm { name: String },
    /// Set or remove a provider's key in the OS keychain
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Read the key from a prompt, or from standard input when it is not a terminal
    Set { name: String },
    /// Remove the key from the keychain
    Rm { name: String },
}

pub(crate) fn run(cmd: ProvidersCommand, core: &Arc<Core>, out: &Output) -> CmdResult {
    match cmd {
        ProvidersCommand::Add { name, kind, base_url, model: default_model, headers } => {
            let mut map = serde_json::Map::new();
            for h in headers {
                let (k, v) =
                    h.split_once('=').ok_or_else(|| hearth_types::ValidationError::new("headers", format!("{h:?} is not NAME=VALUE")))?;
                map.insert(k.trim().to_owned(), v.trim().into());
            }
            let new = NewProvider { base_url, default_model, headers: map, ..NewProvider::new(name, kind) };
            let p = core.add_provider(&new)?;
            out.show(&p, || format!("added {} ({}, {})\n{}", p.provider.name, p.label, p.provider.base_url, key_hint(&p)));
        }
        ProvidersCommand::List => {
            let all = core.providers()?;
            out.show(&all, || {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|p| {
                        vec![
                            p.provider.name.clone(),
                            p.provider.kind.clone(),
                            p.provider.base_url.clone(),
                            key_cell(p),
                            p.provider.default_model.clone().unwrap_or_default(),
                            if p.provider.enabled { p.provider.models.len().to_string() } else { "disabled".into() },
                        ]
                    })
                    .collect();
                table(&["NAME", "KIND", "BASE URL", "KEY", "DEFAULT MODEL", "MODELS"], &rows)
            });
        }
        ProvidersCommand::Test { name } => {
            let p = core.refresh_provider_models(&name)?;
            out.show(&p, || {
                let shown: Vec<&str> = p.provider.models.iter().take(20).map(String::as_str).collect();
                let more = p.provider.models.len().saturating_sub(shown.len());
                format!(
                    "{}: ok, {} models{}{}",
                    p.provider.name,
                    p.provider.models.len(),
                    if shown.is_empty() { String::new() } else { format!(": {}", shown.join(", ")) },
                    if more > 0 { format!(" and {more} more") } else { String::new() }
                )
            });
        }
        ProvidersCommand::Update { name, base_url, model: default_model, key } => {
            let patch =
                ProviderPatch { base_url, default_model: default_model.map(|m| Some(m).filter(|m| !m.is_empty())), ..Default::default() };
            let key = if key {
                core.provider(&name)?; // an unknown provider fails before the prompt
                Some(read_key(&name)?)
            } else {
                None
            };
            let p = core.update_provider(&name, &patch, key.as_ref())?;
            out.show(&p, || format!("updated {}\n{}", p.provider.name, key_hint(&p)));
        }
        ProvidersCommand::Enable { name } => toggle(core, out, &name, true)?,
        ProvidersCommand::Disable { name } => toggle(core, out, &name, false)?,
        ProvidersCommand::Rm { name } => {
            core.remove_provider(&name)?;
            out.show(&serde_json::json!({ "removed": name }), || format!("removed {name} and its key"));
        }
        ProvidersCommand::Key(KeyCommand::Set { name }) => {
            core.provider(&name)?; // an unknown provider fails before the prompt
            let key = read_key(&name)?;
            let p = core.set_provider_key(&name, &key)?;
            out.show(&p, || format!("{}: {} (in the {} keychain)", p.provider.name, key_hint(&p), backend(core)));
        }
        ProvidersCommand::Key(KeyCommand::Rm { name }) => {
            let p = core.remove_provider_key(&name)?;
            out.show(&p, || format!("{}: {}", p.provider.name, key_hint(&p)));
        }
    }
    Ok(())
}

fn toggle(core: &Core, out: &Output, name: &str, enabled: bool) -> CmdResult {
    let p = core.update_provider(name, &ProviderPatch { enabled: Some(enabled), ..Default::default() }, None)?;
    out.show(&p, || format!("{} {}", p.provider.name, if enabled { "enabled" } else { "disabled" }));
    Ok(())
}

fn backend(core: &Core) -> &'static str {
    core.secrets().map(|s| s.backend()).unwrap_or("unavailable")
}

fn key_cell(p: &ProviderInfo) -> String {
    match (&p.key.error, p.key.set, &p.key.last_four) {
        (Some(_), _, _) => "keychain unavailable".into(),
        (None, true, Some(last)) => format!("…{last}"),
        (None, true, None) => "set".into(),
        (None, false, _) if p.needs_key => "missing".into(),
        (None, false, _) => "-".into(),
    }
}

fn key_hint(p: &ProviderInfo) -> String {
    match (&p.key.error, p.key.set, &p.key.last_four) {
        (Some(e), _, _) => format!("the key's state is unknown: {e}"),
        (None, true, Some(last)) => format!("a key ending in {last} is set"),
        (None, true, None) => "a key is set".into(),
        (None, false, _) if p.needs_key => format!("no key yet: `hearth providers key set {}`", p.provider.name),
        (None, false, _) => "no key (none needed)".into(),
    }
}

/// The key, from a prompt without echo on a terminal, else the first line of stdin.
fn read_key(name: &str) -> Result<Secret, Failure> {
    Ok(Secret::new(crate::prompt::read_hidden(&format!("API key for {name}: "))?.trim().to_owned()))
}

// ------------------------------------------------------------------ usage

#[derive(Debug, Args)]
pub(crate) struct UsageArgs {
    /// Only the last N days (UTC, today included)
    #[arg(long)]
    days: Option<u32>,
    #[command(subcommand)]
    command: Option<UsageCommand>,
}

#[derive(Debug, Subcommand)]
enum UsageCommand {
    /// Show the price table
    Prices,
    /// Set a price per million tokens (MODEL `*` covers all of the provider's models)
    Price {
        provider: String,
        model: String,
        #[arg(long)]
        input: f64,
        #[arg(long)]
        output: f64,
    },
}

pub(crate) fn usage(args: UsageArgs, core: &Core, out: &Output) -> CmdResult {
    match args.command {
        Some(UsageCommand::Prices) => {
            let prices = core.prices()?;
            out.show(&prices, || {
                let rows: Vec<Vec<String>> = prices
                    .iter()
                    .map(|p| {
                        vec![p.provider.clone(), p.model.clone(), format!("{}", p.input_per_million), format!("{}", p.output_per_million)]
                    })
                    .collect();
                table(&["PROVIDER", "MODEL", "INPUT/M", "OUTPUT/M"], &rows)
            });
        }
        Some(UsageCommand::Price { provider, model, input, output }) => {
            core.set_price(&Price { provider, model, input_per_million: input, output_per_million: output })?;
            out.show(&core.prices()?, || "price set".into());
        }
        None => {
            let since = args
                .days
                .map(|d| hearth_core::since_days(d).ok_or_else(|| hearth_types::ValidationError::new("days", "too far back")))
                .transpose()?;
            let rows = core.usage(since)?;
            out.show(&rows, || {
                let lines: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.day.clone(),
                            r.provider.clone(),
                            r.model.clone(),
                            r.calls.to_string(),
                            r.errors.to_string(),
                            r.prompt_tokens.to_string(),
                            r.completion_tokens.to_string(),
                            r.avg_time_to_first_token_ms.map_or("-".into(), |t| format!("{t:.0} ms")),
                            r.cost.map_or("-".into(), |c| format!("{c:.4}")),
                        ]
                    })
                    .collect();
                table(&["DAY", "PROVIDER", "MODEL", "CALLS", "ERRORS", "PROMPT", "COMPLETION", "TTFT", "COST"], &lines)
            });
        }
    }
    Ok(())
}
