//! [`Bulk`] on PostgreSQL: every list as typed arrays unpacked by `unnest`,
//! one statement per list whatever its length.

use sqlx::PgConnection;

use roster_queue::DeliverPasswords;

use crate::bulk::{
    Answers, Bulk, Change, KeyUsers, NewResult, NewUndo, NewUser, PlanRow, UNDO_LINKED, UNDO_RANGE,
    UndoRow, UndoRows, UserColumns, UserRow, UserUpdate, UsersBy,
};
use crate::import::state::ResultStatus;

// Each lookup probes the index once per key through a LATERAL subquery with
// LIMIT, which PostgreSQL cannot turn into a join: the plan is the same
// whatever the statistics say. (An import fills `users` and `row_results`
// faster than statistics follow; a join planned from them put the growing
// table on the outside and scanned it once per key.)
const TAKEN_EMAILS: &str = "SELECT k.value FROM unnest($2::text[]) AS k(value) \
    CROSS JOIN LATERAL (SELECT 1 FROM users u \
        WHERE u.account_id = $1 AND lower(u.email) = k.value LIMIT 1) AS hit";
const BAD_NUMBERS: &str = "SELECT k.value, n.assigned IS NOT NULL FROM unnest($2::bigint[]) AS k(value) \
    LEFT JOIN LATERAL (SELECT n.user_id IS NOT NULL AS assigned FROM numbers n \
        WHERE n.account_id = $1 AND n.number = k.value LIMIT 1) AS n ON true \
    WHERE n.assigned IS NULL OR n.assigned";
const TAKEN_EXTENSIONS: &str = "SELECT k.value FROM unnest($2::text[]) AS k(value) \
    CROSS JOIN LATERAL (SELECT 1 FROM extensions e \
        WHERE e.account_id = $1 AND e.extension = k.value LIMIT 1) AS hit";
const UNKNOWN_LOCATIONS: &str = "SELECT k.value FROM unnest($2::text[]) AS k(value) WHERE NOT EXISTS \
    (SELECT 1 FROM locations l WHERE l.account_id = $1 AND l.name_key = k.value)";
const ROWS_WITH_RESULTS: &str = "SELECT k.value FROM unnest($2::bigint[]) AS k(value) \
    CROSS JOIN LATERAL (SELECT 1 FROM row_results r \
        WHERE r.import_id = $1 AND r.row = k.value LIMIT 1) AS hit";
const INSERT_USERS: &str = "INSERT INTO users (account_id, import_id, display_name, email, first_name, \
    last_name, job_title, department, organizational_unit, role, location_id) \
    SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
    $8::text[], $9::text[], $10::text[], $11::bigint[]) \
    RETURNING id, lower(email)";
const INSERT_EXTENSIONS: &str = "INSERT INTO extensions (account_id, extension, user_id) \
    SELECT $1, * FROM unnest($2::text[], $3::bigint[])";
const CLAIM_NUMBERS: &str = "UPDATE numbers n SET user_id = v.user_id, is_primary = v.is_primary \
    FROM unnest($2::bigint[], $3::bigint[], $4::bool[]) AS v(number, user_id, is_primary) \
    WHERE n.account_id = $1 AND n.number = v.number AND n.user_id IS NULL";
const INSERT_DELIVERIES: &str = "INSERT INTO deliveries (user_id, import_id, batch, state) \
    SELECT unnest($2::bigint[]), $1, $3, 'queued'";
// Deliveries by a list of users, `$1`: those that wait for attempt `$2` of
// their group.
const KEEP_HASHES: &str = "UPDATE users u SET password_hash = k.hash, must_change_password = true \
    FROM unnest($1::bigint[], $3::text[]) AS k(id, hash) WHERE u.id = k.id \
    AND EXISTS (SELECT 1 FROM deliveries d WHERE d.user_id = u.id AND d.state = 'queued' \
    AND d.next_attempt = $2) RETURNING u.id";
const COUNT_ATTEMPT: &str = "UPDATE deliveries SET attempts = $2 \
    WHERE user_id = ANY($1::bigint[]) AND state = 'queued' AND next_attempt = $2";
