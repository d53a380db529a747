//! Undo from the command line, on both databases: `roster undo` exits as
//! `import` does (0 every row undone, 3 some not, 2 refused); the
//! directory is as before the import; and a worker killed mid-undo leaves
//! every batch undone whole or not at all, which a second worker finishes,
//! undoing every row exactly once.

use std::time::Duration;

use crate::util::{Roster, Worker, import_id, json};

/// `roster users --account ACCOUNT`: the users with their extensions and
/// numbers.
fn users(roster: &Roster, account: &str) -> String {
    let out = roster.run(&["users", "--account", account, "--format", "csv"]);
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn roster_undo_exits_as_import_does_and_restores_the_users() {
    for roster in Roster::both("roster_undo_exits").await {
        roster.load_demo();
        let before = users(&roster, "demo");
        let imported = roster.import_valid_users(&["--passwords", "none"]);
        assert_eq!(imported.code, 0, "{imported:?}");
        let id = import_id(&imported);
        assert_ne!(users(&roster, "demo"), before);

        let undone = roster.run(&["undo", &id[..8]]);
        assert_eq!(undone.code, 0, "{}: {undone:?}", roster.db.kind);
        assert!(
            undone
                .stdout
                .contains("completed: 8 undone, 0 not undone of 8 rows"),
            "{undone:?}"
        );
        assert_eq!(users(&roster, "demo"), before, "{}", roster.db.kind);
        let status = roster.status(&id);
        assert_eq!(status["undo"]["state"], "completed", "{status}");
        assert_eq!(status["undo"]["undone"], 8, "{status}");
        assert_eq!(status["undo"]["not_undone"], 0, "{status}");
        assert!(status["undo"]["finished_at"].is_string(), "{status}");

        let twice = roster.run(&["undo", &id]);
        assert_eq!(twice.code, 2, "{twice:?}");
        assert!(twice.stderr.contains("undone already"), "{twice:?}");

        // The same users again, then one of them changed by a later import:
        // that row is not undone, and the undo exits 3.
        let again = roster.import_valid_users(&["--passwords", "none"]);
        assert_eq!(again.code, 0, "{again:?}");
        let again = import_id(&again);
        let change = roster.file(
            "change.csv",
            b"Email Address (Mandatory),Job Title (Optional)\nada@demo.example,Countess\n",
        );
        let changed = roster.run(&[
            "import",
            "--account",
            "demo",
            "--mode",
            "update",
            "--passwords",
            "none",
            crate::util::path(&change),
        ]);
        assert_eq!(changed.code, 0, "{changed:?}");
        let partly = roster.run(&["undo", &again, "--format", "json"]);
        assert_eq!(partly.code, 3, "{}: {partly:?}", roster.db.kind);
        let status = json(&partly);
        assert_eq!(status["undo"]["state"], "completed_with_errors", "{status}");
        assert_eq!(status["undo"]["undone"], 7, "{status}");
        assert_eq!(status["undo"]["not_undone"], 1, "{status}");
        let results = json(&roster.run(&["results", &again, "--format", "json"]));
        let ada = results
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["email"] == "ada@demo.example"))
            .cloned()
            .expect("Ada's row");
        assert_eq!(ada["undo"]["status"], "not_undone", "{ada}");
        assert_eq!(ada["undo"]["code"], "changed_since_import", "{ada}");
        assert!(
            ada["undo"]["message"].as_str().is_some_and(|m| m.contains(
                "Job Title (Optional) was 'Engineer' after the import, is 'Countess' now"
            )),
            "{ada}"
        );
        assert!(users(&roster, "demo").contains("ada@demo.example"));

        // An import still queued cannot be undone: stop it first.
        let new = roster.file(
            "new.csv",
            b"Display Name (Mandatory),Email Address (Mandatory)\nNew,new@demo.example\n",
        );
        let queued = roster.detach(&[
            "--account",
            "demo",
            "--passwords",
            "none",
            crate::util::path(&new),
        ]);
        let early = roster.run(&["undo", &queued]);
        assert_eq!(early.code, 2, "{early:?}");
        assert!(early.stderr.contains("still queued"), "{early:?}");
        roster.db.remove().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_undo_then_a_second_one_undoes_every_row_once() {
    for roster in Roster::both("a_worker_killed_mid_undo").await {
        let rows = 30_000u64;
        roster.generate(rows as usize);
        let before = users(&roster, "bench");
        let args = [
            "import",
            "--account",
            "bench",
            "--passwords",
            "none",
            "--chunk-rows",
            "5000",
            "users.csv",
        ];
        let created = roster.run(&args);
        assert_eq!(created.code, 0, "{created:?}");
        let id = import_id(&created);

        let queued = roster.run(&["undo", &id, "--detach", "--format", "json"]);
        assert_eq!(queued.code, 0, "{queued:?}");
        assert_eq!(json(&queued)["undo"]["state"], "queued");
        let patience = Duration::from_secs(300);
        let first = Worker::start(&roster, &["--orphan-after", "3"]);
        roster.wait_for(&id, patience, |s| {
            s["undo"]["undone"].as_u64() >= Some(4_000)
        });
        first.kill();

        // Each batch is undone whole or not at all: the users left are
        // exactly those the undo has not counted.
        let left = roster.status(&id);
        let undone = left["undo"]["undone"].as_u64().expect("a count");
        assert!(
            undone < rows,
            "{}: killed before the end: {left}",
            roster.db.kind
        );
        let remaining = users(&roster, "bench").lines().count() as u64 - 1;
        assert_eq!(remaining, rows - undone, "{}: {left}", roster.db.kind);

        let second = Worker::start(&roster, &["--orphan-after", "3"]);
        let done = roster.wait_for(&id, patience, |s| s["undo"]["finished_at"].is_string());
        assert_eq!(second.terminate(), Some(0));
        assert_eq!(done["undo"]["state"], "completed", "{done}");
        assert_eq!(done["undo"]["undone"].as_u64(), Some(rows), "{done}");
        assert_eq!(done["undo"]["not_undone"].as_u64(), Some(0), "{done}");
        assert_eq!(users(&roster, "bench"), before, "{}", roster.db.kind);

        // Every number is parked again and every extension free: the same
        // file imports whole a second time.
        let again = roster.run(&args);
        assert_eq!(again.code, 0, "{}: {again:?}", roster.db.kind);
        let again = roster.status(&import_id(&again));
        assert_eq!(again["created"].as_u64(), Some(rows), "{again}");
        roster.db.remove().await;
    }
}
