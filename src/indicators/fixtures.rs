//! Indicators tested like code: fixture files (`pipelines/indicators/tests/*.toml`)
//! give a few rows of curated tables and the indicator rows expected from them.
//! `startwell test` runs them all; `cargo test` does too. No recompile to add a case.
//!
//! ```toml
//! description = "what the case shows"
//! threshold = 1            # disclosure threshold for this case (default 1: nothing suppressed)
//! [tables.eyfsp]
//! columns = ["period", "sex", "fsm", "elg_speaking"]
//! rows = [["2023-24", "M", true, "2"]]
//! [[expect]]
//! indicator = "sr_elg_speaking"
//! period = "2023/24"
//! breakdown = "sex"          # default all
//! breakdown_value = "Boys"   # default All
//! numerator = 1
//! denominator = 1
//! value = 100.0              # compared to 1 decimal place
//! status_symbol = "c"        # or "" for none
//! area_name = "Ward name"     # optional
//! upper_95 = 100.0            # optional; limits are compared to 6 decimal places
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use serde::Deserialize;

use super::catalogue::{self, Kind};
use super::engine;
use super::row::{self, Council, Row};
use crate::config::Project;
use crate::disclosure::Policy;
use crate::error::{ConfigIssue, Error, Result};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    #[serde(default)]
    pub description: String,
    #[serde(default = "one")]
    pub threshold: i64,
    #[serde(default)]
    pub tables: BTreeMap<String, FixtureTable>,
    #[serde(default)]
    pub expect: Vec<Expect>,
    /// Instead of `tables`: published council rows, for fixtures of targets.
    #[serde(default)]
    pub published: Vec<Published>,
    /// `[[target]]` entries, as in `startwell.toml`, evaluated on the rows.
    #[serde(default, rename = "target")]
    pub targets: Vec<crate::config::TargetSpec>,
    #[serde(default)]
    pub expect_target: Vec<ExpectTarget>,
}

/// A published row of the council (`local_authority`), for fixtures of targets.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Published {
    pub indicator: String,
    pub period: String,
    #[serde(default = "all")]
    pub breakdown: String,
    #[serde(default = "all_value")]
    pub breakdown_value: String,
    #[serde(default)]
    pub numerator: Option<i64>,
    #[serde(default)]
    pub denominator: Option<i64>,
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(default)]
    pub lower_95: Option<f64>,
    #[serde(default)]
    pub upper_95: Option<f64>,
    #[serde(default)]
    pub benchmark_value: Option<f64>,
    #[serde(default = "not_compared")]
    pub comparison: String,
    #[serde(default)]
    pub status_symbol: Option<String>,
}

/// What a target must come to. Numbers are compared to 3 decimal places.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectTarget {
    pub target: String,
    pub status: String,
    #[serde(default)]
    pub latest_period: Option<String>,
    #[serde(default)]
    pub change: Option<f64>,
    #[serde(default)]
    pub change_lower_95: Option<f64>,
    #[serde(default)]
    pub change_upper_95: Option<f64>,
    #[serde(default)]
    pub significant: Option<bool>,
    #[serde(default)]
    pub change_direction: Option<String>,
    #[serde(default)]
    pub trajectory: Option<String>,
    #[serde(default)]
    pub trajectory_value: Option<f64>,
    /// `true`: the row gives no figure at all (baseline, latest, change, interval).
    #[serde(default)]
    pub no_figures: bool,
}

fn not_compared() -> String {
    "not_compared".into()
}

fn one() -> i64 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureTable {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub indicator: String,
    pub period: String,
    #[serde(default = "local_authority")]
    pub area_type: String,
    /// Default: the council's own code for `local_authority` rows.
    #[serde(default)]
    pub area_code: Option<String>,
    #[serde(default = "all")]
    pub breakdown: String,
    #[serde(default = "all_value")]
    pub breakdown_value: String,
    #[serde(default)]
    pub numerator: Option<i64>,
    #[serde(default)]
    pub denominator: Option<i64>,
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(default)]
    pub status_symbol: Option<String>,
    /// The area's name (e.g. a ward's, which must be its code's own name).
    #[serde(default)]
    pub area_name: Option<String>,
    /// 95% limits, compared exactly (`upper_95 = 100.0` when every child counts).
    #[serde(default)]
    pub lower_95: Option<f64>,
    #[serde(default)]
    pub upper_95: Option<f64>,
    #[serde(default)]
    pub comparison: Option<String>,
    #[serde(default)]
    pub trend: Option<String>,
    /// `false`: no such row may be published (e.g. a missing period).
    #[serde(default = "yes")]
    pub present: bool,
}

