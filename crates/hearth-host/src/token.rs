//! The API's bearer token: `HEARTH_API_TOKEN` when set; otherwise made at first start (32
//! random bytes, hex) and kept in the OS keychain, one per data directory; never in SQLite
//! (see [`api_token`] for the one exception, a keychain that forgets at reboot).

use std::io::Write;
use std::path::Path;

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
        return Ok(t.trim().to_owned());
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
    let token = match std::fs::read_to_string(&file) {
        Ok(t) if !t.trim().is_empty() => t.trim().to_owned(),
        _ => new_token(),
    };
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

/// The token in its file, made now if there is none.
fn file_token(path: &Path) -> Result<String> {
    let read = || match std::fs::read_to_string(path) {
        Ok(t) if !t.trim().is_empty() => Ok(Some(t.trim().to_owned())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading the API token from {}", path.display()), e)),
    };
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
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("{}.tmp", uuid::Uuid::new_v4().simple()));
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    let written = file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    written
}
