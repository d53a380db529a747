//! Password deliveries: one for each user an import creates while it sends
//! passwords, and the job on the queue that carries it out.
//!
//! A delivery is written in the transaction that creates its user, and its
//! job is queued in that same transaction (the queue's tables live in this
//! database; see `Bulk::push_password_jobs`): a user never exists without
//! its delivery queued, and a delivery never exists without its user. The
//! job then claims the delivery for an attempt, keeps the hash of a fresh
//! temporary password here, sends the message, and settles the delivery:
//! sent, failed, or queued again for later.
//!
//! The store sees hashes only, never a clear password. Delivery is at least
//! once: a job that runs twice (its worker presumed dead while it was still
//! sending) sends twice, each message with a fresh password, and only the
//! password of the last one stored works.

use std::fmt;
use std::time::Duration;

use apalis_core::task::Task;
use apalis_core::task::builder::TaskBuilder;
use serde::{Deserialize, Serialize};

use crate::bulk::Bulk;
use crate::error::Context;
use crate::store::{Db, with_pool};
use crate::{Account, Error, ImportKey, PasswordDelivery, Store, UserId, time};

/// The queue password jobs travel on.
pub const PASSWORD_QUEUE: &str = "roster-passwords";

/// Runs of one job that ends in an error of roster's own (the database out
/// of reach, say) before the queue gives up on it. A failure to send is not
/// such an error: it is settled on the delivery.
pub const PASSWORD_JOB_ATTEMPTS: usize = 3;

/// The payload of a password job: ids only, so a job survives any change
/// to roster's types (fields are only ever added).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliverPassword {
    pub user_id: i64,
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

/// A delivery claimed by its job for one attempt: what the message needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub user: UserId,
    pub import: ImportKey,
    pub display_name: String,
    /// The user's email, which is also the username.
    pub email: String,
    /// Where the message goes: to the user, or to one address for all.
    pub passwords: PasswordDelivery,
    /// This attempt's number, from 1.
    pub attempt: u32,
}

/// A user's password as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPassword {
    /// The argon2id hash in PHC form; `None`: no usable password.
    pub hash: Option<String>,
    /// The user must choose a new password at the next sign-in.
    pub must_change: bool,
}

