//! Update mode on both databases: files planned and applied through
//! `submit` and the runner as users run them — every update rule as the
//! users end up, a plan applied exactly (a user changed since fails alone),
//! and a second run that changes nothing.
//!
//! Every test runs on SQLite, and on PostgreSQL when
//! `ROSTER_TEST_POSTGRES_URL` is set (CI sets it).

#[path = "support/acme.rs"]
mod acme;

use acme::{HEADER, check, setup, spec};

use expect_test::expect;
use roster_jobs::{
    RunConfig, Submission, Submitted, for_each_result, run_import, submit, write_failed_rows,
};
use roster_store::testing;
use roster_store::{Account, Import, PasswordDelivery, Store};
use roster_validate::{Limits, Mode};

/// Plans `csv` in `mode` and queues it: the import, or the report's errors.
async fn plan(
    store: &Store,
    account: &Account,
    mode: Mode,
    csv: &str,
) -> Result<Import, Vec<String>> {
    let dir = tempfile::tempdir().expect("a folder");
    let path = dir.path().join("users.csv");
    std::fs::write(&path, csv).expect("written");
    let submission = Submission {
        account,
        path: &path,
        file_name: "users.csv".to_string(),
        voice: true,
        passwords: PasswordDelivery::Users,
        limits: Limits::DEFAULT,
        chunk_rows: 2,
        mode,
    };
    match submit(store, submission).await.expect("submitted") {
        Submitted::Queued { import, .. } => Ok(*import),
        Submitted::Invalid(mut checked) => Err(checked
            .errors
            .errors()
            .expect("errors")
            .map(|e| {
                let e = e.expect("an error");
                format!("row {} {}: {}", e.row, e.code, e.message)
            })
            .collect()),
    }
}

async fn run(store: &Store, import: &Import) {
    run_import(store, &import.id, RunConfig { batch_rows: 2 })
        .await
        .expect("the import runs");
}

