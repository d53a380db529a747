//! `roster bench`: every step measured on SQLite, and on PostgreSQL when a
//! server is configured; the bare loops write the same users as roster.

use roster_store::testing::POSTGRES_URL_VAR;

use serde_json::json;

use crate::util::{Roster, json, path};

#[test]
fn bench_measures_each_step_against_a_baseline_that_writes_the_same_users() {
    let roster = Roster::sqlite();
    let dir = roster.dir.path().join("bench");
    let mut args = vec![
        "bench",
        "--rows",
        "3000",
        "--format",
        "json",
        "--dir",
        path(&dir),
    ];
    let server = std::env::var(POSTGRES_URL_VAR).ok();
    match &server {
        Some(url) => args.extend(["--postgres", url.as_str()]),
        None => eprintln!("{POSTGRES_URL_VAR} is not set: bench runs on SQLite only"),
    }
    let out = roster.run(&args);
    assert_eq!(out.code, 0, "{out:?}");
    let summary = json(&out);
    assert_eq!(summary["rows"], 3000);

    const SWEEP: &str = "sweep, every password job dropped";
    const FOLDER: &str = "passwords into the outbox folder";
    let mut expected = vec![
        ("validate", "SQLite", None),
        ("import", "SQLite", Some(1)),
        (SWEEP, "SQLite", None),
        (FOLDER, "SQLite", Some(1)),
        ("passwords through SMTP", "SQLite", Some(1)),
    ];
    if server.is_some() {
        expected.extend([
            ("validate", "PostgreSQL", None),
            ("import", "PostgreSQL", Some(1)),
            ("import", "PostgreSQL", Some(2)),
            (SWEEP, "PostgreSQL", None),
            (FOLDER, "PostgreSQL", Some(1)),
        ]);
    }
    let steps = summary["steps"].as_array().expect("steps");
    let named: Vec<(&str, &str, Option<u64>)> = steps
        .iter()
        .map(|s| {
            (
                s["task"].as_str().unwrap_or_default(),
                s["database"].as_str().unwrap_or_default(),
                s["workers"].as_u64(),
            )
        })
        .collect();
    assert_eq!(named, expected);
    for step in steps {
        let roster_s = step["roster_seconds"].as_f64().expect("a time");
        assert!(roster_s > 0.0, "{step}");
        let rate = step["rows_per_second"].as_f64().expect("a rate");
        assert!((rate - 3000.0 / roster_s).abs() < 1e-6, "{step}");
        let kib = step["roster_peak_kib"].as_u64().expect("a peak");
        assert!((1024..300 * 1024).contains(&kib), "{step}");
        // The sweep alone has no baseline.
        if step["task"] == SWEEP {
            assert_eq!(
                (&step["bare_seconds"], &step["ratio"]),
                (&json!(null), &json!(null)),
                "{step}"
            );
            assert_eq!(step["goal"], "at most 1 s", "{step}");
            continue;
        }
        let bare_s = step["bare_seconds"].as_f64().expect("a time");
        assert!(bare_s > 0.0, "{step}");
        let ratio = step["ratio"].as_f64().expect("a ratio");
        assert!((ratio - roster_s / bare_s).abs() < 1e-9, "{step}");
        let kib = step["bare_peak_kib"].as_u64().expect("a peak");
        assert!((1024..300 * 1024).contains(&kib), "{step}");
    }
    // The delivery steps sent every message, or the bench would have
    // failed: the outbox folders are gone, the disk is not filled.
    assert!(!dir.join("outbox-sqlite").exists());

    // The bare loop created the very users roster did, with the same
    // extensions and numbers.
    let users = |db: &str| {
        let url = format!("sqlite://{}", path(&dir.join(db)));
        roster.run(&["--db", &url, "users", "--account", "bench"])
    };
    let (by_roster, by_bare) = (users("roster.db"), users("bare.db"));
    assert_eq!(by_roster.stdout.lines().count(), 3001, "{by_roster:?}");
    assert!(
        by_roster.stdout == by_bare.stdout,
        "the bare loop wrote other users"
    );
}