const SENT: &str = "UPDATE deliveries SET state = 'sent', error = NULL, settled_at = $3 \
    WHERE user_id = ANY($1::bigint[]) AND state = 'queued' AND next_attempt = $2 RETURNING user_id";
const FAILED: &str = "UPDATE deliveries SET state = 'failed', error = $4, settled_at = $3 \
    WHERE user_id = ANY($1::bigint[]) AND state = 'queued' AND next_attempt = $2 RETURNING user_id";
const RETRY: &str = "UPDATE deliveries SET next_attempt = next_attempt + 1, error = $3 \
    WHERE user_id = ANY($1::bigint[]) AND state = 'queued' AND next_attempt = $2 RETURNING user_id";
const CLEAR_PASSWORDS: &str = "UPDATE users SET password_hash = NULL WHERE id = ANY($1::bigint[])";
const INSERT_RESULTS: &str = "INSERT INTO row_results (import_id, row, status, user_id, email, extension, \
    numbers, errors, before_image, after_image) SELECT $1, * FROM unnest($2::bigint[], $3::text[], \
    $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bytea[], $10::bytea[])";

// A plan's lookups: users with their fields, what they have, who has a key.
// The users come back as one JSON array of arrays: one row, not one per
// user of twelve columns to decode (a plan's lookups took half as long).
const USERS_BY_EMAIL: &str = "SELECT coalesce(json_agg(json_build_array(u.id, u.email, \
    u.display_name, u.first_name, u.last_name, u.job_title, u.department, \
    u.organizational_unit, u.role, l.name, \
    (SELECT string_agg(e.extension, ';') FROM extensions e WHERE e.user_id = u.id), \
    (SELECT string_agg(n.number::text || CASE WHEN n.is_primary THEN 'p' ELSE '' END, ';') \
        FROM numbers n WHERE n.user_id = u.id))), '[]')::text \
    FROM unnest($2::text[]) AS k(value) CROSS JOIN LATERAL (SELECT * FROM users u \
        WHERE u.account_id = $1 AND lower(u.email) = k.value LIMIT 1) AS u \
    JOIN locations l ON l.id = u.location_id";
const USERS_BY_ID: &str = "SELECT coalesce(json_agg(json_build_array(u.id, u.email, \
    u.display_name, u.first_name, u.last_name, u.job_title, u.department, \
    u.organizational_unit, u.role, l.name, \
    (SELECT string_agg(e.extension, ';') FROM extensions e WHERE e.user_id = u.id), \
    (SELECT string_agg(n.number::text || CASE WHEN n.is_primary THEN 'p' ELSE '' END, ';') \
        FROM numbers n WHERE n.user_id = u.id))), '[]')::text \
    FROM unnest($1::bigint[]) AS k(value) CROSS JOIN LATERAL (SELECT * FROM users u \
        WHERE u.id = k.value LIMIT 1) AS u \
    JOIN locations l ON l.id = u.location_id";
const NUMBER_USERS: &str = "SELECT k.value, n.user_id FROM unnest($2::bigint[]) AS k(value) \
    LEFT JOIN LATERAL (SELECT n.user_id, true AS owned FROM numbers n \
        WHERE n.account_id = $1 AND n.number = k.value LIMIT 1) AS n ON true \
    WHERE n.owned IS NULL OR n.user_id IS NOT NULL";
const EXTENSION_USERS: &str = "SELECT k.value, e.user_id FROM unnest($2::text[]) AS k(value) \
    CROSS JOIN LATERAL (SELECT e.user_id FROM extensions e \
        WHERE e.account_id = $1 AND e.extension = k.value LIMIT 1) AS e";
const UPDATE_USERS: &str = "UPDATE users u SET display_name = v.display_name, \
    first_name = v.first_name, last_name = v.last_name, job_title = v.job_title, \
    department = v.department, organizational_unit = v.organizational_unit, role = v.role, \
    location_id = v.location_id \
    FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
        $7::text[], $8::text[], $9::bigint[]) \
        AS v(id, display_name, first_name, last_name, job_title, department, \
             organizational_unit, role, location_id) \
    WHERE u.id = v.id";
