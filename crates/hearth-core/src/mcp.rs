//! MCP servers the user attaches, whose tools Hearth may use: a command it starts (stdio) or
//! a URL (Streamable HTTP), for every workspace or one.
//!
//! The list is a local setting Hearth manages (`mcp.servers`, never synced: a command line or
//! a path belongs to this device, and a plain settings write cannot change it). Values that
//! are secret (an API key in the server's environment, an `Authorization` header) live only in
//! the keychain, under `mcp/<server>/<name>`; the list holds their names. [`Core::mcp_launch`]
//! puts them back in when the server is reached. Talking to servers is `hearth-mcp`'s part.

use std::collections::BTreeMap;

use hearth_secrets::Secret;
use hearth_types::{ValidationError, WorkspaceId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Core, Result, WorkspaceRef};

/// The local setting that lists the servers (not writable as a plain setting).
pub(crate) const SERVERS_SETTING: &str = "mcp.servers";
const KEYCHAIN_PREFIX: &str = "mcp/";

/// How a server is reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "transport", rename_all = "snake_case")]
pub enum McpTransport {
    /// A program Hearth starts, speaking MCP on its stdin and stdout.
    Stdio {
        command: String,
        #[serde(default)]
        args: Vec<String>,
        /// Environment variables besides Hearth's own (secret ones are kept apart).
        #[serde(default)]
        env: BTreeMap<String, String>,
    },
    /// A server at a URL (Streamable HTTP).
    Http {
        url: String,
        /// Request headers (secret ones are kept apart).
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
}

/// An attached server as listed: never a secret's value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpServer {
    pub name: String,
    #[serde(flatten)]
    pub transport: McpTransport,
    /// Only this workspace's chats use it; every workspace's when absent.
    pub workspace_id: Option<WorkspaceId>,
    pub enabled: bool,
    /// The environment variables (stdio) or headers (HTTP) whose values are in the keychain.
    #[serde(default)]
    pub secrets: Vec<String>,
}

/// A server to attach (or to replace, by name).
#[derive(Clone, Debug)]
pub struct NewMcpServer {
    pub name: String,
    pub transport: McpTransport,
    pub workspace: Option<WorkspaceRef>,
    pub enabled: bool,
    /// Secret environment variables (stdio) or headers (HTTP), by name.
    pub secrets: BTreeMap<String, Secret>,
}

/// What it takes to reach a server: its transport with the secrets put back in. Its `Debug`
/// shows no environment or header value.
#[derive(Clone)]
pub struct McpLaunch {
    pub name: String,
    pub transport: McpTransport,
}

impl std::fmt::Debug for McpLaunch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (target, names): (&str, Vec<&String>) = match &self.transport {
            McpTransport::Stdio { command, env, .. } => (command, env.keys().collect()),
            McpTransport::Http { url, headers } => (url, headers.keys().collect()),
        };
        f.debug_struct("McpLaunch").field("name", &self.name).field("target", &target).field("values_for", &names).finish()
    }
}

