//! The web server: axum routes to the views, store queries on tokio's blocking pool, and the
//! safety around them (docs/ui.md, "Safety"):
//! - every response carries a strict Content-Security-Policy (scripts and styles from this
//!   server only, no inline script, no framing) and `nosniff`;
//! - with tokens configured, every request but the login form and the assets must present one
//!   (`Authorization: Bearer`, or the cookie the login form sets), compared in constant time;
//! - state-changing requests (tags, notes) from another site are refused (`Sec-Fetch-Site`,
//!   `Origin`).

pub mod chart;
pub mod html;
mod routes;
pub mod views;

use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;

use crate::config::Token;
use crate::store::{Annotator, Reader, Store, StoreError};

/// The policy every response carries. `img-src data:` only for the SVG charts' future needs;
/// `form-action 'self'`: the tag and note forms post here only.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Cookie the login form sets (the token, percent-encoded).
pub const TOKEN_COOKIE: &str = "apitap_ui_token";

/// A token and the analyst it names (None: the shared `ui.token`).
#[derive(Clone, Debug)]
pub struct Credential {
    /// The analyst's name, signed on their tags and notes.
    pub name: Option<String>,
    /// The token.
    pub token: Token,
}

/// What the server needs besides the store.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Rows per list page (`ui.page_rows`).
    pub page_rows: usize,
    /// Transactions per session page (`ui.session_page_transactions`).
    pub session_page_transactions: usize,
    /// Accepted tokens; empty: no authentication (loopback only, the command enforces it).
    pub credentials: Vec<Credential>,
}

/// Who made a request: the analyst's name when their token names one.
#[derive(Clone, Debug, Default)]
pub struct Identity(pub Option<String>);

/// The server's shared state.
pub struct App {
    store: Store,
    /// Idle read connections (opened on demand, returned after each query).
    readers: Mutex<Vec<Reader>>,
    annotator: Mutex<Annotator>,
    cfg: ServerConfig,
}

/// Why a request failed.
#[derive(Debug)]
pub enum WebError {
    /// Nothing here (an unknown session).
    NotFound(String),
    /// A value the request sent cannot be used.
    BadRequest(String),
    /// The store failed.
    Store(StoreError),
    /// A query task failed (panicked or was cancelled).
    Internal(String),
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        WebError::Store(e)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (code, msg) = match self {
            WebError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            WebError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            WebError::Store(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            WebError::Internal(e) => (StatusCode::INTERNAL_SERVER_ERROR, e),
        };
        let body = format!(
            "<div class=\"head\"><h1>{}</h1></div><p class=\"warn\">{}</p>",
            code,
            html::Esc(&msg)
        );
        let page = html::page(code.as_str(), html::Nav::None, html::Mode::Live, &body);
        (
            code,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            page,
        )
            .into_response()
    }
}

impl App {
    /// The state for a store.
    pub fn new(store: Store, cfg: ServerConfig) -> Result<Arc<App>, StoreError> {
        let annotator = store.annotator()?;
        Ok(Arc::new(App {
            store,
            readers: Mutex::new(Vec::new()),
            annotator: Mutex::new(annotator),
            cfg,
        }))
    }

    /// Run `f` with a read connection on the blocking pool.
    async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Reader) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, WebError> {
        let app = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let reader = match app.readers.lock().map(|mut p| p.pop()) {
                Ok(Some(r)) => r,
                _ => app.store.reader()?,
            };
            let out = f(&reader);
            if let Ok(mut pool) = app.readers.lock() {
                pool.push(reader);
            }
            out
        })
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .map_err(WebError::Store)
    }

    /// Run `f` with the annotator on the blocking pool.
    async fn annotate<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Annotator) -> T + Send + 'static,
    ) -> Result<T, WebError> {
        let app = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let a = app.annotator.lock().map_err(|_| {
                WebError::Internal("the annotator failed earlier; restart apitap ui".into())
            })?;
            Ok(f(&a))
        })
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
    }

    /// The credential a request presents, when valid.
    fn identify(&self, headers: &HeaderMap) -> Option<Identity> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| html::seg(t.trim()));
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().strip_prefix(TOKEN_COOKIE)?.strip_prefix('='))
            .map(str::to_owned)
            .next();
        let presented = bearer.or(cookie)?;
        self.cfg
            .credentials
            .iter()
            .find(|c| ct_eq(html::seg(c.token.expose()).as_bytes(), presented.as_bytes()))
            .map(|c| Identity(c.name.clone()))
    }
}

/// Equal bytes, in time independent of where they differ.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Every route, with authentication and the security headers around them.
pub fn router(app: Arc<App>) -> Router {
    routes::routes()
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            authenticate,
        ))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(app)
}

/// Serve on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The server on a thread of its own (a current-thread tokio runtime; store queries on its
/// blocking pool).
pub struct Server {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    addr: std::net::SocketAddr,
}

impl Server {
    /// Serve `app` on a bound listener.
    pub fn start(listener: std::net::TcpListener, app: Arc<App>) -> std::io::Result<Server> {
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("apitap-ui-http".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()?;
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    serve(listener, app, async move {
                        let _ = stopped.await;
                    })
                    .await
                })
            })?;
        Ok(Server {
            stop: Some(stop),
            thread: Some(thread),
            addr,
        })
    }

    /// The address served.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// True when the server thread ended (an error, or a stop).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stop accepting, let requests in flight finish, and join the thread.
    pub fn stop(mut self) -> std::io::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(std::io::Error::other("the web server thread panicked")),
            None => Ok(()),
        }
    }
}

async fn authenticate(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    if req.method() == Method::POST && cross_site(req.headers()) {
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    if app.cfg.credentials.is_empty() {
        req.extensions_mut().insert(Identity(None));
        return next.run(req).await;
    }
    let path = req.uri().path();
    if path == "/login" || path.starts_with("/assets/") {
        return next.run(req).await;
    }
    match app.identify(req.headers()) {
        Some(id) => {
            req.extensions_mut().insert(id);
            next.run(req).await
        }
        None if req.method() == Method::GET && !path.starts_with("/api/") => {
            Redirect::to("/login").into_response()
        }
        None => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required",
        )
            .into_response(),
    }
}

/// True when the browser says the request comes from another site: `Sec-Fetch-Site` where
/// the browser sends it (every current one), else an `Origin` that is not this host.
fn cross_site(h: &HeaderMap) -> bool {
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site != "same-origin" && site != "none";
    }
    let origin = h.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some("null"), _) => true,
        (Some(o), Some(host)) => {
            let o = o
                .strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"))
                .unwrap_or(o);
            o != host
        }
        _ => false,
    }
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Same-origin: links out of the UI carry no referrer, and same-origin posts an `Origin`.
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    res
}

#[cfg(test)]
mod tests;
