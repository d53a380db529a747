//! The store on both databases: opening and migrating, loading accounts,
//! the schema's uniqueness rules, directory lookups, and imports found by
//! a prefix of their id.
//!
//! Every test runs on SQLite, and on PostgreSQL when
//! `ROSTER_TEST_POSTGRES_URL` is set (CI sets it).

use roster_store::testing::{self, ScratchDatabase};
use roster_store::{AccountSlug, AccountSpec, Error, NewImport, PasswordDelivery, Store, UserSpec};
use roster_validate::{E164, Email, Extension, ExtensionPolicy, Facts, Holder, Keys, Role};

fn number(s: &str) -> E164 {
    E164::parse(s).expect("test numbers are valid")
}

fn spec() -> AccountSpec {
    AccountSpec {
        slug: AccountSlug::parse("acme").expect("valid slug"),
        name: "Acme Corp".to_string(),
        locations: vec!["Boston Office".to_string()],
        parked_numbers: vec![number("+1 617 555 0100"), number("16175550101")],
        users: vec![UserSpec {
            display_name: "Existing Person".to_string(),
            email: Email::parse("Existing@acme.example").expect("valid email"),
            extension: Some(Extension::parse("7001", ExtensionPolicy::DEFAULT).expect("valid")),
            numbers: vec![number("+16175550150")],
            location: None,
            role: None,
        }],
        extensions: ExtensionPolicy::DEFAULT,
        extension_first: 7000,
        default_role: Role::User,
    }
}

async fn open(db: &ScratchDatabase) -> Store {
    Store::open(&db.url)
        .await
        .unwrap_or_else(|e| panic!("{}: opening: {e:?}", db.kind))
}

#[tokio::test]
async fn loading_an_account_twice_changes_nothing_but_what_changed() {
    for db in testing::both("loading_an_account_twice").await {
        let store = open(&db).await;
        let first = store.load_account(&spec()).await.expect("first load");
        let again = store.load_account(&spec()).await.expect("second load");
        assert_eq!(first, again, "{}", db.kind);
        assert_eq!(
            (
                first.locations,
                first.numbers,
                first.parked_numbers,
                first.users
            ),
            (2, 3, 2, 1),
            "{}",
            db.kind
        );

        let mut renamed = spec();
        renamed.name = "Acme Corporation".to_string();
        renamed.locations.push("Denver Office".to_string());
        renamed.parked_numbers.push(number("+1 303 555 0100"));
        let after = store.load_account(&renamed).await.expect("third load");
        assert_eq!(
            (
                after.locations,
                after.numbers,
                after.parked_numbers,
                after.users
            ),
            (3, 4, 3, 1),
            "{}",
            db.kind
        );
        let account = store
            .existing_account(&renamed.slug)
            .await
            .expect("account exists");
        assert_eq!(account.name, "Acme Corporation", "{}", db.kind);
        store.close().await;
        db.remove().await;
    }
}

#[tokio::test]
async fn a_number_of_another_user_is_a_conflict_and_nothing_is_written() {
    for db in testing::both("number_conflict").await {
        let store = open(&db).await;
        store.load_account(&spec()).await.expect("first load");
        let mut second = spec();
        second.users.push(UserSpec {
            display_name: "Thief".to_string(),
            email: Email::parse("thief@acme.example").expect("valid"),
            extension: None,
            numbers: vec![number("+16175550150")],
            location: None,
            role: None,
        });
        second.locations.push("Never Written".to_string());
        let err = store.load_account(&second).await.map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err(
                "user thief@acme.example: number +16175550150 is already assigned to another user"
                    .to_string()
            ),
            "{}",
            db.kind
        );
        let summary = store.load_account(&spec()).await.expect("reload");
        assert_eq!(
            (summary.locations, summary.users),
            (2, 1),
            "{}: the failed load rolled back",
            db.kind
        );
        store.close().await;
        db.remove().await;
    }
}

