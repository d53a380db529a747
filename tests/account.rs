//! `roster account load`.

use expect_test::expect;

use crate::util::{Roster, fixture, path};

#[tokio::test]
async fn account_load_is_idempotent_on_both_databases() {
    for roster in Roster::both("account_load_is_idempotent").await {
        let demo = fixture("demo-account.toml");
        let first = roster.run(&["account", "load", path(&demo)]);
        let second = roster.run(&["account", "load", path(&demo)]);
        assert_eq!(
            (first.code, second.code),
            (0, 0),
            "{}: {first:?} {second:?}",
            roster.db.kind
        );
        assert_eq!(first.stdout, second.stdout, "{}", roster.db.kind);
        expect![[r#"
            account demo (Demo Corp) loaded: 3 locations, 1016 numbers (1013 parked), 2 users
        "#]]
        .assert_eq(&first.stdout);
        roster.db.remove().await;
    }
}

#[test]
fn account_file_errors_name_the_bad_value() {
    let roster = Roster::sqlite();
    let file = roster.file(
        "bad.toml",
        b"slug = \"acme\"\nname = \"Acme\"\nparked_numbers = [\"+1 617 555 0100\", \"555-0100\"]\n",
    );
    let out = roster.run(&["account", "load", path(&file)]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        format!(
            "error: in the account file {}: parked_numbers[1]: '555-0100' has 7 digits; a North-American number has 11 with the leading 1, like +1 415 555 0100\n",
            file.display()
        )
    );
}
