//! Which row code a write refused by the schema means: the constraint that
//! refused it, as each database names it, looked up in one table.
//!
//! PostgreSQL names the constraint (or the unique index). SQLite names a
//! unique index on an expression, and otherwise the table and columns, in
//! its message (`UNIQUE constraint failed: index 'users_email'`,
//! `UNIQUE constraint failed: extensions.account_id, extensions.extension`);
//! the message is read only for that name.

use roster_validate::Code;
use sqlx::error::DatabaseError;

/// What a constraint's refusal means for a row, by the name the database
/// gives it. The test below provokes each on both databases.
const REFUSALS: [(&str, Code); 7] = [
    // A user's email, case-insensitively within the account.
    ("users_email", Code::EmailTaken),
    // An extension of the account.
    ("extensions_pkey", Code::ExtensionTaken),
    ("extensions(account_id, extension)", Code::ExtensionTaken),
    // A number of the account, and a user's one primary number.
    ("numbers_pkey", Code::NumberAssigned),
    ("numbers(account_id, number)", Code::NumberAssigned),
    ("numbers_one_primary", Code::NumberAssigned),
    ("numbers(user_id)", Code::NumberAssigned),
];

/// The row code of a write the schema refused (a unique, check or foreign
/// key violation); `None` when the refusal is no row's (or the error none).
pub(crate) fn refusal_code(e: &dyn DatabaseError) -> Option<Code> {
    let name = refused_by(e)?;
    REFUSALS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, code)| *code)
}

/// The name of what refused the write: the constraint or index, or, for a
/// SQLite unique key on columns, `table(column, …)`.
fn refused_by(e: &dyn DatabaseError) -> Option<String> {
    if let Some(name) = e.constraint() {
        return Some(name.to_string());
    }
    let failed = e.message().strip_prefix("UNIQUE constraint failed: ")?;
    if let Some(index) = failed.strip_prefix("index '") {
        return index.strip_suffix('\'').map(str::to_string);
    }
    // `t.a, t.b`: the table once, then its columns.
    let mut table = None;
    let mut columns = Vec::new();
    for qualified in failed.split(", ") {
        let (t, column) = qualified.split_once('.')?;
        if table.is_some_and(|known| known != t) {
            return None;
        }
        table = Some(t);
        columns.push(column);
    }
    Some(format!("{}({})", table?, columns.join(", ")))
}

#[cfg(test)]
mod tests {
    use roster_validate::{E164, Email, Extension, ExtensionPolicy, Role};

    use super::*;
    use crate::db::query;
    use crate::{AccountSlug, AccountSpec, Store, UserSpec, testing};

    /// Writes the schema refuses, and the code each must mean.
    const WRITES: [(&str, Option<Code>); 5] = [
        (
            "INSERT INTO users (account_id, display_name, email, role, location_id) \
             SELECT account_id, 'Again', upper(email), role, location_id FROM users",
            Some(Code::EmailTaken),
        ),
        (
            "INSERT INTO extensions (account_id, extension, user_id) \
             SELECT account_id, extension, user_id FROM extensions",
            Some(Code::ExtensionTaken),
        ),
        (
            "INSERT INTO numbers (account_id, number) SELECT account_id, number FROM numbers \
             WHERE user_id IS NOT NULL",
            Some(Code::NumberAssigned),
        ),
        (
            "UPDATE numbers SET is_primary = NOT is_primary WHERE user_id IS NOT NULL AND NOT is_primary",
            Some(Code::NumberAssigned),
        ),
        // A number outside the plan is no row's conflict.
        ("UPDATE numbers SET number = 5 WHERE user_id IS NULL", None),
    ];

    #[tokio::test]
    async fn every_refusal_of_the_schema_means_its_code_on_both_databases() {
        for db in testing::both("refusal_codes").await {
            let store = Store::open(&db.url).await.expect("a store");
            let number = |n: &str| E164::parse(n).expect("valid");
            store
                .load_account(&AccountSpec {
                    slug: AccountSlug::parse("acme").expect("valid"),
                    name: "Acme".to_string(),
                    locations: Vec::new(),
                    parked_numbers: vec![number("16172000009")],
                    users: vec![UserSpec {
                        display_name: "Ada".to_string(),
                        email: Email::parse("ada@acme.example").expect("valid"),
                        extension: Some(
                            Extension::parse("7001", ExtensionPolicy::DEFAULT).expect("valid"),
                        ),
                        numbers: vec![number("16172000000"), number("16172000001")],
                        location: None,
                        role: None,
                    }],
                    extensions: ExtensionPolicy::DEFAULT,
                    extension_first: 7000,
                    default_role: Role::User,
                })
                .await
                .expect("the account");
            for (sql, code) in WRITES {
                let refused = query(sql).execute(&store.db).await.expect_err(sql);
                let e = refused.as_database_error().expect("the database's refusal");
                assert_eq!(
                    refusal_code(e),
                    code,
                    "{}: {sql}: {:?} {}",
                    db.kind,
                    e.constraint(),
                    e.message()
                );
            }
            store.close().await;
            db.remove().await;
        }
    }
}
