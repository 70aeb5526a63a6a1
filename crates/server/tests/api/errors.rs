//! Every failure of the API answers the one JSON error shape, whatever rejected the request: a
//! path segment, a query string, a body, the router itself.

use serde_json::Value;

use crate::support::{error_of, spawn_app, status_and_json, TOKEN};

/// (method, path, body with its content type, status, code, a part of the message)
type Case = (
    reqwest::Method,
    &'static str,
    Option<(&'static str, Vec<u8>)>,
    u16,
    &'static str,
    &'static str,
);

async fn send(
    app: &crate::support::TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<(&str, Vec<u8>)>,
) -> (u16, Value, String) {
    let mut request = app.http.request(method, app.url(path)).bearer_auth(TOKEN);
    if let Some((content_type, bytes)) = body {
        request = request.header("content-type", content_type).body(bytes);
    }
    let response = request.send().await.unwrap();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_string())
        .unwrap_or_default();
    let (status, body) = status_and_json(response).await;
    (status, body, content_type)
}

#[tokio::test]
async fn path_query_and_body_rejections_all_answer_the_json_error_shape() {
    let app = spawn_app().await;
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    let delete = reqwest::Method::DELETE;
    let json = "application/json";
    let cases: Vec<Case> = vec![
        // Path parameters that do not parse.
        (
            get.clone(),
            "/api/v1/reports/abc",
            None,
            400,
            "invalid_path",
            "abc",
        ),
        (
            get.clone(),
            "/api/v1/reports/abc/download",
            None,
            400,
            "invalid_path",
            "abc",
        ),
        (
            post.clone(),
            "/api/v1/reports/1.5/publish",
            None,
            400,
            "invalid_path",
            "1.5",
        ),
        (
            post.clone(),
            "/api/v1/queue/x/retry",
            None,
            400,
            "invalid_path",
            "x",
        ),
        (
            get.clone(),
            "/api/v1/reports/99999999999999999999",
            None,
            400,
            "invalid_path",
            "99999999999999999999",
        ),
        // Query strings that do not parse, or are out of bounds.
        (
            get.clone(),
            "/api/v1/reports?limit=abc",
            None,
            400,
            "invalid_query",
            "limit",
        ),
        (
            get.clone(),
            "/api/v1/reports?limit=0",
            None,
            400,
            "invalid_query",
            "limit: 0 is outside 1..=1000",
        ),
        (
            get.clone(),
            "/api/v1/incidents?limit=-1",
            None,
            400,
            "invalid_query",
            "limit",
        ),
        (
            get.clone(),
            "/api/v1/events?limit=1001",
            None,
            400,
            "invalid_query",
            "limit: 1001",
        ),
        (
            get.clone(),
            "/api/v1/queue?limit=5000",
            None,
            400,
            "invalid_query",
            "limit",
        ),
        (
            get.clone(),
            "/api/v1/alerts?after=yesterday",
            None,
            400,
            "invalid_query",
            "after",
        ),
        (
            get.clone(),
            "/api/v1/incidents?colour=red",
            None,
            400,
            "invalid_query",
            "colour",
        ),
        (
            get.clone(),
            "/api/v1/reports?state=lost",
            None,
            400,
            "invalid_query",
            "lost",
        ),
        (
            delete.clone(),
            "/api/v1/itglue/instances/x/mappings",
            None,
            400,
            "invalid_query",
            "client",
        ),
        (
            post.clone(),
            "/api/v1/reports/upload?publish=maybe",
            Some(("text/html", b"<p>x</p>".to_vec())),
            400,
            "invalid_query",
            "publish",
        ),
        (
            post.clone(),
            "/api/v1/alerts/alertmanager?source=a&source=b",
            Some((json, b"{}".to_vec())),
            400,
            "invalid_query",
            "source",
        ),
        // Bodies the JSON readers reject.
        (
            post.clone(),
            "/api/v1/alerts",
            Some((json, b"{".to_vec())),
            400,
            "malformed_json",
            "malformed JSON",
        ),
        (
            post.clone(),
            "/api/v1/alerts",
            Some((json, b"[1]".to_vec())),
            400,
            "invalid_field",
            "invalid type",
        ),
        (
            post.clone(),
            "/api/v1/systems",
            Some((json, b"not json".to_vec())),
            400,
            "malformed_json",
            "malformed JSON",
        ),
        (
            post.clone(),
            "/api/v1/systems",
            Some((json, br#"{"client": 5}"#.to_vec())),
            400,
            "invalid_field",
            "client",
        ),
        (
            post.clone(),
            "/api/v1/itglue/instances/x/mappings",
            Some((json, b"{\"client\": []}".to_vec())),
            400,
            "invalid_field",
            "client",
        ),
        (
            post.clone(),
            "/api/v1/itglue/instances/x/import",
            Some((json, b"{\"organizations\": 1}".to_vec())),
            400,
            "invalid_field",
            "organizations",
        ),
        (
            post.clone(),
            "/api/v1/reports/generate",
            Some((json, b"{\"client\": \"Acme\", \"days\": \"7\"}".to_vec())),
            400,
            "invalid_field",
            "days",
        ),
        (
            post.clone(),
            "/api/v1/systems/import",
            Some(("text/csv", vec![b'a'; 3 * 1024 * 1024])),
            413,
            "payload_too_large",
            "",
        ),
        // The router: unknown paths and methods.
        (
            get.clone(),
            "/api/v1/nothing-here",
            None,
            404,
            "no_such_route",
            "/api/v1/nothing-here",
        ),
        (
            get.clone(),
            "/api/v1/reports/1/nothing",
            None,
            404,
            "no_such_route",
            "/api/v1/reports/1/nothing",
        ),
        (
            delete.clone(),
            "/api/v1/reports",
            None,
            405,
            "method_not_allowed",
            "DELETE",
        ),
        (
            reqwest::Method::PUT,
            "/api/v1/openapi.json",
            None,
            405,
            "method_not_allowed",
            "PUT",
        ),
        (
            post.clone(),
            "/healthz",
            None,
            405,
            "method_not_allowed",
            "POST",
        ),
    ];
    for (method, path, body, status, code, needle) in cases {
        let label = format!("{method} {path}");
        let (got_status, got_body, content_type) = send(&app, method, path, body).await;
        assert_eq!(got_status, status, "{label}: {got_body}");
        assert!(
            content_type.starts_with("application/json"),
            "{label}: {content_type}"
        );
        let (got_code, message) = error_of(&got_body);
        assert_eq!(got_code, code, "{label}: {message}");
        assert!(
            message.contains(needle),
            "{label}: {message:?} lacks {needle:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_path_error_names_the_value_and_the_expected_kind_without_rust_type_names() {
    let app = spawn_app().await;
    let (status, body) = app.get("/api/v1/reports/abc").await;
    assert_eq!(status, 400);
    let (_, message) = error_of(&body);
    assert!(
        message.contains("`abc`") || message.contains("\"abc\""),
        "{message}"
    );
    assert!(message.contains("as a whole number"), "{message}");
    assert!(!message.contains("i64"), "{message}");
    app.stop().await;
}
