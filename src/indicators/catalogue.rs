//! The indicator catalogue (`pipelines/indicators/catalogue.toml`) and its SQL
//! files. A data engineer adds an indicator by adding an entry and a SQL file:
//! no Rust. The SQL yields one row per child (or per event) with the breakdown
//! columns and `numerator`/`denominator`; the engine does the rest.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::row::Unit;
use crate::error::ConfigIssue;
use crate::stats::Polarity;

/// The `fsm_sex` breakdown's values: FSM boys, FSM girls, not-FSM boys, not-FSM girls.
pub const FSM_SEX: [&str; 4] = ["FSM boys", "FSM girls", "Not FSM boys", "Not FSM girls"];

/// The file as written: defaults per domain, indicators, and families (one
/// template, a list of members), expanded by [`load`] into indicators.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    #[serde(default)]
    defaults: std::collections::BTreeMap<Domain, toml::Table>,
    #[serde(default, rename = "indicator")]
    indicators: Vec<toml::Table>,
    #[serde(default, rename = "family")]
    families: Vec<toml::Table>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
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
    pub fn unit(self) -> Unit {
        match self {
            Kind::Proportion => Unit::Percent,
            Kind::Mean => Unit::Mean,
            Kind::Count => Unit::Count,
            Kind::Gap => Unit::PercentagePoints,
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
        static FSM_SEX_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            let [fsm_boys, fsm_girls, not_fsm_boys, not_fsm_girls] = FSM_SEX;
            format!(
                "CASE WHEN fsm AND sex = 'M' THEN '{fsm_boys}' WHEN fsm AND sex = 'F' THEN '{fsm_girls}' \
                 WHEN NOT fsm AND sex = 'M' THEN '{not_fsm_boys}' WHEN NOT fsm AND sex = 'F' THEN '{not_fsm_girls}' END"
            )
        });
        match self {
            Breakdown::Sex => "CASE sex WHEN 'M' THEN 'Boys' WHEN 'F' THEN 'Girls' END",
            Breakdown::Fsm => "CASE WHEN fsm THEN 'FSM' WHEN NOT fsm THEN 'Not FSM' END",
            Breakdown::FsmSex => FSM_SEX_SQL.as_str(),
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
    /// SQL file under `pipelines/indicators/` (default `<id>.sql`; none for gaps
    /// and for indicators counted `from` a view).
    #[serde(default)]
    pub sql: Option<String>,
    /// Instead of a SQL file: the view or table whose rows (one per child or
    /// event) this indicator counts. Indicators `from` the same relation are
    /// computed together, in one pass over it.
    #[serde(default)]
    pub from: Option<String>,
    /// With `from`: what a row adds to the numerator (a SQL expression).
    #[serde(default)]
    pub numerator: Option<String>,
    /// With `from`: what a row adds to the denominator (default `1`).
    #[serde(default)]
    pub denominator: Option<String>,
    /// With `from`: only rows where this SQL condition holds are counted.
    #[serde(default)]
    pub filter: Option<String>,
    /// Values for `{{name}}` placeholders in the indicator's SQL file (so one
    /// file can serve a family of indicators).
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, String>,
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
    pub cohort: Option<CohortSpec>,
    pub definition: String,
    /// Metadata published in `outputs/indicators.*` (usually from the domain's
    /// `[defaults]`): where the data comes from, why the indicator matters, what
    /// to bear in mind, and the numerator and denominator in words.
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub rationale: String,
    #[serde(default)]
    pub caveats: Option<String>,
    #[serde(default)]
    pub numerator_definition: String,
    #[serde(default)]
    pub denominator_definition: String,
}

impl Indicator {
    pub fn sql_file(&self, dir: &Path) -> Option<PathBuf> {
        match self.kind {
            Kind::Gap => None,
            _ if self.from.is_some() => None,
            _ => Some(dir.join(self.sql.clone().unwrap_or_else(|| format!("{}.sql", self.id)))),
        }
    }

    /// A breakdown's name as published (`group` is this indicator's `group_name`).
    pub fn breakdown_name(&self, b: Breakdown) -> String {
        match b {
            Breakdown::Group => self.group_name.clone().unwrap_or_else(|| "group".into()),
            other => other.as_str().into(),
        }
    }

