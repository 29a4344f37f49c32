//! Targets: has an indicator moved the way the strategy promised since its
//! baseline, is the move more than noise, and is the council on course for the
//! year it promised? `[[target]]` entries in `startwell.toml`, evaluated after
//! every scorecard from the **published** (disclosure-controlled) council rows
//! only, written to `outputs/targets.parquet` and `.csv`.
//!
//! - The change since the baseline has a 95% interval: Newcombe's for two
//!   proportions (from the published counts), MOVER over the two published
//!   intervals for anything else (a gap, a mean).
//! - Direction aims (`narrow`, `reduce`, `increase`) are met when the change at the
//!   `by` period is significant and in the aim's direction; before then they are
//!   on course while the change so far points the right way.
//! - `value` aims draw a straight line from the baseline value to the target at
//!   `by`; the latest value is `ahead`, `on_course` (its 95% interval holds the
//!   line) or `behind`, and the target is met when the value at `by` reaches it.
//! - `benchmark` aims: the latest comparison with England (by polarity) decides;
//!   `similar` counts as "at" England.
//!
//! A baseline or latest value that is suppressed or missing makes the target
//! `not_assessable`, and then no figure at all is given for it: every number in
//! the output is a published figure or computed from two of them.

use std::path::Path;
use std::sync::Arc;

use super::catalogue::{Indicator, Kind};
use super::periods;
use super::row::{AreaType, Row};
use crate::config::{Aim, TargetSpec};
use crate::error::{ConfigIssue, Error, Result};
use crate::stats::{self, Comparison, Interval, Polarity, Z95};
use crate::storage::Storage;
use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Met,
    NotMet,
    OnCourse,
    OffCourse,
    TooEarly,
    NotAssessable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::NotMet => "not_met",
            Status::OnCourse => "on_course",
            Status::OffCourse => "off_course",
            Status::TooEarly => "too_early",
            Status::NotAssessable => "not_assessable",
        }
    }
}

/// Every mistake in the targets, each naming its entry (`[[target]] 2 (name)`).
pub fn check(targets: &[TargetSpec], catalogue: &[Indicator], file: &Path) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (i, t) in targets.iter().enumerate() {
        let mut issue = |m: String| {
            issues.push(ConfigIssue {
                file: file.to_path_buf(),
                message: format!("[[target]] {} ({}): {m}", i + 1, t.label()),
            })
        };
        if !names.insert(t.label()) {
            issue("another target has the same name; give each a `name`".into());
        }
        let Some(ind) = catalogue.iter().find(|c| c.id == t.indicator) else {
            issue(format!("no indicator `{}` in the catalogue", t.indicator));
            continue;
        };
        match (&t.breakdown, &t.breakdown_value) {
            (Some(b), Some(_)) => {
                if !ind.breakdowns.iter().any(|x| ind.breakdown_name(*x) == *b) {
                    let known: Vec<String> = ind.breakdowns.iter().map(|x| ind.breakdown_name(*x)).collect();
                    issue(format!(
                        "`{}` has no breakdown `{b}` (it has: {})",
                        ind.id,
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    ));
                }
            }
            (None, None) => {}
            _ => issue("give `breakdown` and `breakdown_value` together (e.g. \"sex\" and \"Boys\")".into()),
        }
        let example = match ind.period_type {
            super::catalogue::PeriodType::AcademicYear => "2023/24",
            super::catalogue::PeriodType::FinancialQuarter => "2024/25 Q1",
            super::catalogue::PeriodType::Term => "Spring 2025",
        };
        let baseline = periods::from_label(ind.period_type, &t.baseline);
        let by = periods::from_label(ind.period_type, &t.by);
        for (key, value, p) in [("baseline", &t.baseline, &baseline), ("by", &t.by, &by)] {
            if p.is_none() {
                issue(format!(
                    "{key} \"{value}\" is not a period of `{}` (periods look like \"{example}\")",
                    ind.id
                ));
            }
        }
        if let (Some(b), Some(y)) = (&baseline, &by)
            && y.ordinal <= b.ordinal
        {
            issue(format!(
                "`by` ({}) must come after the baseline ({})",
                t.by, t.baseline
            ));
        }
        match (t.aim, t.value) {
            (Aim::Value, None) => issue("aim \"value\" needs `value`, the figure to reach".into()),
            (Aim::Value, Some(v)) if !v.is_finite() => issue("`value` must be a number".into()),
            (Aim::Value, Some(_)) => {}
            (_, Some(_)) => issue("`value` is only for aim \"value\"".into()),
            (_, None) => {}
        }
        if t.aim == Aim::Narrow && ind.kind != Kind::Gap {
            issue(format!(
                "aim \"narrow\" is for gaps; `{}` is not one (use \"reduce\" or \"increase\")",
                ind.id
            ));
        }
        if t.aim == Aim::Benchmark && ind.polarity == Polarity::NotApplicable {
            issue(format!(
                "aim \"benchmark\" needs a polarity, to know which side of England is better; `{}` has none",
                ind.id
            ));
        }
    }
    issues
}