const RELEASE_EXTENSIONS: &str = "DELETE FROM extensions e \
    USING unnest($2::text[], $3::bigint[]) AS v(extension, user_id) \
    WHERE e.account_id = $1 AND e.extension = v.extension AND e.user_id = v.user_id";
const RELEASE_NUMBERS: &str = "UPDATE numbers n SET user_id = NULL, is_primary = false \
    FROM unnest($2::bigint[], $3::bigint[]) AS v(number, user_id) \
    WHERE n.account_id = $1 AND n.number = v.number AND n.user_id = v.user_id";
const INSERT_PLAN_ROWS: &str = "INSERT INTO import_plan_rows (import_id, row, action, user_id, \
    before, linked) SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::bytea[], \
    $6::bool[])";
const PLAN_ROWS: &str = "SELECT p.row, p.action, p.user_id, p.before, p.linked \
    FROM unnest($2::bigint[]) AS k(value) CROSS JOIN LATERAL (SELECT * FROM import_plan_rows p \
        WHERE p.import_id = $1 AND p.row = k.value LIMIT 1) AS p";

/// Keys per lookup and rows per write: a batch's lists in a few statements
/// of some tens of KiB each (measured faster than one large statement per
/// list).
const DELETE_DELIVERIES: &str = "DELETE FROM deliveries WHERE user_id = ANY($1::bigint[])";
const DELETE_USERS: &str = "DELETE FROM users WHERE id = ANY($1::bigint[])";
const INSERT_UNDOS: &str = "INSERT INTO row_undos (import_id, row, status, code, message) \
    SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[])";

const KEYS_PER_STATEMENT: usize = 1000;
const ROWS_PER_STATEMENT: usize = 250;

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn column<T, U>(rows: &[T], f: impl Fn(&T) -> U) -> Vec<U> {
    rows.iter().map(f).collect()
}

const PARK_NUMBERS: &str = "INSERT INTO numbers (account_id, number) \
    SELECT $1, n FROM unnest($2::bigint[]) AS n ON CONFLICT (account_id, number) DO NOTHING";

impl Bulk for PgConnection {
    async fn prepare(&mut self) -> Result<(), sqlx::Error> {
        // Every list statement here is a handful of keys probing an index;
        // for the rest of this transaction, never plan a full scan or a hash
        // or merge join around them. And do not wait for the commit to reach
        // the disk: a batch lost in a crash is written again when the job is
        // delivered again, since its rows then have no result.
        sqlx::raw_sql(
            "SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; \
             SET LOCAL enable_mergejoin = off; SET LOCAL enable_bitmapscan = off; \
             SET LOCAL enable_memoize = off; SET LOCAL synchronous_commit = off",
        )
        .execute(&mut *self)
        .await?;
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
        for chunk in emails.chunks(KEYS_PER_STATEMENT) {
            let rows: Vec<(String,)> = sqlx::query_as(TAKEN_EMAILS)
                .bind(account)
                .bind(owned(chunk))
                .fetch_all(&mut *self)
                .await?;
            answers.taken_emails.extend(rows.into_iter().map(|(e,)| e));
        }
        for chunk in numbers.chunks(KEYS_PER_STATEMENT) {
            let rows: Vec<(i64, bool)> = sqlx::query_as(BAD_NUMBERS)
                .bind(account)
                .bind(chunk.to_vec())
                .fetch_all(&mut *self)
                .await?;
            answers.bad_numbers.extend(rows);
        }
        for chunk in extensions.chunks(KEYS_PER_STATEMENT) {
            let rows: Vec<(String,)> = sqlx::query_as(TAKEN_EXTENSIONS)
                .bind(account)
                .bind(chunk.to_vec())
                .fetch_all(&mut *self)
                .await?;
            answers
                .taken_extensions
                .extend(rows.into_iter().map(|(e,)| e));
        }
        for chunk in locations.chunks(KEYS_PER_STATEMENT) {
            let rows: Vec<(String,)> = sqlx::query_as(UNKNOWN_LOCATIONS)
                .bind(account)
                .bind(owned(chunk))
                .fetch_all(&mut *self)
                .await?;
            answers
                .unknown_locations
                .extend(rows.into_iter().map(|(l,)| l));
        }
        Ok(answers)
    }

