//! Fairness between accounts (#13): a small import of one account, its
//! rows and its passwords, is not held up behind a large one of another:
//! each import's first chunks and first groups of messages come before any
//! import's later ones.

use std::time::Duration;

use crate::util::{Roster, Worker, fixture, path};

const PATIENCE: Duration = Duration::from_secs(300);

fn number(status: &serde_json::Value, field: &str) -> u64 {
    status["deliveries"][field]
        .as_u64()
        .unwrap_or_else(|| panic!("no deliveries.{field} in {status}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_small_import_and_its_passwords_go_through_while_a_large_one_is_queued() {
    for roster in Roster::both("a_small_import_goes_through").await {
        let rows = 20_000;
        roster.generate(rows);
        roster.load_demo();
        // 200 messages a second: the large import's take 100 s.
        let worker = Worker::start(&roster, &["--mail-rate", "200"]);
        let large = roster.detach(&["--account", "bench", "--chunk-rows", "1000", "users.csv"]);
        roster.wait_for(&large, PATIENCE, |s| number(s, "sent") >= 200);

        let small = roster.detach(&["--account", "demo", path(&fixture("valid-users.csv"))]);
        let done = roster.wait_for(&small, PATIENCE, |s| {
            s["finished_at"].is_string() && number(s, "queued") == 0
        });
        let now = roster.status(&large);
        assert_eq!(
            (&done["state"], number(&done, "sent")),
            (&serde_json::json!("completed"), 8),
            "{}: {done}",
            roster.db.kind
        );
        assert!(
            number(&now, "queued") > 10_000,
            "{}: the small import waited for most of the large one: {now}",
            roster.db.kind
        );
        assert_eq!(worker.terminate(), Some(0));
        roster.db.remove().await;
    }
}
