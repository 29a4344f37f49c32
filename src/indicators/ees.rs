//! The DfE's open-data ("EES tidy") export of the published scorecard, under
//! `outputs/ees/`, following the DfE's open data standards for statistics:
//! `time_period` (six digits, `202425`) with `time_identifier` (`Academic year`,
//! `Financial year Q1`, `Autumn term`, …), `geographic_level` (National,
//! Regional, Local authority, Ward) with the codes and names each level needs,
//! filters with a `Total`, symbols (never blanks) in indicator cells, snake_case
//! headers, UTF-8 (no byte-order mark), and a `.meta.csv` beside each data file.
//!
//! The standard keeps one kind of time identifier per file, so there is one
//! file per period type: `startwell_scorecard.csv` (academic years: school
//! readiness and the linked indicators), `startwell_scorecard_terms.csv`
//! (childcare) and `startwell_scorecard_quarters.csv` (health visiting).
//! Indicators are rows (the `indicator` filter, grouped by `domain`); the
//! indicator columns are the numerator, denominator, value and its 95% interval.

use std::collections::{BTreeMap, HashMap};

use datafusion::arrow::array::{Array, StringArray};
use datafusion::prelude::SessionContext;

use super::catalogue::{Indicator, PeriodType};
use super::row::{AreaType, Council, Row};
use crate::error::{Error, Result};
use crate::storage::Storage;

/// Where a local authority sits, from the public files: its DfE number and region.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LaPlace {
    pub old_la_code: String,
    pub region_code: String,
    pub region_name: String,
}

/// Local authorities' DfE numbers and regions, from the public benchmark tables
/// in the lake (geography, not data: nothing here is from a child).
pub async fn places(ctx: &SessionContext) -> Result<HashMap<String, LaPlace>> {
    let mut out = HashMap::new();
    for table in ["benchmark_eyfsp", "benchmark_early_years_provision"] {
        if !ctx.table_exist(table)? {
            continue;
        }
        let sql = format!(
            "SELECT DISTINCT new_la_code, old_la_code, region_code, region_name FROM {table} \
             WHERE new_la_code IS NOT NULL AND new_la_code <> '' ORDER BY new_la_code"
        );
        for batch in ctx.sql(&sql).await?.collect().await? {
            let col = |i: usize| -> Result<StringArray> {
                let c = datafusion::arrow::compute::cast(
                    batch.column(i),
                    &datafusion::arrow::datatypes::DataType::Utf8,
                )
                .map_err(Error::internal)?;
                Ok(c.as_any()
                    .downcast_ref::<StringArray>()
                    .cloned()
                    .unwrap_or_else(|| StringArray::from(Vec::<Option<&str>>::new())))
            };
            let (code, old, rc, rn) = (col(0)?, col(1)?, col(2)?, col(3)?);
            for i in 0..batch.num_rows() {
                let text = |a: &StringArray| {
                    if a.is_valid(i) {
                        a.value(i).trim().to_string()
                    } else {
                        String::new()
                    }
                };
                out.entry(text(&code)).or_insert_with(|| LaPlace {
                    old_la_code: text(&old),
                    region_code: text(&rc),
                    region_name: text(&rn),
                });
            }
        }
    }
    Ok(out)
}

/// One data file and its metadata file.
#[derive(Debug, Clone, PartialEq)]
pub struct EesFile {
    /// `startwell_scorecard` (→ `.csv` and `.meta.csv`).
    pub name: String,
    pub data: Vec<u8>,
    pub meta: Vec<u8>,
}

/// The data file's columns, in order.
pub const COLUMNS: [&str; 21] = [
    "time_period",
    "time_identifier",
    "geographic_level",
    "country_code",
    "country_name",
    "region_code",
    "region_name",
    "new_la_code",
    "old_la_code",
    "la_name",
    "ward_code",
    "ward_name",
    "domain",
    "indicator",
    "breakdown_topic",
    "breakdown",
    "numerator",
    "denominator",
    "value",
    "lower_95",
    "upper_95",
];

