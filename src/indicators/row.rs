//! One scorecard row and the council it is for: the shape every stage of the
//! scorecard passes on (engine → disclosure control → publishing → targets,
//! open data, report). A leaf of `indicators`: it uses nothing of its siblings.

use crate::stats::Polarity;

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
    /// The published order: indicator, period, area, breakdown.
    pub fn order_key(&self) -> [&str; 6] {
        [
            &self.indicator_id,
            &self.period_key,
            &self.area_type,
            &self.area_code,
            &self.breakdown,
            &self.breakdown_value,
        ]
    }

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

/// A polarity as the scorecard writes it.
pub fn polarity_str(p: Polarity) -> &'static str {
    match p {
        Polarity::HigherIsBetter => "higher_is_better",
        Polarity::LowerIsBetter => "lower_is_better",
        Polarity::NotApplicable => "not_applicable",
    }
}

/// The council's own rows (from child-level data): its area and its wards, not
/// comparator councils from the public files.
pub fn is_own(r: &Row, council: &Council) -> bool {
    r.area_type == "ward" || (r.area_type == "local_authority" && r.area_code == council.code)
}
