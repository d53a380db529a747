//! The password job: one attempt at a user's delivery, and the worker that
//! runs such jobs from the queue.
//!
//! An attempt claims the delivery in the store, generates a fresh temporary
//! password, keeps only its argon2id hash (on a blocking thread: hashing
//! takes tens of milliseconds), and hands the welcome message to the
//! outbox. Then it settles the delivery: sent; failed for good on a
//! permanent refusal (the user is left without a usable password, and the
//! row result says so); or, on a temporary one, queued again with a wait
//! that doubles each time, until the attempts run out. A retry is a new
//! password: the clear text of one never outlives its attempt.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use roster_jobs::{Handler, QueueConfig};
use roster_store::{
    DeliverPassword, Delivery, PASSWORD_JOB_ATTEMPTS, PASSWORD_QUEUE, PasswordDelivery, Store,
    UserId,
};
use tracing::{info, instrument, warn};

use crate::hasher::Hasher;
use crate::pace::Pace;
use crate::{Error, Outbox, Recipient, SendError, TemporaryPassword, Welcome, welcome_message};

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
    /// How often an idle worker looks for work.
    pub poll: Duration,
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
            poll: Duration::from_millis(200),
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
        // A million queued passwords make each take from the queue cost a
        // tenth of a second on SQLite: take many at a time.
        batch: 32,
        poll: config.poll,
        orphan_after: config.orphan_after,
        // The first run and these retries make the job's attempts.
        retries: PASSWORD_JOB_ATTEMPTS - 1,
    };
    let sender = Arc::new(Sender::new(config)?);
    let handler = Handler::new({
        let store = store.clone();
        move |job: DeliverPassword, _| {
            let (store, sender) = (store.clone(), sender.clone());
            Box::pin(async move {
                attempt(&store, &sender, job.user())
                    .await
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
            })
        }
    });
    let sweeper = tokio::spawn(sweep(store.clone(), every));
    let served = roster_jobs::serve(store, name, queue, handler, shutdown).await;
    sweeper.abort();
    served?;
    Ok(())
}

/// Queues again, now and then every `every`, the deliveries whose job the
/// queue dropped (see [`Store::requeue_stranded_deliveries`]), so that no
/// user waits for good for a message.
async fn sweep(store: Store, every: Duration) {
    loop {
        match store.requeue_stranded_deliveries().await {
            Ok(0) => {}
            Ok(queued) => warn!(queued, "password deliveries without a job queued again"),
            Err(e) => warn!(error = %e, "looking for password deliveries without a job"),
        }
        tokio::time::sleep(every).await;
    }
}

/// One attempt at the user's delivery. Does nothing when the delivery is
/// settled already (a job delivered twice). `Err` only when the store or
/// the runtime failed; a message that could not be sent is settled.
pub async fn deliver(store: &Store, config: &DeliveryConfig, user: UserId) -> Result<(), Error> {
    attempt(store, &Sender::new(config.clone())?, user).await
}

/// What the jobs of one password worker share.
struct Sender {
    config: DeliveryConfig,
    pace: Pace,
    hasher: Hasher,
}

impl Sender {
    fn new(config: DeliveryConfig) -> Result<Sender, Error> {
        Ok(Sender {
            pace: Pace::new(config.rate),
            hasher: Hasher::new(config.concurrency)?,
            config,
        })
    }
}

#[instrument(skip_all, fields(user_id = user.get()))]
async fn attempt(store: &Store, sender: &Sender, user: UserId) -> Result<(), Error> {
    let config = &sender.config;
    let Some(delivery) = store.claim_delivery(user).await? else {
        return Ok(());
    };
    let recipient = match &delivery.passwords {
        PasswordDelivery::Users => Recipient::User,
        PasswordDelivery::To(address) => Recipient::Address(address.to_string()),
        PasswordDelivery::None => {
            return store
                .delivery_failed(&delivery, "the import sends no passwords")
                .await
                .map_err(Error::from);
        }
    };
    let (password, hash) = sender.hasher.hash(TemporaryPassword::generate()?).await?;
    store.set_password_hash(user, &hash).await?;
    let welcome = Welcome {
        display_name: &delivery.display_name,
        email: &delivery.email,
        sign_in_url: &config.sign_in_url,
        from: &config.from,
    };
    let message = welcome_message(&welcome, &password, &recipient);
    drop(password);
    sender.pace.wait().await;
    let sent = match message {
        Ok(message) => config.outbox.send(message).await,
        Err(e) => Err(SendError::Permanent(e.to_string())),
    };
    settle(store, config, &delivery, sent).await
}

/// Records how the attempt went.
async fn settle(
    store: &Store,
    config: &DeliveryConfig,
    delivery: &Delivery,
    sent: Result<(), SendError>,
) -> Result<(), Error> {
    let attempt = delivery.attempt;
    match sent {
        Ok(()) => {
            info!(attempt, "password sent");
            store.delivery_sent(delivery).await?;
        }
        Err(SendError::Permanent(why)) => {
            warn!(attempt, error = %why, "password not delivered");
            store.delivery_failed(delivery, &why).await?;
        }
        Err(SendError::Temporary(why)) if attempt >= config.attempts => {
            warn!(attempt, error = %why, "password not delivered; no attempts left");
            let why = format!("gave up after {attempt} attempts: {why}");
            store.delivery_failed(delivery, &why).await?;
        }
        Err(SendError::Temporary(why)) => {
            let wait = config.wait_after(attempt);
            warn!(attempt, error = %why, wait_secs = wait.as_secs(), "password delivery will be retried");
            store.retry_delivery(delivery, &why, wait).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_is_paced_by_default_and_the_folder_is_not() {
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
