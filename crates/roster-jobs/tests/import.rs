//! The import runner on both databases: what a run creates, what fails at
//! run time and why, stopping, one active import per account, and running
//! the same job twice at once.
//!
//! Every test runs on SQLite, and on PostgreSQL when
//! `ROSTER_TEST_POSTGRES_URL` is set (CI sets it).

use std::time::Duration;

use expect_test::{Expect, expect};
use roster_jobs::{
    ResultFilter, RowStatus, RunConfig, Stop, enqueue, for_each_result, plan_import, results_page,
    run_chunk, run_import, write_failed_rows,
};
use roster_store::testing::{self, ScratchDatabase};
use roster_store::{
    Account, AccountSlug, AccountSpec, Error, Import, ImportState, NewImport, PasswordDelivery,
    Store, UserSpec,
};
use roster_validate::{E164, Email, Extension, ExtensionPolicy, Opened, Options, Role, RowReader};

const HEADER: &str = "Display Name (Mandatory),Email Address (Mandatory),Primary Phone Number (Optional),Additional Phone Numbers (Optional),Extension (Optional),Voice Location (Optional),Role (Optional)\n";

fn number(s: &str) -> E164 {
    E164::parse(s).expect("test numbers are valid")
}

/// An account with two users on extensions 7000 and 7001, a second
/// location, 10,000 parked numbers from +1 617 200 0000 and a toll-free one.
fn spec() -> AccountSpec {
    let user = |name: &str, email: &str, extension: &str| UserSpec {
        display_name: name.to_string(),
        email: Email::parse(email).expect("valid"),
        extension: Some(Extension::parse(extension, ExtensionPolicy::DEFAULT).expect("valid")),
        numbers: Vec::new(),
        location: None,
        role: None,
    };
    AccountSpec {
        slug: AccountSlug::parse("acme").expect("valid"),
        name: "Acme".to_string(),
        locations: vec!["Boston Office".to_string()],
        parked_numbers: (0..10_000)
            .map(|i| number(&format!("1617200{i:04}")))
            .chain([number("18005550100")])
            .collect(),
        users: vec![
            user("Desk", "desk@acme.example", "7000"),
            user("Lobby", "lobby@acme.example", "7001"),
        ],
        extensions: ExtensionPolicy::DEFAULT,
        extension_first: 7000,
        default_role: Role::User,
    }
}

async fn setup(db: &ScratchDatabase) -> (Store, Account) {
    let store = Store::open(&db.url)
        .await
        .unwrap_or_else(|e| panic!("{}: {e:?}", db.kind));
    store.load_account(&spec()).await.expect("load the account");
    let account = store.existing_account(&spec().slug).await.expect("account");
    (store, account)
}

async fn queue(store: &Store, account: &Account, csv: &str) -> Result<Import, Error> {
    let rows = csv.lines().filter(|l| !l.trim().is_empty()).count() as u64 - 1;
    let new = NewImport {
        account: account.id,
        file_name: "users.csv".to_string(),
        voice: true,
        passwords: PasswordDelivery::None,
        total: rows,
        chunk_rows: 0,
        reserved_extensions: named_extensions(csv),
        mode: roster_validate::Mode::Create,
    };
    store.create_import(&new, &mut csv.as_bytes(), None).await
}

/// The extensions the file's rows name, as validation reports them when it
/// passes the file.
fn named_extensions(csv: &str) -> Vec<Extension> {
    let input = Box::new(std::io::Cursor::new(csv.as_bytes().to_vec()));
    let Ok(Opened::Rows(mut reader)) = RowReader::open(input, &Options::default()) else {
        panic!("a readable file");
    };
    let mut named = Vec::new();
    while let Some(row) = reader.next_row().expect("a row") {
        named.extend(row.row.ok().and_then(|valid| valid.extension));
    }
    named
}

async fn run(store: &Store, import: &Import, batch_rows: usize) {
    run_import(store, &import.id, RunConfig { batch_rows })
        .await
        .expect("the import runs");
}

