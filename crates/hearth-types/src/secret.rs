//! A secret value (an API key, a token): carried by the crates that send it, kept by
//! `hearth-secrets` in the OS keychain. Its `Debug` and `Display` never show it, so a secret in
//! a log line or an error message prints redacted.

use std::fmt;

/// A secret value. Its `Debug` and `Display` never show it; [`Secret::expose`] does, for the
/// one place that must send it (an HTTP header).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The last four characters, for "a key ending in …abcd is set" (none for short secrets,
    /// where four characters would be most of it).
    pub fn hint(&self) -> Option<String> {
        let chars: Vec<char> = self.0.chars().collect();
        (chars.len() >= 12).then(|| chars[chars.len() - 4..].iter().collect())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("••••")
    }
}
