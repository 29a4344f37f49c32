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
use crate::seeds::{ALL, Seeds};
use crate::storage::Storage;

/// Publish every seed whose content the lake does not hold yet.
pub async fn publish_seeds(storage: &Storage, seeds: &Seeds) -> Result<()> {
    for file in ALL {
        let path = seeds.dir.join(file);
        let bytes = std::fs::read(&path).map_err(|e| Error::config(&path, e.to_string()))?;
        let sha = hex::encode(Sha256::digest(&bytes));
        let table = format!("ref_{}", file.trim_end_matches(".csv"));
        let app_id = format!("startwell-seed-{sha}");
        if crate::lake::is_committed(storage, &table, &app_id).await? {
            continue;
        }
        let mut rdr = csv::Reader::from_reader(bytes.as_slice());
        let header: Vec<String> = rdr
            .headers()
            .map_err(|e| Error::config(&path, e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        let mut cols: Vec<Vec<String>> = vec![Vec::new(); header.len()];
        for rec in rdr.records() {
            let rec = rec.map_err(|e| Error::config(&path, e.to_string()))?;
            for (i, c) in cols.iter_mut().enumerate() {
                c.push(rec.get(i).unwrap_or("").to_string());
            }
        }
        let schema = Arc::new(Schema::new(
            header.iter().map(|h| Field::new(h, DataType::Utf8, true)).collect::<Vec<_>>(),
        ));
        let arrays: Vec<ArrayRef> = cols
            .into_iter()
            .map(|c| Arc::new(StringArray::from(c)) as ArrayRef)
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
