//! Age cohorts the extracts must see whole.
//!
//! A health-visiting indicator's denominator is the children who reached an age in
//! the quarter (30 days, 8 weeks, 12 or 15 months, 2½ years), and a child is known
//! only from contacts inside the extracts. A quarter whose children were born
//! before the first extract began is missing the children who were seen only then
//! (and the visits made then), so its figure is biased, often towards 100%. Such a
//! quarter is published as `x` (not available), with a note saying why; the trend
//! test, which needs five consecutive counted points, never spans it.
//!
//! Coverage is derived from the periods ingested into the cohort's table: a
//! quarter is observable when every period from the earliest birth in its cohort
//! (its first day minus the age) to its last day was delivered.

use chrono::NaiveDate;

use super::catalogue::{CohortSpec, PeriodType};
use super::periods;
use super::row::{Council, Row, is_own};

/// The days an extract covers: the ingested periods, adjacent ones merged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Coverage {
    spans: Vec<(NaiveDate, NaiveDate)>,
}

impl Coverage {
    /// From a table's period keys (`2024-25-Q1`, `2024-25`, `2024-autumn`).
    pub fn from_periods<'a>(keys: impl IntoIterator<Item = &'a str>) -> Coverage {
        let mut spans: Vec<(NaiveDate, NaiveDate)> = keys
            .into_iter()
            .filter_map(|k| {
                [
                    PeriodType::FinancialQuarter,
                    PeriodType::AcademicYear,
                    PeriodType::Term,
                ]
                .into_iter()
                .find_map(|t| periods::info(t, k))
                .map(|p| (p.start, p.end))
            })
            .collect();
        spans.sort();
        let mut merged: Vec<(NaiveDate, NaiveDate)> = Vec::new();
        for (s, e) in spans {
            match merged.last_mut() {
                Some(last) if s <= last.1 + chrono::Duration::days(1) => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        Coverage { spans: merged }
    }

    /// Whether every day from `from` to `to` is covered.
    pub fn covers(&self, from: NaiveDate, to: NaiveDate) -> bool {
        self.spans.iter().any(|(s, e)| *s <= from && to <= *e)
    }

    pub fn first_day(&self) -> Option<NaiveDate> {
        self.spans.first().map(|s| s.0)
    }
}

/// Mark the council's rows (area and wards) of periods whose cohort the extracts
/// did not see whole as `x`; returns a note when any were.
pub fn mask_unobservable(
    rows: &mut [Row],
    id: &str,
    spec: &CohortSpec,
    coverage: &Coverage,
    council: &Council,
) -> Option<String> {
    let mut hidden: Vec<(NaiveDate, String)> = Vec::new();
    for r in rows
        .iter_mut()
        .filter(|r| r.indicator_id == id && is_own(r, council))
    {
        let observable = spec
            .born_by(r.period_start)
            .is_some_and(|born| coverage.covers(born, r.period_end));
        if observable {
            continue;
        }
        if !hidden.iter().any(|(_, p)| *p == r.period) {
            hidden.push((r.period_start, r.period.clone()));
        }
        r.withhold("x");
    }
    if hidden.is_empty() {
        return None;
    }
    hidden.sort();
    let first = coverage
        .first_day()
        .map_or("no period".to_string(), |d| d.format("%-d %B %Y").to_string());
    let span = if hidden.len() == 1 {
        hidden[0].1.clone()
    } else {
        format!("{} to {}", hidden[0].1, hidden[hidden.len() - 1].1)
    };
    Some(format!(
        "{id}: {span} not available (x): the children who reached {} then were born before the `{}` \
         extracts begin ({first}) or reached it across a gap between them, so the children and visits \
         seen only then are missing",
        spec.age(),
        spec.table,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn coverage_merges_adjacent_quarters_and_sees_gaps() {
        let c = Coverage::from_periods(["2021-22-Q1", "2021-22-Q2", "2021-22-Q4", "2022-23-Q1"]);
        assert!(c.covers(d(2021, 4, 1), d(2021, 9, 30)));
        assert!(!c.covers(d(2021, 4, 1), d(2021, 10, 1)), "Q3 missing");
        assert!(c.covers(d(2022, 1, 1), d(2022, 6, 30)));
        assert!(
            !c.covers(d(2021, 3, 31), d(2021, 6, 30)),
            "before the first extract"
        );
        assert_eq!(c.first_day(), Some(d(2021, 4, 1)));
    }

    #[test]
    fn the_cohort_window_starts_at_the_earliest_birth() {
        let nbv = CohortSpec {
            table: "hv_contacts".into(),
            age_days: Some(30),
            age_months: None,
        };
        // Children who turned 30 days in Q1 2021/22 were born from 2 March 2021.
        assert_eq!(nbv.born_by(d(2021, 4, 1)), Some(d(2021, 3, 2)));
        let two = CohortSpec {
            table: "hv_contacts".into(),
            age_days: None,
            age_months: Some(30),
        };
        assert_eq!(two.born_by(d(2024, 4, 1)), Some(d(2021, 10, 1)));
        assert!(two.problem().is_none());
        let both = CohortSpec {
            age_days: Some(1),
            ..two
        };
        assert!(both.problem().is_some());
    }
}