/// The import's counts, every row's result and the account's users.
async fn outcome(store: &Store, account: &Account, import: &Import) -> String {
    let import = store.existing_import(&import.id).await.expect("import");
    let mut out = format!(
        "{} processed {} created {} updated {} unchanged {} failed {} deliveries {}\n",
        import.state,
        import.processed,
        import.created,
        import.updated,
        import.unchanged,
        import.failed,
        import.deliveries.queued
    );
    let (reader_store, reader_import) = (store.clone(), import.clone());
    let runtime = tokio::runtime::Handle::current();
    let lines = tokio::task::spawn_blocking(move || {
        let mut lines = String::new();
        for_each_result(&reader_store, &reader_import, runtime, &mut |line, _| {
            let errors: Vec<String> = line
                .errors
                .iter()
                .map(|e| format!("{}: {}", e.code, e.message))
                .collect();
            lines.push_str(&format!(
                "row {} {} {} {:?}\n",
                line.row,
                line.status.as_str(),
                line.email.as_deref().unwrap_or("-"),
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
    out.push_str(&users(store, account).await);
    out
}

async fn users(store: &Store, account: &Account) -> String {
    let mut out = String::new();
    for u in store.users(account).await.expect("users") {
        out.push_str(&format!(
            "user {} {:?} dept {:?} title {:?} {} {} {:?} {:?}\n",
            u.email,
            u.display_name,
            u.department,
            u.job_title,
            u.role,
            u.location,
            u.extensions,
            u.numbers
        ));
    }
    out
}

/// Every rule at once: empty cells keep, the marker clears, a location and
/// a role move, two users swap extensions, a primary number goes back to
/// the account while an additional one is kept, and a new user takes a
/// number another row gives up, later in the file. Applied again, the same
/// file changes nothing.
#[tokio::test]
async fn every_update_rule_then_a_second_run_changes_nothing() {
    let file = format!(
        "{HEADER}\
         ,ann@acme.example,Engineer,Sales,,,7002,Boston Office,supervisor\n\
         ,BOB@acme.example,,,+16172000003,,7001,,\n\
         Eve,eve@acme.example,,,+16172000002,,,,\n\
         ,cy@acme.example,#clear,#clear,+16172000010,+16172000011,,,\n\
         Dot Renamed,dot@acme.example,,,,,,,\n"
    );
    let expected = expect![[r#"
        completed processed 5 created 1 updated 4 unchanged 0 failed 0 deliveries 1
        row 2 updated ann@acme.example []
        row 3 updated BOB@acme.example []
        row 4 created eve@acme.example []
        row 5 updated cy@acme.example []
        row 6 updated dot@acme.example []
        user ann@acme.example "Ann" dept Some("Sales") title Some("Engineer") supervisor Boston Office ["7002"] ["+16172000001"]
        user bob@acme.example "Bob" dept None title None user Main Company Address ["7001"] ["+16172000003"]
        user cy@acme.example "Cy" dept None title None user Main Company Address ["7003"] ["+16172000010", "+16172000011"]
        user dot@acme.example "Dot Renamed" dept None title None user Main Company Address ["7004"] ["+16172000004"]
        user eve@acme.example "Eve" dept None title None user Main Company Address ["7000"] ["+16172000002"]
    "#]];
    let again = expect![[r#"
        completed processed 5 created 0 updated 0 unchanged 5 failed 0 deliveries 0
        row 2 unchanged ann@acme.example []
        row 3 unchanged BOB@acme.example []
        row 4 unchanged eve@acme.example []
        row 5 unchanged cy@acme.example []
        row 6 unchanged dot@acme.example []
    "#]];
    let (mut firsts, mut agains) = (Vec::new(), Vec::new());
    for db in testing::both("update_rules").await {
        let (store, account) = setup(&db).await;
        let import = plan(&store, &account, Mode::Upsert, &file)
            .await
            .expect("a clean plan");
        run(&store, &import).await;
        let first = outcome(&store, &account, &import).await;
        firsts.push((db.kind.to_string(), first));

        let users_before = users(&store, &account).await;
        let second = plan(&store, &account, Mode::Upsert, &file)
            .await
            .expect("a clean plan");
        run(&store, &second).await;
        let outcome = outcome(&store, &account, &second).await;
        let (counts, users_after) = outcome
            .split_once("\nuser ")
            .map(|(c, u)| (format!("{c}\n"), format!("user {u}")))
            .expect("users");
        agains.push((db.kind.to_string(), counts));
        assert_eq!(users_after, users_before, "{}", db.kind);

        // The marker clears what the first run set: title, department,
        // location and role go back to none, Main Company Address and the
        // account's default.
        let clear = format!("{HEADER},ann@acme.example,#clear,#CLEAR,,,,#clear,#clear\n");
        let third = plan(&store, &account, Mode::Update, &clear)
            .await
            .expect("a clean plan");
        run(&store, &third).await;
        let cleared = users(&store, &account).await;
        assert!(
            cleared.contains(
                "user ann@acme.example \"Ann\" dept None title None user Main Company Address [\"7002\"]"
            ),
            "{}: {cleared}",
            db.kind
        );
        store.close().await;
        db.remove().await;
    }
    check(&firsts, &expected);
    check(&agains, &again);
}

/// What a plan refuses: an unknown user in update mode, and a number or
/// extension of a user the file does not free, naming that user (one
/// outside the file, or one whose row keeps it, in the same batch).
#[tokio::test]
async fn a_plan_refuses_unknown_users_and_names_whom_a_conflict_is_with() {
    let expected = expect![[r#"
        row 2 unknown_user: nobody@acme.example is not the address of a user of this account; update mode changes existing users only: fix the address, or import the row in upsert mode to create the user
        row 3 number_assigned: +16172000004 is assigned to dot@acme.example, and no row of this file gives it up; use a number parked on the account, or give that user another number in this file
        row 3 extension_taken: 7003 is used by cy@acme.example, and no row of this file gives it up; pick a free extension, or give that user another one in this file
        row 5 extension_taken: 7004 is used by dot@acme.example, and no row of this file gives it up; pick a free extension, or give that user another one in this file
    "#]];
    let mut outcomes = Vec::new();
    for db in testing::both("update_refusals").await {
        let (store, account) = setup(&db).await;
        let file = format!(
            "{HEADER},nobody@acme.example,,,,,,,\n,ann@acme.example,,,+16172000004,,7003,,\n\
             ,dot@acme.example,,,,,,,\n,bob@acme.example,,,,,7004,,\n"
        );
        let errors = plan(&store, &account, Mode::Update, &file)
            .await
            .expect_err("errors");
        let mut shown = errors.join("\n");
        shown.push('\n');
        outcomes.push((db.kind.to_string(), shown));
        // Nothing was written.
        assert_eq!(
            store
                .account_imports(&account, 10)
                .await
                .expect("imports")
                .len(),
            0
        );
        store.close().await;
        db.remove().await;
    }
    check(&outcomes, &expected);
}

/// A user changed between the plan and its run (an account file loaded in
/// between) fails alone, saying what changed; the other rows go on.
#[tokio::test]
async fn a_user_changed_since_the_plan_fails_alone() {
    let expected = expect![[r#"
        completed_with_errors processed 3 created 0 updated 2 unchanged 0 failed 1 deliveries 0
        row 2 updated ann@acme.example []
        row 3 failed bob@acme.example ["changed_since_plan: the user changed since the plan (Display Name (Mandatory) was 'Bob' then, is 'Robert' now); validate the file again to see the plan as the account is now, and import it again"]
        row 4 updated cy@acme.example []
    "#]];
    let mut outcomes = Vec::new();
    for db in testing::both("changed_since_plan").await {
        let (store, account) = setup(&db).await;
        let file = format!(
            "{HEADER},ann@acme.example,Lead,,,,,,\n,bob@acme.example,Lead,,,,,,\n,cy@acme.example,Lead,,,,,,\n"
        );
        let import = plan(&store, &account, Mode::Update, &file)
            .await
            .expect("a clean plan");
        let mut changed = spec();
        changed.users[1].display_name = "Robert".to_string();
        store.load_account(&changed).await.expect("loaded again");
        run(&store, &import).await;
        let outcome = outcome(&store, &account, &import).await;
        let counts = outcome
            .split_once("\nuser ")
            .map(|(c, _)| format!("{c}\n"))
            .expect("counts");
        outcomes.push((db.kind.to_string(), counts));
        assert!(
            outcome.contains("user bob@acme.example \"Robert\" dept None title None"),
            "{outcome}"
        );
        // The failed-rows file hands back the failed row alone, not the
        // rows applied.
        let (reader_store, reader_import) = (store.clone(), import.clone());
        let runtime = tokio::runtime::Handle::current();
        let failed = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            write_failed_rows(&reader_store, &reader_import, runtime, &mut out)
                .expect("the failed rows");
            String::from_utf8(out).expect("UTF-8")
        })
        .await
        .expect("the task");
        let lines: Vec<&str> = failed.lines().collect();
        assert_eq!(lines.len(), 2, "{}: {failed}", db.kind);
        assert!(lines[1].starts_with(",bob@acme.example,Lead,"), "{failed}");
        store.close().await;
        db.remove().await;
    }
    check(&outcomes, &expected);
}
