//! Helpers shared by the tests that run `mspbridge serve` as a real process.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_mspbridge");

/// A free loopback port (for `server.listen`, or a simulator started later on a known port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `mspbridge -c CONFIG serve`, its warnings appended to `log`.
pub fn start_serve(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(BIN)
        .args(["-c", config.to_str().unwrap(), "serve"])
        .env_remove("MSPBRIDGE_CONFIG")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("serve starts")
}

/// Waits (bounded) until `serve` on `port` answers `/readyz` with 200.
pub async fn wait_ready(port: u16, log: &Path) {
    let http = reqwest::Client::new();
    let ready = wait_for(Duration::from_secs(30), || {
        let http = http.clone();
        async move {
            http.get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
                .is_ok_and(|response| response.status() == 200)
        }
    })
    .await;
    assert!(ready, "serve did not get ready; see {}", log.display());
}

/// Checks `done` every 50 ms until it holds or `deadline` has passed; whether it held.
pub async fn wait_for<F, Fut>(deadline: Duration, mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + deadline;
    loop {
        if done().await {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// SIGTERM, then wait for a clean exit.
pub fn stop_gracefully(mut child: Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "serve exited with {exit}");
}
