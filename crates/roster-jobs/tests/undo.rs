//! Undo on both databases, through the runner as users run it: a create
//! import undone leaves the directory exactly as it was; an upsert undone
//! gives every changed field, extension and number back (swaps too); a
//! user changed after the import is left alone and named; an undo is done
//! once, only of a finished import, and holds the account while it runs.
//!
//! Every test runs on SQLite, and on PostgreSQL when
//! `ROSTER_TEST_POSTGRES_URL` is set (CI sets it).

#[path = "support/acme.rs"]
mod acme;

use acme::{HEADER, check, setup, spec, user};

use expect_test::expect;
use roster_jobs::{
    RunConfig, Submission, Submitted, for_each_result, queue_undo, run_import, run_undo, submit,
};
use roster_store::testing;
use roster_store::{Account, Error, Import, ImportState, PasswordDelivery, StopOutcome, Store};
use roster_validate::{Limits, Mode};

/// Validates `csv` in `mode` and queues it, or says why not.
async fn submitted(
    store: &Store,
    account: &Account,
    mode: Mode,
    csv: &str,
) -> Result<Import, Error> {
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
    match submit(store, submission).await {
        Ok(Submitted::Queued { import, .. }) => Ok(*import),
        Ok(Submitted::Invalid(_)) => panic!("the file has errors"),
        Err(roster_jobs::Error::Store(e)) => Err(e),
        Err(e) => panic!("{e:?}"),
    }
}

/// Imports `csv` in `mode` to its end.
async fn imported(store: &Store, account: &Account, mode: Mode, csv: &str) -> Import {
    let import = submitted(store, account, mode, csv).await.expect("queued");
    run_import(store, &import.id, RunConfig { batch_rows: 2 })
        .await
        .expect("the import runs");
    store.existing_import(&import.id).await.expect("import")
}

/// Undoes the import to its end; the import as it then is.
async fn undone(store: &Store, import: &Import) -> Import {
    queue_undo(store, &import.id).await.expect("undo asked");
    run_undo(store, &import.id, RunConfig { batch_rows: 2 })
        .await
        .expect("the undo runs");
    store.existing_import(&import.id).await.expect("import")
}

/// The whole directory: every user with every field, extension and
/// number, and the parked numbers.
async fn directory(store: &Store, account: &Account) -> String {
    let mut out = String::new();
    for u in store.users(account).await.expect("users") {
        out.push_str(&format!("{u:?}\n"));
    }
    let parked = store.parked_numbers(account).await.expect("parked");
    out.push_str(&format!("parked {parked:?}\n"));
    out
}

/// The undo's counts and each row's undo outcome.
async fn undo_outcome(store: &Store, import: &Import) -> String {
    let import = store.existing_import(&import.id).await.expect("import");
    let undo = import.undo.clone().expect("an undo");
    let mut out = format!(
        "undo {} total {} undone {} not undone {} cancelled {}; deliveries queued {}\n",
        undo.state,
        undo.total,
        undo.undone,
        undo.not_undone,
        undo.cancelled,
        import.deliveries.queued
    );
    let runtime = tokio::runtime::Handle::current();
    let (reader_store, reader_import) = (store.clone(), import.clone());
    let lines = tokio::task::spawn_blocking(move || {
        let mut lines = String::new();
        for_each_result(&reader_store, &reader_import, runtime, &mut |line, _| {
            let undo = match &line.undo {
                Some(u) => format!(
                    "{} {} {}",
                    u.status.as_str(),
                    u.code.as_deref().unwrap_or("-"),
                    u.message.as_deref().unwrap_or("-")
                ),
                None => "-".to_string(),
            };
            lines.push_str(&format!(
                "row {} {} {}: {undo}\n",
                line.row,
                line.status.as_str(),
                line.email.as_deref().unwrap_or("-"),
            ));
            Ok(())
        })
        .expect("results");
        lines
    })
    .await
    .expect("results task");
    out.push_str(&lines);
    out
}

