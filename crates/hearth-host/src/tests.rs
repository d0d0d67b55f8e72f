//! The assembly over an in-memory Core (memory secrets) and a real socket: first start, the
//! port taken, and a clean stop. The engine is built but never loads a model here; the e2e
//! suite does that. (`HEARTH_API_TOKEN` must not be set for these tests.)

use std::sync::Arc;

use super::*;

fn app(port: u16, any_port_if_taken: bool) -> App {
    let core = Arc::new(Core::in_memory().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let options = Options { port, any_port_if_taken, ..Options::default() };
    App::new(core, dir.path(), &dir.path().join("no-model.gguf"), options).unwrap()
}

#[test]
fn a_first_start_has_a_workspace_and_a_token() {
    let core = Arc::new(Core::in_memory().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let app = App::new(core.clone(), dir.path(), &dir.path().join("none.gguf"), Options::default()).unwrap();
    assert_eq!(core.workspaces().unwrap().iter().map(|w| w.handle.as_str()).collect::<Vec<_>>(), ["personal"]);
    assert_eq!(app.token().len(), 64);
    // The same data directory keeps its token.
    let again = App::new(core.clone(), dir.path(), &dir.path().join("none.gguf"), Options::default()).unwrap();
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
    let app = App::new(core.clone(), dir.path(), &broken, Options { port: 0, ..Options::default() }).unwrap();
    assert_eq!(app.token().len(), 64);
    assert!(core.models().unwrap().is_empty(), "nothing registered from a damaged file");
    let token = app.token().to_owned();
    let running = spawn(app).unwrap();
    assert!(!format!("{running:?}").contains(&token), "Running's Debug leaves the token out");
    running.stop().unwrap();
}
