//! Stopping and idling (#13): an idle worker does next to nothing; SIGTERM
//! or Ctrl-C ends `worker` and `import` within seconds, whatever they are
//! doing, and leaves the work in hand to the queue, whole; a second
//! Ctrl-C ends `import` at once.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Roster, Worker};

/// Long enough for any import of these tests on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(300);

/// What the issue promises: every stop within ten seconds.
const PROMPT: Duration = Duration::from_secs(10);

fn count(status: &serde_json::Value, field: &str) -> u64 {
    status["deliveries"][field]
        .as_u64()
        .unwrap_or_else(|| panic!("no deliveries.{field} in {status}"))
}

/// The CPU time the process has used, from `/proc`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the process");
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    let per_second = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(100);
    Duration::from_millis(ticks * 1000 / per_second)
}

fn signal(pid: u32, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
}

/// Whether every group of queued deliveries has a job the queue will run.
async fn none_stranded(roster: &Roster) -> bool {
    let store = roster_store::Store::open(&roster.db.url)
        .await
        .expect("the database");
    // The sweep finds nothing to queue again.
    let stranded = store.requeue_stranded_deliveries().await.expect("a sweep");
    store.close().await;
    stranded == 0
}

/// Regression (#13): apalis fetched on every wake of an idle worker, a
/// thousand times a second (see vendor/README.md), and a worker never went
/// idle.
#[tokio::test(flavor = "multi_thread")]
async fn an_idle_worker_uses_almost_no_cpu() {
    for roster in Roster::both("an_idle_worker_uses_almost_no_cpu").await {
        let worker = Worker::start(&roster, &[]);
        // Past its start: migrations, registering with the queue.
        std::thread::sleep(Duration::from_secs(2));
        let before = cpu_time(worker.pid());
        std::thread::sleep(Duration::from_secs(4));
        let used = cpu_time(worker.pid()) - before;
        assert!(
            used < Duration::from_millis(400),
            "{}: an idle worker used {used:?} of CPU in 4 s",
            roster.db.kind
        );
        assert_eq!(worker.terminate(), Some(0));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_while_sending_ends_the_worker_at_once_and_the_next_sends_the_rest() {
    for roster in Roster::both("sigterm_while_sending").await {
        let rows = 3000;
        roster.generate(rows);
        let id = roster.detach(&["--account", "bench", "users.csv"]);
        // 300 a second: ten seconds of sending.
        let first = Worker::start(&roster, &["--mail-rate", "300"]);
        roster.wait_for(&id, PATIENCE, |s| count(s, "sent") >= 300);
        let asked = Instant::now();
        let pid = first.pid();
        assert_eq!(first.terminate(), Some(0), "{}", roster.db.kind);
        let took = asked.elapsed();
        assert!(took < PROMPT, "{}: stopped after {took:?}", roster.db.kind);

        let left = roster.status(&id);
        assert!(count(&left, "queued") > 0, "stopped before the end: {left}");
        assert_eq!(
            count(&left, "queued") + count(&left, "sent"),
            rows as u64,
            "{left}"
        );
        assert!(
            none_stranded(&roster).await,
            "{}: what worker {pid} left has its job",
            roster.db.kind
        );

        let second = Worker::start(&roster, &[]);
        let done = roster.wait_for(&id, PATIENCE, |s| count(s, "queued") == 0);
        assert_eq!(second.terminate(), Some(0));
        assert_eq!(
            (count(&done, "sent"), count(&done, "failed")),
            (rows as u64, 0),
            "{done}"
        );
        roster.db.remove().await;
    }
}

/// A worker that starts on a large queue whose jobs were all dropped
/// sweeps it (one job queued again per group of deliveries) and begins to
/// send; SIGTERM then ends it within seconds.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_after_a_sweep_over_a_large_queue_ends_the_worker_at_once() {
    for roster in Roster::both("sigterm_after_a_sweep").await {
        let rows = 20_000;
        roster.generate(rows);
        let id = roster.detach(&["--account", "bench", "users.csv"]);
        let importer = Worker::start(&roster, &["--mail-rate", "1"]);
        roster.wait_for(&id, PATIENCE, |s| s["finished_at"].is_string());
        assert_eq!(importer.terminate(), Some(0));

        // Every password job ran out of attempts on roster's own errors.
        let store = roster_store::Store::open(&roster.db.url)
            .await
            .expect("the database");
        let dropped = match store.pool() {
            roster_store::Pool::Sqlite(pool) => sqlx::query(
                "UPDATE Jobs SET status = 'Failed', attempts = max_attempts \
                 WHERE job_type = 'roster-passwords' AND status <> 'Done'",
            )
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
            roster_store::Pool::Postgres(pool) => sqlx::query(
                "UPDATE apalis.jobs SET status = 'Failed', attempts = max_attempts \
                 WHERE job_type = 'roster-passwords' AND status <> 'Done'",
            )
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        }
        .expect("dropping the jobs");
        store.close().await;
        assert!(dropped > 0, "{}", roster.db.kind);

        let worker = Worker::start(&roster, &["--mail-rate", "100"]);
        roster.wait_for(&id, PATIENCE, |s| count(s, "sent") >= 100);
        let asked = Instant::now();
        let log = worker.logged();
        assert!(
            log.contains("password deliveries without a job queued again"),
            "{log}"
        );
        assert_eq!(worker.terminate(), Some(0), "{log}");
        let took = asked.elapsed();
        assert!(took < PROMPT, "{}: stopped after {took:?}", roster.db.kind);
        assert!(none_stranded(&roster).await, "{}", roster.db.kind);
        roster.db.remove().await;
    }
}

/// A relay that takes connections and never says a word: a message sent
/// there waits as long as the client lets it.
fn silent_relay() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("smtp://{}", listener.local_addr().expect("an address"));
    (listener, url)
}

