//! The indicator engine: runs each indicator's SQL, aggregates by breakdown and
//! ward, and adds values, intervals, gaps, benchmarks, comparisons, trends,
//! disclosure control and metadata. SQL says *what* is counted; this says how.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use datafusion::arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;

use super::catalogue::{Breakdown, Indicator, Kind};
use super::cohort;
use super::periods;
use super::protect::{self, GapSource, Publication};
use crate::disclosure::Policy;
use crate::error::{Error, Result};
use crate::stats::{self, Comparison, Interval, Polarity, Trend, Z95, Z998};

/// The area the scorecard is for.
#[derive(Debug, Clone)]
pub struct Council {
    pub code: String,
    pub name: String,
    pub region_code: String,
    /// ONS codes of the comparator councils shown from the public files.
    pub comparators: Vec<String>,
}

/// One scorecard row (the columns of shared/contracts.md), before publishing.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub indicator_id: String,
    pub indicator_name: String,
    pub domain: String,
    pub unit: String,
    pub polarity: String,
    pub period_key: String,
    pub period: String,
    pub period_start: chrono::NaiveDate,
    pub period_end: chrono::NaiveDate,
    pub area_type: String,
    pub area_code: String,
    pub area_name: String,
    pub breakdown: String,
    pub breakdown_value: String,
    pub numerator: Option<i64>,
    pub denominator: Option<i64>,
    pub value: Option<f64>,
    pub lower_95: Option<f64>,
    pub upper_95: Option<f64>,
    pub lower_998: Option<f64>,
    pub upper_998: Option<f64>,
    pub benchmark_area: Option<String>,
    pub benchmark_value: Option<f64>,
    pub comparison: String,
    pub trend: String,
    pub status_symbol: Option<String>,
    /// Σ numerator² for means (not published).
    pub numerator_sq: Option<f64>,
}

impl Row {
    /// Publish no figure for this row, only `symbol` (`c` suppressed, `x` not available).
    pub fn withhold(&mut self, symbol: &str) {
        self.numerator = None;
        self.denominator = None;
        self.value = None;
        (self.lower_95, self.upper_95, self.lower_998, self.upper_998) = (None, None, None, None);
        self.numerator_sq = None;
        self.status_symbol = Some(symbol.to_string());
    }
}

/// Column `name` of a result, cast to `ty` and downcast to its array type.
fn col<A: Array + Clone + 'static>(b: &RecordBatch, name: &str, ty: DataType) -> Result<A> {
    let c = b
        .column_by_name(name)
        .ok_or_else(|| Error::internal(format!("indicator SQL result has no column `{name}`")))?;
    let c = cast(c, &ty).map_err(Error::internal)?;
    c.as_any()
        .downcast_ref::<A>()
        .cloned()
        .ok_or_else(|| Error::internal(format!("column `{name}` is not {ty}")))
}

fn col_str(b: &RecordBatch, name: &str) -> Result<StringArray> {
    col(b, name, DataType::Utf8)
}

fn col_i64(b: &RecordBatch, name: &str) -> Result<Int64Array> {
    col(b, name, DataType::Int64)
}

fn col_f64(b: &RecordBatch, name: &str) -> Result<Float64Array> {
    col(b, name, DataType::Float64)
}

fn opt<T: Array>(a: &T, i: usize) -> bool {
    a.is_valid(i)
}

/// Substitute `{{la_code}}`, `{{la_name}}` in indicator SQL.
pub fn render(sql: &str, council: &Council) -> String {
    sql.replace("{{la_code}}", &council.code.replace('\'', "''"))
        .replace("{{la_name}}", &council.name.replace('\'', "''"))
        .replace("{{region_code}}", &council.region_code.replace('\'', "''"))
        .replace("{{comparators}}", &comparator_list(council))
}

