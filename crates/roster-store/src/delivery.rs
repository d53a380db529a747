//! Password deliveries: one for each user an import creates while it sends
//! passwords, and the jobs on the queue that carry them out.
//!
//! A delivery is written in the transaction that creates its user. The
//! users one batch creates form a *group*, which one job per attempt
//! carries (a thousand users, one job): the group's first job is queued in
//! that same transaction (the queue's tables live in this database; see
//! `queue_group`), so a user never exists without its delivery
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
//! before the rest of a million queued by another (see `roster_queue::turn`).
//!
//! The store sees hashes only, never a clear password. Delivery is at least
//! once: a job that runs twice (its worker presumed dead while it was still
//! sending) sends twice, each message with a fresh password, and only the
//! password of the last one stored works.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

use roster_queue::{DeliverPasswords, PASSWORD_QUEUE, password_job};

use crate::bulk::{Bulk, Change};
use crate::convert::{from_db, to_db};
use crate::db::{Tx, query};
use crate::error::Context;
use crate::{Account, Error, Store, UserId, time};

/// How temporary passwords reach the users of an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordDelivery {
    /// To each user's own email.
    Users,
    /// Not at all.
    None,
    /// All to one address, one message per user.
    To(roster_validate::Email),
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

impl PasswordDelivery {
    /// `users`, `none` or `to:ADDRESS`.
    pub fn parse(s: &str) -> Option<PasswordDelivery> {
        match s {
            "users" => Some(PasswordDelivery::Users),
            "none" => Some(PasswordDelivery::None),
            _ => s
                .strip_prefix("to:")
                .and_then(|a| roster_validate::Email::parse(a).ok())
                .map(PasswordDelivery::To),
        }
    }
}

impl PasswordDelivery {
    /// Whether each new user gets a message with a temporary password.
    pub fn sends(&self) -> bool {
        !matches!(self, PasswordDelivery::None)
    }
}

impl fmt::Display for PasswordDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordDelivery::Users => f.write_str("users"),
            PasswordDelivery::None => f.write_str("none"),
            PasswordDelivery::To(address) => write!(f, "to:{address}"),
        }
    }
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

impl Store {
    /// The deliveries of the job's group that wait for its attempt: none
    /// when they were sent or failed already (a job delivered twice).
    pub async fn pending_deliveries(&self, job: &DeliverPasswords) -> Result<Pending, Error> {
        const PASSWORDS: &str = "SELECT passwords FROM imports WHERE id = $1";
        const PENDING: &str = "SELECT d.user_id, u.display_name, u.email FROM deliveries d \
            JOIN users u ON u.id = d.user_id WHERE d.import_id = $1 AND d.batch = $2 \
            AND d.next_attempt = $3 AND d.state = 'queued' ORDER BY d.user_id";
        let passwords: Option<(String,)> = query(PASSWORDS)
            .bind(job.import)
            .fetch_optional(&self.db)
            .await
            .context("reading the import of password deliveries")?;
        let Some((passwords,)) = passwords else {
            return Ok(Pending {
                passwords: PasswordDelivery::None,
                deliveries: Vec::new(),
            });
        };
        let rows: Vec<(i64, String, String)> = query(PENDING)
            .bind(job.import)
            .bind(job.batch)
            .bind(i64::from(job.attempt))
            .fetch_all(&self.db)
            .await
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
        let mut tx = self.db.begin().await.context("starting a transaction")?;
        let kept = tx
            .keep_hashes(job, &hashes)
            .await
            .context("storing password hashes")?;
        tx.commit().await.context("committing password hashes")?;
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
        let mut tx = self.db.begin().await.context("starting a transaction")?;
        let settled = settle(&mut tx, job, &by_change, retry_after).await?;
        tx.commit().await.context("committing deliveries")?;
        Ok(settled)
    }

    /// Queues a new job for what is left of the job's group (the worker is
    /// stopping): another worker, or this one when it starts again, sends
    /// the rest.
    pub async fn hand_back_deliveries(&self, job: &DeliverPasswords) -> Result<(), Error> {
        let (key, task) = password_job(job, Duration::ZERO);
        let mut tx = self.db.begin().await.context("starting a transaction")?;
        link_job(&mut tx, job, &key, Link::Replace)
            .await
            .context("linking deliveries to their job")?;
        roster_queue::push_in(tx.queue(), PASSWORD_QUEUE, vec![task])
            .await
            .context("queueing a password job")?;
        tx.commit().await.context("committing a password job")
    }