fn local_authority() -> String {
    "local_authority".into()
}
fn all() -> String {
    row::ALL.into()
}
fn all_value() -> String {
    "All".into()
}
fn yes() -> bool {
    true
}

pub fn dir(project: &Path) -> PathBuf {
    super::dir(project).join("tests")
}

/// One failed expectation or a fixture that could not run.
#[derive(Debug)]
pub struct Failure {
    pub file: PathBuf,
    pub message: String,
}

/// What a run of the fixtures found.
#[derive(Debug, Default)]
pub struct Report {
    pub files: usize,
    pub checks: usize,
    pub failures: Vec<Failure>,
    /// Catalogue indicators no fixture checks.
    pub untested: Vec<String>,
}

fn column(ty: &DataType, values: &[Option<&toml::Value>], file: &Path, name: &str) -> Result<ArrayRef> {
    let bad = |v: &toml::Value| Error::config(file, format!("column `{name}`: value {v} does not fit {ty}"));
    Ok(match ty {
        DataType::Utf8 => Arc::new(StringArray::from(
            values
                .iter()
                .map(|v| v.map(|v| v.as_str().map(String::from).unwrap_or_else(|| v.to_string())))
                .collect::<Vec<_>>(),
        )),
        DataType::Int64 => Arc::new(Int64Array::from(
            values
                .iter()
                .map(|v| v.map(|v| v.as_integer().ok_or_else(|| bad(v))).transpose())
                .collect::<Result<Vec<_>>>()?,
        )),
        DataType::Float64 => Arc::new(Float64Array::from(
            values
                .iter()
                .map(|v| {
                    v.map(|v| {
                        v.as_float()
                            .or(v.as_integer().map(|i| i as f64))
                            .ok_or_else(|| bad(v))
                    })
                    .transpose()
                })
                .collect::<Result<Vec<_>>>()?,
        )),
        DataType::Boolean => Arc::new(BooleanArray::from(
            values
                .iter()
                .map(|v| v.map(|v| v.as_bool().ok_or_else(|| bad(v))).transpose())
                .collect::<Result<Vec<_>>>()?,
        )),
        DataType::Date32 => Arc::new(Date32Array::from(
            values
                .iter()
                .map(|v| {
                    v.map(|v| {
                        v.as_str()
                            .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                            .map(crate::check::date32)
                            .ok_or_else(|| bad(v))
                    })
                    .transpose()
                })
                .collect::<Result<Vec<_>>>()?,
        )),
        other => return Err(Error::internal(format!("fixture column type {other}"))),
    })
}

/// A session holding the fixture's tables (typed by the curated schemas; columns
/// not given are null), the reference seeds, and empty versions of the rest.
async fn session(project: &Project, fx: &Fixture, file: &Path, scratch: &Path) -> Result<SessionContext> {
    let ctx = super::session(&project.compute, scratch)?;
    let mut schemas: BTreeMap<String, Arc<Schema>> = BTreeMap::new();
    for s in &project.plan.sources {
        schemas.insert(s.table.clone(), s.schema.clone());
    }
    for (name, cols) in super::REF_TABLES {
        let fields: Vec<Field> = cols
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, true))
            .collect();
        schemas.insert(name.to_string(), Arc::new(Schema::new(fields)));
    }
    for (name, schema) in &schemas {
        let batch = match fx.tables.get(name) {
            Some(t) => {
                for c in &t.columns {
                    if schema.field_with_name(c).is_err() {
                        return Err(Error::config(file, format!("table `{name}` has no column `{c}`")));
                    }
                }
                let mut arrays = Vec::new();
                for f in schema.fields() {
                    let pos = t.columns.iter().position(|c| c == f.name());
                    let values: Vec<Option<&toml::Value>> =
                        t.rows.iter().map(|r| pos.and_then(|p| r.get(p))).collect();
                    arrays.push(column(f.data_type(), &values, file, f.name())?);
                }
                vec![RecordBatch::try_new(schema.clone(), arrays).map_err(Error::internal)?]
            }
            None if name.starts_with("ref_") => {
                // The shipped seeds, as the lake holds them.
                seed_batch(project, name, schema)?.into_iter().collect()
            }
            None => vec![],
        };
        let t = MemTable::try_new(schema.clone(), vec![batch])?;
        ctx.register_table(name.as_str(), Arc::new(t))?;
    }
    for t in fx.tables.keys() {
        if !schemas.contains_key(t) {
            return Err(Error::config(file, format!("unknown table `{t}`")));
        }
    }
    Ok(ctx)
}

