//! Password delivery end to end below the binary: an import creates users
//! with the import runner, a password worker sends their messages to a real
//! SMTP server on loopback, and the database, the queue and the results
//! are read back. On SQLite, and on PostgreSQL when
//! `ROSTER_TEST_POSTGRES_URL` is set (CI sets it).

use std::time::{Duration, Instant};

use roster_jobs::{RunConfig, for_each_result, run_import};
use roster_mail::testing::{SinkMode, SmtpSink, password_in};
use roster_mail::{DeliveryConfig, Outbox, deliver, run_password_worker, verify_password};
use roster_queue::DeliverPasswords;
use roster_store::testing::{self, ScratchDatabase};
use roster_store::{
    Account, AccountSlug, AccountSpec, DeliveryState, DeliveryStatus, Import, NewImport,
    PasswordDelivery, Pool, Store, StoredPassword,
};
use roster_validate::{Email, ExtensionPolicy, Role};

const USERS: &str = "Display Name (Mandatory),Email Address (Mandatory)
Jane Doe,jane@acme.example
John Roe,john@acme.example
Ann Lee,ann@acme.example
";

/// One user, for the tests of a single delivery.
const JANE: &str =
    "Display Name (Mandatory),Email Address (Mandatory)\nJane Doe,jane@acme.example\n";

async fn setup(db: &ScratchDatabase) -> (Store, Account) {
    let store = Store::open(&db.url)
        .await
        .unwrap_or_else(|e| panic!("{}: {e:?}", db.kind));
    let spec = AccountSpec {
        slug: AccountSlug::parse("acme").expect("valid"),
        name: "Acme".to_string(),
        locations: Vec::new(),
        parked_numbers: Vec::new(),
        users: Vec::new(),
        extensions: ExtensionPolicy::DEFAULT,
        extension_first: 7000,
        default_role: Role::User,
    };
    store.load_account(&spec).await.expect("load the account");
    let account = store.existing_account(&spec.slug).await.expect("account");
    (store, account)
}

/// Creates the users of `csv` with the import runner.
async fn import(
    store: &Store,
    account: &Account,
    csv: &str,
    passwords: PasswordDelivery,
) -> Import {
    let new = NewImport {
        account: account.id,
        file_name: "users.csv".to_string(),
        voice: true,
        passwords,
        total: csv.lines().count() as u64 - 1,
        chunk_rows: 0,
        reserved_extensions: Vec::new(),
        mode: roster_validate::Mode::Create,
    };
    let import = store
        .create_import(&new, &mut csv.as_bytes(), None)
        .await
        .expect("queued");
    run_import(store, &import.id, RunConfig::default())
        .await
        .expect("the import runs");
    store.existing_import(&import.id).await.expect("import")
}

fn config(smtp_url: &str) -> DeliveryConfig {
    DeliveryConfig {
        from: "Acme PBX <noreply@acme.example>".to_string(),
        sign_in_url: "https://pbx.acme.example/sign-in".to_string(),
        retry_after: Duration::from_secs(1),
        ..DeliveryConfig::new(Outbox::smtp(smtp_url, None).expect("an outbox"))
    }
}

/// Runs a password worker until no delivery of `import` is queued.
async fn deliver_all(store: &Store, import: &Import, config: DeliveryConfig) -> Import {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(run_password_worker(
        store.clone(),
        "test-mail",
        config,
        async {
            let _ = stopped.await;
        },
    ));
    let started = Instant::now();
    let settled = loop {
        let now = store.existing_import(&import.id).await.expect("import");
        if now.deliveries.queued == 0 {
            break now;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "deliveries still queued: {:?}",
            now.deliveries
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = stop.send(());
    worker
        .await
        .expect("the worker task")
        .expect("the worker stops cleanly");
    settled
}

/// Each row's email and password delivery, in file order.
async fn deliveries(store: &Store, import: &Import) -> Vec<(String, Option<DeliveryStatus>)> {
    let (store, import) = (store.clone(), import.clone());
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for_each_result(&store, &import, runtime, &mut |line, _| {
            out.push((
                line.email.clone().unwrap_or_default(),
                line.delivery.clone(),
            ));
            Ok(())
        })
        .expect("results");
        out
    })
    .await
    .expect("the results task")
}

