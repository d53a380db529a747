//! What workers do with an import's undo, as with the import itself:
//! [`queue_undo`] asks for it and queues its job; [`plan_undo`] marks it
//! running, reverts the plan's linked rows together, and splits the rest
//! into chunks; [`run_undo_chunk`] reverts one chunk's rows, a batch per
//! transaction, until they end or a stop is asked; [`run_undo`] does both
//! in this process.
//!
//! The rows come from the import's results, not its file: each keeps the
//! user as the import left them (and as it found them, for an update).
//! Every batch keeps its rows' outcomes in its own transaction, so a chunk
//! run again, by this worker or another, reverts nothing twice.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use roster_store::{Import, ImportId, ImportState, Store, UndoChunk};
use tokio::task::JoinSet;
use tracing::{info, instrument};

use crate::Error;
use crate::runner::{ChunkRun, RunConfig, Stop, share_lock};
use crate::worker::enqueue_undo;

/// Asks for the import to be undone and queues the job that runs it: the
/// one path from a request to a queued undo, for the CLI and the server.
pub async fn queue_undo(store: &Store, id: &ImportId) -> Result<Import, Error> {
    let import = store.ask_undo(id).await?;
    enqueue_undo(store, &import).await?;
    Ok(import)
}

/// Runs the import's undo to its end in this process: plans it, then runs
/// its chunks one after another. Does nothing to an undo that is not
/// queued or running.
pub async fn run_undo(store: &Store, id: &ImportId, config: RunConfig) -> Result<(), Error> {
    let Some(chunks) = plan_undo(store, id).await? else {
        return Ok(());
    };
    for chunk in chunks {
        run_undo_chunk(store, id, chunk.seq, "this process", config, &Stop::never()).await?;
    }
    Ok(())
}

/// Readies the undo to run: marks it running, reverts the plan's linked
/// rows in one transaction (rows that swapped numbers or extensions in the
/// import swap them back together), and splits the rest into chunks. The
/// chunks still to do; `None` when the undo is not to run.
#[instrument(skip_all, fields(import_id = %id))]
pub async fn plan_undo(store: &Store, id: &ImportId) -> Result<Option<Vec<UndoChunk>>, Error> {
    let import = store.existing_import(id).await?;
    if !store.start_undo(import.key).await? {
        if store.undo_state(import.key).await? == Some(ImportState::Stopping) {
            store.finish_undo(import.key).await?;
        }
        return Ok(None);
    }
    if import.mode.plans() {
        let account = store.existing_account(&import.account_slug).await?;
        let locations = store.location_ids(&account).await?;
        let linked = store.undo_linked(&import, &locations).await?;
        if linked.rows > 0 {
            info!(
                undone = linked.undone,
                not_undone = linked.not_undone,
                "linked rows undone"
            );
        }
    }
    let import = store.existing_import(id).await?;
    let chunks = store.plan_undo_chunks(&import).await?;
    info!(chunks = chunks.len(), "undo planned");
    Ok(Some(chunks.into_iter().filter(|c| !c.done).collect()))
}

/// Reverts the rows of the undo's chunk `seq`, then marks the chunk done,
/// and the undo too when that was its last chunk; on PostgreSQL two parts
/// of it at once. When `stop` is asked, the chunk ends at its next batch
/// and is not done.
#[instrument(skip_all, fields(import_id = %id, chunk = seq))]
pub async fn run_undo_chunk(
    store: &Store,
    id: &ImportId,
    seq: u64,
    worker: &str,
    config: RunConfig,
    stop: &Stop,
) -> Result<ChunkRun, Error> {
    let import = store.existing_import(id).await?;
    let active = import.undo.as_ref().is_some_and(|u| u.state.is_active());
    if !active || !store.start_undo_chunk(import.key, seq, worker).await? {
        return Ok(ChunkRun::Done);
    }
    let Some(chunk) = store
        .undo_chunks(import.key)
        .await?
        .into_iter()
        .find(|c| c.seq == seq)
    else {
        return Ok(ChunkRun::Done);
    };
    let account = store.existing_account(&import.account_slug).await?;
    let locations = Arc::new(store.location_ids(&account).await?);
    let import = Arc::new(import);
    // As many parts of the chunk at once as an import writes batches at
    // once (two on PostgreSQL): each part one transaction at a time.
    let parts = store.batch_writers() as u64;
    let step = chunk
        .end_row
        .saturating_sub(chunk.first_row)
        .div_ceil(parts)
        .max(1);
    let mut running = JoinSet::new();
    for part in 0..parts {
        let from = chunk.first_row.saturating_add(part * step);
        if from >= chunk.end_row {
            break;
        }
        let to = from.saturating_add(step).min(chunk.end_row);
        let (store, import, locations, stop) = (
            store.clone(),
            import.clone(),
            locations.clone(),
            stop.clone(),
        );
        running.spawn(async move {
            undo_lines(&store, &import, &locations, from..to, config, &stop).await
        });
    }
    let mut outcome = ChunkRun::Done;
    while let Some(joined) = running.join_next().await {
        match joined.map_err(|e| Error::Task(e.to_string()))?? {
            ChunkRun::Done => {}
            ChunkRun::Left => outcome = ChunkRun::Left,
        }
    }
    if outcome == ChunkRun::Left {
        info!("chunk left for another run: the worker is stopping");
        return Ok(ChunkRun::Left);
    }
    store.finish_undo_chunk(import.key, seq).await?;
    info!("chunk undone");
    Ok(ChunkRun::Done)
}

/// Reverts the rows of `lines`, a batch per transaction, until they end
/// or a stop is asked: the undo's (done) or the worker's (left).
async fn undo_lines(
    store: &Store,
    import: &Import,
    locations: &HashMap<String, i64>,
    lines: Range<u64>,
    config: RunConfig,
    stop: &Stop,
) -> Result<ChunkRun, Error> {
    let sharing = store.lock_sharing();
    let batch_rows = u32::try_from(config.batch_rows).unwrap_or(u32::MAX).max(1);
    let mut held_since = Instant::now();
    let mut after = lines.start.saturating_sub(1);
    loop {
        if stop.asked() {
            return Ok(ChunkRun::Left);
        }
        if store.undo_state(import.key).await? == Some(ImportState::Stopping) {
            info!("stop noticed");
            return Ok(ChunkRun::Done);
        }
        let batch = store
            .undo_batch(import, locations, after, lines.end, batch_rows)
            .await?;
        if batch.rows == 0 {
            return Ok(ChunkRun::Done);
        }
        after = batch.last_row;
        if let Some(sharing) = sharing
            && (store.writer_waiting() || held_since.elapsed() >= sharing.every)
        {
            share_lock(store, sharing).await;
            held_since = Instant::now();
        }
    }
}
