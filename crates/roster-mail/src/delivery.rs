//! The password job: one attempt at a group of deliveries (the users one
//! batch of an import created), and the worker that runs such jobs from
//! the queue.
//!
//! An attempt reads the group's deliveries that wait for it, then works a
//! slice at a time: a fresh temporary password for each user and its hash
//! (fast: see `password.rs`), the hashes kept in the store in one
//! transaction, the welcome messages handed to the outbox, and the slice
//! settled in one more: sent; failed for good on a permanent refusal (the
//! user is left without a usable password, and the row result says so); or,
//! on a temporary one, waiting for the group's next attempt, queued with a
//! wait that doubles each time, until the attempts run out. A retry is a
//! new password: the clear text of one never outlives its attempt.
//!
//! A worker told to stop finishes the message in hand, settles what was
//! sent, and queues what is left of its group for later: nothing is lost
//! and nothing half-written, and it stops within a slice.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lettre::message::Mailbox;
use roster_queue::{DeliverPasswords, Handler, PASSWORD_JOB_ATTEMPTS, PASSWORD_QUEUE, QueueConfig};
use roster_store::{Delivery, PasswordDelivery, Settlement, Store, UserId};
use tokio::sync::{Semaphore, watch};
use tracing::{debug, info, instrument, warn};

use crate::outbox::write_to_folder;
use crate::pace::Pace;
use crate::{
    Error, Outbox, Recipient, SendError, TemporaryPassword, Welcome, hash_password, welcome_message,
};

/// How temporary passwords are delivered.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub outbox: Outbox,
    /// The sender, `Name <address>` or an address.
    pub from: String,
    /// Where users sign in, as the message names it.
    pub sign_in_url: String,
    /// Attempts at one delivery before a temporary failure counts as final.
    pub attempts: u32,
    /// The wait before the second attempt; it doubles after each attempt,
    /// up to [`MAX_WAIT`].
    pub retry_after: Duration,
    /// Messages started per second by one worker; `None`: no limit.
    pub rate: Option<NonZeroU32>,
    /// Deliveries worked on at once by one worker.
    pub concurrency: usize,
    /// How long a job held by a worker that stopped sending heartbeats
    /// waits before another worker takes it over.
    pub orphan_after: Duration,
}

/// The longest wait between two attempts at a delivery.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

impl DeliveryConfig {
    pub const DEFAULT_FROM: &str = "roster <noreply@localhost>";
    /// A placeholder (`example.com` is reserved): configure the real one.
    pub const DEFAULT_SIGN_IN_URL: &str = "https://sign-in.example.com";
    /// With [`Self::DEFAULT_RETRY_AFTER`], about an hour from the first
    /// attempt to the last.
    pub const DEFAULT_ATTEMPTS: u32 = 8;
    pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);
    /// Through SMTP; a folder of files needs no limit.
    pub const DEFAULT_SMTP_RATE: u32 = 20;

    /// The defaults around `outbox`.
    pub fn new(outbox: Outbox) -> DeliveryConfig {
        DeliveryConfig {
            rate: match outbox {
                Outbox::Smtp(_) => NonZeroU32::new(DeliveryConfig::DEFAULT_SMTP_RATE),
                Outbox::Folder(_) => None,
            },
            outbox,
            from: DeliveryConfig::DEFAULT_FROM.to_string(),
            sign_in_url: DeliveryConfig::DEFAULT_SIGN_IN_URL.to_string(),
            attempts: DeliveryConfig::DEFAULT_ATTEMPTS,
            retry_after: DeliveryConfig::DEFAULT_RETRY_AFTER,
            concurrency: 2,
            orphan_after: Duration::from_secs(300),
        }
    }

    /// Fails when the sender is no address.
    pub fn check(&self) -> Result<(), Error> {
        self.from
            .parse::<Mailbox>()
            .map(|_| ())
            .map_err(|_| Error::Address(self.from.clone()))
    }

    /// The wait after failed attempt `attempt` (from 1).
    fn wait_after(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(20);
        self.retry_after
            .saturating_mul(1 << doublings)
            .min(MAX_WAIT)
    }
}

/// Runs a worker of password jobs until `shutdown` completes.
pub async fn run_password_worker(
    store: Store,
    name: &str,
    config: DeliveryConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    // A sender the outbox cannot use fails here, not once per message.
    config.check()?;
    let every = config.orphan_after;
    let queue = QueueConfig {
        queue: PASSWORD_QUEUE,
        concurrency: config.concurrency.max(1),
        // A job carries a group of up to thousands of messages: take one at
        // a time, so that the queue's order (every import's first groups
        // first) decides what is sent next.
        batch: 1,
        orphan_after: config.orphan_after,
        // The first run and these retries make the job's attempts.
        retries: PASSWORD_JOB_ATTEMPTS - 1,
    };
    let (stop, stopping) = watch::channel(false);
    let sender = Arc::new(Sender::new(config, stopping));
    let handler = Handler::new({
        let store = store.clone();
        move |job: DeliverPasswords, _| {
            let (store, sender) = (store.clone(), sender.clone());
            Box::pin(async move {
                attempt(&store, &sender, &job)
                    .await
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
            })
        }
    });
    let sweeper = tokio::spawn(sweep(store.clone(), every));
    // The jobs in hand see the stop at once, not only once the queue does.
    let shutdown = async move {
        shutdown.await;
        let _ = stop.send(true);
    };
    let served = roster_queue::serve(store.pool(), name, queue, handler, shutdown).await;
    sweeper.abort();
    served?;
    Ok(())
}

