//! The outputs people read, from the published (disclosure-controlled) rows
//! only: `outputs/scorecard.xlsx` (the workbook analysts forward) and
//! `outputs/scorecard.html` (the report). Both show the same overview, chosen
//! here once: for each indicator, the council's latest period.

pub mod html;
pub mod xlsx;

use std::collections::BTreeMap;

use super::catalogue::{Domain, Indicator};
use super::metadata::Metadata;
use super::periods;
use super::row::{AreaType, Council, Row, Unit};
use crate::error::Result;
use crate::storage::Storage;

/// `outputs/scorecard.xlsx` and `outputs/scorecard.html`, each one whole-object put.
pub async fn publish(storage: &Storage, inputs: &Inputs<'_>) -> Result<()> {
    storage
        .put("outputs/scorecard.xlsx", xlsx::workbook(inputs)?.into())
        .await?;
    storage
        .put("outputs/scorecard.html", html::page(inputs).into_bytes().into())
        .await
}

/// What a report is made from.
pub struct Inputs<'a> {
    pub rows: &'a [Row],
    /// Every other council's public figures (for the spine charts).
    pub spread: &'a [Row],
    pub catalogue: &'a [Indicator],
    pub council: &'a Council,
    pub metadata: &'a [Metadata],
    pub targets: &'a [super::targets::TargetRow],
    pub run_id: &'a str,
    /// The disclosure rule in words.
    pub disclosure: String,
}

/// One indicator's line of the overview.
pub struct Overview<'a> {
    pub indicator: &'a Indicator,
    /// The council's row for the latest period (breakdown `all`).
    pub latest: &'a Row,
    /// The council's rows, oldest first (breakdown `all`).
    pub series: Vec<&'a Row>,
}

pub const DOMAINS: [Domain; 4] = [
    Domain::SchoolReadiness,
    Domain::Childcare,
    Domain::HealthVisiting,
    Domain::Linked,
];

pub fn domain_title(d: Domain) -> &'static str {
    match d {
        Domain::SchoolReadiness => "School readiness",
        Domain::Childcare => "Childcare",
        Domain::HealthVisiting => "Health visiting",
        Domain::Linked => "Linked: children followed across sources",
    }
}

/// The council's rows of one indicator and breakdown value, oldest first.
pub fn council_series<'a>(
    rows: &'a [Row],
    ind: &Indicator,
    council: &Council,
    breakdown: &str,
    value: &str,
) -> Vec<&'a Row> {
    let mut s: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.indicator_id == ind.id
                && r.area_type == AreaType::LocalAuthority
                && r.area_code == council.code
                && r.breakdown == breakdown
                && r.breakdown_value == value
        })
        .collect();
    s.sort_by_key(|r| periods::info(ind.period_type, &r.period_key).map(|p| p.ordinal));
    s
}

/// For each indicator (catalogue order) with council rows: its latest period.
pub fn overview<'a>(rows: &'a [Row], catalogue: &'a [Indicator], council: &Council) -> Vec<Overview<'a>> {
    catalogue
        .iter()
        .filter_map(|ind| {
            let series = council_series(rows, ind, council, super::row::ALL, "All");
            let latest = *series.last()?;
            Some(Overview {
                indicator: ind,
                latest,
                series,
            })
        })
        .collect()
}

/// A value for people: `65.4%`, `21.6 pp`, `16.3`, `1,204`; or what the symbol means.
pub fn value_text(r: &Row) -> String {
    match r.value {
        Some(v) if r.unit == Unit::Count => thousands(v.round() as i64),
        Some(v) => format!("{v:.1}{}", r.unit.suffix()),
        None => symbol_text(r.status_symbol.as_deref()).to_string(),
    }
}

pub fn interval_text(r: &Row) -> String {
    match (r.lower_95, r.upper_95) {
        (Some(l), Some(u)) => format!("{l:.1} to {u:.1}"),
        _ => String::new(),
    }
}

pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// What a status symbol means, in a few words.
pub fn symbol_text(symbol: Option<&str>) -> &'static str {
    match symbol {
        Some("c") => "c (suppressed)",
        Some("x") => "x (not available)",
        Some("z") => "z (not applicable)",
        Some("u") => "u (low reliability)",
        Some("low") => "low (rounds to 0)",
        Some(_) => "(symbol)",
        None => "",
    }
}

/// The symbols, for the notes of every output.
pub const SYMBOLS: [(&str, &str); 5] = [
    (
        "c",
        "Suppressed to protect confidentiality: a count from 1 to the threshold, or a cell that would reveal one.",
    ),
    (
        "x",
        "Not available: no data, or the extracts do not cover the whole cohort.",
    ),
    (
        "z",
        "Not applicable: the figure does not apply (e.g. no interval for a count).",
    ),
    ("u", "Low reliability (in the public files)."),
    ("low", "Rounds to zero but is not zero (in the public files)."),
];

