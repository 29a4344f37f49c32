//! The same ingest on object_store's in-memory store.

use std::sync::Arc;

use object_store::ObjectStoreExt;
use object_store::memory::InMemory;
use startwell::pseudo::PseudoKey;
use startwell::run::{RunOptions, run};
use startwell::storage::Storage;

use crate::common::{TEST_KEY, TestProject, count};

#[tokio::test]
async fn ingest_on_an_in_memory_object_store() {
    let tp = TestProject::new();
    tp.generate(40, 1);
    let storage = Storage::from_parts(
        Arc::new(InMemory::new()),
        url::Url::parse("memory:///council/").unwrap(),
    );
    // Upload the landing files in delivery order (the store stamps them as they arrive).
    let mut files: Vec<(std::time::SystemTime, std::path::PathBuf)> = Vec::new();
    for dir in std::fs::read_dir(tp.landing()).unwrap() {
        for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            files.push((std::fs::metadata(&p).unwrap().modified().unwrap(), p));
        }
    }
    files.sort();
    for (_, p) in &files {
        let rel = p
            .strip_prefix(tp.path().join("data"))
            .unwrap()
            .to_string_lossy()
            .to_string();
        storage
            .store
            .put(&storage.path(&rel), std::fs::read(p).unwrap().into())
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let project = tp.project();
    let key = PseudoKey::new(TEST_KEY.as_bytes()).unwrap();
    let rec = run(&project, &storage, key.clone(), &RunOptions::default())
        .await
        .unwrap();
    assert_eq!(rec.status, "succeeded");
    assert!(count(&storage, "eyfsp", "").await > 0);
    assert!(count(&storage, "ey_headcount", "").await > 0);
    // Nothing is written to the local folder.
    assert!(!tp.path().join("data/lake").exists());
    // A second run has nothing to do.
    let rec = run(&project, &storage, key, &RunOptions::default())
        .await
        .unwrap();
    assert!(rec.files.is_empty());
    // The run record is in the store.
    assert!(
        storage
            .get(&format!("state/runs/{}.json", rec.run_id))
            .await
            .unwrap()
            .is_some()
    );
}
