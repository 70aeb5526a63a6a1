//! HTTPS for the simulator with a freshly generated self-signed certificate.
//!
//! Auditor serves its API over HTTPS with a self-signed certificate it generates at install time;
//! the simulator does the same so that certificate pinning is exercised end to end.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::AuditorSimError;

/// How long a client may take to finish the TLS handshake before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// HTTPS settings of the simulator.
#[derive(Clone, PartialEq, Eq)]
pub enum AuditorSimTls {
    /// Generate a self-signed certificate for these DNS names or IP addresses.
    SelfSigned { subject_alt_names: Vec<String> },
    /// Serve this certificate and key (DER; the key PKCS#8), as a restarted Auditor keeps the
    /// certificate it generated at install time. [`AuditorSimulator::tls_identity`] gives the one a
    /// running simulator serves.
    ///
    /// [`AuditorSimulator::tls_identity`]: super::AuditorSimulator::tls_identity
    Identity {
        certificate_der: Vec<u8>,
        private_key_der: Vec<u8>,
    },
}

impl std::fmt::Debug for AuditorSimTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditorSimTls::SelfSigned { subject_alt_names } => f
                .debug_struct("SelfSigned")
                .field("subject_alt_names", subject_alt_names)
                .finish(),
            AuditorSimTls::Identity {
                certificate_der, ..
            } => f
                .debug_struct("Identity")
                .field("certificate_sha256", &sha256_hex(certificate_der))
                .field("private_key_der", &"<redacted>")
                .finish(),
        }
    }
}

impl AuditorSimTls {
    /// A self-signed certificate for `localhost` and `127.0.0.1`.
    pub fn self_signed_localhost() -> Self {
        AuditorSimTls::SelfSigned {
            subject_alt_names: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
        }
    }
}

/// The certificate, its key and the acceptor serving them.
pub(crate) struct TlsMaterial {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) certificate_der: Vec<u8>,
    pub(crate) private_key_der: Vec<u8>,
}

pub(crate) fn prepare(tls: &AuditorSimTls) -> Result<TlsMaterial, AuditorSimError> {
    let (certificate_der, private_key_der) = match tls {
        AuditorSimTls::SelfSigned { subject_alt_names } => {
            let generated =
                rcgen::generate_simple_self_signed(subject_alt_names.clone()).map_err(|error| {
                    AuditorSimError::Tls(format!("cannot generate a certificate: {error}"))
                })?;
            (
                generated.cert.der().to_vec(),
                generated.key_pair.serialize_der(),
            )
        }
        AuditorSimTls::Identity {
            certificate_der,
            private_key_der,
        } => (certificate_der.clone(), private_key_der.clone()),
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(private_key_der.clone()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| AuditorSimError::Tls(format!("TLS versions: {error}")))?
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(certificate_der.clone())], key)
        .map_err(|error| AuditorSimError::Tls(format!("TLS certificate: {error}")))?;
    Ok(TlsMaterial {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        certificate_der,
        private_key_der,
    })
}

/// Lowercase hex SHA-256 of a DER certificate, the form mspbridge's pinning setting takes.
pub(crate) fn sha256_hex(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A TCP listener that completes the TLS handshake before handing a connection to axum.
/// Failed handshakes (a client that rejects the certificate) are logged and skipped.
pub(crate) struct TlsListener {
    pub(crate) listener: TcpListener,
    pub(crate) acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, address) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "auditor simulator: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream)).await {
                Ok(Ok(tls)) => return (tls, address),
                Ok(Err(error)) => {
                    tracing::debug!(%error, %address, "auditor simulator: TLS handshake failed")
                }
                Err(_) => tracing::debug!(%address, "auditor simulator: TLS handshake timed out"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}
