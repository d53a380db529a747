//! The bare PostgreSQL loop: one connection, `synchronous_commit = off` as
//! roster's batches use, one transaction per batch of rows, each list of
//! the batch in one `unnest` statement: insert the users, insert their
//! extensions, claim their numbers. Reading and writing take turns; nothing
//! overlaps.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use sqlx::{Connection, PgConnection};

use crate::account::{Directory, policy, stored_extension};
use crate::row::{Extensions, User, UserFile, user};
use crate::{Account, Error, Imported};

const INSERT_USERS: &str = "INSERT INTO users (account_id, display_name, email, first_name, \
    last_name, job_title, department, organizational_unit, role, location_id) \
    SELECT $1, d, e, f, l, j, dp, ou, r, loc FROM unnest($2::text[], $3::text[], $4::text[], \
    $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[]) \
    WITH ORDINALITY AS u(d, e, f, l, j, dp, ou, r, loc, i) ORDER BY i \
    RETURNING id";
const INSERT_EXTENSIONS: &str = "INSERT INTO extensions (account_id, extension, user_id) \
    SELECT $1, * FROM unnest($2::text[], $3::bigint[])";
const CLAIM_NUMBERS: &str = "UPDATE numbers n SET user_id = v.user_id, is_primary = v.is_primary \
    FROM unnest($2::bigint[], $3::bigint[], $4::bool[]) AS v(number, user_id, is_primary) \
    WHERE n.account_id = $1 AND n.number = v.number AND n.user_id IS NULL";

