//! The hybrid logical clock that orders every field write for sync.
//!
//! A stamp is `(wall_ms, counter, node)`. It never goes backwards on one device, even when the
//! wall clock does, and after a device observes a remote stamp its next stamp is greater than
//! both. Per-field last-writer-wins merges (locally and in the server trigger) compare stamps,
//! so the text form must sort exactly like the tuple: `<13-digit ms>:<5-digit counter>:<16 hex>`,
//! the format `migrations/supabase/` checks with `^\d{13}:\d{5}:[0-9a-f]{1,32}$`.
//!
//! The functions here are pure: the caller passes the wall clock reading, which keeps them
//! testable with property tests and keeps the clock read in one place (the store).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// Identifies one device (one Hearth database) in HLC stamps: 64 random bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u64);

impl NodeId {
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().as_u64_pair().0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for NodeId {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(ValidationError::new("node", format!("{s:?} is not 1 to 16 lowercase hex digits")));
        }
        u64::from_str_radix(s, 16).map(Self).map_err(|e| ValidationError::new("node", e.to_string()))
    }
}

/// One hybrid logical clock stamp. `Ord` compares `(wall_ms, counter, node)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Hlc {
    pub wall_ms: u64,
    pub counter: u32,
    pub node: NodeId,
}

impl Hlc {
    /// The largest wall time the 13-digit form can hold (the year 2286).
    pub const MAX_WALL_MS: u64 = 9_999_999_999_999;
    /// The largest counter the 5-digit form can hold; past it the stamp borrows a millisecond.
    pub const MAX_COUNTER: u32 = 99_999;

    /// The stamp for a local event at wall time `now_ms`, after `last` (this device's latest).
    pub fn tick(last: Option<Hlc>, now_ms: u64, node: NodeId) -> Hlc {
        match last {
            Some(last) if last.wall_ms >= now_ms => last.successor(node),
            _ => Hlc { wall_ms: now_ms.min(Self::MAX_WALL_MS), counter: 0, node },
        }
    }

    /// The stamp after receiving `remote`: greater than `last`, `remote` and the wall clock.
    pub fn observe(last: Option<Hlc>, remote: Hlc, now_ms: u64, node: NodeId) -> Hlc {
        let newest = match last {
            Some(last) => last.max(remote),
            None => remote,
        };
        Self::tick(Some(newest), now_ms, node)
    }

    /// The smallest stamp on `node` that is greater than `self`.
    fn successor(self, node: NodeId) -> Hlc {
        if self.counter < Self::MAX_COUNTER {
            Hlc { wall_ms: self.wall_ms, counter: self.counter + 1, node }
        } else {
            // 100,000 events in one millisecond: move into the next millisecond rather than
            // overflow the fixed-width counter, which would break the text ordering.
            Hlc { wall_ms: self.wall_ms + 1, counter: 0, node }
        }
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:013}:{:05}:{}", self.wall_ms, self.counter, self.node)
    }
}

impl FromStr for Hlc {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ValidationError::new("hlc", format!("{s:?} is not <13-digit ms>:<5-digit counter>:<hex node>"));
        let mut parts = s.split(':');
        let (Some(wall), Some(counter), Some(node), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(wall, 13) || !digits(counter, 5) {
            return Err(bad());
        }
        Ok(Hlc {
            wall_ms: wall.parse().map_err(|_| bad())?,
            counter: counter.parse().map_err(|_| bad())?,
            node: node.parse().map_err(|_| bad())?,
        })
    }
}

impl TryFrom<String> for Hlc {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Hlc> for String {
    fn from(h: Hlc) -> Self {
        h.to_string()
    }
}

#[cfg(test)]
mod tests;