    async fn park_numbers(&mut self, account: i64, numbers: &[i64]) -> Result<(), sqlx::Error> {
        sqlx::query(PARK_NUMBERS)
            .bind(account)
            .bind(numbers)
            .execute(&mut *self)
            .await
            .map(|_| ())
    }

    async fn rows_with_results(
        &mut self,
        import: i64,
        rows: &[i64],
    ) -> Result<Vec<i64>, sqlx::Error> {
        let mut found = Vec::new();
        for chunk in rows.chunks(KEYS_PER_STATEMENT) {
            let rows: Vec<(i64,)> = sqlx::query_as(ROWS_WITH_RESULTS)
                .bind(import)
                .bind(chunk.to_vec())
                .fetch_all(&mut *self)
                .await?;
            found.extend(rows.into_iter().map(|(r,)| r));
        }
        Ok(found)
    }

    async fn insert_users(
        &mut self,
        account: i64,
        import: i64,
        users: &[NewUser<'_>],
    ) -> Result<Vec<(i64, String)>, sqlx::Error> {
        let mut ids = Vec::with_capacity(users.len());
        for chunk in users.chunks(ROWS_PER_STATEMENT) {
            let text = |f: for<'a> fn(&'a NewUser<'a>) -> Option<&'a str>| {
                column(chunk, |u| f(u).map(str::to_string))
            };
            let rows: Vec<(i64, String)> = sqlx::query_as(INSERT_USERS)
                .bind(account)
                .bind(import)
                .bind(column(chunk, |u| u.display_name.to_string()))
                .bind(column(chunk, |u| u.email.to_string()))
                .bind(text(|u| u.first_name))
                .bind(text(|u| u.last_name))
                .bind(text(|u| u.job_title))
                .bind(text(|u| u.department))
                .bind(text(|u| u.organizational_unit))
                .bind(column(chunk, |u| u.role.to_string()))
                .bind(column(chunk, |u| u.location_id))
                .fetch_all(&mut *self)
                .await?;
            ids.extend(rows);
        }
        Ok(ids)
    }

    async fn insert_extensions(
        &mut self,
        account: i64,
        extensions: &[(String, i64)],
    ) -> Result<(), sqlx::Error> {
        for chunk in extensions.chunks(KEYS_PER_STATEMENT) {
            sqlx::query(INSERT_EXTENSIONS)
                .bind(account)
                .bind(column(chunk, |(e, _)| e.clone()))
                .bind(column(chunk, |(_, u)| *u))
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn claim_numbers(
        &mut self,
        account: i64,
        numbers: &[(i64, i64, bool)],
    ) -> Result<u64, sqlx::Error> {
        let mut claimed = 0;
        for chunk in numbers.chunks(KEYS_PER_STATEMENT) {
            let done = sqlx::query(CLAIM_NUMBERS)
                .bind(account)
                .bind(column(chunk, |(n, _, _)| *n))
                .bind(column(chunk, |(_, u, _)| *u))
                .bind(column(chunk, |(_, _, p)| *p))
                .execute(&mut *self)
                .await?;
            claimed += done.rows_affected();
        }
        Ok(claimed)
    }

    async fn insert_results(
        &mut self,
        import: i64,
        results: &[NewResult],
    ) -> Result<(), sqlx::Error> {
        for chunk in results.chunks(ROWS_PER_STATEMENT) {
            sqlx::query(INSERT_RESULTS)
                .bind(import)
                .bind(column(chunk, |r| r.row))
                .bind(column(chunk, |r| r.status.as_str().to_string()))
                .bind(column(chunk, |r| r.user_id))
                .bind(column(chunk, |r| r.email.clone()))
                .bind(column(chunk, |r| r.extension.clone()))
                .bind(column(chunk, |r| r.numbers.clone()))
                .bind(column(chunk, |r| r.errors.clone()))
                .bind(column(chunk, |r| r.before_image.clone()))
                .bind(column(chunk, |r| r.after_image.clone()))
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn insert_deliveries(
        &mut self,
        import: i64,
        batch: i64,
        users: &[i64],
    ) -> Result<(), sqlx::Error> {
        for chunk in users.chunks(KEYS_PER_STATEMENT) {
            sqlx::query(INSERT_DELIVERIES)
                .bind(import)
                .bind(chunk.to_vec())
                .bind(batch)
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn keep_hashes(
        &mut self,
        job: &DeliverPasswords,
        hashes: &[(i64, &str)],
    ) -> Result<Vec<i64>, sqlx::Error> {
        let kept: Vec<(i64,)> = sqlx::query_as(KEEP_HASHES)
            .bind(column(hashes, |(u, _)| *u))
            .bind(i64::from(job.attempt))
            .bind(column(hashes, |(_, h)| h.to_string()))
            .fetch_all(&mut *self)
            .await?;
        let kept: Vec<i64> = kept.into_iter().map(|(u,)| u).collect();
        sqlx::query(COUNT_ATTEMPT)
            .bind(&kept)
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
        let (attempt, users) = (i64::from(job.attempt), users.to_vec());
        let query = match change {
            Change::Sent => sqlx::query_as(SENT).bind(users).bind(attempt).bind(now),
            Change::Failed(why) => sqlx::query_as(FAILED)
                .bind(users)
                .bind(attempt)
                .bind(now)
                .bind(why),
            Change::Retry(why) => sqlx::query_as(RETRY).bind(users).bind(attempt).bind(why),
        };
        let rows: Vec<(i64,)> = query.fetch_all(&mut *self).await?;
        Ok(rows.into_iter().map(|(u,)| u).collect())
    }

    async fn clear_passwords(&mut self, users: &[i64]) -> Result<(), sqlx::Error> {
        if !users.is_empty() {
            sqlx::query(CLEAR_PASSWORDS)
                .bind(users.to_vec())
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn user_rows(&mut self, by: UsersBy<'_>) -> Result<Vec<UserRow>, sqlx::Error> {
        let mut rows: Vec<UserColumns> = Vec::new();
        let mut add = |(list,): (String,)| -> Result<(), sqlx::Error> {
            let users: Vec<UserColumns> =
                serde_json::from_str(&list).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            rows.extend(users);
            Ok(())
        };
        match by {
            UsersBy::Emails(account, emails) => {
                for chunk in emails.chunks(KEYS_PER_STATEMENT) {
                    add(sqlx::query_as(USERS_BY_EMAIL)
                        .bind(account)
                        .bind(owned(chunk))
                        .fetch_one(&mut *self)
                        .await?)?;
                }
            }
            UsersBy::Ids(ids) => {
                for chunk in ids.chunks(KEYS_PER_STATEMENT) {
                    add(sqlx::query_as(USERS_BY_ID)
                        .bind(chunk.to_vec())
                        .fetch_one(&mut *self)
                        .await?)?;
                }
            }
        }
        Ok(rows.into_iter().map(UserRow::from).collect())
    }

    async fn key_users(
        &mut self,
        account: i64,
        numbers: &[i64],
        extensions: &[String],
    ) -> Result<KeyUsers, sqlx::Error> {
        let mut users = KeyUsers::default();
        for chunk in numbers.chunks(KEYS_PER_STATEMENT) {
            let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(NUMBER_USERS)
                .bind(account)
                .bind(chunk.to_vec())
                .fetch_all(&mut *self)
                .await?;
            users.numbers.extend(rows);
        }
        for chunk in extensions.chunks(KEYS_PER_STATEMENT) {
            let rows: Vec<(String, i64)> = sqlx::query_as(EXTENSION_USERS)
                .bind(account)
                .bind(chunk.to_vec())
                .fetch_all(&mut *self)
                .await?;
            users.extensions.extend(rows);
        }
        Ok(users)
    }

    async fn update_users(&mut self, users: &[UserUpdate<'_>]) -> Result<(), sqlx::Error> {
        fn text<'a>(
            chunk: &[UserUpdate<'a>],
            f: impl Fn(&UserUpdate<'a>) -> Option<&'a str>,
        ) -> Vec<Option<String>> {
            column(chunk, |u| f(u).map(str::to_string))
        }
        for chunk in users.chunks(ROWS_PER_STATEMENT) {
            sqlx::query(UPDATE_USERS)
                .bind(column(chunk, |u| u.id))
                .bind(column(chunk, |u| u.display_name.to_string()))
                .bind(text(chunk, |u| u.first_name))
                .bind(text(chunk, |u| u.last_name))
                .bind(text(chunk, |u| u.job_title))
                .bind(text(chunk, |u| u.department))
                .bind(text(chunk, |u| u.organizational_unit))
                .bind(column(chunk, |u| u.role.to_string()))
                .bind(column(chunk, |u| u.location_id))
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn release_extensions(
        &mut self,
        account: i64,
        extensions: &[(String, i64)],
    ) -> Result<u64, sqlx::Error> {
        let mut released = 0;
        for chunk in extensions.chunks(ROWS_PER_STATEMENT) {
            released += sqlx::query(RELEASE_EXTENSIONS)
                .bind(account)
                .bind(column(chunk, |(e, _)| e.clone()))
                .bind(column(chunk, |(_, u)| *u))
                .execute(&mut *self)
                .await?
                .rows_affected();
        }
        Ok(released)
    }

    async fn release_numbers(
        &mut self,
        account: i64,
        numbers: &[(i64, i64)],
    ) -> Result<u64, sqlx::Error> {
        let mut released = 0;
        for chunk in numbers.chunks(ROWS_PER_STATEMENT) {
            released += sqlx::query(RELEASE_NUMBERS)
                .bind(account)
                .bind(column(chunk, |(n, _)| *n))
                .bind(column(chunk, |(_, u)| *u))
                .execute(&mut *self)
                .await?
                .rows_affected();
        }
        Ok(released)
    }

    async fn insert_plan_rows(&mut self, import: i64, rows: &[PlanRow]) -> Result<(), sqlx::Error> {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            sqlx::query(INSERT_PLAN_ROWS)
                .bind(import)
                .bind(column(chunk, |r| r.0))
                .bind(column(chunk, |r| r.1.clone()))
                .bind(column(chunk, |r| r.2))
                .bind(column(chunk, |r| r.3.clone()))
                .bind(column(chunk, |r| r.4))
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn plan_rows(&mut self, import: i64, rows: &[i64]) -> Result<Vec<PlanRow>, sqlx::Error> {
        let mut found = Vec::new();
        for chunk in rows.chunks(KEYS_PER_STATEMENT) {
            let rows: Vec<PlanRow> = sqlx::query_as(PLAN_ROWS)
                .bind(import)
                .bind(chunk.to_vec())
                .fetch_all(&mut *self)
                .await?;
            found.extend(rows);
        }
        Ok(found)
    }

    async fn delete_users(&mut self, users: &[i64]) -> Result<(), sqlx::Error> {
        for chunk in users.chunks(KEYS_PER_STATEMENT) {
            for sql in [DELETE_DELIVERIES, DELETE_USERS] {
                sqlx::query(sql)
                    .bind(chunk.to_vec())
                    .execute(&mut *self)
                    .await?;
            }
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
        let sql = format!(
            "SELECT r.row, r.status, r.user_id, r.email, r.before_image, r.after_image, d.state, \
             d.attempts, d.next_attempt, d.settled_at FROM (SELECT r.row, r.status, r.user_id, \
             r.email, r.before_image, r.after_image {from}) r \
             LEFT JOIN deliveries d ON d.user_id = r.user_id AND r.status = $2 ORDER BY r.row"
        );
        let query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(import)
            .bind(ResultStatus::Created.as_str())
            .bind(ResultStatus::Updated.as_str());
        match which {
            UndoRows::Range { after, end, limit } => query.bind(after).bind(end).bind(limit),
            UndoRows::Linked => query.bind(true),
        }
        .fetch_all(&mut *self)
        .await
    }

    async fn insert_undos(&mut self, import: i64, rows: &[NewUndo]) -> Result<(), sqlx::Error> {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            sqlx::query(INSERT_UNDOS)
                .bind(import)
                .bind(column(chunk, |r| r.0))
                .bind(column(chunk, |r| r.1.to_string()))
                .bind(column(chunk, |r| r.2.map(str::to_string)))
                .bind(column(chunk, |r| r.3.clone()))
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }
}
