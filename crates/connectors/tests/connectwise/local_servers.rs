//! Failure modes the simulator cannot produce, each against a tiny server written here: a
//! certificate that does not verify, a connection dropped after the request was sent, a refused
//! connection, and a server that records the exact request head the client sends.

use super::*;

/// Settings for a local server at `address` with a pinned codebase, so no discovery happens.
fn local_settings(scheme: &str, address: SocketAddr) -> ConnectWiseSettings {
    let mut settings = ConnectWiseSettings::new(
        Url::parse(&format!("{scheme}://{address}")).unwrap(),
        "acme_msp",
        "PUBLIC-key",
        PRIVATE_KEY,
        CLIENT_ID,
    );
    settings.codebase = Some("v4_6_release/".to_string());
    settings
}

#[tokio::test]
async fn an_untrusted_certificate_names_the_host() {
    use tokio_rustls::rustls;

    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        certified.key_pair.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(stream).await;
            });
        }
    });

    let client = ConnectWiseClient::new(local_settings("https", address)).unwrap();
    let error = client.system_info().await.unwrap_err();
    assert!(matches!(error, CwError::Tls { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Permanent);
    let text = error.to_string();
    assert!(
        text.contains(&format!(
            "TLS certificate verification failed for host {address}"
        )),
        "{text}"
    );
}

#[tokio::test]
async fn a_connection_dropped_after_sending_is_an_unknown_outcome() {
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt as _;
        while let Ok((mut stream, _)) = listener.accept().await {
            // Read the request head, then hang up without answering.
            let mut buffer = vec![0_u8; 64 * 1024];
            let _ = stream.read(&mut buffer).await;
            drop(stream);
        }
    });
    let client = ConnectWiseClient::new(local_settings("http", address)).unwrap();
    let error = client
        .create_ticket(&new_ticket("dropped", "mspbridge:dropped"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, CwError::ConnectionDropped { .. }),
        "{error:?}"
    );
    assert!(error.is_unknown_outcome());
    assert_eq!(error.class(), ErrorClass::Retryable);
}

/// Serves one canned answer to every request and keeps each request head it received.
async fn recording_server(answer: &'static str) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let address = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut received = Vec::new();
                let mut buffer = [0_u8; 4096];
                while !received.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => received.extend_from_slice(&buffer[..n]),
                    }
                }
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&received).into_owned());
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    (address, heads)
}

#[tokio::test]
async fn requests_carry_the_documented_headers() {
    use base64::Engine as _;
    let (address, heads) = recording_server(r#"{"version":"v2025.1.10431"}"#).await;
    let mut settings = local_settings("http", address);
    settings.codebase = Some("v2025_1".to_string());
    let client = ConnectWiseClient::new(settings).unwrap();
    let info = client.system_info().await.unwrap();
    assert_eq!(info.version.as_deref(), Some("v2025.1.10431"));

    let head = heads.lock().unwrap()[0].to_ascii_lowercase();
    let expected_auth = base64::engine::general_purpose::STANDARD
        .encode(format!("acme_msp+PUBLIC-key:{PRIVATE_KEY}"))
        .to_ascii_lowercase();
    for line in [
        "get /v2025_1/apis/3.0/system/info http/1.1".to_string(),
        format!("authorization: basic {expected_auth}"),
        format!("clientid: {}", CLIENT_ID.to_ascii_lowercase()),
        "accept: application/vnd.connectwise.com+json; version=2025.1".to_string(),
        "content-type: application/json".to_string(),
        "cache-control: no-cache".to_string(),
    ] {
        assert!(head.contains(&line), "missing '{line}' in:\n{head}");
    }
}

#[tokio::test]
async fn a_refused_connection_is_retryable_and_names_the_host() {
    let address = {
        let listener = std::net::TcpListener::bind(loopback()).unwrap();
        listener.local_addr().unwrap()
    };
    let client = ConnectWiseClient::new(local_settings("http", address)).unwrap();
    let error = client.system_info().await.unwrap_err();
    assert!(matches!(error, CwError::Connect { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Retryable);
    assert!(!error.is_unknown_outcome());
    assert!(error.to_string().contains(&address.to_string()));
}
