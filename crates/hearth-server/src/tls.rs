//! TLS for a server that other machines reach (`hearth serve --allow-remote`): every request
//! carries the bearer token, and every answer a chat, so off loopback they travel encrypted
//! or not at all.
//!
//! [`Tls`] is rustls (aws-lc-rs, TLS 1.2 and 1.3, HTTP/1.1 over ALPN) with a certificate chain
//! and key the caller read from PEM files; [`crate::serve`] runs the handshake for each
//! accepted connection, within [`HANDSHAKE_TIMEOUT`]. Certificates are the user's: Hearth
//! neither makes nor renews them, and asks clients for none.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// How long a client has to finish the handshake once connected.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a certificate and key cannot serve TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("the certificate file holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate,
    #[error("the certificate file is not PEM: {0}")]
    Certificate(String),
    #[error("the key file holds no PEM private key (PKCS#8, PKCS#1 or SEC1): {0}")]
    Key(String),
    #[error("the certificate and key cannot be used together: {0}")]
    Unusable(#[from] rustls::Error),
}

/// A server's TLS settings, ready to accept connections.
#[derive(Clone)]
pub struct Tls(TlsAcceptor);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

impl Tls {
    /// From a PEM certificate chain (the server's certificate first) and its PEM private key.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Self, TlsError> {
        let chain =
            CertificateDer::pem_slice_iter(cert_chain).collect::<Result<Vec<_>, _>>().map_err(|e| TlsError::Certificate(e.to_string()))?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate);
        }
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| TlsError::Key(e.to_string()))?;
        // The provider is named rather than taken from the process default, which is ambiguous
        // (and panics) when the dependency graph enables more than one.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self(TlsAcceptor::from(Arc::new(config))))
    }

    /// Runs the server side of the handshake on an accepted connection.
    pub(crate) async fn accept<S>(&self, stream: S) -> std::io::Result<tokio_rustls::server::TlsStream<S>>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.0.accept(stream)).await {
            Ok(accepted) => accepted,
            Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the TLS handshake took too long")),
        }
    }
}
