//! Accounts: the slug that names one, what it holds, and loading one from a
//! description (`roster account load`).
//!
//! Loading is idempotent and additive: run again, it updates the account's
//! name and policy, adds what is new and leaves alone what is there. It never
//! deletes, and never takes a number or an extension away from a user other
//! than the one the description gives it to — that is a conflict, reported.

use std::fmt;

use roster_validate::{E164, Email, Extension, ExtensionPolicy, MAIN_LOCATION, Role, location_key};

use crate::bulk::Bulk;
use crate::convert::{from_db, to_db};
use crate::db::{Db, Tx, query};
use crate::error::Context;
use crate::{Error, Store};

/// An account's id on the command line and in URLs: lower-case letters,
/// digits and hyphens, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountSlug(String); // Invariant: 1-63 of [a-z0-9-], not starting with '-'.

/// An account's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccountId(i64);

/// An account as the rest of roster needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub slug: AccountSlug,
    pub name: String,
    pub extensions: ExtensionPolicy,
    /// Extensions roster assigns are the free ones from here upward.
    pub extension_first: u64,
    pub default_role: Role,
}

/// What an account should hold: the contents of an account file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSpec {
    pub slug: AccountSlug,
    pub name: String,
    pub locations: Vec<String>,
    pub parked_numbers: Vec<E164>,
    pub users: Vec<UserSpec>,
    pub extensions: ExtensionPolicy,
    pub extension_first: u64,
    pub default_role: Role,
}

/// A user that already exists in the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    pub display_name: String,
    pub email: Email,
    pub extension: Option<Extension>,
    /// The first is the primary number.
    pub numbers: Vec<E164>,
    /// `None`: Main Company Address.
    pub location: Option<String>,
    /// `None`: the account's default role.
    pub role: Option<Role>,
}

/// What an account holds after a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountSummary {
    pub locations: u64,
    pub numbers: u64,
    pub parked_numbers: u64,
    pub users: u64,
}

/// Why a string is not an account slug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not an account slug: use 1 to 63 lower-case letters, digits and hyphens, like acme or acme-east"
)]
pub struct SlugError(String);

