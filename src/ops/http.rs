//! The HTTP endpoint of `startwell serve` (axum; loopback unless configured):
//! `/healthz` (alive), `/readyz` (configuration loaded, storage reachable),
//! `/metrics` (Prometheus/OpenMetrics text), `/runs` (recent run records, JSON).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::metrics::Metrics;
use crate::config::Project;
use crate::storage::Storage;

#[derive(Clone)]
pub struct AppState {
    pub project: Arc<Project>,
    pub storage: Storage,
    pub metrics: Arc<Metrics>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/runs", get(runs))
        .with_state(state)
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
