//! Publishing the scorecard: history as a Delta table (one version per run),
//! the latest as `outputs/scorecard.parquet` and `outputs/scorecard.csv`, each
//! written atomically (one whole-object put: readers see the old or the new file).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use deltalake::operations::write::WriteBuilder;
use deltalake::protocol::SaveMode;

use super::row::Row;
use crate::check::date32;
use crate::error::{Error, Result};
use crate::storage::Storage;

pub const HISTORY_TABLE: &str = "scorecard";

/// The published columns and types (shared/contracts.md).
pub fn schema() -> SchemaRef {
    let s = |n: &str| Field::new(n, DataType::Utf8, true);
    let i = |n: &str| Field::new(n, DataType::Int64, true);
    let f = |n: &str| Field::new(n, DataType::Float64, true);
    let d = |n: &str| Field::new(n, DataType::Date32, true);
    Arc::new(Schema::new(vec![
        s("indicator_id"),
        s("indicator_name"),
        s("domain"),
        s("unit"),
        s("polarity"),
        s("period"),
        d("period_start"),
        d("period_end"),
        s("area_type"),
        s("area_code"),
        s("area_name"),
        s("breakdown"),
        s("breakdown_value"),
        i("numerator"),
        i("denominator"),
        f("value"),
        f("lower_95"),
        f("upper_95"),
        f("lower_998"),
        f("upper_998"),
        s("benchmark_area"),
        f("benchmark_value"),
        s("comparison"),
        s("trend"),
        s("status_symbol"),
        s("run_id"),
    ]))
}

pub fn to_batch(rows: &[Row], run_id: &str) -> Result<RecordBatch> {
    let s = |f: fn(&Row) -> &str| -> ArrayRef { Arc::new(StringArray::from_iter_values(rows.iter().map(f))) };
    let so =
        |f: fn(&Row) -> Option<&str>| -> ArrayRef { Arc::new(StringArray::from_iter(rows.iter().map(f))) };
    let i = |f: fn(&Row) -> Option<i64>| -> ArrayRef { Arc::new(Int64Array::from_iter(rows.iter().map(f))) };
    let fl =
        |f: fn(&Row) -> Option<f64>| -> ArrayRef { Arc::new(Float64Array::from_iter(rows.iter().map(f))) };
    let d = |f: fn(&Row) -> chrono::NaiveDate| -> ArrayRef {
        Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| date32(f(r)))))
    };
    RecordBatch::try_new(
        schema(),
        vec![
            s(|r| &r.indicator_id),
            s(|r| &r.indicator_name),
            s(|r| &r.domain),
            s(|r| r.unit.as_str()),
            s(|r| super::row::polarity_str(r.polarity)),
            s(|r| &r.period),
            d(|r| r.period_start),
            d(|r| r.period_end),
            s(|r| r.area_type.as_str()),
            s(|r| &r.area_code),
            s(|r| &r.area_name),
            s(|r| &r.breakdown),
            s(|r| &r.breakdown_value),
            i(|r| r.numerator),
            i(|r| r.denominator),
            fl(|r| r.value),
            fl(|r| r.lower_95),
            fl(|r| r.upper_95),
            fl(|r| r.lower_998),
            fl(|r| r.upper_998),
            so(|r| r.benchmark_area.as_deref()),
            fl(|r| r.benchmark_value),
            s(|r| r.comparison.as_str()),
            s(|r| r.trend_label()),
            so(|r| r.status_symbol.as_deref()),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|_| run_id))),
        ],
    )
    .map_err(Error::internal)
}

/// Write the scorecard: Delta history first, then the two output files.
pub async fn publish(storage: &Storage, rows: &[Row], run_id: &str, csv_bom: bool) -> Result<()> {
    let batch = to_batch(rows, run_id)?;
    let t = storage.table(HISTORY_TABLE).await?;
    let snapshot = t.snapshot().ok().map(|s| s.snapshot().clone());
    WriteBuilder::new(t.log_store(), snapshot)
        .with_input_batches([batch.clone()])
        // Each version is one run's whole scorecard: time travel reads any earlier one.
        .with_save_mode(SaveMode::Overwrite)
        .with_table_name(HISTORY_TABLE)
        .await?;

    write_outputs(storage, "scorecard", &batch, csv_bom).await
}