/// A trend label in words: `increasing_getting_better` → "Increasing and getting better".
pub fn trend_text(trend: &str) -> String {
    let words = trend.replace('_', " ");
    let words = words
        .replace("increasing getting", "increasing, getting")
        .replace("decreasing getting", "decreasing, getting");
    let mut c = words.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The breakdowns of an indicator's latest period for the council: breakdown →
/// its values' rows, in the order the engine published them.
pub fn breakdowns<'a>(
    rows: &'a [Row],
    o: &Overview<'_>,
    council: &Council,
) -> BTreeMap<String, Vec<&'a Row>> {
    let mut out: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for r in rows.iter().filter(|r| {
        r.indicator_id == o.indicator.id
            && r.period_key == o.latest.period_key
            && r.area_type == AreaType::LocalAuthority
            && r.area_code == council.code
            && !r.is_total()
    }) {
        out.entry(r.breakdown.clone()).or_default().push(r);
    }
    out
}

/// The council among all councils for one indicator and period (the public
/// files hold every council): the spread of the others' values, England, and
/// the council's rank (1 = best by polarity; by highest value when the
/// indicator has none) among all councils and among its comparators.
#[derive(Debug, Clone, PartialEq)]
pub struct Spine {
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub max: f64,
    pub england: Option<f64>,
    pub council: f64,
    pub rank: usize,
    pub councils: usize,
    pub comparator_rank: usize,
    pub comparators: usize,
}

/// The quantile `p` of sorted values, interpolated linearly (R's type 7).
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// At least this many other councils make a spread worth drawing.
const MIN_COUNCILS: usize = 10;

/// The council's latest period that every council's figures are published for
/// (the public files can lag the council's own data), with its spine.
pub fn spine<'a>(
    o: &Overview<'a>,
    spread: &[Row],
    rows: &[Row],
    council: &Council,
) -> Option<(&'a Row, Spine)> {
    o.series
        .iter()
        .rev()
        .find_map(|r| Some((*r, spine_at(o.indicator, r, spread, rows, council)?)))
}

fn spine_at(ind: &Indicator, own: &Row, spread: &[Row], rows: &[Row], council: &Council) -> Option<Spine> {
    let value = own.value?;
    let same = |r: &&Row| {
        r.indicator_id == ind.id && r.period_key == own.period_key && r.is_total() && r.value.is_some()
    };
    let others: Vec<f64> = spread.iter().filter(same).filter_map(|r| r.value).collect();
    if others.len() < MIN_COUNCILS {
        return None;
    }
    let comparators: Vec<f64> = rows
        .iter()
        .filter(same)
        .filter(|r| r.area_type == AreaType::LocalAuthority && council.comparators.contains(&r.area_code))
        .filter_map(|r| r.value)
        .collect();
    let england = rows
        .iter()
        .filter(same)
        .find(|r| r.area_type == AreaType::England)
        .and_then(|r| r.value);
    let lower_is_better = ind.polarity == crate::stats::Polarity::LowerIsBetter;
    let better = |v: &f64| if lower_is_better { *v < value } else { *v > value };
    let mut all: Vec<f64> = others.iter().chain(&comparators).copied().collect();
    all.sort_by(f64::total_cmp);
    Some(Spine {
        min: all[0],
        q1: quantile(&all, 0.25),
        median: quantile(&all, 0.5),
        q3: quantile(&all, 0.75),
        max: all[all.len() - 1],
        england,
        council: value,
        rank: 1 + all.iter().filter(|v| better(v)).count(),
        councils: all.len() + 1,
        comparator_rank: 1 + comparators.iter().filter(|v| better(v)).count(),
        comparators: comparators.len() + 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_words() {
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(-1234567), "-1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(
            trend_text("increasing_getting_better"),
            "Increasing, getting better"
        );
        assert_eq!(trend_text("no_significant_change"), "No significant change");
    }

    /// R: quantile(c(1, 2, 4, 8, 16), c(.25, .5, .75)) = 2, 4, 8; quantile(1:4, .25) = 1.75.
    #[test]
    fn quantiles_as_r_type_7() {
        let v = [1.0, 2.0, 4.0, 8.0, 16.0];
        assert_eq!(
            [quantile(&v, 0.25), quantile(&v, 0.5), quantile(&v, 0.75)],
            [2.0, 4.0, 8.0]
        );
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.25), 1.75);
        assert_eq!(quantile(&[5.0], 0.5), 5.0);
    }
}
