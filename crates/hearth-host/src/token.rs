//! The API's bearer token: `HEARTH_API_TOKEN` when set (at least [`MIN_TOKEN_LEN`]
//! characters); otherwise made at first start (32 random bytes, hex) and kept in the OS
//! keychain, one per data directory; never in SQLite (see [`api_token`] for the one exception,
//! a keychain that forgets at reboot).
//!
//! A token file is trusted only when it is the user's own and private (Unix): one readable by
//! others is made private with a warning, one owned by another user is refused.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use hearth_core::Core;

use crate::{Error, Result};

/// Where the token is kept when the keychain forgets at reboot (and where versions before the
/// keychain kept it; it moves into the keychain when found).
const TOKEN_FILE: &str = "api-token";

/// `HEARTH_API_TOKEN`, else the keychain's token for this data directory, else a new one
/// kept there. A token file left by an earlier version moves into the keychain.
///
/// The kernel keyutils store (Linux without a Secret Service) forgets at reboot, and where no
/// persistent keyring is reachable, between processes: a token that changed under the user's
/// scripts would be worse than a file only they can read, so there it stays in
/// `<data dir>/api-token` (0600), and `hearth doctor` says so. Provider keys never do.
pub fn api_token(core: &Core, data_dir: &Path) -> Result<String> {
    if let Ok(t) = std::env::var("HEARTH_API_TOKEN")
        && !t.trim().is_empty()
    {
        return Ok(checked_env_token(&t).map_err(hearth_core::Error::from)?);
    }
    let secrets = core.secrets().map_err(Error::Keychain)?;
    let file = data_dir.join(TOKEN_FILE);
    if !keeps_across_reboots(secrets.backend()) {
        return file_token(&file);
    }
    let entry = token_entry(data_dir)?;
    let stored = || -> Result<Option<String>> {
        let found = secrets.get(&entry).map_err(|e| Error::Keychain(e.into()))?;
        Ok(found.map(|s| s.expose().to_owned()))
    };
    if let Some(token) = stored()? {
        return Ok(token);
    }
    let token = read_token_file(&file)?.unwrap_or_else(new_token);
    secrets.set(&entry, &hearth_core::Secret::new(token.clone())).map_err(|e| Error::Keychain(e.into()))?;
    // Two first starts racing (the window and `hearth token show` at the same moment) both
    // write; each reads back what is there now, which narrows the race but does not close it:
    // the earlier one may keep serving with its own token until it restarts.
    let kept = stored()?.unwrap_or(token);
    if file.exists() {
        std::fs::remove_file(&file).map_err(|e| Error::io(format!("removing {} after moving it into the keychain", file.display()), e))?;
        tracing::info!("moved the API token from its file into the keychain");
    }
    Ok(kept)
}

/// Whether a keychain backend keeps secrets across reboots (keyutils does not).
pub fn keeps_across_reboots(backend: &str) -> bool {
    backend != "keyutils"
}

/// The shortest `HEARTH_API_TOKEN` accepted: the token is all that stands between the API
/// and every web page and program on the machine, so it must not be guessable.
pub const MIN_TOKEN_LEN: usize = 32;

/// `HEARTH_API_TOKEN` trimmed, when it is long enough.
pub(crate) fn checked_env_token(value: &str) -> Result<String, hearth_types::ValidationError> {
    let token = value.trim();
    let length = token.chars().count();
    if length < MIN_TOKEN_LEN {
        return Err(hearth_types::ValidationError::new(
            "HEARTH_API_TOKEN",
            format!(
                "is {length} characters; it must be at least {MIN_TOKEN_LEN}, since whoever guesses it can use the API (e.g. `openssl rand -hex 32`, or unset it to let Hearth make one)"
            ),
        ));
    }
    Ok(token.to_owned())
}

fn new_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// The keychain entry of this data directory's API token (each data directory, each
/// `hearth serve`, has its own).
fn token_entry(data_dir: &Path) -> Result<String> {
    std::fs::create_dir_all(data_dir).map_err(|e| Error::io(format!("creating {}", data_dir.display()), e))?;
    let dir = data_dir.canonicalize().map_err(|e| Error::io(format!("resolving {}", data_dir.display()), e))?;
    Ok(format!("api-token:{}", dir.display()))
}

/// The token in a file, when there is one (an empty file is none), once the file is trusted.
pub(crate) fn read_token_file(path: &Path) -> Result<Option<String>> {
    let context = || format!("reading the API token from {}", path.display());
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(context(), e)),
    };
    trust(&file, path)?;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(|e| Error::io(context(), e))?;
    Ok(Some(text.trim().to_owned()).filter(|t| !t.is_empty()))
}

/// Trusts an open token file only when it is the user's own and no one else can read it.
/// One readable by group or others is made private, with a warning (the token may have
/// been read: a new one is a deleted file and a restart away). One owned by another user is
/// refused: whoever owns it chose the token, and could read it or swap it at any time.
#[cfg(unix)]
fn trust(file: &std::fs::File, path: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = file.metadata().map_err(|e| Error::io(format!("reading the API token from {}", path.display()), e))?;
    let me = rustix::process::getuid().as_raw();
    if meta.uid() != me {
        return Err(Error::ForeignTokenFile { path: path.to_owned(), owner: meta.uid() });
    }
    let was = meta.mode() & 0o777;
    if was & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io(format!("making {} private", path.display()), e))?;
        tracing::warn!(
            path = %path.display(), was = %format!("{was:o}"),
            "the API token file was readable by other users and is now private to you; delete it and restart for a new token"
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn trust(_file: &std::fs::File, _path: &Path) -> Result<()> {
    Ok(())
}

/// The token in its file, made now if there is none.
pub(crate) fn file_token(path: &Path) -> Result<String> {
    let read = || read_token_file(path);
    if let Some(token) = read()? {
        return Ok(token);
    }
    let token = new_token();
    match create_private(path, &token) {
        Ok(()) => Ok(token),
        // Another process (the desktop app, `hearth token show`) made one first: use that.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read()?.ok_or_else(|| Error::io(format!("reading {}", path.display()), std::io::Error::other("the API token file is empty")))
        }
        Err(e) => Err(Error::io(format!("storing the API token in {}", path.display()), e)),
    }
}

/// Creates a file only its owner can read, complete or not at all, and never over an
/// existing one: written under a unique name, then linked into place (which fails if the
/// name exists).
fn create_private(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp: PathBuf = path.with_extension(format!("{}.tmp", uuid::Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    let written = file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    written
}
