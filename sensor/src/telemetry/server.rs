//! A minimal HTTP/1.1 listener for `/metrics` and `/healthz`, on its own thread. One request per
//! connection, answered and closed; a slow client is cut off by a short socket timeout.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Longest a client may take to send its request or read the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest request line and header section read.
const MAX_REQUEST_BYTES: usize = 8192;

/// What the listener serves.
pub struct Endpoints {
    /// The `/metrics` body, rendered at each scrape.
    pub metrics: Box<dyn Fn() -> String + Send + Sync>,
    /// `/healthz` answers 200 while this is true, 503 once shutdown has begun.
    pub healthy: Arc<AtomicBool>,
}

/// Bind `addr` and serve on a background thread; returns the bound address (port 0 picks one).
pub fn spawn(addr: SocketAddr, endpoints: Endpoints) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    std::thread::Builder::new()
        .name("apitap-metrics".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Err(e) = serve(stream, &endpoints) {
                    tracing::debug!(error = %e, "metrics client");
                }
            }
        })?;
    Ok(local)
}

fn serve(stream: TcpStream, ep: &Endpoints) -> std::io::Result<()> {
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    // Skip the header section.
    let mut seen = line.len();
    loop {
        let mut h = String::new();
        let n = reader.read_line(&mut h)?;
        seen += n;
        if n == 0 || h == "\r\n" || h == "\n" || seen > MAX_REQUEST_BYTES {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("").split('?').next().unwrap_or("");
    let (status, ctype, body) = match (method, path) {
        ("GET", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            (ep.metrics)(),
        ),
        ("GET", "/healthz") if ep.healthy.load(Ordering::Relaxed) => {
            ("200 OK", "text/plain", "ok\n".to_owned())
        }
        ("GET", "/healthz") => (
            "503 Service Unavailable",
            "text/plain",
            "shutting down\n".to_owned(),
        ),
        ("GET", _) => ("404 Not Found", "text/plain", "not found\n".to_owned()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n".to_owned(),
        ),
    };
    let mut w = stream;
    write!(
        w,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    w.write_all(body.as_bytes())?;
    w.flush()
}
