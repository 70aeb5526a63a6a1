//! What every API handler needs to know about the request it serves.
//!
//! ConnectWise builds absolute URLs (reference `_info` hrefs, `Link` pagination headers) from the host
//! and codebase the client used, and reads query parameters case-insensitively; `ApiContext` carries
//! those facts so handlers never reach back into the raw request.

use axum::http::{HeaderMap, Method};

/// The parsed, authenticated API request.
#[derive(Debug, Clone)]
pub struct ApiContext {
    pub method: Method,
    pub headers: HeaderMap,
    /// `http://host:port`, from the `Host` header.
    pub origin: String,
    /// The request path as sent, for example `/v4_6_release/apis/3.0/service/tickets`.
    pub path: String,
    /// Query pairs in request order.
    pub query: Vec<(String, String)>,
    /// `http://host:port/{codebase}/apis/3.0`, the root of every href.
    pub api_root: String,
}

impl ApiContext {
    /// A query parameter, its name matched case-insensitively.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// An absolute href below the API root, for example `href("/service/boards/1")`.
    pub fn href(&self, below_root: &str) -> String {
        format!("{}{}", self.api_root, below_root)
    }

    /// The request's own URL with `page`/`pageId` replaced, for `Link` headers.
    pub fn url_with(&self, replace: &str, value: i64) -> String {
        let mut pairs: Vec<(String, String)> = self
            .query
            .iter()
            .filter(|(key, _)| {
                !key.eq_ignore_ascii_case("page") && !key.eq_ignore_ascii_case("pageId")
            })
            .cloned()
            .collect();
        pairs.push((replace.to_owned(), value.to_string()));
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("{}{}?{}", self.origin, self.path, query)
    }
}
