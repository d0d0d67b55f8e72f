//! `hearth sync ...` and `hearth supabase ...`: connecting to the user's Supabase project,
//! signing in, syncing now, and the server schema.
//!
//! Passwords and tokens are read from a prompt (without echo) or standard input, never from
//! arguments, which land in shell history and the process list. So is the database URL of
//! `hearth supabase migrate`, which holds a password (or it comes from an environment
//! variable, which only its owner can read); a URL with a password on the command line is
//! refused.

use std::io::{BufRead, Write};

use clap::{Args, Subcommand};
use hearth_core::{Core, SupabaseDatabase, SupabasePlaintext, SyncEndpoints, SyncProgress, SyncStatus};
use hearth_types::ValidationError;

use crate::failure::{CmdResult, Failure};
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum SyncCommand {
    /// Connect to a Supabase project (or a self-hosted PostgREST); then `hearth sync login`
    Connect(ConnectArgs),
    /// Sign in with email and password (read from a prompt, or stdin when it is not a terminal)
    Login {
        #[arg(long)]
        email: String,
        /// When this device synced for another account: keep its data here only, or push it to
        /// the account signing in (without it, such a sign-in is refused)
        #[arg(long, value_enum)]
        local_data: Option<LocalDataArg>,
    },
    /// Push local changes and pull everything new, now
    Now,
    /// Sign out: the tokens leave the keychain; local data and pending changes stay
    Logout,
    /// Pending changes, refused ones, last push and pull, last error, cursor, and who is signed in
    Status,
}

#[derive(Debug, Args)]
pub(crate) struct ConnectArgs {
    /// The project URL (https://PROJECT.supabase.co): REST at /rest/v1, auth at /auth/v1
    #[arg(long, required_unless_present = "rest_url", conflicts_with = "rest_url")]
    url: Option<String>,
    /// The project's anon (public) key, from its API settings
    #[arg(long)]
    anon_key: Option<String>,
    /// A PostgREST root, for self-hosted servers
    #[arg(long)]
    rest_url: Option<String>,
    /// A Supabase Auth (GoTrue) root, for self-hosted servers
    #[arg(long, requires = "rest_url")]
    auth_url: Option<String>,
    /// Read an access token (first line) and optionally a refresh token (second line) from
    /// stdin instead of signing in: for servers that mint their own JWTs
    #[arg(long)]
    tokens_stdin: bool,
    /// With --tokens-stdin, when this device synced for another account: keep its data here
    /// only, or push it to the account signing in
    #[arg(long, value_enum, requires = "tokens_stdin")]
    local_data: Option<LocalDataArg>,
}

/// What becomes of this device's data when a different account signs in.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum LocalDataArg {
    /// It stays on this device only; only later changes sync to the new account
    Keep,
    /// Every row is sent to the new account
    Push,
}

