//! The attached MCP servers while the app runs: started with it, watched, restarted after a
//! failure with a growing pause, and stopped with it.
//!
//! [`Hub::run`] is the one task that changes connections. It wakes when the list changes
//! ([`Hub::changed`]), when a failed server's pause is over, or when a call found a server
//! gone; each time it makes the live set match the list: a new or changed server is
//! connected (handshake, then its tool list, each with a time limit), a removed or disabled
//! one closed. Replies read the live set ([`Hub::tools`], [`Hub::call`]) without waiting for
//! any of this: a server still starting, or failed, simply offers no tools yet.
//!
//! A tool's name, as models see it, is `<server>__<tool>` (characters outside
//! `[A-Za-z0-9_-]` become `_`; a name past 64 characters is left out, saying so in the log), so
//! two servers' tools never collide, nor with Hearth's own (whose names have no `__`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hearth_core::{Core, McpServer, ServerHealth, ToolOutput, ToolSpec};
use hearth_types::WorkspaceId;
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::client::{self, CALL_TIMEOUT, Connection, HANDSHAKE_TIMEOUT, ToolInfo};

/// The first pause after a failure; it doubles with each failure in a row, up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const MAX_PAUSE: Duration = Duration::from_secs(300);
/// What joins a server's name and its tool's in the name a model sees.
const SEPARATOR: &str = "__";

/// One server's place in the live set.
enum Live {
    Starting,
    Ready { connection: Arc<Connection>, tools: Vec<ToolInfo> },
    Failed { error: String, attempts: u32, retry_at: Instant },
    Disabled,
}

struct Entry {
    /// The server as listed when this entry was made; a change to it reconnects.
    config: McpServer,
    live: Live,
}

