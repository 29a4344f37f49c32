//! Alerts: a failed run, a refused file or a stale source is logged at error
//! level and posted as JSON to the webhook named by `[alerts] webhook_url_env`.
//! `format = "slack"`: the body's `text` is what Slack incoming webhooks (and
//! classic Office 365 connectors) show; the `startwell` object carries the same
//! facts for other receivers. `format = "teams"`: an Adaptive Card message, the
//! shape Teams Workflows webhooks expect.
//! Alerts name runs, sources and files — never a value from a partner's rows.

use std::time::Duration;

use serde::Serialize;
use tracing::{error, warn};

use super::status::SourceStatus;
use crate::config::Project;
use crate::config::ops::AlertFormat;
use crate::ingest::Outcome;
use crate::runtime::record::RunRecord;

/// Something that needs a person.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunFailed {
        run_id: String,
        status: String,
        error: String,
    },
    FileRefused {
        run_id: String,
        source: String,
        file: String,
        reason: String,
    },
    SourceStale {
        source: String,
        state: String,
        cadence: Option<String>,
        age_days: Option<f64>,
        last_delivery: Option<String>,
    },
}

impl Event {
    pub fn text(&self, council: &str) -> String {
        match self {
            Event::RunFailed {
                run_id,
                status,
                error,
            } => {
                format!("startwell ({council}): run {run_id} {status}: {error}")
            }
            Event::FileRefused {
                source, file, reason, ..
            } => format!("startwell ({council}): {source} file {file} was refused: {reason}"),
            Event::SourceStale {
                source,
                state,
                cadence,
                age_days,
                ..
            } => match age_days {
                Some(a) => format!(
                    "startwell ({council}): source {source} is stale ({state}): last delivery {a:.0} days ago, expected {}",
                    cadence.as_deref().unwrap_or("-")
                ),
                None => format!("startwell ({council}): source {source} has never been delivered ({state})"),
            },
        }
    }
}

/// The webhook body for `event` in the configured shape.
pub fn body(format: AlertFormat, council: &str, text: &str, event: &Event) -> serde_json::Value {
    match format {
        AlertFormat::Slack => serde_json::json!({
            "text": text,
            "startwell": { "council": council, "details": event },
        }),
        AlertFormat::Teams => {
            let details = serde_json::to_value(event).unwrap_or_default();
            let facts: Vec<serde_json::Value> = details
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let value = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                    serde_json::json!({"title": k, "value": value})
                })
                .collect();
            serde_json::json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {"type": "TextBlock", "text": format!("startwell ({council})"), "weight": "Bolder", "size": "Medium"},
                            {"type": "TextBlock", "text": text, "wrap": true},
                            {"type": "FactSet", "facts": facts},
                        ],
                    },
                }],
            })
        }
    }
}

/// The alert events of a finished run (failure, each refused file).
pub fn run_events(rec: &RunRecord) -> Vec<Event> {
    let mut out: Vec<Event> = rec
        .files
        .iter()
        .filter(|f| f.outcome == Outcome::Refused)
        .map(|f| Event::FileRefused {
            run_id: rec.run_id.clone(),
            source: f.source.clone(),
            file: f.file.clone(),
            reason: f.message.clone(),
        })
        .collect();
    if rec.status != crate::runtime::record::RunStatus::Succeeded {
        out.push(Event::RunFailed {
            run_id: rec.run_id.clone(),
            status: rec.status.to_string(),
            error: rec.error.clone().unwrap_or_default(),
        });
    }
    out
}

pub fn stale_event(s: &SourceStatus) -> Event {
    Event::SourceStale {
        source: s.source.clone(),
        state: s.state.as_str().into(),
        cadence: s.cadence.clone(),
        age_days: s.age_days.map(|a| (a * 10.0).round() / 10.0),
        last_delivery: s.last_delivery.map(|t| t.to_rfc3339()),
    }
}

#[derive(Debug, Clone)]
pub struct Alerter {
    council: String,
    url: Option<String>,
    format: AlertFormat,
    client: reqwest::Client,
}

impl Alerter {
    pub fn from_project(project: &Project) -> Alerter {
        let url = std::env::var(&project.ops.alerts.webhook_url_env)
            .ok()
            .filter(|u| !u.trim().is_empty());
        Alerter::new(
            &project.council.name,
            url,
            project.ops.alerts.format,
            Duration::from_secs(project.ops.alerts.timeout_seconds),
        )
    }

    pub fn new(council: &str, url: Option<String>, format: AlertFormat, timeout: Duration) -> Alerter {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        Alerter {
            council: council.to_string(),
            url,
            format,
            client,
        }
    }

    pub fn has_webhook(&self) -> bool {
        self.url.is_some()
    }

    /// Log the event at error level and post it (three tries with backoff).
    /// A webhook that cannot be reached is a warning, never a failed run.
    pub async fn send(&self, event: &Event) {
        let text = event.text(&self.council);
        error!(alert = %serde_json::to_string(event).unwrap_or_default(), "{text}");
        let Some(url) = &self.url else { return };
        let body = body(self.format, &self.council, &text, event);
        let mut delay = Duration::from_millis(500);
        for attempt in 1..=3 {
            let res = self
                .client
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await;
            match res {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => warn!(attempt, status = %r.status(), "alert webhook refused the message"),
                // The URL carries a secret: report the error without it.
                Err(e) => warn!(attempt, error = %e.without_url(), "alert webhook unreachable"),
            }
            if attempt < 3 {
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
        }
    }

    pub async fn send_all(&self, events: &[Event]) {
        for e in events {
            self.send(e).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_in_both_shapes() {
        let e = Event::FileRefused {
            run_id: "r1".into(),
            source: "eyfsp".into(),
            file: "eyfsp_2025-26.csv".into(),
            reason: "no column matches `upn`".into(),
        };
        let text = e.text("Northbrook");
        assert!(
            text.contains("eyfsp file eyfsp_2025-26.csv was refused"),
            "{text}"
        );
        let slack = body(AlertFormat::Slack, "Northbrook", &text, &e);
        assert_eq!(slack["text"], text.as_str());
        assert_eq!(slack["startwell"]["details"]["event"], "file_refused");
        let teams = body(AlertFormat::Teams, "Northbrook", &text, &e);
        assert_eq!(teams["type"], "message");
        let card = &teams["attachments"][0];
        assert_eq!(card["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(card["content"]["type"], "AdaptiveCard");
        assert_eq!(card["content"]["body"][1]["text"], text.as_str());
        let facts = card["content"]["body"][2]["facts"].as_array().unwrap();
        assert!(
            facts
                .iter()
                .any(|f| f["title"] == "file" && f["value"] == "eyfsp_2025-26.csv")
        );
    }
}
