//! Many workers, one PostgreSQL database: two `roster worker` processes
//! share one large import's chunks; every row is created exactly once, the
//! counts are exact, and both workers took chunks.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use roster_store::{ImportId, Store};

use crate::util::{Roster, json};

/// A worker process, stopped with SIGTERM when asked, killed if dropped.
struct Worker(Child);

impl Worker {
    fn start(roster: &Roster) -> Worker {
        let child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["worker", "--concurrency", "1"])
            .current_dir(roster.dir.path())
            .env("ROSTER_DATABASE_URL", &roster.db.url)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("a worker starts");
        Worker(child)
    }

    fn terminate(mut self) -> Option<i32> {
        let term = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(term.success());
        self.0.wait().expect("the worker exits").code()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_share_a_large_import_and_create_every_row_once() {
    let Some(roster) = Roster::postgres("two_workers_share_a_large_import").await else {
        return;
    };
    let rows = 50_000;
    let generated = roster.run(&[
        "generate",
        "--rows",
        &rows.to_string(),
        "--csv",
        "users.csv",
        "--account-file",
        "bench.toml",
    ]);
    assert_eq!(generated.code, 0, "{generated:?}");
    assert_eq!(roster.run(&["account", "load", "bench.toml"]).code, 0);
    let queued = roster.run(&[
        "import",
        "--account",
        "bench",
        "--detach",
        "--format",
        "json",
        "--passwords",
        "none",
        "--chunk-rows",
        "5000",
        "users.csv",
    ]);
    assert_eq!(queued.code, 0, "{queued:?}");
    let id = json(&queued)["id"].as_str().expect("an id").to_string();

    let workers = [Worker::start(&roster), Worker::start(&roster)];
    let started = Instant::now();
    let finished = loop {
        let status = json(&roster.run(&["status", &id, "--format", "json"]));
        if status["finished_at"].is_string() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "not finished: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    for worker in workers {
        assert_eq!(worker.terminate(), Some(0), "SIGTERM ends a worker cleanly");
    }
    assert_eq!(
        (
            &finished["state"],
            &finished["processed"],
            &finished["created"],
            &finished["failed"],
            &finished["not_processed"]
        ),
        (
            &serde_json::json!("completed"),
            &serde_json::json!(rows),
            &serde_json::json!(rows),
            &serde_json::json!(0),
            &serde_json::json!(0)
        )
    );

    // Every row once: one user each, one created result each.
    let users = roster.run(&["users", "--account", "bench", "--format", "csv"]);
    assert_eq!(
        users.stdout.lines().count(),
        rows + 1,
        "header and one line per user"
    );
    let results = roster.run(&["results", &id]);
    let created = results
        .stdout
        .lines()
        .filter(|l| l.split(',').nth(1) == Some("created"))
        .count();
    assert_eq!(created, rows);

    // Both workers took chunks.
    let store = Store::open(&roster.db.url).await.expect("the database");
    let import = store
        .existing_import(&ImportId::parse(&id).expect("an id"))
        .await
        .expect("the import");
    let chunks = store.chunks(import.key).await.expect("chunks");
    assert_eq!(chunks.len(), 10);
    assert!(chunks.iter().all(|c| c.done));
    let mut workers: Vec<&str> = chunks.iter().filter_map(|c| c.worker.as_deref()).collect();
    workers.sort_unstable();
    workers.dedup();
    assert_eq!(workers.len(), 2, "chunks by {workers:?}");
    store.close().await;
    roster.db.remove().await;
}