/// What a target comes to in one run: one row of `outputs/targets.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRow {
    pub target: String,
    pub indicator_id: String,
    pub indicator_name: String,
    pub breakdown: String,
    pub breakdown_value: String,
    pub aim: Aim,
    pub target_value: Option<f64>,
    /// The unit of the values (`percent`, `percentage_points`, `mean`, `count`).
    pub unit: String,
    pub baseline_period: String,
    pub baseline_value: Option<f64>,
    pub by_period: String,
    pub latest_period: Option<String>,
    pub latest_value: Option<f64>,
    /// Latest minus baseline, in `change_unit`, with its 95% interval.
    pub change: Option<f64>,
    pub change_lower_95: Option<f64>,
    pub change_upper_95: Option<f64>,
    pub change_unit: String,
    /// The interval of the change excludes zero.
    pub significant: Option<bool>,
    /// `narrowed`, `widened`, `increased`, `decreased` (significant changes) or
    /// `no_significant_change`; null when not assessable.
    pub change_direction: Option<String>,
    /// For `value` aims: the straight line's value at the latest period, and
    /// where the latest value stands against it.
    pub trajectory_value: Option<f64>,
    pub trajectory: Option<String>,
    /// The latest period's comparison with England (as published).
    pub comparison: Option<String>,
    pub status: Status,
    /// The row in one sentence.
    pub wording: String,
}

/// The council's own published row of `spec`'s indicator and breakdown in each period.
fn own_rows<'a>(spec: &TargetSpec, rows: &'a [Row], council_code: &str) -> Vec<&'a Row> {
    let (b, v) = spec.breakdown();
    let mut own: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.indicator_id == spec.indicator
                && r.area_type == AreaType::LocalAuthority
                && r.area_code == council_code
                && r.breakdown == b
                && r.breakdown_value == v
        })
        .collect();
    own.sort_by_key(|r| r.period_start);
    own
}

fn withheld(r: &Row) -> &'static str {
    match r.status_symbol.as_deref() {
        Some("c") => "suppressed (c)",
        _ => "not available (x)",
    }
}

/// Evaluate every target against the published rows.
pub fn evaluate_all(
    targets: &[TargetSpec],
    catalogue: &[Indicator],
    rows: &[Row],
    council_code: &str,
) -> Vec<TargetRow> {
    targets
        .iter()
        .filter_map(|t| {
            let ind = catalogue.iter().find(|c| c.id == t.indicator)?;
            Some(evaluate(t, ind, rows, council_code))
        })
        .collect()
}

