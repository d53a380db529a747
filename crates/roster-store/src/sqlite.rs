//! [`Bulk`] on SQLite: lists as JSON arrays for lookups, multi-row `VALUES`
//! for writes.
//!
//! The lookups join with `CROSS JOIN`, which in SQLite fixes the join order:
//! the list outside, one index search per key inside. A plain `JOIN` let the
//! planner scan the account's table once per key instead — fine on an empty
//! account, quadratic on a full one.

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use roster_queue::DeliverPasswords;

use crate::bulk::{
    Answers, Bulk, Change, KeyUsers, NewResult, NewUndo, NewUser, PlanRow, ROWS_PER_STATEMENT,
    UNDO_LINKED, UNDO_RANGE, UndoRow, UndoRows, UserColumns, UserRow, UserUpdate, UsersBy,
};
use crate::import::state::ResultStatus;

const TAKEN_EMAILS: &str = "SELECT lower(u.email) FROM json_each($2) k \
    CROSS JOIN users u ON u.account_id = $1 AND lower(u.email) = k.value";
const BAD_NUMBERS: &str = "SELECT k.value, n.number IS NOT NULL FROM json_each($2) k \
    LEFT JOIN numbers n ON n.account_id = $1 AND n.number = k.value \
    WHERE n.number IS NULL OR n.user_id IS NOT NULL";
const TAKEN_EXTENSIONS: &str = "SELECT e.extension FROM json_each($2) k \
    CROSS JOIN extensions e ON e.account_id = $1 AND e.extension = k.value";
const UNKNOWN_LOCATIONS: &str = "SELECT k.value FROM json_each($2) k WHERE NOT EXISTS \
    (SELECT 1 FROM locations l WHERE l.account_id = $1 AND l.name_key = k.value)";
const ROWS_WITH_RESULTS: &str = "SELECT r.row FROM json_each($2) k \
    CROSS JOIN row_results r ON r.import_id = $1 AND r.row = k.value";

// Deliveries by a list of users, `$1`, a JSON array: those that wait for
// attempt `$2` of their group. The hashes come as `[user, hash]` pairs.
const KEEP_HASHES: &str = "UPDATE users SET password_hash = k.value ->> 1, must_change_password = 1 \
    FROM json_each($1) k WHERE users.id = k.value ->> 0 AND EXISTS (SELECT 1 FROM deliveries d \
    WHERE d.user_id = users.id AND d.state = 'queued' AND d.next_attempt = $2) RETURNING users.id";
const COUNT_ATTEMPT: &str = "UPDATE deliveries SET attempts = $2 \
    WHERE user_id IN (SELECT value FROM json_each($1)) AND state = 'queued' AND next_attempt = $2";
const SENT: &str = "UPDATE deliveries SET state = 'sent', error = NULL, settled_at = $3 \
    WHERE user_id IN (SELECT value FROM json_each($1)) AND state = 'queued' AND next_attempt = $2 \
    RETURNING user_id";
const FAILED: &str = "UPDATE deliveries SET state = 'failed', error = $4, settled_at = $3 \
    WHERE user_id IN (SELECT value FROM json_each($1)) AND state = 'queued' AND next_attempt = $2 \
    RETURNING user_id";
const RETRY: &str = "UPDATE deliveries SET next_attempt = next_attempt + 1, error = $3 \
    WHERE user_id IN (SELECT value FROM json_each($1)) AND state = 'queued' AND next_attempt = $2 \
    RETURNING user_id";
const CLEAR_PASSWORDS: &str =
    "UPDATE users SET password_hash = NULL WHERE id IN (SELECT value FROM json_each($1))";