impl DeliverPassword {
    pub fn user(&self) -> UserId {
        UserId(self.user_id)
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

impl Store {
    /// Claims the user's delivery for one more attempt. `None` when there
    /// is nothing to do: it was sent or failed already, or there is none.
    pub async fn claim_delivery(&self, user: UserId) -> Result<Option<Delivery>, Error> {
        const CLAIM: &str = "UPDATE deliveries SET attempts = attempts + 1 \
            WHERE user_id = $1 AND state = 'queued' RETURNING attempts, import_id";
        const READ: &str = "SELECT u.display_name, u.email, i.passwords FROM users u \
            JOIN imports i ON i.id = $2 WHERE u.id = $1";
        let claimed: Option<(i64, i64)> = with_pool!(&self.db, pool => {
            sqlx::query_as(CLAIM).bind(user.0).fetch_optional(pool).await
        })
        .context("claiming a password delivery")?;
        let Some((attempt, import)) = claimed else {
            return Ok(None);
        };
        let (display_name, email, passwords): (String, String, String) =
            with_pool!(&self.db, pool => {
                sqlx::query_as(READ).bind(user.0).bind(import).fetch_one(pool).await
            })
            .context("reading the user of a password delivery")?;
        Ok(Some(Delivery {
            user,
            import: ImportKey(import),
            display_name,
            email,
            passwords: PasswordDelivery::parse(&passwords)
                .ok_or(Error::Corrupt("a password delivery"))?,
            attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
        }))
    }

    /// Keeps the hash of the user's new temporary password, to be changed
    /// at the first sign-in.
    pub async fn set_password_hash(&self, user: UserId, hash: &str) -> Result<(), Error> {
        const SQL: &str =
            "UPDATE users SET password_hash = $2, must_change_password = true WHERE id = $1";
        with_pool!(&self.db, pool => {
            sqlx::query(SQL).bind(user.0).bind(hash).execute(pool).await.map(|_| ())
        })
        .context("storing a password hash")
    }

    /// The delivery's message went out.
    pub async fn delivery_sent(&self, delivery: &Delivery) -> Result<(), Error> {
        self.settle(delivery, DeliveryState::Sent, None).await
    }

    /// The delivery will never go out: the user is left with no usable
    /// password, for the admin to reset.
    pub async fn delivery_failed(&self, delivery: &Delivery, error: &str) -> Result<(), Error> {
        self.settle(delivery, DeliveryState::Failed, Some(error))
            .await
    }

    /// The attempt failed for now: keeps why, and queues the next attempt
    /// to run `after` from now.
    pub async fn retry_delivery(
        &self,
        delivery: &Delivery,
        error: &str,
        after: Duration,
    ) -> Result<(), Error> {
        const NOTE: &str =
            "UPDATE deliveries SET error = $2 WHERE user_id = $1 AND state = 'queued'";
        let job = password_job(delivery.user.0, delivery.attempt + 1, after);
        with_pool!(&self.db, pool => {
            let mut tx = pool.begin().await.context("starting a transaction")?;
            let noted = sqlx::query(NOTE)
                .bind(delivery.user.0)
                .bind(error)
                .execute(&mut *tx)
                .await
                .context("noting a failed delivery")?;
            if noted.rows_affected() == 1 {
                tx.push_password_jobs(vec![job])
                    .await
                    .context("queueing a password job")?;
            }
            tx.commit().await.context("committing a delivery")
        })
    }

    /// Queues a new job for every queued delivery that has none left: its
    /// job ran out of attempts on errors of roster's own (the database out
    /// of reach, say) and the queue dropped it. The number queued again.
    /// Each new job has a key of its own, so a delivery stranded twice is
    /// queued twice.
    pub async fn requeue_stranded_deliveries(&self) -> Result<u64, Error> {
        // A job is alive while the queue may still run it. The user's id is
        // read back from the job's key (`password-{user}-…`).
        const SQLITE: &str = "WITH alive AS (SELECT CAST(substr(idempotency_key, 10) AS INTEGER) \
            AS user_id FROM Jobs WHERE job_type = $1 AND idempotency_key LIKE 'password-%' \
            AND (status IN ('Pending', 'Queued', 'Running') \
                 OR (status = 'Failed' AND attempts < max_attempts))) \
            SELECT d.user_id FROM deliveries d WHERE d.state = 'queued' \
            AND NOT EXISTS (SELECT 1 FROM alive a WHERE a.user_id = d.user_id)";
        const POSTGRES: &str = "WITH alive AS (SELECT split_part(idempotency_key, '-', 2)::bigint \
            AS user_id FROM apalis.jobs WHERE job_type = $1 AND idempotency_key LIKE 'password-%' \
            AND (status IN ('Pending', 'Queued', 'Running') \
                 OR (status = 'Failed' AND attempts < max_attempts))) \
            SELECT d.user_id FROM deliveries d WHERE d.state = 'queued' \
            AND NOT EXISTS (SELECT 1 FROM alive a WHERE a.user_id = d.user_id)";
        let sql = match &self.db {
            Db::Sqlite(_) => SQLITE,
            Db::Postgres(_) => POSTGRES,
        };
        let stranded: Vec<(i64,)> = with_pool!(&self.db, pool => {
            sqlx::query_as(sql).bind(PASSWORD_QUEUE).fetch_all(pool).await
        })
        .context("finding deliveries without a job")?;
        if stranded.is_empty() {
            return Ok(0);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let jobs = stranded
            .iter()
            .map(|&(user,)| job(user, format!("password-{user}-again-{now}"), Duration::ZERO))
            .collect();
        with_pool!(&self.db, pool => {
            let mut tx = pool.begin().await.context("starting a transaction")?;
            tx.push_password_jobs(jobs)
                .await
                .context("queueing a password job")?;
            tx.commit().await.context("committing password jobs")
        })?;
        Ok(stranded.len() as u64)
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

    /// Marks a queued delivery sent or failed, with the import's counts, in
    /// one transaction; a failed one also takes the user's password away.
    /// A delivery already settled is left alone.
    async fn settle(
        &self,
        delivery: &Delivery,
        state: DeliveryState,
        error: Option<&str>,
    ) -> Result<(), Error> {
        const SETTLE: &str = "UPDATE deliveries SET state = $2, error = $3, settled_at = $4 \
            WHERE user_id = $1 AND state = 'queued'";
        const SENT: &str = "UPDATE imports SET deliveries_queued = deliveries_queued - 1, \
            deliveries_sent = deliveries_sent + 1 WHERE id = $1";
        const FAILED: &str = "UPDATE imports SET deliveries_queued = deliveries_queued - 1, \
            deliveries_failed = deliveries_failed + 1 WHERE id = $1";
        const NO_PASSWORD: &str = "UPDATE users SET password_hash = NULL WHERE id = $1";
        let count = if state == DeliveryState::Sent {
            SENT
        } else {
            FAILED
        };
        with_pool!(&self.db, pool => {
            let mut tx = pool.begin().await.context("starting a transaction")?;
            let settled = sqlx::query(SETTLE)
                .bind(delivery.user.0)
                .bind(state.as_str())
                .bind(error)
                .bind(time::now())
                .execute(&mut *tx)
                .await
                .context("settling a delivery")?;
            if settled.rows_affected() == 1 {
                sqlx::query(count)
                    .bind(delivery.import.0)
                    .execute(&mut *tx)
                    .await
                    .context("counting a delivery")?;
                if state == DeliveryState::Failed {
                    sqlx::query(NO_PASSWORD)
                        .bind(delivery.user.0)
                        .execute(&mut *tx)
                        .await
                        .context("removing a password")?;
                }
            }
            tx.commit().await.context("committing a delivery")
        })
    }
}

/// The job for one attempt at a user's delivery, to run `after` from now.
/// Its key names the attempt, so an attempt is queued once.
pub(crate) fn password_job(user: i64, attempt: u32, after: Duration) -> Task<Vec<u8>> {
    job(user, format!("password-{user}-{attempt}"), after)
}

/// A job for the user's delivery with the idempotency key `key`, which
/// starts `password-{user}-`.
fn job(user: i64, key: String, after: Duration) -> Task<Vec<u8>> {
    let args = serde_json::to_vec(&DeliverPassword { user_id: user })
        .expect("a struct of one integer serializes");
    TaskBuilder::new(args)
        .idempotency_key(key)
        .max_attempts(PASSWORD_JOB_ATTEMPTS)
        .run_after(after)
        .build()
}