impl TargetRow {
    /// The target's row before anything is assessed: `not_assessable`, no figures.
    fn unassessed(spec: &TargetSpec, ind: &Indicator) -> TargetRow {
        let (breakdown, breakdown_value) = spec.breakdown();
        let unit = ind.kind.unit();
        TargetRow {
            target: spec.label(),
            indicator_id: ind.id.clone(),
            indicator_name: ind.name.clone(),
            breakdown: breakdown.into(),
            breakdown_value: breakdown_value.into(),
            aim: spec.aim,
            target_value: spec.value,
            unit: unit.as_str().to_string(),
            baseline_period: spec.baseline.clone(),
            baseline_value: None,
            by_period: spec.by.clone(),
            latest_period: None,
            latest_value: None,
            change: None,
            change_lower_95: None,
            change_upper_95: None,
            change_unit: unit.of_change().as_str().to_string(),
            significant: None,
            change_direction: None,
            trajectory_value: None,
            trajectory: None,
            comparison: None,
            status: Status::NotAssessable,
            wording: String::new(),
        }
    }
}

/// One target against the published rows (see the module's documentation).
pub fn evaluate(spec: &TargetSpec, ind: &Indicator, rows: &[Row], council_code: &str) -> TargetRow {
    let mut out = TargetRow::unassessed(spec, ind);
    let unit = ind.kind.unit();
    let (Some(base_p), Some(by_p)) = (
        periods::from_label(ind.period_type, &spec.baseline),
        periods::from_label(ind.period_type, &spec.by),
    ) else {
        out.wording = "the baseline or `by` period is not a period of this indicator".into();
        return out;
    };
    let own = own_rows(spec, rows, council_code);
    let Some(base) = own.iter().find(|r| r.period == base_p.label) else {
        out.wording = format!(
            "not assessable: nothing is published for the baseline, {}",
            spec.baseline
        );
        return out;
    };
    let Some(base_value) = base.value else {
        out.wording = format!(
            "not assessable: the baseline, {}, is {}",
            spec.baseline,
            withheld(base)
        );
        return out;
    };
    let latest = own
        .iter()
        .filter(|r| r.period_start > base.period_start && r.period_start <= by_p.start)
        .max_by_key(|r| r.period_start);
    let Some(latest) = latest else {
        out.status = Status::TooEarly;
        out.baseline_value = Some(base_value);
        out.wording = format!(
            "too early: no period after the baseline ({}) is published yet",
            spec.baseline
        );
        return out;
    };
    out.latest_period = Some(latest.period.clone());
    let Some(latest_value) = latest.value else {
        out.wording = format!(
            "not assessable: the latest period, {}, is {}",
            latest.period,
            withheld(latest)
        );
        return out;
    };
    out.baseline_value = Some(base_value);
    out.latest_value = Some(latest_value);
    out.comparison = Some(latest.comparison.as_str().to_string());

    let change = change_since(ind, base, latest, base_value, latest_value);
    let d = latest_value - base_value;
    out.change = Some(d);
    if let Some(ci) = change {
        out.change_lower_95 = Some(ci.lower);
        out.change_upper_95 = Some(ci.upper);
        out.significant = Some(ci.lower > 0.0 || ci.upper < 0.0);
    }
    out.change_direction = Some(direction(spec.aim, base_value, d, out.significant).to_string());
    let seen = Seen {
        spec,
        base_value,
        latest,
        latest_value,
        at_by: latest.period == by_p.label,
        unit: unit.suffix(),
        wanted: wanted(spec, ind.polarity, base_value),
    };
    let assessed = match spec.aim {
        Aim::Narrow | Aim::Reduce | Aim::Increase => Some(seen.direction_aim(d, out.significant)),
        Aim::Value => {
            let steps = (by_p.ordinal - base_p.ordinal) as f64;
            let done = periods::from_label(ind.period_type, &latest.period)
                .map_or(steps, |p| (p.ordinal - base_p.ordinal) as f64);
            let (status, text, line, trajectory) = seen.value_aim(done / steps);
            out.trajectory_value = Some(line);
            out.trajectory = Some(trajectory.to_string());
            Some((status, text))
        }
        Aim::Benchmark => seen.benchmark_aim(),
    };
    let Some((status, assessment)) = assessed else {
        return TargetRow {
            wording: format!("not assessable: no comparison with England in {}", latest.period),
            baseline_value: None,
            latest_value: None,
            change: None,
            change_lower_95: None,
            change_upper_95: None,
            significant: None,
            change_direction: None,
            ..out
        };
    };
    out.status = status;
    out.wording = format!(
        "{} {latest_value:.1}{su} against {} {base_value:.1}{su}: {}; {assessment}",
        latest.period,
        spec.baseline,
        change_text(spec.aim, base_value, d, change, unit.of_change().suffix()),
        su = seen.unit,
    );
    out
}