// A plan's lookups: users with their fields, what they have, who has a key.
// The users come back as one JSON array of arrays, one row for the whole
// list: the driver hands rows over one at a time between threads, which
// for thousands of rows of twelve columns cost several times the query.
const USER_COLUMNS: &str = "json_group_array(json_array(u.id, u.email, u.display_name, \
    u.first_name, u.last_name, u.job_title, u.department, u.organizational_unit, u.role, l.name, \
    (SELECT group_concat(e.extension, ';') FROM extensions e WHERE e.user_id = u.id), \
    (SELECT group_concat(n.number || CASE WHEN n.is_primary THEN 'p' ELSE '' END, ';') \
        FROM numbers n WHERE n.user_id = u.id AND n.user_id IS NOT NULL)))";
const USERS_BY_EMAIL: &str = "FROM json_each($2) k CROSS JOIN users u \
    ON u.account_id = $1 AND lower(u.email) = k.value CROSS JOIN locations l ON l.id = u.location_id";
const USERS_BY_ID: &str = "FROM json_each($1) k CROSS JOIN users u ON u.id = k.value \
    CROSS JOIN locations l ON l.id = u.location_id";
const NUMBER_USERS: &str = "SELECT k.value, n.user_id FROM json_each($2) k \
    LEFT JOIN numbers n ON n.account_id = $1 AND n.number = k.value \
    WHERE n.number IS NULL OR n.user_id IS NOT NULL";
const EXTENSION_USERS: &str = "SELECT e.extension, e.user_id FROM json_each($2) k \
    CROSS JOIN extensions e ON e.account_id = $1 AND e.extension = k.value";
const RELEASE_EXTENSIONS: &str = "DELETE FROM extensions WHERE account_id = $1 AND \
    (extension, user_id) IN (SELECT value ->> 0, value ->> 1 FROM json_each($2))";
// Pairs as a list the key is searched in: an `UPDATE … FROM json_each`
// searched the account's whole numbers once per pair.
const RELEASE_NUMBERS: &str = "UPDATE numbers SET user_id = NULL, is_primary = 0 \
    WHERE account_id = $1 AND (number, user_id) IN \
    (SELECT value ->> 0, value ->> 1 FROM json_each($2))";
const PLAN_ROWS: &str = "SELECT p.row, p.action, p.user_id, p.before, p.linked FROM json_each($2) k \
    CROSS JOIN import_plan_rows p ON p.import_id = $1 AND p.row = k.value";

const DELETE_DELIVERIES: &str =
    "DELETE FROM deliveries WHERE user_id IN (SELECT value FROM json_each($1))";
const DELETE_USERS: &str = "DELETE FROM users WHERE id IN (SELECT value FROM json_each($1))";

// An undo's rows, as one JSON array (the driver hands rows over one at a
// time between threads: for a batch of results with their images, a third
// of an undo's time), the images in hex.
const UNDO_COLUMNS: &str = "SELECT json_group_array(json_array(r.row, r.status, r.user_id, \
    r.email, hex(r.before_image), hex(r.after_image), d.state, d.attempts, d.next_attempt, \
    d.settled_at)) FROM (SELECT r.row, r.status, r.user_id, r.email, r.before_image, \
    r.after_image";
const UNDO_DELIVERIES: &str =
    ") r LEFT JOIN deliveries d ON d.user_id = r.user_id AND r.status = $2";

/// Runs a release statement (`RELEASE_EXTENSIONS`, `RELEASE_NUMBERS`) on
/// the account's `(key, user)` pairs; how many the users had.
async fn release<T: serde::Serialize + Sync>(
    conn: &mut SqliteConnection,
    sql: &'static str,
    account: i64,
    pairs: &[T],
) -> Result<u64, sqlx::Error> {
    if pairs.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(sql)
        .bind(account)
        .bind(json(pairs))
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// The bytes `hex()` wrote; none for an empty text (`hex(NULL)`).
fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

fn json<T: serde::Serialize + ?Sized>(list: &T) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_string())
}

const PARK_NUMBERS: &str = "INSERT INTO numbers (account_id, number) \
    SELECT $1, value FROM json_each($2) WHERE true ON CONFLICT (account_id, number) DO NOTHING";

impl Bulk for SqliteConnection {
    async fn prepare(&mut self) -> Result<(), sqlx::Error> {
        // The CROSS JOINs above fix SQLite's plans already.
        Ok(())
    }