/// The six-digit `time_period` and the `time_identifier` of a period key.
pub fn time(kind: PeriodType, key: &str) -> Option<(String, &'static str)> {
    let academic = |y: i32| format!("{y}{:02}", (y + 1) % 100);
    match kind {
        PeriodType::AcademicYear => {
            let y: i32 = key.split_once('-')?.0.parse().ok()?;
            Some((academic(y), "Academic year"))
        }
        PeriodType::FinancialQuarter => {
            let (year, q) = key.rsplit_once("-Q")?;
            let y: i32 = year.split_once('-')?.0.parse().ok()?;
            let id = match q {
                "1" => "Financial year Q1",
                "2" => "Financial year Q2",
                "3" => "Financial year Q3",
                "4" => "Financial year Q4",
                _ => return None,
            };
            Some((academic(y), id))
        }
        PeriodType::Term => {
            let (year, term) = key.split_once('-')?;
            let y: i32 = year.parse().ok()?;
            let id = match term {
                "autumn" => "Autumn term",
                "spring" => "Spring term",
                "summer" => "Summer term",
                _ => return None,
            };
            Some((academic(y), id))
        }
    }
}

fn file_name(kind: PeriodType) -> &'static str {
    match kind {
        PeriodType::AcademicYear => "startwell_scorecard",
        PeriodType::Term => "startwell_scorecard_terms",
        PeriodType::FinancialQuarter => "startwell_scorecard_quarters",
    }
}

/// A breakdown's topic as a filter label: `Total`, `Sex`, `Free school meals`, …
pub fn topic(breakdown: &str) -> String {
    match breakdown {
        super::row::ALL => "Total".into(),
        "sex" => "Sex".into(),
        "fsm" => "Free school meals".into(),
        "fsm_sex" => "Free school meals by sex".into(),
        "sen" => "Special educational needs".into(),
        "looked_after" => "Looked after".into(),
        "ethnicity" => "Ethnicity".into(),
        "first_language" => "First language".into(),
        "imd_quintile" => "Deprivation (IMD quintile)".into(),
        "provider_type" => "Provider type".into(),
        "2yo_takeup" => "Funded 2-year-old place".into(),
        "asq_communication" => "ASQ-3 communication at 2 to 2½".into(),
        other => {
            let words = other.replace('_', " ");
            let mut c = words.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
    }
}

fn domain_label(domain: &str) -> &'static str {
    match domain {
        "school_readiness" => "School readiness",
        "childcare" => "Childcare",
        "health_visiting" => "Health visiting",
        "linked" => "Linked",
        _ => "Other",
    }
}

/// A number, or the row's symbol (`z` when the cell does not apply).
fn cell(v: Option<String>, symbol: Option<&str>) -> String {
    match (v, symbol) {
        (Some(v), _) => v,
        (None, Some(s)) => s.to_string(),
        (None, None) => "z".into(),
    }
}

