//! `StoreDirectory`: the account's directory as the validator reads it,
//! answered from the database a batch of keys at a time.
//!
//! Each batch costs four queries whatever its size: one per kind of key, the
//! keys bound as a single list parameter.

use std::collections::{HashMap, HashSet};

use roster_validate::{
    Directory, DirectoryError, E164, Extension, ExtensionPolicy, Facts, Keys, NumberState,
};

use crate::error::Context;
use crate::store::Db;
use crate::{Account, AccountId, Error, Store};

/// The validator's view of one account in the store.
///
/// The validator is synchronous; this adapter blocks on the async store
/// through `runtime`, so it must be used from a blocking thread
/// (`tokio::task::spawn_blocking`), never from async code.
pub struct StoreDirectory {
    store: Store,
    account: AccountId,
    extensions: ExtensionPolicy,
    runtime: tokio::runtime::Handle,
}

impl StoreDirectory {
    pub fn new(store: Store, account: &Account, runtime: tokio::runtime::Handle) -> StoreDirectory {
        StoreDirectory {
            store,
            account: account.id,
            extensions: account.extensions,
            runtime,
        }
    }
}

impl Directory for StoreDirectory {
    fn look_up(&mut self, keys: &Keys) -> Result<Facts, DirectoryError> {
        let facts =
            self.runtime
                .block_on(self.store.look_up(self.account, self.extensions, keys))?;
        Ok(facts)
    }
}

const EMAILS_SQLITE: &str = "SELECT lower(email) FROM users \
    WHERE account_id = $1 AND lower(email) IN (SELECT value FROM json_each($2))";
const EMAILS_POSTGRES: &str = "SELECT lower(email) FROM users \
    WHERE account_id = $1 AND lower(email) = ANY($2)";
const NUMBERS_SQLITE: &str = "SELECT number, user_id IS NOT NULL FROM numbers \
    WHERE account_id = $1 AND number IN (SELECT value FROM json_each($2))";
const NUMBERS_POSTGRES: &str = "SELECT number, user_id IS NOT NULL FROM numbers \
    WHERE account_id = $1 AND number = ANY($2)";
const EXTENSIONS_SQLITE: &str = "SELECT extension FROM extensions \
    WHERE account_id = $1 AND extension IN (SELECT value FROM json_each($2))";
const EXTENSIONS_POSTGRES: &str = "SELECT extension FROM extensions \
    WHERE account_id = $1 AND extension = ANY($2)";
const LOCATIONS_SQLITE: &str = "SELECT name_key FROM locations \
    WHERE account_id = $1 AND name_key IN (SELECT value FROM json_each($2))";
const LOCATIONS_POSTGRES: &str = "SELECT name_key FROM locations \
    WHERE account_id = $1 AND name_key = ANY($2)";

impl Store {
    /// What the account holds of `keys`: four queries, whatever the batch size.
    pub async fn look_up(
        &self,
        account: AccountId,
        policy: ExtensionPolicy,
        keys: &Keys,
    ) -> Result<Facts, Error> {
        let id = account.get();
        let digits: Vec<i64> = keys.numbers.iter().map(|n| n.digits() as i64).collect();
        let extensions: Vec<&str> = keys.extensions.iter().map(Extension::as_str).collect();
        type Rows = (
            Vec<(String,)>,
            Vec<(i64, bool)>,
            Vec<(String,)>,
            Vec<(String,)>,
        );
        let (emails, numbers, taken, locations): Rows = match &self.db {
            Db::Sqlite(pool) => (
                fetch_list(pool, EMAILS_SQLITE, id, json(&keys.emails)).await?,
                fetch_list(pool, NUMBERS_SQLITE, id, json(&digits)).await?,
                fetch_list(pool, EXTENSIONS_SQLITE, id, json(&extensions)).await?,
                fetch_list(pool, LOCATIONS_SQLITE, id, json(&keys.locations)).await?,
            ),
            Db::Postgres(pool) => (
                fetch_list(pool, EMAILS_POSTGRES, id, keys.emails.clone()).await?,
                fetch_list(pool, NUMBERS_POSTGRES, id, digits).await?,
                fetch_list(
                    pool,
                    EXTENSIONS_POSTGRES,
                    id,
                    extensions.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
                )
                .await?,
                fetch_list(pool, LOCATIONS_POSTGRES, id, keys.locations.clone()).await?,
            ),
        };
        Ok(Facts {
            taken_emails: emails.into_iter().map(|(e,)| e).collect(),
            numbers: numbers
                .into_iter()
                .filter_map(|(digits, assigned)| {
                    let state = if assigned {
                        NumberState::Assigned
                    } else {
                        NumberState::Parked
                    };
                    Some((E164::from_digits(u64::try_from(digits).ok()?).ok()?, state))
                })
                .collect::<HashMap<_, _>>(),
            taken_extensions: taken
                .into_iter()
                .filter_map(|(e,)| {
                    Extension::parse(
                        &e,
                        ExtensionPolicy {
                            min_digits: 1,
                            max_digits: ExtensionPolicy::MAX_DIGITS.max(policy.max_digits),
                        },
                    )
                    .ok()
                })
                .collect::<HashSet<_>>(),
            locations: locations.into_iter().map(|(l,)| l).collect(),
        })
    }
}

/// Runs a lookup whose second parameter is the whole list of keys.
async fn fetch_list<'p, DB, P, T>(
    pool: &'p sqlx::Pool<DB>,
    sql: &'static str,
    account: i64,
    list: P,
) -> Result<Vec<T>, Error>
where
    DB: sqlx::Database,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> P: sqlx::Encode<'q, DB> + sqlx::Type<DB> + Send + 'q,
    for<'r> T: sqlx::FromRow<'r, DB::Row> + Send + Unpin,
    for<'q> <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
{
    sqlx::query_as(sql)
        .bind(account)
        .bind(list)
        .fetch_all(pool)
        .await
        .context("looking up the account's directory")
}

/// A list as a JSON array, for `json_each` on SQLite.
fn json<T: serde::Serialize>(list: &[T]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_string())
}