    async fn look_up(
        &mut self,
        account: i64,
        emails: &[&str],
        numbers: &[i64],
        extensions: &[String],
        locations: &[&str],
    ) -> Result<Answers, sqlx::Error> {
        let mut answers = Answers::default();
        if !emails.is_empty() {
            let rows: Vec<(String,)> = sqlx::query_as(TAKEN_EMAILS)
                .bind(account)
                .bind(json(emails))
                .fetch_all(&mut *self)
                .await?;
            answers.taken_emails = rows.into_iter().map(|(e,)| e).collect();
        }
        if !numbers.is_empty() {
            answers.bad_numbers = sqlx::query_as(BAD_NUMBERS)
                .bind(account)
                .bind(json(numbers))
                .fetch_all(&mut *self)
                .await?;
        }
        if !extensions.is_empty() {
            let rows: Vec<(String,)> = sqlx::query_as(TAKEN_EXTENSIONS)
                .bind(account)
                .bind(json(extensions))
                .fetch_all(&mut *self)
                .await?;
            answers.taken_extensions = rows.into_iter().map(|(e,)| e).collect();
        }
        if !locations.is_empty() {
            let rows: Vec<(String,)> = sqlx::query_as(UNKNOWN_LOCATIONS)
                .bind(account)
                .bind(json(locations))
                .fetch_all(&mut *self)
                .await?;
            answers.unknown_locations = rows.into_iter().map(|(l,)| l).collect();
        }
        Ok(answers)
    }

    async fn park_numbers(&mut self, account: i64, numbers: &[i64]) -> Result<(), sqlx::Error> {
        sqlx::query(PARK_NUMBERS)
            .bind(account)
            .bind(json(numbers))
            .execute(&mut *self)
            .await
            .map(|_| ())
    }

    async fn rows_with_results(
        &mut self,
        import: i64,
        rows: &[i64],
    ) -> Result<Vec<i64>, sqlx::Error> {
        let found: Vec<(i64,)> = sqlx::query_as(ROWS_WITH_RESULTS)
            .bind(import)
            .bind(json(rows))
            .fetch_all(&mut *self)
            .await?;
        Ok(found.into_iter().map(|(r,)| r).collect())
    }

