//! Where and how the IT Glue client connects: region or explicit URL, API key, timeout, page size,
//! request budget and retry policy.
//!
//! Kept apart from the client so the configuration layer can build and validate settings without
//! touching the network, and so the API key has exactly one place where it is redacted from `Debug`.

use std::fmt;
use std::time::Duration;

use mspbridge_core::config::{ItGlueConfig, ItGlueEndpoint, ItGlueRegion as ConfiguredRegion};
use url::Url;

use super::budget::RequestBudget;
use super::retry::RetryPolicy;

/// Largest `page[size]` IT Glue accepts; the product always pages at this size unless told otherwise.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Default time allowed for one HTTP exchange (connect, send, receive the whole body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The data centre an IT Glue account lives in. A key only works against its own region; any other
/// region answers 403 exactly like a wrong key would.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItGlueRegion {
    /// `https://api.itglue.com` (UI at `app.itglue.com`).
    Us,
    /// `https://api.eu.itglue.com` (UI at `app.eu.itglue.com`).
    Eu,
    /// `https://api.au.itglue.com` (UI at `app.au.itglue.com`).
    Au,
}

impl ItGlueRegion {
    /// The API base URL of the region, without a path prefix.
    pub fn api_url(self) -> &'static str {
        match self {
            ItGlueRegion::Us => "https://api.itglue.com",
            ItGlueRegion::Eu => "https://api.eu.itglue.com",
            ItGlueRegion::Au => "https://api.au.itglue.com",
        }
    }

    /// The lower-case name used in configuration files (`us`, `eu`, `au`).
    pub fn as_str(self) -> &'static str {
        match self {
            ItGlueRegion::Us => "us",
            ItGlueRegion::Eu => "eu",
            ItGlueRegion::Au => "au",
        }
    }

    /// Parses `us`, `eu` or `au` (any case).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "us" => Some(ItGlueRegion::Us),
            "eu" => Some(ItGlueRegion::Eu),
            "au" => Some(ItGlueRegion::Au),
            _ => None,
        }
    }
}

impl fmt::Display for ItGlueRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which server the client talks to: one of the public regions, or an explicit URL (a simulator,
/// a proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItGlueBase {
    Region(ItGlueRegion),
    Url(Url),
}

impl ItGlueBase {
    /// The base URL requests are made against. Paths are appended to it, so a URL with a path
    /// prefix keeps that prefix.
    pub fn url(&self) -> Url {
        match self {
            ItGlueBase::Region(region) => {
                Url::parse(region.api_url()).expect("region base URLs are valid")
            }
            ItGlueBase::Url(url) => url.clone(),
        }
    }

    /// A human description naming the region, used in authentication error messages.
    pub fn describe(&self) -> String {
        match self {
            ItGlueBase::Region(region) => {
                format!(
                    "region {} ({})",
                    region.as_str().to_uppercase(),
                    region.api_url()
                )
            }
            ItGlueBase::Url(url) => format!("explicit URL {}", url.as_str().trim_end_matches('/')),
        }
    }
}

/// Everything [`ItGlueClient`](super::ItGlueClient) needs to connect to one IT Glue account.
#[derive(Clone)]
pub struct ItGlueSettings {
    pub base: ItGlueBase,
    /// The resolved API key (`ITG.…`). Never printed: `Debug` shows `[redacted]`.
    pub api_key: String,
    /// Time allowed for one HTTP exchange.
    pub timeout: Duration,
    /// `page[size]` for list calls, 1..=1000.
    pub page_size: u32,
    /// Local request budget, shared by every clone of the client.
    pub budget: RequestBudget,
    /// How failed calls are retried inside the client.
    pub retry: RetryPolicy,
}

impl ItGlueSettings {
    /// Settings with the product defaults: 60 s timeout, pages of 1000, a budget of 2,900 requests
    /// per 5 minutes and the default retry policy.
    pub fn new(base: ItGlueBase, api_key: impl Into<String>) -> Self {
        ItGlueSettings {
            base,
            api_key: api_key.into(),
            timeout: DEFAULT_TIMEOUT,
            page_size: MAX_PAGE_SIZE,
            budget: RequestBudget::default(),
            retry: RetryPolicy::default(),
        }
    }

