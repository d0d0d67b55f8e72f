//! Which addresses an http node may reach by default: public ones only.
//!
//! [`is_public`] judges one address against the IANA special-purpose registries; an IPv6
//! address that carries an IPv4 one (mapped, compatible, NAT64, 6to4) is judged by the IPv4
//! address inside, since the network stack or a translator on the way delivers it there.
//! [`PublicOnly`] is a DNS resolver that keeps only public addresses, so the check and the
//! connection use the same answer (a name that resolves to a public address for the check and
//! to a private one for the connection cannot slip through). reqwest does not ask the resolver
//! about IP literals, so [`check_literal`] judges those before a request is sent.
//!
//! What it leaves out: a proxy could reach what the resolver refuses, so the clients that use
//! this guard have no proxy; and it judges addresses, not services (a public address of the
//! machine itself is reachable like any other public address).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// IPv4 ranges that are not globally reachable, as `(network, prefix length)`.
const LOCAL_V4: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network", 0.0.0.0 included
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private (RFC 1918)
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // shared address space (carrier-grade NAT)
    (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local, cloud metadata (169.254.169.254) included
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private (RFC 1918)
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation (TEST-NET-1)
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // 6to4 relay anycast (deprecated)
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private (RFC 1918)
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation (TEST-NET-2)
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation (TEST-NET-3)
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, the broadcast address included
];

/// Ranges inside global unicast (2000::/3) that are not globally reachable. Everything
/// outside 2000::/3 is refused as a whole (loopback, unspecified, unique local fc00::/7,
/// link-local fe80::/10, site-local, multicast, discard-only 100::/64, local-use NAT64
/// 64:ff9b:1::/48, ...) except the forms that embed an IPv4 address, judged by that address.
const LOCAL_V6: &[(Ipv6Addr, u8)] = &[
    // IETF protocol assignments: Teredo, benchmarking, ORCHID and the like; none is a web host.
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),     // documentation (RFC 9637)
];

fn in_v4(ip: Ipv4Addr, (net, len): (Ipv4Addr, u8)) -> bool {
    (u32::from(ip) ^ u32::from(net)).checked_shr(32 - u32::from(len)).unwrap_or(0) == 0
}

fn in_v6(ip: Ipv6Addr, (net, len): (Ipv6Addr, u8)) -> bool {
    (u128::from(ip) ^ u128::from(net)).checked_shr(128 - u32::from(len)).unwrap_or(0) == 0
}

/// The IPv4 address an IPv6 address stands for, when it is one of the forms that carry one:
/// IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96, which holds :: and ::1 too), NAT64
/// (64:ff9b::/96) and 6to4 (2002::/16, the address in bits 16 to 47).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let last32 = Ipv4Addr::from(bits as u32);
    let mapped = (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96);
    let compatible = (Ipv6Addr::UNSPECIFIED, 96);
    let nat64 = (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96);
    if in_v6(ip, mapped) || in_v6(ip, compatible) || in_v6(ip, nat64) {
        Some(last32)
    } else if in_v6(ip, (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16)) {
        Some(Ipv4Addr::from((bits >> 80) as u32))
    } else {
        None
    }
}

/// Whether `ip` is a public (globally reachable) address, which an http node may reach
/// without opting in.
pub(super) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !LOCAL_V4.iter().any(|&net| in_v4(v4, net)),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => in_v6(v6, (Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3)) && !LOCAL_V6.iter().any(|&net| in_v6(v6, net)),
        },
    }
}

/// A host whose every address is local or private.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Refused {
    pub(super) host: String,
    pub(super) addresses: Vec<IpAddr>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} resolves only to local or private network addresses", self.host)
    }
}

impl std::error::Error for Refused {}

/// Refuses a URL whose host is an IP literal that is not public. Domain names are left to
/// [`PublicOnly`].
pub(super) fn check_literal(url: &reqwest::Url) -> Result<(), Refused> {
    let Some(host) = url.host_str() else { return Ok(()) };
    // The URL parser has already rewritten every IPv4 spelling (2130706433, 0x7f.1, ...) to
    // dotted decimal, and IPv6 literals keep their brackets.
    let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() else { return Ok(()) };
    if is_public(ip) { Ok(()) } else { Err(Refused { host: host.to_owned(), addresses: vec![ip] }) }
}

/// Resolves names through the system resolver and keeps only public addresses; a name left
/// with none fails with [`Refused`].
#[derive(Debug)]
pub(super) struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (public, local): (Vec<SocketAddr>, Vec<SocketAddr>) = found.into_iter().partition(|a| is_public(a.ip()));
            if public.is_empty() && !local.is_empty() {
                return Err(Box::new(Refused { host, addresses: local.iter().map(SocketAddr::ip).collect() }) as _);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}