/// The export's files from the published rows (England, region, comparators,
/// the council and its wards), one per period type that has rows.
pub fn files(
    rows: &[Row],
    catalogue: &[Indicator],
    council: &Council,
    old_la_code: Option<&str>,
    places: &HashMap<String, LaPlace>,
) -> Result<Vec<EesFile>> {
    let kinds: HashMap<&str, PeriodType> = catalogue.iter().map(|i| (i.id.as_str(), i.period_type)).collect();
    let region_name = rows
        .iter()
        .find(|r| r.area_type == AreaType::Region && r.area_code == council.region_code)
        .map(|r| r.area_name.clone())
        .or_else(|| places.get(&council.code).map(|p| p.region_name.clone()))
        .unwrap_or_default();
    let mut by_file: BTreeMap<&'static str, Vec<Vec<String>>> = BTreeMap::new();
    for r in rows {
        let Some(kind) = kinds.get(r.indicator_id.as_str()).copied() else {
            continue;
        };
        let Some((period, identifier)) = time(kind, &r.period_key) else {
            return Err(Error::internal(format!(
                "{}: period {} has no open-data time period",
                r.indicator_id, r.period_key
            )));
        };
        let geo = Places {
            council,
            region_name: &region_name,
            old_la_code,
            places,
        }
        .geography(r)?;
        let symbol = r.status_symbol.as_deref();
        let int = |v: Option<i64>| v.map(|v| v.to_string());
        let num = |v: Option<f64>| v.map(|v| format!("{v}"));
        let breakdown = if r.is_total() {
            "Total".to_string()
        } else {
            r.breakdown_value.clone()
        };
        let mut line: Vec<String> = vec![period, identifier.to_string()];
        line.extend(geo);
        line.extend([
            domain_label(&r.domain).to_string(),
            r.indicator_name.clone(),
            topic(&r.breakdown),
            breakdown,
            cell(int(r.numerator), symbol),
            cell(int(r.denominator), symbol),
            cell(num(r.value), symbol),
            cell(num(r.lower_95), symbol),
            cell(num(r.upper_95), symbol),
        ]);
        by_file.entry(file_name(kind)).or_default().push(line);
    }
    let mut out = Vec::new();
    for (name, mut lines) in by_file {
        // Time, then the widest places first, then the indicators in order.
        let rank = |level: &str| match level {
            "National" => 0,
            "Regional" => 1,
            "Local authority" => 2,
            _ => 3,
        };
        lines.sort_by(|a, b| {
            (&a[0], &a[1], rank(&a[2]), &a[..16]).cmp(&(&b[0], &b[1], rank(&b[2]), &b[..16]))
        });
        let data = write_csv(&COLUMNS, &lines)?;
        let first_indicator = lines.first().map(|l| l[13].clone()).unwrap_or_default();
        out.push(EesFile {
            name: name.to_string(),
            data,
            meta: meta(&first_indicator)?,
        });
    }
    Ok(out)
}

/// Where the council and other areas sit, for the open-data geography columns.
struct Places<'a> {
    council: &'a Council,
    region_name: &'a str,
    old_la_code: Option<&'a str>,
    places: &'a HashMap<String, LaPlace>,
}

impl Places<'_> {
    /// A row's geography columns: geographic level, country, region, local
    /// authority (new and old codes, name) and ward, as its level needs them.
    fn geography(&self, r: &Row) -> Result<[String; 10]> {
        let Places {
            council,
            region_name,
            old_la_code,
            places,
        } = *self;
        let mut geo = [const { String::new() }; 10];
        let [
            level,
            country_code,
            country_name,
            region_code,
            region_nm,
            new_la,
            old_la,
            la_name,
            ward_code,
            ward_name,
        ] = &mut geo;
        *country_code = "E92000001".into();
        *country_name = "England".into();
        let council_la = |region_code: &mut String,
                          region_nm: &mut String,
                          new_la: &mut String,
                          old_la: &mut String,
                          la_name: &mut String| {
            *region_code = council.region_code.clone();
            *region_nm = region_name.to_string();
            *new_la = council.code.clone();
            *old_la = old_la_code
                .map(str::to_string)
                .or_else(|| places.get(&council.code).map(|p| p.old_la_code.clone()))
                .unwrap_or_default();
            *la_name = council.name.clone();
        };
        match r.area_type {
            AreaType::England => *level = "National".into(),
            AreaType::Region => {
                *level = "Regional".into();
                *region_code = r.area_code.clone();
                *region_nm = r.area_name.clone();
            }
            AreaType::LocalAuthority if r.area_code == council.code => {
                *level = "Local authority".into();
                council_la(region_code, region_nm, new_la, old_la, la_name);
            }
            AreaType::LocalAuthority => {
                *level = "Local authority".into();
                let place = places.get(&r.area_code).cloned().unwrap_or_default();
                *region_code = place.region_code;
                *region_nm = place.region_name;
                *new_la = r.area_code.clone();
                *old_la = place.old_la_code;
                *la_name = r.area_name.clone();
            }
            AreaType::Ward => {
                *level = "Ward".into();
                council_la(region_code, region_nm, new_la, old_la, la_name);
                *ward_code = r.area_code.clone();
                *ward_name = r.area_name.clone();
            }
        }
        Ok(geo)
    }
}