    /// Settings for one `[[itglue]]` instance of the configuration file, with product defaults for
    /// everything the file does not set.
    pub fn from_config(instance: &ItGlueConfig) -> Self {
        let base = match &instance.endpoint {
            ItGlueEndpoint::Region(ConfiguredRegion::Us) => ItGlueBase::Region(ItGlueRegion::Us),
            ItGlueEndpoint::Region(ConfiguredRegion::Eu) => ItGlueBase::Region(ItGlueRegion::Eu),
            ItGlueEndpoint::Region(ConfiguredRegion::Au) => ItGlueBase::Region(ItGlueRegion::Au),
            ItGlueEndpoint::Url(url) => ItGlueBase::Url(url.clone()),
        };
        let mut settings = ItGlueSettings::new(base, instance.api_key.expose());
        settings.budget = RequestBudget {
            max_requests: instance.request_budget.requests,
            window: instance.request_budget.per,
        };
        settings
    }

    /// Every problem with these settings, each as a full sentence. Empty when they are usable.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let key = self.api_key.trim();
        if key.is_empty() {
            problems.push("the IT Glue API key is empty".to_string());
        } else if key.chars().any(|c| c.is_control() || c.is_whitespace()) {
            problems
                .push("the IT Glue API key contains whitespace or control characters".to_string());
        }
        if let ItGlueBase::Url(url) = &self.base {
            if url.scheme() != "http" && url.scheme() != "https" {
                problems.push(format!(
                    "the IT Glue URL must be http or https, got scheme `{}`",
                    url.scheme()
                ));
            }
            if url.query().is_some() {
                problems.push("the IT Glue URL must not carry a query string".to_string());
            }
        }
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            problems.push(format!(
                "the IT Glue page size must be between 1 and {MAX_PAGE_SIZE}, got {}",
                self.page_size
            ));
        }
        if self.timeout.is_zero() {
            problems.push("the IT Glue request timeout must be longer than zero".to_string());
        }
        problems.extend(self.budget.validate());
        problems.extend(self.retry.validate());
        problems
    }
}

impl fmt::Debug for ItGlueSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ItGlueSettings")
            .field("base", &self.base)
            .field("api_key", &"[redacted]")
            .field("timeout", &self.timeout)
            .field("page_size", &self.page_size)
            .field("budget", &self.budget)
            .field("retry", &self.retry)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let settings =
            ItGlueSettings::new(ItGlueBase::Region(ItGlueRegion::Eu), "ITG.secret-value");
        let shown = format!("{settings:?}");
        assert!(!shown.contains("secret-value"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn regions_have_the_documented_hosts() {
        assert_eq!(ItGlueRegion::Us.api_url(), "https://api.itglue.com");
        assert_eq!(ItGlueRegion::Eu.api_url(), "https://api.eu.itglue.com");
        assert_eq!(ItGlueRegion::Au.api_url(), "https://api.au.itglue.com");
        assert_eq!(ItGlueRegion::parse(" EU "), Some(ItGlueRegion::Eu));
        assert_eq!(ItGlueRegion::parse("asia"), None);
    }

    #[test]
    fn validate_reports_every_problem() {
        let mut settings = ItGlueSettings::new(
            ItGlueBase::Url(Url::parse("ftp://example.invalid/?a=b").unwrap()),
            " ",
        );
        settings.page_size = 1001;
        settings.timeout = Duration::ZERO;
        let problems = settings.validate();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("page size")));
    }

    #[test]
    fn configured_instances_keep_their_region_or_url() {
        use mspbridge_core::secret::SecretString;

        let instance = |endpoint| ItGlueConfig {
            name: "main".to_string(),
            endpoint,
            api_key: SecretString::new("ITG.from-config"),
            clients: vec!["Acme".to_string()],
            automap_interval: Duration::from_secs(6 * 3600),
            report_asset_type: "mspbridge Reports".to_string(),
            request_budget: mspbridge_core::config::defaults::ITGLUE_REQUEST_BUDGET,
        };
        let eu =
            ItGlueSettings::from_config(&instance(ItGlueEndpoint::Region(ConfiguredRegion::Eu)));
        assert_eq!(eu.base, ItGlueBase::Region(ItGlueRegion::Eu));
        assert_eq!(eu.api_key, "ITG.from-config");
        assert!(eu.validate().is_empty());
        let url = Url::parse("http://127.0.0.1:9000").unwrap();
        let local = ItGlueSettings::from_config(&instance(ItGlueEndpoint::Url(url.clone())));
        assert_eq!(local.base, ItGlueBase::Url(url));
    }

    #[test]
    fn defaults_are_valid() {
        let settings = ItGlueSettings::new(ItGlueBase::Region(ItGlueRegion::Us), "ITG.abc");
        assert!(settings.validate().is_empty());
        assert_eq!(settings.page_size, 1000);
        assert_eq!(settings.budget.max_requests, 2900);
    }
}
