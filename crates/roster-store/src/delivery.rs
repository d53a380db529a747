//! Password deliveries: one for each user an import creates while it sends
//! passwords, and the jobs on the queue that carry them out.
//!
//! A delivery is written in the transaction that creates its user. The
//! users one batch creates form a *group*, which one job per attempt
//! carries (a thousand users, one job): the group's first job is queued in
//! that same transaction (the queue's tables live in this database; see
//! `Bulk::queue_deliveries`), so a user never exists without its delivery
//! queued, and a delivery never exists without its user. The job reads its
//! group's deliveries that wait for its attempt, keeps the hashes of fresh
//! temporary passwords here, a slice at a time, sends the messages, and
//! settles the slice: sent, failed, or waiting for the next attempt, whose
//! job the same transaction queues.
//!
//! `delivery_jobs` links each group to the job that carries it now. A job
//! the queue dropped (it failed on roster's own errors until it ran out of
//! attempts) leaves its group linked to a dead job, and the sweep
//! ([`Store::requeue_stranded_deliveries`]) finds such groups with one index
//! search each: its cost follows the groups, never the queue.
//!
//! Jobs are fair between imports: a group's job has the priority of its
//! place in its import (the first batch's group the highest), and the queue
//! runs the highest first. So the first messages of a small import go out
//! before the rest of a million queued by another (see [`turn`]).
//!
//! The store sees hashes only, never a clear password. Delivery is at least
//! once: a job that runs twice (its worker presumed dead while it was still
//! sending) sends twice, each message with a fresh password, and only the
//! password of the last one stored works.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use apalis_core::task::Task;
use apalis_core::task::builder::TaskBuilder;
use serde::{Deserialize, Serialize};

use crate::bulk::Bulk;
use crate::convert::from_db;
use crate::error::Context;
use crate::queue::{PASSWORD_QUEUE, turn};
use crate::store::{Db, with_pool};
use crate::{Account, Error, ImportKey, PasswordDelivery, Store, UserId, time};

/// Runs of one job that ends in an error of roster's own (the database out
/// of reach, say) before the queue gives up on it. A failure to send is not
/// such an error: it is settled on the delivery.
pub const PASSWORD_JOB_ATTEMPTS: usize = 3;

/// The payload of a password job: one attempt at one group of an import's
/// deliveries. Ids only, so a job survives any change to roster's types
/// (fields are only ever added).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverPasswords {
    /// The import's row id.
    pub import: i64,
    /// The line of the file the batch that created the group starts on.
    pub batch: i64,
    /// The attempt, from 1.
    pub attempt: u32,
}

/// A group's deliveries that wait for its job's attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Where the import's messages go.
    pub passwords: PasswordDelivery,
    /// In the order of the users' ids.
    pub deliveries: Vec<Delivery>,
}

/// One user's delivery: what the message needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub user: UserId,
    pub display_name: String,
    /// The user's email, which is also the username.
    pub email: String,
}

/// How one attempt at a delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    Sent,
    /// Will never be sent: the user is left with no usable password.
    Failed(String),
    /// Failed for now: the next attempt is queued.
    Retry(String),
}

/// What settling a slice did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settled {
    pub sent: u64,
    pub failed: u64,
    pub retried: u64,
}

/// Where a user's temporary password is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its job, or for its next attempt after a temporary failure.
    Queued,
    Sent,
    /// Will not be sent: the user has no usable password.
    Failed,
    /// The import sends no passwords (never stored: there is no delivery).
    NotSent,
}

/// A user's delivery as a row result shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryStatus {
    pub state: DeliveryState,
    /// Why it failed, or why its last attempt did when it is queued again.
    pub error: Option<String>,
}

/// An import's deliveries by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub queued: u64,
    pub sent: u64,
    pub failed: u64,
}

/// How fast an import's messages go out, as its deliveries measured it
/// when they were settled: over windows of some seconds each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryPace {
    /// Messages a second over the last window, times 1000.
    pub(crate) rate_milli: Option<u64>,
    /// The current window: its start (Unix milliseconds), and the messages
    /// settled in it so far.
    pub(crate) window_ms: u64,
    pub(crate) window_count: u64,
    /// When a message was last settled (Unix milliseconds).
    pub(crate) settled_ms: Option<u64>,
}

