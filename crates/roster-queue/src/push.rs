//! Pushing jobs: one at a time on the pool, or many inside a transaction
//! of the caller's (a new user's password job is queued in the transaction
//! that creates the user); dropping the jobs of work that stopped; and
//! finding the jobs the queue will not run any more.

use apalis::prelude::{TaskBuilder, TaskSink, TaskSinkError};
use apalis_core::task::Task;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Conn, Error, MAX_ATTEMPTS, Pool};

/// Pushes a job onto `queue` unless one with its key was pushed before;
/// `what` names it in an error.
pub async fn push<Args>(
    pool: Pool<'_>,
    queue: &'static str,
    args: Args,
    key: String,
    priority: usize,
    what: impl FnOnce() -> String,
) -> Result<(), Error>
where
    Args: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static,
{
    let task = TaskBuilder::new(args)
        .idempotency_key(key)
        .max_attempts(MAX_ATTEMPTS)
        .priority(priority)
        .build();
    let pushed = match pool {
        Pool::Sqlite(pool) => {
            let mut storage = SqliteStorage::<Args>::new(pool)
                .with_config(apalis_sqlite::Config::default().queue(queue));
            storage.push_task(task).await.map_err(|e| e.to_string())
        }
        Pool::Postgres(pool) => {
            let mut storage = PostgresStorage::<Args>::new(pool)
                .with_config(apalis_postgres::Config::default().queue(queue));
            match storage.push_task(task).await {
                Ok(()) => Ok(()),
                // PostgreSQL refuses a duplicate idempotency key: already queued.
                Err(e) if is_duplicate_key(&e) => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    pushed.map_err(|reason| Error::Push {
        what: what(),
        reason,
    })
}

/// Whether the push was refused for a key already there: SQLSTATE 23505,
/// `unique_violation`, read from the database's error, not its message.
fn is_duplicate_key(e: &TaskSinkError<apalis_postgres::Error>) -> bool {
    match e {
        TaskSinkError::PushError(apalis_postgres::Error::Database(e)) => e
            .as_database_error()
            .is_some_and(|d| d.is_unique_violation()),
        _ => false,
    }
}

// apalis-sqlite's own push (`queries::push_tasks`) writes a row per
// statement: 30 µs a row with the queue's dozen indexes, half a minute for a
// million users. This writes the same rows, a batch's worth per statement;
// `jobs_pushed_in_a_transaction_are_the_rows_apalis_writes` holds it to
// apalis's.
const INSERT_JOBS_SQLITE: &str = "INSERT INTO Jobs (job, id, job_type, status, attempts, \
    max_attempts, run_at, priority, metadata, idempotency_key) \
    SELECT CAST(k.value ->> 0 AS BLOB), k.value ->> 1, $1, 'Pending', 0, k.value ->> 2, \
    k.value ->> 3, k.value ->> 4, k.value ->> 5, k.value ->> 6 FROM json_each($2) k \
    WHERE true ON CONFLICT (job_type, idempotency_key) DO NOTHING";

/// Jobs per statement on SQLite: one JSON parameter each, so no bind limit
/// applies.
const JOBS_PER_STATEMENT: usize = 2000;

/// Pushes `jobs` onto `queue` inside the caller's transaction.
pub async fn push_in(
    conn: Conn<'_>,
    queue: &'static str,
    jobs: Vec<Task<Vec<u8>>>,
) -> Result<(), sqlx::Error> {
    match conn {
        Conn::Sqlite(conn) => {
            for chunk in jobs.chunks(JOBS_PER_STATEMENT) {
                let rows: Vec<serde_json::Value> = chunk.iter().map(job_row).collect();
                let rows = serde_json::to_string(&rows).unwrap_or_else(|_| "[]".to_string());
                sqlx::query(INSERT_JOBS_SQLITE)
                    .bind(queue)
                    .bind(rows)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        }
        Conn::Postgres(conn) => apalis_postgres::queries::push_tasks(conn, queue, jobs)
            .await
            .map_err(|e| match e {
                apalis_postgres::Error::Database(e) => e,
                other => sqlx::Error::Protocol(format!("the job queue: {other}")),
            }),
    }
}

/// A job as the row values apalis-sqlite's push writes for it (all but its
/// queue), in a JSON array.
fn job_row(job: &Task<Vec<u8>>) -> serde_json::Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    serde_json::json!([
        String::from_utf8_lossy(&job.args),
        ulid::Ulid::generate().to_string(),
        job.max_attempts().unwrap_or(25),
        job.run_at().unwrap_or(now),
        job.priority().unwrap_or_default(),
        serde_json::to_string(job.metadata()).unwrap_or_default(),
        job.idempotency_key(),
    ])
}

const DROP_JOBS_SQLITE: &str = "UPDATE Jobs SET status = 'Killed', \
    done_at = strftime('%s', 'now') WHERE job_type = $1 \
    AND status IN ('Pending', 'Failed') AND idempotency_key LIKE $2";
const DROP_JOBS_POSTGRES: &str = "UPDATE apalis.jobs SET status = 'Killed', done_at = now() \
    WHERE job_type = $1 AND status IN ('Pending', 'Failed') AND idempotency_key LIKE $2";

/// Drops the jobs of `queue` not yet taken whose keys start with `prefix`
/// (which holds no `LIKE` wildcard), inside the caller's transaction.
pub async fn drop_jobs(conn: Conn<'_>, queue: &str, prefix: &str) -> Result<u64, sqlx::Error> {
    let pattern = format!("{prefix}%");
    let done = match conn {
        Conn::Sqlite(conn) => sqlx::query(DROP_JOBS_SQLITE)
            .bind(queue)
            .bind(pattern)
            .execute(conn)
            .await?
            .rows_affected(),
        Conn::Postgres(conn) => sqlx::query(DROP_JOBS_POSTGRES)
            .bind(queue)
            .bind(pattern)
            .execute(conn)
            .await?
            .rows_affected(),
    };
    Ok(done)
}

// A job is alive while the queue may still run it: pending, taken, or
// failed with attempts left. One index search per key.
const DEAD_JOBS_SQLITE: &str = "SELECT k.value FROM json_each($2) k WHERE NOT EXISTS \
    (SELECT 1 FROM Jobs j WHERE j.job_type = $1 AND j.idempotency_key = k.value \
     AND (j.status IN ('Pending', 'Queued', 'Running') \
          OR (j.status = 'Failed' AND j.attempts < j.max_attempts)))";
const DEAD_JOBS_POSTGRES: &str = "SELECT k.value FROM unnest($2::text[]) AS k(value) \
    WHERE NOT EXISTS (SELECT 1 FROM apalis.jobs j WHERE j.job_type = $1 \
     AND j.idempotency_key = k.value \
     AND (j.status IN ('Pending', 'Queued', 'Running') \
          OR (j.status = 'Failed' AND j.attempts < j.max_attempts)))";

/// Of these keys of `queue`'s jobs, those the queue will not run any more:
/// never pushed, done, dropped, or failed out of attempts.
pub async fn dead_jobs(
    pool: Pool<'_>,
    queue: &str,
    keys: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(String,)> = match pool {
        Pool::Sqlite(pool) => {
            let keys = serde_json::to_string(keys).unwrap_or_else(|_| "[]".to_string());
            sqlx::query_as(DEAD_JOBS_SQLITE)
                .bind(queue)
                .bind(keys)
                .fetch_all(pool)
                .await?
        }
        Pool::Postgres(pool) => {
            sqlx::query_as(DEAD_JOBS_POSTGRES)
                .bind(queue)
                .bind(keys)
                .fetch_all(pool)
                .await?
        }
    };
    Ok(rows.into_iter().map(|(key,)| key).collect())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::push_in;
    use crate::{Conn, DeliverPasswords, PASSWORD_QUEUE, Pool, password_job, turn};

    /// The queue's rows written in bulk are the rows apalis's own push
    /// writes for the same job, but for the id (a fresh ULID each) and the
    /// idempotency key (the two jobs differ in it).
    #[tokio::test]
    async fn jobs_pushed_in_a_transaction_are_the_rows_apalis_writes() {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("a database");
        Pool::Sqlite(&pool)
            .migrate()
            .await
            .expect("the queue's schema");
        // The group of import 7 whose batch starts on line 4002: its turn
        // is the third.
        let job = DeliverPasswords {
            import: 7,
            batch: 4002,
            attempt: 2,
        };
        let (their_key, theirs) = password_job(&job, Duration::from_secs(30));
        let (our_key, ours) = password_job(&job, Duration::from_secs(30));
        let mut conn = pool.acquire().await.expect("a connection");
        apalis_sqlite::queries::push_tasks(&mut *conn, PASSWORD_QUEUE, &[theirs])
            .await
            .expect("apalis's push");
        push_in(Conn::Sqlite(&mut conn), PASSWORD_QUEUE, vec![ours])
            .await
            .expect("ours");
        type Row = (
            Vec<u8>,
            String,
            String,
            i64,
            i64,
            i64,
            Option<String>,
            Option<i64>,
            Option<String>,
            Option<i64>,
            i64,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT job, job_type, status, attempts, max_attempts, run_at, last_result, \
             lock_at, lock_by, done_at, priority, metadata FROM Jobs ORDER BY idempotency_key",
        )
        .fetch_all(&mut *conn)
        .await
        .expect("the rows");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], rows[1]);
        assert_eq!(rows[0].0, br#"{"import":7,"batch":4002,"attempt":2}"#);
        assert_eq!(rows[0].10, turn(2) as i64);
        let ids: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT id, idempotency_key FROM Jobs ORDER BY idempotency_key")
                .fetch_all(&mut *conn)
                .await
                .expect("the ids");
        let mut keys = [their_key, our_key];
        keys.sort();
        assert_eq!([ids[0].1.clone(), ids[1].1.clone()], keys.clone().map(Some));
        assert!(keys[0].starts_with("passwords-7-4002-2-"), "{keys:?}");
        assert_ne!(keys[0], keys[1]);
        assert!(
            ids.iter()
                .all(|(id, _)| ulid::Ulid::from_string(id).is_ok()),
            "{ids:?}"
        );
    }
}
