//! The pseudonymisation key cannot change silently: the lake keeps a key check,
//! another key is refused before anything is read or written, and a change of key
//! is a rotation that rebuilds every table (`keycheck`).

use startwell::pseudo::PseudoKey;
use startwell::run::{RunOptions, run};

use crate::common::{TABLES, TEST_KEY, TestProject, lake_lines};

const OTHER_KEY: &str = "another-secret-of-enough-length";

fn ingest_only() -> RunOptions {
    RunOptions {
        no_scorecard: true,
        ..RunOptions::default()
    }
}

fn rotation() -> RunOptions {
    RunOptions {
        full_refresh: true,
        new_key: true,
        no_scorecard: true,
        ..RunOptions::default()
    }
}

/// A small lake ingested with key `a`; `b` is another key.
async fn ingested_with_one_key() -> (TestProject, PseudoKey, PseudoKey) {
    let tp = TestProject::new();
    tp.generate(30, 1);
    let a = PseudoKey::new(TEST_KEY.as_bytes()).unwrap();
    let b = PseudoKey::new(OTHER_KEY.as_bytes()).unwrap();
    run(&tp.project(), &tp.storage(), a.clone(), &ingest_only())
        .await
        .unwrap();
    (tp, a, b)
}

#[tokio::test(flavor = "multi_thread")]
async fn another_key_is_refused_and_a_rotation_rebuilds_every_table() {
    let (tp, a, b) = ingested_with_one_key().await;
    let (p, s) = (tp.project(), tp.storage());
    let before = lake_lines(&s).await;
    let record = String::from_utf8(s.get("state/key_check.json").await.unwrap().unwrap().to_vec()).unwrap();
    assert!(
        record.contains(&a.check()) && !record.contains(TEST_KEY),
        "{record}"
    );

    // Another key: refused (exit 2), saying why and what to do; nothing written.
    let err = run(&p, &s, b.clone(), &ingest_only()).await.unwrap_err();
    assert_eq!(err.exit_code(), 2);
    let m = err.to_string();
    assert!(
        m.contains("not the one this lake was built with") && m.contains("--full-refresh --new-key"),
        "{m}"
    );
    assert_eq!(lake_lines(&s).await, before);
    // --new-key only with --full-refresh; not with the lake's own key.
    let err = run(
        &p,
        &s,
        b.clone(),
        &RunOptions {
            new_key: true,
            ..ingest_only()
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("--full-refresh"), "{err}");
    let err = run(&p, &s, a.clone(), &rotation()).await.unwrap_err();
    assert!(err.to_string().contains("nothing to change"), "{err}");

    // The rotation: every table rebuilt under the new key, the same rows otherwise.
    run(&p, &s, b.clone(), &rotation()).await.unwrap();
    let after = lake_lines(&s).await;
    for ((t, old), new) in TABLES.iter().zip(&before).zip(&after) {
        assert_eq!(old.len(), new.len(), "{t}: the same number of rows");
        if matches!(*t, "eyfsp" | "hv_contacts" | "dwp_2yo" | "ey_headcount") {
            assert!(
                old.iter().all(|l| !new.contains(l)),
                "{t}: every row has new keys"
            );
        }
    }
    // From now on the new key is the lake's, and the old one is refused.
    run(&p, &s, b.clone(), &ingest_only()).await.unwrap();
    let err = run(&p, &s, a, &ingest_only()).await.unwrap_err();
    assert!(
        err.to_string().contains("not the one this lake was built with"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unfinished_rotation_blocks_runs_and_a_missing_file_blocks_a_rotation() {
    let (tp, a, b) = ingested_with_one_key().await;
    let (p, s) = (tp.project(), tp.storage());
    let record = s.get("state/key_check.json").await.unwrap();

    // A file whose rows are in the lake has left the landing zone: no rotation.
    let dir = tp.landing().join("eyfsp");
    let file = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let kept = tp.path().join("kept");
    std::fs::rename(&file, &kept).unwrap();
    let err = run(&p, &s, b.clone(), &rotation()).await.unwrap_err();
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        err.to_string().contains(&name) && err.to_string().contains("would be lost"),
        "{err}"
    );
    assert_eq!(
        s.get("state/key_check.json").await.unwrap(),
        record,
        "nothing changed"
    );
    std::fs::rename(&kept, &file).unwrap();

    // A rotation stopped before it read every source: every run is refused until
    // a rotation finishes, with the old key or the new.
    let stopped = RunOptions { ..rotation() };
    stopped.shutdown.request("test");
    let err = run(&p, &s, b.clone(), &stopped).await.unwrap_err();
    assert_eq!(err.exit_code(), 6, "{err}");
    for k in [&a, &b] {
        let err = run(&p, &s, k.clone(), &ingest_only()).await.unwrap_err();
        assert!(err.to_string().contains("has not finished"), "{err}");
        assert_eq!(err.exit_code(), 2);
    }
    run(&p, &s, b.clone(), &rotation()).await.unwrap();
    run(&p, &s, b, &ingest_only()).await.unwrap();
}
