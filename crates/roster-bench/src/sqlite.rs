//! The bare SQLite loop: one rusqlite connection with the pragmas roster
//! uses (WAL, `synchronous = NORMAL`, foreign keys on), prepared
//! statements, one transaction per batch of rows: insert the user, insert
//! its extension, claim its numbers.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::account::{Directory, policy, stored_extension};
use crate::row::{Extensions, UserFile, user};
use crate::{Account, Error, Imported};

/// The account `slug` of the roster database at `path`.
pub fn account(path: &Path, slug: &str) -> Result<Account, Error> {
    let conn = open(path)?;
    load_account(&conn, slug)
}

/// Every email and number of the account.
pub fn directory(path: &Path, account: &Account) -> Result<Directory, Error> {
    let conn = open(path)?;
    let mut directory = Directory::default();
    let mut emails = conn.prepare("SELECT lower(email) FROM users WHERE account_id = ?1")?;
    for email in emails.query_map([account.id], |r| r.get::<_, String>(0))? {
        directory.emails.insert(email?);
    }
    let mut numbers =
        conn.prepare("SELECT number, user_id IS NOT NULL FROM numbers WHERE account_id = ?1")?;
    for number in numbers.query_map([account.id], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?)))? {
        let (number, assigned) = number?;
        directory
            .numbers
            .insert(u64::try_from(number).unwrap_or(0), assigned);
    }
    Ok(directory)
}

/// Creates the users of the validated file `csv` in the account `slug` of
/// the roster database at `path`, `batch_rows` rows per transaction.
pub fn import(path: &Path, slug: &str, csv: &Path, batch_rows: usize) -> Result<Imported, Error> {
    let mut conn = open(path)?;
    let account = load_account(&conn, slug)?;
    let mut file = UserFile::open(csv)?;
    let mut extensions = Extensions::new(&account);
    let mut imported = Imported::default();
    let mut record = csv::StringRecord::new();
    let mut line = 1;
    let mut more = true;
    while more {
        let tx = conn.transaction()?;
        {
            let mut insert_user = tx.prepare_cached(
                "INSERT INTO users (account_id, display_name, email, first_name, last_name, \
                 job_title, department, organizational_unit, role, location_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            let mut insert_extension = tx.prepare_cached(
                "INSERT INTO extensions (account_id, extension, user_id) VALUES (?1, ?2, ?3)",
            )?;
            let mut claim_number = tx.prepare_cached(
                "UPDATE numbers SET user_id = ?3, is_primary = ?4 \
                 WHERE account_id = ?1 AND number = ?2 AND user_id IS NULL",
            )?;
            for _ in 0..batch_rows {
                if !file.read(&mut record)? {
                    more = false;
                    break;
                }
                line += 1;
                let user = user(&record, line, &file.columns, &account, &mut extensions)?;
                insert_user.execute(params![
                    account.id,
                    user.display_name,
                    user.email,
                    user.first_name,
                    user.last_name,
                    user.job_title,
                    user.department,
                    user.organizational_unit,
                    user.role,
                    user.location_id,
                ])?;
                let id = tx.last_insert_rowid();
                insert_extension.execute(params![account.id, user.extension, id])?;
                for (i, number) in user.numbers.iter().enumerate() {
                    let claimed = claim_number.execute(params![account.id, number, id, i == 0])?;
                    if claimed != 1 {
                        return Err(Error::InvalidRow {
                            line,
                            why: format!("number {number} is not parked"),
                        });
                    }
                    imported.numbers += 1;
                }
                imported.users += 1;
                imported.extensions += 1;
            }
        }
        tx.commit()?;
    }
    Ok(imported)
}

fn open(path: &Path) -> Result<Connection, Error> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(60))?;
    Ok(conn)
}

fn load_account(conn: &Connection, slug: &str) -> Result<Account, Error> {
    let found = conn
        .query_row(
            "SELECT id, extension_min_digits, extension_max_digits, extension_first, default_role \
             FROM accounts WHERE slug = ?1",
            [slug],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                ))
            },
        )
        .optional()?;
    let Some((id, min, max, first, default_role)) = found else {
        return Err(Error::NoAccount(slug.to_string()));
    };
    let mut locations = HashMap::new();
    let mut rows = conn.prepare("SELECT name_key, id FROM locations WHERE account_id = ?1")?;
    for row in rows.query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (key, id) = row?;
        locations.insert(key, id);
    }
    let mut taken_extensions = HashSet::new();
    let mut rows = conn.prepare("SELECT extension FROM extensions WHERE account_id = ?1")?;
    for row in rows.query_map([id], |r| r.get::<_, String>(0))? {
        taken_extensions.extend(stored_extension(&row?));
    }
    Ok(Account {
        id,
        extensions: policy(min, max),
        extension_first: u64::try_from(first).unwrap_or(0),
        default_role,
        locations,
        taken_extensions,
    })
}
