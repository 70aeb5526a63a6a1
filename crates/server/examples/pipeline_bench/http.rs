//! A deliberately small HTTP/1.1 keep-alive client for the load generator.
//!
//! The benchmark runs client and server on the same two cores, so every cycle the load generator
//! spends is a cycle the service does not get. A general-purpose client (connection pool, header
//! maps, body streams) costs several times what writing one request and reading one
//! `Content-Length` response costs, so the intake measurement uses this instead: one connection,
//! one request in flight, no pipelining — the way a sender with a keep-alive connection posts.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One keep-alive connection to the service.
pub struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
    token: String,
}

/// What went wrong with one exchange.
#[derive(Debug)]
pub struct HttpError(pub String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Connection {
    /// Connects to `addr`; requests carry `Authorization: Bearer {token}`.
    pub async fn open(addr: SocketAddr, token: &str) -> Result<Connection, HttpError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|error| HttpError(format!("connecting to {addr}: {error}")))?;
        stream
            .set_nodelay(true)
            .map_err(|error| HttpError(format!("setting TCP_NODELAY: {error}")))?;
        Ok(Connection {
            stream,
            buffer: Vec::with_capacity(4096),
            token: token.to_string(),
        })
    }

    /// POSTs a JSON body to `path` and returns the status and the response body.
    pub async fn post_json(&mut self, path: &str, body: &str) -> Result<(u16, String), HttpError> {
        let mut request = Vec::with_capacity(body.len() + 256);
        write_request(&mut request, path, &self.token, body);
        self.send(path, &request).await
    }

    /// Sends a whole request written by [`write_request`] and reads the answer.
    pub async fn send(&mut self, path: &str, request: &[u8]) -> Result<(u16, String), HttpError> {
        self.stream
            .write_all(request)
            .await
            .map_err(|error| HttpError(format!("sending POST {path}: {error}")))?;
        self.read_response(path).await
    }

    async fn read_response(&mut self, path: &str) -> Result<(u16, String), HttpError> {
        self.buffer.clear();
        let header_end = loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                break end;
            }
            self.fill(path).await?;
        };
        let head = std::str::from_utf8(&self.buffer[..header_end])
            .map_err(|_| HttpError(format!("the response to POST {path} has a non-UTF-8 head")))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| HttpError(format!("bad status line {status_line:?} for POST {path}")))?;
        let mut length = None;
        for line in lines {
            if let Some((name, value)) = line.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                }
            }
        }
        let length = length.ok_or_else(|| {
            HttpError(format!(
                "the response to POST {path} has no Content-Length (status {status})"
            ))
        })?;
        let body_start = header_end + 4;
        while self.buffer.len() < body_start + length {
            self.fill(path).await?;
        }
        let body = String::from_utf8_lossy(&self.buffer[body_start..body_start + length]).into();
        Ok((status, body))
    }

    async fn fill(&mut self, path: &str) -> Result<(), HttpError> {
        let mut chunk = [0u8; 4096];
        let read =
            self.stream.read(&mut chunk).await.map_err(|error| {
                HttpError(format!("reading the response to POST {path}: {error}"))
            })?;
        if read == 0 {
            return Err(HttpError(format!(
                "the service closed the connection before answering POST {path}"
            )));
        }
        self.buffer.extend_from_slice(&chunk[..read]);
        Ok(())
    }
}

/// Appends a JSON POST of `body` to `request`, so a load loop can reuse one buffer.
pub fn write_request(request: &mut Vec<u8>, path: &str, token: &str, body: &str) {
    request.extend_from_slice(b"POST ");
    request.extend_from_slice(path.as_bytes());
    request.extend_from_slice(b" HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer ");
    request.extend_from_slice(token.as_bytes());
    request.extend_from_slice(b"\r\nContent-Type: application/json\r\nContent-Length: ");
    request.extend_from_slice(body.len().to_string().as_bytes());
    request.extend_from_slice(b"\r\n\r\n");
    request.extend_from_slice(body.as_bytes());
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
