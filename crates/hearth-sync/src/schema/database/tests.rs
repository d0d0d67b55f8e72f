//! The transport decision as tables: where a URL goes, what `sslmode` it gets, and what is
//! refused, all without a server (the end-to-end tests connect to a real one).

use super::*;

use Plaintext::{Allowed, LoopbackOnly};
use Reach::{Loopback, Network, UnixSocket};

fn check_transport(asked: Option<&str>, reach: Reach, plaintext: Plaintext, expected: std::result::Result<(SslMode, bool), Refusal>) {
    let got = transport(asked, reach, plaintext).map(|t| (t.mode, t.exposed));
    assert_eq!(got, expected, "sslmode={asked:?} to {reach:?} with {plaintext:?}");
}

#[test]
fn tls_is_the_default_and_plain_text_stays_on_this_machine_unless_allowed() {
    use SslMode::{Disable, Prefer, Require};
    // No sslmode: verified TLS, except on a Unix socket, where PostgreSQL has none.
    check_transport(None, Network, LoopbackOnly, Ok((Require, false)));
    check_transport(None, Loopback, LoopbackOnly, Ok((Require, false)));
    check_transport(None, UnixSocket, LoopbackOnly, Ok((Disable, false)));
    // libpq's verifying modes are what `require` is here.
    for asked in ["require", "verify-ca", "verify-full"] {
        check_transport(Some(asked), Network, LoopbackOnly, Ok((Require, false)));
        check_transport(Some(asked), Network, Allowed, Ok((Require, false)));
    }
    // Plain text, or modes that fall back to it: this machine only...
    for (asked, mode) in [("disable", Disable), ("prefer", Prefer), ("allow", Prefer)] {
        check_transport(Some(asked), Loopback, LoopbackOnly, Ok((mode, false)));
        check_transport(Some(asked), UnixSocket, LoopbackOnly, Ok((mode, false)));
        check_transport(Some(asked), Network, LoopbackOnly, Err(Refusal::PlainOverNetwork));
        // ...or anywhere when the caller allows it, flagged for a warning.
        check_transport(Some(asked), Network, Allowed, Ok((mode, true)));
        check_transport(Some(asked), Loopback, Allowed, Ok((mode, false)));
    }
    check_transport(Some("verify-me"), Loopback, Allowed, Err(Refusal::UnknownMode));
    check_transport(Some("Require"), Network, LoopbackOnly, Err(Refusal::UnknownMode));
}

fn check_reach(url: &str, expected: Reach) {
    let config = postgres::Config::from_str(url).unwrap();
    assert_eq!(reach(config.get_hosts(), config.get_hostaddrs()), expected, "{url}");
}

#[test]
fn loopback_is_127_8_the_v6_loopback_localhost_and_socket_directories() {
    check_reach("postgres://u@127.0.0.1/db", Loopback);
    check_reach("postgres://u@127.201.3.4:6543/db", Loopback);
    check_reach("postgres://u@[::1]:5432/db", Loopback);
    check_reach("postgres://u@[::ffff:127.0.0.1]/db", Loopback);
    check_reach("postgres://u@localhost/db", Loopback);
    check_reach("postgres://u@LocalHost/db", Loopback);
    check_reach("postgres://u@localhost,%2Fvar%2Frun%2Fpostgresql/db", Loopback);
    check_reach("postgres://u@%2Fvar%2Frun%2Fpostgresql/db", UnixSocket);
    check_reach("postgres://u@/db?host=/tmp", UnixSocket);

    check_reach("postgres://u@db.abcdefgh.supabase.co:5432/postgres", Network);
    check_reach("postgres://u@10.0.0.5/db", Network);
    check_reach("postgres://u@128.0.0.1/db", Network);
    check_reach("postgres://u@[fd00::2]/db", Network);
    // A name that merely starts like loopback is a name, resolved by DNS.
    check_reach("postgres://u@127.0.0.1.nip.io/db", Network);
    check_reach("postgres://u@localhost.example.com/db", Network);
    // One remote host among local ones is enough to need TLS.
    check_reach("postgres://u@localhost,db.example.com/db", Network);
    // With hostaddr the bytes go to the address; the name only names the certificate.
    check_reach("postgres://u@db.example.com/db?hostaddr=127.0.0.1", Loopback);
    check_reach("postgres://u@localhost/db?hostaddr=192.0.2.7", Network);
}

fn parse(url: &str, plaintext: Plaintext) -> Result<Database> {
    Database::parse(url, plaintext)
}

