//! The job queue: apalis on the same database as the data.
//!
//! A job carries only an import's id; the import's state lives in roster's
//! tables. So a job delivered twice, or pushed again by a worker that starts
//! up and finds an import still queued, does no harm: [`run_import`] picks
//! up where the database says the import is.

use std::future::Future;
use std::time::Duration;

use apalis::layers::retry::HasherRng;
use apalis::layers::retry::backoff::{ExponentialBackoffMaker, MakeBackoff};
use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use roster_store::{ImportId, Pool, Store};
use serde::{Deserialize, Serialize};
use tracing::{error, warn};

use crate::Error;
use crate::runner::{RunConfig, run_import};

/// The queue imports travel on.
const QUEUE: &str = "roster-imports";
/// Attempts before an import that keeps failing is marked failed.
const MAX_ATTEMPTS: usize = 5;

/// The payload of a job: ids only, so a job survives any change to roster's
/// types (fields are only ever added).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunImport {
    pub import_id: String,
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Imports run at once by this worker.
    pub concurrency: usize,
    /// How often an idle worker looks for work.
    pub poll: Duration,
    /// How long work held by a worker that stopped sending heartbeats waits
    /// before another worker takes it over.
    pub orphan_after: Duration,
    pub run: RunConfig,
}

impl Default for WorkerConfig {
    fn default() -> WorkerConfig {
        WorkerConfig {
            concurrency: 2,
            poll: Duration::from_millis(100),
            orphan_after: Duration::from_secs(300),
            run: RunConfig::default(),
        }
    }
}

/// Creates the queue's tables if they are missing.
pub async fn prepare(store: &Store) -> Result<(), Error> {
    let result = match store.pool() {
        Pool::Sqlite(pool) => SqliteStorage::<()>::migrations().run(pool).await,
        Pool::Postgres(pool) => PostgresStorage::<()>::migrations().run(pool).await,
    };
    result.map_err(|e| Error::Queue(format!("creating the queue's tables: {e}")))
}

/// Queues the import's job. Pushing the same import twice queues it once.
pub async fn enqueue(store: &Store, id: &ImportId) -> Result<(), Error> {
    let task = TaskBuilder::new(RunImport {
        import_id: id.to_string(),
    })
    .idempotency_key(format!("import-{id}"))
    .max_attempts(MAX_ATTEMPTS)
    .build();
    let pushed = match store.pool() {
        Pool::Sqlite(pool) => {
            let mut storage = SqliteStorage::<RunImport>::new(pool)
                .with_config(sqlite_config(&WorkerConfig::default()));
            storage.push_task(task).await.map_err(|e| e.to_string())
        }
        Pool::Postgres(pool) => {
            let mut storage = PostgresStorage::<RunImport>::new(pool)
                .with_config(postgres_config(&WorkerConfig::default()));
            match storage.push_task(task).await {
                Ok(()) => Ok(()),
                // PostgreSQL refuses a duplicate idempotency key: already queued.
                Err(e)
                    if e.to_string().contains("idempotency") || e.to_string().contains("23505") =>
                {
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        }
    };
    pushed.map_err(|e| Error::Queue(format!("queueing import {id}: {e}")))
}

/// Runs a worker until `shutdown` completes, then lets the imports in hand
/// reach their next batch boundary and returns.
pub async fn run_worker(
    store: Store,
    name: &str,
    config: WorkerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    prepare(&store).await?;
    // An import whose push was lost is queued again; duplicates are ignored.
    for id in store.unfinished_imports().await? {
        enqueue(&store, &id).await?;
    }
    let backoff = ExponentialBackoffMaker::new(
        Duration::from_millis(200),
        Duration::from_secs(5),
        0.5,
        HasherRng::default(),
    )
    .map_err(|e| Error::Queue(e.to_string()))?
    .make_backoff();
    let state = Worker {
        store: store.clone(),
        run: config.run,
    };
    let retry = RetryPolicy::retries(MAX_ATTEMPTS).with_backoff(backoff);
    // A name must not be reused soon after a crash (SQLite refuses it for a
    // while), so each run of a worker gets a name of its own.
    let name = format!(
        "{name}-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let shutdown = async move {
        shutdown.await;
        Ok::<(), WorkerError>(())
    };
    let result = match store.pool() {
        Pool::Sqlite(pool) => {
            let backend = SqliteStorage::<RunImport>::new(pool)
                .with_config(sqlite_config(&config))
                .poll_with_interval(config.poll);
            WorkerBuilder::new(name.as_str())
                .backend(backend)
                .data(state)
                .concurrency(config.concurrency)
                .retry(retry)
                .build(handle)
                .run_until(shutdown)
                .await
                .map_err(|e| e.to_string())
        }
        Pool::Postgres(pool) => {
            let shutdown = shutdown;
            let backend = PostgresStorage::<RunImport>::new(pool)
                .with_config(postgres_config(&config))
                .poll_with_interval(config.poll);
            WorkerBuilder::new(name.as_str())
                .backend(backend)
                .data(state)
                .concurrency(config.concurrency)
                .retry(retry)
                .build(handle)
                .run_until(shutdown)
                .await
                .map_err(|e| e.to_string())
        }
    };
    result.map_err(Error::Queue)
}

/// What every job of a worker shares.
#[derive(Clone)]
struct Worker {
    store: Store,
    run: RunConfig,
}

async fn handle(job: RunImport, worker: Data<Worker>, attempt: Attempt) -> Result<(), BoxDynError> {
    let Some(id) = ImportId::parse(&job.import_id) else {
        error!(import_id = %job.import_id, "job names no valid import; dropped");
        return Ok(());
    };
    match run_import(&worker.store, &id, worker.run).await {
        Ok(()) => Ok(()),
        Err(Error::FileRefused(_)) => Ok(()),
        Err(e) => {
            warn!(import_id = %id, attempt = attempt.current(), error = %e, "import run failed");
            if attempt.current() >= MAX_ATTEMPTS
                && let Ok(import) = worker.store.existing_import(&id).await
            {
                let why = format!("gave up after {MAX_ATTEMPTS} attempts: {e}");
                let _ = worker.store.fail_import(import.key, &why).await;
            }
            Err(Box::new(e))
        }
    }
}

fn heartbeat(config: &WorkerConfig) -> (Duration, usize) {
    // Orphaned after heartbeat × missed heartbeats.
    let beat = (config.orphan_after / 3).max(Duration::from_secs(1));
    (beat, 3)
}

fn sqlite_config(config: &WorkerConfig) -> apalis_sqlite::Config {
    let (beat, missed) = heartbeat(config);
    apalis_sqlite::Config::default()
        .queue(QUEUE)
        .batch_size(1)
        .heartbeat_interval(beat)
        .missed_heartbeats(missed)
}

fn postgres_config(config: &WorkerConfig) -> apalis_postgres::Config {
    let (beat, missed) = heartbeat(config);
    apalis_postgres::Config::default()
        .queue(QUEUE)
        .batch_size(1)
        .heartbeat_interval(beat)
        .missed_heartbeats(missed)
}