    /// Its SQL file's text with its `params` substituted.
    pub fn with_params(&self, sql: &str) -> String {
        self.params
            .iter()
            .fold(sql.to_string(), |s, (k, v)| s.replace(&format!("{{{{{k}}}}}"), v))
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
    let raw: RawCatalogue = match toml::from_str(&text) {
        Ok(c) => c,
        Err(e) => {
            let line = e
                .span()
                .map(|s| format!("line {}: ", line_at(&text, s.start)))
                .unwrap_or_default();
            push(format!("{line}{}", e.message().trim()));
            return Vec::new();
        }
    };
    let mut entries: Vec<(String, toml::Table)> =
        raw.indicators.into_iter().map(|t| (String::new(), t)).collect();
    for (i, family) in raw.families.into_iter().enumerate() {
        match expand_family(family) {
            Ok(members) => entries.extend(members),
            Err(m) => push(format!("{}family {}: {m}", family_line(&text, i), i + 1)),
        }
    }
    let mut indicators: Vec<Indicator> = Vec::new();
    let mut origins: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for (origin, mut t) in entries {
        with_defaults(&mut t, &raw.defaults);
        let id = t.get("id").and_then(|v| v.as_str()).unwrap_or("?").to_string();
        match toml::Value::Table(t).try_into::<Indicator>() {
            Ok(ind) => {
                origins.insert(ind.id.clone(), origin);
                indicators.push(ind)
            }
            Err(e) => push(format!(
                "{}indicator `{id}`{origin}: {}",
                entry_line(&text, &id, &origin),
                e.message()
            )),
        }
    }
    let mut seen = std::collections::HashSet::new();
    for ind in &indicators {
        let line = entry_line(&text, &ind.id, origins.get(&ind.id).map_or("", String::as_str));
        if !seen.insert(ind.id.clone()) {
            push(format!("{line}indicator `{}` is defined twice", ind.id));
        }
        for m in problems(ind, &indicators, dir) {
            push(format!("{line}{m}"));
        }
    }
    indicators
}

/// The keys of the entry's `[defaults.<domain>]` it does not set itself (a gap
/// takes no breakdowns or series start: it has none of its own).
fn with_defaults(t: &mut toml::Table, defaults: &std::collections::BTreeMap<Domain, toml::Table>) {
    let domain = t.get("domain").and_then(|d| d.clone().try_into::<Domain>().ok());
    let gap = t.get("kind").and_then(|k| k.as_str()) == Some("gap");
    if let Some(defaults) = domain.and_then(|d| defaults.get(&d)) {
        for (k, v) in defaults {
            if gap && (k == "breakdowns" || k == "series_start") {
                continue;
            }
            t.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

/// Where an entry is written: `line N: ` of its `id = "…"` (a family member's
/// own id, else its family's template id), or nothing when it cannot be found.
fn entry_line(text: &str, id: &str, origin: &str) -> String {
    let template = origin
        .split("family `")
        .nth(1)
        .and_then(|r| r.split('`').next())
        .unwrap_or("");
    [id, template]
        .iter()
        .filter(|i| !i.is_empty())
        .find_map(|i| {
            text.lines().position(|l| {
                let l = l.trim();
                l.starts_with("id") && l.contains(&format!("\"{i}\""))
            })
        })
        .map(|n| format!("line {}: ", n + 1))
        .unwrap_or_default()
}

/// What is wrong with one indicator: its kind and gap, cohort, what it counts,
/// the metadata in words, its breakdowns, and its SQL files.
fn problems(ind: &Indicator, indicators: &[Indicator], dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |m: String| out.push(m);
    match (ind.kind, &ind.gap) {
        (Kind::Gap, None) => push(format!(
            "indicator `{}`: kind = \"gap\" needs [indicator.gap]",
            ind.id
        )),
        (Kind::Gap, Some(g))
            if !indicators
                .iter()
                .any(|i| i.id == g.of && i.kind == Kind::Proportion) =>
        {
            push(format!(
                "indicator `{}`: gap of unknown proportion indicator `{}`",
                ind.id, g.of
            ))
        }
        (k, Some(_)) if k != Kind::Gap => push(format!("indicator `{}`: [gap] needs kind = \"gap\"", ind.id)),
        _ => {}
    }
    if let Some(problem) = ind.cohort.as_ref().and_then(|c| c.problem()) {
        push(format!("indicator `{}`: {problem}", ind.id));
    }
    match (&ind.from, &ind.numerator) {
        (Some(_), _) if ind.sql.is_some() => push(format!(
            "indicator `{}`: give either `from` (a view to count) or `sql` (a file), not both",
            ind.id
        )),
        (Some(_), None) => push(format!(
            "indicator `{}`: `from` needs `numerator` (what a row adds to it)",
            ind.id
        )),
        (Some(_), _) if ind.kind == Kind::Gap => push(format!(
            "indicator `{}`: a gap is computed from another indicator, not `from` a view",
            ind.id
        )),
        (None, _) if ind.numerator.is_some() || ind.denominator.is_some() || ind.filter.is_some() => {
            push(format!(
                "indicator `{}`: `numerator`, `denominator` and `filter` go with `from`",
                ind.id
            ))
        }
        _ => {}
    }
    for (key, text) in [
        ("source", &ind.source),
        ("rationale", &ind.rationale),
        ("numerator_definition", &ind.numerator_definition),
        ("denominator_definition", &ind.denominator_definition),
    ] {
        if text.trim().is_empty() {
            push(format!(
                "indicator `{}`: needs `{key}` in words (published in outputs/indicators.csv; \
                 give it here or in [defaults.{}])",
                ind.id,
                ind.domain.as_str()
            ));
        }
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
    out
}

/// 1-based line of byte `offset` in `text`.
fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// "line N: " of the `i`th `[[family]]` header.
fn family_line(text: &str, i: usize) -> String {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[family]]")
        .nth(i)
        .map(|(n, _)| format!("line {}: ", n + 1))
        .unwrap_or_default()
}

/// A family's indicators: its template with each member's values put in place
/// of `{name}` in every text of the template (`{{…}}` is left for the SQL).
fn expand_family(mut template: toml::Table) -> Result<Vec<(String, toml::Table)>, String> {
    let members = match template.remove("members") {
        Some(toml::Value::Array(m)) if !m.is_empty() => m,
        _ => return Err("needs `members`, a list of tables of values like `{ goal = \"writing\" }`".into()),
    };
    let id = template
        .get("id")
        .and_then(|v| v.as_str())
        .unwrap_or("?")
        .to_string();
    // The template's `{name}` placeholders: every member fills each, and uses no other name.
    let mut wanted = Vec::new();
    texts(&toml::Value::Table(template.clone()), &mut |t| {
        wanted.extend(placeholders(t))
    });
    wanted.sort();
    wanted.dedup();
    let mut keys: Option<Vec<String>> = None;
    let mut out = Vec::new();
    for (n, m) in members.iter().enumerate() {
        let Some(m) = m.as_table() else {
            return Err(format!("`{id}`: member {} is not a table", n + 1));
        };
        let values: Vec<(String, toml::Value)> = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let names: Vec<String> = values.iter().map(|(k, _)| k.clone()).collect();
        match &keys {
            None => keys = Some(names.clone()),
            Some(k) if *k != names => {
                return Err(format!(
                    "`{id}`: member {} has values {names:?}, the first member {k:?}: every member needs the same",
                    n + 1
                ));
            }
            _ => {}
        }
        if let Some(missing) = wanted.iter().find(|w| !names.contains(w)) {
            return Err(format!(
                "`{id}`: member {} has no value for `{{{missing}}}`",
                n + 1
            ));
        }
        if let Some(unused) = names.iter().find(|k| !wanted.contains(k)) {
            return Err(format!(
                "`{id}`: member {} gives `{unused}`, which the template does not use (a misspelt name?)",
                n + 1
            ));
        }
        let mut t = toml::Value::Table(template.clone());
        fill(&mut t, &values);
        let toml::Value::Table(t) = t else { unreachable!() };
        out.push((format!(" (family `{id}`, member {})", n + 1), t));
    }
    Ok(out)
}

/// Every text in `v`, nested ones too.
fn texts(v: &toml::Value, f: &mut impl FnMut(&str)) {
    match v {
        toml::Value::String(s) => f(s),
        toml::Value::Array(a) => a.iter().for_each(|x| texts(x, f)),
        toml::Value::Table(t) => t.values().for_each(|x| texts(x, f)),
        _ => {}
    }
}

/// The `{name}` placeholders in a text (not `{{name}}`, an SQL parameter).
fn placeholders(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{'
            && b.get(i + 1) != Some(&b'{')
            && (i == 0 || b[i - 1] != b'{')
            && let Some(len) = s[i + 1..].find('}')
        {
            let name = &s[i + 1..i + 1 + len];
            let closes_twice = b.get(i + 2 + len) == Some(&b'}');
            if !name.is_empty()
                && !closes_twice
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                out.push(name.to_string());
            }
        }
        i += 1;
    }
    out
}

/// Put member values in place of `{name}`: a text that is only `{name}` takes
/// the value itself (a number, a table), a longer text takes it as text. `{{…}}`
/// is an SQL parameter and stays.
fn fill(v: &mut toml::Value, values: &[(String, toml::Value)]) {
    match v {
        toml::Value::String(s) => {
            if let Some((_, x)) = values.iter().find(|(k, _)| *s == format!("{{{k}}}")) {
                *v = x.clone();
                return;
            }
            for (k, x) in values {
                let x = match x {
                    toml::Value::String(t) => t.clone(),
                    other => other.to_string(),
                };
                let (double, single) = (format!("{{{{{k}}}}}"), format!("{{{k}}}"));
                let parts: Vec<String> = s.split(&double).map(|p| p.replace(&single, &x)).collect();
                *s = parts.join(&double);
            }
        }
        toml::Value::Array(a) => a.iter_mut().for_each(|x| fill(x, values)),
        toml::Value::Table(t) => t.iter_mut().for_each(|(_, x)| fill(x, values)),
        _ => {}
    }
}

/// `cohort = { table = "hv_contacts", age_days = 30 }` (or `age_months = 30`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CohortSpec {
    /// The curated table the children are known from.
    pub table: String,
    /// The age reached in the period, in days...
    #[serde(default)]
    pub age_days: Option<u32>,
    /// ...or in months.
    #[serde(default)]
    pub age_months: Option<u32>,
}

impl CohortSpec {
    /// The earliest birth date of a child who reached the age on `day`.
    pub fn born_by(&self, day: chrono::NaiveDate) -> Option<chrono::NaiveDate> {
        match (self.age_days, self.age_months) {
            (Some(d), None) => day.checked_sub_days(chrono::Days::new(d as u64)),
            (None, Some(m)) => day.checked_sub_months(chrono::Months::new(m)),
            _ => None,
        }
    }

    /// The age in words, for notes.
    pub fn age(&self) -> String {
        match (self.age_days, self.age_months) {
            (Some(d), _) => format!("{d} days"),
            (_, Some(m)) => format!("{m} months"),
            _ => "?".into(),
        }
    }

    /// A problem with the spec, for `validate`.
    pub fn problem(&self) -> Option<&'static str> {
        match (self.age_days, self.age_months) {
            (Some(_), None) | (None, Some(_)) => None,
            _ => Some("cohort needs exactly one of `age_days` and `age_months`"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> (Vec<Indicator>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("catalogue.toml"), text).unwrap();
        std::fs::write(dir.path().join("t.sql"), "SELECT 1").unwrap();
        let mut issues = Vec::new();
        let inds = load(dir.path(), &mut issues);
        (inds, issues.into_iter().map(|i| i.message).collect())
    }

    const FAMILY: &str = r#"
[defaults.health_visiting]
source = "contacts"
rationale = "why"
numerator_definition = "those seen"
denominator_definition = "those due"
polarity = "higher_is_better"
period_type = "financial_quarter"
breakdowns = ["sex", "ward"]

[[indicator]]
id = "gap_of_a"
name = "gap"
domain = "health_visiting"
kind = "gap"
polarity = "lower_is_better"
gap = { of = "hv_a", minuend = ["sex", "Boys"], subtrahend = ["sex", "Girls"] }
definition = "d"

[[family]]
id = "hv_{x}"
name = "Contact {label}"
domain = "health_visiting"
sql = "t.sql"
params = { reached = "add_days(k.dob, {days})", keep = "{{la_code}} {x}" }
cohort = "{cohort}"
definition = "About {label}."

[[family.members]]
x = "a"
label = "A"
days = "30"
cohort = { table = "hv_contacts", age_days = 30 }

[[family.members]]
x = "b"
label = "B"
days = "56"
cohort = { table = "hv_contacts", age_days = 56 }
"#;

    /// A family expands into one indicator per member: `{name}` replaced in every
    /// text (a text that is only `{name}` takes the member's value with its type),
    /// `{{…}}` kept for the SQL, and the domain's defaults filled in (not for gaps).
    #[test]
    fn families_expand_and_defaults_fill_in() {
        let (inds, issues) = load_text(FAMILY);
        assert!(issues.is_empty(), "{issues:?}");
        let ids: Vec<&str> = inds.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["gap_of_a", "hv_a", "hv_b"]);
        let b = &inds[2];
        assert_eq!(b.name, "Contact B");
        assert_eq!(b.definition, "About B.");
        assert_eq!(b.params["reached"], "add_days(k.dob, 56)");
        assert_eq!(b.params["keep"], "{{la_code}} b");
        assert_eq!(b.cohort.as_ref().unwrap().table, "hv_contacts");
        assert_eq!(b.period_type, PeriodType::FinancialQuarter);
        assert_eq!(b.breakdowns, [Breakdown::Sex, Breakdown::Ward]);
        assert_eq!(
            b.with_params("WHERE {{reached}} > 0"),
            "WHERE add_days(k.dob, 56) > 0"
        );
        // The gap keeps its own polarity and takes no breakdowns.
        assert_eq!(inds[0].polarity, Polarity::LowerIsBetter);
        assert!(inds[0].breakdowns.is_empty());
    }

    #[test]
    fn family_and_from_mistakes_are_reported() {
        let bad_member = FAMILY.replace("x = \"b\"\n", "y = \"b\"\n");
        let (_, issues) = load_text(&bad_member);
        assert!(
            issues.iter().any(|m| m.contains("every member needs the same")),
            "{issues:?}"
        );

        let (_, issues) = load_text(
            r#"
[[indicator]]
id = "a"
name = "a"
domain = "linked"
polarity = "higher_is_better"
period_type = "academic_year"
from = "eyfsp_outcomes"
definition = "d"

[[indicator]]
id = "b"
name = "b"
domain = "linked"
polarity = "higher_is_better"
period_type = "academic_year"
from = "eyfsp_outcomes"
sql = "t.sql"
numerator = "gld"
definition = "d"

[[indicator]]
id = "c"
name = "c"
domain = "linked"
polarity = "higher_is_better"
period_type = "academic_year"
filter = "gld = 1"
definition = "d"
"#,
        );
        assert!(
            issues.iter().any(|m| m.contains("`a`: `from` needs `numerator`")),
            "{issues:?}"
        );
        assert!(
            issues.iter().any(|m| m.contains("`b`: give either `from`")),
            "{issues:?}"
        );
        assert!(
            issues
                .iter()
                .any(|m| m.contains("`c`: `numerator`, `denominator` and `filter` go with `from`"))
        );

        let typo = FAMILY.replace("x = \"b\"\nlabel = \"B\"", "x = \"b\"\nlabl = \"B\"");
        let (_, issues) = load_text(&typo);
        assert!(
            issues.iter().any(|m| m.contains("every member needs the same")),
            "{issues:?}"
        );
        let everywhere = FAMILY
            .replace("days = \"30\"", "days = \"30\"\nextra = \"1\"")
            .replace("days = \"56\"", "days = \"56\"\nextra = \"2\"");
        let (_, issues) = load_text(&everywhere);
        assert!(
            issues
                .iter()
                .any(|m| m.contains("gives `extra`, which the template does not use")),
            "{issues:?}"
        );
        let unfilled = FAMILY.replace(
            "definition = \"About {label}.\"",
            "definition = \"About {labels}.\"",
        );
        let (_, issues) = load_text(&unfilled);
        assert!(
            issues.iter().any(|m| m.contains("has no value for `{labels}`")),
            "{issues:?}"
        );
        assert_eq!(placeholders("a {x} {{y}} {z_1}} {} { w }"), ["x"]);

        let (_, issues) = load_text(&FAMILY.replace("rationale = \"why\"\n", ""));
        assert!(
            issues
                .iter()
                .any(|m| m.contains("`hv_a`: needs `rationale` in words")),
            "{issues:?}"
        );

        let (_, issues) = load_text("[[family]]\nid = \"x_{a}\"\n");
        assert!(issues.iter().any(|m| m.contains("needs `members`")), "{issues:?}");
    }
}
