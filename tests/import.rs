//! `roster import` and the commands around an import: `status`, `results`,
//! `failed-rows`, `stop`, `users` and `worker`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Roster, fixture, import_id, json, path};

#[tokio::test]
async fn import_creates_the_users_and_reports_them_on_both_databases() {
    for roster in Roster::both("import_creates_the_users").await {
        roster.load_demo();
        let out = roster.import_valid_users(&[]);
        assert_eq!(out.code, 0, "{}: {out:?}", roster.db.kind);
        assert!(
            out.stdout
                .contains("progress: 8/8 rows, 8 created, 0 failed"),
            "{}: {}",
            roster.db.kind,
            out.stdout
        );
        assert!(
            out.stdout
                .contains(" completed: 8 created, 0 failed, 0 not processed of 8 rows"),
            "{}",
            out.stdout
        );
        let id = import_id(&out);

        let status = json(&roster.run(&["status", &id, "--format", "json"]));
        let mut keys: Vec<&str> = status
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        // The contract's keys, and roster's extras: the file's name, the
        // password delivery asked for and where its messages are.
        let mut contract = [
            "id",
            "account",
            "state",
            "total",
            "processed",
            "created",
            "updated",
            "unchanged",
            "failed",
            "not_processed",
            "created_at",
            "started_at",
            "finished_at",
            "mode",
            "file_name",
            "passwords",
            "deliveries",
        ];
        keys.sort();
        contract.sort();
        assert_eq!(keys, contract);
        assert_eq!(
            (&status["passwords"], &status["deliveries"]),
            (
                &serde_json::json!("users"),
                &serde_json::json!({"queued": 0, "sent": 8, "failed": 0})
            )
        );
        assert_eq!(
            (
                &status["id"],
                &status["state"],
                &status["total"],
                &status["created"]
            ),
            (
                &serde_json::json!(id),
                &serde_json::json!("completed"),
                &serde_json::json!(8),
                &serde_json::json!(8)
            )
        );

        let users = json(&roster.run(&["users", "--account", "demo", "--format", "json"]));
        let users = users.as_array().expect("an array");
        assert_eq!(
            users.len(),
            10,
            "{}: 8 imported and 2 existing",
            roster.db.kind
        );
        let katherine = users
            .iter()
            .find(|u| u["email"] == "katherine@demo.example")
            .expect("Katherine");
        assert_eq!(
            katherine,
            &serde_json::json!({
                "display_name": "Katherine Johnson", "email": "katherine@demo.example", "role": "supervisor",
                "location": "Denver Office", "extensions": ["7104"],
                "numbers": ["+13035550100", "+13035550101", "+13035550102"]
            })
        );

        let results = roster.run(&["results", &id]);
        assert_eq!(results.code, 0);
        let lines: Vec<&str> = results.stdout.lines().collect();
        assert_eq!(
            lines[0],
            "row,status,email,extension,numbers,errors,delivery,delivery_message"
        );
        assert_eq!(
            lines[1],
            "2,created,ada@demo.example,7101,'+16175550100,,sent,\
             sent; the user must choose a new password at first sign-in"
        );
        assert_eq!(lines.len(), 9);
        roster.db.remove().await;
    }
}

#[test]
fn an_invalid_file_queues_nothing() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let out = roster.run(&[
        "import",
        "--account",
        "demo",
        path(&fixture("every-error.csv")),
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(json(&out)["valid_rows"], 4);
    let users = json(&roster.run(&["users", "--account", "demo", "--format", "json"]));
    assert_eq!(users.as_array().map(Vec::len), Some(2));
}

#[test]
fn a_queued_import_can_be_stopped_and_its_rows_come_back_as_failed_rows() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let queued = roster.run(&[
        "import",
        "--account",
        "demo",
        "--detach",
        "--format",
        "json",
        path(&fixture("valid-users.csv")),
    ]);
    assert_eq!(queued.code, 0, "{queued:?}");
    let id = json(&queued)["id"].as_str().expect("an id").to_string();
    assert_eq!(json(&queued)["state"], "queued");

    // One import at a time per account: the second is refused by name.
    let second = roster.run(&[
        "import",
        "--account",
        "demo",
        "--detach",
        path(&fixture("valid-users.csv")),
    ]);
    assert_eq!(second.code, 2);
    assert_eq!(
        second.stderr,
        format!(
            "error: the account already has an import queued: {id}; wait for it to finish or stop it with `roster stop {id}`\n"
        )
    );

    let stop = roster.run(&["stop", &id]);
    assert_eq!(
        stop.stdout,
        format!("import {id} stopped before it started; no row was processed\n")
    );
    let again = roster.run(&["stop", &id]);
    assert_eq!(
        again.stdout,
        format!("import {id} is already stopped; there is nothing to stop\n")
    );

    let status = json(&roster.run(&["status", &id, "--format", "json"]));
    assert_eq!(
        (&status["state"], &status["not_processed"]),
        (&serde_json::json!("stopped"), &serde_json::json!(8))
    );
    let results = roster.run(&["results", &id, "--format", "json"]);
    let results = json(&results);
    assert_eq!(results.as_array().map(Vec::len), Some(8));
    assert_eq!(
        results[0],
        serde_json::json!({"row": 2, "status": "not_processed", "email": "ada@demo.example", "extension": null, "numbers": [], "errors": [], "delivery": null})
    );

    let failed = roster.run(&["failed-rows", &id]);
    let lines: Vec<&str> = failed.stdout.lines().collect();
    assert_eq!(lines.len(), 9);
    assert!(
        lines[0].ends_with(",Role (Optional),Errors"),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        "Ada Lovelace,ada@demo.example,Ada,Lovelace,Engineer,Engineering,R&D,'+1 (617) 555-0100,,7101,Boston Office,user,not processed: the import was stopped before this row; import the failed-rows file to create it"
    );

    // The failed-rows file imports as it is.
    let file = roster.file("failed.csv", failed.stdout.as_bytes());
    let reimport = roster.run(&["import", "--account", "demo", path(&file)]);
    assert_eq!(reimport.code, 0, "{reimport:?}");
    assert!(
        reimport.stdout.contains("completed: 8 created"),
        "{}",
        reimport.stdout
    );
}