#[tokio::test]
async fn the_schema_refuses_duplicates_whoever_writes() {
    for db in testing::both("schema_refuses_duplicates").await {
        let store = open(&db).await;
        store.load_account(&spec()).await.expect("load");
        store.close().await;
        // Write around roster, straight to the tables: the constraints hold.
        let statements = [
            "INSERT INTO users (account_id, display_name, email, role, location_id) \
             SELECT account_id, 'Twin', 'EXISTING@ACME.EXAMPLE', 'user', location_id FROM users",
            "INSERT INTO extensions (account_id, extension, user_id) SELECT account_id, '7001', id FROM users",
            "INSERT INTO numbers (account_id, number, user_id) SELECT account_id, 16175550150, id FROM users",
            "UPDATE numbers SET is_primary = TRUE WHERE number = 16175550100",
        ];
        for sql in statements {
            let result = raw_execute(&db.url, sql).await;
            assert!(
                result.as_ref().is_err_and(|e| e.contains("UNIQUE")
                    || e.contains("unique")
                    || e.contains("CHECK")
                    || e.contains("check")),
                "{}: {sql}: {result:?}",
                db.kind
            );
        }
        db.remove().await;
    }
}

#[tokio::test]
async fn look_up_names_only_what_is_wrong() {
    for db in testing::both("look_up").await {
        let store = open(&db).await;
        store.load_account(&spec()).await.expect("load");
        let account = store.existing_account(&spec().slug).await.expect("account");
        let ext = |s: &str| Extension::parse(s, ExtensionPolicy::DEFAULT).expect("valid");
        let keys = Keys {
            emails: vec!["existing@acme.example", "new@acme.example"],
            numbers: vec![
                number("16175550100"),
                number("16175550150"),
                number("12125550100"),
            ],
            extensions: vec![ext("7001"), ext("7002")],
            locations: vec!["boston office", "main company address", "paris"],
            plan: false,
        };
        let facts = store.look_up(account.id, &keys).await.expect("look up");
        let expected = Facts {
            taken_emails: ["existing@acme.example".to_string()].into(),
            assigned_numbers: [number("16175550150")].into(),
            unowned_numbers: [number("12125550100")].into(),
            taken_extensions: [ext("7001")].into(),
            unknown_locations: ["paris".to_string()].into(),
            ..Facts::default()
        };
        assert_eq!(facts, expected, "{}", db.kind);

        // A plan asks who the users are, and who has what is taken.
        let planned = store
            .look_up(account.id, &Keys { plan: true, ..keys })
            .await
            .expect("look up");
        let user = &planned.users["existing@acme.example"];
        assert_eq!(
            (
                user.email.as_str(),
                user.extensions.clone(),
                user.primary,
                user.location.name.as_str()
            ),
            (
                "Existing@acme.example",
                vec![ext("7001")],
                Some(number("16175550150")),
                "Main Company Address"
            ),
            "{}",
            db.kind
        );
        assert_eq!(planned.users.len(), 1, "{}", db.kind);
        let holder = Holder {
            id: user.id,
            email: "Existing@acme.example".to_string(),
        };
        assert_eq!(
            planned.number_holders,
            [(number("16175550150"), holder.clone())].into(),
            "{}",
            db.kind
        );
        assert_eq!(
            planned.extension_holders,
            [(ext("7001"), holder)].into(),
            "{}",
            db.kind
        );
        store.close().await;
        db.remove().await;
    }
}

#[tokio::test]
async fn a_missing_account_says_how_to_create_it() {
    let db = testing::sqlite();
    let store = open(&db).await;
    let err = store
        .existing_account(&AccountSlug::parse("nope").expect("valid"))
        .await;
    assert!(matches!(&err, Err(Error::NoAccount(_))));
    assert_eq!(
        err.map(|_| ()).map_err(|e| e.to_string()),
        Err("no account 'nope'; load it first with `roster account load FILE.toml`".to_string())
    );
}

