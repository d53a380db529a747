//! `Bulk`: the statements that carry a list, written once per database.
//!
//! Everything else in the store reads the same on SQLite and PostgreSQL.
//! These do not, because a list travels differently: on SQLite as a JSON
//! array unpacked by `json_each`, or as multi-row `VALUES` for inserts; on
//! PostgreSQL as typed arrays unpacked by `unnest`. Either way a statement
//! handles hundreds or thousands of rows, never one.

use std::future::Future;

use apalis_core::task::Task;

use crate::BatchCounts;
use crate::convert::to_db;
use crate::delivery::{Change, DeliverPasswords};

mod postgres;
mod sqlite;

/// A user row to insert.
pub(crate) struct NewUser<'a> {
    pub(crate) display_name: &'a str,
    pub(crate) email: &'a str,
    pub(crate) first_name: Option<&'a str>,
    pub(crate) last_name: Option<&'a str>,
    pub(crate) job_title: Option<&'a str>,
    pub(crate) department: Option<&'a str>,
    pub(crate) organizational_unit: Option<&'a str>,
    pub(crate) role: &'static str,
    pub(crate) location_id: i64,
}

/// A row result to insert.
pub(crate) struct NewResult {
    pub(crate) row: i64,
    pub(crate) status: &'static str,
    pub(crate) user_id: Option<i64>,
    pub(crate) email: Option<String>,
    pub(crate) extension: Option<String>,
    pub(crate) numbers: Option<String>,
    pub(crate) errors: Option<String>,
}

/// What the account holds of some keys, as the database answers.
#[derive(Default)]
pub(crate) struct Answers {
    pub(crate) taken_emails: Vec<String>,
    /// Numbers assigned (true) or not the account's (false).
    pub(crate) bad_numbers: Vec<(i64, bool)>,
    pub(crate) taken_extensions: Vec<String>,
    pub(crate) unknown_locations: Vec<String>,
}

/// The list statements, implemented by each database's connection.
pub(crate) trait Bulk {
    /// Readies a transaction for list statements. On PostgreSQL this steers
    /// the planner to index searches: its statistics lag behind a table an
    /// import is filling (users grow from none to a million), and a plan
    /// made from them scans the whole table once per batch.
    fn prepare(&mut self) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// What is wrong with these keys in the account: taken emails, assigned
    /// or foreign numbers, taken extensions, unknown location keys.
    fn look_up(
        &mut self,
        account: i64,
        emails: &[&str],
        numbers: &[i64],
        extensions: &[String],
        locations: &[&str],
    ) -> impl Future<Output = Result<Answers, sqlx::Error>> + Send;

    /// Which of these rows of the import already have a result.
    fn rows_with_results(
        &mut self,
        import: i64,
        rows: &[i64],
    ) -> impl Future<Output = Result<Vec<i64>, sqlx::Error>> + Send;

