//! `outputs/indicators.parquet` and `.csv`: one row per indicator with the
//! fields analysts expect beside the data (as the national profiles give them):
//! definition, rationale, numerator and denominator, unit, polarity, frequency,
//! source, interval method, disclosure control, caveats, series start. Written
//! from the catalogue (and the disclosure policy) by every publishing run.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use super::catalogue::{Indicator, Kind, PeriodType};
use crate::disclosure::Policy;
use crate::error::{Error, Result};
use crate::storage::Storage;

/// One indicator's metadata, every field as published.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    pub indicator_id: String,
    pub indicator_name: String,
    pub domain: &'static str,
    pub definition: String,
    pub rationale: String,
    pub numerator_definition: String,
    pub denominator_definition: String,
    pub unit: &'static str,
    pub polarity: &'static str,
    pub frequency: &'static str,
    pub data_source: String,
    pub confidence_interval_method: &'static str,
    pub disclosure_control: String,
    pub caveats: String,
    pub series_start: String,
    pub breakdowns: String,
    pub benchmarks: &'static str,
}

pub fn frequency(p: PeriodType) -> &'static str {
    match p {
        PeriodType::AcademicYear => "Annual (academic year, September to August)",
        PeriodType::FinancialQuarter => "Quarterly (financial year quarters, April to March)",
        PeriodType::Term => "Termly (autumn, spring, summer)",
    }
}

pub fn interval_method(kind: Kind) -> &'static str {
    match kind {
        Kind::Proportion => {
            "Wilson score interval, 95% and 99.8% (none when the value exceeds 100% against a population estimate)"
        }
        Kind::Gap => {
            "Newcombe's hybrid score interval for the difference of two independent proportions (95% and 99.8%)"
        }
        Kind::Mean => {
            "Mean ± Student's t (n − 1 degrees of freedom) × standard deviation / √n (95% and 99.8%)"
        }
        Kind::Count => "None (a count)",
    }
}

/// The disclosure rule as people read it.
pub fn disclosure_rule(policy: &Policy) -> String {
    format!(
        "Counts from 1 to {} in the council's and its wards' figures are suppressed and shown as `{}` \
         (primary), with further cells suppressed so that none can be worked out from totals or from \
         an earlier publication (secondary). Figures from the public files keep their own symbols.",
        policy.threshold - 1,
        policy.symbol
    )
}

/// Metadata for every indicator of the catalogue, in catalogue order.
pub fn rows(catalogue: &[Indicator], policy: &Policy) -> Vec<Metadata> {
    let rule = disclosure_rule(policy);
    catalogue
        .iter()
        .map(|i| Metadata {
            indicator_id: i.id.clone(),
            indicator_name: i.name.clone(),
            domain: i.domain.as_str(),
            definition: i.definition.clone(),
            rationale: i.rationale.clone(),
            numerator_definition: i.numerator_definition.clone(),
            denominator_definition: i.denominator_definition.clone(),
            unit: i.kind.unit().as_str(),
            polarity: super::row::polarity_str(i.polarity),
            frequency: frequency(i.period_type),
            data_source: i.source.clone(),
            confidence_interval_method: interval_method(i.kind),
            disclosure_control: rule.clone(),
            caveats: i.caveats.clone().unwrap_or_default(),
            series_start: i
                .series_start
                .as_deref()
                .map(|s| super::periods::info(i.period_type, s).map_or_else(|| s.to_string(), |p| p.label))
                .unwrap_or_default(),
            breakdowns: i
                .breakdowns
                .iter()
                .map(|b| i.breakdown_name(*b))
                .collect::<Vec<_>>()
                .join(", "),
            benchmarks: if i.benchmark_sql.is_some() {
                "England, the region and comparator councils (public files)"
            } else {
                ""
            },
        })
        .collect()
}

const COLUMNS: [&str; 17] = [
    "indicator_id",
    "indicator_name",
    "domain",
    "definition",
    "rationale",
    "numerator_definition",
    "denominator_definition",
    "unit",
    "polarity",
    "frequency",
    "data_source",
    "confidence_interval_method",
    "disclosure_control",
    "caveats",
    "series_start",
    "breakdowns",
    "benchmarks",
];

pub fn to_batch(rows: &[Metadata]) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(
        COLUMNS
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let column = |f: fn(&Metadata) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let columns: Vec<ArrayRef> = vec![
        column(|m| &m.indicator_id),
        column(|m| &m.indicator_name),
        column(|m| m.domain),
        column(|m| &m.definition),
        column(|m| &m.rationale),
        column(|m| &m.numerator_definition),
        column(|m| &m.denominator_definition),
        column(|m| m.unit),
        column(|m| m.polarity),
        column(|m| m.frequency),
        column(|m| &m.data_source),
        column(|m| m.confidence_interval_method),
        column(|m| &m.disclosure_control),
        column(|m| &m.caveats),
        column(|m| &m.series_start),
        column(|m| &m.breakdowns),
        column(|m| m.benchmarks),
    ];
    RecordBatch::try_new(schema, columns).map_err(Error::internal)
}

/// `outputs/indicators.parquet` and `outputs/indicators.csv`.
pub async fn publish(storage: &Storage, rows: &[Metadata], csv_bom: bool) -> Result<()> {
    super::publish::write_outputs(storage, "indicators", &to_batch(rows)?, csv_bom).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped catalogue gives every field of every indicator (bar caveats
    /// and series start, which some have none of), and the rule says the policy.
    #[test]
    fn every_shipped_indicator_has_its_metadata() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/indicators");
        let mut issues = Vec::new();
        let catalogue = super::super::catalogue::load(&dir, &mut issues);
        assert!(issues.is_empty(), "{issues:?}");
        let policy = Policy::default();
        let rows = rows(&catalogue, &policy);
        assert_eq!(rows.len(), catalogue.len());
        for m in &rows {
            for (name, v) in [
                ("definition", &m.definition),
                ("rationale", &m.rationale),
                ("numerator", &m.numerator_definition),
                ("denominator", &m.denominator_definition),
                ("source", &m.data_source),
            ] {
                assert!(!v.trim().is_empty(), "{} has no {name}", m.indicator_id);
                assert!(
                    !v.contains('{'),
                    "{} {name} has an unfilled placeholder: {v}",
                    m.indicator_id
                );
            }
        }
        let gld = rows.iter().find(|m| m.indicator_id == "sr_gld").unwrap();
        assert_eq!(gld.series_start, "2021/22");
        assert_eq!(gld.unit, "percent");
        assert!(
            gld.disclosure_control.contains("from 1 to 5"),
            "{}",
            gld.disclosure_control
        );
        let mean = rows.iter().find(|m| m.indicator_id == "sr_avg_elgs").unwrap();
        assert!(mean.confidence_interval_method.contains("Student's t"));
        let batch = to_batch(&rows).unwrap();
        assert_eq!((batch.num_rows(), batch.num_columns()), (rows.len(), 17));
    }
}