/// `'E1', 'E2'` for SQL `IN (…)`; `''` (matching no code) when there are none.
fn comparator_list(council: &Council) -> String {
    if council.comparators.is_empty() {
        return "''".into();
    }
    council
        .comparators
        .iter()
        .map(|c| format!("'{}'", c.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The aggregation the engine wraps around an indicator's SQL.
pub fn aggregate_sql(ind: &Indicator, base: &str, council: &Council) -> String {
    let sq = if ind.kind == Kind::Mean {
        "CAST(SUM(numerator_sq) AS DOUBLE)"
    } else {
        "CAST(NULL AS DOUBLE)"
    };
    let la = format!(
        "'local_authority' AS area_type, '{}' AS area_code, '{}' AS area_name",
        council.code.replace('\'', "''"),
        council.name.replace('\'', "''")
    );
    let sums = format!(
        "CAST(SUM(numerator) AS BIGINT) AS numerator, CAST(SUM(denominator) AS BIGINT) AS denominator, {sq} AS numerator_sq"
    );
    let mut parts = vec![format!(
        "SELECT CAST(period AS VARCHAR) AS period, {la}, 'all' AS breakdown, 'All' AS breakdown_value, {sums} FROM base GROUP BY period"
    )];
    for b in &ind.breakdowns {
        let name = match b {
            Breakdown::Group => ind.group_name.clone().unwrap_or_else(|| "group".into()),
            other => other.as_str().to_string(),
        };
        if *b == Breakdown::Ward {
            parts.push(format!(
                "SELECT CAST(period AS VARCHAR) AS period, 'ward' AS area_type, CAST(ward_code AS VARCHAR) AS area_code, \
                 CAST(MAX(ward_name) AS VARCHAR) AS area_name, 'all' AS breakdown, 'All' AS breakdown_value, {sums} \
                 FROM base WHERE ward_code IS NOT NULL GROUP BY period, ward_code"
            ));
            continue;
        }
        let v = b.value_sql();
        parts.push(format!(
            "SELECT CAST(period AS VARCHAR) AS period, {la}, '{name}' AS breakdown, CAST({v} AS VARCHAR) AS breakdown_value, {sums} \
             FROM base WHERE ({v}) IS NOT NULL GROUP BY period, {v}"
        ));
    }
    format!("WITH base AS ({base}) {}", parts.join(" UNION ALL "))
}

/// Rows of a result with the standard columns (area, breakdown, counts). A row
/// that cannot be published (a period that is not one, impossible counts) is
/// skipped or made `x`, logged, and counted in `notes`.
fn rows_from(
    ind: &Indicator,
    batches: &[RecordBatch],
    with_symbol: bool,
    notes: &mut Vec<String>,
) -> Result<Vec<Row>> {
    let (mut skipped, mut unusable) = (0u64, 0u64);
    let mut out = Vec::new();
    for b in batches {
        let period = col_str(b, "period")?;
        let (at, ac, an) = (
            col_str(b, "area_type")?,
            col_str(b, "area_code")?,
            col_str(b, "area_name")?,
        );
        let (bd, bv) = (col_str(b, "breakdown")?, col_str(b, "breakdown_value")?);
        let (x, n) = (col_i64(b, "numerator")?, col_i64(b, "denominator")?);
        let sq = if b.column_by_name("numerator_sq").is_some() {
            Some(col_f64(b, "numerator_sq")?)
        } else {
            None
        };
        let value = if b.column_by_name("value").is_some() {
            Some(col_f64(b, "value")?)
        } else {
            None
        };
        let symbol = if with_symbol && b.column_by_name("symbol").is_some() {
            Some(col_str(b, "symbol")?)
        } else {
            None
        };
        for i in 0..b.num_rows() {
            if !opt(&period, i) {
                continue;
            }
            let key = period.value(i).to_string();
            let Some(p) = periods::info(ind.period_type, &key) else {
                // A row the lake should never have held (ingest checks periods): skip
                // it and say so, rather than fail every run until someone intervenes.
                tracing::warn!(
                    indicator = %ind.id,
                    period = %key,
                    "scorecard row skipped: period `{key}` is not a {:?} period (check the source's files)",
                    ind.period_type
                );
                skipped += 1;
                continue;
            };
            let mut row = Row {
                indicator_id: ind.id.clone(),
                indicator_name: ind.name.clone(),
                domain: ind.domain.as_str().into(),
                unit: ind.kind.unit().into(),
                polarity: polarity_str(ind.polarity).into(),
                period_key: key,
                period: p.label,
                period_start: p.start,
                period_end: p.end,
                area_type: at.value(i).into(),
                area_code: ac.value(i).into(),
                area_name: if opt(&an, i) {
                    an.value(i).into()
                } else {
                    String::new()
                },
                breakdown: bd.value(i).into(),
                breakdown_value: bv.value(i).into(),
                numerator: opt(&x, i).then(|| x.value(i)),
                denominator: opt(&n, i).then(|| n.value(i)),
                value: value.as_ref().and_then(|v| opt(v, i).then(|| v.value(i))),
                lower_95: None,
                upper_95: None,
                lower_998: None,
                upper_998: None,
                benchmark_area: None,
                benchmark_value: None,
                comparison: Comparison::NotCompared.as_str().into(),
                trend: Trend::CannotBeCalculated.as_str().into(),
                status_symbol: symbol
                    .as_ref()
                    .and_then(|s| opt(s, i).then(|| s.value(i).to_string()))
                    .map(|s| if s == "low" { "u".to_string() } else { s }),
                numerator_sq: sq.as_ref().and_then(|v| opt(v, i).then(|| v.value(i))),
            };
            if let Err(e) = fill_values(ind.kind, &mut row) {
                // Impossible counts (negative, or more successes than cases): not
                // published, and reported.
                tracing::warn!(
                    indicator = %ind.id,
                    period = %row.period,
                    area = %row.area_code,
                    "scorecard value not available: {e}"
                );
                row.withhold("x");
                unusable += 1;
            }
            out.push(row);
        }
    }
    if skipped + unusable > 0 {
        notes.push(format!(
            "{}: {skipped} row(s) skipped (a period that is not a {:?} period) and {unusable} published as x \
             (impossible counts); the log names each, check the source files they came from",
            ind.id, ind.period_type
        ));
    }
    Ok(out)
}

pub fn polarity_str(p: Polarity) -> &'static str {
    match p {
        Polarity::HigherIsBetter => "higher_is_better",
        Polarity::LowerIsBetter => "lower_is_better",
        Polarity::NotApplicable => "not_applicable",
    }
}

/// Value and intervals from the counts.
fn fill_values(kind: Kind, r: &mut Row) -> Result<()> {
    if r.status_symbol.is_some() {
        r.numerator = None;
        r.denominator = None;
        r.value = None;
        return Ok(());
    }
    match kind {
        Kind::Proportion => match (r.numerator, r.denominator) {
            // Take-up against a population estimate can exceed 100%: a value, no interval.
            (Some(x), Some(n)) if n > 0 && x > n => r.value = Some(100.0 * x as f64 / n as f64),
            (Some(x), Some(n)) if n > 0 => {
                let (x, n) = (x as f64, n as f64);
                let a = stats::wilson(x, n, Z95)
                    .map_err(|e| Error::internal(format!("{}: {e}", r.indicator_id)))?;
                let b = stats::wilson(x, n, Z998)
                    .map_err(|e| Error::internal(format!("{}: {e}", r.indicator_id)))?;
                r.value = Some(100.0 * x / n);
                (r.lower_95, r.upper_95) = (Some(100.0 * a.lower), Some(100.0 * a.upper));
                (r.lower_998, r.upper_998) = (Some(100.0 * b.lower), Some(100.0 * b.upper));
            }
            (Some(_), Some(0)) => {
                r.value = None;
                r.status_symbol = Some("x".into());
            }
            _ => {
                if r.value.is_none() {
                    r.status_symbol.get_or_insert_with(|| "x".into());
                }
            }
        },
        Kind::Mean => match (r.numerator, r.denominator) {
            (Some(x), Some(n)) if n > 0 => {
                let (sum, n) = (x as f64, n as f64);
                let mean = sum / n;
                r.value = Some(mean);
                if let Some(sq) = r.numerator_sq
                    && n > 1.0
                {
                    let sd = ((sq - sum * sum / n) / (n - 1.0)).max(0.0).sqrt();
                    let se = sd / n.sqrt();
                    (r.lower_95, r.upper_95) = (Some(mean - Z95 * se), Some(mean + Z95 * se));
                    (r.lower_998, r.upper_998) = (Some(mean - Z998 * se), Some(mean + Z998 * se));
                }
            }
            _ => {
                if r.value.is_none() {
                    r.status_symbol.get_or_insert_with(|| "x".into());
                }
            }
        },
        Kind::Count => {
            r.value = r.numerator.map(|x| x as f64);
            r.denominator = None;
        }
        Kind::Gap => {}
    }
    Ok(())
}

/// The two rows a gap is the difference of (minuend, subtrahend).
type RowPair<'a> = (Option<&'a Row>, Option<&'a Row>);

/// Gap rows from the rows of the indicator it is a gap of (same period and area).
fn gaps(ind: &Indicator, of_rows: &[Row]) -> Vec<Row> {
    let spec = ind.gap.as_ref().expect("gap indicators have a spec");
    let mut by_key: BTreeMap<(String, String, String), RowPair> = BTreeMap::new();
    for r in of_rows {
        let key = (r.period_key.clone(), r.area_type.clone(), r.area_code.clone());
        let e = by_key.entry(key).or_default();
        if (r.breakdown.as_str(), r.breakdown_value.as_str())
            == (spec.minuend.0.as_str(), spec.minuend.1.as_str())
        {
            e.0 = Some(r);
        }
        if (r.breakdown.as_str(), r.breakdown_value.as_str())
            == (spec.subtrahend.0.as_str(), spec.subtrahend.1.as_str())
        {
            e.1 = Some(r);
        }
    }
    let mut out = Vec::new();
    for (_, pair) in by_key {
        let (Some(a), Some(b)) = pair else { continue };
        let mut r = a.clone();
        r.indicator_id = ind.id.clone();
        r.indicator_name = ind.name.clone();
        r.domain = ind.domain.as_str().into();
        r.unit = Kind::Gap.unit().into();
        r.polarity = polarity_str(ind.polarity).into();
        r.breakdown = "all".into();
        r.breakdown_value = "All".into();
        r.numerator = None;
        r.denominator = None;
        r.numerator_sq = None;
        r.value = None;
        (r.lower_95, r.upper_95, r.lower_998, r.upper_998) = (None, None, None, None);
        r.status_symbol = None;
        match (a.numerator, a.denominator, b.numerator, b.denominator) {
            (Some(x1), Some(n1), Some(x2), Some(n2)) if n1 > 0 && n2 > 0 => {
                let (x1, n1, x2, n2) = (x1 as f64, n1 as f64, x2 as f64, n2 as f64);
                r.value = Some(100.0 * (x1 / n1 - x2 / n2));
                if let (Ok(c), Ok(d)) = (
                    stats::newcombe(x1, n1, x2, n2, Z95),
                    stats::newcombe(x1, n1, x2, n2, Z998),
                ) {
                    (r.lower_95, r.upper_95) = (Some(100.0 * c.lower), Some(100.0 * c.upper));
                    (r.lower_998, r.upper_998) = (Some(100.0 * d.lower), Some(100.0 * d.upper));
                }
            }
            _ => {
                r.status_symbol = Some(
                    a.status_symbol
                        .clone()
                        .or(b.status_symbol.clone())
                        .unwrap_or("x".into()),
                )
            }
        }
        out.push(r);
    }
    out
}

/// The council's own rows (from child-level data): its area and its wards, not
/// comparator councils from the public files.
pub fn is_own(r: &Row, council: &Council) -> bool {
    r.area_type == "ward" || (r.area_type == "local_authority" && r.area_code == council.code)
}

/// Benchmark values and comparisons (England by default), and trends.
pub fn compare_and_trend(rows: &mut [Row], catalogue: &[Indicator]) {
    let england: HashMap<(String, String, String, String), f64> = rows
        .iter()
        .filter(|r| r.area_type == "england")
        .filter_map(|r| {
            r.value.map(|v| {
                (
                    (
                        r.indicator_id.clone(),
                        r.period_key.clone(),
                        r.breakdown.clone(),
                        r.breakdown_value.clone(),
                    ),
                    v,
                )
            })
        })
        .collect();
    for r in rows.iter_mut() {
        if r.area_type == "england" {
            continue;
        }
        let key = (
            r.indicator_id.clone(),
            r.period_key.clone(),
            r.breakdown.clone(),
            r.breakdown_value.clone(),
        );
        if let Some(b) = england.get(&key) {
            r.benchmark_area = Some("England".into());
            r.benchmark_value = Some(*b);
            let polarity = catalogue
                .iter()
                .find(|i| i.id == r.indicator_id)
                .map(|i| i.polarity)
                .unwrap_or(Polarity::NotApplicable);
            if let (Some(l), Some(u)) = (r.lower_95, r.upper_95) {
                let wide = r
                    .lower_998
                    .zip(r.upper_998)
                    .map(|(l, u)| Interval { lower: l, upper: u });
                r.comparison = stats::compare(*b, Interval { lower: l, upper: u }, wide, polarity)
                    .as_str()
                    .into();
            }
        }
    }
    // Trends: proportions only, over the last five consecutive points of one series.
    let mut series: BTreeMap<(String, String, String, String), Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        series
            .entry((
                r.indicator_id.clone(),
                r.area_code.clone(),
                r.breakdown.clone(),
                r.breakdown_value.clone(),
            ))
            .or_default()
            .push(i);
    }
    for idx in series.values() {
        let first = &rows[idx[0]];
        let Some(ind) = catalogue.iter().find(|i| i.id == first.indicator_id) else {
            continue;
        };
        if ind.kind != Kind::Proportion {
            continue;
        }
        let mut points: Vec<(i64, usize)> = idx
            .iter()
            .filter(|i| {
                ind.series_start
                    .as_ref()
                    .is_none_or(|s| rows[**i].period_key >= *s)
            })
            .filter_map(|i| periods::info(ind.period_type, &rows[*i].period_key).map(|p| (p.ordinal, *i)))
            .collect();
        points.sort();
        for k in 0..points.len() {
            let i = points[k].1;
            if rows[i].status_symbol.is_some() || k < 4 {
                continue;
            }
            let window = &points[k - 4..=k];
            let consecutive = window.windows(2).all(|w| w[1].0 == w[0].0 + 1);
            let counts: Option<Vec<(f64, f64)>> = window
                .iter()
                .map(|(_, j)| match (rows[*j].numerator, rows[*j].denominator) {
                    (Some(x), Some(n)) if n > 0 => Some((x as f64, n as f64)),
                    _ => None,
                })
                .collect();
            if let (true, Some(c)) = (consecutive, counts)
                && let Ok(t) = stats::trend(&c)
            {
                rows[i].trend = t.as_str().into();
            }
        }
    }
}

/// A computed scorecard: its rows, and the disclosure state of its own cells.
#[derive(Debug, Clone)]
pub struct Scorecard {
    pub rows: Vec<Row>,
    pub disclosure: Publication,
    /// Why some rows are not available (e.g. cohorts the extracts did not see whole).
    pub notes: Vec<String>,
}

/// Compute every indicator of `catalogue` over the tables registered in `ctx`,
/// with suppression that also holds against the `previous` publication.
pub async fn compute(
    ctx: &SessionContext,
    catalogue: &[Indicator],
    sql_dir: &Path,
    council: &Council,
    policy: &Policy,
    previous: Option<&Publication>,
) -> Result<Scorecard> {
    register_views(ctx, sql_dir, council).await?;
    let mut rows: Vec<Row> = Vec::new();
    let mut gap_sources = HashMap::new();
    let mut coverage: HashMap<String, cohort::Coverage> = HashMap::new();
    let mut notes: Vec<String> = Vec::new();
    let progress = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let pb = indicatif::ProgressBar::new(catalogue.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template("scorecard {bar:30} {pos}/{len} indicators {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    } else {
        indicatif::ProgressBar::hidden()
    };
    for ind in catalogue.iter().filter(|i| i.kind != Kind::Gap) {
        progress.set_message(ind.id.clone());
        progress.inc(1);
        let path = ind.sql_file(sql_dir).expect("non-gap indicators have SQL");
        let base = std::fs::read_to_string(&path).map_err(|e| Error::config(&path, e.to_string()))?;
        let batches = aggregate(
            ctx,
            ind,
            render(&base, council).trim().trim_end_matches(';'),
            council,
            &path,
        )
        .await?;
        let mut own = rows_from(ind, &batches, false, &mut notes)?;
        if let Some(spec) = &ind.cohort {
            if !coverage.contains_key(&spec.table) {
                let c = table_coverage(ctx, &spec.table, &path).await?;
                coverage.insert(spec.table.clone(), c);
            }
            notes.extend(cohort::mask_unobservable(
                &mut own,
                &ind.id,
                spec,
                &coverage[&spec.table],
                council,
            ));
        }
        rows.extend(own);
        if let Some(b) = &ind.benchmark_sql {
            let bpath = sql_dir.join(b);
            let bsql = std::fs::read_to_string(&bpath).map_err(|e| Error::config(&bpath, e.to_string()))?;
            let batches = run_sql(ctx, render(&bsql, council).trim().trim_end_matches(';'), &bpath).await?;
            rows.extend(rows_from(ind, &batches, true, &mut notes)?);
        }
    }
    for ind in catalogue.iter().filter(|i| i.kind == Kind::Gap) {
        let spec = ind.gap.as_ref().expect("checked");
        let of: Vec<Row> = rows
            .iter()
            .filter(|r| r.indicator_id == spec.of)
            .cloned()
            .collect();
        rows.extend(gaps(ind, &of));
        gap_sources.insert(
            ind.id.clone(),
            GapSource {
                of: spec.of.clone(),
                minuend: spec.minuend.clone(),
                subtrahend: spec.subtrahend.clone(),
            },
        );
    }
    progress.finish_and_clear();
    let disclosure = protect::apply(&mut rows, policy, &gap_sources, council, previous);
    compare_and_trend(&mut rows, catalogue);
    rows.sort_by(|a, b| {
        (
            &a.indicator_id,
            &a.period_key,
            &a.area_type,
            &a.area_code,
            &a.breakdown,
            &a.breakdown_value,
        )
            .cmp(&(
                &b.indicator_id,
                &b.period_key,
                &b.area_type,
                &b.area_code,
                &b.breakdown,
                &b.breakdown_value,
            ))
    });
    for n in &notes {
        tracing::info!("{n}");
    }
    Ok(Scorecard {
        rows,
        disclosure,
        notes,
    })
}

/// Register `views/<name>.sql` as view `<name>` (shared building blocks, e.g. a
/// child's outcomes), in file-name order.
pub async fn register_views(ctx: &SessionContext, sql_dir: &Path, council: &Council) -> Result<()> {
    let dir = sql_dir.join("views");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    let mut files: Vec<_> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    for f in files {
        let name = f.file_stem().unwrap_or_default().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&f).map_err(|e| Error::config(&f, e.to_string()))?;
        let sql = format!(
            "CREATE OR REPLACE VIEW {name} AS {}",
            render(&text, council).trim().trim_end_matches(';')
        );
        ctx.sql(&sql)
            .await
            .map_err(|e| Error::config(&f, format!("view does not plan: {e}")))?;
    }
    Ok(())
}

/// Name under which an indicator's child-level rows are registered while its
/// breakdowns are aggregated.
const BASE_TABLE: &str = "startwell_indicator_base";

/// Run an indicator's child-level SQL once, keep its rows in memory, and
/// aggregate them by every breakdown and ward. (As one query, the `UNION ALL`
/// branches of [`aggregate_sql`] would each evaluate the child-level SQL again.)
async fn aggregate(
    ctx: &SessionContext,
    ind: &Indicator,
    base: &str,
    council: &Council,
    file: &Path,
) -> Result<Vec<RecordBatch>> {
    let df = ctx
        .sql(base)
        .await
        .map_err(|e| Error::config(file, format!("SQL does not plan: {e}")))?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let rows = df
        .collect()
        .await
        .map_err(|e| Error::internal(format!("{}: {e}", file.display())))?;
    let table = datafusion::datasource::MemTable::try_new(schema, vec![rows])?;
    ctx.register_table(BASE_TABLE, std::sync::Arc::new(table))?;
    let sql = aggregate_sql(ind, &format!("SELECT * FROM {BASE_TABLE}"), council);
    let out = run_sql(ctx, &sql, file).await;
    ctx.deregister_table(BASE_TABLE)?;
    out
}

/// The periods delivered into `table`, as days covered.
async fn table_coverage(ctx: &SessionContext, table: &str, file: &Path) -> Result<cohort::Coverage> {
    let batches = run_sql(
        ctx,
        &format!("SELECT DISTINCT CAST(period AS VARCHAR) AS period FROM {table}"),
        file,
    )
    .await?;
    let mut keys = Vec::new();
    for b in &batches {
        let p = col_str(b, "period")?;
        keys.extend(
            (0..p.len())
                .filter(|i| p.is_valid(*i))
                .map(|i| p.value(i).to_string()),
        );
    }
    Ok(cohort::Coverage::from_periods(keys.iter().map(String::as_str)))
}

async fn run_sql(ctx: &SessionContext, sql: &str, file: &Path) -> Result<Vec<RecordBatch>> {
    let df = ctx
        .sql(sql)
        .await
        .map_err(|e| Error::config(file, format!("SQL does not plan: {e}")))?;
    df.collect()
        .await
        .map_err(|e| Error::internal(format!("{}: {e}", file.display())))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::{Field, Schema};

    use super::*;
    use crate::indicators::catalogue::{Domain, PeriodType};

    fn indicator() -> Indicator {
        Indicator {
            id: "sr_gld".into(),
            name: "GLD".into(),
            domain: Domain::SchoolReadiness,
            kind: Kind::Proportion,
            polarity: Polarity::HigherIsBetter,
            period_type: PeriodType::AcademicYear,
            breakdowns: vec![],
            group_name: None,
            sql: None,
            gap: None,
            benchmark_sql: None,
            series_start: None,
            cohort: None,
            definition: String::new(),
        }
    }

    /// A row the lake should never hold (a period that is not one, a negative or
    /// impossible count) is skipped or published as `x`, never failing the run.
    #[test]
    fn bad_rows_are_skipped_or_not_available_not_fatal() {
        let s = |n: &str| Field::new(n, DataType::Utf8, true);
        let i = |n: &str| Field::new(n, DataType::Int64, true);
        let schema = Arc::new(Schema::new(vec![
            s("period"),
            s("area_type"),
            s("area_code"),
            s("area_name"),
            s("breakdown"),
            s("breakdown_value"),
            i("numerator"),
            i("denominator"),
        ]));
        let text = |v: [&str; 4]| Arc::new(StringArray::from_iter_values(v)) as Arc<dyn Array>;
        let batch = RecordBatch::try_new(
            schema,
            vec![
                text(["2024-25", "2025-13", "2023-24", "2022-23"]),
                text(["england"; 4]),
                text(["E92000001"; 4]),
                text(["England"; 4]),
                text(["all"; 4]),
                text(["All"; 4]),
                Arc::new(Int64Array::from(vec![60, 60, -5, 70])),
                Arc::new(Int64Array::from(vec![100, 100, 100, 50])),
            ],
        )
        .unwrap();
        let mut notes = Vec::new();
        let rows = rows_from(&indicator(), &[batch], false, &mut notes).unwrap();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("1 row(s) skipped") && notes[0].contains("1 published as x"));
        let got: Vec<(&str, Option<f64>, Option<&str>)> = rows
            .iter()
            .map(|r| (r.period.as_str(), r.value, r.status_symbol.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("2024/25", Some(60.0), None),
                ("2023/24", None, Some("x")),
                // More than the denominator (take-up against an estimate): a value, no interval.
                ("2022/23", Some(140.0), None),
            ]
        );
    }
}