    /// Inserts users; returns each one's id with its lower-cased email.
    fn insert_users(
        &mut self,
        account: i64,
        import: i64,
        users: &[NewUser<'_>],
    ) -> impl Future<Output = Result<Vec<(i64, String)>, sqlx::Error>> + Send;

    /// Gives extensions to users: `(extension, user_id)`.
    fn insert_extensions(
        &mut self,
        account: i64,
        extensions: &[(String, i64)],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Assigns parked numbers: `(number, user_id, is_primary)`. Returns how
    /// many were parked and are now assigned; fewer than given means some
    /// were taken meanwhile.
    fn claim_numbers(
        &mut self,
        account: i64,
        numbers: &[(i64, i64, bool)],
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;

    fn insert_results(
        &mut self,
        import: i64,
        results: &[NewResult],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Records a queued password delivery for each of these new users of
    /// the import, as the group of the batch that starts on line `batch`,
    /// and queues the group's first job, linked to it.
    fn queue_deliveries(
        &mut self,
        import: i64,
        batch: i64,
        users: &[i64],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Keeps these `(user, hash)` as the users' passwords, to be changed at
    /// the next sign-in, for the users whose delivery waits for the job's
    /// attempt; counts that attempt on their deliveries. The users whose
    /// hash it kept.
    fn keep_hashes(
        &mut self,
        job: &DeliverPasswords,
        hashes: &[(i64, &str)],
    ) -> impl Future<Output = Result<Vec<i64>, sqlx::Error>> + Send;

    /// Makes `change` to the deliveries of these users that wait for the
    /// job's attempt; the users whose delivery it changed.
    fn settle_deliveries(
        &mut self,
        job: &DeliverPasswords,
        users: &[i64],
        change: Change<'_>,
        now: &str,
    ) -> impl Future<Output = Result<Vec<i64>, sqlx::Error>> + Send;

    /// Takes these users' passwords away.
    fn clear_passwords(
        &mut self,
        users: &[i64],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Queues password jobs in this transaction: with apalis's own push on
    /// PostgreSQL, on SQLite with the rows apalis's push would write, a
    /// batch's worth per statement.
    fn push_password_jobs(
        &mut self,
        jobs: Vec<Task<Vec<u8>>>,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Adds a batch's rows and queued deliveries to the import's counts.
    fn add_counts(
        &mut self,
        import: i64,
        counts: BatchCounts,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Links the job's group to the job with this key, unless it is linked
    /// already; whether it was not (the caller then queues the job).
    fn link_job(
        &mut self,
        job: &DeliverPasswords,
        key: &str,
    ) -> impl Future<Output = Result<bool, sqlx::Error>> + Send;

    /// Links the job's group to the job with this key, whatever it was
    /// linked to before.
    fn relink_job(
        &mut self,
        job: &DeliverPasswords,
        key: &str,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Forgets the link of the job's group once none of its deliveries
    /// waits for the job's attempt.
    fn unlink_settled(
        &mut self,
        job: &DeliverPasswords,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Counts deliveries sent and failed on the import, and how fast they
    /// go, at `now_ms`.
    fn count_deliveries(
        &mut self,
        import: i64,
        sent: u64,
        failed: u64,
        now_ms: i64,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

// The statements below read the same on both databases; each connection
// runs them with `shared!`, so that a writer generic over `Bulk` needs no
// other bound.

const ADD_COUNTS: &str = "UPDATE imports SET processed = processed + $2, created = created + $3, \
    failed = failed + $4, deliveries_queued = deliveries_queued + $5 WHERE id = $1";

const LINK_JOB: &str = "INSERT INTO delivery_jobs (import_id, batch, attempt, job_key) \
    VALUES ($1, $2, $3, $4) ON CONFLICT (import_id, batch, attempt) DO NOTHING";

const RELINK_JOB: &str = "INSERT INTO delivery_jobs (import_id, batch, attempt, job_key) \
    VALUES ($1, $2, $3, $4) ON CONFLICT (import_id, batch, attempt) \
    DO UPDATE SET job_key = excluded.job_key";

const UNLINK_SETTLED: &str = "DELETE FROM delivery_jobs \
    WHERE import_id = $1 AND batch = $2 AND attempt = $3 AND NOT EXISTS \
    (SELECT 1 FROM deliveries d WHERE d.import_id = $1 AND d.batch = $2 \
     AND d.next_attempt = $3 AND d.state = 'queued')";

/// How fast deliveries go: the messages settled in a window of at least
/// [`RATE_WINDOW_MS`] give the rate when the window closes, and a new one
/// opens. (`$2` sent, `$3` failed, `$4` now, `$5` the window; every
/// right-hand side reads the row as it was.)
const COUNT_DELIVERIES: &str = "UPDATE imports SET \
    deliveries_queued = deliveries_queued - $2 - $3, \
    deliveries_sent = deliveries_sent + $2, deliveries_failed = deliveries_failed + $3, \
    deliveries_rate_milli = CASE \
        WHEN deliveries_window_ms > 0 AND $4 - deliveries_window_ms >= $5 \
        THEN (deliveries_window_count + $2 + $3) * 1000000 / ($4 - deliveries_window_ms) \
        ELSE deliveries_rate_milli END, \
    deliveries_window_count = CASE WHEN $4 - deliveries_window_ms >= $5 THEN 0 \
        ELSE deliveries_window_count + $2 + $3 END, \
    deliveries_window_ms = CASE WHEN $4 - deliveries_window_ms >= $5 THEN $4 \
        ELSE deliveries_window_ms END, \
    deliveries_settled_ms = $4 \
    WHERE id = $1";

/// The shortest window a delivery rate is measured over.
pub(crate) const RATE_WINDOW_MS: i64 = 5000;

/// Runs one of the statements above on `$conn` with these bindings; the
/// rows it changed.
macro_rules! shared {
    ($conn:expr, $sql:expr $(, $bind:expr)*) => {
        sqlx::query($sql)$(.bind($bind))*.execute($conn).await.map(|done| done.rows_affected())
    };
}
use shared;

/// Rows per multi-row statement, well under SQLite's 32,766 bound parameters.
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

/// A batch's counts as the import's counts take them.
fn count_binds(counts: BatchCounts) -> [i64; 4] {
    [
        to_db(counts.created + counts.failed),
        to_db(counts.created),
        to_db(counts.failed),
        to_db(counts.deliveries),
    ]
}

/// The first job of the group of deliveries of `import` from the batch
/// that starts on line `batch`: its key and the task.
fn first_job(import: i64, batch: i64) -> (String, Task<Vec<u8>>) {
    crate::delivery::password_job(
        &DeliverPasswords::first(import, batch),
        std::time::Duration::ZERO,
    )
}
