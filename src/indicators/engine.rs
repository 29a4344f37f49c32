//! The indicator engine: runs each indicator's SQL, aggregates by breakdown and
//! ward, and adds values, intervals, gaps, benchmarks, comparisons, trends,
//! disclosure control and metadata. SQL says *what* is counted; this says how.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;

use super::catalogue::{Breakdown, Indicator, Kind};
use super::cohort;
use super::periods;
use super::protect::{self, GapSource, Publication};
use super::row::{AreaType, Council, Row};
use crate::disclosure::Policy;
use crate::error::{Error, Result};
use crate::stats::{self, Comparison, Interval, Polarity, Trend, Z95, Z998};

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

/// What one indicator sums over the rows it counts (SQL expressions).
struct Measure<'a> {
    ind: &'a Indicator,
    numerator: String,
    /// `None`: 1 a row (then the denominator is the rows counted).
    denominator: Option<String>,
    /// Σ numerator², for means' intervals (`None` for any other kind).
    numerator_sq: Option<String>,
    filter: Option<String>,
}

impl<'a> Measure<'a> {
    fn of(ind: &'a Indicator) -> Self {
        let mean = ind.kind == Kind::Mean;
        match &ind.from {
            // Counted from a view: the catalogue gives the expressions.
            Some(_) => {
                let num = ind.numerator.clone().unwrap_or_else(|| "0".into());
                Measure {
                    ind,
                    numerator_sq: mean.then(|| format!("({num}) * ({num})")),
                    numerator: num,
                    denominator: ind.denominator.clone().filter(|d| d.trim() != "1"),
                    filter: ind.filter.clone(),
                }
            }
            // A SQL file: its columns.
            None => Measure {
                ind,
                numerator: "numerator".into(),
                denominator: Some("denominator".into()),
                numerator_sq: mean.then(|| "numerator_sq".into()),
                filter: None,
            },
        }
    }
}

/// One query of the scorecard: indicators computed in one pass over `from`.
pub struct Query<'a> {
    /// The file its SQL comes from (for errors): the indicator's SQL file, or the catalogue.
    pub file: PathBuf,
    pub sql: String,
    pub indicators: Vec<&'a Indicator>,
}

/// The scorecard's queries: the indicators counted `from` the same view or
/// table together (one pass over it), each SQL-file indicator alone.
pub fn queries<'a>(catalogue: &'a [Indicator], sql_dir: &Path, council: &Council) -> Result<Vec<Query<'a>>> {
    let mut out: Vec<Query> = Vec::new();
    // Views in the order the catalogue first counts from them.
    let mut by_from: Vec<(&str, Vec<&Indicator>)> = Vec::new();
    for ind in catalogue.iter().filter(|i| i.kind != Kind::Gap) {
        match (&ind.from, ind.sql_file(sql_dir)) {
            (Some(from), _) => match by_from.iter_mut().find(|(f, _)| f == from) {
                Some((_, members)) => members.push(ind),
                None => by_from.push((from, vec![ind])),
            },
            (None, Some(path)) => {
                let text = std::fs::read_to_string(&path).map_err(|e| Error::config(&path, e.to_string()))?;
                let base = ind.with_params(&render(&text, council));
                let from = format!("({}) AS indicator_rows", base.trim().trim_end_matches(';'));
                let sql = aggregate_sql(&from, &[Measure::of(ind)], council);
                out.push(Query {
                    file: path,
                    sql,
                    indicators: vec![ind],
                });
            }
            (None, None) => {}
        }
    }
    for (from, members) in by_from {
        let measures: Vec<Measure> = members.iter().map(|i| Measure::of(i)).collect();
        out.push(Query {
            file: sql_dir.join("catalogue.toml"),
            sql: aggregate_sql(&render(from, council), &measures, council),
            indicators: members,
        });
    }
    Ok(out)
}