/// The UTF-8 byte-order mark Excel needs to read a CSV as UTF-8.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// `outputs/<name>.parquet` and `outputs/<name>.csv` (formulas neutralised; with
/// a byte-order mark when `csv_bom`), each one whole-object put.
pub async fn write_outputs(storage: &Storage, name: &str, batch: &RecordBatch, csv_bom: bool) -> Result<()> {
    let mut parquet = Vec::new();
    {
        let mut w = ArrowWriter::try_new(&mut parquet, batch.schema(), None).map_err(Error::internal)?;
        w.write(batch).map_err(Error::internal)?;
        w.close().map_err(Error::internal)?;
    }
    storage
        .put(&format!("outputs/{name}.parquet"), parquet.into())
        .await?;
    let mut csv = if csv_bom { BOM.to_vec() } else { Vec::new() };
    {
        let mut w = datafusion::arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut csv);
        w.write(&neutralise_formulas(batch)?).map_err(Error::internal)?;
    }
    storage.put(&format!("outputs/{name}.csv"), csv.into()).await
}

/// Text that a spreadsheet would run as a formula when it opens a CSV (a cell
/// beginning with `=`, `+`, `-`, `@`, a tab or a carriage return, e.g. an area name
/// `=HYPERLINK(…)` from a public file) gets a leading `'`, which Excel and
/// LibreOffice show as text. Only text columns: numbers are written as numbers.
pub fn neutralise_formulas(batch: &RecordBatch) -> Result<RecordBatch> {
    let cols: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| match c.as_any().downcast_ref::<StringArray>() {
            Some(s) => {
                Arc::new(s.iter().map(|v| v.map(neutralise_cell)).collect::<StringArray>()) as ArrayRef
            }
            None => c.clone(),
        })
        .collect();
    RecordBatch::try_new(batch.schema(), cols).map_err(Error::internal)
}

/// One cell of [`neutralise_formulas`].
pub fn neutralise_cell(v: &str) -> std::borrow::Cow<'_, str> {
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{v}"))
    } else {
        std::borrow::Cow::Borrowed(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_in_text_are_neutralised_and_numbers_are_not() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("area_name", DataType::Utf8, true),
            Field::new("value", DataType::Float64, true),
        ]));
        let names = [
            "=HYPERLINK(\"http://x\",\"Click\")",
            "@SUM(A1)",
            "+44",
            "-1",
            "\tTab",
            "\rCR",
            "Bristol, City of",
        ];
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from_iter_values(names)),
                Arc::new(Float64Array::from(vec![-1.5; 7])),
            ],
        )
        .unwrap();
        let out = neutralise_formulas(&batch).unwrap();
        let s = out.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        for (i, n) in names.iter().enumerate() {
            let want = if i < 6 { format!("'{n}") } else { n.to_string() };
            assert_eq!(s.value(i), want);
        }
        let v = out.column(1).as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(v.value(0), -1.5);
    }

    #[tokio::test]
    async fn csv_outputs_start_with_a_bom_unless_turned_off() {
        let storage = Storage::from_parts(
            Arc::new(object_store::memory::InMemory::new()),
            url::Url::parse("memory:///").unwrap(),
        );
        let schema = Arc::new(Schema::new(vec![Field::new("area_name", DataType::Utf8, true)]));
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(vec!["Ynys Môn"]))]).unwrap();
        for (bom, name) in [(true, "with"), (false, "without")] {
            write_outputs(&storage, name, &batch, bom).await.unwrap();
            let csv = storage
                .get(&format!("outputs/{name}.csv"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(csv.starts_with(BOM), bom);
            let text = std::str::from_utf8(&csv[if bom { 3 } else { 0 }..]).unwrap();
            assert_eq!(text, "area_name\nYnys Môn\n");
        }
    }
}