#[test]
fn a_worker_runs_detached_imports_and_stops_on_sigterm() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let queued = roster.run(&[
        "import",
        "--account",
        "demo",
        "--detach",
        "--format",
        "json",
        path(&fixture("valid-users.csv")),
    ]);
    let id = json(&queued)["id"].as_str().expect("an id").to_string();

    // Meanwhile Ada's number goes to another user: her row fails alone.
    let account = std::fs::read_to_string(fixture("demo-account.toml"))
        .expect("demo account")
        .replace(
            "numbers = [\"+16175550150\"]",
            "numbers = [\"+16175550150\", \"+1 (617) 555-0100\"]",
        );
    let changed = roster.file("changed.toml", account.as_bytes());
    assert_eq!(roster.run(&["account", "load", path(&changed)]).code, 0);

    let mut worker = Command::new(env!("CARGO_BIN_EXE_roster"))
        .arg("worker")
        .current_dir(roster.dir.path())
        .env("ROSTER_DATABASE_URL", &roster.db.url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the worker starts");
    let started = Instant::now();
    // The import ends, and the worker sends its users' passwords too.
    let finished = loop {
        let status = json(&roster.run(&["status", &id, "--format", "json"]));
        if status["finished_at"].is_string() && status["deliveries"]["queued"] == 0 {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the worker never finished: {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let term = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(term.success());
    let exit = worker.wait().expect("the worker exits");
    assert_eq!(exit.code(), Some(0), "SIGTERM ends the worker cleanly");
    assert_eq!(
        finished["deliveries"],
        serde_json::json!({"queued": 0, "sent": 7, "failed": 0})
    );
    let messages = std::fs::read_dir(roster.dir.path().join("outbox"))
        .expect("the worker's outbox")
        .count();
    assert_eq!(messages, 7, "one message per user created");

    assert_eq!(
        (
            &finished["state"],
            &finished["created"],
            &finished["failed"]
        ),
        (
            &serde_json::json!("completed_with_errors"),
            &serde_json::json!(7),
            &serde_json::json!(1)
        )
    );
    let failed = roster.run(&["failed-rows", &id]);
    let lines: Vec<&str> = failed.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", failed.stdout);
    assert!(
        lines[1].starts_with("Ada Lovelace,ada@demo.example,"),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with(",number_assigned in Primary Phone Number (Optional): +16175550100 is already assigned to another user; use a number that is parked on the account"), "{}", lines[1]);
}

#[test]
fn ctrl_c_while_following_stops_the_import() {
    use std::io::{BufRead, BufReader};

    let roster = Roster::sqlite();
    let generated = roster.run(&[
        "generate",
        "--rows",
        "20000",
        "--csv",
        "big.csv",
        "--account-file",
        "big.toml",
        "--slug",
        "big",
    ]);
    assert_eq!(generated.code, 0, "{generated:?}");
    assert_eq!(roster.run(&["account", "load", "big.toml"]).code, 0);

    let mut import = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args([
            "import",
            "--account",
            "big",
            "--passwords",
            "none",
            "big.csv",
        ])
        .current_dir(roster.dir.path())
        .env("ROSTER_DATABASE_URL", &roster.db.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the import starts");
    let mut lines = BufReader::new(import.stdout.take().expect("piped stdout")).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("a line");
        let progress = line.starts_with("progress: ");
        seen.push(line);
        if progress {
            break;
        }
    }
    let interrupt = Command::new("kill")
        .args(["-INT", &import.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(interrupt.success());
    seen.extend(lines.map(|l| l.expect("a line")));
    let exit = import.wait().expect("the import exits");
    assert_eq!(
        exit.code(),
        Some(3),
        "stopped with rows not processed: {seen:?}"
    );

    let summary = seen
        .iter()
        .find(|l| l.starts_with("import "))
        .expect("a summary line");
    assert!(summary.contains(" stopped: "), "{summary}");
    let id = summary.split_whitespace().nth(1).expect("an id");
    let status = json(&roster.run(&["status", id, "--format", "json"]));
    let created = status["created"].as_u64().expect("a count");
    assert!(created < 20_000, "{status}");
    assert_eq!(status["not_processed"].as_u64(), Some(20_000 - created));
    let failed_file = seen
        .iter()
        .find(|l| {
            l.contains(
                "were not processed: the import was stopped before them; import failed-rows-",
            )
        })
        .expect("the failed-rows file is named");
    let name = failed_file
        .split_whitespace()
        .find(|w| w.starts_with("failed-rows-"))
        .expect("a file name");
    let written =
        std::fs::read_to_string(roster.dir.path().join(name)).expect("the failed-rows file");
    assert_eq!(written.lines().count() as u64, 20_000 - created + 1);
    let text = roster.run(&["status", id]);
    assert!(
        text.stdout
            .contains("options   mode create, voice services on, passwords none\n"),
        "{}",
        text.stdout
    );
}
