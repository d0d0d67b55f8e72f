//! The sync test bed: real PostgreSQL 15 with a Supabase stand-in (roles `anon`,
//! `authenticated`, `service_role`, an `authenticator` login, `auth.users`, `auth.uid()`),
//! Hearth's server schema from `migrations/supabase/`, and `postrust` (a PostgREST-compatible
//! server from crates.io) in front, in PostgREST compatibility mode. Each [`TestBed`] has a
//! database and a server of its own, dropped with it. Tests sign HS256 JWTs with the bed's
//! secret, as Supabase Auth would.
//!
//! A missing part (no PostgreSQL cluster, no `postrust`) is a panic that names it: `make test`
//! installs and starts them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const AUTHENTICATOR_PASSWORD: &str = "hearth-test-authenticator";
/// HS256 needs at least 32 bytes.
const JWT_SECRET: &str = "hearth-test-jwt-secret-0123456789abcdef";

/// A database with Hearth's server schema and a REST server in front of it.
#[derive(Debug)]
pub struct TestBed {
    pub database: String,
    /// The REST root (`http://127.0.0.1:PORT`): tables at `/NAME`, functions at `/rpc/NAME`.
    pub rest_url: String,
    server: Child,
    port: u16,
    log_path: PathBuf,
}

fn spawn_server(database: &str, port: u16, log_path: &Path) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log_path).unwrap();
    Command::new(postrust_bin())
        .env("DATABASE_URL", format!("postgres://authenticator:{AUTHENTICATOR_PASSWORD}@127.0.0.1:5432/{database}"))
        .env("PGRST_COMPAT_MODE", "true")
        .env("PGRST_DB_ANON_ROLE", "anon")
        .env("PGRST_DB_SCHEMAS", "public")
        .env("PGRST_JWT_SECRET", JWT_SECRET)
        // The benchmark's reference sends 100,000 rows as one bulk upsert (about 20 MB).
        .env("PGRST_MAX_BODY_SIZE", (64 * 1024 * 1024).to_string())
        .env("PGRST_SERVER_HOST", "127.0.0.1")
        .env("PGRST_SERVER_PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("postrust starts")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the repository").to_owned()
}

/// `psql` as the `postgres` superuser; panics with its stderr on failure.
pub fn psql(database: &str, args: &[&str]) -> String {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", database])
        .args(args)
        .output()
        .expect("runuser and psql run (Debian's postgresql-15; make test installs it)");
    assert!(out.status.success(), "psql {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Runs a SQL file as the superuser, fed on stdin (so the `postgres` user needs no access to
/// the clone).
fn psql_file(database: &str, file: &Path) {
    let sql = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut child = Command::new("runuser")
        .args(["-u", "postgres", "--", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runuser and psql run");
    child.stdin.take().unwrap().write_all(&sql).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "applying {} failed: {}", file.display(), String::from_utf8_lossy(&out.stderr));
}

/// Starts the Debian cluster if it is down, once per process (beds are set up one at a time,
/// and two `pg_ctlcluster start` at once make the second fail).
fn ensure_cluster() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(start_cluster);
}

fn start_cluster() {
    let list = Command::new("pg_lsclusters").arg("-h").output().expect("pg_lsclusters runs (postgresql-15; make test installs it)");
    let text = String::from_utf8_lossy(&list.stdout);
    let line = text.lines().find(|l| l.starts_with("15 ")).unwrap_or_else(|| panic!("no PostgreSQL 15 cluster: {text}"));
    if !line.contains("online") {
        let status = Command::new("pg_ctlcluster").args(["--skip-systemctl-redirect", "15", "main", "start"]).status().unwrap();
        assert!(status.success(), "could not start the PostgreSQL 15 cluster");
    }
}

fn postrust_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("POSTRUST_BIN") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let candidates = [home.join(".cargo/bin/postrust")];
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("postrust is missing: `cargo install postrust-server` (make test does), or set POSTRUST_BIN"))
}

