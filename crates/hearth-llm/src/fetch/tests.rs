//! The address guard as a table of addresses, and real requests to a loopback server of the
//! test's own: refused without `allow_local` (before any connection is made), served with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::guard::is_public;
use super::*;

fn check(address: &str, public: bool) {
    let ip: IpAddr = address.parse().unwrap_or_else(|_| panic!("{address} is an address"));
    assert_eq!(is_public(ip), public, "{address} should be {}", if public { "public" } else { "refused" });
}

#[test]
fn local_private_and_special_addresses_are_refused() {
    for address in [
        // IPv4: this network, private, carrier-grade NAT, loopback, link-local and metadata.
        "0.0.0.0",
        "0.1.2.3",
        "10.0.0.1",
        "10.255.255.255",
        "100.64.0.1",
        "100.127.255.255",
        "127.0.0.1",
        "127.255.255.254",
        "169.254.169.254",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        // Protocol assignments, documentation, 6to4 relays, benchmarking, multicast, reserved.
        "192.0.0.8",
        "192.0.2.1",
        "192.88.99.1",
        "198.18.0.1",
        "198.19.255.255",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        // IPv6: unspecified, loopback, unique local, link-local, site-local, multicast, discard.
        "::",
        "::1",
        "fc00::1",
        "fd00::1",
        "fe80::1",
        "fec0::1",
        "ff02::1",
        "100::1",
        // IPv4 inside IPv6: mapped, compatible, NAT64, 6to4; and local-use NAT64 as a whole.
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "::192.168.0.1",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::5db8:d822",
        "2002:7f00:1::1",
        "2002:c0a8:101::1",
        "2002:a9fe:a9fe::",
        // Inside 2000::/3: IETF assignments (Teredo, benchmarking), documentation.
        "2001::1",
        "2001:2::1",
        "2001:db8::1",
        "3fff::1",
    ] {
        check(address, false);
    }
}

#[test]
fn public_addresses_are_allowed() {
    for address in [
        "93.184.216.34",
        "8.8.8.8",
        "1.1.1.1",
        // Just outside the ranges around them.
        "100.63.255.255",
        "100.128.0.1",
        "172.15.255.255",
        "172.32.0.1",
        "169.253.255.255",
        "198.20.0.1",
        "223.255.255.255",
        "2606:4700::1",
        "2001:4860:4860::8888",
        "2a00:1450:4001::1",
        // Public IPv4 inside IPv6 forms.
        "::ffff:93.184.216.34",
        "64:ff9b::5db8:d822",
        "2002:5db8:d822::1",
    ] {
        check(address, true);
    }
}

fn request(url: &str, allow_local: bool) -> FetchRequest {
    FetchRequest { method: "GET".into(), url: url.into(), headers: Vec::new(), body: String::new(), max_bytes: 1 << 20, allow_local }
}

#[tokio::test]
async fn ip_literals_that_are_not_public_are_refused_before_connecting() {
    let fetch = HttpFetch::new();
    for (url, host) in [
        ("http://2130706433/", "127.0.0.1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://0.0.0.0/", "0.0.0.0"),
        ("http://[::ffff:127.0.0.1]/", "[::ffff:7f00:1]"),
        ("http://[::1]:8080/", "[::1]"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("https://10.0.0.1/", "10.0.0.1"),
        ("http://[fd00::1]/", "[fd00::1]"),
    ] {
        let error = fetch.fetch(request(url, false)).await.unwrap_err();
        assert!(matches!(&error, FetchError::LocalAddress { host: h, .. } if h == host), "{url}: {error:?}");
        assert!(error.to_string().contains("is a local or private network address"), "{url}: {error}");
    }
}

/// A loopback server that answers every connection with `hello` and counts them.
async fn serve() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello").await;
        }
    });
    (port, connections)
}

#[tokio::test]
async fn a_loopback_server_is_refused_by_default_and_served_with_allow_local() {
    let (port, connections) = serve().await;
    let fetch = HttpFetch::new();
    for url in [format!("http://127.0.0.1:{port}/"), format!("http://localhost:{port}/")] {
        let error = fetch.fetch(request(&url, false)).await.unwrap_err();
        assert!(matches!(&error, FetchError::LocalAddress { .. }), "{url}: {error:?}");
        assert_eq!(connections.load(Ordering::SeqCst), 0, "{url}: the refused request never connected");
    }
    // A name is judged by what it resolves to, and the error names it.
    let error = fetch.fetch(request(&format!("http://localhost:{port}/"), false)).await.unwrap_err().to_string();
    assert!(error.starts_with("refused to connect to localhost: it resolves only to local or private network addresses ("), "{error}");
    assert!(error.contains("127.0.0.1"), "{error}");

    for url in [format!("http://127.0.0.1:{port}/"), format!("http://localhost:{port}/")] {
        let response = fetch.fetch(request(&url, true)).await.unwrap();
        assert_eq!((response.status, response.body.as_slice()), (200, b"hello".as_slice()), "{url}");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[test]
fn url_values_are_encoded_and_origins_read_with_the_fetch_parser() {
    assert_eq!(encode_url_value("@evil.com/x?y#z"), "%40evil.com%2Fx%3Fy%23z");
    assert_eq!(encode_url_value("a b&c=d+e:f%"), "a%20b%26c%3Dd%2Be%3Af%25");
    assert_eq!(encode_url_value("safe-._~09AZ"), "safe-._~09AZ");
    assert_eq!(encode_url_value("é"), "%C3%A9");
    assert_eq!(origin("https://api.example.com/a?b").as_deref(), Some("https://api.example.com"));
    assert_eq!(origin("http://api.example.com:8080/").as_deref(), Some("http://api.example.com:8080"));
    assert_eq!(origin("https://api.example.com:443/").as_deref(), Some("https://api.example.com"));
    assert_eq!(origin("http://user@evil.com\\@api.example.com/").as_deref(), Some("http://evil.com"));
    assert_eq!(origin("ftp://example.com/"), None);
    assert_eq!(origin("not a url"), None);
}
