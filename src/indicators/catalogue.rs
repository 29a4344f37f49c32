//! The indicator catalogue (`pipelines/indicators/catalogue.toml`) and its SQL
//! files. A data engineer adds an indicator by adding an entry and a SQL file:
//! no Rust. The SQL yields one row per child (or per event) with the breakdown
//! columns and `numerator`/`denominator`; the engine does the rest.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::ConfigIssue;
use crate::stats::Polarity;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCatalogue {
    #[serde(rename = "indicator")]
    pub indicators: Vec<Indicator>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    SchoolReadiness,
    Childcare,
    HealthVisiting,
    Linked,
}

impl Domain {
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::SchoolReadiness => "school_readiness",
            Domain::Childcare => "childcare",
            Domain::HealthVisiting => "health_visiting",
            Domain::Linked => "linked",
        }
    }
}

/// How the engine turns the SQL's rows into values.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 100 × Σnumerator ÷ Σdenominator, Wilson intervals.
    #[default]
    Proportion,
    /// Σnumerator ÷ Σdenominator (the SQL also yields `numerator_sq`), normal intervals.
    Mean,
    /// Σnumerator, no interval.
    Count,
    /// Difference of two rows of another indicator, Newcombe's interval.
    Gap,
}

impl Kind {
    pub fn unit(self) -> &'static str {
        match self {
            Kind::Proportion => "percent",
            Kind::Mean => "mean",
            Kind::Count => "count",
            Kind::Gap => "percentage_points",
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PeriodType {
    /// `2023-24` → "2023/24", September to August.
    AcademicYear,
    /// `2024-25-Q1` → "2024/25 Q1", April to June.
    FinancialQuarter,
    /// `2024-autumn` → "Autumn 2024" (spring and summer fall in the following calendar year).
    Term,
}

/// The breakdowns the engine knows: each is a column (or two) of the SQL's rows.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Breakdown {
    Sex,
    Fsm,
    FsmSex,
    Sen,
    LookedAfter,
    Ethnicity,
    FirstLanguage,
    ImdQuintile,
    ProviderType,
    /// Wards become area rows (`area_type = ward`), not a breakdown.
    Ward,
    /// A breakdown the SQL names itself, in its `group_value` column.
    Group,
}

impl Breakdown {
    pub fn as_str(self) -> &'static str {
        match self {
            Breakdown::Sex => "sex",
            Breakdown::Fsm => "fsm",
            Breakdown::FsmSex => "fsm_sex",
            Breakdown::Sen => "sen",
            Breakdown::LookedAfter => "looked_after",
            Breakdown::Ethnicity => "ethnicity",
            Breakdown::FirstLanguage => "first_language",
            Breakdown::ImdQuintile => "imd_quintile",
            Breakdown::ProviderType => "provider_type",
            Breakdown::Ward => "ward",
            Breakdown::Group => "group",
        }
    }

    /// SQL expression of the breakdown value over the indicator's rows.
    pub fn value_sql(self) -> &'static str {
        match self {
            Breakdown::Sex => "CASE sex WHEN 'M' THEN 'Boys' WHEN 'F' THEN 'Girls' END",
            Breakdown::Fsm => "CASE WHEN fsm THEN 'FSM' WHEN NOT fsm THEN 'Not FSM' END",
            Breakdown::FsmSex => {
                "CASE WHEN fsm AND sex = 'M' THEN 'FSM boys' WHEN fsm AND sex = 'F' THEN 'FSM girls' \
                 WHEN NOT fsm AND sex = 'M' THEN 'Not FSM boys' WHEN NOT fsm AND sex = 'F' THEN 'Not FSM girls' END"
            }
            Breakdown::Sen => {
                "CASE sen_provision WHEN 'none' THEN 'No SEN' WHEN 'sen_support' THEN 'SEN support' \
                 WHEN 'ehc_plan' THEN 'EHC plan' END"
            }
            Breakdown::LookedAfter => {
                "CASE WHEN looked_after THEN 'Looked after' WHEN NOT looked_after THEN 'Not looked after' END"
            }
            Breakdown::Ethnicity => "ethnic_group",
            Breakdown::FirstLanguage => {
                "CASE first_language WHEN 'english' THEN 'English' WHEN 'other' THEN 'Other than English' END"
            }
            Breakdown::ImdQuintile => {
                "CASE imd_quintile WHEN 1 THEN '1 (most deprived)' WHEN 5 THEN '5 (least deprived)' \
                 ELSE CAST(imd_quintile AS VARCHAR) END"
            }
            Breakdown::ProviderType => {
                "CASE provider_type WHEN 'school' THEN 'School' WHEN 'pvi' THEN 'PVI' WHEN 'childminder' THEN 'Childminder' END"
            }
            Breakdown::Ward => "ward_code",
            Breakdown::Group => "group_value",
        }
    }
}