/// The way the aim wants the value to move: +1 up, −1 down (0: either).
fn wanted(spec: &TargetSpec, polarity: Polarity, base_value: f64) -> f64 {
    match spec.aim {
        Aim::Narrow => -base_value.signum(),
        Aim::Reduce => -1.0,
        Aim::Increase => 1.0,
        Aim::Value => {
            let to = spec.value.unwrap_or(base_value) - base_value;
            if to != 0.0 {
                to.signum()
            } else {
                polarity_sign(polarity)
            }
        }
        Aim::Benchmark => polarity_sign(polarity),
    }
}

/// A target with a baseline and a latest value, both published.
struct Seen<'a> {
    spec: &'a TargetSpec,
    base_value: f64,
    latest: &'a Row,
    latest_value: f64,
    /// The latest period is the `by` period.
    at_by: bool,
    /// The values' unit, as written after a number.
    unit: &'static str,
    wanted: f64,
}

impl Seen<'_> {
    /// `narrow`, `reduce`, `increase`: met by a significant change the aim's way.
    fn direction_aim(&self, d: f64, significant: Option<bool>) -> (Status, String) {
        let good = d * self.wanted > 0.0;
        let by = &self.spec.by;
        match (self.at_by, good) {
            (true, true) if significant == Some(true) => (Status::Met, format!("met in {by}")),
            (true, _) => (
                Status::NotMet,
                format!("not met in {by}: no significant change the way the aim wants"),
            ),
            (false, true) => (
                Status::OnCourse,
                format!("on course for {by} (moving the way the aim wants)"),
            ),
            (false, false) => (
                Status::OffCourse,
                format!("off course for {by} (not moving the way the aim wants)"),
            ),
        }
    }

    /// `value`: the straight line from the baseline to the target, `share` of the
    /// way along at the latest period. Returns the status, its wording, the line's
    /// value and where the latest value stands against it.
    fn value_aim(&self, share: f64) -> (Status, String, f64, &'static str) {
        let (su, by, latest) = (self.unit, &self.spec.by, self.latest);
        let target = self.spec.value.unwrap_or(self.base_value);
        let line = self.base_value + (target - self.base_value) * share;
        let (lo, hi) = match (latest.lower_95, latest.upper_95) {
            (Some(l), Some(u)) => (l, u),
            _ => (self.latest_value, self.latest_value),
        };
        let trajectory = if (lo..=hi).contains(&line) {
            "on_course"
        } else if (self.wanted > 0.0 && lo > line) || (self.wanted < 0.0 && hi < line) {
            "ahead"
        } else {
            "behind"
        };
        let line_text = format!(
            "the line from the baseline to {target:.1}{su} in {by} stands at {line:.1}{su} in {}",
            latest.period
        );
        let reached = (self.latest_value - target) * self.wanted >= 0.0;
        let (status, text) = match (self.at_by, reached, trajectory) {
            (true, true, _) => (Status::Met, format!("met in {by}: {target:.1}{su} reached")),
            (true, false, _) => (
                Status::NotMet,
                format!("not met in {by}: {target:.1}{su} not reached"),
            ),
            (false, _, "behind") => (
                Status::OffCourse,
                format!("off course ({line_text}; the value is behind it)"),
            ),
            (false, _, "ahead") => (
                Status::OnCourse,
                format!("on course ({line_text}; the value is ahead of it)"),
            ),
            (false, _, _) => (
                Status::OnCourse,
                format!("on course ({line_text}; the value is on it, within its 95% interval)"),
            ),
        };
        (status, text, line, trajectory)
    }

    /// `benchmark`: the latest comparison with England; `None` when there is none.
    fn benchmark_aim(&self) -> Option<(Status, String)> {
        let latest = self.latest;
        let c = latest.comparison;
        let england = latest
            .benchmark_value
            .map(|b| format!("England {b:.1}{}, ", self.unit))
            .unwrap_or_default();
        let not_worse = c.is_better() || c == Comparison::Similar;
        let worse = c.is_worse();
        if !(not_worse || worse) {
            return None;
        }
        let (status, word) = match (self.at_by, not_worse) {
            (true, true) => (Status::Met, "met: at or better than"),
            (false, true) => (Status::OnCourse, "on course: at or better than"),
            (true, false) => (Status::NotMet, "not met: worse than"),
            (false, false) => (Status::OffCourse, "off course: worse than"),
        };
        Some((
            status,
            format!("{word} England in {} ({england}{})", latest.period, c.wording()),
        ))
    }
}

