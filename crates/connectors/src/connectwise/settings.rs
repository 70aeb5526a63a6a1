//! How to reach one ConnectWise Manage site, and the checks that catch a wrong setting before the
//! first request leaves the machine.
//!
//! The settings carry the resolved private key, so their `Debug` output redacts it; every error raised
//! here names the config key (`connectwise.site`, `connectwise.client_id`, …) the operator must fix.

use std::fmt;
use std::time::Duration;

use url::Url;

use super::error::CwError;

/// The `Accept` version sent when none is configured. Pinning a version pins the response model, so
/// a server upgrade cannot add members that a later PUT would send back (NOTES §6, gotcha 3).
pub const DEFAULT_ACCEPT_VERSION: &str = "2025.1";

/// Everything the client needs to talk to one ConnectWise Manage site.
#[derive(Clone)]
pub struct ConnectWiseSettings {
    /// The API host, e.g. `https://api-na.myconnectwise.net`. Plain `http` is accepted only for
    /// loopback addresses (the built-in simulator).
    pub site: Url,
    /// The login company id, e.g. `acme_msp`.
    pub company_id: String,
    /// The API member's public key.
    pub public_key: String,
    /// The API member's private key, already resolved from its `env:`/`file:` reference.
    pub private_key: String,
    /// The client id registered at developer.connectwise.com; sent as the `clientId` header.
    pub client_id: String,
    /// A fixed codebase such as `v4_6_release/`; `None` discovers it through `/login/companyinfo`.
    pub codebase: Option<String>,
    /// How long establishing a connection (TCP and TLS) may take.
    pub connect_timeout: Duration,
    /// How long one whole request may take, from sending to the last byte of the response.
    pub request_timeout: Duration,
    /// The API version pinned in the `Accept` header; `None` uses [`DEFAULT_ACCEPT_VERSION`].
    pub accept_version: Option<String>,
}

impl ConnectWiseSettings {
    /// Settings with the usual timeouts (10 s to connect, 60 s per request), codebase discovery and
    /// the default API version.
    pub fn new(
        site: Url,
        company_id: impl Into<String>,
        public_key: impl Into<String>,
        private_key: impl Into<String>,
        client_id: impl Into<String>,
    ) -> ConnectWiseSettings {
        ConnectWiseSettings {
            site,
            company_id: company_id.into(),
            public_key: public_key.into(),
            private_key: private_key.into(),
            client_id: client_id.into(),
            codebase: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            accept_version: None,
        }
    }

    /// Checks every setting and returns all problems at once, each naming its config key.
    pub fn validate(&self) -> Result<(), CwError> {
        let mut problems = Vec::new();
        match self.site.scheme() {
            "https" => {}
            "http" if is_loopback(&self.site) => {}
            "http" => problems.push(
                "connectwise.site must use https (plain http is only allowed for loopback addresses)"
                    .to_string(),
            ),
            other => problems.push(format!(
                "connectwise.site must be an https URL, not a '{other}' URL"
            )),
        }
        if self.site.host_str().is_none_or(str::is_empty) {
            problems.push("connectwise.site has no host name".to_string());
        }
        if self.site.query().is_some() || self.site.fragment().is_some() {
            problems.push("connectwise.site must not carry a query or fragment".to_string());
        }
        check_plain_text(
            &mut problems,
            "connectwise.company_id",
            &self.company_id,
            true,
        );
        check_plain_text(
            &mut problems,
            "connectwise.public_key",
            &self.public_key,
            true,
        );
        if self.private_key.is_empty() {
            problems.push("connectwise.private_key is empty".to_string());
        } else if self.private_key.chars().any(char::is_control) {
            problems.push("connectwise.private_key contains control characters".to_string());
        }
        check_plain_text(
            &mut problems,
            "connectwise.client_id",
            &self.client_id,
            false,
        );
        if let Some(codebase) = &self.codebase {
            let trimmed = codebase.trim_matches('/');
            if trimmed.is_empty()
                || !trimmed
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
            {
                problems.push(format!(
                    "connectwise.codebase '{codebase}' is not a codebase like 'v4_6_release/'"
                ));
            }
        }
        if let Some(version) = &self.accept_version {
            if version.is_empty() || !version.chars().all(|c| c.is_ascii_digit() || c == '.') {
                problems.push(format!(
                    "connectwise.accept_version '{version}' is not a version like '2025.1'"
                ));
            }
        }
        if self.connect_timeout.is_zero() {
            problems.push("connectwise.connect_timeout must be greater than zero".to_string());
        }
        if self.request_timeout.is_zero() {
            problems.push("connectwise.request_timeout must be greater than zero".to_string());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(CwError::InvalidSettings { problems })
        }
    }

    /// The version sent in the `Accept` header.
    pub fn effective_accept_version(&self) -> &str {
        self.accept_version
            .as_deref()
            .unwrap_or(DEFAULT_ACCEPT_VERSION)
    }
}

fn check_plain_text(problems: &mut Vec<String>, key: &str, value: &str, required: bool) {
    if value.trim().is_empty() {
        if required {
            problems.push(format!("{key} is empty"));
        }
    } else if value.chars().any(|c| c.is_control()) {
        problems.push(format!("{key} contains control characters"));
    } else if value.trim() != value {
        problems.push(format!("{key} has leading or trailing spaces"));
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

impl fmt::Debug for ConnectWiseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectWiseSettings")
            .field("site", &self.site.as_str())
            .field("company_id", &self.company_id)
            .field("public_key", &self.public_key)
            .field("private_key", &"<redacted>")
            .field("client_id", &self.client_id)
            .field("codebase", &self.codebase)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("accept_version", &self.accept_version)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ConnectWiseSettings {
        ConnectWiseSettings::new(
            Url::parse("https://api-na.myconnectwise.net").unwrap(),
            "acme_msp",
            "pubkey",
            "very-secret-private",
            "0d5b8c6e-3a9f-4f57-9a77-1a2b3c4d5e6f",
        )
    }

    #[test]
    fn debug_redacts_the_private_key() {
        let text = format!("{:?}", settings());
        assert!(!text.contains("very-secret-private"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
        assert!(text.contains("acme_msp"), "{text}");
    }

    #[test]
    fn valid_settings_pass() {
        settings().validate().unwrap();
    }

    #[test]
    fn plain_http_is_refused_for_remote_hosts_but_allowed_on_loopback() {
        let mut remote = settings();
        remote.site = Url::parse("http://cw.example.com").unwrap();
        let err = remote.validate().unwrap_err().to_string();
        assert!(err.contains("connectwise.site must use https"), "{err}");

        let mut local = settings();
        local.site = Url::parse("http://127.0.0.1:8080").unwrap();
        local.validate().unwrap();
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let mut bad = settings();
        bad.company_id = String::new();
        bad.public_key = " pub".to_string();
        bad.private_key = String::new();
        bad.codebase = Some("../x".to_string());
        bad.request_timeout = Duration::ZERO;
        let err = bad.validate().unwrap_err().to_string();
        for key in [
            "connectwise.company_id",
            "connectwise.public_key",
            "connectwise.private_key",
            "connectwise.codebase",
            "connectwise.request_timeout",
        ] {
            assert!(err.contains(key), "{key} missing in: {err}");
        }
    }

    #[test]
    fn accept_version_defaults_to_a_fixed_version() {
        assert_eq!(settings().effective_accept_version(), "2025.1");
        let mut pinned = settings();
        pinned.accept_version = Some("2026.11".to_string());
        assert_eq!(pinned.effective_accept_version(), "2026.11");
    }
}
