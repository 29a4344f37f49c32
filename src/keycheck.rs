//! The lake remembers which pseudonymisation key built it, so a run with another
//! key is refused before it reads anything: its children would get keys that link
//! to nothing in the lake, and linked indicators and duplicate detection would
//! break without a sound.
//!
//! `state/key_check.json` holds a **key check**: an HMAC of a fixed label under the
//! key (never the key, and no child key: the label is not a field of any source).
//! The first run records it. Changing the key on purpose is a rotation:
//! `startwell run --full-refresh --new-key` marks the rotation as started, rebuilds
//! every table from the landing files under the new key, and records the new key's
//! check only when every source has been read. Until then every other run is
//! refused (old or new key), so the lake never mixes keys unnoticed; running the
//! rotation again finishes it. The rotation needs every ingested file still in the
//! landing zone (rows of a file no longer there would be lost) and says which are
//! missing.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::config::Project;
use crate::error::{Error, Result};
use crate::lake::LedgerEntry;
use crate::pseudo::PseudoKey;
use crate::storage::Storage;

pub const PATH: &str = "state/key_check.json";

/// What `state/key_check.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyRecord {
    /// The key check of the key the lake was built with.
    pub check: String,
    pub recorded_by: String,
    pub recorded_at: String,
    /// A rotation to another key, started and not finished.
    #[serde(default)]
    pub rotating_to: Option<Rotation>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Rotation {
    pub check: String,
    pub started_by: String,
    pub started_at: String,
}

/// What the run may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// The lake's key: carry on.
    Checked,
    /// A rotation to this run's key: rebuild everything, then call [`finish_rotation`].
    Rotating,
}

async fn read(storage: &Storage) -> Result<Option<KeyRecord>> {
    let Some(bytes) = storage.get(PATH).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        Error::Key(format!(
            "{} cannot be read ({e}): it records which key the lake was built with; restore it from a backup",
            storage.display(PATH)
        ))
    })
}

async fn write(storage: &Storage, rec: &KeyRecord) -> Result<()> {
    let json = serde_json::to_vec_pretty(rec).map_err(Error::internal)?;
    storage.put(PATH, json.into()).await
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Check this run's key against the lake's (recording it on the first run), or
/// start a rotation (`new_key`). Nothing is read or written when it refuses.
pub async fn guard(
    project: &Project,
    storage: &Storage,
    key: &PseudoKey,
    run_id: &str,
    new_key: bool,
    ledger: &[LedgerEntry],
) -> Result<Guard> {
    let check = key.check();
    let record = read(storage).await?;
    let how = "(README, \"Changing the pseudonymisation key\")";
    if new_key {
        if let Some(r) = &record
            && r.check == check
            && r.rotating_to.is_none()
        {
            return Err(Error::Key(format!(
                "--new-key: this is the key the lake was built with (run {}), so there is nothing to change; run without --new-key",
                r.recorded_by
            )));
        }
        missing_files(project, storage, ledger).await?;
        let mut r = record.unwrap_or(KeyRecord {
            check: String::new(),
            recorded_by: String::new(),
            recorded_at: String::new(),
            rotating_to: None,
        });
        r.rotating_to = Some(Rotation {
            check,
            started_by: run_id.to_string(),
            started_at: now(),
        });
        write(storage, &r).await?;
        tracing::warn!(
            "changing the pseudonymisation key: every table is rebuilt from the landing zone under the new key"
        );
        return Ok(Guard::Rotating);
    }
    match record {
        None => {
            write(
                storage,
                &KeyRecord {
                    check,
                    recorded_by: run_id.to_string(),
                    recorded_at: now(),
                    rotating_to: None,
                },
            )
            .await?;
            if !ledger.is_empty() {
                tracing::warn!(
                    "the lake had no key check (built before startwell recorded one): this run's key is recorded as the lake's from now on"
                );
            }
            Ok(Guard::Checked)
        }
        Some(r) => match &r.rotating_to {
            Some(rot) => Err(Error::Key(format!(
                "a change of pseudonymisation key started by run {} ({}) has not finished, so some tables may still hold \
                 keys made with the old key; nothing was read or written. Finish it: run `startwell run --full-refresh \
                 --new-key` with the new key{} {how}",
                rot.started_by,
                rot.started_at,
                if rot.check == check {
                    " (the one this run has)"
                } else {
                    ""
                },
            ))),
            None if r.check == check => Ok(Guard::Checked),
            None => Err(Error::Key(format!(
                "the pseudonymisation key is not the one this lake was built with (the key check in {}, recorded by \
                 run {} on {}, differs): every child would get keys that link to nothing already in the lake, so \
                 nothing was read or written. Run with the lake's key; to change the key on purpose, rebuild every \
                 table under the new key with `startwell run --full-refresh --new-key` {how}",
                storage.display(PATH),
                r.recorded_by,
                r.recorded_at,
            ))),
        },
    }
}

/// The rotation read every source: the new key is the lake's from now on.
pub async fn finish_rotation(storage: &Storage, key: &PseudoKey, run_id: &str) -> Result<()> {
    write(
        storage,
        &KeyRecord {
            check: key.check(),
            recorded_by: run_id.to_string(),
            recorded_at: now(),
            rotating_to: None,
        },
    )
    .await?;
    tracing::info!("pseudonymisation key changed: every table now holds keys made with the new key");
    Ok(())
}

/// A rotation rebuilds every table from the landing zone: refuse when a file
/// whose rows are in the lake is no longer there.
async fn missing_files(project: &Project, storage: &Storage, ledger: &[LedgerEntry]) -> Result<()> {
    let mut present = BTreeSet::new();
    for plan in &project.plan.sources {
        for f in storage.list_landing(&plan.name).await? {
            present.insert((plan.name.clone(), f.relative));
        }
    }
    let in_lake: BTreeSet<(String, String)> = ledger
        .iter()
        .filter(|e| e.outcome != crate::ingest::Outcome::Refused.as_str())
        .map(|e| (e.source.clone(), e.file.clone()))
        .collect();
    let missing: Vec<String> = in_lake
        .difference(&present)
        .map(|(s, f)| format!("landing/{s}/{f}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Key(format!(
        "--new-key rebuilds every table from the landing zone, but {} ingested file(s) are no longer there, so their \
         rows would be lost: {}{}. Put them back (from the partners or a backup) and run again; nothing was changed",
        missing.len(),
        missing.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
        if missing.len() > 5 { ", …" } else { "" }
    )))
}