/// Every row's result and the account's users, as text to compare.
async fn outcome(store: &Store, account: &Account, import: &Import) -> String {
    let import = store.existing_import(&import.id).await.expect("import");
    let mut out = format!(
        "{} total {} processed {} created {} failed {} not_processed {}\n",
        import.state,
        import.total,
        import.processed,
        import.created,
        import.failed,
        import.not_processed
    );
    let (reader_store, reader_import) = (store.clone(), import.clone());
    let runtime = tokio::runtime::Handle::current();
    let lines = tokio::task::spawn_blocking(move || {
        let mut lines = String::new();
        for_each_result(&reader_store, &reader_import, runtime, &mut |line, _| {
            let errors: Vec<&str> = line.errors.iter().map(|e| e.code.as_str()).collect();
            lines.push_str(&format!(
                "row {} {} {} ext {} numbers {:?} errors {:?}\n",
                line.row,
                line.status.as_str(),
                line.email.as_deref().unwrap_or("-"),
                line.extension.as_deref().unwrap_or("-"),
                line.numbers,
                errors
            ));
            Ok(())
        })
        .expect("results");
        lines
    })
    .await
    .expect("results task");
    out.push_str(&lines);
    for user in store.users(account).await.expect("users") {
        out.push_str(&format!(
            "user {} {} {} {} {:?} {:?}\n",
            user.email, user.role, user.location, user.display_name, user.extensions, user.numbers
        ));
    }
    out
}

/// The first database's outcome matches `expect`; every other database's
/// matches the first's exactly.
fn check(outcomes: &[(&str, String)], expect: &Expect) {
    let (_, first) = &outcomes[0];
    expect.assert_eq(first);
    for (kind, outcome) in &outcomes[1..] {
        assert_eq!(outcome, first, "{kind} differs from {}", outcomes[0].0);
    }
}