fn seed_batch(project: &Project, table: &str, schema: &Arc<Schema>) -> Result<Option<RecordBatch>> {
    let file = match table {
        "ref_asq3_cutoffs" => crate::seeds::ASQ3,
        "ref_population_estimates" => crate::seeds::POPULATION,
        "ref_lsoa_imd" => crate::seeds::IMD,
        "ref_ethnicity_groups" => crate::seeds::ETHNICITY,
        _ => return Ok(None),
    };
    let path = project.seeds.dir.join(file);
    let mut rdr = csv::Reader::from_path(&path).map_err(|e| Error::config(&path, e.to_string()))?;
    let rows: Vec<csv::StringRecord> = rdr
        .records()
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::config(&path, e.to_string()))?;
    let arrays: Vec<ArrayRef> = (0..schema.fields().len())
        .map(|i| {
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.get(i).unwrap_or("")),
            )) as ArrayRef
        })
        .collect();
    Ok(Some(
        RecordBatch::try_new(schema.clone(), arrays).map_err(Error::internal)?,
    ))
}

/// Check one expectation; a `local_authority` row without `area_code` is the council's own.
fn check(e: &Expect, rows: &[Row], council_code: &str) -> Option<String> {
    let code = e
        .area_code
        .clone()
        .or_else(|| (e.area_type == "local_authority").then(|| council_code.to_string()));
    let found: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.indicator_id == e.indicator
                && r.period == e.period
                && r.area_type.as_str() == e.area_type
                && code.as_ref().is_none_or(|c| &r.area_code == c)
                && r.breakdown == e.breakdown
                && r.breakdown_value == e.breakdown_value
        })
        .collect();
    let what = format!(
        "{} {} {} {}={}",
        e.indicator, e.period, e.area_type, e.breakdown, e.breakdown_value
    );
    if !e.present {
        return (!found.is_empty()).then(|| format!("{what}: expected no row, found {}", found.len()));
    }
    let [r] = found.as_slice() else {
        return Some(format!("{what}: expected one row, found {}", found.len()));
    };
    let mut diffs = Vec::new();
    if let Some(x) = e.numerator
        && r.numerator != Some(x)
    {
        diffs.push(format!("numerator {:?} (expected {x})", r.numerator));
    }
    if let Some(n) = e.denominator
        && r.denominator != Some(n)
    {
        diffs.push(format!("denominator {:?} (expected {n})", r.denominator));
    }
    if let Some(v) = e.value
        && r.value
            .is_none_or(|got| (got * 10.0).round() != (v * 10.0).round())
    {
        diffs.push(format!("value {:?} (expected {v:.1})", r.value));
    }
    if let Some(s) = &e.status_symbol {
        let got = r.status_symbol.clone().unwrap_or_default();
        if &got != s {
            diffs.push(format!("status_symbol `{got}` (expected `{s}`)"));
        }
    }
    if let Some(a) = &e.area_name
        && &r.area_name != a
    {
        diffs.push(format!("area_name `{}` (expected `{a}`)", r.area_name));
    }
    for (name, want, got) in [
        ("lower_95", e.lower_95, r.lower_95),
        ("upper_95", e.upper_95, r.upper_95),
    ] {
        if let Some(w) = want
            && !got.is_some_and(|g| (g - w).abs() < 5e-7)
        {
            diffs.push(format!("{name} {got:?} (expected {w:?}, to 6 decimal places)"));
        }
    }
    if let Some(c) = &e.comparison
        && r.comparison.as_str() != c
    {
        diffs.push(format!("comparison `{}` (expected `{c}`)", r.comparison.as_str()));
    }
    if let Some(t) = &e.trend
        && r.trend_label() != t
    {
        diffs.push(format!("trend `{}` (expected `{t}`)", r.trend_label()));
    }
    (!diffs.is_empty()).then(|| format!("{what}: {}", diffs.join(", ")))
}