impl TestBed {
    pub fn start() -> Self {
        // Tests start beds in parallel, and roles are cluster-wide: two `alter role` at once
        // fail with "tuple concurrently updated". Setting up is quick; do it one at a time.
        static SETUP: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one = SETUP.lock().unwrap_or_else(|p| p.into_inner());
        ensure_cluster();
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let database = format!("hearth_test_{}_{nanos}", std::process::id());
        psql("postgres", &["-c", &format!("create database {database}")]);
        let root = repo_root();
        psql_file(&database, &root.join("tests/supabase-standin.sql"));
        let mut migrations: Vec<PathBuf> = std::fs::read_dir(root.join("migrations/supabase"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .collect();
        migrations.sort();
        for file in &migrations {
            psql_file(&database, file);
        }
        // The login the REST server connects as, able to become the API roles (cluster-wide).
        psql(
            &database,
            &[
                "-c",
                &format!(
                    "do $$ begin if not exists (select 1 from pg_roles where rolname = 'authenticator') then \
                 create role authenticator login noinherit password '{AUTHENTICATOR_PASSWORD}'; end if; end $$"
                ),
                "-c",
                &format!("alter role authenticator login noinherit password '{AUTHENTICATOR_PASSWORD}'"),
                "-c",
                "grant anon, authenticated, service_role to authenticator",
            ],
        );
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log_path = std::env::temp_dir().join(format!("{database}-postrust.log"));
        let server = spawn_server(&database, port, &log_path);
        let bed = TestBed { database, rest_url: format!("http://127.0.0.1:{port}"), server, port, log_path };
        bed.wait_listening();
        bed
    }

    /// Stops the REST server, as a crash or a restart would.
    pub fn stop_server(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }

    /// Starts the REST server again on the same port.
    pub fn start_server(&mut self) {
        self.server = spawn_server(&self.database, self.port, &self.log_path);
        self.wait_listening();
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline {
                panic!("postrust did not listen within 30 s:\n{}", std::fs::read_to_string(&self.log_path).unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A new user in `auth.users`, and an access token for them.
    pub fn user(&self) -> (String, String) {
        let id = psql(&self.database, &["-c", "insert into auth.users values (gen_random_uuid()) returning id"]).trim().to_owned();
        let token = jwt(&id, 3600);
        (id, token)
    }

    /// POSTs JSON to a path of the REST server; the status and the body.
    pub fn post(&self, path: &str, token: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        http(&self.rest_url, "POST", path, token, Some(body))
    }

    pub fn get(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        http(&self.rest_url, "GET", path, token, None)
    }

    pub fn patch(&self, path: &str, token: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        http(&self.rest_url, "PATCH", path, token, Some(body))
    }
}

impl Drop for TestBed {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = std::fs::remove_file(&self.log_path);
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--", "psql", "-X", "-q", "-d", "postgres", "-c"])
            .arg(format!("drop database if exists {} with (force)", self.database))
            .output();
    }
}

/// An HS256 JWT for `sub` with role `authenticated`, valid for `seconds` (negative: expired).
pub fn jwt(sub: &str, seconds: i64) -> String {
    signed(&serde_json::json!({ "sub": sub, "role": "authenticated", "exp": unix_now() + seconds }))
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// An HS256 JWT over `claims`, signed with the bed's secret.
pub(crate) fn signed(claims: &serde_json::Value) -> String {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = b64(claims.to_string().as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(JWT_SECRET.as_bytes()).expect("any key length");
    mac.update(format!("{header}.{claims}").as_bytes());
    format!("{header}.{claims}.{}", b64(&mac.finalize().into_bytes()))
}

/// One HTTP/1.1 request on its own connection (the bed's server is on loopback; a client
/// library would be the thing under test elsewhere, not here).
pub fn http(base: &str, method: &str, path: &str, token: &str, body: Option<&serde_json::Value>) -> (u16, serde_json::Value) {
    let addr = base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let payload = if chunked { dechunk(rest) } else { rest.to_owned() };
    let value = if payload.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload))
    };
    (status, value)
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}