#[tokio::test]
async fn clean_import_creates_exactly_the_rows_users() {
    let expected = expect![[r#"
        completed total 4 processed 4 created 4 failed 0 not_processed 0
        row 2 created ada@acme.example ext 7002 numbers ["+16172000000"] errors []
        row 3 created bob@acme.example ext 7004 numbers ["+16172000001", "+16172000002", "+18005550100"] errors []
        row 4 created Cy@Acme.example ext 7003 numbers [] errors []
        row 5 created dee@acme.example ext 7005 numbers [] errors []
        user ada@acme.example user Main Company Address Ada ["7002"] ["+16172000000"]
        user bob@acme.example supervisor Boston Office Bob ["7004"] ["+16172000001", "+16172000002", "+18005550100"]
        user Cy@Acme.example agent Boston Office Cy ["7003"] []
        user dee@acme.example user Main Company Address Dee ["7005"] []
        user desk@acme.example user Main Company Address Desk ["7000"] []
        user lobby@acme.example user Main Company Address Lobby ["7001"] []
    "#]];
    let mut outcomes = Vec::new();
    for db in testing::both("clean_import").await {
        let (store, account) = setup(&db).await;
        let csv = format!(
            "{HEADER}Ada,ada@acme.example,+1 617 200 0000,,,,\n\
             Bob,bob@acme.example,16172000001,1-617-200-0002;18005550100,7004,boston office,supervisor\n\
             Cy,Cy@Acme.example,,,,Boston Office,Agent\n\
             Dee,dee@acme.example,,,,,\n"
        );
        let import = queue(&store, &account, &csv).await.expect("queued");
        run(&store, &import, 2).await;
        outcomes.push((db.kind, outcome(&store, &account, &import).await));
        store.close().await;
        db.remove().await;
    }
    check(&outcomes, &expected);
}

/// Queues a file, then changes the account so that three of its four rows
/// no longer hold: a number, an extension and an email are taken meanwhile.
async fn invalidated_import(store: &Store, account: &Account) -> Import {
    let csv = format!(
        "{HEADER}Ada,ada@acme.example,+1 617 200 0000,,,,\n\
         Bob,bob@acme.example,,,7100,,\n\
         Cy,cy@acme.example,,,,,\n\
         Dee,dee@acme.example,,,,,\n"
    );
    let import = queue(store, account, &csv).await.expect("queued");
    let mut changed = spec();
    changed.users.push(UserSpec {
        display_name: "Early Bird".to_string(),
        email: Email::parse("CY@acme.example").expect("valid"),
        extension: Some(Extension::parse("7100", ExtensionPolicy::DEFAULT).expect("valid")),
        numbers: vec![number("+16172000000")],
        location: None,
        role: None,
    });
    store
        .load_account(&changed)
        .await
        .expect("the account changes");
    import
}

#[tokio::test]
async fn rows_invalidated_after_validation_fail_alone() {
    let expected = expect![[r#"
        completed_with_errors total 4 processed 4 created 1 failed 3 not_processed 0
        row 2 failed ada@acme.example ext - numbers [] errors ["number_assigned"]
        row 3 failed bob@acme.example ext - numbers [] errors ["extension_taken"]
        row 4 failed cy@acme.example ext - numbers [] errors ["email_taken"]
        row 5 created dee@acme.example ext 7002 numbers [] errors []
        user CY@acme.example user Main Company Address Early Bird ["7100"] ["+16172000000"]
        user dee@acme.example user Main Company Address Dee ["7002"] []
        user desk@acme.example user Main Company Address Desk ["7000"] []
        user lobby@acme.example user Main Company Address Lobby ["7001"] []
    "#]];
    let mut outcomes = Vec::new();
    for db in testing::both("rows_invalidated").await {
        let (store, account) = setup(&db).await;
        let import = invalidated_import(&store, &account).await;
        run(&store, &import, 100).await;
        outcomes.push((db.kind, outcome(&store, &account, &import).await));
        store.close().await;
        db.remove().await;
    }
    check(&outcomes, &expected);
}

#[tokio::test]
async fn the_failed_rows_file_fixed_imports_cleanly() {
    let expected_file = expect![[r#"
        Display Name (Mandatory),Email Address (Mandatory),Primary Phone Number (Optional),Additional Phone Numbers (Optional),Extension (Optional),Voice Location (Optional),Role (Optional),Errors
        Ada,ada@acme.example,'+1 617 200 0000,,,,,number_assigned in Primary Phone Number (Optional): +16172000000 is already assigned to another user; use a number that is parked on the account
        Bob,bob@acme.example,,,7100,,,extension_taken in Extension (Optional): 7100 is already used by another user of this account; pick a free extension or leave the cell empty to have one assigned
        Cy,cy@acme.example,,,,,,"email_taken in Email Address (Mandatory): cy@acme.example already belongs to a user of this account; remove the row, or use another address"
    "#]];
    let expected = expect![[r#"
        completed total 3 processed 3 created 3 failed 0 not_processed 0
        row 2 created ada@acme.example ext 7003 numbers ["+16172000009"] errors []
        row 3 created bob@acme.example ext 7004 numbers [] errors []
        row 4 created cy.two@acme.example ext 7005 numbers [] errors []
        user ada@acme.example user Main Company Address Ada ["7003"] ["+16172000009"]
        user bob@acme.example user Main Company Address Bob ["7004"] []
        user cy.two@acme.example user Main Company Address Cy ["7005"] []
        user CY@acme.example user Main Company Address Early Bird ["7100"] ["+16172000000"]
        user dee@acme.example user Main Company Address Dee ["7002"] []
        user desk@acme.example user Main Company Address Desk ["7000"] []
        user lobby@acme.example user Main Company Address Lobby ["7001"] []
    "#]];
    let mut files = Vec::new();
    let mut outcomes = Vec::new();
    for db in testing::both("failed_rows_fixed").await {
        let (store, account) = setup(&db).await;
        let import = invalidated_import(&store, &account).await;
        run(&store, &import, 100).await;
        let import = store.existing_import(&import.id).await.expect("import");
        let failed = failed_rows(&store, &import).await;
        assert_eq!(
            failed.matches("\r\n").count(),
            4,
            "{}: CRLF line ends",
            db.kind
        );
        files.push((db.kind, failed.replace("\r\n", "\n")));

        // The admin fixes the three rows and imports the file as it is.
        let fixed = failed
            .replace("'+1 617 200 0000", "'+1 617 200 0009")
            .replace(",7100,", ",,")
            .replace("cy@acme.example", "cy.two@acme.example");
        let report = validate(&store, &account, &fixed).await;
        assert_eq!(
            (report.rows, report.valid_rows, report.is_valid()),
            (3, 3, true),
            "{}: {report:?}",
            db.kind
        );
        let again = queue(&store, &account, &fixed).await.expect("queued");
        run(&store, &again, 100).await;
        outcomes.push((db.kind, outcome(&store, &account, &again).await));
        store.close().await;
        db.remove().await;
    }
    check(&files, &expected_file);
    check(&outcomes, &expected);
}

#[tokio::test]
async fn a_stopped_import_keeps_its_users_and_leaves_the_rest_not_processed() {
    for db in testing::both("stop_mid_import").await {
        let (store, account) = setup(&db).await;
        let mut csv = HEADER.to_string();
        for i in 0..3000 {
            csv.push_str(&format!("U{i},u{i}@acme.example,+1617200{i:04},,,,\n"));
        }
        let import = queue(&store, &account, &csv).await.expect("queued");
        let runner = {
            let (store, id) = (store.clone(), import.id.clone());
            tokio::spawn(async move { run_import(&store, &id, RunConfig { batch_rows: 25 }).await })
        };
        loop {
            let now = store.existing_import(&import.id).await.expect("import");
            assert_ne!(
                now.state,
                ImportState::Completed,
                "{}: finished before the stop",
                db.kind
            );
            if now.processed >= 25 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        store.stop_import(&import.id).await.expect("stop");
        runner.await.expect("runner task").expect("runner");

        let stopped = store.existing_import(&import.id).await.expect("import");
        assert_eq!(stopped.state, ImportState::Stopped, "{}", db.kind);
        assert!(
            stopped.created >= 25 && stopped.created < 3000,
            "{}: {stopped:?}",
            db.kind
        );
        assert_eq!(
            (stopped.processed, stopped.failed),
            (stopped.created, 0),
            "{}",
            db.kind
        );
        assert_eq!(
            stopped.not_processed,
            3000 - stopped.processed,
            "{}",
            db.kind
        );
        let users = store.users(&account).await.expect("users");
        assert_eq!(users.len() as u64, stopped.created + 2, "{}", db.kind);

        let statuses = statuses(&store, &stopped).await;
        assert_eq!(statuses.len(), 3000, "{}", db.kind);
        let created = statuses.iter().take_while(|s| *s == "created").count() as u64;
        assert_eq!(
            created, stopped.created,
            "{}: created rows come first",
            db.kind
        );
        assert!(
            statuses[created as usize..]
                .iter()
                .all(|s| s == "not_processed"),
            "{}",
            db.kind
        );
        let failed = failed_rows(&store, &stopped).await;
        assert_eq!(
            failed.lines().count() as u64,
            stopped.not_processed + 1,
            "{}",
            db.kind
        );
        assert!(
            failed
                .lines()
                .nth(1)
                .is_some_and(|l| l.ends_with(&format!(",{}", roster_jobs::NOT_PROCESSED))),
            "{}",
            db.kind
        );

        // A stopped import cannot be resumed: running it again does nothing.
        run(&store, &stopped, 25).await;
        assert_eq!(
            store.existing_import(&import.id).await.expect("import"),
            stopped,
            "{}",
            db.kind
        );
        store.close().await;
        db.remove().await;
    }
}

#[tokio::test]
async fn a_queued_import_stops_at_once() {
    for db in testing::both("stop_queued").await {
        let (store, account) = setup(&db).await;
        let import = queue(
            &store,
            &account,
            &format!("{HEADER}A,a@acme.example,,,,,\nB,b@acme.example,,,,,\n"),
        )
        .await
        .expect("queued");
        assert_eq!(
            store.stop_import(&import.id).await.expect("stop"),
            roster_store::StopOutcome::Stopped
        );
        assert_eq!(
            store.stop_import(&import.id).await.expect("stop again"),
            roster_store::StopOutcome::AlreadyFinished(ImportState::Stopped)
        );
        run(&store, &import, 10).await;
        let stopped = store.existing_import(&import.id).await.expect("import");
        assert_eq!(
            (stopped.state, stopped.processed, stopped.not_processed),
            (ImportState::Stopped, 0, 2),
            "{}",
            db.kind
        );
        assert_eq!(
            statuses(&store, &stopped).await,
            ["not_processed", "not_processed"],
            "{}",
            db.kind
        );
        store.close().await;
        db.remove().await;
    }
}

#[tokio::test]
async fn a_second_import_of_the_account_is_refused_while_one_is_active() {
    for db in testing::both("second_import_refused").await {
        let (store, account) = setup(&db).await;
        let csv = format!("{HEADER}A,a@acme.example,,,,,\n");
        let first = queue(&store, &account, &csv).await.expect("queued");
        let second = queue(&store, &account, &csv).await;
        match second {
            Err(Error::ImportActive { id, state }) => {
                assert_eq!(
                    (id.as_str(), state.as_str()),
                    (first.id.as_str(), "queued"),
                    "{}",
                    db.kind
                )
            }
            other => panic!("{}: a second import was not refused: {other:?}", db.kind),
        }
        run(&store, &first, 10).await;
        let third = queue(
            &store,
            &account,
            &format!("{HEADER}B,b@acme.example,,,,,\n"),
        )
        .await;
        assert!(
            third.is_ok(),
            "{}: after the first finished a new import is accepted: {third:?}",
            db.kind
        );
        store.close().await;
        db.remove().await;
    }
}

#[tokio::test]
async fn the_job_run_twice_at_once_creates_nothing_twice() {
    for db in testing::both("run_twice").await {
        let (store, account) = setup(&db).await;
        let mut csv = HEADER.to_string();
        for i in 0..1500 {
            let extension = if i % 3 == 0 {
                String::new()
            } else {
                format!("{}", 100_000 + i)
            };
            csv.push_str(&format!(
                "U{i},u{i}@acme.example,+1617200{i:04},,{extension},,\n"
            ));
        }
        let import = queue(&store, &account, &csv).await.expect("queued");
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let (store, id) = (store.clone(), import.id.clone());
                tokio::spawn(
                    async move { run_import(&store, &id, RunConfig { batch_rows: 100 }).await },
                )
            })
            .collect();
        for r in runs {
            r.await.expect("runner task").expect("runner");
        }
        run(&store, &import, 100).await;

        let done = store.existing_import(&import.id).await.expect("import");
        assert_eq!(
            (
                done.state,
                done.processed,
                done.created,
                done.failed,
                done.not_processed
            ),
            (ImportState::Completed, 1500, 1500, 0, 0),
            "{}",
            db.kind
        );
        let users = store.users(&account).await.expect("users");
        assert_eq!(users.len(), 1502, "{}", db.kind);
        let mut extensions: Vec<&String> = users.iter().flat_map(|u| &u.extensions).collect();
        let mut numbers: Vec<&String> = users.iter().flat_map(|u| &u.numbers).collect();
        extensions.sort();
        extensions.dedup();
        numbers.sort();
        numbers.dedup();
        assert_eq!(
            (extensions.len(), numbers.len()),
            (1502, 1500),
            "{}: each once",
            db.kind
        );
        assert!(
            users.iter().all(|u| u.extensions.len() == 1),
            "{}: one extension each",
            db.kind
        );
        store.close().await;
        db.remove().await;
    }
}

/// The status of every row's result, in file order.
async fn statuses(store: &Store, import: &Import) -> Vec<String> {
    let (store, import, runtime) = (
        store.clone(),
        import.clone(),
        tokio::runtime::Handle::current(),
    );
    tokio::task::spawn_blocking(move || {
        let mut statuses = Vec::new();
        for_each_result(&store, &import, runtime, &mut |line, _| {
            statuses.push(line.status.as_str().to_string());
            Ok(())
        })
        .expect("results");
        statuses
    })
    .await
    .expect("results task")
}

async fn failed_rows(store: &Store, import: &Import) -> String {
    let (store, import, runtime) = (
        store.clone(),
        import.clone(),
        tokio::runtime::Handle::current(),
    );
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        write_failed_rows(&store, &import, runtime, &mut out).expect("failed rows");
        String::from_utf8(out).expect("UTF-8")
    })
    .await
    .expect("failed-rows task")
}

async fn validate(store: &Store, account: &Account, csv: &str) -> roster_validate::Report {
    let mut directory = roster_store::StoreDirectory::new(
        store.clone(),
        account,
        tokio::runtime::Handle::current(),
    );
    let options = roster_validate::Options {
        extensions: account.extensions,
        ..roster_validate::Options::default()
    };
    let input = Box::new(std::io::Cursor::new(csv.as_bytes().to_vec()));
    tokio::task::spawn_blocking(move || roster_validate::validate(input, &mut directory, &options))
        .await
        .expect("validation task")
        .expect("validation")
}

/// Chunks run in any order, by anyone: the import ends once, when its last
/// chunk does; every row gets its result; a chunk run again does nothing.
/// Extensions are assigned in the order chunks run, in file order within
/// each.
#[tokio::test]
async fn chunks_in_any_order_end_the_import_once() {
    let expected = expect![[r#"
        completed total 5 processed 5 created 5 failed 0 not_processed 0
        row 2 created ada@acme.example ext 7006 numbers ["+16172000000"] errors []
        row 3 created bob@acme.example ext 7004 numbers ["+16172000001", "+16172000002", "+18005550100"] errors []
        row 5 created Cy@Acme.example ext 7002 numbers [] errors []
        row 6 created dee@acme.example ext 7005 numbers [] errors []
        row 7 created eve@acme.example ext 7003 numbers [] errors []
        user ada@acme.example user Main Company Address Ada ["7006"] ["+16172000000"]
        user bob@acme.example supervisor Boston Office Bob ["7004"] ["+16172000001", "+16172000002", "+18005550100"]
        user Cy@Acme.example agent Boston Office Cy ["7002"] []
        user dee@acme.example user Main Company Address Dee ["7005"] []
        user desk@acme.example user Main Company Address Desk ["7000"] []
        user eve@acme.example user Main Company Address Eve ["7003"] []
        user lobby@acme.example user Main Company Address Lobby ["7001"] []
    "#]];
    let mut outcomes = Vec::new();
    for db in testing::both("chunks_in_any_order").await {
        let (store, account) = setup(&db).await;
        let csv = format!(
            "{HEADER}Ada,ada@acme.example,+1 617 200 0000,,,,\n\
             Bob,bob@acme.example,16172000001,1-617-200-0002;18005550100,7004,boston office,supervisor\n\
             \n\
             Cy,Cy@Acme.example,,,,Boston Office,Agent\n\
             Dee,dee@acme.example,,,,,\n\
             Eve,eve@acme.example,,,7003,,\n"
        );
        let new = NewImport {
            account: account.id,
            file_name: "users.csv".to_string(),
            voice: true,
            passwords: PasswordDelivery::None,
            total: 5,
            chunk_rows: 2,
            reserved_extensions: named_extensions(&csv),
            mode: roster_validate::Mode::Create,
        };
        let import = store
            .create_import(&new, &mut csv.as_bytes(), None)
            .await
            .expect("queued");
        let chunks = plan_import(&store, &import.id)
            .await
            .expect("planned")
            .expect("to run");
        let planned: Vec<(u64, u64, u64)> = chunks
            .iter()
            .map(|c| (c.seq, c.first_row, c.rows))
            .collect();
        assert_eq!(planned, [(0, 0, 2), (1, 2, 2), (2, 4, 1)], "{}", db.kind);
        for (n, chunk) in chunks.iter().rev().enumerate() {
            let worker = format!("worker-{n}");
            run_chunk(
                &store,
                &import.id,
                chunk.seq,
                &worker,
                RunConfig { batch_rows: 1 },
                &Stop::never(),
            )
            .await
            .expect("a chunk runs");
            let now = store.existing_import(&import.id).await.expect("import");
            let last = n == chunks.len() - 1;
            assert_eq!(
                (
                    now.state.is_active(),
                    now.finished_at.is_some(),
                    now.chunks_done
                ),
                (!last, last, n as u64 + 1),
                "{}: after {} chunks",
                db.kind,
                n + 1
            );
        }
        let finished = store.existing_import(&import.id).await.expect("import");
        run_chunk(
            &store,
            &import.id,
            0,
            "late",
            RunConfig::default(),
            &Stop::never(),
        )
        .await
        .expect("a chunk runs again");
        assert_eq!(
            store.existing_import(&import.id).await.expect("import"),
            finished,
            "{}: nothing changed",
            db.kind
        );
        let workers: Vec<Option<String>> = store
            .chunks(import.key)
            .await
            .expect("chunks")
            .into_iter()
            .map(|c| c.worker)
            .collect();
        assert_eq!(
            workers,
            [
                Some("worker-2".to_string()),
                Some("worker-1".to_string()),
                Some("worker-0".to_string())
            ]
        );
        outcomes.push((db.kind, outcome(&store, &account, &import).await));
        store.close().await;
        db.remove().await;
    }
    check(&outcomes, &expected);
}

/// A stop ends every chunk: those not started write nothing, and the
/// import stops when the last of them has looked.
#[tokio::test]
async fn a_stop_ends_every_chunk() {
    for db in testing::both("a_stop_ends_every_chunk").await {
        let (store, account) = setup(&db).await;
        let csv = format!(
            "{HEADER}Ada,ada@acme.example,,,,,\nBob,bob@acme.example,,,,,\n\
             Cy,cy@acme.example,,,,,\nDee,dee@acme.example,,,,,\nEve,eve@acme.example,,,,,\n"
        );
        let new = NewImport {
            account: account.id,
            file_name: "users.csv".to_string(),
            voice: true,
            passwords: PasswordDelivery::None,
            total: 5,
            chunk_rows: 2,
            reserved_extensions: Vec::new(),
            mode: roster_validate::Mode::Create,
        };
        let import = store
            .create_import(&new, &mut csv.as_bytes(), None)
            .await
            .expect("queued");
        let chunks = plan_import(&store, &import.id)
            .await
            .expect("planned")
            .expect("to run");
        run_chunk(
            &store,
            &import.id,
            0,
            "w",
            RunConfig::default(),
            &Stop::never(),
        )
        .await
        .expect("the first chunk");
        store.stop_import(&import.id).await.expect("stopping");
        for chunk in &chunks[1..] {
            run_chunk(
                &store,
                &import.id,
                chunk.seq,
                "w",
                RunConfig::default(),
                &Stop::never(),
            )
            .await
            .expect("a chunk");
        }
        let stopped = store.existing_import(&import.id).await.expect("import");
        assert_eq!(
            (stopped.state, stopped.created, stopped.not_processed),
            (ImportState::Stopped, 2, 3),
            "{}",
            db.kind
        );
        let lines = statuses(&store, &stopped).await;
        assert_eq!(
            lines,
            [
                "created",
                "created",
                "not_processed",
                "not_processed",
                "not_processed"
            ],
            "{}",
            db.kind
        );
        store.close().await;
        db.remove().await;
    }
}

/// The rows not processed, a page at a time: found in the chunks that
/// stopped short, whichever they are, and the same as reading every row.
#[tokio::test]
async fn rows_not_processed_are_paged_from_the_chunks_that_stopped_short() {
    for db in testing::both("not_processed_pages").await {
        let (store, account) = setup(&db).await;
        let mut csv = HEADER.to_string();
        for i in 0..9 {
            csv.push_str(&format!("U{i},u{i}@acme.example,,,,,\n"));
        }
        let new = NewImport {
            account: account.id,
            file_name: "users.csv".to_string(),
            voice: true,
            passwords: PasswordDelivery::None,
            total: 9,
            chunk_rows: 3,
            reserved_extensions: Vec::new(),
            mode: roster_validate::Mode::Create,
        };
        let import = store
            .create_import(&new, &mut csv.as_bytes(), None)
            .await
            .expect("queued");
        let chunks = plan_import(&store, &import.id)
            .await
            .expect("planned")
            .expect("to run");
        // The middle chunk runs; then the stop ends the others unrun.
        run_chunk(
            &store,
            &import.id,
            chunks[1].seq,
            "w",
            RunConfig::default(),
            &Stop::never(),
        )
        .await
        .expect("a chunk");
        store.stop_import(&import.id).await.expect("stopping");
        for chunk in [&chunks[0], &chunks[2]] {
            run_chunk(
                &store,
                &import.id,
                chunk.seq,
                "w",
                RunConfig::default(),
                &Stop::never(),
            )
            .await
            .expect("a chunk");
        }
        let stopped = store.existing_import(&import.id).await.expect("import");
        assert_eq!(
            (stopped.created, stopped.not_processed),
            (3, 6),
            "{}",
            db.kind
        );
        let (store2, import2, runtime) = (
            store.clone(),
            stopped.clone(),
            tokio::runtime::Handle::current(),
        );
        let pages = tokio::task::spawn_blocking(move || {
            let page = |after, limit, filter| {
                results_page(&store2, &import2, runtime.clone(), after, limit, filter)
                    .expect("a page")
                    .iter()
                    .map(|l| (l.row, l.status.as_str()))
                    .collect::<Vec<_>>()
            };
            let skipped = ResultFilter::Status(RowStatus::NotProcessed);
            vec![
                page(0, 100, skipped),
                page(0, 2, skipped),
                page(3, 2, skipped),
                page(4, 100, skipped),
                page(7, 100, skipped),
                page(10, 100, skipped),
                page(4, 3, ResultFilter::All),
                page(0, 100, ResultFilter::Status(RowStatus::Created)),
            ]
        })
        .await
        .expect("pages");
        let np = "not_processed";
        assert_eq!(
            pages,
            [
                vec![(2, np), (3, np), (4, np), (8, np), (9, np), (10, np)],
                vec![(2, np), (3, np)],
                vec![(4, np), (8, np)],
                vec![(8, np), (9, np), (10, np)],
                vec![(8, np), (9, np), (10, np)],
                vec![],
                vec![(5, "created"), (6, "created"), (7, "created")],
                vec![(5, "created"), (6, "created"), (7, "created")],
            ],
            "{}",
            db.kind
        );
    }
}

/// A job pushed again under its key is the job already there: the second
/// push succeeds and queues nothing more (PostgreSQL refuses the key with
/// SQLSTATE 23505, which is read as "already queued").
#[tokio::test]
async fn an_import_queued_twice_is_queued_once_on_both_databases() {
    for db in testing::both("queued_twice").await {
        let (store, account) = setup(&db).await;
        let import = queue(
            &store,
            &account,
            &format!("{HEADER}Ada,ada@acme.example,,,,,\n"),
        )
        .await
        .expect("stored");
        for push in 1..=3 {
            enqueue(&store, &import.id)
                .await
                .unwrap_or_else(|e| panic!("{}: push {push}: {e}", db.kind));
        }
        let jobs: i64 = match store.pool() {
            roster_store::Pool::Sqlite(pool) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM Jobs WHERE job_type = 'roster-imports'")
                    .fetch_one(pool)
                    .await
            }
            roster_store::Pool::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM apalis.jobs WHERE job_type = 'roster-imports'",
                )
                .fetch_one(pool)
                .await
            }
        }
        .unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        assert_eq!(jobs, 1, "{}", db.kind);
    }
}
