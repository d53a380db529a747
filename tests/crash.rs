//! Crashes and faults: a worker killed with SIGKILL mid-import or mid-way
//! through sending passwords, and PostgreSQL connections cut mid-batch.
//! After each, the import ends with exact counts, every row of the file is
//! one whole user (its extension and numbers with it), no extension or
//! number is given twice, and every user has one working password.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use roster_mail::testing::password_in;
use roster_mail::verify_password;
use roster_store::testing::Cut;

use crate::util::{Roster, Worker, json};

/// Long enough for any import of these tests on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(300);

/// Every worker of a test holds and judges work by the same time: the
/// shortest there is, so a dead worker's work is taken over in seconds.
const ORPHAN_AFTER: [&str; 2] = ["--orphan-after", "3"];

/// Queues an import of the generated `users.csv` and returns its id.
fn queue(roster: &Roster, passwords: &str, chunk_rows: usize) -> String {
    let chunk_rows = chunk_rows.to_string();
    roster.detach(&[
        "--account",
        "bench",
        "--passwords",
        passwords,
        "--chunk-rows",
        &chunk_rows,
        "users.csv",
    ])
}

fn count(status: &serde_json::Value, field: &str) -> u64 {
    status[field]
        .as_u64()
        .unwrap_or_else(|| panic!("no {field} in {status}"))
}

