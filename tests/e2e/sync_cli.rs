//! `hearth sync ...`, `hearth supabase ...` and `GET /api/v1/sync` through the real binary:
//! two data directories (two devices) against the real test bed, sessions in the real Secret
//! Service that `make test` starts, sign-in through the auth stand-in.

use std::io::Write;
use std::process::{Output, Stdio};

use hearth_e2e::fake_auth::FakeAuth;
use hearth_e2e::testbed::{TestBed, http, jwt, psql};
use hearth_e2e::{Hearth, serve};

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
    let served = serve(&desktop, "sync-test-token");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        let (code, status) = http(&served.url, "GET", "/api/v1/sync", "sync-test-token", None);
        assert_eq!(code, 200, "{status}");
        if status["pending"]["changes"] == 0 || std::time::Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(status["pending"]["changes"], 0, "the background loop pushed the rename: {status}");
    assert!(status["last_error"].is_null(), "{status}");
    assert_eq!(status["signed_in"], true);
    // Signing out from the CLI while the server runs: the server sees it too.
    desktop.json(&["sync", "logout"]);
    let (_, status) = http(&served.url, "GET", "/api/v1/sync", "sync-test-token", None);
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
    let served = serve(&device, "ui-token");
    let call = |method: &str, path: &str, body: Option<serde_json::Value>| http(&served.url, method, path, "ui-token", body.as_ref());

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
    let url = format!("postgres://hearth_migrator:migrate-me@127.0.0.1:5432/{database}");
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
    let first = env.json(&["supabase", "migrate", "--db-url", &url]);
    assert_eq!((first["applied"].clone(), first["present"].clone()), (serde_json::json!(["0002"]), serde_json::json!(["0001"])));
    let again = env.json(&["supabase", "migrate", "--db-url", &url]);
    assert_eq!((again["applied"].clone(), again["present"].clone()), (serde_json::json!([]), serde_json::json!(["0001", "0002"])));
    let tables = psql(&database, &["-c", "select count(*) from pg_proc where proname in ('sync_push', 'sync_pull')"]);
    assert_eq!(tables.trim(), "2");
    assert_eq!(psql(&database, &["-c", "select to_regclass('public.workflows') is not null"]).trim(), "t");
    // A fresh project gets every version at once.
    let fresh = format!("{}_fresh", bed.database);
    psql("postgres", &["-c", &format!("create database {fresh}")]);
    psql(&fresh, &["-c", &standin]);
    let all = env.json(&["supabase", "migrate", "--db-url", &url.replace(&database, &fresh)]);
    assert_eq!(all["applied"], serde_json::json!(["0001", "0002"]));
    psql("postgres", &["-c", &format!("drop database {fresh} with (force)")]);

    let refused = env.run(&["supabase", "migrate", "--db-url", &format!("postgres://hearth_migrator:wrong@127.0.0.1:5432/{database}")]);
    assert_eq!(refused.status.code(), Some(9), "{}", text(&refused));
    assert!(text(&refused).contains("password authentication failed"), "{}", text(&refused));
    psql("postgres", &["-c", &format!("drop database {database} with (force)")]);
}
