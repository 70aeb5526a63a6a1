//! A proxy in front of the ConnectWise simulator that loses the answer to one ticket create.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::harness::loopback;

/// Forwards everything to ConnectWise, but holds the answer to the first ticket create longer than
/// the client waits, so the create happens and its answer is lost.
pub struct SlowFirstCreateProxy {
    pub url: String,
    pub delayed: Arc<tokio::sync::Notify>,
    pub done: Arc<std::sync::atomic::AtomicBool>,
}

impl SlowFirstCreateProxy {
    pub async fn spawn(upstream: String, hold: Duration) -> SlowFirstCreateProxy {
        SlowFirstCreateProxy::spawn_for(upstream, hold, |target| {
            target.ends_with("/service/tickets")
        })
        .await
    }

    /// Like [`SlowFirstCreateProxy::spawn`], holding the answer to the first POST whose target
    /// `held` matches.
    pub async fn spawn_for(
        upstream: String,
        hold: Duration,
        held_post: fn(&str) -> bool,
    ) -> SlowFirstCreateProxy {
        use axum::body::{to_bytes, Body};
        use axum::extract::Request;
        use axum::response::Response;

        let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let delayed = Arc::new(tokio::sync::Notify::new());
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let held = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let http = reqwest::Client::new();
        let (notify, finished) = (delayed.clone(), done.clone());
        let app = axum::Router::new().fallback(move |request: Request| {
            let (http, upstream, held, notify, finished) = (
                http.clone(),
                upstream.clone(),
                held.clone(),
                notify.clone(),
                finished.clone(),
            );
            async move {
                let method = request.method().clone();
                let target = format!(
                    "{upstream}{}",
                    request
                        .uri()
                        .path_and_query()
                        .map(|p| p.as_str())
                        .unwrap_or("/")
                );
                let headers = request.headers().clone();
                let body = to_bytes(request.into_body(), usize::MAX).await.unwrap();
                let is_create = method == axum::http::Method::POST && held_post(&target);
                let mut forwarded = http.request(method, &target).body(body.to_vec());
                for (name, value) in headers.iter() {
                    if name != "host" && name != "content-length" {
                        forwarded = forwarded.header(name, value);
                    }
                }
                let answer = forwarded.send().await.unwrap();
                let status = answer.status();
                let content_type = answer.headers().get("content-type").cloned();
                let bytes = answer.bytes().await.unwrap();
                if is_create && !held.swap(true, Ordering::SeqCst) {
                    // Runs to completion even if the client has hung up.
                    tokio::spawn(async move {
                        tokio::time::sleep(hold).await;
                        finished.store(true, Ordering::SeqCst);
                        notify.notify_waiters();
                    });
                    tokio::time::sleep(hold).await;
                }
                let mut response = Response::builder().status(status.as_u16());
                if let Some(content_type) = content_type {
                    response = response.header("content-type", content_type);
                }
                response.body(Body::from(bytes)).unwrap()
            }
        });
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        SlowFirstCreateProxy { url, delayed, done }
    }

    pub async fn wait_for_delayed_answer(&self) {
        while !self.done.load(Ordering::SeqCst) {
            let notified = self.delayed.notified();
            if self.done.load(Ordering::SeqCst) {
                break;
            }
            notified.await;
        }
    }
}

/// Forwards everything to ConnectWise and, at each ticket create, notes the ticket's summary and
/// how many alerts were still queued in the store at that moment.
pub struct QueueAtCreateProxy {
    pub url: String,
    /// The store to count in, set once the harness holding it is built.
    pub store: Arc<std::sync::OnceLock<Arc<dyn mspbridge_store::Store>>>,
    /// `(summary, alerts queued)` per create, in arrival order.
    pub creates: Arc<std::sync::Mutex<Vec<(String, u64)>>>,
}

impl QueueAtCreateProxy {
    pub async fn spawn(upstream: String) -> QueueAtCreateProxy {
        use axum::body::{to_bytes, Body};
        use axum::extract::Request;
        use axum::response::Response;
        use mspbridge_store::AlertState;

        let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let store: Arc<std::sync::OnceLock<Arc<dyn mspbridge_store::Store>>> = Arc::default();
        let creates: Arc<std::sync::Mutex<Vec<(String, u64)>>> = Arc::default();
        let http = reqwest::Client::new();
        let (counted_in, noted) = (store.clone(), creates.clone());
        let app = axum::Router::new().fallback(move |request: Request| {
            let (http, upstream, counted_in, noted) = (
                http.clone(),
                upstream.clone(),
                counted_in.clone(),
                noted.clone(),
            );
            async move {
                let method = request.method().clone();
                let target = format!(
                    "{upstream}{}",
                    request
                        .uri()
                        .path_and_query()
                        .map(|p| p.as_str())
                        .unwrap_or("/")
                );
                let headers = request.headers().clone();
                let body = to_bytes(request.into_body(), usize::MAX).await.unwrap();
                if method == axum::http::Method::POST && target.ends_with("/service/tickets") {
                    let ticket: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    let store = counted_in.get().expect("the proxy's store is set");
                    let queued = store
                        .count_alerts_by_state()
                        .await
                        .unwrap()
                        .into_iter()
                        .find(|(state, _)| *state == AlertState::Queued)
                        .map_or(0, |(_, count)| count);
                    let summary = ticket["summary"].as_str().unwrap_or_default().to_string();
                    noted.lock().unwrap().push((summary, queued));
                }
                let mut forwarded = http.request(method, &target).body(body.to_vec());
                for (name, value) in headers.iter() {
                    if name != "host" && name != "content-length" {
                        forwarded = forwarded.header(name, value);
                    }
                }
                let answer = forwarded.send().await.unwrap();
                let mut response = Response::builder().status(answer.status().as_u16());
                if let Some(content_type) = answer.headers().get("content-type").cloned() {
                    response = response.header("content-type", content_type);
                }
                response
                    .body(Body::from(answer.bytes().await.unwrap()))
                    .unwrap()
            }
        });
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        QueueAtCreateProxy {
            url,
            store,
            creates,
        }
    }
}
