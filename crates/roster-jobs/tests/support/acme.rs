//! What the update and undo tests share: the Acme account they start from
//! (four users, ten parked numbers, a Boston office), the template's header
//! for their files, and one snapshot for both databases.

use expect_test::Expect;
use roster_store::testing::ScratchDatabase;
use roster_store::{Account, AccountSlug, AccountSpec, Store, UserSpec};
use roster_validate::{E164, Email, Extension, ExtensionPolicy, Role};

pub const HEADER: &str = "Display Name (Mandatory),Email Address (Mandatory),Job Title (Optional),\
    Department (Optional),Primary Phone Number (Optional),Additional Phone Numbers (Optional),\
    Extension (Optional),Voice Location (Optional),Role (Optional)\n";

pub fn number(s: &str) -> E164 {
    E164::parse(s).expect("test numbers are valid")
}

pub fn user(name: &str, email: &str, extension: &str, numbers: &[&str]) -> UserSpec {
    UserSpec {
        display_name: name.to_string(),
        email: Email::parse(email).expect("valid"),
        extension: Some(Extension::parse(extension, ExtensionPolicy::DEFAULT).expect("valid")),
        numbers: numbers.iter().map(|n| number(n)).collect(),
        location: None,
        role: None,
    }
}

/// Ann (7001, +16172000001), Bob (7002, +16172000002 and +16172000003),
/// Cy (7003) and Dot (7004, +16172000004); numbers +16172000010 to 19
/// parked; a Boston office.
pub fn spec() -> AccountSpec {
    AccountSpec {
        slug: AccountSlug::parse("acme").expect("valid"),
        name: "Acme".to_string(),
        locations: vec!["Boston Office".to_string()],
        parked_numbers: (10..20)
            .map(|i| number(&format!("161720000{i:02}")))
            .collect(),
        users: vec![
            user("Ann", "ann@acme.example", "7001", &["+16172000001"]),
            user(
                "Bob",
                "bob@acme.example",
                "7002",
                &["+16172000002", "+16172000003"],
            ),
            user("Cy", "cy@acme.example", "7003", &[]),
            user("Dot", "dot@acme.example", "7004", &["+16172000004"]),
        ],
        extensions: ExtensionPolicy::DEFAULT,
        extension_first: 7000,
        default_role: Role::User,
    }
}

pub async fn setup(db: &ScratchDatabase) -> (Store, Account) {
    let store = Store::open(&db.url)
        .await
        .unwrap_or_else(|e| panic!("{}: {e:?}", db.kind));
    store.load_account(&spec()).await.expect("load the account");
    let account = store.existing_account(&spec().slug).await.expect("account");
    (store, account)
}

/// One snapshot for both databases: what each gave, which must agree.
pub fn check(outcomes: &[(String, String)], expect: &Expect) {
    let (first_kind, first) = &outcomes[0];
    for (kind, outcome) in &outcomes[1..] {
        assert_eq!(outcome, first, "{kind} against {first_kind}");
    }
    expect.assert_eq(first);
}