/// The metadata file: every filter and indicator column with its label, unit
/// and decimal places.
fn meta(default_indicator: &str) -> Result<Vec<u8>> {
    let header = [
        "col_name",
        "col_type",
        "label",
        "indicator_grouping",
        "indicator_unit",
        "indicator_dp",
        "filter_hint",
        "filter_grouping_column",
        "filter_default",
    ];
    let filter = |name: &str, label: &str, hint: &str, grouping: &str, default: &str| {
        [name, "Filter", label, "", "", "", hint, grouping, default]
            .map(str::to_string)
            .to_vec()
    };
    let indicator = |name: &str, label: &str, dp: &str| {
        [name, "Indicator", label, "", "", dp, "", "", ""]
            .map(str::to_string)
            .to_vec()
    };
    let lines = vec![
        filter(
            "indicator",
            "Indicator",
            "The scorecard's indicators, by domain",
            "domain",
            default_indicator,
        ),
        filter(
            "breakdown",
            "Breakdown",
            "Children by characteristic; Total is every child",
            "breakdown_topic",
            "Total",
        ),
        indicator("numerator", "Numerator", "0"),
        indicator("denominator", "Denominator", "0"),
        indicator(
            "value",
            "Value (percent, percentage points, mean or count, as the indicator's unit)",
            "1",
        ),
        indicator("lower_95", "Lower 95% confidence limit", "1"),
        indicator("upper_95", "Upper 95% confidence limit", "1"),
    ];
    write_csv(&header, &lines)
}

fn write_csv(header: &[&str], lines: &[Vec<String>]) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(header).map_err(Error::internal)?;
    for l in lines {
        // Text that a spreadsheet would run as a formula is neutralised; numbers
        // (a negative gap) are written as they are.
        let cells: Vec<std::borrow::Cow<'_, str>> = l
            .iter()
            .map(|c| {
                if c.parse::<f64>().is_ok() {
                    std::borrow::Cow::Borrowed(c.as_str())
                } else {
                    super::publish::neutralise_cell(c)
                }
            })
            .collect();
        w.write_record(cells.iter().map(|c| c.as_ref()))
            .map_err(Error::internal)?;
    }
    w.into_inner().map_err(|e| Error::internal(e.to_string()))
}

/// `outputs/ees/<name>.csv` and `<name>.meta.csv`, each one whole-object put.
pub async fn publish(storage: &Storage, files: &[EesFile]) -> Result<()> {
    for f in files {
        storage
            .put(&format!("outputs/ees/{}.csv", f.name), f.data.clone().into())
            .await?;
        storage
            .put(&format!("outputs/ees/{}.meta.csv", f.name), f.meta.clone().into())
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_periods_and_identifiers() {
        assert_eq!(
            time(PeriodType::AcademicYear, "2023-24"),
            Some(("202324".into(), "Academic year"))
        );
        assert_eq!(
            time(PeriodType::AcademicYear, "1999-00"),
            Some(("199900".into(), "Academic year"))
        );
        assert_eq!(
            time(PeriodType::FinancialQuarter, "2024-25-Q3"),
            Some(("202425".into(), "Financial year Q3"))
        );
        assert_eq!(
            time(PeriodType::Term, "2024-spring"),
            Some(("202425".into(), "Spring term"))
        );
        assert_eq!(time(PeriodType::Term, "2024-winter"), None);
        assert_eq!(topic("imd_quintile"), "Deprivation (IMD quintile)");
        assert_eq!(topic("some_group"), "Some group");
        assert_eq!(topic("all"), "Total");
    }
}
