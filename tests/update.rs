//! Update mode from the command line, on both databases: an export of the
//! account's users is a plan of nothing; edited, it is a plan of exactly
//! the edits, which an import applies; applied again, it changes nothing.
//! And a worker killed while it applies a plan leaves every user either as
//! before its row or as after it.

use std::collections::HashMap;
use std::time::Duration;

use crate::util::{Roster, Worker, json};

/// The rows of an exported CSV (generated cells hold no comma or quote).
fn rows(csv: &str) -> Vec<Vec<String>> {
    csv.lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn csv(rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    for row in rows {
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// The columns of the template, as the export writes them.
const DEPARTMENT: usize = 5;
const EXTENSION: usize = 9;

/// The account's users as exported, by email.
fn exported(roster: &Roster) -> (String, HashMap<String, Vec<String>>) {
    let out = roster.run(&["users", "--account", "bench", "--format", "csv"]);
    assert_eq!(out.code, 0, "{out:?}");
    let by_email = rows(&out.stdout)
        .into_iter()
        .skip(1)
        .map(|r| (r[1].clone(), r))
        .collect();
    (out.stdout, by_email)
}

fn plan_of(roster: &Roster, file: &str) -> serde_json::Value {
    let out = roster.run(&[
        "validate",
        "--account",
        "bench",
        "--mode",
        "upsert",
        "--format",
        "json",
        file,
    ]);
    assert_eq!(out.code, 0, "{}: {out:?}", roster.db.kind);
    json(&out)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_edited_and_imported_applies_exactly_the_edits() {
    for roster in Roster::both("export_round_trip").await {
        let rows_in_file = 1_000;
        roster.generate(rows_in_file);
        let created = roster.run(&[
            "import",
            "--account",
            "bench",
            "--passwords",
            "none",
            "users.csv",
        ]);
        assert_eq!(created.code, 0, "{created:?}");

        // Unedited, the export plans nothing.
        let (export, before) = exported(&roster);
        roster.file("export.csv", export.as_bytes());
        let plan = plan_of(&roster, "export.csv");
        assert_eq!(
            plan["plan"],
            serde_json::json!({"create": 0, "update": 0, "unchanged": rows_in_file}),
            "{}",
            roster.db.kind
        );

        // Edited: every tenth user moves department, and pairs of users
        // swap extensions; one new user.
        let mut edited = rows(&export);
        for (i, row) in edited.iter_mut().enumerate().skip(1) {
            if i % 10 == 0 {
                row[DEPARTMENT] = "Moved".to_string();
            }
        }
        for i in (1..=20).step_by(2) {
            let (a, b) = (
                edited[i][EXTENSION].clone(),
                edited[i + 1][EXTENSION].clone(),
            );
            edited[i][EXTENSION] = b;
            edited[i + 1][EXTENSION] = a;
        }
        let mut new = vec![String::new(); edited[0].len()];
        new[0] = "New Person".to_string();
        new[1] = "new.person@bench.example".to_string();
        edited.push(new);
        roster.file("edited.csv", csv(&edited).as_bytes());
        let plan = plan_of(&roster, "edited.csv");
        let moved = (1..=rows_in_file).filter(|i| i % 10 == 0).count();
        // The swapped rows that also moved department are counted once.
        let swapped_only = (1..=20).filter(|i| i % 10 != 0).count();
        assert_eq!(
            plan["plan"],
            serde_json::json!({
                "create": 1,
                "update": moved + swapped_only,
                "unchanged": rows_in_file - moved - swapped_only
            }),
            "{}",
            roster.db.kind
        );
        let swap = plan["actions"]
            .as_array()
            .expect("actions")
            .iter()
            .find(|a| a["row"] == 2)
            .expect("row 2's action");
        assert_eq!(
            swap["changes"],
            serde_json::json!([{
                "column": "Extension (Optional)",
                "from": edited[2][EXTENSION],
                "to": edited[1][EXTENSION]
            }]),
            "{}",
            roster.db.kind
        );

        let applied = roster.run(&[
            "import",
            "--account",
            "bench",
            "--mode",
            "upsert",
            "--passwords",
            "none",
            "--format",
            "json",
            "edited.csv",
        ]);
        assert_eq!(applied.code, 0, "{applied:?}");
        let status = json(&applied);
        assert_eq!(
            (
                &status["created"],
                &status["updated"],
                &status["unchanged"],
                &status["failed"]
            ),
            (
                &serde_json::json!(1),
                &serde_json::json!(moved + swapped_only),
                &serde_json::json!(rows_in_file - moved - swapped_only),
                &serde_json::json!(0)
            ),
            "{}",
            roster.db.kind
        );
        let (_, after) = exported(&roster);
        assert_eq!(after.len(), rows_in_file + 1);
        for row in &edited[1..edited.len() - 1] {
            let user = &after[&row[1]];
            let old = &before[&row[1]];
            // Exactly the edits: the edited cells, the rest as before.
            for (column, cell) in row.iter().enumerate() {
                let expected = if column == DEPARTMENT || column == EXTENSION {
                    cell
                } else {
                    &old[column]
                };
                assert_eq!(&user[column], expected, "{} column {column}", row[1]);
            }
        }

        // Again: nothing changes.
        let plan = plan_of(&roster, "edited.csv");
        assert_eq!(
            plan["plan"],
            serde_json::json!({"create": 0, "update": 0, "unchanged": rows_in_file + 1}),
            "{}",
            roster.db.kind
        );
        roster.db.remove().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_update_leaves_every_user_before_or_after_its_row() {
    for roster in Roster::both("a_worker_killed_mid_update").await {
        let rows_in_file = 30_000;
        roster.generate(rows_in_file);
        let created = roster.run(&[
            "import",
            "--account",
            "bench",
            "--passwords",
            "none",
            "users.csv",
        ]);
        assert_eq!(created.code, 0, "{created:?}");
        let (export, before) = exported(&roster);
        // Every user moves department and to a new extension.
        let mut edited = rows(&export);
        for row in edited.iter_mut().skip(1) {
            row[DEPARTMENT] = "After".to_string();
            let old: u64 = row[EXTENSION].parse().expect("an extension");
            row[EXTENSION] = (old + 1_000_000).to_string();
        }
        roster.file("edited.csv", csv(&edited).as_bytes());
        let id = roster.detach(&[
            "--account",
            "bench",
            "--mode",
            "update",
            "--passwords",
            "none",
            "--chunk-rows",
            "5000",
            "edited.csv",
        ]);
        let patience = Duration::from_secs(300);
        let first = Worker::start(&roster, &["--orphan-after", "3"]);
        roster.wait_for(&id, patience, |s| s["processed"].as_u64() >= Some(4_000));
        first.kill();

        // Every user as before its row or as after it, never between.
        let whole = |after_rows: Option<u64>| {
            let (_, now) = exported(&roster);
            let mut updated = 0;
            for row in &edited[1..] {
                let user = &now[&row[1]];
                let old = &before[&row[1]];
                if user == row {
                    updated += 1;
                } else {
                    assert_eq!(user, old, "{} is between before and after", row[1]);
                }
            }
            if let Some(rows) = after_rows {
                assert_eq!(updated, rows, "{}", roster.db.kind);
            }
            updated
        };
        let left = roster.status(&id);
        let updated = whole(None);
        assert_eq!(
            Some(updated),
            left["updated"].as_u64(),
            "{}: {left}",
            roster.db.kind
        );
        assert!(updated < rows_in_file as u64, "killed before the end");

        let second = Worker::start(&roster, &["--orphan-after", "3"]);
        let done = roster.wait_for(&id, patience, |s| s["finished_at"].is_string());
        assert_eq!(second.terminate(), Some(0));
        assert_eq!(done["state"], "completed", "{done}");
        assert_eq!(
            done["updated"].as_u64(),
            Some(rows_in_file as u64),
            "{done}"
        );
        whole(Some(rows_in_file as u64));
        roster.db.remove().await;
    }
}