#[tokio::test]
async fn opening_twice_migrates_once() {
    let db = testing::sqlite();
    open(&db).await.close().await;
    let store = open(&db).await;
    store
        .load_account(&spec())
        .await
        .expect("load after reopening");
}

#[tokio::test]
async fn imports_by_prefix_finds_the_imports_whose_id_starts_with_it() {
    for db in testing::both("imports_by_prefix").await {
        let store = open(&db).await;
        store.load_account(&spec()).await.expect("load");
        let account = store
            .existing_account(&spec().slug)
            .await
            .expect("account exists");
        let new = NewImport {
            account: account.id,
            file_name: "users.csv".to_string(),
            voice: false,
            passwords: PasswordDelivery::None,
            total: 1,
            chunk_rows: 0,
            reserved_extensions: Vec::new(),
            mode: roster_validate::Mode::Create,
        };
        // 17 ids: two of them share a first character at least.
        let mut ids = Vec::new();
        for _ in 0..17 {
            let import = store
                .create_import(&new, &mut &b"x"[..], None)
                .await
                .expect("queued");
            store.stop_import(&import.id).await.expect("stopped");
            ids.push(import.id.to_string());
        }
        ids.sort();
        let (first, shared) = ids
            .windows(2)
            .map(|w| (w[0].clone(), shared_len(&w[0], &w[1])))
            .max_by_key(|&(_, n)| n)
            .expect("17 ids");
        let common: String = first.chars().take(shared).collect();
        let starting = |prefix: &str| -> Vec<String> {
            ids.iter()
                .filter(|id| id.starts_with(prefix))
                .cloned()
                .collect()
        };
        let found = async |prefix: &str, limit: u32| -> Vec<String> {
            store
                .imports_by_prefix(prefix, limit)
                .await
                .unwrap_or_else(|e| panic!("{}: {prefix}: {e:?}", db.kind))
                .into_iter()
                .map(|i| i.id.to_string())
                .collect()
        };

        let ambiguous = found(&common, 100).await;
        assert!(ambiguous.len() >= 2, "{}: {common}: {ambiguous:?}", db.kind);
        assert_eq!(ambiguous, starting(&common), "{}: {common}", db.kind);
        assert_eq!(
            found(&common.to_uppercase(), 100).await,
            ambiguous,
            "{}",
            db.kind
        );
        assert_eq!(found(&first, 100).await, [first.as_str()], "{}", db.kind);
        // Every id has a hyphen after 8 characters: with it or without, the
        // same imports.
        let eight: String = first.chars().take(8).collect();
        assert_eq!(
            found(&format!("{eight}-"), 100).await,
            found(&eight, 100).await,
            "{}",
            db.kind
        );
        assert_eq!(found(&eight, 100).await, starting(&eight), "{}", db.kind);
        // The empty prefix is every import, in id order, up to the limit.
        assert_eq!(found("", 5).await, ids[..5], "{}", db.kind);
        assert_eq!(found("", 100).await, ids, "{}", db.kind);
        // No wildcards, nothing beyond an id's characters.
        for nothing in ["%", "_", "zz", &format!("{eight}g"), &format!("{first}0")] {
            assert_eq!(
                found(nothing, 100).await,
                Vec::<String>::new(),
                "{}: {nothing}",
                db.kind
            );
        }
        store.close().await;
        db.remove().await;
    }
}

/// How many characters `a` and `b` begin with alike.
fn shared_len(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// Runs one statement on a connection of its own, returning the database's message on failure.
async fn raw_execute(url: &str, sql: &'static str) -> Result<u64, String> {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query(sql)
            .execute(&mut conn)
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| e.to_string())
    } else {
        let mut conn = sqlx::PgConnection::connect(url)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query(sql)
            .execute(&mut conn)
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| e.to_string())
    }
}
