//! `serve`: a worker of one queue, handing each job to a handler.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use apalis::layers::retry::HasherRng;
use apalis::layers::retry::backoff::{ExponentialBackoffMaker, MakeBackoff};
use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Pool};

/// How a worker serves one queue.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// The queue's name.
    pub queue: &'static str,
    /// Jobs run at once.
    pub concurrency: usize,
    /// Jobs a worker takes from the queue at a time. One shares a few long
    /// jobs fairly among workers; more make many short ones cheaper to
    /// take (each take sorts the queue's pending jobs on SQLite).
    pub batch: usize,
    /// How long a job held by a worker that stopped sending heartbeats
    /// waits before another worker takes it over.
    pub orphan_after: Duration,
    /// Times a job that ends in an error is tried again, after a short
    /// backoff, before the queue gives up on it.
    pub retries: usize,
}

/// What a queue's jobs are handed to, with the attempt number (from 1).
pub struct Handler<Args>(Arc<HandlerFn<Args>>);

/// A job's handling, boxed so that every queue's handler has one type.
pub type Handling = Pin<Box<dyn Future<Output = Result<(), BoxDynError>> + Send>>;

type HandlerFn<Args> = dyn Fn(Args, usize) -> Handling + Send + Sync;

impl<Args> Handler<Args> {
    pub fn new(f: impl Fn(Args, usize) -> Handling + Send + Sync + 'static) -> Handler<Args> {
        Handler(Arc::new(f))
    }
}

impl<Args> Clone for Handler<Args> {
    fn clone(&self) -> Handler<Args> {
        Handler(self.0.clone())
    }
}

/// Runs a worker of one queue until `shutdown` completes, handing each job
/// to `handler` with its attempt number (from 1). A handler's error is
/// retried after a short backoff, up to `config.retries` times.
pub async fn serve<Args>(
    pool: Pool<'_>,
    name: &str,
    config: QueueConfig,
    handler: Handler<Args>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error>
where
    Args: Serialize + DeserializeOwned + Clone + Send + Sync + Unpin + 'static,
{
    let backoff = ExponentialBackoffMaker::new(
        Duration::from_millis(200),
        Duration::from_secs(5),
        0.5,
        HasherRng::default(),
    )
    .map_err(|e| Error::Worker(e.to_string()))?
    .make_backoff();
    let retry = RetryPolicy::retries(config.retries).with_backoff(backoff);
    // A name must not be reused soon after a crash (SQLite refuses it for a
    // while), so each run of a worker gets a name of its own.
    let name = format!(
        "{name}-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let builder = WorkerBuilder::new(name.as_str());
    let shutdown = async move {
        shutdown.await;
        Ok::<(), WorkerError>(())
    };
    let (beat, missed) = heartbeat(config.orphan_after);
    let run = match pool {
        Pool::Sqlite(pool) => {
            // A fetched job is already held (status and worker) until its
            // result; apalis's extra lock statement on SQLite walks every
            // pending job of the queue (a million queued passwords: 150 ms
            // and 24 MB for each job), so it is left out.
            let backend = SqliteStorage::<Args>::new(pool).with_config(
                apalis_sqlite::Config::default()
                    .queue(config.queue)
                    .batch_size(config.batch.max(1))
                    .heartbeat_interval(beat)
                    .missed_heartbeats(missed)
                    .lock_tasks(false),
            );
            builder
                .backend(backend)
                .data(handler)
                .concurrency(config.concurrency)
                .retry(retry)
                .build(call::<Args>)
                .run_until(shutdown)
                .await
        }
        Pool::Postgres(pool) => {
            let backend = PostgresStorage::<Args>::new(pool).with_config(
                apalis_postgres::Config::default()
                    .queue(config.queue)
                    .batch_size(config.batch.max(1))
                    .heartbeat_interval(beat)
                    .missed_heartbeats(missed),
            );
            builder
                .backend(backend)
                .data(handler)
                .concurrency(config.concurrency)
                .retry(retry)
                .build(call::<Args>)
                .run_until(shutdown)
                .await
        }
    };
    run.map_err(|e| Error::Worker(e.to_string()))
}

/// The service apalis runs: hands the job to the queue's handler.
async fn call<Args>(
    job: Args,
    handler: Data<Handler<Args>>,
    attempt: Attempt,
) -> Result<(), BoxDynError> {
    let Handler(handle) = &*handler;
    handle(job, attempt.current()).await
}

/// Orphaned after heartbeat × missed heartbeats.
fn heartbeat(orphan_after: Duration) -> (Duration, usize) {
    let beat = (orphan_after / 3).max(Duration::from_secs(1));
    (beat, 3)
}
