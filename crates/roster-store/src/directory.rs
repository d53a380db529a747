//! `StoreDirectory`: the account's directory as the validator reads it,
//! answered from the database a batch of keys at a time.
//!
//! Each batch costs four queries whatever its size: one per kind of key, the
//! keys bound as a single list parameter. Each query returns only what is
//! wrong — a taken email, an assigned or foreign number — so for a good file
//! the answers are empty.

use roster_validate::{Directory, DirectoryError, E164, Extension, ExtensionPolicy, Facts, Keys};

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
    fn look_up(&mut self, keys: &Keys<'_>) -> Result<Facts, DirectoryError> {
        let facts =
            self.runtime
                .block_on(self.store.look_up(self.account, self.extensions, keys))?;
        Ok(facts)
    }
}

// The same four questions for each database; only the list differs: a JSON
// array unpacked by json_each on SQLite, an array unpacked by unnest on
// PostgreSQL.
const TAKEN_EMAILS_SQLITE: &str = "SELECT lower(u.email) FROM json_each($2) k \
    JOIN users u ON u.account_id = $1 AND lower(u.email) = k.value";
const TAKEN_EMAILS_POSTGRES: &str = "SELECT lower(u.email) FROM unnest($2::text[]) AS k(value) \
    JOIN users u ON u.account_id = $1 AND lower(u.email) = k.value";
/// Numbers that are assigned (true) or not the account's (false).
const BAD_NUMBERS_SQLITE: &str = "SELECT k.value, n.number IS NOT NULL FROM json_each($2) k \
    LEFT JOIN numbers n ON n.account_id = $1 AND n.number = k.value \
    WHERE n.number IS NULL OR n.user_id IS NOT NULL";
const BAD_NUMBERS_POSTGRES: &str = "SELECT k.value, n.number IS NOT NULL FROM unnest($2::bigint[]) AS k(value) \
    LEFT JOIN numbers n ON n.account_id = $1 AND n.number = k.value \
    WHERE n.number IS NULL OR n.user_id IS NOT NULL";
const TAKEN_EXTENSIONS_SQLITE: &str = "SELECT e.extension FROM json_each($2) k \
    JOIN extensions e ON e.account_id = $1 AND e.extension = k.value";
const TAKEN_EXTENSIONS_POSTGRES: &str = "SELECT e.extension FROM unnest($2::text[]) AS k(value) \
    JOIN extensions e ON e.account_id = $1 AND e.extension = k.value";
const UNKNOWN_LOCATIONS_SQLITE: &str = "SELECT k.value FROM json_each($2) k WHERE NOT EXISTS \
    (SELECT 1 FROM locations l WHERE l.account_id = $1 AND l.name_key = k.value)";
const UNKNOWN_LOCATIONS_POSTGRES: &str = "SELECT k.value FROM unnest($2::text[]) AS k(value) WHERE NOT EXISTS \
    (SELECT 1 FROM locations l WHERE l.account_id = $1 AND l.name_key = k.value)";

impl Store {
    /// What is wrong with `keys` in the account: four queries, whatever
    /// the batch size.
    pub async fn look_up(
        &self,
        account: AccountId,
        policy: ExtensionPolicy,
        keys: &Keys<'_>,
    ) -> Result<Facts, Error> {
        let id = account.get();
        let digits: Vec<i64> = keys.numbers.iter().map(|n| n.digits() as i64).collect();
        let extensions: Vec<String> = keys.extensions.iter().map(Extension::to_string).collect();
        type Answers = (
            Vec<(String,)>,
            Vec<(i64, bool)>,
            Vec<(String,)>,
            Vec<(String,)>,
        );
        let (emails, numbers, taken, locations): Answers = match &self.db {
            Db::Sqlite(pool) => (
                fetch_list(pool, TAKEN_EMAILS_SQLITE, id, json(&keys.emails)).await?,
                fetch_list(pool, BAD_NUMBERS_SQLITE, id, json(&digits)).await?,
                fetch_list(pool, TAKEN_EXTENSIONS_SQLITE, id, json(&extensions)).await?,
                fetch_list(pool, UNKNOWN_LOCATIONS_SQLITE, id, json(&keys.locations)).await?,
            ),
            Db::Postgres(pool) => (
                fetch_list(pool, TAKEN_EMAILS_POSTGRES, id, owned(&keys.emails)).await?,
                fetch_list(pool, BAD_NUMBERS_POSTGRES, id, digits).await?,
                fetch_list(pool, TAKEN_EXTENSIONS_POSTGRES, id, extensions).await?,
                fetch_list(pool, UNKNOWN_LOCATIONS_POSTGRES, id, owned(&keys.locations)).await?,
            ),
        };
        let mut facts = Facts {
            taken_emails: emails.into_iter().map(|(e,)| e).collect(),
            unknown_locations: locations.into_iter().map(|(l,)| l).collect(),
            ..Facts::default()
        };
        for (digits, owned) in numbers {
            let Some(number) = u64::try_from(digits)
                .ok()
                .and_then(|d| E164::from_digits(d).ok())
            else {
                continue;
            };
            if owned {
                facts.assigned_numbers.insert(number);
            } else {
                facts.unowned_numbers.insert(number);
            }
        }
        // Extensions in the table were valid under some policy; read them back
        // under the widest one.
        let any_length = ExtensionPolicy {
            min_digits: 1,
            max_digits: ExtensionPolicy::MAX_DIGITS.max(policy.max_digits),
        };
        facts.taken_extensions = taken
            .into_iter()
            .filter_map(|(e,)| Extension::parse(&e, any_length).ok())
            .collect();
        Ok(facts)
    }
}

/// Runs a lookup whose second parameter is the whole list of keys.
async fn fetch_list<DB, P, T>(
    pool: &sqlx::Pool<DB>,
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
    <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
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

/// A list of keys as PostgreSQL binds it.
fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}
