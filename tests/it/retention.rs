//! `[retention]` and `startwell purge`: identifiable files are deleted once their
//! time is up, landing files only when their rows are in the lake; each deletion
//! is recorded by name and hash in the run history.

use chrono::{Duration, Utc};
use startwell::run::RunOptions;

use crate::common::{TestProject, lake_lines};

fn with_retention(tp: &TestProject, landing: u32, quarantine: u32) {
    let manifest = tp.path().join("startwell.toml");
    let toml = std::fs::read_to_string(&manifest).unwrap();
    let set = toml
        .replace("# landing_days = 90", &format!("landing_days = {landing}"))
        .replace(
            "# quarantine_days = 90",
            &format!("quarantine_days = {quarantine}"),
        );
    assert_ne!(set, toml, "the shipped startwell.toml shows [retention]");
    std::fs::write(&manifest, set).unwrap();
}

fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walkdir(dir) {
        out.push(e.strip_prefix(dir).unwrap().display().to_string());
    }
    out.sort();
    out
}

fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn files_are_purged_when_due_and_never_before_their_rows_are_in_the_lake() {
    let tp = TestProject::new();
    with_retention(&tp, 30, 10);
    tp.generate(200, 1);
    // A file that is refused, and one that changes after it was ingested.
    std::fs::write(
        tp.landing().join("eyfsp/eyfsp_2030-31.csv"),
        b"no,known,header\n1,2,3\n",
    )
    .unwrap();
    let _ = tp.run(RunOptions::default()).await;
    let dwp = tp.landing().join("dwp_2yo");
    let changed = std::fs::read_dir(&dwp).unwrap().next().unwrap().unwrap().path();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut bytes = std::fs::read(&changed).unwrap();
    bytes.extend_from_slice(b"\r\n");
    std::fs::write(&changed, bytes).unwrap();
    // A file delivered after the run: not ingested yet.
    std::fs::write(tp.landing().join("dwp_2yo/dwp_2yo_2031-autumn.csv"), b"later\n").unwrap();

    let (p, s) = (tp.project(), tp.storage());
    let ledger = startwell::lake::read_ledger(&s).await.unwrap();
    let landing_before = files_under(&tp.landing());
    let quarantine_dir = tp.path().join("data/quarantine");
    assert!(
        !files_under(&quarantine_dir).is_empty(),
        "the generator's mess is quarantined"
    );

    // Day 9: nothing due. Day 11: quarantine only. Day 31: ingested landing files too.
    let now = Utc::now();
    let plan = startwell::purge::plan(&p, &s, &ledger, now + Duration::days(9))
        .await
        .unwrap();
    assert!(plan.due.is_empty(), "{:?}", plan.due);
    assert_eq!(plan.unsettled, 3, "refused, changed and new files are kept");
    let plan = startwell::purge::plan(&p, &s, &ledger, now + Duration::days(11))
        .await
        .unwrap();
    assert!(!plan.due.is_empty() && plan.due.iter().all(|d| d.file.starts_with("quarantine/")));

    let lake = lake_lines(&s).await;
    let done = startwell::purge::purge(&p, &s, &ledger, now + Duration::days(31))
        .await
        .unwrap();
    assert!(files_under(&quarantine_dir).is_empty());
    let landing_after = files_under(&tp.landing());
    let kept = ["eyfsp/eyfsp_2030-31.csv", "dwp_2yo/dwp_2yo_2031-autumn.csv"];
    let changed_name = format!("dwp_2yo/{}", changed.file_name().unwrap().to_string_lossy());
    let mut want: Vec<String> = kept.iter().map(|k| k.to_string()).chain([changed_name]).collect();
    want.sort();
    assert_eq!(landing_after, want, "only files never ingested are left");
    let landing_done = done.iter().filter(|d| d.file.starts_with("landing/")).count();
    assert_eq!(landing_done, landing_before.len() - want.len());
    for d in done.iter().filter(|d| d.file.starts_with("landing/")) {
        let e = ledger
            .iter()
            .find(|e| format!("landing/{}/{}", e.source, e.file) == d.file)
            .unwrap();
        assert_eq!(d.sha256, e.sha256, "{}", d.file);
    }
    // The lake is untouched, and the next run does not miss the deleted files
    // (it refuses the two unusable files again, nothing else).
    assert_eq!(lake_lines(&s).await, lake);
    let next = tp.run(RunOptions::default()).await;
    assert!(next.as_ref().err().is_none_or(|e| e.exit_code() == 1), "{next:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn purge_records_what_it_deleted_by_name_and_hash_in_the_run_history() {
    let tp = TestProject::new();
    with_retention(&tp, 0, 0);
    tp.generate(20, 1);
    tp.run(RunOptions::default()).await.unwrap();
    let (code, out, err) = tp.run_binary(&["purge", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("file(s) due"), "{out}");
    assert!(
        !files_under(&tp.landing()).is_empty(),
        "a dry run deletes nothing"
    );
    let (code, out, err) = tp.run_binary(&["purge"]);
    assert_eq!(code, 0, "{err}");
    assert!(files_under(&tp.landing()).is_empty(), "{out}");
    let runs = startwell::ops::status::recent_runs(&tp.storage(), 5)
        .await
        .unwrap();
    let purge = runs
        .iter()
        .find(|r| r["trigger"] == "cli" && r["purged"].is_array())
        .expect("a purge record");
    let purged = purge["purged"].as_array().unwrap();
    assert!(!purged.is_empty());
    for f in purged {
        assert_eq!(f["sha256"].as_str().unwrap().len(), 64, "{f}");
        assert!(
            f["file"].as_str().unwrap().starts_with("landing/")
                || f["file"].as_str().unwrap().starts_with("quarantine/")
        );
    }
    let (code, out, err) = tp.run_binary(&["status"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("retention: landing 0 days, quarantine 0 days; 0 file(s) due now"),
        "{out}"
    );
    assert!(!out.contains("last purge never"), "{out}");
    let text = serde_json::to_string(purge).unwrap();
    assert!(
        !text.contains("NHS") && !text.contains("postcode"),
        "names and hashes only"
    );
}