/// A server's name: 1 to 64 letters, digits, `_` or `-` (it prefixes its tools' names).
pub fn check_server_name(name: &str) -> std::result::Result<(), ValidationError> {
    let ok = (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if ok { Ok(()) } else { Err(ValidationError::new("name", format!("{name:?} is not 1 to 64 letters, digits, '_' or '-'"))) }
}

fn check_transport(transport: &McpTransport, secrets: &BTreeMap<String, Secret>) -> std::result::Result<(), ValidationError> {
    let (keys, kind): (Vec<&String>, &str) = match transport {
        McpTransport::Stdio { command, env, .. } => {
            if command.trim().is_empty() {
                return Err(ValidationError::new("command", "a stdio server needs the command that starts it"));
            }
            (env.keys().collect(), "environment variable")
        }
        McpTransport::Http { url, headers } => {
            let origin = hearth_llm::fetch::origin(url.trim())
                .ok_or_else(|| ValidationError::new("url", format!("{url:?} is not an http or https URL")))?;
            let (scheme, authority) = origin.split_once("://").unwrap_or(("", &origin));
            let host = match authority.find(']') {
                Some(end) if authority.starts_with('[') => &authority[..=end],
                _ => authority.split(':').next().unwrap_or(authority),
            };
            // Headers (keys among them) would cross the network in clear.
            if scheme == "http" && !hearth_types::is_loopback_host(host) {
                return Err(ValidationError::new("url", "http:// is for this machine only; a server elsewhere needs https://"));
            }
            (headers.keys().collect(), "header")
        }
    };
    for name in keys.iter().copied().chain(secrets.keys()) {
        let ok = !name.is_empty() && name.len() <= 128 && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        if !ok {
            return Err(ValidationError::new("secrets", format!("{kind} name {name:?} must be letters, digits, '_' or '-'")));
        }
    }
    if let Some(both) = secrets.keys().find(|k| keys.contains(k)) {
        return Err(ValidationError::new("secrets", format!("{both:?} is given both as a plain {kind} and as a secret")));
    }
    if secrets.values().any(|s| s.expose().is_empty()) {
        return Err(ValidationError::new("secrets", "a secret cannot be empty"));
    }
    Ok(())
}

impl Core {
    /// Every attached server, in name order.
    pub fn mcp_servers(&self) -> Result<Vec<McpServer>> {
        let listed = self.store.read(|r| r.setting(SERVERS_SETTING))?;
        let mut servers: Vec<McpServer> = match listed {
            Some(Value::Array(items)) => items.into_iter().filter_map(|v| serde_json::from_value(v).ok()).collect(),
            _ => Vec::new(),
        };
        servers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(servers)
    }

    /// One attached server by name.
    pub fn mcp_server(&self, name: &str) -> Result<McpServer> {
        self.mcp_servers()?
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| hearth_store::Error::NotFound { field: "name", entity: "MCP server", id: name.to_owned() }.into())
    }

    /// Attaches a server, or replaces the one of that name (its old secrets are removed).
    pub fn put_mcp_server(&self, new: NewMcpServer) -> Result<McpServer> {
        check_server_name(&new.name)?;
        check_transport(&new.transport, &new.secrets)?;
        let workspace_id = new.workspace.as_ref().map(|w| self.workspace(w)).transpose()?.map(|w| w.id);
        // The new secrets first, then the list, then the old secrets no longer named: a
        // failure on the way leaves the old entry whole, or the new one whole.
        if !new.secrets.is_empty() {
            let store = self.secrets()?;
            for (key, value) in &new.secrets {
                store.set(&keychain_name(&new.name, key), value)?;
            }
        }
        let mut servers = self.mcp_servers()?;
        let old = servers.iter().position(|s| s.name == new.name).map(|i| servers.remove(i));
        let server = McpServer {
            name: new.name,
            transport: new.transport,
            workspace_id,
            enabled: new.enabled,
            secrets: new.secrets.into_keys().collect(),
        };
        servers.push(server.clone());
        self.save_mcp_servers(&servers)?;
        if let Some(mut old) = old {
            old.secrets.retain(|k| !server.secrets.contains(k));
            self.forget_mcp_secrets(&old)?;
        }
        Ok(server)
    }

    /// Turns a server on or off, changing nothing else (its secrets stay in the keychain).
    pub fn set_mcp_server_enabled(&self, name: &str, enabled: bool) -> Result<McpServer> {
        let mut servers = self.mcp_servers()?;
        let Some(server) = servers.iter_mut().find(|s| s.name == name) else {
            return Err(hearth_store::Error::NotFound { field: "name", entity: "MCP server", id: name.to_owned() }.into());
        };
        server.enabled = enabled;
        let changed = server.clone();
        self.save_mcp_servers(&servers)?;
        Ok(changed)
    }

    /// Detaches a server and forgets its secrets.
    pub fn remove_mcp_server(&self, name: &str) -> Result<()> {
        let server = self.mcp_server(name)?;
        self.forget_mcp_secrets(&server)?;
        let servers: Vec<McpServer> = self.mcp_servers()?.into_iter().filter(|s| s.name != name).collect();
        self.save_mcp_servers(&servers)
    }

    /// How to reach a server, with its secrets from the keychain.
    pub fn mcp_launch(&self, name: &str) -> Result<McpLaunch> {
        let server = self.mcp_server(name)?;
        let store = if server.secrets.is_empty() { None } else { Some(self.secrets()?) };
        let mut transport = server.transport;
        for key in &server.secrets {
            let value = store.as_ref().map(|s| s.get(&keychain_name(name, key))).transpose()?.flatten().ok_or_else(|| {
                ValidationError::new(
                    "secrets",
                    format!("the secret {key:?} of MCP server {name:?} is missing from the keychain; add the server again"),
                )
            })?;
            match &mut transport {
                McpTransport::Stdio { env, .. } => env.insert(key.clone(), value.expose().to_owned()),
                McpTransport::Http { headers, .. } => headers.insert(key.clone(), value.expose().to_owned()),
            };
        }
        Ok(McpLaunch { name: server.name, transport })
    }

    fn forget_mcp_secrets(&self, server: &McpServer) -> Result<()> {
        if server.secrets.is_empty() {
            return Ok(());
        }
        let store = self.secrets()?;
        for key in &server.secrets {
            store.delete(&keychain_name(&server.name, key))?;
        }
        Ok(())
    }

    fn save_mcp_servers(&self, servers: &[McpServer]) -> Result<()> {
        let value = serde_json::to_value(servers).map_err(|e| ValidationError::new("mcp", e.to_string()))?;
        Ok(self.store.write(|w| w.set_setting(SERVERS_SETTING, &value))?)
    }
}

fn keychain_name(server: &str, key: &str) -> String {
    format!("{KEYCHAIN_PREFIX}{server}/{key}")
}

#[cfg(test)]
mod tests;
