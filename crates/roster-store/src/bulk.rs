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
    /// the import, and queues the job of each.
    fn queue_deliveries(
        &mut self,
        import: i64,
        users: &[i64],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Queues password jobs in this transaction: with apalis's own push on
    /// PostgreSQL, on SQLite with the rows apalis's push would write, a
    /// batch's worth per statement.
    fn push_password_jobs(
        &mut self,
        jobs: Vec<Task<Vec<u8>>>,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Adds a batch's rows and queued deliveries to the import's counts
    /// (the same SQL on both; here so that a batch writer needs only this
    /// trait).
    fn add_counts(
        &mut self,
        import: i64,
        counts: BatchCounts,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

const ADD_COUNTS: &str = "UPDATE imports SET processed = processed + $2, created = created + $3, \
    failed = failed + $4, deliveries_queued = deliveries_queued + $5 WHERE id = $1";

/// Rows per multi-row statement, well under SQLite's 32,766 bound parameters.
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

/// A batch's counts as the import's counts take them.
fn count_binds(counts: BatchCounts) -> [i64; 4] {
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    [
        n(counts.created + counts.failed),
        n(counts.created),
        n(counts.failed),
        n(counts.deliveries),
    ]
}

/// The job of a new user's first delivery attempt, to run at once.
fn first_job(user: i64) -> Task<Vec<u8>> {
    crate::delivery::password_job(user, 1, std::time::Duration::ZERO)
}