/// Creates the database `name` on the server of `url`, empty or as a copy
/// of `template`; its URL. `name` is roster's own (letters, digits and
/// underscores).
pub async fn create_database(
    url: &str,
    name: &str,
    template: Option<&str>,
) -> Result<String, Error> {
    let mut conn = PgConnection::connect(url).await?;
    drop_if_exists(&mut conn, name).await?;
    let sql = match template {
        Some(template) => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
        None => format!("CREATE DATABASE \"{name}\""),
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    database_url(url, name)
}

/// Writes every dirty page of the server of `url` to disk, so that a
/// measurement does not pay for the writes of what came before it. Needs a
/// superuser or the `pg_checkpoint` role.
pub async fn checkpoint(url: &str) -> Result<(), Error> {
    let mut conn = PgConnection::connect(url).await?;
    sqlx::raw_sql("CHECKPOINT").execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

/// Drops the database `name` on the server of `url`, if it is there.
pub async fn drop_database(url: &str, name: &str) -> Result<(), Error> {
    let mut conn = PgConnection::connect(url).await?;
    drop_if_exists(&mut conn, name).await?;
    conn.close().await?;
    Ok(())
}

/// The account `slug` of the roster database at `url`.
pub async fn account(url: &str, slug: &str) -> Result<Account, Error> {
    let mut conn = PgConnection::connect(url).await?;
    let account = load_account(&mut conn, slug).await?;
    conn.close().await?;
    Ok(account)
}

/// Every email and number of the account.
pub async fn directory(url: &str, account: &Account) -> Result<Directory, Error> {
    let mut conn = PgConnection::connect(url).await?;
    let emails: Vec<(String,)> =
        sqlx::query_as("SELECT lower(email) FROM users WHERE account_id = $1")
            .bind(account.id)
            .fetch_all(&mut conn)
            .await?;
    let numbers: Vec<(i64, bool)> =
        sqlx::query_as("SELECT number, user_id IS NOT NULL FROM numbers WHERE account_id = $1")
            .bind(account.id)
            .fetch_all(&mut conn)
            .await?;
    conn.close().await?;
    Ok(Directory {
        emails: emails.into_iter().map(|(e,)| e).collect(),
        numbers: numbers
            .into_iter()
            .map(|(n, assigned)| (u64::try_from(n).unwrap_or(0), assigned))
            .collect(),
    })
}

/// Creates the users of the validated file `csv` in the account `slug` of
/// the roster database at `url`, `batch_rows` rows per transaction.
pub async fn import(
    url: &str,
    slug: &str,
    csv: &Path,
    batch_rows: usize,
) -> Result<Imported, Error> {
    let mut conn = PgConnection::connect(url).await?;
    sqlx::raw_sql("SET synchronous_commit = off")
        .execute(&mut conn)
        .await?;
    let account = load_account(&mut conn, slug).await?;
    let mut file = UserFile::open(csv)?;
    let mut extensions = Extensions::new(&account);
    let mut imported = Imported::default();
    let mut records = vec![csv::StringRecord::new(); batch_rows];
    let mut line = 1;
    loop {
        let mut read = 0;
        while read < batch_rows && file.read(&mut records[read])? {
            read += 1;
        }
        if read == 0 {
            break;
        }
        let mut users = Vec::with_capacity(read);
        for record in &records[..read] {
            line += 1;
            users.push(user(
                record,
                line,
                &file.columns,
                &account,
                &mut extensions,
            )?);
        }
        let mut tx = conn.begin().await?;
        imported.numbers += write_batch(&mut tx, &account, &users).await?;
        tx.commit().await?;
        imported.users += users.len() as u64;
        imported.extensions += users.len() as u64;
    }
    conn.close().await?;
    Ok(imported)
}

/// Writes one batch's users, extensions and number claims; the numbers
/// claimed.
async fn write_batch(
    conn: &mut PgConnection,
    account: &Account,
    users: &[User<'_>],
) -> Result<u64, Error> {
    let text = |f: for<'a> fn(&'a User<'a>) -> Option<&'a str>| -> Vec<Option<String>> {
        users.iter().map(|u| f(u).map(str::to_string)).collect()
    };
    let ids: Vec<(i64,)> = sqlx::query_as(INSERT_USERS)
        .bind(account.id)
        .bind(text(|u| Some(u.display_name)))
        .bind(text(|u| Some(u.email.as_str())))
        .bind(text(|u| u.first_name))
        .bind(text(|u| u.last_name))
        .bind(text(|u| u.job_title))
        .bind(text(|u| u.department))
        .bind(text(|u| u.organizational_unit))
        .bind(text(|u| Some(u.role)))
        .bind(users.iter().map(|u| u.location_id).collect::<Vec<_>>())
        .fetch_all(&mut *conn)
        .await?;
    let ids: Vec<i64> = ids.into_iter().map(|(id,)| id).collect();
    sqlx::query(INSERT_EXTENSIONS)
        .bind(account.id)
        .bind(
            users
                .iter()
                .map(|u| u.extension.clone())
                .collect::<Vec<_>>(),
        )
        .bind(&ids)
        .execute(&mut *conn)
        .await?;
    let (mut numbers, mut owners, mut primary) = (Vec::new(), Vec::new(), Vec::new());
    for (u, id) in users.iter().zip(&ids) {
        for (i, number) in u.numbers.iter().enumerate() {
            numbers.push(*number);
            owners.push(*id);
            primary.push(i == 0);
        }
    }
    let claimed = sqlx::query(CLAIM_NUMBERS)
        .bind(account.id)
        .bind(&numbers)
        .bind(&owners)
        .bind(&primary)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if claimed != numbers.len() as u64 {
        return Err(Error::InvalidRow {
            line: 0,
            why: format!(
                "{} of a batch's {} numbers were not parked",
                numbers.len() as u64 - claimed,
                numbers.len()
            ),
        });
    }
    Ok(claimed)
}

async fn load_account(conn: &mut PgConnection, slug: &str) -> Result<Account, Error> {
    let found: Option<(i64, i64, i64, i64, String)> = sqlx::query_as(
        "SELECT id, extension_min_digits, extension_max_digits, extension_first, default_role \
         FROM accounts WHERE slug = $1",
    )
    .bind(slug)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, min, max, first, default_role)) = found else {
        return Err(Error::NoAccount(slug.to_string()));
    };
    let locations: Vec<(String, i64)> =
        sqlx::query_as("SELECT name_key, id FROM locations WHERE account_id = $1")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    let extensions: Vec<(String,)> =
        sqlx::query_as("SELECT extension FROM extensions WHERE account_id = $1")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(Account {
        id,
        extensions: policy(min, max),
        extension_first: u64::try_from(first).unwrap_or(0),
        default_role,
        locations: locations.into_iter().collect::<HashMap<_, _>>(),
        taken_extensions: extensions
            .iter()
            .filter_map(|(e,)| stored_extension(e))
            .collect::<HashSet<_>>(),
    })
}

async fn drop_if_exists(conn: &mut PgConnection, name: &str) -> Result<(), Error> {
    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(conn)
        .await?;
    Ok(())
}

/// `url` with its database replaced by `name`.
fn database_url(url: &str, name: &str) -> Result<String, Error> {
    let mut parsed = url::Url::parse(url).map_err(|e| Error::Url(e.to_string()))?;
    parsed.set_path(&format!("/{name}"));
    Ok(parsed.to_string())
}