/// The user's password as the store keeps it.
async fn kept(store: &Store, account: &Account, email: &str) -> StoredPassword {
    store
        .stored_password(account, email)
        .await
        .expect("read")
        .unwrap_or_else(|| panic!("no user {email}"))
}

/// Whether the password in `message` is the one the store keeps for
/// `email`.
async fn password_works(store: &Store, account: &Account, email: &str, message: &str) -> bool {
    let password = password_in(message).expect("a password");
    let hash = kept(store, account, email).await.hash.expect("a hash");
    verify_password(&password, &hash)
}

/// A number the database answers.
async fn scalar(store: &Store, sql: &'static str) -> i64 {
    match store.pool() {
        Pool::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        Pool::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Everything the database holds, as text: on SQLite the bytes of its
/// files (free pages and the write-ahead log included), on PostgreSQL
/// every row of every table, the queue's included.
async fn everything_stored(db: &ScratchDatabase, store: &Store) -> String {
    match store.pool() {
        Pool::Sqlite(pool) => {
            // Let the write-ahead log reach the main file, then read both.
            sqlx::query("PRAGMA wal_checkpoint(FULL)")
                .execute(pool)
                .await
                .expect("a checkpoint");
            let file = db.url.trim_start_matches("sqlite://");
            let mut bytes = std::fs::read(file).expect("the database file");
            bytes.extend(std::fs::read(format!("{file}-wal")).unwrap_or_default());
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Pool::Postgres(pool) => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) \
                 FROM information_schema.tables \
                 WHERE table_schema IN ('public', 'apalis') AND table_type = 'BASE TABLE'",
            )
            .fetch_all(pool)
            .await
            .expect("the tables");
            assert!(tables.iter().any(|t| t == "apalis.jobs"), "{tables:?}");
            let mut out = String::new();
            for table in tables {
                let sql = format!("SELECT coalesce(string_agg(t::text, '\n'), '') FROM {table} t");
                let rows: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(pool)
                    .await
                    .expect("a table's rows");
                out.push_str(&rows);
            }
            out
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_gets_a_password_that_works_and_is_kept_nowhere_in_clear() {
    for db in testing::both("each_user_gets_a_password").await {
        let (store, account) = setup(&db).await;
        let dir = tempfile::tempdir().expect("a folder");
        let sink = SmtpSink::start(SinkMode::Accept, dir.path());
        let import = import(&store, &account, USERS, PasswordDelivery::Users).await;
        assert_eq!(
            (import.created, import.deliveries.queued),
            (3, 3),
            "{}",
            db.kind
        );
        // One job for the users one batch created, queued with them.
        let jobs = match store.pool() {
            Pool::Sqlite(_) => "SELECT count(*) FROM Jobs WHERE job_type = 'roster-passwords'",
            Pool::Postgres(_) => {
                "SELECT count(*) FROM apalis.jobs WHERE job_type = 'roster-passwords'"
            }
        };
        assert_eq!(scalar(&store, jobs).await, 1, "{}", db.kind);
        assert_eq!(
            kept(&store, &account, "jane@acme.example").await,
            StoredPassword {
                hash: None,
                must_change: false
            },
            "no usable password before its delivery"
        );

        let settled = deliver_all(&store, &import, config(&sink.url())).await;
        assert_eq!(
            (settled.deliveries.sent, settled.deliveries.failed),
            (3, 0),
            "{}",
            db.kind
        );
        let received = sink.received();
        let mut recipients: Vec<&str> = received.iter().map(|r| r.recipients.as_str()).collect();
        recipients.sort();
        assert_eq!(
            recipients,
            ["ann@acme.example", "jane@acme.example", "john@acme.example"],
            "{}",
            db.kind
        );
        let stored = everything_stored(&db, &store).await;
        for message in &received {
            assert!(
                message.message.contains("Hello "),
                "{}: {}",
                db.kind,
                message.message
            );
            let password = password_in(&message.message).expect("a password in the message");
            let kept = kept(&store, &account, &message.recipients).await;
            assert!(kept.must_change, "{}", db.kind);
            let hash = kept.hash.expect("a hash");
            assert!(hash.starts_with("$argon2id$"), "{hash}");
            assert!(verify_password(&password, &hash), "{}", db.kind);
            // What was read is the database: its hashes are in it.
            assert!(stored.contains(&hash), "{}", db.kind);
            assert!(
                !stored.contains(&password),
                "{}: the clear password is stored",
                db.kind
            );
        }
        let results = format!("{:?}", deliveries(&store, &import).await);
        for message in &received {
            let password = password_in(&message.message).expect("a password");
            assert!(!results.contains(&password), "{results}");
        }
        assert!(results.contains("state: Sent"), "{results}");

        // A job delivered again finds its delivery settled: nothing more is sent.
        let job = DeliverPasswords {
            import: scalar(&store, "SELECT id FROM imports").await,
            batch: scalar(&store, "SELECT max(batch) FROM deliveries").await,
            attempt: 1,
        };
        deliver(&store, &config(&sink.url()), &job)
            .await
            .expect("a second run");
        assert_eq!(sink.received().len(), 3, "{}", db.kind);
        store.close().await;
        db.remove().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_then_250_delivers_one_message_whose_password_works() {
    for db in testing::both("a_4xx_then_250").await {
        let (store, account) = setup(&db).await;
        let dir = tempfile::tempdir().expect("a folder");
        let sink = SmtpSink::start(SinkMode::RefuseOnceForNow, dir.path());
        let import = import(&store, &account, JANE, PasswordDelivery::Users).await;

        let settled = deliver_all(&store, &import, config(&sink.url())).await;
        assert_eq!(
            (settled.deliveries.sent, settled.deliveries.failed),
            (1, 0),
            "{}",
            db.kind
        );
        let received = sink.received();
        assert_eq!(received.len(), 1, "{}", db.kind);
        assert_eq!(
            scalar(&store, "SELECT attempts FROM deliveries").await,
            2,
            "{}: refused once, then sent",
            db.kind
        );
        // The second attempt's password is the one that works.
        assert!(
            password_works(&store, &account, "jane@acme.example", &received[0].message).await,
            "{}",
            db.kind
        );
        store.close().await;
        db.remove().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_whose_job_the_queue_dropped_is_queued_again_and_sent() {
    for db in testing::both("a_delivery_whose_job_was_dropped").await {
        let (store, account) = setup(&db).await;
        let dir = tempfile::tempdir().expect("a folder");
        let sink = SmtpSink::start(SinkMode::Accept, dir.path());
        let import = import(&store, &account, JANE, PasswordDelivery::Users).await;
        assert_eq!(
            store.requeue_stranded_deliveries().await.expect("a sweep"),
            0,
            "{}: its job is alive",
            db.kind
        );

        // The job ran out of attempts on errors of roster's own.
        let dropped = match store.pool() {
            Pool::Sqlite(pool) => sqlx::query(
                "UPDATE Jobs SET status = 'Failed', attempts = max_attempts \
                 WHERE job_type = 'roster-passwords'",
            )
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
            Pool::Postgres(pool) => sqlx::query(
                "UPDATE apalis.jobs SET status = 'Failed', attempts = max_attempts \
                 WHERE job_type = 'roster-passwords'",
            )
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        }
        .expect("dropping the job");
        assert_eq!(dropped, 1, "{}", db.kind);

        // A password worker finds it when it starts, and sends it.
        let settled = deliver_all(&store, &import, config(&sink.url())).await;
        assert_eq!(
            (settled.deliveries.sent, settled.deliveries.failed),
            (1, 0),
            "{}",
            db.kind
        );
        let received = sink.received();
        assert_eq!(received.len(), 1, "{}", db.kind);
        assert!(
            password_works(&store, &account, "jane@acme.example", &received[0].message).await,
            "{}",
            db.kind
        );
        assert_eq!(
            store.requeue_stranded_deliveries().await.expect("a sweep"),
            0,
            "{}: a sent delivery needs no job",
            db.kind
        );
        store.close().await;
        db.remove().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_is_reported_on_the_row_and_leaves_no_password() {
    for db in testing::both("a_5xx_is_reported").await {
        let (store, account) = setup(&db).await;
        let dir = tempfile::tempdir().expect("a folder");
        let sink = SmtpSink::start(SinkMode::RefuseForGood, dir.path());
        let import = import(&store, &account, USERS, PasswordDelivery::Users).await;

        let settled = deliver_all(&store, &import, config(&sink.url())).await;
        assert_eq!(
            (settled.deliveries.sent, settled.deliveries.failed),
            (0, 3),
            "{}",
            db.kind
        );
        assert!(sink.received().is_empty());
        let rows = deliveries(&store, &import).await;
        assert_eq!(rows.len(), 3);
        for (email, delivery) in rows {
            let delivery = delivery.expect("a created row has a delivery");
            assert_eq!(delivery.state, DeliveryState::Failed, "{email}");
            let error = delivery.error.clone().expect("why");
            assert!(error.contains("550"), "{error}");
            assert!(
                delivery
                    .describe()
                    .ends_with("reset the user's password to let them sign in"),
                "{}",
                delivery.describe()
            );
            assert_eq!(
                kept(&store, &account, &email).await.hash,
                None,
                "{}: {email}",
                db.kind
            );
        }
        store.close().await;
        db.remove().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_gets_a_message_per_user_naming_the_user() {
    let db = testing::sqlite();
    let (store, account) = setup(&db).await;
    let dir = tempfile::tempdir().expect("a folder");
    let sink = SmtpSink::start(SinkMode::Accept, dir.path());
    let it = Email::parse("it@acme.example").expect("valid");
    let import = import(&store, &account, USERS, PasswordDelivery::To(it)).await;

    let settled = deliver_all(&store, &import, config(&sink.url())).await;
    assert_eq!(settled.deliveries.sent, 3);
    let received = sink.received();
    let recipients: Vec<&str> = received.iter().map(|r| r.recipients.as_str()).collect();
    assert_eq!(recipients, ["it@acme.example"; 3]);
    for (name, email) in [
        ("Jane Doe", "jane@acme.example"),
        ("John Roe", "john@acme.example"),
        ("Ann Lee", "ann@acme.example"),
    ] {
        let subject = format!("Subject: Temporary password for {name} ({email})");
        let message = received
            .iter()
            .find(|r| r.message.contains(&subject))
            .unwrap_or_else(|| panic!("no message for {email}: {received:?}"));
        assert!(
            message
                .message
                .contains(&format!("Username:           {email}")),
            "{}",
            message.message
        );
        assert!(
            password_works(&store, &account, email, &message.message).await,
            "{email}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_delivery_nothing_is_queued_and_the_rows_say_to_reset() {
    for db in testing::both("without_delivery").await {
        let (store, account) = setup(&db).await;
        let import = import(&store, &account, USERS, PasswordDelivery::None).await;
        assert_eq!(import.created, 3);
        assert_eq!(import.deliveries, Default::default(), "{}", db.kind);
        assert_eq!(
            scalar(&store, "SELECT count(*) FROM deliveries").await,
            0,
            "{}",
            db.kind
        );
        for (email, delivery) in deliveries(&store, &import).await {
            let delivery = delivery.expect("a created row says what became of its password");
            assert_eq!(delivery.state, DeliveryState::NotSent, "{email}");
            assert_eq!(
                delivery.describe(),
                "no password sent (passwords none); reset the user's password to let them sign in"
            );
            assert_eq!(kept(&store, &account, &email).await.hash, None, "{email}");
        }
        store.close().await;
        db.remove().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_out_of_reach_is_retried_then_given_up() {
    let db = testing::sqlite();
    let (store, account) = setup(&db).await;
    // A port nobody listens on: bind one, note it, let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let import = import(&store, &account, JANE, PasswordDelivery::Users).await;
    let config = DeliveryConfig {
        attempts: 2,
        ..config(&format!("smtp://127.0.0.1:{port}"))
    };

    let settled = deliver_all(&store, &import, config).await;
    assert_eq!(settled.deliveries.failed, 1);
    let rows = deliveries(&store, &import).await;
    let error = rows[0]
        .1
        .as_ref()
        .and_then(|d| d.error.clone())
        .expect("why");
    assert!(error.starts_with("gave up after 2 attempts: "), "{error}");
    assert_eq!(scalar(&store, "SELECT attempts FROM deliveries").await, 2);
}
