//! `startwell plan [--source NAME] [FILE…]`: what `run` would do now, writing
//! nothing. Every landing file (or the files named) is classed as new, changed,
//! already ingested, still refused or not recognised; each file `run` would
//! read is read and checked as `run` would (with a throw-away key: no key is
//! needed and no child key leaves the process), giving the header mapping and
//! unmapped columns, rows accepted and rejected with the commonest reasons and
//! their first line numbers (never a value), whether it would be refused, and
//! what its period would replace.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use crate::check::{Checked, Checker, FileInfo, map_header};
use crate::config::{Project, Redelivery, SourcePlan};
use crate::error::{Error, Result};
use crate::ingest::{WHOLE_DELIVERY, period_from_name};
use crate::lake;
use crate::pseudo::PseudoKey;
use crate::storage::{LandingFile, Storage};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Never seen: `run` would read it.
    New,
    /// A file of this name was read before with other bytes: `run` would read it.
    Changed,
    /// Its bytes are in the lake already: `run` does nothing.
    AlreadyIngested,
    /// Its bytes were refused before: `run` does nothing until a corrected file comes.
    StillRefused,
    /// Its name does not match the source's pattern: `run` does not read it.
    NotRecognised,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::New => "new",
            State::Changed => "changed",
            State::AlreadyIngested => "already ingested",
            State::StillRefused => "still refused",
            State::NotRecognised => "not recognised",
        }
    }
}

/// One reason rows would be rejected: how many, and the first lines.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RejectReason {
    pub reason: String,
    pub rows: u64,
    pub first_lines: Vec<u64>,
}

/// What `run` would do with one file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FilePlan {
    pub source: String,
    pub file: String,
    pub state: State,
    pub period: Option<String>,
    /// What committing it would replace, in words, with the row counts.
    pub effect: Option<String>,
    /// Partner header → column, for the columns found.
    pub mapped: Vec<(String, String)>,
    /// Header cells that map to no column (a new column is ignored until configured).
    pub unmapped: Vec<String>,
    /// Optional columns of the source that the file lacks.
    pub absent: Vec<String>,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub reasons: Vec<RejectReason>,
    /// Why `run` would refuse it.
    pub refused: Option<String>,
}

impl FilePlan {
    fn new(plan: &SourcePlan, file: &str, state: State) -> FilePlan {
        FilePlan {
            source: plan.name.clone(),
            file: file.to_string(),
            state,
            period: None,
            effect: None,
            mapped: Vec::new(),
            unmapped: Vec::new(),
            absent: Vec::new(),
            rows_read: 0,
            rows_accepted: 0,
            rows_rejected: 0,
            reasons: Vec::new(),
            refused: None,
        }
    }
}

