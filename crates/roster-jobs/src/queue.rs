//! The job queue: apalis on the same database as the data.
//!
//! [`serve`] runs a worker of any of roster's queues; [`run_worker`] is the
//! worker of imports. An import travels as two kinds of job: `RunImport`
//! plans it (splits it into chunks) and queues a `RunChunk` per chunk, which
//! any worker may take. A job carries only ids; the import's state lives in
//! roster's tables. So a job delivered twice, or pushed again by a worker
//! that starts up and finds an import unfinished, does no harm: a chunk
//! picks up where the database says it is.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use apalis::layers::retry::HasherRng;
use apalis::layers::retry::backoff::{ExponentialBackoffMaker, MakeBackoff};
use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use roster_store::{
    CHUNK_QUEUE, Chunk, IMPORT_QUEUE, ImportId, Pool, Store, chunk_job_key, chunk_job_key_again,
    import_job_key, turn,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tracing::{error, warn};

use crate::Error;
use crate::runner::{ChunkRun, RunConfig, Stop, plan_import, run_chunk};

/// Attempts before an import that keeps failing is marked failed.
const MAX_ATTEMPTS: usize = 5;

/// The payload of a job that plans an import: ids only, so a job survives
/// any change to roster's types (fields are only ever added).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunImport {
    pub import_id: String,
}

/// The payload of a job that writes one chunk of an import.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunChunk {
    pub import_id: String,
    pub seq: u64,
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Chunks written at once by this worker.
    pub concurrency: usize,
    /// How long work held by a worker that stopped sending heartbeats waits
    /// before another worker takes it over.
    pub orphan_after: Duration,
    pub run: RunConfig,
}

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

impl Default for WorkerConfig {
    fn default() -> WorkerConfig {
        WorkerConfig {
            // A chunk already writes two batches at once on PostgreSQL; more
            // chunks at once pay on machines with more cores (`--concurrency`).
            concurrency: 1,
            orphan_after: Duration::from_secs(300),
            run: RunConfig::default(),
        }
    }
}

/// Queues the job that plans the import. Pushing the same import twice
/// queues it once.
pub async fn enqueue(store: &Store, id: &ImportId) -> Result<(), Error> {
    let job = RunImport {
        import_id: id.to_string(),
    };
    push(store, IMPORT_QUEUE, job, import_job_key(id), turn(0))
        .await
        .map_err(|e| Error::Queue(format!("queueing import {id}: {e}")))
}

/// Queues the jobs of these chunks of the import, once each, each at its
/// chunk's turn.
pub async fn enqueue_chunks(store: &Store, id: &ImportId, chunks: &[Chunk]) -> Result<(), Error> {
    for chunk in chunks {
        enqueue_chunk(store, id, chunk.seq, chunk_job_key(id, chunk.seq)).await?;
    }
    Ok(())
}

/// Queues a job of the import's chunk `seq` under `key`.
async fn enqueue_chunk(store: &Store, id: &ImportId, seq: u64, key: String) -> Result<(), Error> {
    let job = RunChunk {
        import_id: id.to_string(),
        seq,
    };
    push(store, CHUNK_QUEUE, job, key, turn(seq))
        .await
        .map_err(|e| Error::Queue(format!("queueing chunk {seq} of import {id}: {e}")))
}