impl From<LocalDataArg> for hearth_core::SyncLocalData {
    fn from(l: LocalDataArg) -> Self {
        match l {
            LocalDataArg::Keep => Self::Keep,
            LocalDataArg::Push => Self::Push,
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum SupabaseCommand {
    /// Print the server schema (migrations/supabase/) to paste into the SQL editor
    Schema,
    /// Apply the server schema to a database, each file once (tracked in hearth_migrations)
    ///
    /// The database URL, postgres://USER:PASSWORD@HOST:PORT/DATABASE (Supabase: the direct
    /// connection string), comes from HEARTH_SUPABASE_DB_URL, else from a prompt without echo,
    /// else from the first line of stdin: never from an argument, which every user of the
    /// machine can read in the process list.
    ///
    /// The connection is TLS unless the URL says otherwise, and TLS is always verified: the
    /// server's certificate must chain to a trusted root and name the host, so sslmode=require
    /// (the default) means what libpq calls verify-full. The roots are the system's; with
    /// sslrootcert=PATH in the URL, only the certificates in PATH (Supabase: Database Settings,
    /// SSL Configuration, Download certificate). Plain text (sslmode=disable, prefer or allow)
    /// goes only to this machine (localhost, 127.0.0.0/8, ::1, a Unix socket directory), or
    /// elsewhere with --insecure.
    Migrate(MigrateArgs),
}

/// The variable `hearth supabase migrate` reads the database URL from.
const DB_URL_ENV: &str = "HEARTH_SUPABASE_DB_URL";

#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// The database URL, only without a password (for trust or peer authentication); one with
    /// a password goes in HEARTH_SUPABASE_DB_URL, the prompt or stdin
    #[arg(long, env = DB_URL_ENV, hide_env_values = true, value_name = "URL")]
    db_url: Option<String>,
    /// Allow plain text (sslmode=disable, prefer or allow) to a database that is not on this
    /// machine: the password and the data cross the network readable; a warning says so
    #[arg(long)]
    insecure: bool,
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Failure::Other(e.into()))
}

pub(crate) fn run(cmd: SyncCommand, core: &Core, out: &Output) -> CmdResult {
    let engine = core.sync()?;
    let rt = runtime()?;
    match cmd {
        SyncCommand::Connect(args) => {
            let endpoints = match (&args.url, &args.rest_url) {
                (Some(url), _) => {
                    let key = args.anon_key.as_deref().ok_or_else(|| {
                        hearth_types::ValidationError::new("anon_key", "a Supabase project needs its anon key (--anon-key)")
                    })?;
                    SyncEndpoints::supabase(url, key)
                }
                (None, Some(rest)) => SyncEndpoints::explicit(rest, args.auth_url.as_deref(), args.anon_key.as_deref()),
                (None, None) => unreachable!("clap requires --url or --rest-url"),
            }
            .map_err(hearth_core::Error::from)?;
            let state = rt.block_on(engine.connect(&endpoints)).map_err(hearth_core::Error::from)?;
            let mut signed_in = None;
            if args.tokens_stdin {
                let mut lines = std::io::stdin().lock().lines();
                let access = lines.next().transpose().map_err(|e| Failure::Other(e.into()))?.unwrap_or_default();
                let refresh = lines.next().transpose().map_err(|e| Failure::Other(e.into()))?;
                let session = rt
                    .block_on(engine.use_tokens(&access, refresh.as_deref(), args.local_data.map(Into::into)))
                    .map_err(hearth_core::Error::from)?;
                signed_in = Some(session.user_id);
            }
            let status = rt.block_on(engine.status()).map_err(hearth_core::Error::from)?;
            out.show(&status, || {
                let next = match &signed_in {
                    Some(user) => format!("signed in as {user}; `hearth sync now` syncs"),
                    None if status.signed_in => "still signed in; `hearth sync now` syncs".into(),
                    None => "next: `hearth sync login --email YOU`".into(),
                };
                format!("connected to {} (this device: {})\n{next}", state.connection.rest_url, state.client_id)
            });
        }
        SyncCommand::Login { email, local_data } => {
            let password = crate::prompt::read_hidden("Password: ")?;
            let session = rt.block_on(engine.sign_in(&email, &password, local_data.map(Into::into))).map_err(hearth_core::Error::from)?;
            let status = rt.block_on(engine.status()).map_err(hearth_core::Error::from)?;
            out.show(&status, || format!("signed in as {} ({})", session.email.as_deref().unwrap_or(&email), session.user_id));
        }
        SyncCommand::Now => {
            let json = out.is_json();
            let mut report = |p: SyncProgress| {
                if json {
                    return;
                }
                let line = match p {
                    SyncProgress::Pushed { transactions, remaining } => format!("pushed {transactions} changes, {remaining} to go"),
                    SyncProgress::Pulled { rows, version, head } => format!("pulled {rows} rows (version {version} of {head})"),
                };
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{line}");
            };
            let round = rt.block_on(engine.sync_now(&mut report)).map_err(hearth_core::Error::from)?;
            let status = rt.block_on(engine.status()).map_err(hearth_core::Error::from)?;
            out.show(&serde_json::json!({ "round": round, "status": status }), || {
                let mut text = format!("synced: {} pushed, {} refused, {} pulled", round.pushed, round.rejected, round.pulled);
                if !status.rejected.is_empty() {
                    text.push_str(&format!("\n{} refused changes are kept: see `hearth sync status`", status.rejected.len()));
                }
                text
            });
        }
        SyncCommand::Logout => {
            rt.block_on(engine.sign_out()).map_err(hearth_core::Error::from)?;
            out.show(&serde_json::json!({ "signed_in": false }), || "signed out; local data and pending changes stay".into());
        }
        SyncCommand::Status => {
            let status = rt.block_on(engine.status()).map_err(hearth_core::Error::from)?;
            out.show(&status, || describe(&status));
        }
    }
    Ok(())
}

/// The status as lines a person reads.
fn describe(s: &SyncStatus) -> String {
    if !s.connected {
        return "not connected: `hearth sync connect --url https://PROJECT.supabase.co --anon-key KEY`".into();
    }
    let when = |t: Option<hearth_types::Timestamp>| t.map_or("never".to_owned(), |t| t.to_string());
    let mut lines = vec![
        format!("server:    {}", s.rest_url.as_deref().unwrap_or("")),
        format!("device:    {}", s.client_id.as_deref().unwrap_or("")),
        match (s.signed_in, &s.email, &s.user_id) {
            (true, Some(email), _) => format!("signed in: {email}"),
            (true, None, Some(user)) => format!("signed in: {user}"),
            _ => "signed in: no (`hearth sync login`)".into(),
        },
        format!(
            "pending:   {} changes in {} transactions{}",
            s.pending.changes,
            s.pending.transactions,
            s.pending.oldest.map(|t| format!(", oldest from {t}")).unwrap_or_default()
        ),
        format!("last push: {}", when(s.last_push_at)),
        format!("last pull: {}", when(s.last_pull_at)),
        format!("cursor:    version {} of {}", s.cursor.as_ref().map_or(0, |c| c.version), s.head),
    ];
    if let Some(e) = &s.last_error {
        lines.push(format!("last error: {e} ({})", when(s.last_error_at)));
    }
    if !s.rejected.is_empty() {
        lines.push(format!("refused:   {} transactions", s.rejected.len()));
        for r in &s.rejected {
            lines.push(format!("  #{} {}: {}", r.tx_seq, r.sqlstate.as_deref().unwrap_or("-"), r.message));
        }
    }
    if !s.quarantined.is_empty() {
        lines.push(format!("kept aside: {} pulled rows (not applied)", s.quarantined.len()));
        for q in &s.quarantined {
            lines.push(format!("  {} {}: {}", q.table, q.row_id, q.reason));
        }
    }
    lines.join("\n")
}

pub(crate) fn supabase(cmd: SupabaseCommand, out: &Output) -> CmdResult {
    match cmd {
        SupabaseCommand::Schema => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(hearth_core::supabase_schema().as_bytes()).map_err(|e| Failure::Other(e.into()))?;
        }
        SupabaseCommand::Migrate(args) => {
            let database = database(args)?;
            if let Some(warning) = database.warning() {
                let _ = writeln!(std::io::stderr().lock(), "warning: {warning}");
            }
            let done = Core::migrate_supabase(&database)?;
            out.show(&done, || match done.applied.as_slice() {
                [] => format!("up to date ({} migrations already applied)", done.present.len()),
                applied => format!("applied {}", applied.join(", ")),
            });
        }
    }
    Ok(())
}

