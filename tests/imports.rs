//! `roster imports` (an account's import history) and import ids given by a
//! unique prefix, as git takes a commit's (issue #14).

use crate::util::{Roster, import_id, json};

/// A file of two valid rows for the demo account.
const TWO: &str = "\
Display Name (Mandatory),Email Address (Mandatory)
New One,one@demo.example
New Two,two@demo.example
";

#[tokio::test]
async fn imports_lists_an_accounts_imports_newest_first_on_both_databases() {
    for roster in Roster::both("imports_lists_newest_first").await {
        let kind = roster.db.kind;
        roster.load_demo();
        let none = roster.run(&["imports", "--account", "demo"]);
        assert_eq!(
            (none.code, none.stdout.as_str(), none.stderr.as_str()),
            (0, "account demo has no imports yet\n", ""),
            "{kind}"
        );
        let none = roster.run(&["imports", "--account", "demo", "--format", "json"]);
        assert_eq!((none.code, none.stdout.as_str()), (0, "[]\n"), "{kind}");

        // Stopped before it started, completed, and queued.
        roster.file("two.csv", TWO.as_bytes());
        let stopped = roster.detach(&["--account", "demo", "two.csv"]);
        assert_eq!(roster.run(&["stop", &stopped]).code, 0, "{kind}");
        let completed = roster.import_valid_users(&[]);
        assert_eq!(completed.code, 0, "{kind}: {completed:?}");
        let completed = import_id(&completed);
        let queued = roster.detach(&["--account", "demo", "two.csv"]);

        let listed = roster.run(&["imports", "--account", "demo", "--format", "json"]);
        assert_eq!(listed.code, 0, "{kind}: {listed:?}");
        let listed = json(&listed);
        let statuses: Vec<serde_json::Value> = [&queued, &completed, &stopped]
            .into_iter()
            .map(|id| roster.status(id))
            .collect();
        assert_eq!(listed, serde_json::Value::from(statuses), "{kind}");
        let counts: Vec<_> = listed
            .as_array()
            .expect("a list")
            .iter()
            .map(|s| {
                (
                    s["state"].as_str().expect("a state"),
                    ["total", "processed", "created", "failed", "not_processed"]
                        .map(|n| s[n].as_u64().expect("a count")),
                )
            })
            .collect();
        assert_eq!(
            counts,
            [
                ("queued", [2, 0, 0, 0, 0]),
                ("completed", [8, 8, 8, 0, 0]),
                ("stopped", [2, 0, 0, 0, 2]),
            ],
            "{kind}"
        );

        let text = roster.run(&["imports", "--account", "demo"]);
        assert_eq!(text.code, 0, "{kind}: {text:?}");
        let mut masked = text.stdout.clone();
        for (status, name) in
            listed
                .as_array()
                .expect("a list")
                .iter()
                .zip(["queued", "completed", "stopped"])
        {
            for (key, label) in [("id", "id"), ("created_at", "at")] {
                let value = status[key].as_str().expect("text");
                masked = masked.replace(value, &mask(&format!("<{label} {name}>"), value));
            }
        }
        assert_eq!(
            masked,
            "\
id                                    state      created_at                total  created  failed  not_processed  file
<id queued>.........................  queued     <at queued>.............      2        0       0              0  two.csv
<id completed>......................  completed  <at completed>..........      8        8       0              0  valid-users.csv
<id stopped>........................  stopped    <at stopped>............      2        0       0              2  two.csv
",
            "{kind}"
        );

        let newest = json(&roster.run(&[
            "imports",
            "--account",
            "demo",
            "--format",
            "json",
            "--limit",
            "2",
        ]));
        let ids: Vec<&str> = newest
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|s| s["id"].as_str())
            .collect();
        assert_eq!(ids, [queued.as_str(), completed.as_str()], "{kind}");
        let zero = roster.run(&["imports", "--account", "demo", "--limit", "0"]);
        assert_eq!(zero.code, 2, "{kind}: {zero:?}");
        assert!(
            zero.stderr.starts_with(
                "error: invalid value '0' for '--limit <LIMIT>': 0 is not in 1..=1000"
            ),
            "{kind}: {}",
            zero.stderr
        );
        roster.db.remove().await;
    }
}

#[tokio::test]
async fn imports_of_an_unknown_account_is_a_usage_error() {
    for roster in Roster::both("imports_of_an_unknown_account").await {
        let out = roster.run(&["imports", "--account", "nope", "--format", "json"]);
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (
                2,
                "",
                "error: no account 'nope'; load it first with `roster account load FILE.toml`\n"
            ),
            "{}",
            roster.db.kind
        );
        roster.db.remove().await;
    }
}