impl AccountSlug {
    pub fn parse(s: &str) -> Result<AccountSlug, SlugError> {
        let ok = (1..=63).contains(&s.len())
            && !s.starts_with('-')
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(AccountSlug(s.to_string()))
        } else {
            Err(SlugError(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user's row id in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(pub(crate) i64);

impl UserId {
    pub fn get(self) -> i64 {
        self.0
    }
}

impl AccountId {
    pub fn get(self) -> i64 {
        self.0
    }

    pub(crate) fn from_raw(id: i64) -> AccountId {
        AccountId(id)
    }
}

/// Rows per bulk statement when numbers are parked.
const NUMBERS_PER_STATEMENT: usize = 10_000;

impl Store {
    /// The account named `slug`, if there is one.
    pub async fn account(&self, slug: &AccountSlug) -> Result<Option<Account>, Error> {
        const SQL: &str = "SELECT id, slug, name, extension_min_digits, extension_max_digits, \
                           extension_first, default_role FROM accounts WHERE slug = $1";
        type Row = (i64, String, String, i64, i64, i64, String);
        let row: Option<Row> = query(SQL)
            .bind(slug.as_str())
            .fetch_optional(&self.db)
            .await
            .context("reading the account")?;
        Ok(row.map(|(id, slug, name, min, max, first, role)| Account {
            id: AccountId(id),
            slug: AccountSlug(slug),
            name,
            extensions: ExtensionPolicy {
                min_digits: u8::try_from(min).unwrap_or(ExtensionPolicy::DEFAULT.min_digits),
                max_digits: u8::try_from(max).unwrap_or(ExtensionPolicy::DEFAULT.max_digits),
            },
            extension_first: from_db(first),
            default_role: Role::parse(&role).unwrap_or(Role::User),
        }))
    }

    /// Like [`Store::account`], but a missing account is an error that says
    /// how to create it.
    pub async fn existing_account(&self, slug: &AccountSlug) -> Result<Account, Error> {
        self.account(slug)
            .await?
            .ok_or_else(|| Error::NoAccount(slug.to_string()))
    }

    /// Creates the account, or brings it up to date, in one transaction.
    pub async fn load_account(&self, spec: &AccountSpec) -> Result<AccountSummary, Error> {
        let mut tx = self.db.begin().await.context("starting a transaction")?;
        let id = upsert_account(&mut tx, spec).await?;
        add_locations(&mut tx, id, &spec.locations).await?;
        park_numbers(&mut tx, id, &spec.parked_numbers).await?;
        for user in &spec.users {
            load_user(&mut tx, id, spec.default_role, user).await?;
        }
        let summary = summary(&mut tx, id).await?;
        tx.commit().await.context("committing the account")?;
        if let Db::Postgres(pool) = &self.db {
            // A million numbers parked at once leave the planner's
            // statistics saying the table is nearly empty until
            // autovacuum comes by; an import started meanwhile had its
            // number claims planned as a walk over every number, ten
            // seconds a batch. Counted now, they are planned as probes.
            sqlx::raw_sql("ANALYZE numbers, users, extensions, locations")
                .execute(pool)
                .await
                .context("updating the planner's statistics")?;
        }
        Ok(summary)
    }
}

/// Writes the account's own row; its id.
async fn upsert_account(tx: &mut Tx<'_>, spec: &AccountSpec) -> Result<i64, Error> {
    const SQL: &str = "INSERT INTO accounts \
        (slug, name, extension_min_digits, extension_max_digits, extension_first, default_role) \
        VALUES ($1, $2, $3, $4, $5, $6) \
        ON CONFLICT (slug) DO UPDATE SET name = excluded.name, \
        extension_min_digits = excluded.extension_min_digits, \
        extension_max_digits = excluded.extension_max_digits, \
        extension_first = excluded.extension_first, default_role = excluded.default_role \
        RETURNING id";
    let (id,): (i64,) = query(SQL)
        .bind(spec.slug.as_str())
        .bind(spec.name.as_str())
        .bind(i64::from(spec.extensions.min_digits))
        .bind(i64::from(spec.extensions.max_digits))
        .bind(to_db(spec.extension_first))
        .bind(spec.default_role.as_str())
        .fetch_one(tx)
        .await
        .context("writing the account")?;
    Ok(id)
}

/// Adds the Main Company Address and these locations, unless there.
async fn add_locations(tx: &mut Tx<'_>, account: i64, locations: &[String]) -> Result<(), Error> {
    const SQL: &str = "INSERT INTO locations (account_id, name, name_key) VALUES ($1, $2, $3) \
        ON CONFLICT (account_id, name_key) DO NOTHING";
    for name in std::iter::once(MAIN_LOCATION).chain(locations.iter().map(String::as_str)) {
        query(SQL)
            .bind(account)
            .bind(name.trim())
            .bind(location_key(name))
            .execute(&mut *tx)
            .await
            .context("writing a location")?;
    }
    Ok(())
}

/// Parks these numbers on the account, unless there.
async fn park_numbers(tx: &mut Tx<'_>, account: i64, numbers: &[E164]) -> Result<(), Error> {
    for chunk in numbers.chunks(NUMBERS_PER_STATEMENT) {
        let digits: Vec<i64> = chunk.iter().map(|n| n.digits() as i64).collect();
        tx.park_numbers(account, &digits)
            .await
            .context("parking numbers")?;
    }
    Ok(())
}

/// Writes one user of the account file with its extension and numbers;
/// an error when another user holds either.
async fn load_user(
    tx: &mut Tx<'_>,
    account: i64,
    default_role: Role,
    user: &UserSpec,
) -> Result<(), Error> {
    const LOCATION_ID: &str = "SELECT id FROM locations WHERE account_id = $1 AND name_key = $2";
    const UPSERT_USER: &str = "INSERT INTO users (account_id, display_name, email, role, location_id) \
        VALUES ($1, $2, $3, $4, $5) \
        ON CONFLICT (account_id, lower(email)) DO UPDATE SET display_name = excluded.display_name, \
        role = excluded.role, location_id = excluded.location_id \
        RETURNING id";
    const CLAIM_EXTENSION: &str = "INSERT INTO extensions (account_id, extension, user_id) \
        VALUES ($1, $2, $3) ON CONFLICT (account_id, extension) DO NOTHING";
    const EXTENSION_OWNER: &str =
        "SELECT user_id FROM extensions WHERE account_id = $1 AND extension = $2";
    const CLAIM_NUMBER: &str = "INSERT INTO numbers (account_id, number, user_id, is_primary) \
        VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, number) \
        DO UPDATE SET user_id = excluded.user_id, is_primary = excluded.is_primary \
        WHERE numbers.user_id IS NULL OR numbers.user_id = excluded.user_id";
    const NUMBER_OWNER: &str = "SELECT user_id FROM numbers WHERE account_id = $1 AND number = $2";
    let conflict = |reason: String| Error::UserConflict {
        email: user.email.to_string(),
        reason,
    };
    let location = user.location.as_deref().unwrap_or(MAIN_LOCATION);
    let location_id: Option<(i64,)> = query(LOCATION_ID)
        .bind(account)
        .bind(location_key(location))
        .fetch_optional(&mut *tx)
        .await
        .context("reading a location")?;
    let Some((location_id,)) = location_id else {
        return Err(conflict(format!(
            "location '{location}' is not one of the account's locations; add it to `locations`"
        )));
    };
    let (user_id,): (i64,) = query(UPSERT_USER)
        .bind(account)
        .bind(user.display_name.as_str())
        .bind(user.email.to_string())
        .bind(user.role.unwrap_or(default_role).as_str())
        .bind(location_id)
        .fetch_one(&mut *tx)
        .await
        .context("writing a user")?;
    if let Some(extension) = &user.extension {
        query(CLAIM_EXTENSION)
            .bind(account)
            .bind(extension.to_string())
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .context("writing an extension")?;
        let (owner,): (i64,) = query(EXTENSION_OWNER)
            .bind(account)
            .bind(extension.to_string())
            .fetch_one(&mut *tx)
            .await
            .context("reading an extension")?;
        if owner != user_id {
            return Err(conflict(format!(
                "extension {extension} already belongs to another user"
            )));
        }
    }
    for (i, number) in user.numbers.iter().enumerate() {
        let digits = number.digits() as i64;
        query(CLAIM_NUMBER)
            .bind(account)
            .bind(digits)
            .bind(user_id)
            .bind(i == 0)
            .execute(&mut *tx)
            .await
            .context("assigning a number")?;
        let (owner,): (Option<i64>,) = query(NUMBER_OWNER)
            .bind(account)
            .bind(digits)
            .fetch_one(&mut *tx)
            .await
            .context("reading a number")?;
        if owner != Some(user_id) {
            return Err(conflict(format!(
                "number {number} is already assigned to another user"
            )));
        }
    }
    Ok(())
}

/// What the account holds now.
async fn summary(tx: &mut Tx<'_>, account: i64) -> Result<AccountSummary, Error> {
    const SQL: &str = "SELECT \
        (SELECT count(*) FROM locations WHERE account_id = $1), \
        (SELECT count(*) FROM numbers WHERE account_id = $1), \
        (SELECT count(*) FROM numbers WHERE account_id = $1 AND user_id IS NULL), \
        (SELECT count(*) FROM users WHERE account_id = $1)";
    let counts: (i64, i64, i64, i64) = query(SQL)
        .bind(account)
        .fetch_one(tx)
        .await
        .context("counting the account's contents")?;
    Ok(AccountSummary {
        locations: from_db(counts.0),
        numbers: from_db(counts.1),
        parked_numbers: from_db(counts.2),
        users: from_db(counts.3),
    })
}

#[cfg(test)]
mod tests {
    use super::AccountSlug;

    #[test]
    fn slugs_are_lower_case_words() {
        assert!(AccountSlug::parse("acme-east2").is_ok());
        assert_eq!(
            AccountSlug::parse("Acme").map_err(|e| e.to_string()),
            Err("'Acme' is not an account slug: use 1 to 63 lower-case letters, digits and hyphens, like acme or acme-east".to_string())
        );
        assert!(AccountSlug::parse("").is_err());
        assert!(AccountSlug::parse("-x").is_err());
    }
}