/// The aggregation of one pass over `from` (a relation's name, or a
/// parenthesised query with an alias): every breakdown and the wards of every
/// measure as `GROUPING SETS`, measure `j` in columns `n{j}`, `d{j}`, `s{j}`
/// (Σnumerator²) and `c{j}` (the rows it counted). A row whose breakdown value is
/// null counts only in the other sets.
///
/// With breakdowns, in two steps: the rows are first summed by every breakdown
/// at once (and, as a second set, by ward), which gives a few thousand groups a
/// period, and those sums are then summed into the council's total and each
/// breakdown. Each row of `from` is so aggregated twice (once without wards), not
/// once for every set: the 21 school-readiness indicators' pass over 600,000
/// children aggregates 1.2 million rows instead of 6 million. Every sum is of
/// whole numbers, so summing in two steps gives the same figures.
fn aggregate_sql(from: &str, measures: &[Measure], council: &Council) -> String {
    let q = |s: &str| s.replace('\'', "''");
    // Each breakdown becomes a key column `k<i>`; the ward is `ward_code`.
    let mut keys: Vec<(String, &str)> = Vec::new();
    let mut ward = false;
    for m in measures {
        for &b in &m.ind.breakdowns {
            if b == Breakdown::Ward {
                ward = true;
                continue;
            }
            let key = (m.ind.breakdown_name(b), b.value_sql());
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    let mut cols = vec!["CAST(period AS VARCHAR) AS period".to_string()];
    cols.extend(
        keys.iter()
            .enumerate()
            .map(|(i, (_, v))| format!("CAST({v} AS VARCHAR) AS k{i}")),
    );
    if ward {
        cols.push("CAST(ward_code AS VARCHAR) AS ward_code, CAST(ward_name AS VARCHAR) AS ward_name".into());
    }
    let mut sums = Vec::new();
    let mut resums = Vec::new();
    let mut measure_cols = Vec::new();
    for (j, m) in measures.iter().enumerate() {
        let when = |e: &str| match &m.filter {
            Some(f) => format!("CASE WHEN ({f}) THEN {e} END"),
            None => e.to_string(),
        };
        // Only what differs from the rows counted is summed: a denominator of 1
        // is `c{j}` (a measure's rows are published only where it counted some),
        // and Σnumerator² only for means. Each sum costs its time on every row.
        let mut c = vec![format!("{} AS n{j}", when(&m.numerator))];
        let mut s = vec![format!("CAST(SUM(n{j}) AS BIGINT) AS n{j}")];
        if let Some(d) = &m.denominator {
            c.push(format!("{} AS d{j}", when(d)));
            s.push(format!("CAST(SUM(d{j}) AS BIGINT) AS d{j}"));
        }
        if let Some(sq) = &m.numerator_sq {
            c.push(format!("CAST({} AS DOUBLE) AS s{j}", when(sq)));
            s.push(format!("SUM(s{j}) AS s{j}"));
        }
        c.push(format!("{} AS c{j}", when("1")));
        cols.extend(c);
        sums.push(format!("{}, COUNT(c{j}) AS c{j}", s.join(", ")));
        resums.push(format!("{}, CAST(SUM(c{j}) AS BIGINT) AS c{j}", s.join(", ")));
        measure_cols.push(format!(
            "n{j}, {} AS d{j}, {} AS s{j}, c{j}",
            if m.denominator.is_some() {
                format!("d{j}")
            } else {
                format!("c{j}")
            },
            if m.numerator_sq.is_some() {
                format!("s{j}")
            } else {
                "CAST(NULL AS DOUBLE)".into()
            },
        ));
    }
    let mut sets = vec!["(period)".to_string()];
    sets.extend((0..keys.len()).map(|i| format!("(period, k{i})")));
    let mut selected: Vec<String> = vec!["period".into()];
    selected.extend((0..keys.len()).map(|i| format!("k{i}, GROUPING(k{i}) AS g{i}")));
    if ward {
        sets.push("(period, ward_code)".into());
        selected.push("ward_code, MAX(ward_name) AS ward_name, GROUPING(ward_code) AS g_ward".into());
    }
    let mut keep: Vec<String> = Vec::new();
    let grouped = if keys.is_empty() {
        selected.extend(sums);
        format!(
            "grouped AS (SELECT {} FROM facts GROUP BY GROUPING SETS ({}))",
            selected.join(", "),
            sets.join(", ")
        )
    } else {
        // First every breakdown at once (`by_all`), and the wards (`fine_ward` 0
        // marks those rows); then the total and each breakdown from the first
        // rows, the wards from the second.
        let all_keys: Vec<String> = (0..keys.len()).map(|i| format!("k{i}")).collect();
        let mut fine_sel = vec!["period".to_string()];
        fine_sel.extend(all_keys.iter().cloned());
        let mut fine_sets = vec![format!("(period, {})", all_keys.join(", "))];
        let mut sets = sets;
        if ward {
            fine_sel.push("ward_code, MAX(ward_name) AS ward_name, GROUPING(ward_code) AS fine_ward".into());
            fine_sets.push("(period, ward_code)".into());
            sets = sets
                .iter()
                .map(|s| s.replacen("(period", "(period, fine_ward", 1))
                .collect();
            selected.push("fine_ward".into());
            // Each set from its own first-step rows: the wards from the rows by
            // ward, the rest from the rows by every breakdown.
            keep.push("fine_ward = g_ward".into());
        }
        fine_sel.extend(sums);
        selected.extend(resums);
        format!(
            "by_all AS (SELECT {} FROM facts GROUP BY GROUPING SETS ({})), \
             grouped AS (SELECT {} FROM by_all GROUP BY GROUPING SETS ({}))",
            fine_sel.join(", "),
            fine_sets.join(", "),
            selected.join(", "),
            sets.join(", ")
        )
    };
    let la = format!("'{}'", q(&council.code));
    let la_name = format!("'{}'", q(&council.name));
    let (mut bd, mut bv) = (Vec::new(), Vec::new());
    for (i, (name, _)) in keys.iter().enumerate() {
        bd.push(format!("WHEN g{i} = 0 THEN '{}'", q(name)));
        bv.push(format!("WHEN g{i} = 0 THEN k{i}"));
        keep.push(format!("(g{i} = 1 OR k{i} IS NOT NULL)"));
    }
    let (area_type, area_code, area_name) = if ward {
        keep.push("(g_ward = 1 OR ward_code IS NOT NULL)".into());
        (
            "CASE WHEN g_ward = 0 THEN 'ward' ELSE 'local_authority' END".to_string(),
            format!("CASE WHEN g_ward = 0 THEN ward_code ELSE {la} END"),
            format!("CASE WHEN g_ward = 0 THEN ward_name ELSE {la_name} END"),
        )
    } else {
        ("'local_authority'".to_string(), la, la_name)
    };
    let case = |arms: &[String], otherwise: &str| {
        if arms.is_empty() {
            otherwise.to_string()
        } else {
            format!("CASE {} ELSE {otherwise} END", arms.join(" "))
        }
    };
    format!(
        "WITH facts AS (SELECT {cols} FROM {from}), {grouped} \
         SELECT period, {area_type} AS area_type, {area_code} AS area_code, {area_name} AS area_name, \
         {bd} AS breakdown, {bv} AS breakdown_value, {measure_cols} FROM grouped{filter}",
        cols = cols.join(", "),
        bd = case(&bd, "'all'"),
        bv = case(&bv, "'All'"),
        measure_cols = measure_cols.join(", "),
        filter = if keep.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", keep.join(" AND "))
        },
    )
}

/// Measure `j`'s rows of a query's result, as the standard columns (`numerator`,
/// `denominator`, `numerator_sq`): the rows of its own breakdowns (and wards, if
/// it has them) in which it counted at least one row.
fn measure_rows(ind: &Indicator, j: usize, batches: &[RecordBatch]) -> Result<Vec<RecordBatch>> {
    use datafusion::arrow::array::BooleanArray;
    use datafusion::arrow::datatypes::{Field, Schema};
    let mut names: Vec<String> = vec![super::row::ALL.into()];
    names.extend(
        ind.breakdowns
            .iter()
            .filter(|b| **b != Breakdown::Ward)
            .map(|b| ind.breakdown_name(*b)),
    );
    let ward = ind.breakdowns.contains(&Breakdown::Ward);
    let mut out = Vec::new();
    for b in batches {
        let (area_type, breakdown) = (col_str(b, "area_type")?, col_str(b, "breakdown")?);
        let counted = col_i64(b, &format!("c{j}"))?;
        let keep: BooleanArray = (0..b.num_rows())
            .map(|i| {
                Some(
                    counted.is_valid(i)
                        && counted.value(i) > 0
                        && names.iter().any(|n| n == breakdown.value(i))
                        && (ward || area_type.value(i) != "ward"),
                )
            })
            .collect();
        let renamed = [
            ("period", "period".to_string()),
            ("area_type", "area_type".into()),
            ("area_code", "area_code".into()),
            ("area_name", "area_name".into()),
            ("breakdown", "breakdown".into()),
            ("breakdown_value", "breakdown_value".into()),
            ("numerator", format!("n{j}")),
            ("denominator", format!("d{j}")),
            ("numerator_sq", format!("s{j}")),
        ];
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        for (to, from) in renamed {
            let c = b
                .column_by_name(&from)
                .ok_or_else(|| Error::internal(format!("scorecard query has no column `{from}`")))?;
            let c = datafusion::arrow::compute::filter(c, &keep).map_err(Error::internal)?;
            fields.push(Field::new(to, c.data_type().clone(), true));
            columns.push(c);
        }
        out.push(
            RecordBatch::try_new(std::sync::Arc::new(Schema::new(fields)), columns)
                .map_err(Error::internal)?,
        );
    }
    Ok(out)
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
                unit: ind.kind.unit(),
                polarity: ind.polarity,
                period_key: key,
                period: p.label,
                period_start: p.start,
                period_end: p.end,
                area_type: AreaType::parse(at.value(i)).ok_or_else(|| {
                    Error::internal(format!("{}: unknown area type `{}`", ind.id, at.value(i)))
                })?,
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
                comparison: Comparison::NotCompared,
                trend: Trend::CannotBeCalculated,
                status_symbol: symbol
                    .as_ref()
                    .and_then(|s| opt(s, i).then(|| s.value(i).to_string())),
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
                    let interval = |level| {
                        stats::mean_interval(mean, sd, n, level)
                            .map_err(|e| Error::internal(format!("{}: {e}", r.indicator_id)))
                    };
                    let (a, b) = (interval(0.95)?, interval(0.998)?);
                    (r.lower_95, r.upper_95) = (Some(a.lower), Some(a.upper));
                    (r.lower_998, r.upper_998) = (Some(b.lower), Some(b.upper));
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
    // Keyed (and so ordered) by the published text, as before the area type was an enum.
    let mut by_key: BTreeMap<(String, &'static str, String), RowPair> = BTreeMap::new();
    for r in of_rows {
        let key = (r.period_key.clone(), r.area_type.as_str(), r.area_code.clone());
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
        r.unit = Kind::Gap.unit();
        r.polarity = ind.polarity;
        r.breakdown = super::row::ALL.into();
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

/// Benchmark values and comparisons (England by default), and trends.
pub fn compare_and_trend(rows: &mut [Row], catalogue: &[Indicator]) {
    let england: HashMap<(String, String, String, String), f64> = rows
        .iter()
        .filter(|r| r.area_type == AreaType::England)
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
        if r.area_type == AreaType::England {
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
                r.comparison = stats::compare(*b, Interval { lower: l, upper: u }, wide, polarity);
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
                rows[i].trend = t;
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
    /// The `[[target]]`s, evaluated on the published rows (after publishing).
    pub targets: Vec<super::targets::TargetRow>,
    /// Every other council's figures from the public files (not published as
    /// rows): the spread of councils the report places the council in.
    pub spread: Vec<Row>,
}

/// Where and how widely the engine works.
#[derive(Debug, Clone, Copy)]
pub struct Workspace<'a> {
    /// The scratch folder: views computed once per run.
    pub scratch: &'a Path,
    /// Queries run at once.
    pub concurrent_queries: usize,
    /// Rows of a lake table a view in parts takes at a time (`[compute] part_rows`).
    pub part_rows: u64,
    /// Where progress is reported.
    pub progress: &'a crate::progress::Reporter,
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
    work: Workspace<'_>,
) -> Result<Scorecard> {
    use futures::StreamExt;
    let Workspace {
        scratch,
        concurrent_queries,
        part_rows,
        progress,
    } = work;
    let m = super::memory::mark(ctx);
    tracing::debug!(
        rss_mib = m.rss_mib,
        rss_peak_mib = m.rss_peak_mib,
        cpu_seconds = m.cpu_seconds,
        "scorecard memory before the views"
    );
    let queries = queries(catalogue, sql_dir, council)?;
    // Each benchmark's SQL, read once: (indicator, file, SQL).
    let mut benchmarks = Vec::new();
    for ind in catalogue.iter().filter(|i| i.kind != Kind::Gap) {
        if let Some(b) = &ind.benchmark_sql {
            let bpath = sql_dir.join(b);
            let bsql = std::fs::read_to_string(&bpath).map_err(|e| Error::config(&bpath, e.to_string()))?;
            let bsql = ind
                .with_params(&render(&bsql, council))
                .trim()
                .trim_end_matches(';')
                .to_string();
            benchmarks.push((ind, bpath, bsql));
        }
    }
    // Everything that reads the views but another view: the queries, the
    // benchmark SQL and the cohort coverage scans.
    let mut readers: Vec<String> = queries.iter().map(|q| q.sql.clone()).collect();
    readers.extend(benchmarks.iter().map(|(_, _, sql)| sql.clone()));
    readers.extend(
        catalogue
            .iter()
            .filter_map(|i| i.cohort.as_ref())
            .map(|spec| format!("SELECT * FROM {}", spec.table)),
    );
    materialise_views(ctx, sql_dir, council, scratch, &readers, part_rows).await?;
    let mut rows: Vec<Row> = Vec::new();
    let mut spread: Vec<Row> = Vec::new();
    let mut gap_sources = HashMap::new();
    let mut coverage: HashMap<String, cohort::Coverage> = HashMap::new();
    let mut notes: Vec<String> = Vec::new();
    progress.begin("scorecard", queries.len() as u64);
    // Up to `concurrent_queries` at once (results taken in catalogue order).
    let results = futures::stream::iter(queries.iter().map(|query| async move {
        let started = std::time::Instant::now();
        let batches = run_sql(ctx, &query.sql, &query.file).await;
        (query, batches, started.elapsed())
    }))
    .buffered(concurrent_queries.max(1));
    futures::pin_mut!(results);
    while let Some((query, batches, took)) = futures::StreamExt::next(&mut results).await {
        let batches = batches?;
        let ids: Vec<&str> = query.indicators.iter().map(|i| i.id.as_str()).collect();
        progress.message(&ids.join(", "));
        progress.advance(1);
        // What this view or query freed goes back to the system before the next.
        let m = super::memory::mark(ctx);
        tracing::debug!(
            indicators = %ids.join(", "),
            seconds = took.as_secs_f64(),
            pool_peak_mib = m.pool_peak_mib,
            rss_mib = m.rss_mib,
            rss_peak_mib = m.rss_peak_mib,
            cpu_seconds = m.cpu_seconds,
            "indicators computed"
        );
        for (j, ind) in query.indicators.iter().enumerate() {
            let mut own = rows_from(ind, &measure_rows(ind, j, &batches)?, false, &mut notes)?;
            if let Some(spec) = &ind.cohort {
                if !coverage.contains_key(&spec.table) {
                    let c = table_coverage(ctx, &spec.table, &query.file).await?;
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
        }
    }
    for (ind, bpath, bsql) in &benchmarks {
        let batches = run_sql(ctx, bsql, bpath).await?;
        // England, the region and the comparators are published; every other
        // council's public figure only places the council among all councils.
        let (published, others): (Vec<Row>, Vec<Row>) = rows_from(ind, &batches, true, &mut notes)?
            .into_iter()
            .partition(|r| {
                r.area_type != AreaType::LocalAuthority || council.comparators.contains(&r.area_code)
            });
        rows.extend(published);
        spread.extend(others.into_iter().filter(|r| r.area_code != council.code));
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
    progress.end();
    let disclosure = protect::apply(&mut rows, policy, &gap_sources, council, previous);
    compare_and_trend(&mut rows, catalogue);
    rows.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
    for n in &notes {
        tracing::info!("{n}");
    }
    spread.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
    Ok(Scorecard {
        rows,
        disclosure,
        notes,
        targets: Vec::new(),
        spread,
    })
}

/// Register `views/<name>.sql` as view `<name>` (shared building blocks, e.g. a
/// child's outcomes), each after the views it reads ([`views`]).
pub async fn register_views(ctx: &SessionContext, sql_dir: &Path, council: &Council) -> Result<()> {
    for v in views(ctx, sql_dir, council)? {
        ctx.sql(&format!("CREATE OR REPLACE VIEW {} AS {}", v.name, v.sql))
            .await
            .map_err(|e| Error::config(&v.file, format!("view does not plan: {e}")))?;
    }
    Ok(())
}

/// One view of `views/`: its name (the file's stem), file and rendered SQL.
struct View {
    name: String,
    file: std::path::PathBuf,
    sql: String,
}

/// The views of `views/`, each after the views it reads (in file-name order
/// otherwise), so a view may build on any other whatever their names. Views that
/// read each other in a circle are refused, naming the circle.
fn views(ctx: &SessionContext, sql_dir: &Path, council: &Council) -> Result<Vec<View>> {
    let dir = sql_dir.join("views");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<_> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let mut pending = files
        .into_iter()
        .map(|file| {
            let name = file.file_stem().unwrap_or_default().to_string_lossy().to_string();
            let text = std::fs::read_to_string(&file).map_err(|e| Error::config(&file, e.to_string()))?;
            let sql = render(&text, council).trim().trim_end_matches(';').to_string();
            Ok(View { name, file, sql })
        })
        .collect::<Result<Vec<_>>>()?;
    let names: std::collections::HashSet<String> = pending.iter().map(|v| v.name.clone()).collect();
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let mut reads: HashMap<String, Vec<String>> = HashMap::new();
    for v in &pending {
        let statement = state
            .sql_to_statement(&v.sql, &dialect)
            .map_err(|e| Error::config(&v.file, format!("view does not parse: {e}")))?;
        let tables = state
            .resolve_table_references(&statement)
            .map_err(|e| Error::config(&v.file, format!("view does not parse: {e}")))?;
        let mut of: Vec<String> = tables
            .iter()
            .map(|t| t.table().to_string())
            .filter(|t| names.contains(t) && *t != v.name)
            .collect();
        of.sort();
        of.dedup();
        reads.insert(v.name.clone(), of);
    }
    let mut ordered: Vec<View> = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let done: std::collections::HashSet<&str> = ordered.iter().map(|v| v.name.as_str()).collect();
        let Some(next) = pending
            .iter()
            .position(|v| reads[&v.name].iter().all(|r| done.contains(r.as_str())))
        else {
            let circle: Vec<&str> = pending.iter().map(|v| v.name.as_str()).collect();
            return Err(Error::config(
                &pending[0].file,
                format!(
                    "these views read each other in a circle (or read one that does): {}",
                    circle.join(", ")
                ),
            ));
        };
        ordered.push(pending.remove(next));
    }
    Ok(ordered)
}

/// Compute each view once, after the views it reads, into scratch files under
/// `scratch` ([`ScratchFile`]), and register them under the view's name: every indicator then
/// reads the view's rows instead of evaluating its SQL again (as a plain view,
/// `eyfsp_outcomes` was evaluated by each of 22 indicators). The files hold
/// pseudonymised keys like the lake; they live only as long as `scratch`.
///
/// A view that calls `in_part(key)` is computed in parts ([`compute_in_parts`]):
/// its memory is that of a part, whatever the size of the lake.
///
/// A view read once in all of `readers` (the SQL that reads views: queries,
/// benchmarks) and by no other view is not written: it is registered as a plain
/// view, and DataFusion plans it into the one query that reads it, which saves
/// writing and reading its rows again (`hv_reached`, 3 million rows at national
/// size: about 1 s). A view that other views read stays written, so that each
/// view's sorts and joins run, and hold memory, on their own. A view that only
/// projects and filters one table ([`projects_one_table`]) is never written:
/// each reader plans it in, reading only the columns it needs.
pub async fn materialise_views(
    ctx: &SessionContext,
    sql_dir: &Path,
    council: &Council,
    scratch: &Path,
    readers: &[String],
    part_rows: u64,
) -> Result<()> {
    let views = views(ctx, sql_dir, council)?;
    let inline = read_once(ctx, &views, readers);
    let in_parts: std::collections::HashSet<String> = {
        let state = ctx.state();
        views
            .iter()
            .filter(|v| calls_in_part(&state, &v.sql))
            .map(|v| v.name.clone())
            .collect()
    };
    let parts = parts_for(ctx, &views, &in_parts, part_rows).await?;
    if !in_parts.is_empty() {
        let m = super::memory::mark(ctx);
        tracing::debug!(
            parts,
            part_rows,
            rss_mib = m.rss_mib,
            rss_peak_mib = m.rss_peak_mib,
            "views in parts: {}",
            {
                let mut names: Vec<&str> = in_parts.iter().map(String::as_str).collect();
                names.sort();
                names.join(", ")
            }
        );
    }
    let mut spent = Spent::new(ctx, &views, readers);
    let mut done_in_parts: Vec<InParts> = Vec::new();
    for view in views {
        if in_parts.contains(&view.name) {
            let written = match scattered(ctx, &view.sql).await {
                Some(rows) => scatter(ctx, &view, rows, scratch, parts).await?,
                None => compute_in_parts(ctx, &view, scratch, parts, &done_in_parts).await?,
            };
            spent.written(&view.name, &written.all_files());
            done_in_parts.push(written);
            continue;
        }
        let View { name, file: f, sql } = view;
        let started = std::time::Instant::now();
        let df = ctx
            .sql(&sql)
            .await
            .map_err(|e| Error::config(&f, format!("view does not plan: {e}")))?;
        let planned_in = if inline.contains(&name) {
            Some("the one query that reads it")
        } else if projects_one_table(df.logical_plan()) {
            Some("each query that reads it (it only projects and filters one table)")
        } else {
            None
        };
        if let Some(readers) = planned_in {
            ctx.register_table(name.as_str(), df.into_view())?;
            tracing::debug!(view = %name, "view planned into {readers}");
            continue;
        }
        let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        let files = write_scratch(df, &scratch.join(&name), &f, &schema).await?;
        register_scratch(ctx, &name, &files, schema)?;
        spent.written(&name, &files);
        written(ctx, &name, None, started);
    }
    Ok(())
}

/// Which views' scratch files are no longer needed, removed as soon as they are
/// not, so that scratch on disk holds only what is still to be read (at national
/// size 0.9 GB otherwise; the largest, `cc_headcount_rows`, 0.3 GB, is read only by
/// the two childcare counts). A view is spent when no query, benchmark or coverage
/// scan names it and every view that reads it has been written to scratch (a view
/// planned into its readers may still read it, so it is kept).
struct Spent {
    /// For each relation a view reads (lower case), the views that read it.
    read_by: HashMap<String, Vec<String>>,
    /// What the queries, benchmarks and coverage scans name (lower case).
    kept: std::collections::HashSet<String>,
    /// Some SQL did not parse, so it may read anything: nothing is removed.
    keep_all: bool,
    done: std::collections::HashSet<String>,
    files: Vec<(String, Vec<PathBuf>)>,
}

impl Spent {
    fn new(ctx: &SessionContext, views: &[View], readers: &[String]) -> Self {
        let state = ctx.state();
        let mut read_by: HashMap<String, Vec<String>> = HashMap::new();
        for v in views {
            for name in relations_read(&state, &v.sql).into_keys() {
                read_by.entry(name).or_default().push(v.name.to_lowercase());
            }
        }
        let kept: std::collections::HashSet<String> = readers
            .iter()
            .flat_map(|r| relations_read(&state, r).into_keys())
            .collect();
        Spent {
            keep_all: kept.contains("*") || read_by.contains_key("*"),
            read_by,
            kept,
            done: Default::default(),
            files: Vec::new(),
        }
    }

    /// `view` is written to `files`: remove the files of every view now spent.
    fn written(&mut self, view: &str, files: &[Written]) {
        let view = view.to_lowercase();
        self.files
            .push((view.clone(), files.iter().map(|w| w.path.clone()).collect()));
        self.done.insert(view);
        if self.keep_all {
            return;
        }
        let (spent, kept): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.files)
                .into_iter()
                .partition(|(name, _)| {
                    !self.kept.contains(name)
                        && self
                            .read_by
                            .get(name)
                            .is_none_or(|by| by.iter().all(|r| self.done.contains(r)))
                });
        self.files = kept;
        for (name, files) in spent {
            for f in &files {
                if let Err(e) = std::fs::remove_file(f) {
                    tracing::warn!(file = %f.display(), "scratch file not removed: {e}");
                }
            }
            tracing::debug!(view = %name, files = files.len(), "scratch removed: no view or query still to come reads it");
        }
    }
}

/// A view (or part `(i, of)` of one) is written: what it freed goes back to the
/// system before the next, and the `debug` log gives its time and memory.
fn written(ctx: &SessionContext, view: &str, part: Option<(usize, usize)>, started: std::time::Instant) {
    let m = super::memory::mark(ctx);
    tracing::debug!(
        view,
        part = part.map(|p| p.0),
        parts = part.map(|p| p.1),
        seconds = started.elapsed().as_secs_f64(),
        pool_peak_mib = m.pool_peak_mib,
        rss_mib = m.rss_mib,
        rss_peak_mib = m.rss_peak_mib,
        cpu_seconds = m.cpu_seconds,
        "view materialised"
    );
}

/// The most parts a view is computed in, however small `[compute] part_rows`.
pub const MAX_PARTS: usize = 64;

/// A view computed in parts: the files of each part (none for a part with no
/// rows), under `scratch/<name>/`.
struct InParts {
    name: String,
    files: Vec<Vec<Written>>,
    schema: datafusion::arrow::datatypes::SchemaRef,
}

impl InParts {
    /// Every part's files: the whole view.
    fn all_files(&self) -> Vec<Written> {
        self.files.iter().flatten().cloned().collect()
    }
}

/// Compute `view` once per part of the children (`in_part(key)` true for that
/// part's keys only), each part into its own file, and register the view as all
/// of them. While part `i` is computed, every view already computed in parts is
/// registered as its part `i`, so a view in parts that joins others (e.g.
/// `hv_child_history`) joins one part of each; afterwards they are whole again.
///
/// This is right for a view whose rows for a child depend only on that child's
/// rows: every `GROUP BY`, window `PARTITION`/ordering and join is on the child
/// (or the view's rows are counts over children, which its readers add up).
/// Its sorts, joins and aggregations then hold one part's rows at a time: about
/// `[compute] part_rows` rows of the lake, however large the lake grows. Each
/// part reads the view's tables again (the filter is applied as they are read).
async fn compute_in_parts(
    ctx: &SessionContext,
    view: &View,
    scratch: &Path,
    parts: usize,
    earlier: &[InParts],
) -> Result<InParts> {
    let dir = scratch.join(&view.name);
    std::fs::create_dir_all(&dir).map_err(|e| Error::config(&dir, format!("scratch folder: {e}")))?;
    let mut files = Vec::with_capacity(parts);
    let mut schema = None;
    for part in 0..parts {
        let started = std::time::Instant::now();
        ctx.register_udf(super::udf::in_part_udf(part, parts));
        for e in earlier {
            register_scratch(ctx, &e.name, &e.files[part], e.schema.clone())?;
        }
        let df = ctx
            .sql(&view.sql)
            .await
            .map_err(|e| Error::config(&view.file, format!("view does not plan: {e}")))?;
        let schema = schema.get_or_insert_with(|| std::sync::Arc::new(df.schema().as_arrow().clone()));
        files.push(write_scratch(df, &dir.join(format!("part-{part:03}")), &view.file, schema).await?);
        written(ctx, &view.name, Some((part, parts)), started);
    }
    ctx.register_udf(super::udf::in_part_udf(0, 1));
    let written = InParts {
        name: view.name.clone(),
        files,
        schema: schema.expect("at least one part"),
    };
    for e in earlier.iter().chain(std::iter::once(&written)) {
        register_scratch(ctx, &e.name, &e.all_files(), e.schema.clone())?;
    }
    Ok(written)
}

/// The column a scattered view's rewritten SQL adds: the argument of its
/// `in_part(...)`, from which each row's part is taken.
const PART_KEY: &str = "__startwell_part_key";

/// A view in parts that only projects and filters one table, planned to be
/// scattered ([`scatter`]): its SQL with the `in_part(key)` condition taken out of
/// `WHERE`, and `key` added as a last column ([`PART_KEY`]) unless the view gives
/// `key128(key)` as one. `None` for any other
/// view (then it is computed part by part): one that is not a single `SELECT`, has
/// `in_part` anywhere but as one `AND`ed condition of its `WHERE`, or whose plan
/// does more than project and filter one table ([`projects_one_table`]).
async fn scattered(ctx: &SessionContext, sql: &str) -> Option<Scattered> {
    use datafusion::sql::parser::Statement;
    use datafusion::sql::sqlparser::ast::{self, BinaryOperator, Expr, SelectItem, SetExpr};
    fn conjuncts(e: Expr, out: &mut Vec<Expr>) {
        match e {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                right,
            } => {
                conjuncts(*left, out);
                conjuncts(*right, out);
            }
            Expr::Nested(e) => conjuncts(*e, out),
            e => out.push(e),
        }
    }

    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let Ok(Statement::Statement(mut statement)) = state.sql_to_statement(sql, &dialect) else {
        return None;
    };
    let ast::Statement::Query(query) = &mut *statement else {
        return None;
    };
    let SetExpr::Select(select) = &mut *query.body else {
        return None;
    };
    let mut all = Vec::new();
    conjuncts(select.selection.take()?, &mut all);
    let (keys, rest): (Vec<Expr>, Vec<Expr>) = all
        .into_iter()
        .partition(|e| only_argument(e, "in_part").is_some());
    let [call] = keys.as_slice() else { return None };
    let key = only_argument(call, "in_part")?.clone();
    select.selection = rest.into_iter().reduce(|left, right| Expr::BinaryOp {
        left: Box::new(left),
        op: BinaryOperator::And,
        right: Box::new(right),
    });
    // When the view gives `key128(key)` as a column, the part is read from it
    // (the same part as the key's); otherwise the key is added as a column.
    let given = select.projection.iter().find_map(|item| match item {
        SelectItem::ExprWithAlias { expr, alias } if only_argument(expr, "key128") == Some(&key) => {
            Some(alias.value.clone())
        }
        _ => None,
    });
    let part_key = match given {
        Some(column) => column,
        None => {
            select.projection.push(SelectItem::ExprWithAlias {
                expr: key,
                alias: ast::Ident::new(PART_KEY),
            });
            PART_KEY.to_string()
        }
    };
    if calls(&*statement, "in_part") {
        return None;
    }
    let df = ctx.sql(&statement.to_string()).await.ok()?;
    let column = df.schema().as_arrow().index_of(&part_key).ok()?;
    projects_one_table(df.logical_plan()).then_some(Scattered {
        df,
        column,
        added: part_key == PART_KEY,
    })
}

/// Whether `f` is a call of `function` (by its last name part, in any case).
fn is_call_of(f: &datafusion::sql::sqlparser::ast::Function, function: &str) -> bool {
    f.name
        .0
        .last()
        .and_then(|p| p.as_ident())
        .is_some_and(|i| i.value.eq_ignore_ascii_case(function))
}

/// The argument of `e` when `e` is `function(argument)`: one unnamed argument.
fn only_argument<'a>(
    e: &'a datafusion::sql::sqlparser::ast::Expr,
    function: &str,
) -> Option<&'a datafusion::sql::sqlparser::ast::Expr> {
    use datafusion::sql::sqlparser::ast::{Expr, FunctionArg, FunctionArgExpr, FunctionArguments};
    let Expr::Function(f) = e else { return None };
    match &f.args {
        FunctionArguments::List(list) if is_call_of(f, function) && list.clauses.is_empty() => {
            match list.args.as_slice() {
                [FunctionArg::Unnamed(FunctionArgExpr::Expr(argument))] => Some(argument),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether `node` calls `function` anywhere.
fn calls<T: datafusion::sql::sqlparser::ast::Visit>(node: &T, function: &str) -> bool {
    use datafusion::sql::sqlparser::ast::Expr;
    datafusion::sql::sqlparser::ast::visit_expressions(node, |e| match e {
        Expr::Function(f) if is_call_of(f, function) => std::ops::ControlFlow::Break(()),
        _ => std::ops::ControlFlow::Continue(()),
    })
    .is_break()
}

/// A view to scatter: its rows, which column's key gives each row's part, and
/// whether that column was added for it (and is not written).
struct Scattered {
    df: datafusion::dataframe::DataFrame,
    column: usize,
    added: bool,
}

/// Compute a view in parts in one pass (`df`, from [`scattered`]): the table is
/// read once and each row written to the file of its key's part, the part
/// `in_part(key)` is true in. Computing it part by part ([`compute_in_parts`])
/// would read the table once a part, decoding every key each time; this reads it
/// once, and the views in parts that read this one then read only their part's
/// narrow rows (`hv_contact_rows`: the 2.6 million contacts at national size).
///
/// Each part's slice of a batch is appended to its file as it comes, so memory
/// is that of a batch.
async fn scatter(
    ctx: &SessionContext,
    view: &View,
    rows: Scattered,
    scratch: &Path,
    parts: usize,
) -> Result<InParts> {
    use datafusion::arrow::array::UInt32Array;
    use futures::StreamExt;
    let started = std::time::Instant::now();
    let dir = scratch.join(&view.name);
    std::fs::create_dir_all(&dir).map_err(|e| Error::config(&dir, format!("scratch folder: {e}")))?;
    let failed = |e: datafusion::error::DataFusionError| query_failed(&view.file, e);
    let Scattered {
        df,
        column: key,
        added,
    } = rows;
    let all = df.schema().as_arrow().clone();
    let keep: Vec<usize> = (0..all.fields().len()).filter(|i| !added || *i != key).collect();
    let schema = std::sync::Arc::new(all.project(&keep).map_err(|e| failed(e.into()))?);
    // Each part in as many files as the session reads at once, the batches dealt
    // between them, so that a part is read by all its partitions.
    let spread = ctx.state().config().target_partitions().max(1);
    let path = |part: usize, k: usize| dir.join(format!("part-{part:03}-{k}{SCRATCH_EXTENSION}"));
    let mut writers: Vec<Vec<Option<ScratchFile>>> =
        (0..parts).map(|_| (0..spread).map(|_| None).collect()).collect();
    let mut stream = df.execute_stream().await.map_err(failed)?;
    let mut batches = 0usize;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(failed)?;
        let k = batches % spread;
        batches += 1;
        let of = super::udf::parts_of(batch.column(key), parts).map_err(failed)?;
        let rows = batch.project(&keep).map_err(|e| failed(e.into()))?;
        // The rows ordered by part (a counting sort), then one slice a part.
        let mut starts = vec![0usize; parts + 1];
        for &p in &of {
            starts[p + 1] += 1;
        }
        for p in 0..parts {
            starts[p + 1] += starts[p];
        }
        let first = of.first().copied().unwrap_or(0);
        let rows = if starts[first + 1] - starts[first] == of.len() {
            rows
        } else {
            let mut next = starts.clone();
            let mut order = vec![0u32; of.len()];
            for (i, &p) in of.iter().enumerate() {
                order[next[p]] = u32::try_from(i).expect("a batch has fewer than 2^32 rows");
                next[p] += 1;
            }
            datafusion::arrow::compute::take_record_batch(&rows, &UInt32Array::from(order))
                .map_err(|e| failed(e.into()))?
        };
        for (part, writers) in writers.iter_mut().enumerate() {
            let n = starts[part + 1] - starts[part];
            if n == 0 {
                continue;
            }
            let writer = match &mut writers[k] {
                Some(w) => w,
                None => writers[k].insert(ScratchFile::create(&path(part, k), schema.clone())?),
            };
            writer
                .write(&rows.slice(starts[part], n))
                .map_err(|e| failed(e.into()))?;
        }
    }
    let mut files = Vec::with_capacity(parts);
    for part in writers {
        let mut written = Vec::new();
        for w in part.into_iter().flatten() {
            written.push(w.finish().map_err(|e| failed(e.into()))?);
        }
        files.push(written);
    }
    let scattered = InParts {
        name: view.name.clone(),
        files,
        schema,
    };
    register_scratch(ctx, &view.name, &scattered.all_files(), scattered.schema.clone())?;
    tracing::debug!(
        view = %view.name,
        parts,
        part_key = all.field(key).name().as_str(),
        "view scattered into its parts in one pass"
    );
    written(ctx, &view.name, None, started);
    Ok(scattered)
}

/// How many parts the views in parts are computed in: the most rows of any table
/// they read (a view in parts reading another reads its parts), over `part_rows`,
/// rounded up; from 1 to [`MAX_PARTS`]. One number for every view in parts, so
/// that a view joining two of them joins the same children's parts.
async fn parts_for(
    ctx: &SessionContext,
    views: &[View],
    in_parts: &std::collections::HashSet<String>,
    part_rows: u64,
) -> Result<usize> {
    let names: std::collections::HashSet<&str> = views.iter().map(|v| v.name.as_str()).collect();
    let mut tables: Vec<String> = {
        let state = ctx.state();
        views
            .iter()
            .filter(|v| in_parts.contains(&v.name))
            .flat_map(|v| relations_read(&state, &v.sql).into_keys())
            .filter(|t| !names.contains(t.as_str()) && t != "*")
            .collect()
    };
    tables.sort();
    tables.dedup();
    let mut most = 0u64;
    for t in tables {
        // A name the SQL reads that is no table (a CTE's) counts nothing.
        if !ctx.table_exist(t.as_str()).unwrap_or(false) {
            continue;
        }
        let batches = run_sql(ctx, &format!("SELECT COUNT(*) AS n FROM {t}"), Path::new(&t)).await?;
        let n: i64 = batches
            .iter()
            .filter(|b| b.num_rows() > 0)
            .map(|b| col_i64(b, "n").map(|c| c.value(0)))
            .sum::<Result<i64>>()?;
        most = most.max(u64::try_from(n).unwrap_or(0));
    }
    Ok(usize::try_from(most.div_ceil(part_rows.max(1)))
        .unwrap_or(MAX_PARTS)
        .clamp(1, MAX_PARTS))
}

/// Whether `sql` calls `in_part(...)` (then its view is computed in parts).
fn calls_in_part(state: &datafusion::execution::SessionState, sql: &str) -> bool {
    use datafusion::sql::parser::Statement;
    let dialect = state.config().options().sql_parser.dialect;
    let Ok(Statement::Statement(statement)) = state.sql_to_statement(sql, &dialect) else {
        return false;
    };
    calls(&*statement, "in_part")
}

/// Write a view's rows as scratch ([`ScratchFile`]): a file for each of the
/// plan's output partitions that has rows (`<stem>-<i>.arrow`), written at once,
/// each in its own task, so that readers read them at once too.
async fn write_scratch(
    df: datafusion::dataframe::DataFrame,
    stem: &Path,
    file: &Path,
    schema: &datafusion::arrow::datatypes::SchemaRef,
) -> Result<Vec<Written>> {
    use futures::StreamExt;
    let streams = df
        .execute_stream_partitioned()
        .await
        .map_err(|e| query_failed(file, e))?;
    let tasks: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(i, mut stream)| {
            let path = PathBuf::from(format!("{}-{i}{SCRATCH_EXTENSION}", stem.display()));
            let (schema, file) = (schema.clone(), file.to_path_buf());
            tokio::spawn(async move {
                let failed = |e: datafusion::error::DataFusionError| query_failed(&file, e);
                let mut out: Option<ScratchFile> = None;
                while let Some(batch) = stream.next().await {
                    let batch = batch.map_err(failed)?;
                    if batch.num_rows() == 0 {
                        continue;
                    }
                    let writer = match &mut out {
                        Some(w) => w,
                        None => out.insert(ScratchFile::create(&path, schema.clone())?),
                    };
                    writer.write(&batch).map_err(|e| failed(e.into()))?;
                }
                out.map(|w| w.finish().map_err(|e| failed(e.into()))).transpose()
            })
        })
        .collect();
    let mut files = Vec::new();
    for task in tasks {
        files.extend(task.await.map_err(Error::internal)??);
    }
    Ok(files)
}

/// A scratch file written: where, and how many rows and bytes it holds.
#[derive(Debug, Clone)]
struct Written {
    path: PathBuf,
    rows: usize,
    bytes: u64,
}

/// A scratch file being written: an Arrow IPC stream (`.arrow`). Scratch is
/// written once, read back once or a few times and deleted, so it is kept as the
/// engine holds it: each batch's buffers as they are, with no encoding to undo.
/// Written as Parquet, encoding it (each text value hashed into the column's
/// dictionary, pages compressed) was a sixth of the scorecard's work, and reading
/// it back more. A stream, not an IPC file, because each batch may bring its own
/// dictionaries (an IPC file allows one a column).
struct ScratchFile {
    writer: datafusion::arrow::ipc::writer::StreamWriter<std::io::BufWriter<std::fs::File>>,
    schema: datafusion::arrow::datatypes::SchemaRef,
    path: PathBuf,
    rows: usize,
}

impl ScratchFile {
    fn create(path: &Path, schema: datafusion::arrow::datatypes::SchemaRef) -> Result<Self> {
        let file =
            std::fs::File::create(path).map_err(|e| Error::config(path, format!("scratch file: {e}")))?;
        let writer =
            datafusion::arrow::ipc::writer::StreamWriter::try_new(std::io::BufWriter::new(file), &schema)
                .map_err(Error::internal)?;
        Ok(ScratchFile {
            writer,
            schema,
            path: path.to_path_buf(),
            rows: 0,
        })
    }

    /// Append `batch` as the view's schema: a part computed from an empty part (a
    /// table in memory) can give text as `Utf8` where the view gives `Utf8View`.
    /// Text views are compacted first, so that a slice of a batch writes only the
    /// text it holds, not the whole batch's buffers.
    fn write(
        &mut self,
        batch: &RecordBatch,
    ) -> std::result::Result<(), datafusion::arrow::error::ArrowError> {
        use datafusion::arrow::array::AsArray;
        let columns = batch
            .columns()
            .iter()
            .zip(self.schema.fields())
            .map(|(c, f)| {
                let c = if c.data_type() == f.data_type() {
                    c.clone()
                } else {
                    datafusion::arrow::compute::cast(c, f.data_type())?
                };
                Ok(match c.data_type() {
                    DataType::Utf8View => {
                        std::sync::Arc::new(c.as_string_view().gc()) as datafusion::arrow::array::ArrayRef
                    }
                    DataType::BinaryView => {
                        std::sync::Arc::new(c.as_binary_view().gc()) as datafusion::arrow::array::ArrayRef
                    }
                    _ => c,
                })
            })
            .collect::<std::result::Result<Vec<_>, datafusion::arrow::error::ArrowError>>()?;
        let batch = RecordBatch::try_new(self.schema.clone(), columns)?;
        self.rows += batch.num_rows();
        self.writer.write(&batch)
    }

    fn finish(mut self) -> std::result::Result<Written, datafusion::arrow::error::ArrowError> {
        use std::io::Write;
        self.writer.finish()?;
        let file = self.writer.get_mut();
        file.flush()?;
        let bytes = file.get_ref().metadata()?.len();
        Ok(Written {
            path: self.path,
            rows: self.rows,
            bytes,
        })
    }
}

/// Register `name` as the scratch `files`, as the view's schema ([`ScratchTable`]);
/// with none (nothing written), as an empty table of the view's shape. Any
/// earlier registration of `name` is replaced.
fn register_scratch(
    ctx: &SessionContext,
    name: &str,
    files: &[Written],
    schema: datafusion::arrow::datatypes::SchemaRef,
) -> Result<()> {
    ctx.deregister_table(name)?;
    if files.is_empty() {
        let empty = datafusion::datasource::MemTable::try_new(schema, vec![vec![]])?;
        ctx.register_table(name, std::sync::Arc::new(empty))?;
    } else {
        let table = ScratchTable {
            schema,
            files: files.to_vec(),
        };
        ctx.register_table(name, std::sync::Arc::new(table))?;
    }
    Ok(())
}

/// A view's rows in scratch files, read as one table: each file is read in one
/// go (an IPC stream is read from its start), the files spread over the
/// session's partitions. Its row count is known exactly, so the planner builds
/// each join's table from the smaller side (with no count, it built
/// `hv_reached`'s from its 8 million rows rather than the 4 quarters).
#[derive(Debug)]
struct ScratchTable {
    schema: datafusion::arrow::datatypes::SchemaRef,
    files: Vec<Written>,
}

#[async_trait::async_trait]
impl datafusion::catalog::TableProvider for ScratchTable {
    fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> datafusion::logical_expr::TableType {
        datafusion::logical_expr::TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn datafusion::catalog::Session,
        projection: Option<&Vec<usize>>,
        _filters: &[datafusion::logical_expr::Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        use datafusion::common::stats::Precision;
        use datafusion::datasource::listing::PartitionedFile;
        use datafusion::datasource::physical_plan::{ArrowSource, FileGroup, FileScanConfigBuilder};
        let groups = state.config().target_partitions().clamp(1, self.files.len());
        let mut files: Vec<Vec<PartitionedFile>> = vec![Vec::new(); groups];
        for (i, w) in self.files.iter().enumerate() {
            let location = object_store::path::Path::from_absolute_path(&w.path)
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
            files[i % groups].push(PartitionedFile::new_from_meta(object_store::ObjectMeta {
                location,
                last_modified: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
                size: w.bytes,
                e_tag: None,
                version: None,
            }));
        }
        let mut statistics = datafusion::common::Statistics::new_unknown(&self.schema);
        statistics.num_rows = Precision::Exact(self.files.iter().map(|w| w.rows).sum());
        statistics.total_byte_size = Precision::Inexact(self.files.iter().map(|w| w.bytes as usize).sum());
        let source = ArrowSource::new_stream_file_source(self.schema.clone());
        let config = FileScanConfigBuilder::new(
            datafusion::execution::object_store::ObjectStoreUrl::local_filesystem(),
            std::sync::Arc::new(source),
        )
        .with_file_groups(files.into_iter().map(FileGroup::new).collect())
        .with_statistics(statistics)
        .with_projection_indices(projection.cloned())?
        .with_limit(limit)
        .build();
        Ok(datafusion::datasource::source::DataSourceExec::from_data_source(
            config,
        ))
    }
}

/// What scratch files are named with ([`ScratchFile`]).
const SCRATCH_EXTENSION: &str = ".arrow";

/// Whether `plan` only filters and projects the rows of one table (no join,
/// aggregate, window, sort, union or `DISTINCT`): computing such a view is one scan
/// of the columns a reader needs, no dearer than reading a written copy, so each
/// query that reads it plans it in (`eyfsp_outcomes`: writing it took 0.6 s at
/// national size).
fn projects_one_table(plan: &datafusion::logical_expr::LogicalPlan) -> bool {
    use datafusion::common::tree_node::TreeNodeRecursion;
    use datafusion::logical_expr::LogicalPlan;
    let mut scans = 0;
    let mut simple = true;
    let _ = plan.apply_with_subqueries(|node| {
        match node {
            LogicalPlan::TableScan(_) => scans += 1,
            LogicalPlan::Projection(_) | LogicalPlan::Filter(_) | LogicalPlan::SubqueryAlias(_) => {}
            _ => {
                simple = false;
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    simple && scans == 1
}

/// The views read exactly once in all of `readers`, and by no other view (see
/// [`materialise_views`]). SQL that does not parse counts as reading every view.
fn read_once(ctx: &SessionContext, views: &[View], readers: &[String]) -> std::collections::HashSet<String> {
    let state = ctx.state();
    let by_views: Vec<HashMap<String, usize>> =
        views.iter().map(|v| relations_read(&state, &v.sql)).collect();
    let by_readers: Vec<HashMap<String, usize>> = readers.iter().map(|r| relations_read(&state, r)).collect();
    views
        .iter()
        .enumerate()
        .filter(|(i, v)| {
            let count = |m: &HashMap<String, usize>| {
                m.get(&v.name).copied().unwrap_or(0) + m.get("*").copied().unwrap_or(0)
            };
            let in_views: usize = by_views
                .iter()
                .enumerate()
                .filter(|(j, _)| j != i)
                .map(|(_, m)| count(m))
                .sum();
            let in_readers: usize = by_readers.iter().map(count).sum();
            in_views == 0 && in_readers == 1
        })
        .map(|(_, v)| v.name.clone())
        .collect()
}

/// How many times `sql` reads each relation (by its last name part); when it
/// does not parse, `"*"`: it may read any view, more than once.
fn relations_read(state: &datafusion::execution::SessionState, sql: &str) -> HashMap<String, usize> {
    use datafusion::sql::parser::Statement;
    let mut out = HashMap::new();
    let dialect = state.config().options().sql_parser.dialect;
    match state.sql_to_statement(sql, &dialect) {
        Ok(Statement::Statement(statement)) => {
            let _ = datafusion::sql::sqlparser::ast::visit_relations(&*statement, |name| {
                if let Some(last) = name.0.last().and_then(|p| p.as_ident()) {
                    *out.entry(last.value.to_lowercase()).or_insert(0) += 1;
                }
                std::ops::ControlFlow::<()>::Continue(())
            });
        }
        _ => {
            out.insert("*".to_string(), 2);
        }
    }
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
    tracing::trace!(file = %file.display(), %sql, "running SQL");
    let df = ctx
        .sql(sql)
        .await
        .map_err(|e| Error::config(file, format!("SQL does not plan: {e}")))?;
    if !tracing::enabled!(tracing::Level::TRACE) {
        return df.collect().await.map_err(|e| query_failed(file, e));
    }
    // At `trace`, each query's plan with what each operator did (as EXPLAIN ANALYZE).
    let task = std::sync::Arc::new(df.task_ctx());
    let plan = df
        .create_physical_plan()
        .await
        .map_err(|e| query_failed(file, e))?;
    let batches = datafusion::physical_plan::collect(plan.clone(), task)
        .await
        .map_err(|e| query_failed(file, e))?;
    let metrics = datafusion::physical_plan::display::DisplayableExecutionPlan::with_metrics(plan.as_ref())
        .indent(true)
        .to_string();
    tracing::trace!(file = %file.display(), "query ran:\n{metrics}");
    Ok(batches)
}

/// A query that failed while running: over the memory limit, say which setting to raise.
fn query_failed(file: &Path, e: datafusion::error::DataFusionError) -> Error {
    match e.find_root() {
        datafusion::error::DataFusionError::ResourcesExhausted(_) => Error::internal(format!(
            "{}: the query needs more memory than [compute] memory_limit allows; raise it \
             (sorts and aggregations spill to disk, joins cannot): {e}",
            file.display()
        )),
        _ => Error::internal(format!("{}: {e}", file.display())),
    }
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
            from: None,
            numerator: None,
            denominator: None,
            filter: None,
            params: Default::default(),
            gap: None,
            benchmark_sql: None,
            series_start: None,
            cohort: None,
            definition: String::new(),
            source: String::new(),
            rationale: String::new(),
            caveats: None,
            numerator_definition: String::new(),
            denominator_definition: String::new(),
        }
    }

    /// The shipped catalogue's indicators counted `from` one view share one
    /// query (one pass): the 21 school-readiness indicators, the 6 ASQ-3 ones, the 6
    /// health-visiting contacts by an age; every other indicator has its own, and
    /// none is left out.
    #[test]
    fn indicators_from_one_view_are_computed_in_one_query() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/indicators");
        let mut issues = Vec::new();
        let catalogue = crate::indicators::catalogue::load(&dir, &mut issues);
        assert!(issues.is_empty(), "{issues:?}");
        let council = Council {
            code: "E0".into(),
            name: "N".into(),
            region_code: "E1".into(),
            comparators: vec![],
        };
        let queries = queries(&catalogue, &dir, &council).unwrap();
        let sizes: Vec<(usize, &str)> = queries
            .iter()
            .filter(|q| q.indicators.len() > 1)
            .map(|q| (q.indicators.len(), q.indicators[0].id.as_str()))
            .collect();
        assert_eq!(sizes, [(21, "sr_gld"), (6, "hv_asq_all_five"), (6, "hv_nbv_14d")]);
        let counted: usize = queries.iter().map(|q| q.indicators.len()).sum();
        let non_gap = catalogue.iter().filter(|i| i.kind != Kind::Gap).count();
        assert_eq!(counted, non_gap);
        assert!(queries.iter().all(|q| q.sql.contains("GROUPING SETS")));
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

    #[test]
    fn only_a_view_one_query_reads_once_is_planned_into_it() {
        let ctx = SessionContext::new();
        let view = |name: &str, sql: &str| View {
            name: name.into(),
            file: PathBuf::from(format!("views/{name}.sql")),
            sql: sql.into(),
        };
        let views = [
            view("base", "SELECT 1 AS x"),
            // Read by another view: written, whatever reads it.
            view("built_on", "SELECT * FROM base"),
            // Read by one query, once.
            view("once", "SELECT 2 AS x"),
            // Read twice by one query, and by two queries.
            view("twice", "SELECT 3 AS x"),
            view("two_queries", "SELECT 4 AS x"),
            // Named only in a comment and a string: not read.
            view("unread", "SELECT 5 AS x"),
        ];
        let readers = [
            "-- unread\nSELECT x, 'unread' FROM once JOIN built_on USING (x)".to_string(),
            "SELECT * FROM twice UNION ALL SELECT * FROM twice".to_string(),
            "WITH t AS (SELECT * FROM two_queries) SELECT * FROM t".to_string(),
            "SELECT * FROM two_queries".to_string(),
        ];
        let mut got: Vec<String> = read_once(&ctx, &views, &readers).into_iter().collect();
        got.sort();
        assert_eq!(got, ["built_on", "once"]);
        // SQL that does not parse may read anything: every view is written.
        let unparsed = [readers[0].clone(), "SELECT FROM WHERE (".to_string()];
        assert!(read_once(&ctx, &views, &unparsed).is_empty());
    }

    /// A session with the startwell functions and two small tables: `t (k, x)`, `u (k)`.
    async fn two_tables() -> SessionContext {
        let ctx = SessionContext::new();
        super::super::udf::register(&ctx);
        ctx.sql("CREATE TABLE t (k VARCHAR, x BIGINT) AS VALUES ('a', 1), ('b', 2)")
            .await
            .unwrap();
        ctx.sql("CREATE TABLE u (k VARCHAR) AS VALUES ('a')")
            .await
            .unwrap();
        ctx
    }

    #[tokio::test]
    async fn only_a_view_that_projects_and_filters_one_table_is_never_written() {
        let ctx = two_tables().await;
        let cheap = |sql: &str| {
            let ctx = ctx.clone();
            let sql = sql.to_string();
            async move { projects_one_table(ctx.sql(&sql).await.unwrap().logical_plan()) }
        };
        assert!(cheap("SELECT k, CASE WHEN x > 1 THEN 1 ELSE 0 END AS big FROM t WHERE x IS NOT NULL").await);
        assert!(cheap("SELECT * FROM (SELECT k FROM t) s").await);
        for dear in [
            "SELECT k, COUNT(*) FROM t GROUP BY k",
            "SELECT DISTINCT k FROM t",
            "SELECT t.k FROM t JOIN u ON u.k = t.k",
            "SELECT k FROM t WHERE k IN (SELECT k FROM u)",
            "SELECT k, ROW_NUMBER() OVER (ORDER BY x) FROM t",
            "SELECT k FROM t ORDER BY x",
            "SELECT k FROM t UNION ALL SELECT k FROM u",
            "SELECT 1 AS x",
        ] {
            assert!(!cheap(dear).await, "{dear}");
        }
    }

    #[tokio::test]
    async fn only_a_view_in_parts_that_projects_and_filters_one_table_is_scattered() {
        let ctx = two_tables().await;
        // The part is read from the view's key128(key) column, or the key is added.
        let given = scattered(
            &ctx,
            "SELECT x, key128(k) AS child FROM t WHERE x > 0 AND (in_part(k))",
        )
        .await
        .expect("scattered");
        assert_eq!((given.column, given.added), (1, false));
        let added = scattered(&ctx, "SELECT x FROM t WHERE in_part(k) AND x > 0 AND x < 9")
            .await
            .expect("scattered");
        assert_eq!((added.column, added.added), (1, true));
        let sql = added.df.logical_plan().display_indent().to_string();
        assert!(!sql.contains("in_part"), "in_part left in the plan: {sql}");
        for not in [
            "SELECT x FROM t WHERE x > 0",
            "SELECT x FROM t WHERE in_part(k) OR x > 1",
            "SELECT x FROM t WHERE NOT in_part(k)",
            "SELECT x FROM t WHERE in_part(k) AND in_part(key128(k))",
            "SELECT x, in_part(k) AS p FROM t WHERE in_part(k)",
            "SELECT DISTINCT x FROM t WHERE in_part(k)",
            "SELECT k, COUNT(*) AS n FROM t WHERE in_part(k) GROUP BY k",
            "SELECT t.x FROM t JOIN u ON u.k = t.k WHERE in_part(t.k)",
            "SELECT x FROM t WHERE in_part(k) ORDER BY x",
            "SELECT x FROM t WHERE in_part(k) UNION ALL SELECT 1",
            "SELECT x FROM (SELECT x, k FROM t WHERE in_part(k)) s",
        ] {
            assert!(scattered(&ctx, not).await.is_none(), "{not}");
        }
    }

    #[tokio::test]
    async fn a_scattered_view_writes_each_row_once_to_its_keys_part() {
        use super::super::udf::in_part_udf;
        let ctx = SessionContext::new();
        super::super::udf::register(&ctx);
        // 500 keys (some null, some not hex) with a value each.
        let rows: Vec<String> = (0..500)
            .map(|i| match i % 50 {
                0 => format!("(NULL, {i})"),
                1 => format!("('not hex {i}', {i})"),
                _ => format!(
                    "('{:064x}', {i})",
                    (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
                ),
            })
            .collect();
        ctx.sql(&format!(
            "CREATE TABLE t (k VARCHAR, x BIGINT) AS VALUES {}",
            rows.join(", ")
        ))
        .await
        .unwrap();
        let scratch = tempfile::tempdir().unwrap();
        for (sql, columns) in [
            ("SELECT x FROM t WHERE x >= 0 AND in_part(k)", 1),
            ("SELECT key128(k) AS child, x FROM t WHERE in_part(k)", 2),
        ] {
            let view = View {
                name: format!("v{columns}"),
                file: PathBuf::from("v.sql"),
                sql: sql.to_string(),
            };
            let rows = scattered(&ctx, sql).await.expect("scattered");
            let parts = 3;
            let written = scatter(&ctx, &view, rows, scratch.path(), parts).await.unwrap();
            assert_eq!(
                written.schema.fields().len(),
                columns,
                "{sql}: the added key is not written"
            );
            let mut seen = Vec::new();
            for (part, files) in written.files.iter().enumerate() {
                assert!(!files.is_empty(), "every part has rows");
                ctx.register_udf(in_part_udf(part, parts));
                register_scratch(&ctx, "p", files, written.schema.clone()).unwrap();
                // Every row of the part's files is one in_part puts in that part.
                let b = ctx
                    .sql("SELECT p.x, in_part(t.k) AS here FROM p JOIN t ON t.x = p.x")
                    .await
                    .unwrap()
                    .collect()
                    .await
                    .unwrap();
                for b in &b {
                    let x = col_i64(b, "x").unwrap();
                    let here = b
                        .column_by_name("here")
                        .unwrap()
                        .as_any()
                        .downcast_ref::<datafusion::arrow::array::BooleanArray>()
                        .unwrap()
                        .clone();
                    for i in 0..b.num_rows() {
                        assert!(here.value(i), "{sql}: row {} is not in part {part}", x.value(i));
                        seen.push(x.value(i));
                    }
                }
                ctx.deregister_table("p").unwrap();
            }
            ctx.register_udf(in_part_udf(0, 1));
            seen.sort();
            assert_eq!(seen, (0..500).collect::<Vec<i64>>(), "{sql}: each row once");
            // The view is registered as all of its parts.
            let n = ctx
                .sql(&format!("SELECT COUNT(*) AS n FROM {}", view.name))
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            assert_eq!(col_i64(&n[0], "n").unwrap().value(0), 500);
        }
    }

    /// Scratch is read back as the view's schema (a batch giving text as `Utf8`
    /// where the view gives `Utf8View` is cast as it is written), with a new
    /// dictionary in each batch if need be, and its row count known to the planner.
    #[tokio::test]
    async fn scratch_reads_back_as_the_view_with_its_row_count() {
        use datafusion::arrow::array::DictionaryArray;
        use datafusion::arrow::datatypes::Int8Type;
        let dict = DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8));
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8View, true),
            Field::new("d", dict.clone(), true),
            Field::new("x", DataType::Int64, true),
        ]));
        let given = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("d", dict, true),
            Field::new("x", DataType::Int64, true),
        ]));
        let batch = |k: Vec<&str>, d: Vec<&str>, x: Vec<i64>| {
            RecordBatch::try_new(
                given.clone(),
                vec![
                    Arc::new(StringArray::from(k)) as Arc<dyn Array>,
                    Arc::new(d.into_iter().collect::<DictionaryArray<Int8Type>>()),
                    Arc::new(Int64Array::from(x)),
                ],
            )
            .unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let mut file = ScratchFile::create(&dir.path().join("v-0.arrow"), schema.clone()).unwrap();
        file.write(&batch(
            vec!["a long text value beyond twelve", "b"],
            vec!["p", "q"],
            vec![1, 2],
        ))
        .unwrap();
        // A slice of a batch, with a dictionary of its own.
        let second = batch(vec!["c", "d", "e"], vec!["r", "s", "r"], vec![3, 4, 5]).slice(1, 2);
        file.write(&second).unwrap();
        let written = file.finish().unwrap();
        assert_eq!(written.rows, 4);
        let ctx = SessionContext::new();
        register_scratch(&ctx, "v", &[written], schema.clone()).unwrap();
        let df = ctx
            .sql("SELECT k, CAST(d AS VARCHAR) AS d, x FROM v ORDER BY x")
            .await
            .unwrap();
        let b = datafusion::arrow::compute::concat_batches(
            &df.schema().as_arrow().clone().into(),
            &df.collect().await.unwrap(),
        )
        .unwrap();
        let text = |name: &str| -> Vec<String> {
            let c = cast(b.column_by_name(name).unwrap(), &DataType::Utf8).unwrap();
            let c = c.as_any().downcast_ref::<StringArray>().unwrap();
            (0..c.len()).map(|i| c.value(i).to_string()).collect()
        };
        assert_eq!(text("k"), ["a long text value beyond twelve", "b", "d", "e"]);
        assert_eq!(text("d"), ["p", "q", "s", "r"]);
        assert_eq!(col_i64(&b, "x").unwrap().values().to_vec(), [1, 2, 4, 5]);
        let table = ctx.table("v").await.unwrap();
        assert_eq!(
            table.schema().as_arrow().field(0).data_type(),
            &DataType::Utf8View
        );
        let plan = table.create_physical_plan().await.unwrap();
        let stats = datafusion::physical_plan::statistics::StatisticsContext::new()
            .compute(
                plan.as_ref(),
                &datafusion::physical_plan::statistics::StatisticsArgs::new(),
            )
            .unwrap();
        assert_eq!(stats.num_rows, datafusion::common::stats::Precision::Exact(4));
    }

    /// A view's scratch files are removed once every view that reads it is
    /// written; a view a query reads keeps its files.
    #[tokio::test]
    async fn scratch_nothing_still_reads_is_removed() {
        let ctx = SessionContext::new();
        ctx.sql("CREATE TABLE t (k VARCHAR, x BIGINT) AS VALUES ('a', 1), ('b', 2), ('a', 3)")
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("views")).unwrap();
        for (name, sql) in [
            ("v1", "SELECT k, COUNT(*) AS n FROM t GROUP BY k"),
            ("v2", "SELECT n, COUNT(*) AS m FROM v1 GROUP BY n"),
            ("v3", "SELECT k, SUM(x) AS s FROM t GROUP BY k"),
        ] {
            std::fs::write(dir.path().join("views").join(format!("{name}.sql")), sql).unwrap();
        }
        let council = Council {
            code: "E0".into(),
            name: "N".into(),
            region_code: "E1".into(),
            comparators: vec![],
        };
        let scratch = tempfile::tempdir().unwrap();
        // Each read twice, so that none is planned into its one reader.
        let readers = [
            "SELECT * FROM v2",
            "SELECT m FROM v2",
            "SELECT * FROM v3",
            "SELECT s FROM v3",
        ]
        .map(String::from);
        materialise_views(&ctx, dir.path(), &council, scratch.path(), &readers, 1_000_000)
            .await
            .unwrap();
        let left: Vec<String> = std::fs::read_dir(scratch.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert!(
            !left.iter().any(|f| f.starts_with("v1-")),
            "v1 is spent: {left:?}"
        );
        assert!(
            left.iter().any(|f| f.starts_with("v2-")),
            "a query reads v2: {left:?}"
        );
        assert!(
            left.iter().any(|f| f.starts_with("v3-")),
            "a query reads v3: {left:?}"
        );
        let b = ctx
            .sql("SELECT m FROM v2")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    }
}