/// A create import of new users — extensions given and assigned, numbers,
/// a location, a role, one row failed — undone: the directory is exactly
/// as before the import, the queued password messages are cancelled, and
/// a second undo is refused.
#[tokio::test]
async fn undo_of_a_create_import_restores_the_directory_exactly() {
    let file = format!(
        "{HEADER}\
         Eve,eve@acme.example,Engineer,R&D,+16172000010,+16172000011;+16172000012,7100,Boston Office,supervisor\n\
         Fay,fay@acme.example,,,,,,,\n\
         Ann Two,ann2@acme.example,,,,,,,\n\
         Gus,gus@acme.example,,,+16172000013,,,,\n"
    );
    let expected = expect![[r#"
        undo completed total 3 undone 3 not undone 0 cancelled 3; deliveries queued 0
        row 2 created eve@acme.example: undone - its welcome message had not been sent and was cancelled
        row 3 created fay@acme.example: undone - its welcome message had not been sent and was cancelled
        row 4 failed ann2@acme.example: -
        row 5 created gus@acme.example: undone - its welcome message had not been sent and was cancelled
    "#]];
    let mut outcomes = Vec::new();
    for db in testing::both("undo_create").await {
        let (store, account) = setup(&db).await;
        let before = directory(&store, &account).await;
        // Ann Two's row fails: her address is taken after the file was
        // validated, before it runs.
        let import = submitted(&store, &account, Mode::Create, &file)
            .await
            .expect("queued");
        let mut taken = spec();
        taken
            .users
            .push(user("Ann Two", "ann2@acme.example", "7200", &[]));
        store.load_account(&taken).await.expect("loaded again");
        let with_ann2 = directory(&store, &account).await;
        run_import(&store, &import.id, RunConfig { batch_rows: 2 })
            .await
            .expect("the import runs");
        let import = store.existing_import(&import.id).await.expect("import");
        assert_eq!((import.created, import.failed), (3, 1), "{}", db.kind);
        assert_ne!(directory(&store, &account).await, with_ann2);

        let after_undo = undone(&store, &import).await;
        assert_eq!(
            directory(&store, &account).await,
            with_ann2,
            "{}: the directory as it was before the import",
            db.kind
        );
        assert_ne!(with_ann2, before);
        outcomes.push((db.kind.to_string(), undo_outcome(&store, &after_undo).await));

        let again = store.ask_undo(&import.id).await.expect_err("refused");
        assert!(
            matches!(&again, Error::CannotUndo { why, .. } if why.contains("undone already")),
            "{}: {again}",
            db.kind
        );
        // The account is free again: a new import of the same users runs.
        let reimport = imported(
            &store,
            &account,
            Mode::Create,
            &file.replace("ann2@", "ann3@"),
        )
        .await;
        assert_eq!(reimport.created, 4, "{}", db.kind);
        store.close().await;
        db.remove().await;
    }
    check(&outcomes, &expected);
}

/// Every update rule at once — two users swap extensions, a primary number
/// goes back to the account and a new user takes it, a title and numbers
/// cleared, a location and a role moved, a name changed — undone: every
/// user as before, the new one gone, the numbers parked as before.
#[tokio::test]
async fn undo_of_an_upsert_restores_every_changed_field() {
    let file = format!(
        "{HEADER}\
         ,ann@acme.example,Engineer,Sales,,,7002,Boston Office,supervisor\n\
         ,BOB@acme.example,,,+16172000003,,7001,,\n\
         Eve,eve@acme.example,,,+16172000002,,,,\n\
         ,cy@acme.example,#clear,#clear,+16172000010,+16172000011,,,\n\
         Dot Renamed,dot@acme.example,,,,,7010,,\n"
    );
    let expected = expect![[r#"
        undo completed total 5 undone 5 not undone 0 cancelled 1; deliveries queued 0
        row 2 updated ann@acme.example: undone - -
        row 3 updated BOB@acme.example: undone - -
        row 4 created eve@acme.example: undone - its welcome message had not been sent and was cancelled
        row 5 updated cy@acme.example: undone - -
        row 6 updated dot@acme.example: undone - -
    "#]];
    let mut outcomes = Vec::new();
    for db in testing::both("undo_upsert").await {
        let (store, account) = setup(&db).await;
        let before = directory(&store, &account).await;
        let import = imported(&store, &account, Mode::Upsert, &file).await;
        assert_eq!((import.updated, import.created), (4, 1), "{}", db.kind);
        assert_ne!(directory(&store, &account).await, before);

        let after_undo = undone(&store, &import).await;
        assert_eq!(
            directory(&store, &account).await,
            before,
            "{}: every user as before the import",
            db.kind
        );
        outcomes.push((db.kind.to_string(), undo_outcome(&store, &after_undo).await));
        store.close().await;
        db.remove().await;
    }
    check(&outcomes, &expected);
}

/// Users changed after the import, by a later import, are left alone with
/// why: one whose title changed, and one whose old extension another user
/// took since (named). The others are undone; the undo ends with errors.
#[tokio::test]
async fn a_user_changed_after_the_import_is_not_undone_and_says_why() {
    let first = format!(
        "{HEADER}\
         ,ann@acme.example,Engineer,,,,,,\n\
         ,dot@acme.example,,,,,7010,,\n\
         Eve,eve@acme.example,,,,,,,\n\
         ,bob@acme.example,Manager,,,,,,\n"
    );
    let later = format!(
        "{HEADER}\
         ,ann@acme.example,Architect,,,,,,\n\
         ,cy@acme.example,,,,,7004,,\n"
    );
    let expected = expect![[r#"
        undo completed_with_errors total 4 undone 2 not undone 2 cancelled 1; deliveries queued 0
        row 2 updated ann@acme.example: not_undone changed_since_import the user changed since the import (Job Title (Optional) was 'Engineer' after the import, is 'Architect' now); it is left as it is
        row 3 updated dot@acme.example: not_undone taken_since_import extension 7004, the user's before the import, is cy@acme.example's now; the user is left as the import made them
        row 4 created eve@acme.example: undone - its welcome message had not been sent and was cancelled
        row 5 updated bob@acme.example: undone - -
    "#]];
    let mut outcomes = Vec::new();
    for db in testing::both("undo_changed_since").await {
        let (store, account) = setup(&db).await;
        let import = imported(&store, &account, Mode::Upsert, &first).await;
        imported(&store, &account, Mode::Update, &later).await;
        let after_later = store.users(&account).await.expect("users");

        let after_undo = undone(&store, &import).await;
        outcomes.push((db.kind.to_string(), undo_outcome(&store, &after_undo).await));
        let users = store.users(&account).await.expect("users");
        // Those left alone are as the later import left them; Bob is back.
        for email in ["ann@acme.example", "dot@acme.example", "cy@acme.example"] {
            let find =
                |list: &[roster_store::User]| list.iter().find(|u| u.email == email).cloned();
            assert_eq!(find(&users), find(&after_later), "{}: {email}", db.kind);
        }
        let bob = users.iter().find(|u| u.email == "bob@acme.example");
        assert_eq!(bob.and_then(|b| b.job_title.clone()), None, "{}", db.kind);
        assert!(!users.iter().any(|u| u.email == "eve@acme.example"));
        store.close().await;
        db.remove().await;
    }
    check(&outcomes, &expected);
}

/// An undo is asked of a finished import only, holds the account while it
/// is queued (no import starts), can be stopped before it starts and asked
/// again, and then goes on to its end.
#[tokio::test]
async fn an_undo_waits_for_its_import_holds_the_account_and_resumes_after_a_stop() {
    for db in testing::both("undo_lifecycle").await {
        let (store, account) = setup(&db).await;
        let file = format!("{HEADER}Eve,eve@acme.example,,,,,,,\nFay,fay@acme.example,,,,,,,\n");
        let queued = submitted(&store, &account, Mode::Create, &file)
            .await
            .expect("queued");
        let refused = store.ask_undo(&queued.id).await.expect_err("refused");
        assert!(
            matches!(&refused, Error::CannotUndo { why, .. } if why.contains("still queued")),
            "{}: {refused}",
            db.kind
        );
        run_import(&store, &queued.id, RunConfig { batch_rows: 1 })
            .await
            .expect("runs");

        let asked = queue_undo(&store, &queued.id).await.expect("asked");
        assert_eq!(asked.undo.map(|u| u.state), Some(ImportState::Queued));
        let other = format!("{HEADER}Gus,gus@acme.example,,,,,,,\n");
        let busy = submitted(&store, &account, Mode::Create, &other)
            .await
            .expect_err("the account is held");
        assert!(
            matches!(&busy, Error::ImportActive { state, .. } if state.contains("being undone")),
            "{}: {busy}",
            db.kind
        );
        let stopped = store.stop(&queued.id).await.expect("stopped");
        assert_eq!(stopped, StopOutcome::UndoStopped, "{}", db.kind);
        let now = store.existing_import(&queued.id).await.expect("import");
        let undo = now.undo.clone().expect("an undo");
        assert_eq!((undo.state, undo.undone), (ImportState::Stopped, 0));
        assert_eq!(store.users(&account).await.expect("users").len(), 6);

        let done = undone(&store, &now).await;
        let undo = done.undo.expect("an undo");
        assert_eq!(
            (undo.state, undo.undone, undo.not_undone),
            (ImportState::Completed, 2, 0),
            "{}",
            db.kind
        );
        assert_eq!(store.users(&account).await.expect("users").len(), 4);
        store.close().await;
        db.remove().await;
    }
}

/// A row whose result keeps no image of its user (written before imports
/// kept them) is left as it is, `not_recorded`; the others are undone.
#[tokio::test]
async fn a_row_without_an_image_of_its_user_is_not_recorded_and_left_alone() {
    for db in testing::both("undo_not_recorded").await {
        let (store, account) = setup(&db).await;
        let file = format!("{HEADER}Eve,eve@acme.example,,,,,,,\nFay,fay@acme.example,,,,,,,\n");
        let import = imported(&store, &account, Mode::Create, &file).await;
        const FORGET: &str = "UPDATE row_results SET after_image = NULL WHERE row = 2";
        match store.pool() {
            roster_store::Pool::Sqlite(pool) => sqlx::query(FORGET).execute(pool).await.map(|_| ()),
            roster_store::Pool::Postgres(pool) => {
                sqlx::query(FORGET).execute(pool).await.map(|_| ())
            }
        }
        .expect("the image forgotten");
        let done = undone(&store, &import).await;
        let outcome = undo_outcome(&store, &done).await;
        assert!(
            outcome.starts_with("undo completed_with_errors total 2 undone 1 not undone 1"),
            "{}: {outcome}",
            db.kind
        );
        assert!(
            outcome.contains("row 2 created eve@acme.example: not_undone not_recorded"),
            "{outcome}"
        );
        let users = store.users(&account).await.expect("users");
        assert!(users.iter().any(|u| u.email == "eve@acme.example"));
        assert!(!users.iter().any(|u| u.email == "fay@acme.example"));
        store.close().await;
        db.remove().await;
    }
}