    async fn insert_users(
        &mut self,
        account: i64,
        import: i64,
        users: &[NewUser<'_>],
    ) -> Result<Vec<(i64, String)>, sqlx::Error> {
        let mut ids = Vec::with_capacity(users.len());
        for chunk in users.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO users (account_id, import_id, display_name, email, first_name, last_name, \
                 job_title, department, organizational_unit, role, location_id) ",
            );
            qb.push_values(chunk, |mut b, u| {
                b.push_bind(account)
                    .push_bind(import)
                    .push_bind(u.display_name.to_string())
                    .push_bind(u.email.to_string())
                    .push_bind(u.first_name.map(str::to_string))
                    .push_bind(u.last_name.map(str::to_string))
                    .push_bind(u.job_title.map(str::to_string))
                    .push_bind(u.department.map(str::to_string))
                    .push_bind(u.organizational_unit.map(str::to_string))
                    .push_bind(u.role)
                    .push_bind(u.location_id);
            });
            qb.push(" RETURNING id, lower(email)");
            ids.extend(
                qb.build_query_as::<(i64, String)>()
                    .fetch_all(&mut *self)
                    .await?,
            );
        }
        Ok(ids)
    }

    async fn insert_extensions(
        &mut self,
        account: i64,
        extensions: &[(String, i64)],
    ) -> Result<(), sqlx::Error> {
        for chunk in extensions.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO extensions (account_id, extension, user_id) ",
            );
            qb.push_values(chunk, |mut b, (extension, user)| {
                b.push_bind(account)
                    .push_bind(extension.clone())
                    .push_bind(*user);
            });
            qb.build().execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn claim_numbers(
        &mut self,
        account: i64,
        numbers: &[(i64, i64, bool)],
    ) -> Result<u64, sqlx::Error> {
        let mut claimed = 0;
        for chunk in numbers.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "UPDATE numbers SET user_id = v.column2, is_primary = v.column3 FROM (",
            );
            qb.push_values(chunk, |mut b, (number, user, primary)| {
                b.push_bind(*number).push_bind(*user).push_bind(*primary);
            });
            qb.push(") AS v WHERE numbers.account_id = ")
                .push_bind(account)
                .push(" AND numbers.number = v.column1 AND numbers.user_id IS NULL");
            claimed += qb.build().execute(&mut *self).await?.rows_affected();
        }
        Ok(claimed)
    }

    async fn insert_results(
        &mut self,
        import: i64,
        results: &[NewResult],
    ) -> Result<(), sqlx::Error> {
        for chunk in results.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO row_results (import_id, row, status, user_id, email, extension, numbers, \
                 errors, before_image, after_image) ",
            );
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(import)
                    .push_bind(r.row)
                    .push_bind(r.status)
                    .push_bind(r.user_id)
                    .push_bind(r.email.clone())
                    .push_bind(r.extension.clone())
                    .push_bind(r.numbers.clone())
                    .push_bind(r.errors.clone())
                    .push_bind(r.before_image.clone())
                    .push_bind(r.after_image.clone());
            });
            qb.build().execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn insert_deliveries(
        &mut self,
        import: i64,
        batch: i64,
        users: &[i64],
    ) -> Result<(), sqlx::Error> {
        for chunk in users.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO deliveries (user_id, import_id, batch, state) ",
            );
            qb.push_values(chunk, |mut b, user| {
                b.push_bind(*user)
                    .push_bind(import)
                    .push_bind(batch)
                    .push("'queued'");
            });
            qb.build().execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn keep_hashes(
        &mut self,
        job: &DeliverPasswords,
        hashes: &[(i64, &str)],
    ) -> Result<Vec<i64>, sqlx::Error> {
        let kept: Vec<(i64,)> = sqlx::query_as(KEEP_HASHES)
            .bind(json(hashes))
            .bind(i64::from(job.attempt))
            .fetch_all(&mut *self)
            .await?;
        let kept: Vec<i64> = kept.into_iter().map(|(u,)| u).collect();
        sqlx::query(COUNT_ATTEMPT)
            .bind(json(&kept))
            .bind(i64::from(job.attempt))
            .execute(&mut *self)
            .await?;
        Ok(kept)
    }

    async fn settle_deliveries(
        &mut self,
        job: &DeliverPasswords,
        users: &[i64],
        change: Change<'_>,
        now: &str,
    ) -> Result<Vec<i64>, sqlx::Error> {
        let attempt = i64::from(job.attempt);
        let query = match change {
            Change::Sent => sqlx::query_as(SENT)
                .bind(json(users))
                .bind(attempt)
                .bind(now),
            Change::Failed(why) => sqlx::query_as(FAILED)
                .bind(json(users))
                .bind(attempt)
                .bind(now)
                .bind(why),
            Change::Retry(why) => sqlx::query_as(RETRY)
                .bind(json(users))
                .bind(attempt)
                .bind(why),
        };
        let rows: Vec<(i64,)> = query.fetch_all(&mut *self).await?;
        Ok(rows.into_iter().map(|(u,)| u).collect())
    }

    async fn clear_passwords(&mut self, users: &[i64]) -> Result<(), sqlx::Error> {
        if !users.is_empty() {
            sqlx::query(CLEAR_PASSWORDS)
                .bind(json(users))
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn user_rows(&mut self, by: UsersBy<'_>) -> Result<Vec<UserRow>, sqlx::Error> {
        let (list,): (String,) = match by {
            UsersBy::Emails(_, []) | UsersBy::Ids([]) => return Ok(Vec::new()),
            UsersBy::Emails(account, emails) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {USER_COLUMNS} {USERS_BY_EMAIL}"
                )))
                .bind(account)
                .bind(json(emails))
                .fetch_one(&mut *self)
                .await?
            }
            UsersBy::Ids(ids) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {USER_COLUMNS} {USERS_BY_ID}"
                )))
                .bind(json(ids))
                .fetch_one(&mut *self)
                .await?
            }
        };
        let rows: Vec<UserColumns> =
            serde_json::from_str(&list).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        Ok(rows.into_iter().map(UserRow::from).collect())
    }

    async fn key_users(
        &mut self,
        account: i64,
        numbers: &[i64],
        extensions: &[String],
    ) -> Result<KeyUsers, sqlx::Error> {
        let mut users = KeyUsers::default();
        if !numbers.is_empty() {
            users.numbers = sqlx::query_as(NUMBER_USERS)
                .bind(account)
                .bind(json(numbers))
                .fetch_all(&mut *self)
                .await?;
        }
        if !extensions.is_empty() {
            users.extensions = sqlx::query_as(EXTENSION_USERS)
                .bind(account)
                .bind(json(extensions))
                .fetch_all(&mut *self)
                .await?;
        }
        Ok(users)
    }

    async fn update_users(&mut self, users: &[UserUpdate<'_>]) -> Result<(), sqlx::Error> {
        for chunk in users.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "UPDATE users SET display_name = v.column2, first_name = v.column3, \
                 last_name = v.column4, job_title = v.column5, department = v.column6, \
                 organizational_unit = v.column7, role = v.column8, location_id = v.column9 FROM (",
            );
            qb.push_values(chunk, |mut b, u| {
                b.push_bind(u.id)
                    .push_bind(u.display_name.to_string())
                    .push_bind(u.first_name.map(str::to_string))
                    .push_bind(u.last_name.map(str::to_string))
                    .push_bind(u.job_title.map(str::to_string))
                    .push_bind(u.department.map(str::to_string))
                    .push_bind(u.organizational_unit.map(str::to_string))
                    .push_bind(u.role)
                    .push_bind(u.location_id);
            });
            qb.push(") AS v WHERE users.id = v.column1");
            qb.build().execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn release_extensions(
        &mut self,
        account: i64,
        extensions: &[(String, i64)],
    ) -> Result<u64, sqlx::Error> {
        release(self, RELEASE_EXTENSIONS, account, extensions).await
    }

    async fn release_numbers(
        &mut self,
        account: i64,
        numbers: &[(i64, i64)],
    ) -> Result<u64, sqlx::Error> {
        release(self, RELEASE_NUMBERS, account, numbers).await
    }

    async fn insert_plan_rows(&mut self, import: i64, rows: &[PlanRow]) -> Result<(), sqlx::Error> {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO import_plan_rows (import_id, row, action, user_id, before, linked) ",
            );
            qb.push_values(chunk, |mut b, (row, action, user, before, linked)| {
                b.push_bind(import)
                    .push_bind(*row)
                    .push_bind(action.clone())
                    .push_bind(*user)
                    .push_bind(before.clone())
                    .push_bind(*linked);
            });
            qb.build().execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn plan_rows(&mut self, import: i64, rows: &[i64]) -> Result<Vec<PlanRow>, sqlx::Error> {
        sqlx::query_as(PLAN_ROWS)
            .bind(import)
            .bind(json(rows))
            .fetch_all(&mut *self)
            .await
    }

    async fn delete_users(&mut self, users: &[i64]) -> Result<(), sqlx::Error> {
        if users.is_empty() {
            return Ok(());
        }
        let list = json(users);
        for sql in [DELETE_DELIVERIES, DELETE_USERS] {
            sqlx::query(sql).bind(&list).execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn undo_rows(
        &mut self,
        import: i64,
        which: UndoRows,
    ) -> Result<Vec<UndoRow>, sqlx::Error> {
        let from = match which {
            UndoRows::Range { .. } => UNDO_RANGE,
            UndoRows::Linked => UNDO_LINKED,
        };
        let sql = format!("{UNDO_COLUMNS} {from}{UNDO_DELIVERIES}");
        let query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(import)
            .bind(ResultStatus::Created.as_str())
            .bind(ResultStatus::Updated.as_str());
        let query = match which {
            UndoRows::Range { after, end, limit } => query.bind(after).bind(end).bind(limit),
            UndoRows::Linked => query.bind(true),
        };
        let (list,): (String,) = query.fetch_one(&mut *self).await?;
        type Json = (
            i64,
            String,
            Option<i64>,
            Option<String>,
            String,
            String,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<String>,
        );
        let rows: Vec<Json> =
            serde_json::from_str(&list).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        let mut rows: Vec<UndoRow> = rows
            .into_iter()
            .map(|r| {
                (
                    r.0,
                    r.1,
                    r.2,
                    r.3,
                    unhex(&r.4),
                    unhex(&r.5),
                    r.6,
                    r.7,
                    r.8,
                    r.9,
                )
            })
            .collect();
        rows.sort_unstable_by_key(|r| r.0);
        Ok(rows)
    }

    async fn insert_undos(&mut self, import: i64, rows: &[NewUndo]) -> Result<(), sqlx::Error> {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO row_undos (import_id, row, status, code, message) ",
            );
            qb.push_values(chunk, |mut b, (row, status, code, message)| {
                b.push_bind(import)
                    .push_bind(*row)
                    .push_bind(*status)
                    .push_bind(*code)
                    .push_bind(message.clone());
            });
            qb.build().execute(&mut *self).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{Pool, Store, testing};

    /// Regression: with a plain JOIN, SQLite scanned the account's whole
    /// table once per key as soon as the table had rows, and a million-row
    /// import slowed to a crawl. Every lookup must walk the key list and
    /// search the table's index for each key.
    #[tokio::test]
    async fn lookups_search_an_index_per_key() {
        let db = testing::sqlite();
        let store = Store::open(&db.url).await.expect("open");
        let Pool::Sqlite(pool) = store.pool() else {
            panic!("a SQLite store")
        };
        for sql in [
            super::TAKEN_EMAILS,
            super::BAD_NUMBERS,
            super::TAKEN_EXTENSIONS,
            super::ROWS_WITH_RESULTS,
        ] {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                    .bind(1_i64)
                    .bind("[]")
                    .fetch_all(pool)
                    .await
                    .expect("a plan");
            let steps: Vec<&str> = plan
                .iter()
                .map(|(_, _, _, detail)| detail.as_str())
                .collect();
            assert!(steps[0].starts_with("SCAN k"), "{sql}: {steps:?}");
            assert!(steps[1].starts_with("SEARCH "), "{sql}: {steps:?}");
        }
    }

    /// Regression: releasing a batch's numbers searched the account's
    /// whole numbers once per number (an undo of a million users crawled).
    /// A statement that writes by a list searches each key of the list:
    /// no table scanned, no search by the account alone.
    #[tokio::test]
    async fn writes_by_a_list_search_each_key() {
        let db = testing::sqlite();
        let store = Store::open(&db.url).await.expect("open");
        let Pool::Sqlite(pool) = store.pool() else {
            panic!("a SQLite store")
        };
        for (sql, binds) in [
            (super::RELEASE_NUMBERS, 2),
            (super::RELEASE_EXTENSIONS, 2),
            (super::DELETE_USERS, 1),
            (super::DELETE_DELIVERIES, 1),
        ] {
            let mut query =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
            if binds == 2 {
                query = query.bind(1_i64);
            }
            let plan: Vec<(i64, i64, i64, String)> =
                query.bind("[]").fetch_all(pool).await.expect("a plan");
            for (_, _, _, step) in &plan {
                let scans_a_table = step.starts_with("SCAN ") && !step.contains("json_each");
                assert!(!scans_a_table, "{sql}: {plan:?}");
                assert!(!step.ends_with("(account_id=?)"), "{sql}: {plan:?}");
            }
            assert!(
                plan.iter().any(|p| p.3.starts_with("SEARCH ")),
                "{sql}: {plan:?}"
            );
        }
    }
}