/// A gap: `minuend` minus `subtrahend`, two rows of indicator `of`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GapSpec {
    pub of: String,
    /// `[breakdown, value]` of the first row, e.g. `["fsm", "Not FSM"]`.
    pub minuend: (String, String),
    pub subtrahend: (String, String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    pub id: String,
    pub name: String,
    pub domain: Domain,
    #[serde(default)]
    pub kind: Kind,
    pub polarity: Polarity,
    pub period_type: PeriodType,
    #[serde(default)]
    pub breakdowns: Vec<Breakdown>,
    /// Name of the `group` breakdown's column, e.g. `2yo_takeup`.
    #[serde(default)]
    pub group_name: Option<String>,
    /// SQL file under `pipelines/indicators/` (default `<id>.sql`; none for gaps).
    #[serde(default)]
    pub sql: Option<String>,
    #[serde(default)]
    pub gap: Option<GapSpec>,
    /// SQL file yielding benchmark rows (England, region, comparators) from public files.
    #[serde(default)]
    pub benchmark_sql: Option<String>,
    /// Periods before this one belong to an earlier, incomparable series.
    #[serde(default)]
    pub series_start: Option<String>,
    /// An age cohort known only from the contacts in an extract: a period is
    /// published only when the extracts cover every child in it from birth to
    /// the age (see `cohort.rs`).
    #[serde(default)]
    pub cohort: Option<super::cohort::CohortSpec>,
    pub definition: String,
}

impl Indicator {
    pub fn sql_file(&self, dir: &Path) -> Option<PathBuf> {
        match self.kind {
            Kind::Gap => None,
            _ => Some(dir.join(self.sql.clone().unwrap_or_else(|| format!("{}.sql", self.id)))),
        }
    }
}

/// Load and check the catalogue; every problem is collected.
pub fn load(dir: &Path, issues: &mut Vec<ConfigIssue>) -> Vec<Indicator> {
    let path = dir.join("catalogue.toml");
    let mut push = |m: String| {
        issues.push(ConfigIssue {
            file: path.clone(),
            message: m,
        })
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            push(format!("cannot read: {e}"));
            return Vec::new();
        }
    };
    let cat: RawCatalogue = match toml::from_str(&text) {
        Ok(c) => c,
        Err(e) => {
            push(e.message().to_string());
            return Vec::new();
        }
    };
    let mut seen = std::collections::HashSet::new();
    for ind in &cat.indicators {
        if !seen.insert(ind.id.clone()) {
            push(format!("indicator `{}` is defined twice", ind.id));
        }
        match (ind.kind, &ind.gap) {
            (Kind::Gap, None) => push(format!(
                "indicator `{}`: kind = \"gap\" needs [indicator.gap]",
                ind.id
            )),
            (Kind::Gap, Some(g))
                if !cat
                    .indicators
                    .iter()
                    .any(|i| i.id == g.of && i.kind == Kind::Proportion) =>
            {
                push(format!(
                    "indicator `{}`: gap of unknown proportion indicator `{}`",
                    ind.id, g.of
                ))
            }
            (k, Some(_)) if k != Kind::Gap => {
                push(format!("indicator `{}`: [gap] needs kind = \"gap\"", ind.id))
            }
            _ => {}
        }
        if let Some(problem) = ind.cohort.as_ref().and_then(|c| c.problem()) {
            push(format!("indicator `{}`: {problem}", ind.id));
        }
        if ind.breakdowns.contains(&Breakdown::Group) && ind.group_name.is_none() {
            push(format!(
                "indicator `{}`: the `group` breakdown needs `group_name`",
                ind.id
            ));
        }
        for f in ind
            .sql_file(dir)
            .into_iter()
            .chain(ind.benchmark_sql.as_ref().map(|b| dir.join(b)))
        {
            if !f.exists() {
                push(format!(
                    "indicator `{}`: SQL file {} not found",
                    ind.id,
                    f.display()
                ));
            }
        }
    }
    cat.indicators
}