/// The change in words: which way and how far, its interval, and whether it is
/// significant.
fn change_text(aim: Aim, base_value: f64, d: f64, change: Option<Interval>, unit: &str) -> String {
    let moved = if d == 0.0 {
        "unchanged".to_string()
    } else {
        let word = match aim {
            Aim::Narrow if d * base_value.signum() < 0.0 => "narrowed",
            Aim::Narrow => "widened",
            _ if d > 0.0 => "increased",
            _ => "decreased",
        };
        format!("{word} by {:.1}{unit}", d.abs())
    };
    match change {
        Some(ci) => {
            let verdict = if ci.lower > 0.0 || ci.upper < 0.0 {
                "a significant change"
            } else {
                "no significant change"
            };
            format!(
                "{moved} (95% interval of the change {:.1} to {:.1}): {verdict}",
                ci.lower, ci.upper
            )
        }
        None => format!("{moved} (no interval to judge the change by)"),
    }
}

fn polarity_sign(p: Polarity) -> f64 {
    match p {
        Polarity::HigherIsBetter => 1.0,
        Polarity::LowerIsBetter => -1.0,
        Polarity::NotApplicable => 0.0,
    }
}

/// The change's wording: a significant change's direction (for a gap, relative to
/// zero), or `no_significant_change`.
fn direction(aim: Aim, base: f64, d: f64, significant: Option<bool>) -> &'static str {
    if significant != Some(true) {
        return "no_significant_change";
    }
    if aim == Aim::Narrow {
        if d * base.signum() < 0.0 {
            "narrowed"
        } else {
            "widened"
        }
    } else if d > 0.0 {
        "increased"
    } else {
        "decreased"
    }
}

/// The 95% interval of latest − baseline: Newcombe's from the counts for a
/// proportion, MOVER over the two published intervals otherwise; none for a
/// count (no interval published).
fn change_since(ind: &Indicator, base: &Row, latest: &Row, b: f64, l: f64) -> Option<Interval> {
    if ind.kind == Kind::Proportion
        && let (Some(xl), Some(nl), Some(xb), Some(nb)) = (
            latest.numerator,
            latest.denominator,
            base.numerator,
            base.denominator,
        )
        && let Ok(ci) = stats::newcombe(xl as f64, nl as f64, xb as f64, nb as f64, Z95)
    {
        return Some(Interval {
            lower: 100.0 * ci.lower,
            upper: 100.0 * ci.upper,
        });
    }
    let (Some(ll), Some(lu), Some(bl), Some(bu)) =
        (latest.lower_95, latest.upper_95, base.lower_95, base.upper_95)
    else {
        return None;
    };
    Some(stats::mover(
        l,
        Interval { lower: ll, upper: lu },
        b,
        Interval { lower: bl, upper: bu },
    ))
}

