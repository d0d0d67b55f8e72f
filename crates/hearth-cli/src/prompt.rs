//! Reading a secret (an API key, a password) from the person: a prompt without echo on a
//! terminal, else the first line of standard input, so scripts can pipe it. Never from an
//! argument: arguments land in shell history and in every user's view of the process list.

use std::io::{BufRead, IsTerminal};

use crate::failure::Failure;

/// The secret as typed, without its line ending.
pub(crate) fn read_hidden(prompt: &str) -> Result<String, Failure> {
    let line = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).map_err(|e| Failure::Other(e.into()))?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| Failure::Other(e.into()))?;
        line
    };
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
