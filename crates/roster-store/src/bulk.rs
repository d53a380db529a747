//! `Bulk`: the statements that carry a list, written once per database
//! (`sqlite.rs`, `postgres.rs`), and reached through a transaction.
//!
//! Everything else in the store reads the same on SQLite and PostgreSQL
//! (`db.rs`). These do not, because a list travels differently and each
//! database plans a lookup its own way: on SQLite as a JSON array unpacked
//! by `json_each`, or as multi-row `VALUES` for inserts; on PostgreSQL as
//! typed arrays unpacked by `unnest`. Either way a statement handles
//! hundreds or thousands of rows, never one.

use std::future::Future;

use roster_queue::DeliverPasswords;

use crate::db::Tx;
use crate::import::state::ResultStatus;

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
    pub(crate) status: ResultStatus,
    pub(crate) user_id: Option<i64>,
    pub(crate) email: Option<String>,
    pub(crate) extension: Option<String>,
    pub(crate) numbers: Option<String>,
    pub(crate) errors: Option<String>,
    /// The user as the row found them (an update), in `UserState`'s bytes.
    pub(crate) before_image: Option<Vec<u8>>,
    /// The user as the row left them (a create or an update).
    pub(crate) after_image: Option<Vec<u8>>,
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

/// A user's fields as stored, for a plan to compare.
pub(crate) struct UserRow {
    pub(crate) id: i64,
    pub(crate) email: String,
    pub(crate) display_name: String,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) job_title: Option<String>,
    pub(crate) department: Option<String>,
    pub(crate) organizational_unit: Option<String>,
    pub(crate) role: String,
    /// The location's name.
    pub(crate) location: String,
    /// The user's extensions, separated by `;`.
    pub(crate) extensions: Option<String>,
    /// The user's numbers' digits, separated by `;`, the primary one
    /// marked with a trailing `p`.
    pub(crate) numbers: Option<String>,
}

/// The columns of a [`UserRow`] as a statement reads them.
pub(crate) type UserColumns = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
);

impl From<UserColumns> for UserRow {
    fn from(c: UserColumns) -> UserRow {
        UserRow {
            id: c.0,
            email: c.1,
            display_name: c.2,
            first_name: c.3,
            last_name: c.4,
            job_title: c.5,
            department: c.6,
            organizational_unit: c.7,
            role: c.8,
            location: c.9,
            extensions: c.10,
            numbers: c.11,
        }
    }
}

/// Which users to read.
#[derive(Clone, Copy)]
pub(crate) enum UsersBy<'a> {
    /// By email key, in an account.
    Emails(i64, &'a [&'a str]),
    /// By id.
    Ids(&'a [i64]),
}

/// Who has some keys: `(number, user)` for the numbers not parked (no
/// user: not the account's), and `(extension, user)` for those taken.
#[derive(Default)]
pub(crate) struct KeyUsers {
    pub(crate) numbers: Vec<(i64, Option<i64>)>,
    pub(crate) extensions: Vec<(String, i64)>,
}

/// A user's fields as an update writes them.
pub(crate) struct UserUpdate<'a> {
    pub(crate) id: i64,
    pub(crate) display_name: &'a str,
    pub(crate) first_name: Option<&'a str>,
    pub(crate) last_name: Option<&'a str>,
    pub(crate) job_title: Option<&'a str>,
    pub(crate) department: Option<&'a str>,
    pub(crate) organizational_unit: Option<&'a str>,
    pub(crate) role: &'static str,
    pub(crate) location_id: i64,
}

/// A row of an import's plan, as stored: `(row, action, user, before,
/// linked)`.
pub(crate) type PlanRow = (i64, String, Option<i64>, Option<Vec<u8>>, bool);

/// Which rows an undo reads: those of a range of lines (after one, before
/// another, at most so many), or the plan's linked rows.
#[derive(Debug, Clone, Copy)]
pub(crate) enum UndoRows {
    Range { after: i64, end: i64, limit: i64 },
    Linked,
}