/// The columns of `outputs/targets.parquet`.
pub fn schema() -> Arc<Schema> {
    let s = |n: &str, nullable: bool| Field::new(n, DataType::Utf8, nullable);
    let f = |n: &str| Field::new(n, DataType::Float64, true);
    Arc::new(Schema::new(vec![
        s("target", false),
        s("indicator_id", false),
        s("indicator_name", false),
        s("breakdown", false),
        s("breakdown_value", false),
        s("aim", false),
        f("target_value"),
        s("unit", false),
        s("baseline_period", false),
        f("baseline_value"),
        s("by_period", false),
        s("latest_period", true),
        f("latest_value"),
        f("change"),
        f("change_lower_95"),
        f("change_upper_95"),
        s("change_unit", false),
        Field::new("significant", DataType::Boolean, true),
        s("change_direction", true),
        f("trajectory_value"),
        s("trajectory", true),
        s("comparison", true),
        s("status", false),
        s("wording", false),
        s("run_id", false),
    ]))
}

pub fn to_batch(rows: &[TargetRow], run_id: &str) -> Result<RecordBatch> {
    fn text<'a>(rows: &'a [TargetRow], f: impl Fn(&'a TargetRow) -> &'a str) -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    }
    fn opt_text<'a>(rows: &'a [TargetRow], f: impl Fn(&'a TargetRow) -> Option<&'a str>) -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<StringArray>())
    }
    fn num(rows: &[TargetRow], f: impl Fn(&TargetRow) -> Option<f64>) -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<Float64Array>())
    }
    let cols: Vec<ArrayRef> = vec![
        text(rows, |r| &r.target),
        text(rows, |r| &r.indicator_id),
        text(rows, |r| &r.indicator_name),
        text(rows, |r| &r.breakdown),
        text(rows, |r| &r.breakdown_value),
        text(rows, |r| r.aim.as_str()),
        num(rows, |r| r.target_value),
        text(rows, |r| &r.unit),
        text(rows, |r| &r.baseline_period),
        num(rows, |r| r.baseline_value),
        text(rows, |r| &r.by_period),
        opt_text(rows, |r| r.latest_period.as_deref()),
        num(rows, |r| r.latest_value),
        num(rows, |r| r.change),
        num(rows, |r| r.change_lower_95),
        num(rows, |r| r.change_upper_95),
        text(rows, |r| &r.change_unit),
        Arc::new(rows.iter().map(|r| r.significant).collect::<BooleanArray>()),
        opt_text(rows, |r| r.change_direction.as_deref()),
        num(rows, |r| r.trajectory_value),
        opt_text(rows, |r| r.trajectory.as_deref()),
        opt_text(rows, |r| r.comparison.as_deref()),
        text(rows, |r| r.status.as_str()),
        text(rows, |r| &r.wording),
        text(rows, |_| run_id),
    ];
    RecordBatch::try_new(schema(), cols).map_err(Error::internal)
}

/// `outputs/targets.parquet` and `outputs/targets.csv`, each one whole-object put.
pub async fn publish(storage: &Storage, rows: &[TargetRow], run_id: &str, csv_bom: bool) -> Result<()> {
    super::publish::write_outputs(storage, "targets", &to_batch(rows, run_id)?, csv_bom).await
}

/// The demo's "Targets" section: each target's status, then what it rests on.
pub fn summary(rows: &[TargetRow]) -> String {
    let mut out =
        String::from("Targets (the change since the baseline, its 95% interval, and the status):\n");
    for r in rows {
        out.push_str(&format!(
            "  {} ({} by {}): {}\n      {}\n",
            r.target,
            r.aim.as_str(),
            r.by_period,
            r.status.as_str().replace('_', " "),
            r.wording
        ));
    }
    out
}