/// Pushes a job unless one with its key was pushed before.
async fn push<Args>(
    store: &Store,
    queue: &'static str,
    args: Args,
    key: String,
    priority: usize,
) -> Result<(), String>
where
    Args: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static,
{
    let task = TaskBuilder::new(args)
        .idempotency_key(key)
        .max_attempts(MAX_ATTEMPTS)
        .priority(priority)
        .build();
    match store.pool() {
        Pool::Sqlite(pool) => {
            let mut storage = SqliteStorage::<Args>::new(pool)
                .with_config(apalis_sqlite::Config::default().queue(queue));
            storage.push_task(task).await.map_err(|e| e.to_string())
        }
        Pool::Postgres(pool) => {
            let mut storage = PostgresStorage::<Args>::new(pool)
                .with_config(apalis_postgres::Config::default().queue(queue));
            match storage.push_task(task).await {
                Ok(()) => Ok(()),
                // PostgreSQL refuses a duplicate idempotency key: already queued.
                Err(e) if is_duplicate_key(&e) => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        }
    }
}

/// Whether the push was refused for a key already there: SQLSTATE 23505,
/// `unique_violation`, read from the database's error, not its message.
fn is_duplicate_key(e: &TaskSinkError<apalis_postgres::Error>) -> bool {
    match e {
        TaskSinkError::PushError(apalis_postgres::Error::Database(e)) => e
            .as_database_error()
            .is_some_and(|d| d.is_unique_violation()),
        _ => false,
    }
}

/// Runs a worker of imports until `shutdown` completes: it plans imports
/// and writes chunks (`config.concurrency` at once), and lets the chunks
/// in hand reach the end of their rows before it returns.
pub async fn run_worker(
    store: Store,
    name: &str,
    config: WorkerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    // An import whose push was lost is queued again; duplicates are ignored.
    for id in store.unfinished_imports().await? {
        enqueue(&store, &id).await?;
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let when = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let worker = Worker {
        store: store.clone(),
        run: config.run,
        stop: Stop::when(stopped.clone()),
        // Which worker took a chunk, as the chunk records it.
        label: format!(
            "{name}-{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..4]
        ),
    };
    let planner = {
        let worker = worker.clone();
        Handler::new(move |job, attempt| Box::pin(plan(job, worker.clone(), attempt)))
    };
    let writer = Handler::new(move |job, attempt| Box::pin(write(job, worker.clone(), attempt)));
    let queue = |queue, concurrency| QueueConfig {
        queue,
        concurrency,
        batch: 1,
        orphan_after: config.orphan_after,
        retries: MAX_ATTEMPTS,
    };
    // SQLite has one writer: a second chunk at once would only wait for it.
    let chunks_at_once = match store.pool() {
        Pool::Sqlite(_) => 1,
        Pool::Postgres(_) => config.concurrency.max(1),
    };
    let signal = async move {
        shutdown.await;
        let _ = stop.send(true);
        Ok(())
    };
    tokio::try_join!(
        serve(
            store.clone(),
            name,
            queue(IMPORT_QUEUE, 1),
            planner,
            when(stopped.clone())
        ),
        serve(
            store,
            name,
            queue(CHUNK_QUEUE, chunks_at_once),
            writer,
            when(stopped)
        ),
        signal,
    )?;
    Ok(())
}

/// Runs a worker of one queue until `shutdown` completes, handing each job
/// to `handler` with its attempt number (from 1). A handler's error is
/// retried after a short backoff, up to `config.retries` times.
pub async fn serve<Args>(
    store: Store,
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
    .map_err(|e| Error::Queue(e.to_string()))?
    .make_backoff();
    let retry = RetryPolicy::retries(config.retries).with_backoff(backoff);
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
    let failed = |e: WorkerError| Error::Queue(e.to_string());
    let (beat, missed) = heartbeat(config.orphan_after);
    match store.pool() {
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
            let worker = WorkerBuilder::new(name.as_str())
                .backend(backend)
                .data(handler)
                .concurrency(config.concurrency)
                .retry(retry)
                .build(call::<Args>);
            worker.run_until(shutdown).await.map_err(failed)?
        }
        Pool::Postgres(pool) => {
            let backend = PostgresStorage::<Args>::new(pool).with_config(
                apalis_postgres::Config::default()
                    .queue(config.queue)
                    .batch_size(config.batch.max(1))
                    .heartbeat_interval(beat)
                    .missed_heartbeats(missed),
            );
            let worker = WorkerBuilder::new(name.as_str())
                .backend(backend)
                .data(handler)
                .concurrency(config.concurrency)
                .retry(retry)
                .build(call::<Args>);
            worker.run_until(shutdown).await.map_err(failed)?
        }
    }
    Ok(())
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

/// What every job of a worker shares.
#[derive(Clone)]
struct Worker {
    store: Store,
    run: RunConfig,
    /// Asked when the worker is to stop: chunks end at their next batch.
    stop: Stop,
    label: String,
}

/// Plans an import and queues its chunks.
async fn plan(job: RunImport, worker: Worker, attempt: usize) -> Result<(), BoxDynError> {
    let Some(id) = ImportId::parse(&job.import_id) else {
        error!(import_id = %job.import_id, "job names no valid import; dropped");
        return Ok(());
    };
    let planned = match plan_import(&worker.store, &id).await {
        Ok(Some(chunks)) => enqueue_chunks(&worker.store, &id, &chunks).await,
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    settle(&worker, &id, attempt, planned).await
}

/// Writes one chunk of an import.
async fn write(job: RunChunk, worker: Worker, attempt: usize) -> Result<(), BoxDynError> {
    let Some(id) = ImportId::parse(&job.import_id) else {
        error!(import_id = %job.import_id, "job names no valid import; dropped");
        return Ok(());
    };
    let run = &worker.run;
    let written = match run_chunk(
        &worker.store,
        &id,
        job.seq,
        &worker.label,
        *run,
        &worker.stop,
    )
    .await
    {
        Ok(ChunkRun::Done) => Ok(()),
        // The worker is stopping: the rest of the chunk is another job's.
        Ok(ChunkRun::Left) => {
            enqueue_chunk(
                &worker.store,
                &id,
                job.seq,
                chunk_job_key_again(&id, job.seq),
            )
            .await
        }
        Err(e) => Err(e),
    };
    settle(&worker, &id, attempt, written).await
}

/// A job's end: a refused file ends it (the import is failed already);
/// another error is tried again, and fails the import on the last attempt.
async fn settle(
    worker: &Worker,
    id: &ImportId,
    attempt: usize,
    outcome: Result<(), Error>,
) -> Result<(), BoxDynError> {
    match outcome {
        Ok(()) | Err(Error::FileRefused(_)) => Ok(()),
        Err(e) => {
            warn!(import_id = %id, attempt, error = %e, "import job failed");
            if attempt >= MAX_ATTEMPTS
                && let Ok(import) = worker.store.existing_import(id).await
            {
                let why = format!("gave up after {MAX_ATTEMPTS} attempts: {e}");
                if let Err(e) = worker.store.fail_import(import.key, &why).await {
                    error!(import_id = %id, error = %e, "the import could not be marked failed");
                }
            }
            Err(Box::new(e))
        }
    }
}

/// Orphaned after heartbeat × missed heartbeats.
fn heartbeat(orphan_after: Duration) -> (Duration, usize) {
    let beat = (orphan_after / 3).max(Duration::from_secs(1));
    (beat, 3)
}