/// `roster import` on 2,000 users as a child process, with `flags`, its
/// standard output read line by line; returns once it says it is sending.
fn import_that_sends(
    roster: &Roster,
    flags: &[&str],
) -> (
    std::process::Child,
    Vec<String>,
    impl Iterator<Item = String> + use<>,
) {
    roster.generate(2000);
    let mut import = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["import", "--account", "bench"])
        .args(flags)
        .arg("users.csv")
        .current_dir(roster.dir.path())
        .env("ROSTER_DATABASE_URL", &roster.db.url)
        .env_remove("ROSTER_SMTP_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the import starts");
    let mut lines = BufReader::new(import.stdout.take().expect("piped stdout"))
        .lines()
        .map(|l| l.expect("a line"));
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let sending = line.starts_with("sending ");
        seen.push(line);
        if sending {
            break;
        }
    }
    (import, seen, lines)
}

#[test]
fn ctrl_c_while_sending_leaves_the_rest_queued_and_returns_within_seconds() {
    let roster = Roster::sqlite();
    // 200 a second into the outbox folder: ten seconds of sending.
    let (mut import, mut seen, lines) = import_that_sends(&roster, &["--mail-rate", "200"]);
    std::thread::sleep(Duration::from_secs(1));
    let asked = Instant::now();
    signal(import.id(), "INT");
    seen.extend(lines);
    let exit = import.wait().expect("the import exits");
    let took = asked.elapsed();
    assert!(took < PROMPT, "returned after {took:?}: {seen:?}");
    // The users were all created: what is left is mail.
    assert_eq!(exit.code(), Some(0), "{seen:?}");
    let queued = seen
        .iter()
        .find_map(|l| l.strip_suffix(" messages are still queued: `roster worker` sends them"))
        .unwrap_or_else(|| panic!("no word of what stays queued: {seen:?}"));
    let queued: u64 = queued.parse().expect("a count");
    assert!(queued > 0 && queued < 2000, "{queued}");
}

#[test]
fn ctrl_c_while_a_relay_hangs_returns_within_seconds_and_a_second_at_once() {
    let (_relay, url) = silent_relay();
    for second in [false, true] {
        let roster = Roster::sqlite();
        let (mut import, _, _lines) = import_that_sends(&roster, &["--smtp-url", &url]);
        std::thread::sleep(Duration::from_millis(500));
        signal(import.id(), "INT");
        let asked = Instant::now();
        if second {
            std::thread::sleep(Duration::from_millis(200));
            signal(import.id(), "INT");
        }
        let exit = import.wait().expect("the import exits");
        let took = asked.elapsed();
        if second {
            assert!(took < Duration::from_secs(2), "after {took:?}");
            assert_eq!(exit.code(), Some(130));
        } else {
            assert!(took < PROMPT, "after {took:?}");
            assert_eq!(exit.code(), Some(0));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_while_a_relay_hangs_ends_the_worker_within_seconds() {
    let (_relay, url) = silent_relay();
    let roster = Roster::sqlite();
    roster.generate(100);
    let id = roster.detach(&["--account", "bench", "users.csv"]);
    let worker = Worker::start(&roster, &["--smtp-url", &url]);
    roster.wait_for(&id, PATIENCE, |s| s["finished_at"].is_string());
    std::thread::sleep(Duration::from_millis(500));
    let asked = Instant::now();
    assert_eq!(worker.terminate(), Some(0));
    let took = asked.elapsed();
    assert!(took < PROMPT, "stopped after {took:?}");
    let left = roster.status(&id);
    assert_eq!(count(&left, "queued"), 100, "{left}");
    assert!(
        none_stranded(&roster).await,
        "what the worker held went back"
    );
}
