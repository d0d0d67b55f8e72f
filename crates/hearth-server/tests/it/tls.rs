//! HTTPS on a real socket: a client that trusts the test CA gets answers; a plain-HTTP
//! client gets none. The certificate (localhost and 127.0.0.1, valid 2000 to 2125) and its CA
//! are in `testdata/`, made once with openssl.

use std::sync::Arc;

use hearth_server::Tls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CA: &[u8] = include_bytes!("testdata/ca.pem");
const CERT: &[u8] = include_bytes!("testdata/localhost.pem");
const KEY: &[u8] = include_bytes!("testdata/localhost.key");

fn client() -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(CA).unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn exchange(stream: &mut (impl AsyncReadExt + AsyncWriteExt + Unpin)) -> String {
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    // A server that drops the connection mid-way is an answer too (an empty one).
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn over_tls_the_api_answers_and_plain_http_gets_nothing() {
    let tls = Tls::from_pem(CERT, KEY).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(hearth_server::serve(
        listener,
        crate::api(),
        Some(tls),
        async move {
            let _ = stopped.await;
        },
        std::time::Duration::from_secs(5),
    ));

    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut secure = client().connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    let answer = exchange(&mut secure).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    let answer = exchange(&mut plain).await;
    assert!(!answer.contains("HTTP/1.1"), "plain HTTP was answered: {answer}");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[test]
fn unusable_certificates_are_refused_with_the_reason() {
    assert!(matches!(Tls::from_pem(b"", KEY), Err(hearth_server::TlsError::NoCertificate)));
    assert!(matches!(Tls::from_pem(CERT, b"not a key"), Err(hearth_server::TlsError::Key(_))));
    // The CA's certificate with the server's key: a pair that does not belong together.
    let e = Tls::from_pem(CA, KEY).unwrap_err();
    assert!(e.to_string().contains("cannot be used together"), "{e}");
}
