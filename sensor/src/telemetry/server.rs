//! `/metrics` and `/healthz` over HTTP: `axum` on a single-threaded `tokio` runtime, on its
//! own thread, so the capture and pipeline threads never wait for a scraper.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::registry::Registry;

use super::metrics;

/// What the listener serves.
pub struct Endpoints {
    /// The metrics, read at each scrape.
    pub registry: Registry,
    /// `/healthz` answers 200 while this is true, 503 once shutdown has begun.
    pub healthy: Arc<AtomicBool>,
}

/// `GET /metrics`.
async fn metrics_page(State(ep): State<Arc<Endpoints>>) -> impl IntoResponse {
    match metrics::render(&ep.registry) {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
            body,
        ),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            "cannot encode the metrics\n".to_owned(),
        ),
    }
}

/// `GET /healthz`.
async fn health(State(ep): State<Arc<Endpoints>>) -> impl IntoResponse {
    if ep.healthy.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    }
}

/// Bind `addr` (here, so a busy port is the caller's error) and serve on a background thread;
/// returns the bound address (port 0 picks one).
pub fn spawn(addr: SocketAddr, endpoints: Endpoints) -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let app = Router::new()
        .route("/metrics", get(metrics_page))
        .route("/healthz", get(health))
        .with_state(Arc::new(endpoints));
    std::thread::Builder::new()
        .name("apitap-metrics".into())
        .spawn(move || {
            runtime.block_on(async move {
                let served = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => axum::serve(l, app).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = served {
                    tracing::error!(error = %e, "metrics listener stopped");
                }
            });
        })?;
    Ok(local)
}
