//! The simulated Jira over real HTTP, for other processes (the `sandbox` tool, a host's
//! integration tests in another language) and for tests that need a socket.
//!
//! A deliberately small HTTP/1.1 server: keep-alive, `content-length` bodies, one request
//! at a time per connection. Every base URL of the notifier (auth host and gateway) can
//! point at the one address, since the simulator routes by path alone. A transport fault
//! injected into the simulator closes the connection, as a broken network would.

use std::net::SocketAddr;

use jira_notifier::{HttpRequest, HttpTransport, Method};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::SimJira;

/// The simulated Jira served on a loopback port; the server stops when this is dropped.
#[derive(Debug)]
pub struct SimServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl SimServer {
    /// Serves `sim` on `127.0.0.1`, on a port the system picks.
    pub async fn start(sim: SimJira) -> std::io::Result<SimServer> {
        Self::bind(sim, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Serves `sim` on the given address.
    pub async fn bind(sim: SimJira, addr: SocketAddr) -> std::io::Result<SimServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(serve(listener, sim));
        Ok(SimServer { addr, task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL (`http://127.0.0.1:PORT`): use it as both the auth URL and the API URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `sim` over HTTP/1.1 (keep-alive, `content-length` bodies) until aborted.
pub async fn serve(listener: TcpListener, sim: SimJira) {
    let port = listener.local_addr().unwrap().port();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let sim = sim.clone();
        tokio::spawn(async move {
            let _ = connection(stream, sim, port).await;
        });
    }
}

/// Answers the requests of one connection until EOF, a malformed request or a transport
/// fault from the simulator.
async fn connection(stream: TcpStream, sim: SimJira, port: u16) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = match parts.next() {
            Some("GET") => Method::Get,
            Some("POST") => Method::Post,
            Some("PUT") => Method::Put,
            _ => return Ok(()),
        };
        let Some(target) = parts.next() else {
            return Ok(());
        };
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if read.read_line(&mut header).await? == 0 {
                return Ok(());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                return Ok(());
            };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
            if name == "content-length" {
                length = value.parse().unwrap_or(0);
            }
            headers.push((name, value));
        }
        let mut body = vec![0; length];
        read.read_exact(&mut body).await?;
        let Ok(url) = url::Url::parse(&format!("http://127.0.0.1:{port}{target}")) else {
            return Ok(());
        };
        let request = HttpRequest::new(method, url)
            .with_headers(headers)
            .with_body((length > 0).then_some(body));
        let Ok(response) = sim.send(request).await else {
            return Ok(());
        };
        let mut head = format!(
            "HTTP/1.1 {} X\r\ncontent-length: {}\r\n",
            response.status,
            response.body.len()
        );
        for (name, value) in &response.headers {
            if !name.eq_ignore_ascii_case("content-length")
                && !name.eq_ignore_ascii_case("transfer-encoding")
            {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        head.push_str("\r\n");
        write.write_all(head.as_bytes()).await?;
        write.write_all(&response.body).await?;
        write.flush().await?;
    }
}