/// A user's password as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPassword {
    /// The argon2id hash in PHC form; `None`: no usable password.
    pub hash: Option<String>,
    /// The user must choose a new password at the next sign-in.
    pub must_change: bool,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
            DeliveryState::NotSent => "not_sent",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<DeliveryState> {
        match s {
            "queued" => Some(DeliveryState::Queued),
            "sent" => Some(DeliveryState::Sent),
            "failed" => Some(DeliveryState::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl DeliveryStatus {
    /// The status in a sentence an admin can act on.
    pub fn describe(&self) -> String {
        match (self.state, &self.error) {
            (DeliveryState::Queued, None) => "queued".to_string(),
            (DeliveryState::Queued, Some(error)) => {
                format!("queued again: the last attempt failed and will be retried ({error})")
            }
            (DeliveryState::Sent, _) => {
                "sent; the user must choose a new password at first sign-in".to_string()
            }
            (DeliveryState::Failed, error) => format!(
                "not delivered ({}); reset the user's password to let them sign in",
                error.as_deref().unwrap_or("no reason recorded")
            ),
            (DeliveryState::NotSent, _) => {
                "no password sent (passwords none); reset the user's password to let them sign in"
                    .to_string()
            }
        }
    }
}

impl DeliveryPace {
    /// How long without a settled message before the pace reads as none:
    /// then nothing is sending (no worker runs, or the outbox is down).
    const STALE_MS: u64 = 15_000;

    /// Messages a second now; `None` when none was settled lately, or too
    /// few to tell.
    pub fn per_second(&self) -> Option<f64> {
        let now = from_db(time::now_millis());
        let settled = self.settled_ms?;
        if now.saturating_sub(settled) > DeliveryPace::STALE_MS {
            return None;
        }
        if let Some(milli) = self.rate_milli {
            return Some(milli as f64 / 1000.0);
        }
        // The first window, not closed yet: what it has so far.
        let elapsed = settled.saturating_sub(self.window_ms);
        (self.window_count > 0 && elapsed >= 1000)
            .then(|| self.window_count as f64 * 1000.0 / elapsed as f64)
    }

    /// The time `queued` more messages take at the pace now.
    pub fn eta(&self, queued: u64) -> Option<Duration> {
        let rate = self.per_second().filter(|r| *r > 0.0)?;
        Some(Duration::from_secs_f64(queued as f64 / rate))
    }
}

impl DeliverPasswords {
    /// The job of the group's first attempt.
    pub(crate) fn first(import: i64, batch: i64) -> DeliverPasswords {
        DeliverPasswords {
            import,
            batch,
            attempt: 1,
        }
    }

    /// The job of the group's next attempt.
    fn next(&self) -> DeliverPasswords {
        DeliverPasswords {
            attempt: self.attempt + 1,
            ..*self
        }
    }

    pub fn import(&self) -> ImportKey {
        ImportKey(self.import)
    }
}

/// A change to the deliveries of a slice, as `Bulk::settle_deliveries`
/// writes it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Change<'a> {
    Sent,
    Failed(&'a str),
    Retry(&'a str),
}

impl Store {
    /// The deliveries of the job's group that wait for its attempt: none
    /// when they were sent or failed already (a job delivered twice).
    pub async fn pending_deliveries(&self, job: &DeliverPasswords) -> Result<Pending, Error> {
        const PASSWORDS: &str = "SELECT passwords FROM imports WHERE id = $1";
        const PENDING: &str = "SELECT d.user_id, u.display_name, u.email FROM deliveries d \
            JOIN users u ON u.id = d.user_id WHERE d.import_id = $1 AND d.batch = $2 \
            AND d.next_attempt = $3 AND d.state = 'queued' ORDER BY d.user_id";
        let passwords: Option<(String,)> = with_pool!(&self.db, pool => {
            sqlx::query_as(PASSWORDS).bind(job.import).fetch_optional(pool).await
        })
        .context("reading the import of password deliveries")?;
        let Some((passwords,)) = passwords else {
            return Ok(Pending {
                passwords: PasswordDelivery::None,
                deliveries: Vec::new(),
            });
        };
        let rows: Vec<(i64, String, String)> = with_pool!(&self.db, pool => {
            sqlx::query_as(PENDING)
                .bind(job.import)
                .bind(job.batch)
                .bind(i64::from(job.attempt))
                .fetch_all(pool)
                .await
        })
        .context("reading password deliveries")?;
        Ok(Pending {
            passwords: PasswordDelivery::parse(&passwords)
                .ok_or(Error::Corrupt("a password delivery"))?,
            deliveries: rows
                .into_iter()
                .map(|(user, display_name, email)| Delivery {
                    user: UserId(user),
                    display_name,
                    email,
                })
                .collect(),
        })
    }

    /// Keeps the hashes of these users' new temporary passwords, to be
    /// changed at the first sign-in, and counts the job's attempt on their
    /// deliveries, in one transaction; the users whose hash it kept. A user
    /// whose delivery no longer waits for this attempt (another run of the
    /// job settled it meanwhile) keeps the password it has, and must not be
    /// sent this one.
    pub async fn keep_password_hashes(
        &self,
        job: &DeliverPasswords,
        hashes: &[(UserId, String)],
    ) -> Result<Vec<UserId>, Error> {
        let hashes: Vec<(i64, &str)> = hashes.iter().map(|(u, h)| (u.0, h.as_str())).collect();
        let kept = with_pool!(&self.db, pool => {
            let mut tx = pool.begin().await.context("starting a transaction")?;
            let kept = tx.keep_hashes(job, &hashes).await.context("storing password hashes")?;
            tx.commit().await.context("committing password hashes")?;
            Ok::<_, Error>(kept)
        })?;
        Ok(kept.into_iter().map(UserId).collect())
    }

    /// Records how each of these deliveries of the job's group went, with
    /// the import's counts, in one transaction: sent; failed, which takes
    /// the user's password away; or failed for now, which queues the
    /// group's next attempt to run `retry_after` from now. A delivery that
    /// no longer waits for this attempt is left alone.
    pub async fn settle_deliveries(
        &self,
        job: &DeliverPasswords,
        outcomes: &[(UserId, Settlement)],
        retry_after: Duration,
    ) -> Result<Settled, Error> {
        // One statement per kind of outcome and reason, a list of users each.
        let mut by_change: BTreeMap<(u8, &str), Vec<i64>> = BTreeMap::new();
        for (user, outcome) in outcomes {
            let key = match outcome {
                Settlement::Sent => (0, ""),
                Settlement::Failed(why) => (1, why.as_str()),
                Settlement::Retry(why) => (2, why.as_str()),
            };
            by_change.entry(key).or_default().push(user.0);
        }
        with_pool!(&self.db, pool => {
            let mut tx = pool.begin().await.context("starting a transaction")?;
            let settled = settle(&mut *tx, job, &by_change, retry_after).await?;
            tx.commit().await.context("committing deliveries")?;
            Ok(settled)
        })
    }

    /// Queues a new job for what is left of the job's group (the worker is
    /// stopping): another worker, or this one when it starts again, sends
    /// the rest.
    pub async fn hand_back_deliveries(&self, job: &DeliverPasswords) -> Result<(), Error> {
        let (key, task) = password_job(job, Duration::ZERO);
        with_pool!(&self.db, pool => {
            let mut tx = pool.begin().await.context("starting a transaction")?;
            tx.relink_job(job, &key).await.context("linking deliveries to their job")?;
            tx.push_password_jobs(vec![task]).await.context("queueing a password job")?;
            tx.commit().await.context("committing a password job")
        })
    }

    /// Queues a new job for every group of queued deliveries whose job the
    /// queue will not run any more: it ran out of attempts on errors of
    /// roster's own (the database out of reach, say), or it ended with
    /// deliveries left. The number of groups queued again. One index
    /// search per group in `delivery_jobs` and one per such group in the
    /// queue: the cost follows the groups, never the queue's length.
    pub async fn requeue_stranded_deliveries(&self) -> Result<u64, Error> {
        // A job is alive while the queue may still run it.
        const SQLITE: &str = "SELECT g.import_id, g.batch, g.attempt, g.job_key \
            FROM delivery_jobs g WHERE EXISTS (SELECT 1 FROM deliveries d \
                WHERE d.import_id = g.import_id AND d.batch = g.batch \
                AND d.next_attempt = g.attempt AND d.state = 'queued') \
            AND NOT EXISTS (SELECT 1 FROM Jobs j WHERE j.job_type = $1 \
                AND j.idempotency_key = g.job_key \
                AND (j.status IN ('Pending', 'Queued', 'Running') \
                     OR (j.status = 'Failed' AND j.attempts < j.max_attempts)))";
        const POSTGRES: &str = "SELECT g.import_id, g.batch, g.attempt, g.job_key \
            FROM delivery_jobs g WHERE EXISTS (SELECT 1 FROM deliveries d \
                WHERE d.import_id = g.import_id AND d.batch = g.batch \
                AND d.next_attempt = g.attempt AND d.state = 'queued') \
            AND NOT EXISTS (SELECT 1 FROM apalis.jobs j WHERE j.job_type = $1 \
                AND j.idempotency_key = g.job_key \
                AND (j.status IN ('Pending', 'Queued', 'Running') \
                     OR (j.status = 'Failed' AND j.attempts < j.max_attempts)))";
        // Only the sweep that moves the link from the dead job queues a new
        // one: two workers sweeping at once queue one job between them.
        const MOVE: &str = "UPDATE delivery_jobs SET job_key = $5 \
            WHERE import_id = $1 AND batch = $2 AND attempt = $3 AND job_key = $4";
        let sql = match &self.db {
            Db::Sqlite(_) => SQLITE,
            Db::Postgres(_) => POSTGRES,
        };
        let stranded: Vec<(i64, i64, i64, String)> = with_pool!(&self.db, pool => {
            sqlx::query_as(sql).bind(PASSWORD_QUEUE).fetch_all(pool).await
        })
        .context("finding deliveries without a job")?;
        if stranded.is_empty() {
            return Ok(0);
        }
        with_pool!(&self.db, pool => {
            let mut tx = pool.begin().await.context("starting a transaction")?;
            let mut queued = 0;
            for (import, batch, attempt, dead) in stranded {
                let job = DeliverPasswords {
                    import,
                    batch,
                    attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
                };
                let (key, task) = password_job(&job, Duration::ZERO);
                let moved = sqlx::query(MOVE)
                    .bind(import)
                    .bind(batch)
                    .bind(attempt)
                    .bind(dead)
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .context("linking deliveries to their job")?;
                if moved.rows_affected() == 1 {
                    tx.push_password_jobs(vec![task]).await.context("queueing a password job")?;
                    queued += 1;
                }
            }
            tx.commit().await.context("committing password jobs")?;
            Ok(queued)
        })
    }

    /// The user's password as stored, by the user's email.
    pub async fn stored_password(
        &self,
        account: &Account,
        email: &str,
    ) -> Result<Option<StoredPassword>, Error> {
        const SQL: &str = "SELECT password_hash, must_change_password FROM users \
            WHERE account_id = $1 AND lower(email) = lower($2)";
        let row: Option<(Option<String>, bool)> = with_pool!(&self.db, pool => {
            sqlx::query_as(SQL).bind(account.id.get()).bind(email).fetch_optional(pool).await
        })
        .context("reading a password")?;
        Ok(row.map(|(hash, must_change)| StoredPassword { hash, must_change }))
    }
}

/// The lines of a file a group of deliveries stands for when its turn is
/// reckoned: an import's batches of rows (2,000 by default).
const LINES_PER_TURN: u64 = 2000;

/// Settles a slice on `conn`, in the caller's transaction.
async fn settle<C: Bulk + Send>(
    conn: &mut C,
    job: &DeliverPasswords,
    by_change: &BTreeMap<(u8, &str), Vec<i64>>,
    retry_after: Duration,
) -> Result<Settled, Error> {
    let now = time::now();
    let mut settled = Settled::default();
    let mut failed_users = Vec::new();
    for (&(kind, why), users) in by_change {
        let change = match kind {
            0 => Change::Sent,
            1 => Change::Failed(why),
            _ => Change::Retry(why),
        };
        let changed = conn
            .settle_deliveries(job, users, change, &now)
            .await
            .context("settling deliveries")?;
        let count = changed.len() as u64;
        match change {
            Change::Sent => settled.sent += count,
            Change::Failed(_) => {
                settled.failed += count;
                failed_users.extend(changed);
            }
            Change::Retry(_) => settled.retried += count,
        }
    }
    conn.clear_passwords(&failed_users)
        .await
        .context("removing passwords")?;
    if settled.retried > 0 {
        let next = job.next();
        let (key, task) = password_job(&next, retry_after);
        // Another run of this attempt may have queued the next one already.
        if conn
            .link_job(&next, &key)
            .await
            .context("linking deliveries to their job")?
        {
            conn.push_password_jobs(vec![task])
                .await
                .context("queueing a password job")?;
        }
    }
    if settled.sent + settled.failed > 0 {
        conn.count_deliveries(job.import, settled.sent, settled.failed, time::now_millis())
            .await
            .context("counting deliveries")?;
    }
    conn.unlink_settled(job)
        .await
        .context("unlinking settled deliveries")?;
    Ok(settled)
}

/// The job for `job`, to run `after` from now, with an idempotency key of
/// its own: `passwords-{import}-{batch}-{attempt}-{unique}`.
pub(crate) fn password_job(job: &DeliverPasswords, after: Duration) -> (String, Task<Vec<u8>>) {
    let key = format!(
        "passwords-{}-{}-{}-{}",
        job.import,
        job.batch,
        job.attempt,
        ulid::Ulid::generate()
    );
    let args = serde_json::to_vec(job).expect("a struct of integers serializes");
    let ordinal = from_db(job.batch) / LINES_PER_TURN;
    let task = TaskBuilder::new(args)
        .idempotency_key(&key)
        .max_attempts(PASSWORD_JOB_ATTEMPTS)
        .priority(turn(ordinal))
        .run_after(after)
        .build();
    (key, task)
}