/// The plan for every source (or `only`), or for the `files` named (each under
/// `landing/<source>/`, or any local path: its source is the one whose pattern
/// its name matches).
pub async fn plan(
    project: &Project,
    storage: &Storage,
    only: Option<&str>,
    files: &[std::path::PathBuf],
) -> Result<Vec<FilePlan>> {
    let ledger = lake::read_ledger(storage).await?;
    let settled: HashMap<(String, String), String> = ledger
        .iter()
        .map(|e| ((e.source.clone(), e.sha256.clone()), e.outcome.clone()))
        .collect();
    let seen_names: HashMap<(String, String), String> = ledger
        .iter()
        .map(|e| ((e.source.clone(), e.file.clone()), e.sha256.clone()))
        .collect();
    let key = PseudoKey::new(&rand::random::<[u8; 32]>())?;
    let seeds = project.seeds.clone();
    // Each named file's source, worked out once (it reads the file).
    let mut sources = Vec::with_capacity(files.len());
    for p in files {
        sources.push(source_of(project, only, p).await?);
    }
    let mut out = Vec::new();
    for plan in &project.plan.sources {
        if only.is_some_and(|s| s != plan.name) {
            continue;
        }
        // The files to look at: the landing zone, or those named that this source would read.
        let candidates: Vec<(String, std::path::PathBuf, Option<crate::storage::LocalFile>)> =
            if files.is_empty() {
                let mut v = Vec::new();
                for lf in storage.list_landing(&plan.name).await? {
                    v.push((
                        lf.relative.clone(),
                        std::path::PathBuf::new(),
                        Some(local(storage, &lf).await?),
                    ));
                }
                v
            } else {
                let mut v = Vec::new();
                for (p, source) in files.iter().zip(&sources) {
                    if source.as_deref() == Some(plan.name.as_str()) {
                        let name = p
                            .file_name()
                            .map(|n| n.to_string_lossy().to_string())
                            .unwrap_or_default();
                        v.push((name, p.clone(), None));
                    }
                }
                v
            };
        for (relative, path, copy) in candidates {
            if !plan.glob.is_match(&relative) {
                out.push(FilePlan::new(plan, &relative, State::NotRecognised));
                continue;
            }
            let path = match &copy {
                Some(c) => c.path().to_path_buf(),
                None => path,
            };
            let p = path.clone();
            let sniff = tokio::task::spawn_blocking(move || crate::read::sniff(&p))
                .await
                .map_err(Error::internal)?
                .map_err(|e| Error::config(&path, format!("cannot read: {e}")))?;
            let state = match settled
                .get(&(plan.name.clone(), sniff.sha256.clone()))
                .map(String::as_str)
            {
                Some("refused") => State::StillRefused,
                Some(_) => State::AlreadyIngested,
                None if seen_names.contains_key(&(plan.name.clone(), relative.clone())) => State::Changed,
                None => State::New,
            };
            let mut fp = FilePlan::new(plan, &relative, state);
            if matches!(state, State::New | State::Changed) {
                let limits = crate::ingest::whole_table_limits(
                    storage,
                    plan,
                    plan.redelivery == crate::config::Redelivery::ReplaceTable,
                )
                .await?;
                check_file(
                    plan,
                    &path,
                    &relative,
                    sniff,
                    key.clone(),
                    seeds.clone(),
                    limits,
                    &mut fp,
                )
                .await?;
                fp.effect = effect(storage, plan, &relative, fp.rows_accepted).await?;
                fp.period = period_from_name(plan, file_name(&relative)).map(|(p, _)| p);
            }
            out.push(fp);
        }
    }
    Ok(out)
}

/// The source a file named on the command line belongs to: `only` when given,
/// else among the sources whose file pattern matches its name, the one whose
/// columns its header matches best.
async fn source_of(project: &Project, only: Option<&str>, path: &Path) -> Result<Option<String>> {
    if let Some(s) = only {
        return Ok(Some(s.to_string()));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let matching: Vec<Arc<SourcePlan>> = project
        .plan
        .sources
        .iter()
        .filter(|p| p.glob.is_match(&name))
        .cloned()
        .collect();
    if matching.len() < 2 {
        return Ok(matching.first().map(|p| p.name.clone()));
    }
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || -> Result<Option<String>> {
        let sniff =
            crate::read::sniff(&path).map_err(|e| Error::config(&path, format!("cannot read: {e}")))?;
        let display = path.display().to_string();
        let best = matching
            .iter()
            .filter_map(|plan| {
                let reader = crate::read::open(&path, &display, &plan.format, &sniff).ok()?;
                let header = map_header(plan, &reader.header, &display).ok();
                let found = plan
                    .columns
                    .iter()
                    .filter(|c| {
                        reader
                            .header
                            .iter()
                            .any(|h| c.aliases.contains(&crate::config::compile::normalise_header(h)))
                    })
                    .count();
                Some((header.is_some(), found, plan.name.clone()))
            })
            .max();
        Ok(best.map(|(_, _, name)| name))
    })
    .await
    .map_err(Error::internal)?
}

fn file_name(relative: &str) -> &str {
    relative.rsplit('/').next().unwrap_or(relative)
}

