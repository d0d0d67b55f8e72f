//! `hearth doctor`: what this Hearth is, where its data lives, whether the database is sound,
//! and which of the real parts Hearth works with are present on this machine.
//!
//! It reports instead of failing: a missing part is a line in the report. Only an unusable
//! database makes the command exit non-zero, with the same exit code the other commands use.

use std::path::{Path, PathBuf};

use clap::Args;
use hearth_core::StoreStatus;
use hearth_secrets::SecretStore as _;
use serde::Serialize;

use crate::failure::{CmdResult, Failure};
use crate::output::{Output, table};

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {}

#[derive(Debug, Serialize)]
struct Report {
    version: &'static str,
    sqlite_version: &'static str,
    data_dir: PathBuf,
    log_dir: PathBuf,
    database: DatabaseReport,
    parts: Vec<Part>,
}

#[derive(Debug, Serialize)]
struct DatabaseReport {
    ok: bool,
    #[serde(flatten)]
    status: Option<StoreStatus>,
    error: Option<String>,
}

/// One real part Hearth uses.
#[derive(Debug, Serialize)]
struct Part {
    name: &'static str,
    present: bool,
    detail: String,
}

pub(crate) fn run(_args: &DoctorArgs, data_dir: &Path, model: &Path, out: &Output) -> CmdResult {
    let (database, failure) = match hearth_host::open_core(data_dir).and_then(|core| core.store_status()) {
        Ok(status) => (DatabaseReport { ok: status.integrity_problems.is_empty(), status: Some(status), error: None }, None),
        Err(e) => (DatabaseReport { ok: false, status: None, error: Some(e.to_string()) }, Some(e)),
    };
    let report = Report {
        version: env!("CARGO_PKG_VERSION"),
        sqlite_version: hearth_core::sqlite_version(),
        data_dir: data_dir.to_owned(),
        log_dir: data_dir.join("logs"),
        database,
        parts: vec![model_part(model), keychain_part(), postgres_part(), browser_part()],
    };
    out.show(&report, || render(&report));
    match failure {
        // The report already said what is wrong; the error and exit code say it to scripts.
        Some(e) => Err(Failure::Core(e)),
        None if !report.database.ok => {
            Err(Failure::Unusable(anyhow::anyhow!("{} failed its integrity check", data_dir.join(hearth_core::DATABASE_FILE).display())))
        }
        None => Ok(()),
    }
}

fn render(r: &Report) -> String {
    let db = match (&r.database.status, &r.database.error) {
        (Some(s), _) => {
            let health = if s.integrity_problems.is_empty() {
                "integrity ok".to_owned()
            } else {
                format!("INTEGRITY PROBLEMS: {}", s.integrity_problems.join("; "))
            };
            format!("{} (schema v{}, {health}, {} changes waiting to sync)", s.path.display(), s.schema_version, s.pending_changes)
        }
        (None, Some(e)) => format!("ERROR: {e}"),
        (None, None) => "unknown".to_owned(),
    };
    let parts: Vec<Vec<String>> = r
        .parts
        .iter()
        .map(|p| vec![p.name.to_owned(), if p.present { "present" } else { "missing" }.to_owned(), p.detail.clone()])
        .collect();
    format!(
        "hearth {} (SQLite {})\ndata dir:  {}\nlogs:      {}\ndatabase:  {db}\n\n{}",
        r.version,
        r.sqlite_version,
        r.data_dir.display(),
        r.log_dir.display(),
        table(&["PART", "STATUS", "DETAIL"], &parts)
    )
}

/// The default model: present when the file exists and starts with the GGUF magic.
fn model_part(path: &Path) -> Part {
    let detail = |what: &str| format!("{} ({what})", path.display());
    match std::fs::File::open(path) {
        Ok(mut f) => {
            use std::io::Read;
            let mut magic = [0u8; 4];
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            match f.read_exact(&mut magic) {
                Ok(()) if &magic == b"GGUF" => Part { name: "model", present: true, detail: detail(&format!("GGUF, {size} bytes")) },
                _ => Part { name: "model", present: false, detail: detail("not a GGUF file") },
            }
        }
        Err(_) => Part {
            name: "model",
            present: false,
            detail: detail("not found; `hearth models fetch` downloads it, or `hearth models import PATH` adds a GGUF file you have"),
        },
    }
}

/// The keychain Hearth's secrets go to, opened the way Hearth opens it: the Secret Service
/// when one runs, else the kernel's keyutils store.
fn keychain_part() -> Part {
    let name = "keychain";
    match hearth_secrets::Keychain::open(hearth_host::KEYCHAIN_SERVICE) {
        Ok(k) if hearth_host::keeps_across_reboots(k.backend()) => {
            Part { name, present: true, detail: format!("{}: provider keys and the API token are kept there", k.backend()) }
        }
        Ok(k) => Part {
            name,
            present: true,
            detail: format!(
                "{} (no Secret Service runs): provider keys last until reboot; the API token stays in <data dir>/api-token",
                k.backend()
            ),
        },
        Err(e) => Part { name, present: false, detail: format!("{e}; provider keys cannot be stored") },
    }
}

/// A PostgreSQL server installation (used by the sync tests as the Supabase stand-in).
fn postgres_part() -> Part {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin/postgres"))
        .filter(|p| p.is_file())
        .collect();
    found.extend(which::which("postgres").ok());
    match found.first() {
        Some(p) => Part { name: "postgresql", present: true, detail: p.display().to_string() },
        None => Part { name: "postgresql", present: false, detail: "no postgres server binary found".into() },
    }
}

/// A Chromium-family browser (used by the UI tests).
fn browser_part() -> Part {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|b| which::which(b).ok())
        .map(|p| Part { name: "browser", present: true, detail: p.display().to_string() })
        .unwrap_or(Part { name: "browser", present: false, detail: "no chromium or chrome on PATH".into() })
}