/// The database `hearth supabase migrate` applies the schema to, from `--db-url` or
/// [`DB_URL_ENV`] (clap fills the one field from either), else the prompt or stdin.
fn database(args: MigrateArgs) -> Result<SupabaseDatabase, Failure> {
    let url = match args.db_url {
        Some(url) => url,
        None => crate::prompt::read_hidden("Database URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE): ")?,
    };
    if url.trim().is_empty() {
        return Err(ValidationError::new(
            "db_url",
            format!("no database URL: type it at the prompt, pipe it on stdin, or set {DB_URL_ENV}"),
        )
        .into());
    }
    let plaintext = if args.insecure { SupabasePlaintext::Allowed } else { SupabasePlaintext::LoopbackOnly };
    let database = SupabaseDatabase::parse(&url, plaintext).map_err(hearth_core::Error::from)?;
    // Whether the value came from the flag or the variable, what matters is whether the
    // password is in this process's arguments, where `ps` shows it to every user.
    if database.has_password() && std::env::args_os().skip(1).any(|arg| arg.to_string_lossy().contains(url.trim())) {
        return Err(ValidationError::new(
            "db_url",
            format!(
                "a database URL with a password must not be an argument (every user can read it in the process list, \
                 and shell history keeps it): leave --db-url out and type the URL at the prompt, pipe it on stdin, \
                 or set {DB_URL_ENV}"
            ),
        )
        .into());
    }
    Ok(database)
}
