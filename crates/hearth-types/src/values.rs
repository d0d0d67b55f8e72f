//! Validated scalar values: workspace handles, IANA timezones, message roles and statuses.

use std::fmt;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// A workspace's short, URL-safe name: lowercase ASCII letters and digits in groups joined by
/// single hyphens (`^[a-z0-9]+(?:-[a-z0-9]+)*$`), at most 64 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Handle(String);

impl Handle {
    pub const MAX_LEN: usize = 64;

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let bad = |why: &str| {
            ValidationError::new(
                "handle",
                format!("{s:?} {why}; use lowercase letters and digits joined by single hyphens, like \"my-notes\""),
            )
        };
        if s.is_empty() {
            return Err(bad("is empty"));
        }
        if s.len() > Self::MAX_LEN {
            return Err(bad(&format!("is longer than {} characters", Self::MAX_LEN)));
        }
        // `split('-')` yields an empty group exactly when a hyphen leads, trails or repeats.
        let groups_ok = s.split('-').all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        if !groups_ok {
            return Err(bad("is not a valid handle"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Handle {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Handle> for String {
    fn from(h: Handle) -> Self {
        h.0
    }
}

/// The tz database compiled into the binary. `jiff::tz::db()` would prefer the system's
/// zoneinfo, whose age differs between machines; validation must not.
static TZDB: LazyLock<jiff::tz::TimeZoneDatabase> = LazyLock::new(jiff::tz::TimeZoneDatabase::bundled);

/// An IANA timezone name (`Europe/Paris`, `UTC`), checked against the tz database bundled in
/// the binary so that validation gives the same answer on every machine.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timezone(String);

impl Timezone {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        // jiff also accepts POSIX TZ strings and fixed offsets elsewhere; `db().get` takes
        // only names present in the tz database, which is what a workspace setting should be.
        match TZDB.get(s) {
            Ok(tz) => Ok(Self(tz.iana_name().unwrap_or(s).to_owned())),
            Err(_) => Err(ValidationError::new(
                "timezone",
                format!("{s:?} is not an IANA timezone name (for example \"Europe/Paris\" or \"UTC\")"),
            )),
        }
    }

    /// A name read back from storage. It was valid when written, but a newer Hearth on another
    /// device may know zones this build does not; keeping the name as is means one such row
    /// cannot make a whole list unreadable.
    pub fn from_stored(name: String) -> Self {
        Self(name)
    }

    pub fn utc() -> Self {
        Self("UTC".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Timezone {
    fn default() -> Self {
        Self::utc()
    }
}

impl fmt::Display for Timezone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Timezone {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Timezone> for String {
    fn from(t: Timezone) -> Self {
        t.0
    }
}

crate::text_enum! {
    /// Who wrote a message.
    pub enum Role: "role" { System = "system", User = "user", Assistant = "assistant", Tool = "tool" }
}

crate::text_enum! {
    /// Where a message is in its life: a reply starts `pending`, becomes `streaming`, and ends
    /// `complete`, `error` or `cancelled`. Messages people write are `complete` at once.
    pub enum MessageStatus: "status" {
        Pending = "pending",
        Streaming = "streaming",
        Complete = "complete",
        Error = "error",
        Cancelled = "cancelled",
    }
}

#[cfg(test)]
mod tests;