/// The live set of attached servers (see the module docs).
pub struct Hub {
    core: Arc<Core>,
    entries: Mutex<HashMap<String, Entry>>,
    wake: Notify,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl Hub {
    pub fn new(core: Arc<Core>) -> Arc<Self> {
        Arc::new(Self { core, entries: Mutex::default(), wake: Notify::new() })
    }

    /// Wakes the task: the list of servers changed.
    pub fn changed(&self) {
        self.wake.notify_one();
    }

    /// Keeps the live set matching the list until `closing` is cancelled, then closes every
    /// connection (a stdio server's process ends with it).
    pub async fn run(self: Arc<Self>, closing: CancellationToken) {
        loop {
            let next = self.settle().await;
            let pause = next.map_or(Duration::from_secs(3600), |at| at.saturating_duration_since(Instant::now()));
            tokio::select! {
                _ = closing.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
        let open: Vec<Arc<Connection>> = self
            .entries
            .lock()
            .expect("hub lock")
            .drain()
            .filter_map(|(_, e)| match e.live {
                Live::Ready { connection, .. } => Some(connection),
                _ => None,
            })
            .collect();
        for connection in open {
            if let Ok(connection) = Arc::try_unwrap(connection) {
                connection.close().await;
            }
        }
        tracing::info!("MCP servers stopped");
    }

    /// One pass: connects what should be and is not, drops what should not be. Returns when
    /// the next failed server is due again.
    async fn settle(&self) -> Option<Instant> {
        let core = self.core.clone();
        let listed = match tokio::task::spawn_blocking(move || core.mcp_servers()).await {
            Ok(Ok(listed)) => listed,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not read the MCP servers");
                return Some(Instant::now() + Duration::from_secs(30));
            }
            Err(_) => return None,
        };
        let mut due = Vec::new();
        {
            let mut entries = self.entries.lock().expect("hub lock");
            entries.retain(|name, e| listed.iter().any(|s| &s.name == name && *s == e.config));
            for server in &listed {
                let entry = entries.entry(server.name.clone()).or_insert_with(|| Entry { config: server.clone(), live: Live::Starting });
                match &entry.live {
                    _ if !server.enabled => entry.live = Live::Disabled,
                    Live::Starting => due.push((server.name.clone(), 0)),
                    Live::Failed { attempts, retry_at, .. } if *retry_at <= Instant::now() => due.push((server.name.clone(), *attempts)),
                    _ => {}
                }
            }
        }
        for (name, attempts) in due {
            let live = self.start(&name, attempts).await;
            if let Some(entry) = self.entries.lock().expect("hub lock").get_mut(&name) {
                entry.live = live;
            }
        }
        self.entries
            .lock()
            .expect("hub lock")
            .values()
            .filter_map(|e| match e.live {
                Live::Failed { retry_at, .. } => Some(retry_at),
                _ => None,
            })
            .min()
    }

    /// Connects one server and reads its tools.
    async fn start(&self, name: &str, attempts: u32) -> Live {
        let core = self.core.clone();
        let owned = name.to_owned();
        let launch = match tokio::task::spawn_blocking(move || core.mcp_launch(&owned)).await {
            Ok(Ok(launch)) => launch,
            Ok(Err(e)) => return failed(name, e.to_string(), attempts),
            Err(e) => return failed(name, e.to_string(), attempts),
        };
        let connection = match client::connect(&launch, HANDSHAKE_TIMEOUT).await {
            Ok(connection) => connection,
            Err(e) => return failed(name, e.to_string(), attempts),
        };
        match connection.tools(HANDSHAKE_TIMEOUT).await {
            Ok(tools) => {
                tracing::info!(server = name, tools = tools.len(), "MCP server ready");
                Live::Ready { connection: Arc::new(connection), tools }
            }
            Err(e) => {
                connection.close().await;
                failed(name, e.to_string(), attempts)
            }
        }
    }

    /// The tools of the ready servers a reply in `workspace` may use.
    pub fn tools(&self, workspace: WorkspaceId) -> Vec<ToolSpec> {
        let entries = self.entries.lock().expect("hub lock");
        let mut names: Vec<&String> = entries.keys().collect();
        names.sort();
        let mut out = Vec::new();
        for name in names {
            let entry = &entries[name];
            if entry.config.workspace_id.is_some_and(|w| w != workspace) {
                continue;
            }
            let Live::Ready { tools, .. } = &entry.live else { continue };
            for tool in tools {
                let Some(full) = model_name(name, &tool.name) else {
                    tracing::warn!(server = %name, tool = %tool.name, "an MCP tool's name is too long to offer");
                    continue;
                };
                if out.iter().any(|t: &ToolSpec| t.name == full) {
                    continue;
                }
                // Every server's tool asks first: the server's own "read-only" hint is its
                // word, not the person's (who can allow a tool for good).
                out.push(ToolSpec {
                    name: full,
                    description: tool.description.clone(),
                    parameters: tool.input_schema.clone(),
                    asks: true,
                    source: name.clone(),
                });
            }
        }
        out
    }

    /// Calls a server's tool; a server found gone is marked failed and started again.
    pub async fn call(&self, name: &str, arguments: Value) -> ToolOutput {
        let found = {
            let entries = self.entries.lock().expect("hub lock");
            entries.iter().find_map(|(server, e)| match &e.live {
                Live::Ready { connection, tools } => tools
                    .iter()
                    .find(|t| model_name(server, &t.name).as_deref() == Some(name))
                    .map(|t| (server.clone(), connection.clone(), t.name.clone())),
                _ => None,
            })
        };
        let Some((server, connection, tool)) = found else {
            return ToolOutput::error(format!("the tool {name:?} is not available now (its MCP server is not running)"));
        };
        let arguments = match arguments {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        match connection.call(&tool, arguments, CALL_TIMEOUT).await {
            Ok(outcome) => {
                let mut text = outcome.text;
                if outcome.truncated {
                    text.push_str("\n[the server's answer was longer and was cut]");
                }
                ToolOutput { text, is_error: outcome.is_error }
            }
            Err(e) => {
                if matches!(e, client::ClientError::Gone { .. }) {
                    let mut entries = self.entries.lock().expect("hub lock");
                    // Unless the task already replaced this connection.
                    if let Some(entry) = entries.get_mut(&server)
                        && matches!(&entry.live, Live::Ready { connection: c, .. } if Arc::ptr_eq(c, &connection))
                    {
                        entry.live = failed(&server, e.to_string(), 0);
                    }
                    drop(entries);
                    self.changed();
                }
                ToolOutput::error(e.to_string())
            }
        }
    }

    /// Each listed server's health, by name.
    pub fn health(&self) -> Vec<(String, ServerHealth)> {
        let entries = self.entries.lock().expect("hub lock");
        let mut out: Vec<(String, ServerHealth)> = entries
            .iter()
            .map(|(name, e)| {
                let health = match &e.live {
                    Live::Starting => ServerHealth::Starting,
                    Live::Ready { tools, .. } => ServerHealth::Ready { tools: tools.len() as u32 },
                    Live::Failed { error, attempts, .. } => ServerHealth::Failed { error: error.clone(), attempts: *attempts },
                    Live::Disabled => ServerHealth::Disabled,
                };
                (name.clone(), health)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// A failure, with the pause before the next try.
fn failed(name: &str, error: String, attempts_before: u32) -> Live {
    let attempts = attempts_before + 1;
    let pause = FIRST_PAUSE.saturating_mul(1 << (attempts - 1).min(16)).min(MAX_PAUSE);
    tracing::warn!(server = name, attempts, retry_in_s = pause.as_secs(), error = %error, "MCP server failed");
    Live::Failed { error, attempts, retry_at: Instant::now() + pause }
}

/// `<server>__<tool>` with characters a model's tool name cannot hold made `_`; `None` past
/// 64 characters.
fn model_name(server: &str, tool: &str) -> Option<String> {
    let clean: String = tool.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    let full = format!("{server}{SEPARATOR}{clean}");
    (full.len() <= 64).then_some(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_are_qualified_and_cleaned() {
        assert_eq!(model_name("time", "get_current_time").as_deref(), Some("time__get_current_time"));
        assert_eq!(model_name("fs", "read.file/v2").as_deref(), Some("fs__read_file_v2"));
        assert_eq!(model_name("s", &"x".repeat(70)), None);
    }

    #[test]
    fn pauses_grow_and_stop_growing() {
        let pause = |attempts| match failed("s", String::new(), attempts) {
            Live::Failed { retry_at, .. } => retry_at.saturating_duration_since(Instant::now()),
            _ => unreachable!(),
        };
        assert!(pause(0) <= FIRST_PAUSE);
        assert!(pause(3) > Duration::from_secs(7));
        assert!(pause(40) <= MAX_PAUSE);
    }
}