/// The council rows a targets fixture gives, as the engine would publish them.
fn published_rows(
    fx: &Fixture,
    catalogue: &[catalogue::Indicator],
    council: &Council,
    file: &Path,
) -> Result<Vec<Row>> {
    fx.published
        .iter()
        .map(|p| {
            let ind = catalogue.iter().find(|i| i.id == p.indicator).ok_or_else(|| {
                Error::config(file, format!("published: unknown indicator `{}`", p.indicator))
            })?;
            let period = super::periods::from_label(ind.period_type, &p.period).ok_or_else(|| {
                Error::config(
                    file,
                    format!("published: `{}` is not a period of `{}`", p.period, ind.id),
                )
            })?;
            Ok(Row {
                indicator_id: ind.id.clone(),
                indicator_name: ind.name.clone(),
                domain: ind.domain.as_str().into(),
                unit: ind.kind.unit(),
                polarity: ind.polarity,
                period_key: p.period.clone(),
                period: period.label,
                period_start: period.start,
                period_end: period.end,
                area_type: row::AreaType::LocalAuthority,
                area_code: council.code.clone(),
                area_name: council.name.clone(),
                breakdown: p.breakdown.clone(),
                breakdown_value: p.breakdown_value.clone(),
                numerator: p.numerator,
                denominator: p.denominator,
                value: p.value,
                lower_95: p.lower_95,
                upper_95: p.upper_95,
                lower_998: None,
                upper_998: None,
                benchmark_area: p.benchmark_value.map(|_| "England".into()),
                benchmark_value: p.benchmark_value,
                comparison: crate::stats::Comparison::parse(&p.comparison).ok_or_else(|| {
                    Error::config(file, format!("published: unknown comparison `{}`", p.comparison))
                })?,
                trend: crate::stats::Trend::CannotBeCalculated,
                status_symbol: p.status_symbol.clone(),
                numerator_sq: None,
            })
        })
        .collect()
}

/// Check one target's expectation.
fn check_target(e: &ExpectTarget, got: &[super::targets::TargetRow]) -> Option<String> {
    let Some(r) = got.iter().find(|r| r.target == e.target) else {
        return Some(format!("target `{}`: not evaluated", e.target));
    };
    let mut diffs = Vec::new();
    if r.status.as_str() != e.status {
        diffs.push(format!(
            "status `{}` (expected `{}`)",
            r.status.as_str(),
            e.status
        ));
    }
    let near = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 0.0005);
    for (name, want, got) in [
        ("change", e.change, r.change),
        ("change_lower_95", e.change_lower_95, r.change_lower_95),
        ("change_upper_95", e.change_upper_95, r.change_upper_95),
        ("trajectory_value", e.trajectory_value, r.trajectory_value),
    ] {
        if let Some(w) = want
            && !near(got, w)
        {
            diffs.push(format!("{name} {got:?} (expected {w:.3})"));
        }
    }
    if let Some(w) = e.significant
        && r.significant != Some(w)
    {
        diffs.push(format!("significant {:?} (expected {w})", r.significant));
    }
    for (name, want, got) in [
        ("change_direction", &e.change_direction, &r.change_direction),
        ("trajectory", &e.trajectory, &r.trajectory),
        ("latest_period", &e.latest_period, &r.latest_period),
    ] {
        if want.is_some() && want != got {
            diffs.push(format!("{name} {got:?} (expected {want:?})"));
        }
    }
    if e.no_figures {
        let figures = [
            r.baseline_value,
            r.latest_value,
            r.change,
            r.change_lower_95,
            r.change_upper_95,
        ];
        if figures.iter().any(Option::is_some) {
            diffs.push(format!("gives figures {figures:?} (expected none)"));
        }
    }
    (!diffs.is_empty()).then(|| format!("target `{}`: {} ({})", e.target, diffs.join(", "), r.wording))
}

