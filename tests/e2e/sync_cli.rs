//! `hearth sync ...`, `hearth supabase ...` and `GET /api/v1/sync` through the real binary:
//! two data directories (two devices) against the real test bed, sessions in the real Secret
//! Service that `make test` starts, sign-in through the auth stand-in. `hearth supabase
//! migrate` also runs against a PostgreSQL of its own that serves TLS with a certificate from
//! a CA made for the test, on loopback and on this machine's network address.

use std::io::Write;
use std::net::{IpAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use hearth_e2e::fake_auth::FakeAuth;
use hearth_e2e::testbed::{TestBed, http, jwt, psql};
use hearth_e2e::{Hearth, poll, serve};

fn with_stdin(env: &Hearth, args: &[&str], input: &str) -> Output {
    let mut child = env.command().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn two_data_directories_sync_through_the_cli_and_status_tells_the_truth() {
    let mut bed = TestBed::start();
    let (user, _) = bed.user();
    let auth = FakeAuth::start(3600);
    auth.add_user("ada@example.com", "correct horse", &user);
    let laptop = Hearth::new();

    let before = laptop.json(&["sync", "status"]);
    assert_eq!((before["connected"].as_bool(), before["signed_in"].as_bool()), (Some(false), Some(false)));
    let not_yet = laptop.run(&["sync", "now"]);
    assert_eq!(not_yet.status.code(), Some(3), "{}", text(&not_yet));
    assert!(text(&not_yet).contains("hearth sync connect"));

    let bad = laptop.run(&["sync", "connect", "--url", "supabase.co", "--anon-key", "k"]);
    assert_eq!(bad.status.code(), Some(3), "{}", text(&bad));
    let connected = laptop.json(&["sync", "connect", "--rest-url", &bed.rest_url, "--auth-url", &auth.url, "--anon-key", "anon"]);
    assert_eq!(connected["connected"], true);
    assert_eq!(connected["signed_in"], false);

    let wrong = with_stdin(&laptop, &["sync", "login", "--email", "ada@example.com"], "nope\n");
    assert_eq!(wrong.status.code(), Some(9), "{}", text(&wrong));
    assert!(text(&wrong).contains("Invalid login credentials"));
    let login = with_stdin(&laptop, &["--json", "sync", "login", "--email", "ada@example.com"], "correct horse\n");
    assert!(login.status.success(), "{}", text(&login));

    laptop.json(&["workspaces", "create", "--name", "Garden", "--handle", "garden"]);
    let status = laptop.json(&["sync", "status"]);
    assert_eq!((status["signed_in"].as_bool(), status["pending"]["transactions"].as_u64()), (Some(true), Some(1)));
    assert!(status["pending"]["oldest"].is_string());
    assert_eq!(status["email"], "ada@example.com");

    let synced = laptop.json(&["sync", "now"]);
    assert_eq!(synced["round"]["pushed"], 1);
    let status = &synced["status"];
    assert_eq!(status["pending"]["changes"], 0);
    assert!(status["last_push_at"].is_string() && status["last_pull_at"].is_string());
    assert!(status["cursor"]["version"].as_i64().unwrap() >= 1);
    assert!(status["last_error"].is_null());
    // The session is in the keychain, not on disk.
    let db = std::fs::read(laptop.db()).unwrap();
    assert!(!String::from_utf8_lossy(&db).contains("refresh-"), "no token in the database file");

    // A second device hands over a token directly (a self-hosted PostgREST's own JWT).
    let desktop = Hearth::with_default_model();
    let handed = with_stdin(
        &desktop,
        &["--json", "sync", "connect", "--rest-url", &bed.rest_url, "--tokens-stdin"],
        &format!("{}\n", jwt(&user, 3600)),
    );
    assert!(handed.status.success(), "{}", text(&handed));
    desktop.json(&["sync", "now"]);
    let list = desktop.json(&["workspaces", "list"]);
    assert_eq!(list[0]["handle"], "garden", "{list}");

    // The server goes away: sync says so, clearly, and the change waits.
    desktop.json(&["workspaces", "rename", "garden", "Allotment"]);
    bed.stop_server();
    let down = desktop.run(&["sync", "now"]);
    assert_eq!(down.status.code(), Some(8), "{}", text(&down));
    assert!(text(&down).contains("cannot reach"), "{}", text(&down));
    let status = desktop.json(&["sync", "status"]);
    assert!(status["last_error"].as_str().unwrap().contains("cannot reach"));
    assert_eq!(status["pending"]["transactions"], 1);
    bed.start_server();

    // `hearth serve` runs the loop in the background and answers GET /api/v1/sync.
    let served = serve(&desktop, "sync-test-token-0123456789abcdef");
    let sync_status = || {
        let (code, status) = http(&served.url, "GET", "/api/v1/sync", "sync-test-token-0123456789abcdef", None);
        assert_eq!(code, 200, "{status}");
        status
    };
    // Settled: the rename pushed and a whole round done. A round clears its error only once it
    // has pulled too, and the first one may still meet the restarted server coming up.
    let settled = |s: &serde_json::Value| s["pending"]["changes"] == 0 && s["last_error"].is_null();
    let status = poll(Duration::from_millis(200), Duration::from_secs(20), sync_status, settled);
    assert_eq!(status["pending"]["changes"], 0, "the background loop pushed the rename: {status}");
    assert!(status["last_error"].is_null(), "{status}");
    assert!(status["last_push_at"].is_string(), "nothing pending means it was pushed: {status}");
    assert_eq!(status["signed_in"], true);
    // Signing out from the CLI while the server runs: the server sees it too.
    desktop.json(&["sync", "logout"]);
    let (_, status) = http(&served.url, "GET", "/api/v1/sync", "sync-test-token-0123456789abcdef", None);
    assert_eq!((status["signed_in"].as_bool(), status["activity"].as_str()), (Some(false), Some("stopped")), "{status}");
    drop(served);
    laptop.json(&["sync", "now"]);
    assert_eq!(laptop.json(&["workspaces", "show", "garden"])["name"], "Allotment");

    // Signing out revokes the session at the auth server and leaves the data.
    laptop.json(&["sync", "logout"]);
    assert_eq!(auth.live_refresh_tokens(), 0);
    let after = laptop.json(&["sync", "status"]);
    assert_eq!((after["connected"].as_bool(), after["signed_in"].as_bool()), (Some(true), Some(false)));
    assert_eq!(laptop.json(&["workspaces", "list"]).as_array().unwrap().len(), 1);
}

/// What the UI's sync screen does, through the API of a running `hearth serve`: connect, a
/// wrong password refused with the project's reason, sign in, sync, sign out. The password
/// goes nowhere but the auth server: not into the database, not into the logs.
#[test]
fn the_app_connects_signs_in_and_out_through_the_api() {
    let bed = TestBed::start();
    let (user, _) = bed.user();
    let auth = FakeAuth::start(3600);
    let password = "tr0ub4dor-and-3";
    auth.add_user("grace@example.com", password, &user);
    let device = Hearth::new();
    device.json(&["workspaces", "create", "--name", "Lab", "--handle", "lab"]);
    let served = serve(&device, "ui-token-0123456789abcdef01234567");
    let call = |method: &str, path: &str, body: Option<serde_json::Value>| {
        http(&served.url, method, path, "ui-token-0123456789abcdef01234567", body.as_ref())
    };

    let (code, refused) = call("POST", "/api/v1/sync/connect", Some(serde_json::json!({ "url": "https://x.supabase.co" })));
    assert_eq!((code, refused["error"]["param"].as_str()), (400, Some("anon_key")), "{refused}");
    let body = serde_json::json!({ "rest_url": bed.rest_url, "auth_url": auth.url, "anon_key": "anon" });
    let (code, status) = call("POST", "/api/v1/sync/connect", Some(body));
    assert_eq!((code, status["connected"].as_bool(), status["signed_in"].as_bool()), (200, Some(true), Some(false)), "{status}");

    let (code, wrong) = call("POST", "/api/v1/sync/login", Some(serde_json::json!({ "email": "grace@example.com", "password": "nope" })));
    assert_eq!(code, 502, "{wrong}");
    assert!(wrong["error"]["message"].as_str().unwrap().contains("Invalid login credentials"), "{wrong}");
    let (code, status) =
        call("POST", "/api/v1/sync/login", Some(serde_json::json!({ "email": "grace@example.com", "password": password })));
    assert_eq!((code, status["signed_in"].as_bool(), status["email"].as_str()), (200, Some(true), Some("grace@example.com")), "{status}");

    let (code, synced) = call("POST", "/api/v1/sync/now", None);
    assert_eq!(code, 200, "{synced}");
    assert_eq!(synced["status"]["pending"]["changes"], 0, "{synced}");
    let (_, rows) = bed.get("/workspaces?select=handle", &jwt(&user, 60));
    assert_eq!(rows, serde_json::json!([{ "handle": "lab" }]));

    let (code, status) = call("POST", "/api/v1/sync/logout", None);
    assert_eq!((code, status["signed_in"].as_bool()), (200, Some(false)), "{status}");
    assert_eq!(auth.live_refresh_tokens(), 0);
    drop(served);
    assert_eq!(device.files_containing(password), Vec::<std::path::PathBuf>::new(), "the password is in the data folder");
}

#[test]
fn supabase_migrate_applies_the_schema_once_and_schema_prints_it() {
    let bed = TestBed::start();
    let env = Hearth::new();
    let printed = env.run(&["supabase", "schema"]);
    assert!(printed.status.success());
    let script = String::from_utf8(printed.stdout).unwrap();
    assert!(script.contains("-- ==== migrations/supabase/0001_sync.sql") && script.contains("public.sync_pull"));
    assert!(script.contains("-- ==== migrations/supabase/0002_workflows.sql") && script.contains("public.workflows"));
    assert!(script.contains("-- ==== migrations/supabase/0003_message_tree.sql") && script.contains("sync.message_tree"));

    // A database with the Supabase stand-in but none of Hearth's schema, and a login for it.
    let database = format!("{}_migrate", bed.database);
    psql("postgres", &["-c", &format!("create database {database}")]);
    let standin = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/supabase-standin.sql")).unwrap();
    psql(&database, &["-c", &standin]);
    psql(
        &database,
        &[
            "-c",
            "do $$ begin if not exists (select 1 from pg_roles where rolname = 'hearth_migrator') then create role hearth_migrator login superuser password 'migrate-me'; end if; end $$",
        ],
    );
    // Plain text, which loopback allows (the Debian cluster's certificate is its snakeoil).
    let url = format!("postgres://hearth_migrator:migrate-me@127.0.0.1:5432/{database}?sslmode=disable");
    // A project set up by an earlier Hearth: version 1 only, recorded as applied.
    psql(&database, &["-c", include_str!("../../migrations/supabase/0001_sync.sql")]);
    psql(
        &database,
        &[
            "-c",
            "create schema hearth_migrations; create table hearth_migrations.schema_migrations (version text primary key, name text not null, \
             statements text not null, applied_at timestamptz not null default now()); \
             insert into hearth_migrations.schema_migrations (version, name, statements) values ('0001', 'sync', '')",
        ],
    );
    let first = migrate_json(&env, &url);
    assert_eq!(
        (first["applied"].clone(), first["present"].clone()),
        (serde_json::json!(["0002", "0003", "0004", "0005", "0006"]), serde_json::json!(["0001"]))
    );
    let again = migrate_json(&env, &url);
    assert_eq!(
        (again["applied"].clone(), again["present"].clone()),
        (serde_json::json!([]), serde_json::json!(["0001", "0002", "0003", "0004", "0005", "0006"]))
    );
    let tables = psql(&database, &["-c", "select count(*) from pg_proc where proname in ('sync_push', 'sync_pull')"]);
    assert_eq!(tables.trim(), "2");
    assert_eq!(psql(&database, &["-c", "select to_regclass('public.workflows') is not null"]).trim(), "t");
    // A fresh project gets every version at once.
    let fresh = format!("{}_fresh", bed.database);
    psql("postgres", &["-c", &format!("create database {fresh}")]);
    psql(&fresh, &["-c", &standin]);
    let all = migrate_json(&env, &url.replace(&database, &fresh));
    assert_eq!(all["applied"], serde_json::json!(["0001", "0002", "0003", "0004", "0005", "0006"]));
    psql("postgres", &["-c", &format!("drop database {fresh} with (force)")]);

    let refused = migrate(&env, &[], Some(&url.replace("migrate-me", "wrong")), &[]);
    assert_eq!(refused.status.code(), Some(9), "{}", text(&refused));
    assert!(text(&refused).contains("password authentication failed"), "{}", text(&refused));
    psql("postgres", &["-c", &format!("drop database {database} with (force)")]);
}

const DB_URL_ENV: &str = "HEARTH_SUPABASE_DB_URL";

/// `hearth supabase migrate ARGS`, the URL typed on stdin (`None`: stdin is empty), with
/// extra environment variables; nothing of the test runner's own `HEARTH_SUPABASE_DB_URL`.
fn migrate(env: &Hearth, args: &[&str], stdin: Option<&str>, vars: &[(&str, &str)]) -> Output {
    let mut command = env.command();
    command.env_remove(DB_URL_ENV).envs(vars.iter().copied()).args(["supabase", "migrate"]).args(args);
    let Some(input) = stdin else {
        return command.stdin(Stdio::null()).output().expect("hearth runs");
    };
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("hearth runs");
    child.stdin.take().unwrap().write_all(format!("{input}\n").as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// `hearth --json supabase migrate` with the URL on stdin; requires success.
fn migrate_json(env: &Hearth, url: &str) -> serde_json::Value {
    let out = migrate(env, &["--json"], Some(url), &[]);
    assert!(out.status.success(), "migrate failed: {}", text(&out));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// A throwaway PostgreSQL 15 cluster owned by `postgres` in a temp folder, with the Supabase
/// stand-in and a `migrator` login. It serves TLS with a certificate that a CA made here
/// signed, for `localhost`, 127.0.0.1 and this machine's own (non-loopback) address, and it
/// logs each authorized connection with its application name and whether it was TLS.
struct TlsPostgres {
    dir: tempfile::TempDir,
    port: u16,
    /// This machine's address on its network: not loopback, yet reachable from here.
    address: IpAddr,
}

const BIN: &str = "/usr/lib/postgresql/15/bin";
const MIGRATOR_PASSWORD: &str = "tls-s3cret-pw";

fn run_ok(command: &mut Command) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(out.status.success(), "{command:?} failed: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A program run as the `postgres` user, which owns the cluster.
fn as_postgres(program: &str) -> Command {
    let mut command = Command::new("runuser");
    command.args(["-u", "postgres", "--", program]);
    command
}

impl TlsPostgres {
    fn start() -> Self {
        let address = run_ok(Command::new("hostname").arg("-I"))
            .split_whitespace()
            .filter_map(|a| a.parse::<IpAddr>().ok())
            .find(|a| a.is_ipv4() && !a.is_loopback())
            .expect("this test needs a non-loopback IPv4 address on this machine (`hostname -I` lists none)");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        let openssl = |args: &str| run_ok(Command::new("openssl").current_dir(path).args(args.split_whitespace()));
        let key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        openssl(&format!("req -x509 {key} -keyout ca.key -out ca.crt -days 2 -subj /CN=Hearth-test-CA"));
        openssl(&format!("req {key} -keyout server.key -out server.csr -subj /CN=localhost"));
        let extensions = format!("subjectAltName=DNS:localhost,IP:127.0.0.1,IP:{address}\nextendedKeyUsage=serverAuth\n");
        std::fs::write(path.join("server.ext"), extensions).unwrap();
        openssl("x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext");
        // The server reads its key only if `postgres` owns it and no one else can read it
        // (openssl writes keys 0600).
        run_ok(Command::new("chown").args(["-R", "postgres:postgres"]).arg(path));
        let data = path.join("data");
        run_ok(as_postgres(&format!("{BIN}/initdb")).arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ]));
        // initdb allows loopback; the tests also reach the server through this machine's address.
        let mut hba = std::fs::OpenOptions::new().append(true).open(data.join("pg_hba.conf")).unwrap();
        writeln!(hba, "host all all {address}/32 scram-sha-256").unwrap();
        let port = TcpListener::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port();
        let options = format!(
            "-p {port} -k {dir} -c listen_addresses=127.0.0.1,{address} -c ssl=on -c ssl_cert_file={dir}/server.crt \
             -c ssl_key_file={dir}/server.key -c log_connections=on",
            dir = path.display()
        );
        let log = path.join("server.log");
        run_ok(as_postgres(&format!("{BIN}/pg_ctl")).arg("-D").arg(&data).arg("-l").arg(&log).args(["-w", "-o", &options, "start"]));
        let server = TlsPostgres { dir, port, address };
        let standin = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/supabase-standin.sql")).unwrap();
        server.psql(&standin);
        server.psql(&format!("create role migrator login superuser password '{MIGRATOR_PASSWORD}'"));
        server
    }

    fn psql(&self, sql: &str) -> String {
        let port = self.port.to_string();
        run_ok(
            as_postgres("psql")
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", "postgres", "-p", &port, "-c", sql])
                .arg("-h")
                .arg(self.dir.path()),
        )
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// A URL for `migrator` at `host`, its session named `app`, with more parameters.
    fn url(&self, host: &str, app: &str, query: &str) -> String {
        format!("postgres://migrator:{MIGRATOR_PASSWORD}@{host}:{}/postgres?application_name={app}{query}", self.port)
    }

    /// The server's "connection authorized" lines for sessions named `app`.
    fn sessions(&self, app: &str) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap();
        let tag = format!("application_name={app}");
        log.lines().filter(|l| l.contains("connection authorized") && l.split_whitespace().any(|w| w == tag)).map(str::to_owned).collect()
    }

    /// Requires exactly one session named `app`, over TLS or not.
    fn assert_one_session(&self, app: &str, tls: bool) {
        let sessions = self.sessions(app);
        assert_eq!(sessions.len(), 1, "{app}: {sessions:?}");
        assert_eq!(sessions[0].contains("SSL enabled"), tls, "{app}: {}", sessions[0]);
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        let _ = as_postgres(&format!("{BIN}/pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// The versions of `migrations/supabase/`, in order.
fn shipped_versions() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/supabase");
    let mut versions: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter(|name| name.ends_with(".sql"))
        .map(|name| name[..4].to_owned())
        .collect();
    versions.sort();
    versions
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

#[test]
fn supabase_migrate_speaks_verified_tls_and_plain_text_only_to_loopback_unless_insecure() {
    let server = TlsPostgres::start();
    let env = Hearth::new();
    let ca = format!("&sslrootcert={}", utf8(&server.ca()));

    // (a) Verified TLS, trusting the test's CA: the schema goes in, and the server saw TLS.
    let done = migrate_json(&env, &server.url("127.0.0.1", "hearth_require", &format!("&sslmode=require{ca}")));
    assert_eq!(done["applied"], serde_json::json!(shipped_versions()), "{done}");
    server.assert_one_session("hearth_require", true);
    assert_eq!(server.psql("select to_regclass('public.workflows') is not null").trim(), "t");
    // No sslmode is the same: TLS, here to the name the certificate carries.
    let again = migrate_json(&env, &server.url("localhost", "hearth_default", &ca));
    assert_eq!(again["present"], serde_json::json!(shipped_versions()), "{again}");
    server.assert_one_session("hearth_default", true);

    // (b) Without the CA the system's roots do not vouch for the server: refused during the
    // handshake, before the password is sent, with what to do about it.
    let untrusted = migrate(&env, &[], Some(&server.url("127.0.0.1", "hearth_untrusted", "")), &[]);
    assert_eq!(untrusted.status.code(), Some(9), "{}", text(&untrusted));
    let message = text(&untrusted);
    assert!(message.contains("invalid peer certificate: UnknownIssuer") && message.contains("sslrootcert=PATH"), "{message}");
    assert_eq!(server.sessions("hearth_untrusted"), Vec::<String>::new());
    // Trusting some other certificate is no better.
    let other_ca = server.dir.path().join("server.crt");
    let wrong = migrate(&env, &[], Some(&server.url("127.0.0.1", "hearth_wrong_ca", &format!("&sslrootcert={}", utf8(&other_ca)))), &[]);
    assert_eq!(wrong.status.code(), Some(9), "{}", text(&wrong));
    assert!(text(&wrong).contains("invalid peer certificate"), "{}", text(&wrong));

    // (c) Plain text to loopback is allowed, and is plain text.
    let plain = migrate(&env, &[], Some(&server.url("127.0.0.1", "hearth_loopback", "&sslmode=disable")), &[]);
    assert!(plain.status.success(), "{}", text(&plain));
    assert!(!text(&plain).contains("warning"), "{}", text(&plain));
    server.assert_one_session("hearth_loopback", false);

    // (d) Plain text to this machine's network address is refused before connecting...
    let address = server.address.to_string();
    let refused = migrate(&env, &[], Some(&server.url(&address, "hearth_refused", "&sslmode=disable")), &[]);
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused));
    let message = text(&refused);
    assert!(message.contains(&format!("refusing sslmode=disable to {address}")) && message.contains("--insecure"), "{message}");
    assert!(!message.contains(MIGRATOR_PASSWORD), "{message}");
    assert_eq!(server.sessions("hearth_refused"), Vec::<String>::new());
    let fallback = migrate(&env, &[], Some(&server.url(&address, "hearth_prefer", "&sslmode=prefer")), &[]);
    assert_eq!(fallback.status.code(), Some(3), "{}", text(&fallback));
    // ...accepted with --insecure, with a warning...
    let insecure = migrate(&env, &["--insecure"], Some(&server.url(&address, "hearth_insecure", "&sslmode=disable")), &[]);
    assert!(insecure.status.success(), "{}", text(&insecure));
    let warning = String::from_utf8_lossy(&insecure.stderr);
    assert!(
        warning.contains(&format!("warning: sslmode=disable to {address} (--insecure)")) && warning.contains("clear text"),
        "{warning}"
    );
    server.assert_one_session("hearth_insecure", false);
    // ...while verified TLS needs no flag, wherever the server is.
    let remote_tls = migrate(&env, &[], Some(&server.url(&address, "hearth_remote_tls", &ca)), &[]);
    assert!(remote_tls.status.success(), "{}", text(&remote_tls));
    server.assert_one_session("hearth_remote_tls", true);
}

#[test]
fn the_database_url_stays_out_of_arguments_and_help() {
    let server = TlsPostgres::start();
    let env = Hearth::new();
    let url = server.url("127.0.0.1", "hearth_from_env", &format!("&sslrootcert={}", utf8(&server.ca())));

    // (e) The variable's value never shows in help, short or long.
    for flag in ["-h", "--help"] {
        let help = migrate(&env, &[flag], None, &[(DB_URL_ENV, &url)]);
        assert!(help.status.success(), "{}", text(&help));
        let shown = text(&help);
        assert!(shown.contains(DB_URL_ENV), "{shown}");
        assert!(!shown.contains(MIGRATOR_PASSWORD) && !shown.contains("postgres://migrator"), "{flag} shows the URL: {shown}");
    }
    // The variable works, with stdin left alone.
    let from_env = migrate(&env, &["--json"], None, &[(DB_URL_ENV, &url)]);
    assert!(from_env.status.success(), "{}", text(&from_env));
    server.assert_one_session("hearth_from_env", true);
    // So does stdin (the other tests use it throughout); an empty one says what to do.
    let nothing = migrate(&env, &[], Some(""), &[]);
    assert_eq!(nothing.status.code(), Some(3), "{}", text(&nothing));
    assert!(text(&nothing).contains(DB_URL_ENV), "{}", text(&nothing));

    // A URL with a password as an argument is refused before connecting, naming the ways
    // that keep it out of the process list.
    let argued = server.url("127.0.0.1", "hearth_argument", &format!("&sslrootcert={}", utf8(&server.ca())));
    let refused = migrate(&env, &["--db-url", &argued], None, &[]);
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused));
    let message = text(&refused);
    assert!(message.contains("must not be an argument") && message.contains(DB_URL_ENV), "{message}");
    assert!(!message.contains(MIGRATOR_PASSWORD), "{message}");
    assert_eq!(server.sessions("hearth_argument"), Vec::<String>::new());
}