#[tokio::test]
async fn a_unique_prefix_of_an_id_names_the_import_in_every_command() {
    for roster in Roster::both("a_unique_prefix_names_the_import").await {
        let kind = roster.db.kind;
        roster.load_demo();
        let done = roster.import_valid_users(&[]);
        assert_eq!(done.code, 0, "{kind}: {done:?}");
        let done = import_id(&done);
        roster.file("two.csv", TWO.as_bytes());
        let queued = roster.detach(&["--account", "demo", "two.csv"]);
        // The shortest prefix of each that the other does not share, and
        // never less than the 4 characters asked for.
        let shared = done
            .chars()
            .zip(queued.chars())
            .take_while(|(a, b)| a == b)
            .count();
        let short = |id: &str| id.chars().take((shared + 1).max(4)).collect::<String>();

        let status = roster.status(&short(&done).to_uppercase());
        assert_eq!(status["id"], done.as_str(), "{kind}: {status}");
        for command in ["results", "failed-rows"] {
            let by_prefix = roster.run(&[command, &short(&done)]);
            let by_id = roster.run(&[command, &done]);
            assert_eq!(by_prefix.code, 0, "{kind} {command}: {by_prefix:?}");
            assert_eq!(by_prefix.stdout, by_id.stdout, "{kind} {command}");
        }
        let stop = roster.run(&["stop", &short(&queued)]);
        assert_eq!(
            (stop.code, stop.stdout),
            (
                0,
                format!("import {queued} stopped before it started; no row was processed\n")
            ),
            "{kind}"
        );
        roster.db.remove().await;
    }
}

#[tokio::test]
async fn an_ambiguous_prefix_names_the_candidates_and_counts_the_rest() {
    for roster in Roster::both("an_ambiguous_prefix").await {
        let kind = roster.db.kind;
        roster.load_demo();
        roster.file("two.csv", TWO.as_bytes());
        // Ids are random: these imports get ids of our choosing afterwards.
        let mut ids = Vec::new();
        for n in 1..=11 {
            let id = roster.detach(&["--account", "demo", "two.csv"]);
            assert_eq!(roster.run(&["stop", &id]).code, 0, "{kind}");
            let chosen = format!("abcd{n:02}00-0000-4000-8000-000000000000");
            rename_import(&roster, &id, &chosen).await;
            ids.push(chosen);
        }

        let all = roster.run(&["status", "abcd"]);
        let mut expected = "error: the id prefix abcd is ambiguous; it could be:\n".to_string();
        for id in &ids[..10] {
            expected.push_str(&format!("  {id}\n"));
        }
        expected.push_str("  and 1 more\ngive more characters of the id\n");
        assert_eq!(
            (all.code, all.stdout.as_str(), all.stderr.as_str()),
            (2, "", expected.as_str()),
            "{kind}"
        );

        let few = roster.run(&["stop", "ABCD1"]);
        assert_eq!(
            (few.code, few.stderr.as_str()),
            (
                2,
                "error: the id prefix ABCD1 is ambiguous; it could be:\n  \
                 abcd1000-0000-4000-8000-000000000000\n  \
                 abcd1100-0000-4000-8000-000000000000\n\
                 give more characters of the id\n"
            ),
            "{kind}"
        );
        let one = roster.status("abcd01");
        assert_eq!(
            one["id"], "abcd0100-0000-4000-8000-000000000000",
            "{kind}: {one}"
        );
        roster.db.remove().await;
    }
}

#[tokio::test]
async fn a_prefix_too_short_unknown_or_not_hex_is_a_usage_error() {
    for roster in Roster::both("a_prefix_too_short_or_unknown").await {
        let kind = roster.db.kind;
        roster.load_demo();
        roster.file("two.csv", TWO.as_bytes());
        let id = roster.detach(&["--account", "demo", "two.csv"]);
        rename_import(&roster, &id, "abcd0000-0000-4000-8000-000000000001").await;

        for (args, stderr) in [
            (
                ["status", "abc"],
                "error: 'abc' is too short: give at least 4 characters of the id\n",
            ),
            (
                ["results", ""],
                "error: '' is too short: give at least 4 characters of the id\n",
            ),
            (
                ["status", "abce"],
                "error: no import with id starting abce\n",
            ),
            (
                ["failed-rows", "abcd0000-1"],
                "error: no import with id starting abcd0000-1\n",
            ),
            (
                ["stop", "abcd%"],
                "error: 'abcd%' is not an import id; ids look like 3f2a…-…, as `roster import` printed\n",
            ),
            (
                ["status", "ABCD0000-0000-4000-8000-000000000002"],
                "error: no import 'abcd0000-0000-4000-8000-000000000002'\n",
            ),
        ] {
            let out = roster.run(&args);
            assert_eq!(
                (out.code, out.stdout.as_str(), out.stderr.as_str()),
                (2, "", stderr),
                "{kind}: {args:?}"
            );
        }
        roster.db.remove().await;
    }
}

/// `value`'s length of text: `label` and dots, so that columns stay aligned.
fn mask(label: &str, value: &str) -> String {
    format!("{label:.<width$}", width = value.chars().count())
}

/// Gives the import `id` the id `chosen`, in the database itself: ids are
/// random, and a test of prefixes needs ids that share one.
async fn rename_import(roster: &Roster, id: &str, chosen: &str) {
    const SQL: &str = "UPDATE imports SET public_id = $1 WHERE public_id = $2";
    let store = roster_store::Store::open(&roster.db.url)
        .await
        .expect("the database");
    let renamed = match store.pool() {
        roster_store::Pool::Sqlite(pool) => sqlx::query(SQL)
            .bind(chosen)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        roster_store::Pool::Postgres(pool) => sqlx::query(SQL)
            .bind(chosen)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
    }
    .expect("renaming the import");
    store.close().await;
    assert_eq!(renamed, 1, "{}: {id}", roster.db.kind);
}
