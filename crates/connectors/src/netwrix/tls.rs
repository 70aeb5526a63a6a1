//! Certificate pinning for Auditor's self-signed HTTPS certificate.
//!
//! Auditor generates its own certificate at install time, so WebPKI verification fails and the
//! common workaround is to switch verification off. Pinning accepts exactly one certificate, by the
//! SHA-256 of its DER encoding, and still verifies the handshake signatures made with its key.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use sha2::{Digest, Sha256};

use super::error::AuditorError;
use super::settings::to_hex;

/// Carried inside the rustls error so the client can report both fingerprints.
#[derive(Debug)]
pub(crate) struct PinMismatch {
    pub(crate) expected: String,
    pub(crate) actual: String,
}

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server certificate SHA-256 {} does not match the pinned {}",
            self.actual, self.expected
        )
    }
}

impl std::error::Error for PinMismatch {}

#[derive(Debug)]
struct PinnedCertificateVerifier {
    expected: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertificateVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let actual: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if actual == self.expected {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(PinMismatch {
                    expected: to_hex(&self.expected),
                    actual: to_hex(&actual),
                })),
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A rustls client configuration that trusts only the certificate with this SHA-256.
pub(crate) fn pinned_client_config(
    expected: [u8; 32],
) -> Result<rustls::ClientConfig, AuditorError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = PinnedCertificateVerifier {
        expected,
        provider: provider.clone(),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| {
            AuditorError::InvalidSettings(format!("TLS configuration for pinning failed: {error}"))
        })?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(config)
}

/// What certificate verification said, found in a transport error's source chain.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CertificateProblem {
    /// The pinned fingerprint did not match: (expected, actual).
    PinMismatch { expected: String, actual: String },
    /// WebPKI verification rejected the certificate.
    Rejected(String),
}

/// Looks through an error's source chain (including the inside of `io::Error`s, where hyper puts
/// TLS failures) for a rustls certificate error.
pub(crate) fn find_certificate_problem(
    error: &(dyn std::error::Error + 'static),
) -> Option<CertificateProblem> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        if let Some(found) = certificate_problem_in(error) {
            return Some(found);
        }
        // `io::Error::source` skips the wrapped error itself, and hyper wraps rustls errors in
        // two nested `io::Error`s, so step into the wrapped error explicitly.
        current = match error.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => error.source(),
        };
    }
    None
}

fn certificate_problem_in(error: &(dyn std::error::Error + 'static)) -> Option<CertificateProblem> {
    if let Some(mismatch) = error.downcast_ref::<PinMismatch>() {
        return Some(CertificateProblem::PinMismatch {
            expected: mismatch.expected.clone(),
            actual: mismatch.actual.clone(),
        });
    }
    match error.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            match other.0.downcast_ref::<PinMismatch>() {
                Some(mismatch) => Some(CertificateProblem::PinMismatch {
                    expected: mismatch.expected.clone(),
                    actual: mismatch.actual.clone(),
                }),
                None => Some(CertificateProblem::Rejected(other.to_string())),
            }
        }
        rustls::Error::InvalidCertificate(problem) => {
            Some(CertificateProblem::Rejected(format!("{problem:?}")))
        }
        _ => None,
    }
}