#[test]
fn the_url_sets_the_mode_and_sslrootcert_and_the_rest_reaches_the_postgres_crate() {
    let db = parse("postgres://u:pw@db.example.com/app", LoopbackOnly).unwrap();
    assert_eq!((db.config.get_ssl_mode(), &db.roots, db.warning()), (SslMode::Require, &Roots::Platform, None));
    assert!(db.has_password());

    let db = parse(
        "postgresql://u:pw@db.example.com:6543/app?application_name=hearth&sslrootcert=%2Fhome%2Fme%2Fprod%20ca.crt&sslmode=verify-full",
        LoopbackOnly,
    )
    .unwrap();
    assert_eq!(db.config.get_ssl_mode(), SslMode::Require);
    assert_eq!(db.roots, Roots::File(PathBuf::from("/home/me/prod ca.crt")));
    assert_eq!((db.config.get_application_name(), db.config.get_ports()), (Some("hearth"), &[6543][..]));
    assert_eq!(parse("postgres://u@db.example.com/app?sslrootcert=system", LoopbackOnly).unwrap().roots, Roots::Platform);

    // A password may hold a bare `?`: the query starts after the credentials.
    let db = parse("postgres://u:pa?ss@db.example.com/app?sslmode=disable", Allowed).unwrap();
    assert_eq!((db.config.get_password(), db.config.get_ssl_mode()), (Some(&b"pa?ss"[..]), SslMode::Disable));

    let db = parse("postgres://u@localhost/app?password=hunter2&sslmode=disable", LoopbackOnly).unwrap();
    assert!(db.has_password(), "a password given as a parameter is a password too");
    assert!(!parse("postgres://u@localhost/app", LoopbackOnly).unwrap().has_password());
    assert!(!parse("postgres://u:@localhost/app", LoopbackOnly).unwrap().has_password());
}

fn check_refused(url: &str, plaintext: Plaintext, expected: &[&str]) {
    let err = parse(url, plaintext).unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    let message = err.to_string();
    for part in expected {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
    assert!(!message.contains("s3cret"), "the password leaked: {message}");
}

#[test]
fn refusals_say_what_to_do_and_never_repeat_the_password() {
    check_refused(
        "postgres://u:s3cret@db.example.com/app?sslmode=disable",
        LoopbackOnly,
        &["refusing sslmode=disable to db.example.com", "clear text", "--insecure", "sslrootcert=PATH"],
    );
    check_refused("postgres://u:s3cret@10.1.2.3/app?sslmode=prefer", LoopbackOnly, &["refusing sslmode=prefer to 10.1.2.3"]);
    check_refused("postgres://u:s3cret@localhost/app?hostaddr=10.1.2.3&sslmode=allow", LoopbackOnly, &["to 10.1.2.3"]);
    check_refused("postgres://u:s3cret@localhost/app?sslmode=verify", Allowed, &["sslmode must be", "not \"verify\""]);
    check_refused("mysql://u:s3cret@localhost/app", Allowed, &["must start with postgres://"]);
    check_refused("host=localhost password=s3cret", Allowed, &["must start with postgres://"]);
    check_refused("postgres://u:s3cret@localhost/app?sslcert=me.crt", Allowed, &["the database URL", "sslcert"]);
    check_refused("postgres://u:s3cret@/app", Allowed, &["names no host"]);
}

#[test]
fn allowed_plain_text_over_the_network_comes_with_a_warning() {
    let db = parse("postgres://u:s3cret@db.example.com/app?sslmode=disable", Allowed).unwrap();
    assert_eq!(db.config.get_ssl_mode(), SslMode::Disable);
    let warning = db.warning().unwrap();
    assert!(warning.contains("sslmode=disable to db.example.com (--insecure)") && warning.contains("clear text"), "{warning}");
    assert!(!warning.contains("s3cret"));
    // Allowed but not used: verified TLS, or this machine, needs no warning.
    assert_eq!(parse("postgres://u:s3cret@db.example.com/app", Allowed).unwrap().warning(), None);
    assert_eq!(parse("postgres://u:s3cret@127.0.0.1/app?sslmode=disable", Allowed).unwrap().warning(), None);
}

#[test]
fn debug_output_redacts_the_password() {
    let db = parse("postgres://u:s3cret@db.example.com/app", LoopbackOnly).unwrap();
    assert!(!format!("{db:?}").contains("s3cret"));
}

#[test]
fn an_sslrootcert_without_certificates_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.crt");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let url = format!("postgres://u@127.0.0.1:9/app?sslrootcert={}", empty.display());
    let err = parse(&url, LoopbackOnly).unwrap().tls().unwrap_err().to_string();
    assert!(err.contains("sslrootcert") && err.contains("no PEM certificate"), "{err}");
    let missing = format!("postgres://u@127.0.0.1:9/app?sslrootcert={}", dir.path().join("absent.crt").display());
    let err = parse(&missing, LoopbackOnly).unwrap().tls().unwrap_err().to_string();
    assert!(err.contains("absent.crt"), "{err}");
}
