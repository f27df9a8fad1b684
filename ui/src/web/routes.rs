//! The routes: each reads its query string, asks the store, renders a view.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;

use crate::filter::SessionFilter;
use crate::store::{AlertView, SessionDetail};

use super::html::{self, seg, url, Mode};
use super::views::{lists, session, sessions};
use super::{App, Identity, WebError, TOKEN_COOKIE};

/// Minutes the overview's charts cover.
const OVERVIEW_MINUTES: usize = 60;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/overview") }))
        .route("/overview", get(overview))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/sessions", get(session_list))
        .route("/sessions/{id}", get(session_page))
        .route("/sessions/{id}/tx/{tx}", get(tx_record))
        .route("/sessions/{id}/export.html", get(export_html))
        .route("/sessions/{id}/export.json", get(export_json))
        .route("/sessions/{id}/notes", post(add_note))
        .route("/sessions/{id}/tags", post(change_tag))
        .route("/alerts", get(alert_list))
        .route("/endpoints", get(endpoint_list))
        .route("/api/stats", get(stats))
        .route("/login", get(login_form).post(login))
        .route(
            "/assets/style.css",
            get(|| async { asset("text/css; charset=utf-8", html::STYLE_CSS) }),
        )
        .route(
            "/assets/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", html::APP_JS) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

async fn overview(State(app): State<Arc<App>>) -> Result<Html<String>, WebError> {
    let o = app.read(|r| r.overview(OVERVIEW_MINUTES)).await?;
    Ok(Html(lists::overview(&o)))
}

async fn session_list(
    State(app): State<Arc<App>>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Html<String>, WebError> {
    let (f, errors) = SessionFilter::from_query(&q);
    let rows = app.cfg.page_rows;
    let g = f.clone();
    let (page, choices) = app
        .read(move |r| {
            let page = r.sessions(&g, rows)?;
            let choices = sessions::ListChoices {
                alert_kinds: r.alert_kinds()?,
                sensors: r.sensors()?,
            };
            Ok((page, choices))
        })
        .await?;
    Ok(Html(sessions::render(&f, &errors, &page, &choices)))
}

/// The session page's query string.
#[derive(Deserialize, Default)]
struct SessionQuery {
    /// Highlight this alert's evidence.
    alert: Option<i64>,
    /// Page of transactions, 0-based.
    tx_page: Option<usize>,
    /// A message to show (after a refused tag or note).
    msg: Option<String>,
}

/// The session, the alert to highlight and the timeline, in one blocking task.
async fn load_session(
    app: &Arc<App>,
    id: String,
    alert: Option<i64>,
    tx_page: usize,
    records: bool,
) -> Result<
    (
        SessionDetail,
        Vec<crate::store::TimelinePoint>,
        Option<AlertView>,
        usize,
    ),
    WebError,
> {
    let rows = if records {
        usize::MAX >> 1
    } else {
        app.cfg.session_page_transactions
    };
    let shown = id.clone();
    let found = app
        .read(move |r| {
            let Some(d) = r.session(&id, tx_page.saturating_mul(rows), rows, records)? else {
                return Ok(None);
            };
            let timeline = r.timeline(&id)?;
            let alert = match alert {
                Some(a) => r
                    .alert(a)?
                    .filter(|a| a.session_id.as_deref() == Some(id.as_str())),
                None => None,
            };
            let total = timeline.len();
            Ok(Some((d, timeline, alert, total)))
        })
        .await?;
    found.ok_or_else(|| WebError::NotFound(format!("no session {shown} in the store")))
}

async fn session_page(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<SessionQuery>,
) -> Result<Html<String>, WebError> {
    let (d, timeline, alert, total) =
        load_session(&app, id, q.alert, q.tx_page.unwrap_or(0), false).await?;
    let o = session::SessionOptions {
        mode: Mode::Live,
        highlight: alert.as_ref(),
        tx_total: total,
        page_rows: app.cfg.session_page_transactions,
        message: q.msg.as_deref(),
    };
    Ok(Html(session::render(&d, &timeline, &o)))
}

async fn tx_record(
    State(app): State<Arc<App>>,
    Path((id, tx)): Path<(String, i64)>,
) -> Result<Response, WebError> {
    let rec = app.read(move |r| r.tx_record(&id, tx)).await?;
    let rec =
        rec.ok_or_else(|| WebError::NotFound(format!("no transaction {tx} in this session")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], rec).into_response())
}