/// Queues again, now and then every `every`, the groups of deliveries whose
/// job the queue dropped (see [`Store::requeue_stranded_deliveries`]), so
/// that no user waits for good for a message.
async fn sweep(store: Store, every: Duration) {
    loop {
        match store.requeue_stranded_deliveries().await {
            Ok(0) => {}
            Ok(groups) => warn!(groups, "password deliveries without a job queued again"),
            Err(e) => warn!(error = %e, "looking for password deliveries without a job"),
        }
        tokio::time::sleep(every).await;
    }
}

/// One attempt at the job's group of deliveries. Does nothing when they
/// are settled already (a job delivered twice). `Err` only when the store
/// or the runtime failed; a message that could not be sent is settled.
pub async fn deliver(
    store: &Store,
    config: &DeliveryConfig,
    job: &DeliverPasswords,
) -> Result<(), Error> {
    let (_stop, stopping) = watch::channel(false);
    attempt(store, &Sender::new(config.clone(), stopping), job).await
}

/// What the jobs of one password worker share.
struct Sender {
    config: DeliveryConfig,
    pace: Pace,
    /// Messages being sent at once, over all the worker's jobs.
    in_flight: Semaphore,
    /// Turns true when the worker is to stop.
    stopping: watch::Receiver<bool>,
}

impl Sender {
    fn new(config: DeliveryConfig, stopping: watch::Receiver<bool>) -> Sender {
        Sender {
            pace: Pace::new(config.rate),
            in_flight: Semaphore::new(config.concurrency.max(1)),
            config,
            stopping,
        }
    }

    fn stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Messages per slice: what is settled at once. Into a folder, a few
    /// hundred (a transaction each costs more than a message); through a
    /// paced relay, about a second's worth, so that progress shows.
    fn slice(&self) -> usize {
        match self.config.rate {
            Some(rate) => usize::try_from(rate.get()).unwrap_or(SLICE).clamp(8, SLICE),
            None => SLICE,
        }
    }
}

/// The most messages of a group settled at once.
const SLICE: usize = 256;

#[instrument(skip_all, fields(import = job.import, batch = job.batch, attempt = job.attempt))]
async fn attempt(store: &Store, sender: &Sender, job: &DeliverPasswords) -> Result<(), Error> {
    let pending = store.pending_deliveries(job).await?;
    let recipient = match &pending.passwords {
        PasswordDelivery::Users => Recipient::User,
        PasswordDelivery::To(address) => Recipient::Address(address.to_string()),
        PasswordDelivery::None => {
            let none = Settlement::Failed("the import sends no passwords".to_string());
            let outcomes: Vec<(UserId, Settlement)> = pending
                .deliveries
                .iter()
                .map(|d| (d.user, none.clone()))
                .collect();
            store
                .settle_deliveries(job, &outcomes, Duration::ZERO)
                .await?;
            return Ok(());
        }
    };
    for slice in pending.deliveries.chunks(sender.slice()) {
        if sender.stopping() {
            store.hand_back_deliveries(job).await?;
            info!("stopping: the rest of the group is queued again");
            return Ok(());
        }
        let passwords = new_passwords(slice.len()).await?;
        let hashes: Vec<(UserId, String)> = slice
            .iter()
            .zip(&passwords)
            .map(|(d, (_, hash))| (d.user, hash.clone()))
            .collect();
        let kept: HashSet<UserId> = store
            .keep_password_hashes(job, &hashes)
            .await?
            .into_iter()
            .collect();
        // A message goes only with the password that was kept.
        let (slice, passwords): (Vec<Delivery>, Vec<TemporaryPassword>) = slice
            .iter()
            .zip(passwords)
            .filter(|(d, _)| kept.contains(&d.user))
            .map(|(d, (password, _))| (d.clone(), password))
            .unzip();
        let sent = send(sender, &slice, passwords, &recipient).await?;
        let outcomes: Vec<(UserId, Settlement)> = sent
            .into_iter()
            .map(|(user, sent)| {
                let settled = settlement(&sender.config, job.attempt, sent);
                match &settled {
                    Settlement::Sent => debug!(user_id = user.get(), "password sent"),
                    other => debug!(user_id = user.get(), outcome = ?other, "password not sent"),
                }
                (user, settled)
            })
            .collect();
        let settled = store
            .settle_deliveries(job, &outcomes, sender.config.wait_after(job.attempt))
            .await?;
        info!(
            sent = settled.sent,
            failed = settled.failed,
            retried = settled.retried,
            "passwords settled"
        );
        if let Some((_, why)) = outcomes.iter().find(|(_, o)| *o != Settlement::Sent) {
            warn!(failed = settled.failed, retried = settled.retried, reason = ?why, "passwords not delivered");
        }
        if outcomes.len() < slice.len() {
            // Stopped in the middle of the slice.
            store.hand_back_deliveries(job).await?;
            info!("stopping: the rest of the group is queued again");
            return Ok(());
        }
    }
    Ok(())
}

