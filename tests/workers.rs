//! Many workers, one PostgreSQL database: two `roster worker` processes
//! share one large import's chunks; every row is created exactly once, the
//! counts are exact, and both workers took chunks.

use std::time::Duration;

use roster_store::{ImportId, Store};

use crate::util::{Roster, Worker};

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_share_a_large_import_and_create_every_row_once() {
    let Some(roster) = Roster::postgres("two_workers_share_a_large_import").await else {
        return;
    };
    let rows = 50_000;
    roster.generate(rows);
    let id = roster.detach(&[
        "--account",
        "bench",
        "--passwords",
        "none",
        "--chunk-rows",
        "5000",
        "users.csv",
    ]);

    let workers = [
        Worker::start(&roster, &["--concurrency", "1"]),
        Worker::start(&roster, &["--concurrency", "1"]),
    ];
    let finished = roster.wait_for(&id, Duration::from_secs(300), |s| {
        s["finished_at"].is_string()
    });
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
