//! Reference tables: each seed file is published to `lake/ref_<name>` (all
//! columns as text, as shipped), once per distinct content.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::write::WriteBuilder;
use deltalake::protocol::SaveMode;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::seeds::{ALL, POSTCODES, Seeds};
use crate::storage::Storage;

/// Publish every seed whose content the lake does not hold yet. The postcode
/// lookup is used at ingest only: the lake gets its LSOA → ward part
/// (`ref_lsoa`), so no postcode is ever stored there.
pub async fn publish_seeds(storage: &Storage, seeds: &Seeds) -> Result<()> {
    for file in ALL {
        let path = seeds.dir.join(file);
        let bytes = std::fs::read(&path).map_err(|e| Error::config(&path, e.to_string()))?;
        let (table, header, rows) = if *file == POSTCODES {
            let mut areas: Vec<Vec<String>> = seeds
                .postcodes
                .values()
                .map(|a| {
                    vec![
                        a.lsoa_code.clone(),
                        a.ward_code.clone(),
                        a.ward_name.clone(),
                        a.imd_decile.map(|d| d.to_string()).unwrap_or_default(),
                    ]
                })
                .collect();
            areas.sort();
            areas.dedup();
            let header = ["lsoa_code", "ward_code", "ward_name", "imd_decile"]
                .map(String::from)
                .to_vec();
            ("ref_lsoa".to_string(), header, areas)
        } else {
            let mut rdr = csv::Reader::from_reader(bytes.as_slice());
            let header: Vec<String> = rdr
                .headers()
                .map_err(|e| Error::config(&path, e.to_string()))?
                .iter()
                .map(str::to_string)
                .collect();
            let mut rows = Vec::new();
            for rec in rdr.records() {
                let rec = rec.map_err(|e| Error::config(&path, e.to_string()))?;
                rows.push(rec.iter().map(str::to_string).collect::<Vec<_>>());
            }
            (format!("ref_{}", file.trim_end_matches(".csv")), header, rows)
        };
        let sha = hex::encode(Sha256::digest(&bytes));
        let app_id = format!("startwell-seed-{sha}");
        if crate::lake::is_committed(storage, &table, &app_id).await? {
            continue;
        }
        let schema = Arc::new(Schema::new(
            header
                .iter()
                .map(|h| Field::new(h, DataType::Utf8, true))
                .collect::<Vec<_>>(),
        ));
        let arrays: Vec<ArrayRef> = (0..header.len())
            .map(|i| {
                Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|r| r.get(i).map(String::as_str).unwrap_or("")),
                )) as ArrayRef
            })
            .collect();
        let batch = RecordBatch::try_new(schema, arrays).map_err(Error::internal)?;
        let t = storage.table(&table).await?;
        let snapshot = t.snapshot().ok().map(|s| s.snapshot().clone());
        WriteBuilder::new(t.log_store(), snapshot)
            .with_input_batches([batch])
            .with_save_mode(SaveMode::Overwrite)
            .with_table_name(&table)
            .with_commit_properties(
                CommitProperties::default().with_application_transaction(Transaction::new(&app_id, 1)),
            )
            .await?;
        tracing::info!(table = %table, "reference table published");
    }
    Ok(())
}
