//! Attached MCP servers: the list, the secrets kept apart from it, and refused configurations.

use std::collections::BTreeMap;
use std::sync::Arc;

use hearth_secrets::Secret;

use super::*;

fn stdio(command: &str) -> McpTransport {
    McpTransport::Stdio { command: command.into(), args: vec!["--flag".into()], env: BTreeMap::from([("MODE".into(), "fast".into())]) }
}

fn new(name: &str, transport: McpTransport, secrets: &[(&str, &str)]) -> NewMcpServer {
    NewMcpServer {
        name: name.into(),
        transport,
        workspace: None,
        enabled: true,
        secrets: secrets.iter().map(|(k, v)| ((*k).to_owned(), Secret::new(*v))).collect(),
    }
}

#[test]
fn servers_are_listed_without_their_secrets_and_launched_with_them() {
    let core = Core::in_memory().unwrap().with_secrets(Arc::new(hearth_secrets::MemoryStore::new()));
    let added = core.put_mcp_server(new("time", stdio("mcp-server-time"), &[("API_KEY", "s3cret")])).unwrap();
    assert_eq!(added.secrets, vec!["API_KEY".to_owned()]);
    let listed = core.mcp_servers().unwrap();
    assert_eq!(listed, vec![added]);
    let stored = serde_json::to_string(&core.settings().unwrap()).unwrap();
    assert!(!stored.contains("s3cret"), "the secret is not in the settings: {stored}");
    let launch = core.mcp_launch("time").unwrap();
    let McpTransport::Stdio { env, .. } = launch.transport else { panic!("stdio") };
    assert_eq!(env.get("API_KEY").map(String::as_str), Some("s3cret"));
    assert_eq!(env.get("MODE").map(String::as_str), Some("fast"));

    // Turning it off and on again keeps its secret.
    assert!(!core.set_mcp_server_enabled("time", false).unwrap().enabled);
    assert!(core.set_mcp_server_enabled("time", true).unwrap().enabled);
    let McpTransport::Stdio { env, .. } = core.mcp_launch("time").unwrap().transport else { panic!("stdio") };
    assert_eq!(env.get("API_KEY").map(String::as_str), Some("s3cret"));
    assert!(core.set_mcp_server_enabled("nope", true).is_err());

    // Replacing keeps one entry and drops the old secret; removing forgets it all.
    core.put_mcp_server(new("time", stdio("other"), &[])).unwrap();
    assert_eq!(core.mcp_servers().unwrap().len(), 1);
    assert_eq!(core.secrets().unwrap().get("mcp/time/API_KEY").unwrap(), None);
    core.remove_mcp_server("time").unwrap();
    assert!(core.mcp_servers().unwrap().is_empty());
    assert!(matches!(core.remove_mcp_server("time"), Err(crate::Error::Store(hearth_store::Error::NotFound { .. }))));
}

#[test]
fn http_servers_take_secret_headers_and_https_off_this_machine() {
    let core = Core::in_memory().unwrap().with_secrets(Arc::new(hearth_secrets::MemoryStore::new()));
    let http = |url: &str| McpTransport::Http { url: url.into(), headers: BTreeMap::new() };
    core.put_mcp_server(new("hf", http("https://huggingface.co/mcp"), &[("Authorization", "Bearer t")])).unwrap();
    let McpTransport::Http { headers, .. } = core.mcp_launch("hf").unwrap().transport else { panic!("http") };
    assert_eq!(headers.get("Authorization").map(String::as_str), Some("Bearer t"));
    core.put_mcp_server(new("local", http("http://127.0.0.1:8931/mcp"), &[])).unwrap();
    let field = |r: Result<McpServer>| match r {
        Err(crate::Error::Invalid(e)) => e.field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(core.put_mcp_server(new("far", http("http://example.com/mcp"), &[]))), "url");
    assert_eq!(field(core.put_mcp_server(new("ftp", http("ftp://example.com/"), &[]))), "url");
    assert_eq!(field(core.put_mcp_server(new("bad name", stdio("x"), &[]))), "name");
    assert_eq!(field(core.put_mcp_server(new("empty", stdio(" "), &[]))), "command");
    assert_eq!(field(core.put_mcp_server(new("twice", stdio("x"), &[("MODE", "a")]))), "secrets");
    assert_eq!(field(core.put_mcp_server(new("blank", stdio("x"), &[("K", "")]))), "secrets");
    // The list is Hearth's to manage, not a plain setting.
    assert!(core.set_setting(SERVERS_SETTING, &serde_json::json!([])).is_err());
}