async fn local(storage: &Storage, lf: &LandingFile) -> Result<crate::storage::LocalFile> {
    match &lf.bad_name {
        Some(p) => Ok(crate::storage::LocalFile::Direct(p.clone())),
        None => storage.local_copy(&lf.location).await,
    }
}

/// What committing the file would replace: its period's delivery, the whole
/// table, or nothing (appended), with the rows there now and after.
async fn effect(
    storage: &Storage,
    plan: &SourcePlan,
    relative: &str,
    accepted: u64,
) -> Result<Option<String>> {
    let table_rows = || lake::count_rows(storage, &plan.table);
    Ok(Some(match plan.redelivery {
        Redelivery::Append => format!("appends {accepted} row(s) to `{}`", plan.table),
        Redelivery::ReplaceTable => {
            let now = table_rows().await?;
            format!(
                "replaces the whole of `{}`: {now} row(s) now, {accepted} after",
                plan.table
            )
        }
        Redelivery::ReplacePeriod => {
            let Some((period, delivery)) = period_from_name(plan, file_name(relative)) else {
                return Ok(Some(
                    "none: the file name gives no period, so it would be refused".into(),
                ));
            };
            let now = if lake::count_rows(storage, &plan.table).await? == 0 {
                0
            } else {
                let sql = format!(
                    "SELECT count(*) FROM t WHERE period = '{}' AND delivery = '{}'",
                    period.replace('\'', "''"),
                    delivery.replace('\'', "''")
                );
                let b = lake::query_table(storage, &plan.table, &sql).await?;
                b.first()
                    .and_then(|b| {
                        b.column(0)
                            .as_any()
                            .downcast_ref::<datafusion::arrow::array::Int64Array>()
                            .map(|a| a.value(0))
                    })
                    .unwrap_or(0) as u64
            };
            let part = if delivery == WHOLE_DELIVERY {
                format!("period {period}")
            } else {
                format!("period {period}, delivery `{delivery}`")
            };
            let change = accepted as i64 - now as i64;
            format!(
                "replaces {part} of `{}`: {now} row(s) now, {accepted} after ({change:+})",
                plan.table
            )
        }
    }))
}