/// `count` new temporary passwords with their hashes, on a blocking thread.
async fn new_passwords(count: usize) -> Result<Vec<(TemporaryPassword, String)>, Error> {
    tokio::task::spawn_blocking(move || {
        (0..count)
            .map(|_| {
                let password = TemporaryPassword::generate()?;
                let hash = hash_password(&password)?;
                Ok((password, hash))
            })
            .collect()
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))?
}

/// Sends each delivery of `slice` its message with its password; how each
/// went, in order. Fewer than the slice when the worker is stopping: the
/// ones not started are left for later.
async fn send(
    sender: &Sender,
    slice: &[Delivery],
    passwords: Vec<TemporaryPassword>,
    recipient: &Recipient,
) -> Result<Vec<(UserId, Result<(), SendError>)>, Error> {
    let config = &sender.config;
    if let (Outbox::Folder(folder), None) = (&config.outbox, config.rate) {
        // Files as fast as they can be written: blocking work, and quick,
        // so the slice at once.
        let (config, folder) = (config.clone(), folder.clone());
        let (slice, recipient) = (slice.to_vec(), recipient.clone());
        return tokio::task::spawn_blocking(move || {
            slice
                .iter()
                .zip(passwords)
                .map(|(delivery, password)| {
                    let sent = message(&config, delivery, &password, &recipient)
                        .and_then(|m| write_to_folder(&folder, &m));
                    (delivery.user, sent)
                })
                .collect()
        })
        .await
        .map_err(|e| Error::Task(e.to_string()));
    }
    // One at a time at the worker's pace, a few at once.
    let sends: Vec<_> = slice
        .iter()
        .zip(passwords)
        .map(|(delivery, password)| {
            let built = message(config, delivery, &password, recipient);
            send_one(sender, delivery.user, built)
        })
        .collect();
    Ok(futures_util::stream::iter(sends)
        .buffered(config.concurrency.max(1))
        .filter_map(std::future::ready)
        .collect()
        .await)
}

/// Sends one built message at the worker's pace, unless the worker is
/// stopping.
async fn send_one(
    sender: &Sender,
    user: UserId,
    built: Result<lettre::Message, SendError>,
) -> Option<(UserId, Result<(), SendError>)> {
    let _permit = sender.in_flight.acquire().await.ok()?;
    sender.pace.wait().await;
    if sender.stopping() {
        return None;
    }
    let sent = match built {
        Ok(message) => sender.config.outbox.send(message).await,
        Err(e) => Err(e),
    };
    Some((user, sent))
}

/// The welcome message of `delivery`; one that cannot be built will never
/// be sent.
fn message(
    config: &DeliveryConfig,
    delivery: &Delivery,
    password: &TemporaryPassword,
    recipient: &Recipient,
) -> Result<lettre::Message, SendError> {
    let welcome = Welcome {
        display_name: &delivery.display_name,
        email: &delivery.email,
        sign_in_url: &config.sign_in_url,
        from: &config.from,
    };
    welcome_message(&welcome, password, recipient).map_err(|e| SendError::Permanent(e.to_string()))
}

/// How an attempt's send settles its delivery.
fn settlement(config: &DeliveryConfig, attempt: u32, sent: Result<(), SendError>) -> Settlement {
    match sent {
        Ok(()) => Settlement::Sent,
        Err(SendError::Permanent(why)) => Settlement::Failed(why),
        Err(SendError::Temporary(why)) if attempt >= config.attempts => {
            Settlement::Failed(format!("gave up after {attempt} attempts: {why}"))
        }
        Err(SendError::Temporary(why)) => Settlement::Retry(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The relay's connection pool needs a runtime.
    #[tokio::test]
    async fn smtp_is_paced_by_default_and_the_folder_is_not() {
        let smtp = Outbox::smtp("smtp://127.0.0.1:2525", None).expect("an outbox");
        assert_eq!(DeliveryConfig::new(smtp).rate, NonZeroU32::new(20));
        assert_eq!(DeliveryConfig::new(Outbox::Folder(".".into())).rate, None);
    }

    #[test]
    fn the_wait_doubles_up_to_an_hour() {
        let config = DeliveryConfig::new(Outbox::Folder(".".into()));
        let waits: Vec<u64> = (1..=9).map(|a| config.wait_after(a).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(config.wait_after(u32::MAX), MAX_WAIT);
    }
}