/// Run every fixture of the project.
pub async fn run_all(project: &Project) -> Result<Report> {
    let mut issues: Vec<ConfigIssue> = Vec::new();
    let sql_dir = super::dir(&project.dir);
    let catalogue = catalogue::load(&sql_dir, &mut issues);
    if !issues.is_empty() {
        return Err(Error::Config(issues));
    }
    let council = super::council(project);
    let mut report = Report::default();
    let mut tested = std::collections::HashSet::new();
    let fdir = dir(&project.dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&fdir)
        .map_err(|e| Error::config(&fdir, e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for file in files {
        report.files += 1;
        let fx: Fixture = match std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|t| toml::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(f) => f,
            Err(e) => {
                report.failures.push(Failure { file, message: e });
                continue;
            }
        };
        for e in &fx.expect {
            if !catalogue.iter().any(|i| i.id == e.indicator) {
                report.failures.push(Failure {
                    file: file.clone(),
                    message: format!("unknown indicator `{}`", e.indicator),
                });
            }
            tested.insert(e.indicator.clone());
        }
        let target_issues = super::targets::check(&fx.targets, &catalogue, &file);
        if !target_issues.is_empty() {
            report.failures.extend(target_issues.into_iter().map(|i| Failure {
                file: i.file,
                message: i.message,
            }));
            continue;
        }
        let rows = fixture_rows(project, &fx, &catalogue, &file).await;
        let rows = match rows {
            Ok(r) => r,
            Err(e) => {
                report.failures.push(Failure {
                    file,
                    message: e.to_string(),
                });
                continue;
            }
        };
        for e in &fx.expect {
            report.checks += 1;
            if let Some(m) = check(e, &rows, &council.code) {
                report.failures.push(Failure {
                    file: file.clone(),
                    message: m,
                });
            }
        }
        let evaluated = super::targets::evaluate_all(&fx.targets, &catalogue, &rows, &council.code);
        for e in &fx.expect_target {
            report.checks += 1;
            if let Some(m) = check_target(e, &evaluated) {
                report.failures.push(Failure {
                    file: file.clone(),
                    message: m,
                });
            }
        }
    }
    report.untested = catalogue
        .iter()
        .filter(|i| !tested.contains(&i.id))
        .map(|i| i.id.clone())
        .collect();
    Ok(report)
}

/// The scorecard rows a fixture's checks read: its published rows as given, or
/// the selected indicators (and what their gaps are built on) computed over its
/// input tables.
async fn fixture_rows(
    project: &Project,
    fx: &Fixture,
    catalogue: &[catalogue::Indicator],
    file: &Path,
) -> Result<Vec<Row>> {
    let council = super::council(project);
    // Only the indicators the fixture checks (and what their gaps are built on).
    let mut ids: Vec<String> = fx.expect.iter().map(|e| e.indicator.clone()).collect();
    for i in catalogue {
        if ids.contains(&i.id)
            && let (Kind::Gap, Some(g)) = (i.kind, &i.gap)
        {
            ids.push(g.of.clone());
        }
    }
    let selected: Vec<catalogue::Indicator> = catalogue
        .iter()
        .filter(|i| ids.contains(&i.id))
        .cloned()
        .collect();
    let policy = Policy {
        threshold: fx.threshold,
        symbol: project.disclosure.symbol.clone(),
    };
    let scratch = super::scratch(project)?;
    if !fx.published.is_empty() {
        published_rows(fx, catalogue, &council, file)
    } else {
        match session(project, fx, file, scratch.path()).await {
            Ok(ctx) => engine::compute(
                &ctx,
                &selected,
                &super::dir(&project.dir),
                &council,
                &policy,
                None,
                engine::Workspace {
                    scratch: scratch.path(),
                    concurrent_queries: 1,
                    part_rows: project.compute.part_rows.get(),
                    progress: &crate::progress::Reporter::default(),
                },
            )
            .await
            .map(|c| c.rows),
            Err(e) => Err(e),
        }
    }
}