/// Read and check the file as `run` would, counting; nothing is written.
#[allow(clippy::too_many_arguments)]
async fn check_file(
    plan: &Arc<SourcePlan>,
    path: &Path,
    relative: &str,
    sniff: crate::read::Sniff,
    key: PseudoKey,
    seeds: Arc<crate::seeds::Seeds>,
    (completeness, min_rows): (
        Option<crate::config::compile::CompletenessPlan>,
        Option<(u64, u64)>,
    ),
    fp: &mut FilePlan,
) -> Result<()> {
    let plan = plan.clone();
    let path = path.to_path_buf();
    let display = format!("landing/{}/{}", plan.name, relative);
    let period = period_from_name(&plan, file_name(relative));
    let info = FileInfo {
        period: period.as_ref().map(|p| p.0.clone()),
        delivery: period.map(|p| p.1).unwrap_or_else(|| WHOLE_DELIVERY.to_string()),
        file: relative.to_string(),
        run_id: "plan".into(),
    };
    let mut result = fp.clone();
    let result = tokio::task::spawn_blocking(move || -> Result<FilePlan> {
        let reader = match crate::read::open(&path, &display, &plan.format, &sniff) {
            Ok(r) => r,
            Err(e) => {
                result.refused = Some(e.to_string());
                return Ok(result);
            }
        };
        let header = match map_header(&plan, &reader.header, &display) {
            Ok(h) => h,
            Err(e) => {
                result.refused = Some(e.to_string());
                return Ok(result);
            }
        };
        for (c, cell) in plan.columns.iter().zip(&header.cells) {
            match cell {
                Some(i) => result
                    .mapped
                    .push((reader.header[*i].trim().to_string(), c.name.clone())),
                None => result.absent.push(c.name.clone()),
            }
        }
        result.unmapped = crate::ingest::unmapped_columns(&reader.header, &header);
        let mut checker = Checker::new(&plan, header, &key, &seeds, info);
        let mut reasons: BTreeMap<String, (u64, Vec<u64>)> = BTreeMap::new();
        let mut whole = crate::ingest::WholeTableCheck::new(completeness.as_ref(), min_rows);
        for row in reader.rows {
            let row = match row {
                Ok(r) => r,
                Err(e) => {
                    result.refused = Some(e.to_string());
                    return Ok(result);
                }
            };
            result.rows_read += 1;
            match checker.check(&row) {
                Checked::Ok(slots) => {
                    result.rows_accepted += 1;
                    whole.see(&slots);
                }
                Checked::Rejected(why) => {
                    result.rows_rejected += 1;
                    for r in &why {
                        let e = reasons.entry(r.summary()).or_default();
                        e.0 += 1;
                        if e.1.len() < 5 {
                            e.1.push(row.line);
                        }
                    }
                }
            }
        }
        let mut reasons: Vec<RejectReason> = reasons
            .into_iter()
            .map(|(reason, (rows, first_lines))| RejectReason {
                reason,
                rows,
                first_lines,
            })
            .collect();
        reasons.sort_by(|a, b| b.rows.cmp(&a.rows).then(a.reason.cmp(&b.reason)));
        result.reasons = reasons;
        match crate::ingest::rejected_share(result.rows_read, result.rows_rejected) {
            None => result.refused = Some(crate::ingest::no_data_rows(&display)),
            Some(ratio) if ratio > plan.max_reject_ratio => {
                result.refused = Some(format!(
                    "{display}: {} of {} rows ({:.1}%) would fail their checks, over the limit of {:.1}%",
                    result.rows_rejected,
                    result.rows_read,
                    ratio * 100.0,
                    plan.max_reject_ratio * 100.0
                ))
            }
            Some(_) => result.refused = whole.refusal(&display, &plan, result.rows_accepted),
        }
        Ok(result)
    })
    .await
    .map_err(Error::internal)??;
    *fp = result;
    Ok(())
}

/// The plan in words, for people.
pub fn render(plans: &[FilePlan]) -> String {
    let mut out = String::new();
    if plans.is_empty() {
        out.push_str("no landing files\n");
    }
    for p in plans {
        out.push_str(&format!("{}/{}: {}\n", p.source, p.file, p.state.as_str()));
        if !matches!(p.state, State::New | State::Changed) {
            continue;
        }
        if let Some(period) = &p.period {
            out.push_str(&format!("  period: {period}\n"));
        }
        if let Some(e) = &p.effect {
            out.push_str(&format!("  effect: {e}\n"));
        }
        if !p.mapped.is_empty() {
            let m: Vec<String> = p.mapped.iter().map(|(h, c)| format!("{h} → {c}")).collect();
            out.push_str(&format!("  columns: {}\n", m.join(", ")));
        }
        if !p.unmapped.is_empty() {
            out.push_str(&format!(
                "  not in the schema (ignored until configured): {}\n",
                p.unmapped.join(", ")
            ));
        }
        if !p.absent.is_empty() {
            out.push_str(&format!(
                "  optional columns the file lacks: {}\n",
                p.absent.join(", ")
            ));
        }
        out.push_str(&format!(
            "  rows: {} read, {} would be accepted, {} rejected\n",
            p.rows_read, p.rows_accepted, p.rows_rejected
        ));
        for r in p.reasons.iter().take(5) {
            let lines: Vec<String> = r.first_lines.iter().map(u64::to_string).collect();
            out.push_str(&format!(
                "    {} ×{} (lines {})\n",
                r.reason,
                r.rows,
                lines.join(", ")
            ));
        }
        match &p.refused {
            Some(why) => out.push_str(&format!("  WOULD BE REFUSED: {why}\n")),
            None => out.push_str("  would be ingested\n"),
        }
    }
    out
}
