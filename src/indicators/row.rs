//! One scorecard row and the council it is for: the shape every stage of the
//! scorecard passes on (engine → disclosure control → publishing → targets,
//! open data, report). A leaf of `indicators`: it uses nothing of its siblings.

use crate::stats::{Comparison, Polarity, Trend};

/// The area the scorecard is for.
#[derive(Debug, Clone)]
pub struct Council {
    pub code: String,
    pub name: String,
    pub region_code: String,
    /// ONS codes of the comparator councils shown from the public files.
    pub comparators: Vec<String>,
}

/// The kind of area a row is for (`area_type` in the scorecard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AreaType {
    England,
    Region,
    LocalAuthority,
    Ward,
}

impl AreaType {
    pub const ALL: [AreaType; 4] = [
        AreaType::England,
        AreaType::Region,
        AreaType::LocalAuthority,
        AreaType::Ward,
    ];

    /// As the scorecard writes it: `england`, `region`, `local_authority`, `ward`.
    pub fn as_str(self) -> &'static str {
        match self {
            AreaType::England => "england",
            AreaType::Region => "region",
            AreaType::LocalAuthority => "local_authority",
            AreaType::Ward => "ward",
        }
    }

    pub fn parse(text: &str) -> Option<AreaType> {
        AreaType::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// What a row's value is measured in (`unit` in the scorecard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    Percent,
    /// A difference of two percentages (a gap, or a change in a percentage).
    PercentagePoints,
    Mean,
    Count,
}

impl Unit {
    /// As the scorecard writes it: `percent`, `percentage_points`, `mean`, `count`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Percent => "percent",
            Unit::PercentagePoints => "percentage_points",
            Unit::Mean => "mean",
            Unit::Count => "count",
        }
    }

    /// After a value for people: `%`, ` pp`, or nothing.
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Percent => "%",
            Unit::PercentagePoints => " pp",
            Unit::Mean | Unit::Count => "",
        }
    }

    /// The unit of a change in a value of this unit (a change in a percentage is
    /// in percentage points).
    pub fn of_change(self) -> Unit {
        match self {
            Unit::Percent => Unit::PercentagePoints,
            u => u,
        }
    }
}

/// The `breakdown` of a total row (every child of the area).
pub const ALL: &str = "all";

/// One scorecard row (the columns of shared/contracts.md), before publishing.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub indicator_id: String,
    pub indicator_name: String,
    pub domain: String,
    pub unit: Unit,
    pub polarity: Polarity,
    pub period_key: String,
    pub period: String,
    pub period_start: chrono::NaiveDate,
    pub period_end: chrono::NaiveDate,
    pub area_type: AreaType,
    pub area_code: String,
    pub area_name: String,
    /// The catalogue's breakdown name (`sex`, `fsm`, …, or an indicator's own
    /// `group_name`: configuration, not a closed set), or [`ALL`] for the total.
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
    pub comparison: Comparison,
    /// Published as its label for the row's polarity ([`Row::trend_label`]).
    pub trend: Trend,
    pub status_symbol: Option<String>,
    /// Σ numerator² for means (not published).
    pub numerator_sq: Option<f64>,
}

impl Row {
    /// A total row (no breakdown).
    pub fn is_total(&self) -> bool {
        self.breakdown == ALL
    }

    /// The trend as the scorecard writes it (`increasing_getting_better`, …).
    pub fn trend_label(&self) -> &'static str {
        self.trend.label(self.polarity)
    }

    /// The published order: indicator, period, area, breakdown.
    pub fn order_key(&self) -> [&str; 6] {
        [
            &self.indicator_id,
            &self.period_key,
            self.area_type.as_str(),
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
    r.area_type == AreaType::Ward || (r.area_type == AreaType::LocalAuthority && r.area_code == council.code)
}