/// A row result as an undo reads it, with the created user's delivery:
/// `(row, status, user, email, before, after, delivery state, attempts,
/// next attempt, settled at)`.
pub(crate) type UndoRow = (
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// The rows of the import `$1` that created (`$2`) or updated (`$3`) a user
/// and that its undo has not taken up, as both databases pick them: after
/// line `$4`, before line `$5`, at most `$6`; or, with `$4` true, the
/// plan's linked rows.
pub(crate) const UNDO_RANGE: &str = "FROM row_results r WHERE r.import_id = $1 \
    AND r.row > $4 AND r.row < $5 AND r.status IN ($2, $3) AND NOT EXISTS \
    (SELECT 1 FROM row_undos u WHERE u.import_id = r.import_id AND u.row = r.row) \
    ORDER BY r.row LIMIT $6";
pub(crate) const UNDO_LINKED: &str = "FROM row_results r WHERE r.import_id = $1 \
    AND r.status IN ($2, $3) AND NOT EXISTS \
    (SELECT 1 FROM row_undos u WHERE u.import_id = r.import_id AND u.row = r.row) \
    AND EXISTS (SELECT 1 FROM import_plan_rows p WHERE p.import_id = r.import_id \
    AND p.row = r.row AND p.linked = $4) ORDER BY r.row";

/// What an undo did with a row, as stored: `(row, status, code, message)`.
pub(crate) type NewUndo = (i64, &'static str, Option<&'static str>, Option<String>);

/// A change to the deliveries of a slice, as `Bulk::settle_deliveries`
/// writes it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Change<'a> {
    Sent,
    Failed(&'a str),
    Retry(&'a str),
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

    /// Parks these numbers on the account, unless they are there.
    fn park_numbers(
        &mut self,
        account: i64,
        numbers: &[i64],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

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
    /// the import, as the group of the batch that starts on line `batch`.
    fn insert_deliveries(
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

    /// The users with these emails or ids, with their location's name,
    /// extensions and numbers, in one statement.
    fn user_rows(
        &mut self,
        by: UsersBy<'_>,
    ) -> impl Future<Output = Result<Vec<UserRow>, sqlx::Error>> + Send;

    /// Who has these numbers and extensions of the account, by id.
    fn key_users(
        &mut self,
        account: i64,
        numbers: &[i64],
        extensions: &[String],
    ) -> impl Future<Output = Result<KeyUsers, sqlx::Error>> + Send;

    /// Writes these users' fields.
    fn update_users(
        &mut self,
        users: &[UserUpdate<'_>],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Takes extensions from users: `(extension, user_id)`. Returns how
    /// many the users had.
    fn release_extensions(
        &mut self,
        account: i64,
        extensions: &[(String, i64)],
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;

    /// Parks numbers users have: `(number, user_id)`. Returns how many the
    /// users had.
    fn release_numbers(
        &mut self,
        account: i64,
        numbers: &[(i64, i64)],
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;

    /// Keeps rows of an import's plan.
    fn insert_plan_rows(
        &mut self,
        import: i64,
        rows: &[PlanRow],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// The plan's rows among these rows of the import.
    fn plan_rows(
        &mut self,
        import: i64,
        rows: &[i64],
    ) -> impl Future<Output = Result<Vec<PlanRow>, sqlx::Error>> + Send;

    /// Deletes these users and their password deliveries; their numbers
    /// and extensions must have been released.
    fn delete_users(
        &mut self,
        users: &[i64],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// The rows of the import an undo takes up next, in file order.
    fn undo_rows(
        &mut self,
        import: i64,
        which: UndoRows,
    ) -> impl Future<Output = Result<Vec<UndoRow>, sqlx::Error>> + Send;

    /// Keeps what an undo did with rows of the import.
    fn insert_undos(
        &mut self,
        import: i64,
        rows: &[NewUndo],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

/// Rows per multi-row statement, well under SQLite's 32,766 bound parameters.
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

// A transaction runs the list statements of its database: the one place
// that picks between the two.
impl Bulk for Tx<'_> {
    async fn prepare(&mut self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.prepare().await,
            Tx::Postgres(c) => c.prepare().await,
        }
    }

    async fn look_up(
        &mut self,
        account: i64,
        emails: &[&str],
        numbers: &[i64],
        extensions: &[String],
        locations: &[&str],
    ) -> Result<Answers, sqlx::Error> {
        match self {
            Tx::Sqlite(c) => {
                c.look_up(account, emails, numbers, extensions, locations)
                    .await
            }
            Tx::Postgres(c) => {
                c.look_up(account, emails, numbers, extensions, locations)
                    .await
            }
        }
    }

    async fn park_numbers(&mut self, account: i64, numbers: &[i64]) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.park_numbers(account, numbers).await,
            Tx::Postgres(c) => c.park_numbers(account, numbers).await,
        }
    }

    async fn rows_with_results(
        &mut self,
        import: i64,
        rows: &[i64],
    ) -> Result<Vec<i64>, sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.rows_with_results(import, rows).await,
            Tx::Postgres(c) => c.rows_with_results(import, rows).await,
        }
    }

    async fn insert_users(
        &mut self,
        account: i64,
        import: i64,
        users: &[NewUser<'_>],
    ) -> Result<Vec<(i64, String)>, sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.insert_users(account, import, users).await,
            Tx::Postgres(c) => c.insert_users(account, import, users).await,
        }
    }

    async fn insert_extensions(
        &mut self,
        account: i64,
        extensions: &[(String, i64)],
    ) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.insert_extensions(account, extensions).await,
            Tx::Postgres(c) => c.insert_extensions(account, extensions).await,
        }
    }

    async fn claim_numbers(
        &mut self,
        account: i64,
        numbers: &[(i64, i64, bool)],
    ) -> Result<u64, sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.claim_numbers(account, numbers).await,
            Tx::Postgres(c) => c.claim_numbers(account, numbers).await,
        }
    }

    async fn insert_results(
        &mut self,
        import: i64,
        results: &[NewResult],
    ) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.insert_results(import, results).await,
            Tx::Postgres(c) => c.insert_results(import, results).await,
        }
    }

    async fn insert_deliveries(
        &mut self,
        import: i64,
        batch: i64,
        users: &[i64],
    ) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.insert_deliveries(import, batch, users).await,
            Tx::Postgres(c) => c.insert_deliveries(import, batch, users).await,
        }
    }

    async fn keep_hashes(
        &mut self,
        job: &DeliverPasswords,
        hashes: &[(i64, &str)],
    ) -> Result<Vec<i64>, sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.keep_hashes(job, hashes).await,
            Tx::Postgres(c) => c.keep_hashes(job, hashes).await,
        }
    }

    async fn settle_deliveries(
        &mut self,
        job: &DeliverPasswords,
        users: &[i64],
        change: Change<'_>,
        now: &str,
    ) -> Result<Vec<i64>, sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.settle_deliveries(job, users, change, now).await,
            Tx::Postgres(c) => c.settle_deliveries(job, users, change, now).await,
        }
    }

    async fn clear_passwords(&mut self, users: &[i64]) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.clear_passwords(users).await,
            Tx::Postgres(c) => c.clear_passwords(users).await,
        }
    }

    async fn user_rows(&mut self, by: UsersBy<'_>) -> Result<Vec<UserRow>, sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.user_rows(by).await,
            Tx::Postgres(c) => c.user_rows(by).await,
        }
    }

    async fn key_users(
        &mut self,
        account: i64,
        numbers: &[i64],
        extensions: &[String],
    ) -> Result<KeyUsers, sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.key_users(account, numbers, extensions).await,
            Tx::Postgres(c) => c.key_users(account, numbers, extensions).await,
        }
    }

    async fn update_users(&mut self, users: &[UserUpdate<'_>]) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.update_users(users).await,
            Tx::Postgres(c) => c.update_users(users).await,
        }
    }

    async fn release_extensions(
        &mut self,
        account: i64,
        extensions: &[(String, i64)],
    ) -> Result<u64, sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.release_extensions(account, extensions).await,
            Tx::Postgres(c) => c.release_extensions(account, extensions).await,
        }
    }

    async fn release_numbers(
        &mut self,
        account: i64,
        numbers: &[(i64, i64)],
    ) -> Result<u64, sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.release_numbers(account, numbers).await,
            Tx::Postgres(c) => c.release_numbers(account, numbers).await,
        }
    }

    async fn insert_plan_rows(&mut self, import: i64, rows: &[PlanRow]) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.insert_plan_rows(import, rows).await,
            Tx::Postgres(c) => c.insert_plan_rows(import, rows).await,
        }
    }

    async fn plan_rows(&mut self, import: i64, rows: &[i64]) -> Result<Vec<PlanRow>, sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.plan_rows(import, rows).await,
            Tx::Postgres(c) => c.plan_rows(import, rows).await,
        }
    }

    async fn delete_users(&mut self, users: &[i64]) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.delete_users(users).await,
            Tx::Postgres(c) => c.delete_users(users).await,
        }
    }

    async fn undo_rows(
        &mut self,
        import: i64,
        which: UndoRows,
    ) -> Result<Vec<UndoRow>, sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.undo_rows(import, which).await,
            Tx::Postgres(c) => c.undo_rows(import, which).await,
        }
    }

    async fn insert_undos(&mut self, import: i64, rows: &[NewUndo]) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.insert_undos(import, rows).await,
            Tx::Postgres(c) => c.insert_undos(import, rows).await,
        }
    }
}