    /// Queues a new job for every group of queued deliveries whose job the
    /// queue will not run any more: it ran out of attempts on errors of
    /// roster's own (the database out of reach, say), or it ended with
    /// deliveries left. The number of groups queued again. One index
    /// search per group in `delivery_jobs` and one per such group in the
    /// queue: the cost follows the groups, never the queue's length.
    pub async fn requeue_stranded_deliveries(&self) -> Result<u64, Error> {
        const WAITING: &str = "SELECT g.import_id, g.batch, g.attempt, g.job_key \
            FROM delivery_jobs g WHERE EXISTS (SELECT 1 FROM deliveries d \
                WHERE d.import_id = g.import_id AND d.batch = g.batch \
                AND d.next_attempt = g.attempt AND d.state = 'queued')";
        // Only the sweep that moves the link from the dead job queues a new
        // one: two workers sweeping at once queue one job between them.
        const MOVE: &str = "UPDATE delivery_jobs SET job_key = $5 \
            WHERE import_id = $1 AND batch = $2 AND attempt = $3 AND job_key = $4";
        let waiting: Vec<(i64, i64, i64, String)> = query(WAITING)
            .fetch_all(&self.db)
            .await
            .context("finding deliveries without a job")?;
        let keys: Vec<String> = waiting.iter().map(|(.., key)| key.clone()).collect();
        let dead: HashSet<String> = roster_queue::dead_jobs(self.pool(), PASSWORD_QUEUE, &keys)
            .await
            .context("finding deliveries without a job")?
            .into_iter()
            .collect();
        if dead.is_empty() {
            return Ok(0);
        }
        let mut tx = self.db.begin().await.context("starting a transaction")?;
        let mut queued = 0;
        for (import, batch, attempt, old) in waiting {
            if !dead.contains(&old) {
                continue;
            }
            let job = DeliverPasswords {
                import,
                batch,
                attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
            };
            let (key, task) = password_job(&job, Duration::ZERO);
            let moved = query(MOVE)
                .bind(import)
                .bind(batch)
                .bind(attempt)
                .bind(old)
                .bind(key)
                .execute(&mut tx)
                .await
                .context("linking deliveries to their job")?;
            if moved == 1 {
                roster_queue::push_in(tx.queue(), PASSWORD_QUEUE, vec![task])
                    .await
                    .context("queueing a password job")?;
                queued += 1;
            }
        }
        tx.commit().await.context("committing password jobs")?;
        Ok(queued)
    }

    /// The user's password as stored, by the user's email.
    pub async fn stored_password(
        &self,
        account: &Account,
        email: &str,
    ) -> Result<Option<StoredPassword>, Error> {
        const SQL: &str = "SELECT password_hash, must_change_password FROM users \
            WHERE account_id = $1 AND lower(email) = lower($2)";
        let row: Option<(Option<String>, bool)> = query(SQL)
            .bind(account.id.get())
            .bind(email)
            .fetch_optional(&self.db)
            .await
            .context("reading a password")?;
        Ok(row.map(|(hash, must_change)| StoredPassword { hash, must_change }))
    }
}

/// Records a queued password delivery for each of these new users of the
/// import, as the group of the batch that starts on line `batch`, and
/// queues the group's first job, linked to it: in the transaction that
/// creates the users.
pub(crate) async fn queue_group(
    tx: &mut Tx<'_>,
    import: i64,
    batch: i64,
    users: &[i64],
) -> Result<(), sqlx::Error> {
    tx.insert_deliveries(import, batch, users).await?;
    let first = DeliverPasswords::first(import, batch);
    let (key, task) = password_job(&first, Duration::ZERO);
    link_job(tx, &first, &key, Link::Replace).await?;
    roster_queue::push_in(tx.queue(), PASSWORD_QUEUE, vec![task]).await
}

/// Whether linking a group to a job replaces the job it is linked to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Only a group not linked yet is linked.
    IfNone,
    Replace,
}

/// Links the job's group to the job with this key; whether it did (with
/// [`Link::IfNone`], not when it was linked already: the caller then does
/// not queue the job).
async fn link_job(
    tx: &mut Tx<'_>,
    job: &DeliverPasswords,
    key: &str,
    link: Link,
) -> Result<bool, sqlx::Error> {
    const LINK: &str = "INSERT INTO delivery_jobs (import_id, batch, attempt, job_key) \
        VALUES ($1, $2, $3, $4) ON CONFLICT (import_id, batch, attempt) DO NOTHING";
    const RELINK: &str = "INSERT INTO delivery_jobs (import_id, batch, attempt, job_key) \
        VALUES ($1, $2, $3, $4) ON CONFLICT (import_id, batch, attempt) \
        DO UPDATE SET job_key = excluded.job_key";
    let sql = match link {
        Link::IfNone => LINK,
        Link::Replace => RELINK,
    };
    let linked = query(sql)
        .bind(job.import)
        .bind(job.batch)
        .bind(i64::from(job.attempt))
        .bind(key)
        .execute(tx)
        .await?;
    Ok(linked == 1)
}

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
const RATE_WINDOW_MS: i64 = 5000;

/// Forgets the link of the job's group once none of its deliveries waits
/// for the job's attempt.
const UNLINK_SETTLED: &str = "DELETE FROM delivery_jobs \
    WHERE import_id = $1 AND batch = $2 AND attempt = $3 AND NOT EXISTS \
    (SELECT 1 FROM deliveries d WHERE d.import_id = $1 AND d.batch = $2 \
     AND d.next_attempt = $3 AND d.state = 'queued')";

/// Settles a slice in the caller's transaction.
async fn settle(
    tx: &mut Tx<'_>,
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
        let changed = tx
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
    tx.clear_passwords(&failed_users)
        .await
        .context("removing passwords")?;
    if settled.retried > 0 {
        let next = job.next();
        let (key, task) = password_job(&next, retry_after);
        // Another run of this attempt may have queued the next one already.
        if link_job(tx, &next, &key, Link::IfNone)
            .await
            .context("linking deliveries to their job")?
        {
            roster_queue::push_in(tx.queue(), PASSWORD_QUEUE, vec![task])
                .await
                .context("queueing a password job")?;
        }
    }
    if settled.sent + settled.failed > 0 {
        query(COUNT_DELIVERIES)
            .bind(job.import)
            .bind(to_db(settled.sent))
            .bind(to_db(settled.failed))
            .bind(time::now_millis())
            .bind(RATE_WINDOW_MS)
            .execute(&mut *tx)
            .await
            .context("counting deliveries")?;
    }
    query(UNLINK_SETTLED)
        .bind(job.import)
        .bind(job.batch)
        .bind(i64::from(job.attempt))
        .execute(tx)
        .await
        .context("unlinking settled deliveries")?;
    Ok(settled)
}
