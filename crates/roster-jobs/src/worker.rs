//! The worker of imports, on roster-queue's `serve`.
//!
//! [`run_worker`] serves the queues of imports and of their chunks; an
//! import's undo travels on the same two queues as the same two kinds of
//! job, marked `undo` (it plans the undo, it reverts a chunk of its rows).
//! An
//! import travels as two kinds of job: `RunImport` plans it (splits it into
//! chunks) and queues a `RunChunk` per chunk, which any worker may take. A
//! job carries only ids; the import's state lives in roster's tables. So a
//! job delivered twice, or pushed again by a worker that starts up and finds
//! an import unfinished, does no harm: a chunk picks up where the database
//! says it is.

use std::future::Future;
use std::time::Duration;

use apalis::prelude::BoxDynError;
use roster_queue::{
    CHUNK_QUEUE, Handler, IMPORT_QUEUE, MAX_ATTEMPTS, QueueConfig, RunChunk, RunImport,
    chunk_job_key, chunk_job_key_again, import_job_key, serve, turn, undo_chunk_job_key,
    undo_chunk_job_key_again, undo_job_key,
};
use roster_store::{Chunk, Import, ImportId, Pool, Store};
use tracing::{error, warn};

use crate::Error;
use crate::runner::{ChunkRun, RunConfig, Stop, plan_import, run_chunk};
use crate::undo::{plan_undo, run_undo_chunk};

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
        undo: false,
    };
    let what = || format!("import {id}");
    roster_queue::push(
        store.pool(),
        IMPORT_QUEUE,
        job,
        import_job_key(id),
        turn(0),
        what,
    )
    .await?;
    Ok(())
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
        undo: false,
    };
    let what = || format!("chunk {seq} of import {id}");
    roster_queue::push(store.pool(), CHUNK_QUEUE, job, key, turn(seq), what).await?;
    Ok(())
}

/// Queues the job that plans the import's undo, as last asked. Pushing
/// the same ask twice queues it once.
pub async fn enqueue_undo(store: &Store, import: &Import) -> Result<(), Error> {
    let asked = import.undo.as_ref().map_or("", |u| u.asked_at.as_str());
    let job = RunImport {
        import_id: import.id.to_string(),
        undo: true,
    };
    let id = &import.id;
    let what = || format!("the undo of import {id}");
    roster_queue::push(
        store.pool(),
        IMPORT_QUEUE,
        job,
        undo_job_key(id, asked),
        turn(0),
        what,
    )
    .await?;
    Ok(())
}

/// Queues a job of chunk `seq` of the undo under `key`.
async fn enqueue_undo_chunk(
    store: &Store,
    id: &ImportId,
    seq: u64,
    key: String,
) -> Result<(), Error> {
    let job = RunChunk {
        import_id: id.to_string(),
        seq,
        undo: true,
    };
    let what = || format!("chunk {seq} of the undo of import {id}");
    roster_queue::push(store.pool(), CHUNK_QUEUE, job, key, turn(seq), what).await?;
    Ok(())
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
    for (id, _) in store.unfinished_undos().await? {
        enqueue_undo(&store, &store.existing_import(&id).await?).await?;
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
        Ok::<(), roster_queue::Error>(())
    };
    let pool = store.pool();
    let imports = serve(
        pool,
        name,
        queue(IMPORT_QUEUE, 1),
        planner,
        when(stopped.clone()),
    );
    let chunks = serve(
        pool,
        name,
        queue(CHUNK_QUEUE, chunks_at_once),
        writer,
        when(stopped),
    );
    tokio::try_join!(imports, chunks, signal)?;
    Ok(())
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

/// Plans an import, or its undo, and queues its chunks.
async fn plan(job: RunImport, worker: Worker, attempt: usize) -> Result<(), BoxDynError> {
    let Some(id) = ImportId::parse(&job.import_id) else {
        error!(import_id = %job.import_id, "job names no valid import; dropped");
        return Ok(());
    };
    let store = &worker.store;
    let planned = if job.undo {
        match plan_undo(store, &id).await {
            Ok(Some(chunks)) => enqueue_undo_chunks(store, &id, &chunks).await,
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        }
    } else {
        match plan_import(store, &id).await {
            Ok(Some(chunks)) => enqueue_chunks(store, &id, &chunks).await,
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        }
    };
    settle(&worker, &id, job.undo, attempt, planned).await
}

/// Writes one chunk of an import, or reverts one chunk of its undo.
async fn write(job: RunChunk, worker: Worker, attempt: usize) -> Result<(), BoxDynError> {
    let Some(id) = ImportId::parse(&job.import_id) else {
        error!(import_id = %job.import_id, "job names no valid import; dropped");
        return Ok(());
    };
    let (store, run, seq) = (&worker.store, worker.run, job.seq);
    let ran = if job.undo {
        run_undo_chunk(store, &id, seq, &worker.label, run, &worker.stop).await
    } else {
        run_chunk(store, &id, seq, &worker.label, run, &worker.stop).await
    };
    let written = match ran {
        Ok(ChunkRun::Done) => Ok(()),
        // The worker is stopping: the rest of the chunk is another job's.
        Ok(ChunkRun::Left) if job.undo => match asked_at(store, &id).await {
            Ok(asked) => {
                let key = undo_chunk_job_key_again(&id, &asked, seq);
                enqueue_undo_chunk(store, &id, seq, key).await
            }
            Err(e) => Err(e),
        },
        Ok(ChunkRun::Left) => enqueue_chunk(store, &id, seq, chunk_job_key_again(&id, seq)).await,
        Err(e) => Err(e),
    };
    settle(&worker, &id, job.undo, attempt, written).await
}

/// Queues the jobs of these chunks of the import's undo, once each.
async fn enqueue_undo_chunks(
    store: &Store,
    id: &ImportId,
    chunks: &[roster_store::UndoChunk],
) -> Result<(), Error> {
    let asked = asked_at(store, id).await?;
    for chunk in chunks {
        let key = undo_chunk_job_key(id, &asked, chunk.seq);
        enqueue_undo_chunk(store, id, chunk.seq, key).await?;
    }
    Ok(())
}

/// When the import's undo was last asked: its jobs' keys hold it.
async fn asked_at(store: &Store, id: &ImportId) -> Result<String, Error> {
    let import = store.existing_import(id).await?;
    Ok(import.undo.map(|u| u.asked_at).unwrap_or_default())
}

/// A job's end: a refused file ends it (the import is failed already);
/// another error is tried again, and on the last attempt fails the import,
/// or its undo when the job is the undo's (which may then be asked again).
async fn settle(
    worker: &Worker,
    id: &ImportId,
    undo: bool,
    attempt: usize,
    outcome: Result<(), Error>,
) -> Result<(), BoxDynError> {
    match outcome {
        Ok(()) | Err(Error::FileRefused(_)) => Ok(()),
        Err(e) => {
            let what = if undo { "the undo" } else { "the import" };
            if undo {
                warn!(import_id = %id, attempt, error = %e, "undo job failed");
            } else {
                warn!(import_id = %id, attempt, error = %e, "import job failed");
            }
            if attempt >= MAX_ATTEMPTS
                && let Ok(import) = worker.store.existing_import(id).await
            {
                let why = format!("gave up after {MAX_ATTEMPTS} attempts: {e}");
                let failed = if undo {
                    worker.store.fail_undo(import.key, &why).await
                } else {
                    worker.store.fail_import(import.key, &why).await
                };
                if let Err(e) = failed {
                    error!(import_id = %id, error = %e, "{what} could not be marked failed");
                }
            }
            Err(Box::new(e))
        }
    }
}