/// `Content-Disposition` for a downloaded export.
fn attachment(id: &str, ext: &str) -> HeaderValue {
    let name: String = id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect();
    HeaderValue::from_str(&format!(
        "attachment; filename=\"apitap-session-{name}.{ext}\""
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

async fn export_html(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let disposition = attachment(&id, "html");
    let (d, timeline, _, total) = load_session(&app, id, None, 0, true).await?;
    let o = session::SessionOptions {
        mode: Mode::Export,
        highlight: None,
        tx_total: total,
        page_rows: total.max(1),
        message: None,
    };
    let body = session::render(&d, &timeline, &o);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

async fn export_json(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let disposition = attachment(&id, "json");
    let (d, _, _, _) = load_session(&app, id, None, 0, true).await?;
    let parse =
        |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap_or(serde_json::Value::Null);
    let doc = serde_json::json!({
        "session_id": d.row.session_id,
        "session": d.summary,
        "transactions": d.tx.iter().filter_map(|t| t.record.as_deref()).map(parse).collect::<Vec<_>>(),
        "alerts": d.alerts.iter().map(|a| parse(&a.record)).collect::<Vec<_>>(),
        "other": d.other.iter().map(|(_, _, r)| parse(r)).collect::<Vec<_>>(),
        "tags": d.tags,
        "notes": d.notes,
    });
    let body = serde_json::to_string_pretty(&doc).unwrap_or_default();
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// The note form.
#[derive(Deserialize)]
struct NoteForm {
    text: String,
}

/// Back to the session page, with a message when the change was refused.
fn back_to(id: &str, refused: Option<String>) -> Response {
    let base = format!("/sessions/{}", seg(id));
    let to = match refused {
        Some(m) => url(&base, &[("msg", m)]),
        None => base,
    };
    Redirect::to(&to).into_response()
}

async fn add_note(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Identity>,
    Path(id): Path<String>,
    Form(form): Form<NoteForm>,
) -> Result<Response, WebError> {
    let sid = id.clone();
    let res = app
        .annotate(move |a| a.add_note(&sid, &form.text, who.0.as_deref(), now_us()))
        .await?;
    Ok(back_to(&id, res.err().map(|e| e.to_string())))
}

/// The tag forms.
#[derive(Deserialize)]
struct TagForm {
    tag: String,
    /// `add` or `remove`.
    action: String,
}

async fn change_tag(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Identity>,
    Path(id): Path<String>,
    Form(form): Form<TagForm>,
) -> Result<Response, WebError> {
    let sid = id.clone();
    let res = app
        .annotate(move |a| match form.action.as_str() {
            "remove" => a.remove_tag(&sid, &form.tag),
            _ => a.add_tag(&sid, &form.tag, who.0.as_deref(), now_us()),
        })
        .await?;
    Ok(back_to(&id, res.err().map(|e| e.to_string())))
}

/// The alerts page's query string.
#[derive(Deserialize)]
struct AlertQuery {
    kind: Option<String>,
    page: Option<usize>,
}

async fn alert_list(
    State(app): State<Arc<App>>,
    Query(q): Query<AlertQuery>,
) -> Result<Html<String>, WebError> {
    let kind = q.kind.filter(|k| !k.is_empty());
    let page = q.page.unwrap_or(0);
    let rows = app.cfg.page_rows;
    let k = kind.clone();
    let (kinds, alerts) = app
        .read(move |r| Ok((r.alert_kinds()?, r.alerts(k.as_deref(), page, rows)?)))
        .await?;
    Ok(Html(lists::alerts(
        kind.as_deref(),
        &kinds,
        alerts,
        page,
        rows,
    )))
}

/// The inventory page's query string.
#[derive(Deserialize)]
struct EndpointQuery {
    q: Option<String>,
    api: Option<String>,
    page: Option<usize>,
}

async fn endpoint_list(
    State(app): State<Arc<App>>,
    Query(q): Query<EndpointQuery>,
) -> Result<Html<String>, WebError> {
    let pattern = q.q.filter(|v| !v.trim().is_empty());
    let api = q.api.filter(|v| !v.is_empty());
    let page = q.page.unwrap_or(0);
    let rows = app.cfg.page_rows;
    let (p, a) = (pattern.clone(), api.clone());
    let found = app
        .read(move |r| r.endpoints(p.as_deref(), a.as_deref(), page, rows))
        .await?;
    Ok(Html(lists::endpoints(
        pattern.as_deref(),
        api.as_deref(),
        found,
        page,
        rows,
    )))
}

async fn stats(State(app): State<Arc<App>>) -> Result<Response, WebError> {
    let counters = app.read(|r| r.counters()).await?;
    let map: serde_json::Map<String, serde_json::Value> = counters
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::from(v)))
        .collect();
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::Value::Object(map).to_string(),
    )
        .into_response())
}

async fn login_form() -> Html<String> {
    Html(lists::login(false))
}

/// The login form.
#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(app): State<Arc<App>>, Form(form): Form<LoginForm>) -> Response {
    let cookie = seg(form.token.trim());
    let mut h = axum::http::HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("{TOKEN_COOKIE}={cookie}")) {
        h.insert(header::COOKIE, v);
    }
    if app.identify(&h).is_none() {
        return (StatusCode::UNAUTHORIZED, Html(lists::login(true))).into_response();
    }
    let set = format!("{TOKEN_COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Strict");
    match HeaderValue::from_str(&set) {
        Ok(v) => ([(header::SET_COOKIE, v)], Redirect::to("/overview")).into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, Html(lists::login(true))).into_response(),
    }
}
