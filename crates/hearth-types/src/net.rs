//! Whether a host names this machine: the one rule shared by every place that allows plain
//! text or a local call only there (sync endpoints, provider URLs, the database migration).

use std::net::IpAddr;

/// `localhost` (any case), 127.0.0.0/8, `::1`, or an IPv4-mapped form of them; an IPv6 address
/// may come in brackets (as URLs write it). Names are not resolved: `localhost.example.com` is
/// not this machine.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.to_canonical().is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_in_every_spelling_and_nothing_else() {
        for local in ["localhost", "LOCALHOST", "127.0.0.1", "127.8.0.1", "::1", "[::1]", "::ffff:127.0.0.1", "[::ffff:127.0.0.1]"] {
            assert!(is_loopback_host(local), "{local}");
        }
        for remote in ["localhost.example.com", "127.0.0.1.nip.io", "10.0.0.1", "[2001:db8::1]", "0.0.0.0", "::", "", "example.com"] {
            assert!(!is_loopback_host(remote), "{remote}");
        }
    }
}