/// The users of the account, by lower-cased email, with their extensions
/// and numbers.
fn users(roster: &Roster) -> HashMap<String, (Vec<String>, Vec<String>)> {
    let out = roster.run(&["users", "--account", "bench", "--format", "json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let strings = |v: &serde_json::Value| -> Vec<String> {
        let mut list: Vec<String> = v
            .as_array()
            .expect("a list")
            .iter()
            .map(|s| s.as_str().expect("a string").to_string())
            .collect();
        list.sort();
        list
    };
    let list = json(&out);
    let list = list.as_array().expect("a list of users");
    let mut by_email = HashMap::new();
    for user in list {
        let email = user["email"].as_str().expect("an email").to_lowercase();
        let entry = (strings(&user["extensions"]), strings(&user["numbers"]));
        assert!(
            by_email.insert(email.clone(), entry).is_none(),
            "{email} listed twice"
        );
    }
    by_email
}

/// Checks that the users are the first `created` rows' worth of the file,
/// each whole: the rows of `users.csv` that have a user have it with the
/// file's numbers and extension (or one assigned), no user is not in the
/// file, and no extension or number belongs to two users. Returns how many
/// users there are.
fn assert_users_whole(roster: &Roster) -> usize {
    let users = users(roster);
    let file = std::fs::read_to_string(roster.dir.path().join("users.csv")).expect("users.csv");
    let mut in_file = HashSet::new();
    for line in file.lines().skip(1) {
        // Generated rows hold no quotes or commas inside cells.
        let cells: Vec<&str> = line.split(',').collect();
        let email = cells[1].to_lowercase();
        in_file.insert(email.clone());
        let Some((extensions, numbers)) = users.get(&email) else {
            continue;
        };
        let mut expected: Vec<String> = [cells[7]]
            .into_iter()
            .chain(cells[8].split(';'))
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        expected.sort();
        assert_eq!(numbers, &expected, "{email}: numbers");
        match cells[9] {
            "" => assert_eq!(extensions.len(), 1, "{email}: one assigned extension"),
            named => assert_eq!(extensions, &[named.to_string()], "{email}: extension"),
        }
    }
    let mut extensions = HashSet::new();
    let mut numbers = HashSet::new();
    for (email, (exts, nums)) in &users {
        assert!(in_file.contains(email), "{email} is in no row of the file");
        for e in exts {
            assert!(extensions.insert(e.clone()), "extension {e} given twice");
        }
        for n in nums {
            assert!(numbers.insert(n.clone()), "number {n} given twice");
        }
    }
    users.len()
}

/// The `created` results of the import.
fn created_results(roster: &Roster, id: &str) -> usize {
    let results = roster.run(&["results", id]);
    assert_eq!(results.code, 0, "{results:?}");
    results
        .stdout
        .lines()
        .filter(|l| l.split(',').nth(1) == Some("created"))
        .count()
}

/// The end every test here expects: the import completed, every row once.
fn assert_completed(roster: &Roster, id: &str, rows: usize) {
    let status = roster.status(id);
    assert_eq!(status["state"], "completed", "{}: {status}", roster.db.kind);
    for (field, expected) in [
        ("processed", rows),
        ("created", rows),
        ("failed", 0),
        ("not_processed", 0),
    ] {
        assert_eq!(count(&status, field), expected as u64, "{field}: {status}");
    }
    assert_eq!(assert_users_whole(roster), rows, "one user per row");
    assert_eq!(created_results(roster, id), rows, "one result per row");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_import_leaves_whole_rows_and_the_next_worker_finishes() {
    for roster in Roster::both("a_worker_killed_mid_import").await {
        let rows = 30_000;
        roster.generate(rows);
        let id = queue(&roster, "none", 5_000);

        let first = Worker::start(&roster, &ORPHAN_AFTER);
        roster.wait_for(&id, PATIENCE, |s| count(s, "processed") >= 4_000);
        first.kill();

        // What the dead worker left: whole rows, each with its result.
        let left = roster.status(&id);
        assert_eq!(left["state"], "running", "{}: {left}", roster.db.kind);
        assert!(
            count(&left, "processed") < rows as u64,
            "the worker was killed before the end: {left}"
        );
        let users = assert_users_whole(&roster);
        assert_eq!(users as u64, count(&left, "created"), "{left}");
        assert_eq!(created_results(&roster, &id), users);

        let second = Worker::start(&roster, &ORPHAN_AFTER);
        let pid = second.pid().to_string();
        roster.wait_for(&id, PATIENCE, |s| s["finished_at"].is_string());
        let log = second.logged();
        assert_eq!(second.terminate(), Some(0), "{log}");
        assert_completed(&roster, &id, rows);

        // The second worker took over the chunk the first one held.
        let store = roster_store::Store::open(&roster.db.url)
            .await
            .expect("the database");
        let import = store
            .existing_import(&roster_store::ImportId::parse(&id).expect("an id"))
            .await
            .expect("the import");
        let chunks = store.chunks(import.key).await.expect("chunks");
        assert!(chunks.iter().all(|c| c.done));
        assert!(
            chunks
                .iter()
                .any(|c| c.worker.as_deref().is_some_and(|w| w.contains(&pid))),
            "no chunk by the second worker: {chunks:?}"
        );
        store.close().await;
        roster.db.remove().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_while_sending_leaves_every_user_one_working_password() {
    for roster in Roster::both("a_worker_killed_while_sending").await {
        let rows = 2000;
        roster.generate(rows);
        let id = queue(&roster, "users", 100);
        // At most this many messages are in flight when the worker dies: the
        // only ones that may go twice (delivery is at least once). Each
        // chunk's 100 users are a group, sent and settled as one slice, and
        // the worker sends two groups at once.
        let in_flight = 2 * 100;
        // Slow enough (200 a second, 10 s in all) to be killed half-way.
        let flags = [
            &ORPHAN_AFTER[..],
            &["--mail-concurrency", "2", "--mail-rate", "200"],
        ]
        .concat();

        let first = Worker::start(&roster, &flags);
        roster.wait_for(&id, PATIENCE, |s| count(&s["deliveries"], "sent") >= 400);
        first.kill();
        let left = roster.status(&id);
        assert!(
            count(&left["deliveries"], "sent") < rows as u64,
            "killed before the last message: {left}"
        );

        let second = Worker::start(&roster, &flags);
        let done = roster.wait_for(&id, PATIENCE, |s| {
            s["finished_at"].is_string() && count(&s["deliveries"], "queued") == 0
        });
        let log = second.logged();
        assert_eq!(second.terminate(), Some(0), "{log}");
        assert_eq!(count(&done["deliveries"], "sent"), rows as u64, "{done}");
        assert_eq!(count(&done["deliveries"], "failed"), 0, "{done}");
        assert_completed(&roster, &id, rows);

        // Every user has a message; the password of exactly one of a
        // user's messages works.
        let mut messages: HashMap<String, Vec<String>> = HashMap::new();
        for entry in std::fs::read_dir(roster.dir.path().join("outbox")).expect("the outbox") {
            let path = entry.expect("an entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with('.') {
                continue; // a message the kill cut short, never renamed
            }
            let text = std::fs::read_to_string(&path).expect("a message");
            let to = text
                .lines()
                .find_map(|l| l.strip_prefix("To: "))
                .expect("a recipient");
            // `Name <address>` or a bare address.
            let to = to
                .rsplit_once('<')
                .map_or(to, |(_, address)| address.trim_end_matches('>'))
                .trim()
                .to_lowercase();
            let password = password_in(&text.replace("=\r\n", "")).expect("a password");
            messages.entry(to).or_default().push(password);
        }
        assert_eq!(messages.len(), rows, "a message to every user");
        let twice = messages.values().filter(|m| m.len() > 1).count();
        assert!(twice <= in_flight, "{twice} users got two messages");
        let store = roster_store::Store::open(&roster.db.url)
            .await
            .expect("the database");
        let slug = roster_store::AccountSlug::parse("bench").expect("a slug");
        let account = store.existing_account(&slug).await.expect("the account");
        for (to, passwords) in &messages {
            let stored = store
                .stored_password(&account, to)
                .await
                .expect("read")
                .expect("the user");
            assert!(stored.must_change, "{to}");
            let hash = stored.hash.expect("a password");
            let working = passwords
                .iter()
                .filter(|p| verify_password(p, &hash))
                .count();
            assert_eq!(working, 1, "{to}: {} messages", passwords.len());
        }
        store.close().await;
        roster.db.remove().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_cut_mid_batch_roll_back_and_the_import_goes_on() {
    let Some(roster) = Roster::postgres("connections_cut_mid_batch").await else {
        return;
    };
    let rows = 30_000;
    roster.generate(rows);
    let id = queue(&roster, "none", 10_000);
    let mut workers = vec![Worker::start(&roster, &ORPHAN_AFTER)];

    // Twice a batch's transaction, then every connection, the queue's too.
    let mut cut = 0;
    for (at, which) in [
        (3_000, Cut::Writing),
        (12_000, Cut::Writing),
        (21_000, Cut::All),
    ] {
        roster.wait_for(&id, PATIENCE, |s| count(s, "processed") >= at);
        cut += roster.db.cut_connections(which).await;
    }
    assert!(cut >= 3, "connections were cut: {cut}");

    let done = loop {
        let status = roster.status(&id);
        if status["finished_at"].is_string() {
            break status;
        }
        // A worker whose queue lost its connection exits; another starts.
        if let Some(worker) = workers.last_mut()
            && worker.exited().is_some()
        {
            workers.push(Worker::start(&roster, &ORPHAN_AFTER));
        }
        assert!(workers.len() < 5, "workers keep dying");
        std::thread::sleep(Duration::from_millis(100));
    };
    let logs: String = workers.iter().map(Worker::logged).collect();
    assert!(
        logs.contains("import job failed"),
        "a cut batch is retried: {logs}"
    );
    assert_eq!(done["state"], "completed", "{done}\n{logs}");
    assert_completed(&roster, &id, rows);
    roster.db.remove().await;
}
