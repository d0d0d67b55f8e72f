//! The assembly over an in-memory Core (memory secrets) and a real socket: first start, the
//! port taken, and a clean stop. The engine is built but never loads a model here; the e2e
//! suite does that. (`HEARTH_API_TOKEN` must not be set for these tests.)

use std::path::Path;
use std::sync::Arc;

use super::*;

fn app(port: u16, any_port_if_taken: bool) -> Host {
    let core = Arc::new(Core::in_memory().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let options = Options { port, any_port_if_taken, ..Options::default() };
    Host::new(core, dir.path(), &dir.path().join("no-model.gguf"), options).unwrap()
}

#[test]
fn a_first_start_has_a_workspace_and_a_token() {
    let core = Arc::new(Core::in_memory().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let app = Host::new(core.clone(), dir.path(), &dir.path().join("none.gguf"), Options::default()).unwrap();
    assert_eq!(core.workspaces().unwrap().iter().map(|w| w.handle.as_str()).collect::<Vec<_>>(), ["personal"]);
    assert_eq!(app.token().len(), 64);
    // The same data directory keeps its token.
    let again = Host::new(core.clone(), dir.path(), &dir.path().join("none.gguf"), Options::default()).unwrap();
    assert_eq!(again.token(), app.token());
    assert_eq!(core.workspaces().unwrap().len(), 1, "no second workspace");
}

#[test]
fn a_taken_port_fails_unless_any_port_will_do() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = spawn(app(port, false)).unwrap_err();
    assert!(matches!(&err, Error::Bind { addr, .. } if addr.port() == port), "{err:?}");

    let running = spawn(app(port, true)).unwrap();
    assert!(running.url.starts_with("http://127.0.0.1:"), "{}", running.url);
    assert_ne!(running.url, format!("http://127.0.0.1:{port}"));
    running.stop().unwrap();
}

#[test]
fn a_running_app_answers_and_stops() {
    let running = spawn(app(0, false)).unwrap();
    let addr = running.url.trim_start_matches("http://").to_owned();
    let get = |path: &str| -> String {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n", running.token)
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let answer = get("/api/v1/workspaces");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"personal\""), "{answer}");
    running.stop().unwrap();
    assert!(std::net::TcpStream::connect(&addr).is_err(), "nothing listens after stop");
}

#[test]
fn a_damaged_default_model_file_does_not_stop_the_app() {
    let core = Arc::new(Core::in_memory().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("gemma.gguf");
    std::fs::write(&broken, b"GGUF but cut short").unwrap();
    let app = Host::new(core.clone(), dir.path(), &broken, Options { port: 0, ..Options::default() }).unwrap();
    assert_eq!(app.token().len(), 64);
    assert!(core.models().unwrap().is_empty(), "nothing registered from a damaged file");
    let token = app.token().to_owned();
    let running = spawn(app).unwrap();
    assert!(!format!("{running:?}").contains(&token), "Running's Debug leaves the token out");
    running.stop().unwrap();
}

#[test]
fn a_wildcard_cors_origin_is_refused_at_start() {
    let core = Arc::new(Core::in_memory().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let options = Options { cors_origins: vec!["http://localhost:5173".into(), "*".into()], ..Options::default() };
    let err = Host::new(core, dir.path(), &dir.path().join("none.gguf"), options).unwrap_err();
    assert!(matches!(&err, Error::Core(e) if e.field() == Some("cors_origin")), "{err:?}");
    assert!(err.to_string().contains("any web page"), "{err}");
}

#[test]
fn tls_files_make_an_https_server_and_remote_access_needs_them() {
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hearth-server/tests/it/testdata");
    let files = TlsFiles { cert: testdata.join("localhost.pem"), key: testdata.join("localhost.key") };
    let core = Arc::new(Core::in_memory().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let new = |options: Options| Host::new(core.clone(), dir.path(), &dir.path().join("none.gguf"), options);

    let remote = Options { host: "0.0.0.0".parse().unwrap(), port: 0, ..Options::default() };
    let err = new(remote).unwrap_err();
    assert!(matches!(&err, Error::Core(e) if e.field() == Some("tls")), "{err:?}");
    let bad_key = TlsFiles { key: files.cert.clone(), ..files.clone() };
    assert!(matches!(new(Options { port: 0, tls: Some(bad_key), ..Options::default() }), Err(Error::Tls { .. })));

    let running = spawn(new(Options { port: 0, tls: Some(files), ..Options::default() }).unwrap()).unwrap();
    assert!(running.url.starts_with("https://127.0.0.1:"), "{}", running.url);
    use std::io::{Read, Write};
    let mut plain = std::net::TcpStream::connect(running.url.trim_start_matches("https://")).unwrap();
    plain.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!String::from_utf8_lossy(&answer).contains("HTTP/1.1"), "plain HTTP was answered");
    running.stop().unwrap();
}

#[test]
fn a_short_token_from_the_environment_is_refused() {
    let short = token::checked_env_token("correct-horse").unwrap_err();
    assert_eq!(short.field, "HEARTH_API_TOKEN");
    assert!(short.reason.contains("13 characters") && short.reason.contains("at least 32"), "{short}");
    let long = "0123456789abcdef0123456789abcdef";
    assert_eq!(token::checked_env_token(&format!("  {long}\n")).unwrap(), long);
}

#[cfg(unix)]
mod file_modes {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn set(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_token_file_others_can_read_is_made_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("api-token");
        std::fs::write(&file, "file-token-0123456789abcdef0123456789\n").unwrap();
        set(&file, 0o644);
        assert_eq!(token::file_token(&file).unwrap(), "file-token-0123456789abcdef0123456789");
        assert_eq!(mode(&file), 0o600);
        // A token made by Hearth is private from the start.
        let made = dir.path().join("new/api-token");
        assert_eq!(token::file_token(&made).unwrap().len(), 64);
        assert_eq!(mode(&made), 0o600);
    }

    #[test]
    fn a_token_file_owned_by_another_user_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        // As root, give a file away; otherwise a root-owned file is another user's already.
        let foreign = if rustix::process::getuid().is_root() {
            let file = dir.path().join("api-token");
            std::fs::write(&file, "planted-0123456789abcdef0123456789ab").unwrap();
            set(&file, 0o600);
            std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
            file
        } else {
            Path::new("/etc/passwd").to_owned()
        };
        let err = token::file_token(&foreign).unwrap_err();
        assert!(matches!(&err, Error::ForeignTokenFile { path, .. } if *path == foreign), "{err:?}");
        assert!(err.to_string().contains("belongs to another user"), "{err}");
    }

    #[test]
    fn the_log_folder_and_its_files_are_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        let old = logs.join("hearth.2024-01-01.log");
        std::fs::write(&old, "{}\n").unwrap();
        set(&logs, 0o755);
        set(&old, 0o644);
        let repaired = logging::make_private(&logs);
        assert_eq!((mode(&logs), mode(&old)), (0o700, 0o600));
        assert_eq!(repaired, [(logs.clone(), 0o755), (old.clone(), 0o644)], "each repair is reported");
        assert!(logging::make_private(&logs).is_empty(), "nothing to repair the second time");
    }
}
