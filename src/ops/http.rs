//! The HTTP endpoint of `startwell serve` (axum; loopback unless configured):
//! `/healthz` (alive), `/readyz` (configuration loaded, storage reachable),
//! `/metrics` (Prometheus/OpenMetrics text), `/runs` (recent run records, JSON).
//!
//! With a token (`STARTWELL_HTTP_TOKEN` or `STARTWELL_HTTP_TOKEN_FILE`; required
//! when `listen` is not a loopback address) `/metrics` and `/runs` answer only a
//! request with `Authorization: Bearer <token>`; the health probes stay open.

use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::metrics::Metrics;
use crate::config::Project;
use crate::error::{Error, Result};
use crate::storage::Storage;

pub const TOKEN_ENV: &str = "STARTWELL_HTTP_TOKEN";
pub const TOKEN_FILE_ENV: &str = "STARTWELL_HTTP_TOKEN_FILE";
const MIN_TOKEN_BYTES: usize = 16;

#[derive(Clone)]
pub struct AppState {
    pub project: Arc<Project>,
    pub storage: Storage,
    pub metrics: Arc<Metrics>,
    /// The bearer token `/metrics` and `/runs` require, if any.
    pub token: Option<Arc<String>>,
}

pub fn router(state: AppState) -> Router {
    let guarded = Router::new()
        .route("/metrics", get(metrics))
        .route("/runs", get(runs))
        .route_layer(from_fn_with_state(state.clone(), bearer));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .merge(guarded)
        .with_state(state)
}

/// The endpoint's token from the environment. Listening beyond loopback without
/// one is refused: run records and metrics name sources, files and errors.
pub fn token(listen: std::net::SocketAddr) -> Result<Option<Arc<String>>> {
    token_from(
        listen,
        std::env::var(TOKEN_ENV).ok(),
        std::env::var(TOKEN_FILE_ENV).ok(),
    )
}

fn token_from(
    listen: std::net::SocketAddr,
    value: Option<String>,
    file: Option<String>,
) -> Result<Option<Arc<String>>> {
    let token = match (value, file) {
        (Some(v), _) if !v.trim().is_empty() => Some(v.trim().to_string()),
        (_, Some(f)) if !f.trim().is_empty() => {
            let text = std::fs::read_to_string(f.trim()).map_err(|e| {
                Error::Key(format!(
                    "cannot read the token file named by {TOKEN_FILE_ENV} ({f}): {e}"
                ))
            })?;
            Some(text.trim().to_string())
        }
        _ => None,
    };
    match token {
        Some(t) if t.len() < MIN_TOKEN_BYTES => Err(Error::Key(format!(
            "the endpoint's token ({TOKEN_ENV}) must be at least {MIN_TOKEN_BYTES} characters long"
        ))),
        Some(t) => Ok(Some(Arc::new(t))),
        None if listen.ip().is_loopback() => Ok(None),
        None => Err(Error::Key(format!(
            "[serve] listen = {listen} is reachable from other hosts: set {TOKEN_ENV} (or {TOKEN_FILE_ENV}, a file \
             holding it) to a secret of at least {MIN_TOKEN_BYTES} characters, which /metrics and /runs will \
             require as `Authorization: Bearer <token>`; or listen on 127.0.0.1"
        ))),
    }
}

/// `/metrics` and `/runs` with a token: only for `Authorization: Bearer <token>`.
async fn bearer(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = &s.token else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if same(given.as_bytes(), token.as_bytes()) {
        next.run(req).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "this endpoint needs `Authorization: Bearer <token>`\n",
        )
            .into_response()
    }
}

/// Equal bytes, in a time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn readyz(State(s): State<AppState>) -> Response {
    let check = tokio::time::timeout(std::time::Duration::from_secs(5), s.storage.reachable()).await;
    match check {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(serde_json::json!({
                "ready": true,
                "sources": s.project.plan.sources.len(),
                "storage": s.storage.display(""),
            })),
        )
            .into_response(),
        Ok(Err(e)) => not_ready(e.to_string()),
        Err(_) => not_ready(format!(
            "storage {} did not answer within 5 s",
            s.storage.display("")
        )),
    }
}

fn not_ready(reason: String) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(serde_json::json!({"ready": false, "reason": reason})),
    )
        .into_response()
}

async fn metrics(State(s): State<AppState>) -> Response {
    let body = s.metrics.render(&s.project, chrono::Utc::now());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct RunsQuery {
    limit: Option<usize>,
}

async fn runs(State(s): State<AppState>, Query(q): Query<RunsQuery>) -> Response {
    let limit = q.limit.unwrap_or(20).clamp(1, 500);
    match super::status::recent_runs(&s.storage, limit).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_required_beyond_loopback_only() {
        let local: std::net::SocketAddr = "127.0.0.1:9187".parse().unwrap();
        let open: std::net::SocketAddr = "0.0.0.0:9187".parse().unwrap();
        assert!(token_from(local, None, None).unwrap().is_none());
        let err = token_from(open, None, None).unwrap_err().to_string();
        assert!(err.contains(TOKEN_ENV) && err.contains("0.0.0.0:9187"), "{err}");
        assert!(token_from(open, Some("short".into()), None).is_err());
        let t = token_from(open, Some(" a-long-enough-token \n".into()), None).unwrap();
        assert_eq!(t.as_deref().map(String::as_str), Some("a-long-enough-token"));
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"abc", b"ab"));
    }
}
