//! Undo: an import reverted, once, by a job like the import itself.
//!
//! An undo is asked of a finished import ([`Store::ask_undo`]); it then
//! holds the account as an import does (the partial unique index
//! `imports_one_active` counts an undo queued or running), goes through the
//! same states, and is split into chunks of the import's rows by line, each
//! its own job. A batch of rows is reverted in one transaction
//! (`revert.rs`) that also keeps each row's outcome (`row_undos`) and the
//! counts, so a batch is reverted once however often its job runs. A
//! stopped or failed undo may be asked again: it goes on with the rows
//! still to do. A completed one cannot.

use std::collections::HashMap;

use roster_queue::{CHUNK_QUEUE, undo_chunk_key_prefix};

use crate::bulk::{Bulk, UndoRows};
use crate::convert::{from_db, to_db};
use crate::db::{Tx, query};
use crate::error::Context;
use crate::import::chunk::chunk_rows;
use crate::import::state::{ChunkState, ImportState};
use crate::revert::{self, Candidate, Reverted};
use crate::{Error, Import, ImportId, ImportKey, StopOutcome, Store, time};

/// One chunk of an undo: the import's rows from line `first_row` up to,
/// not including, `end_row`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoChunk {
    pub seq: u64,
    pub first_row: u64,
    pub end_row: u64,
    pub done: bool,
}

/// What one batch of an undo did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UndoBatch {
    /// Rows taken up; 0 when none was left in the range.
    pub rows: u64,
    /// The line of the last row taken up.
    pub last_row: u64,
    pub undone: u64,
    pub not_undone: u64,
}

impl Store {
    /// Asks what runs for the import to stop: the import itself, or, once
    /// it has finished, its undo (see [`Store::stop_import`]).
    pub async fn stop(&self, id: &ImportId) -> Result<StopOutcome, Error> {
        match self.stop_import(id).await? {
            StopOutcome::AlreadyFinished(state) => Ok(self
                .stop_undo(id)
                .await?
                .unwrap_or(StopOutcome::AlreadyFinished(state))),
            outcome => Ok(outcome),
        }
    }

    /// Asks for the import to be undone: queued, to be run by a worker.
    /// Refused ([`Error::CannotUndo`]) while the import is queued or
    /// running, or once it has been undone; a stopped or failed undo goes
    /// on from where it was. The account's other imports hold it as for an
    /// import ([`Error::ImportActive`]).
    pub async fn ask_undo(&self, id: &ImportId) -> Result<Import, Error> {
        const ASK: &str = "UPDATE imports SET undo_state = $3, undo_asked_at = $2, \
            undo_started_at = NULL, undo_finished_at = NULL, undo_error = NULL, \
            undo_total = created + updated, undo_chunks = 0, undo_chunks_done = 0 \
            WHERE public_id = $1 AND state IN ($4, $5, $6, $7) \
            AND (undo_state IS NULL OR undo_state IN ($4, $7)) RETURNING id";
        const FORGET_CHUNKS: &str = "DELETE FROM undo_chunks WHERE import_id = $1";
        let import = self.existing_import(id).await?;
        let _waiting = self.waiting_writer();
        let mut tx = self.db.begin().await.context("starting a transaction")?;
        let asked: Result<Option<(i64,)>, sqlx::Error> = query(ASK)
            .bind(id.as_str())
            .bind(time::now())
            .bind(ImportState::Queued)
            .bind(ImportState::Stopped)
            .bind(ImportState::Completed)
            .bind(ImportState::CompletedWithErrors)
            .bind(ImportState::Failed)
            .fetch_optional(&mut tx)
            .await;
        match asked {
            Ok(Some((key,))) => {
                query(FORGET_CHUNKS)
                    .bind(key)
                    .execute(&mut tx)
                    .await
                    .context("asking for the undo")?;
                tx.commit().await.context("asking for the undo")?;
                self.existing_import(id).await
            }
            Ok(None) => Err(Error::CannotUndo {
                id: id.to_string(),
                why: why_not(&import),
            }),
            Err(e)
                if e.as_database_error()
                    .is_some_and(|d| d.is_unique_violation()) =>
            {
                drop(tx);
                self.active_import_error(import.account).await
            }
            Err(e) => Err(Error::Query {
                what: "asking for the undo",
                source: e,
            }),
        }
    }

    /// Marks the undo running when a worker takes it up. False when it is
    /// not queued or running (stopped before it started, or finished).
    pub async fn start_undo(&self, key: ImportKey) -> Result<bool, Error> {
        const SQL: &str = "UPDATE imports SET undo_state = $3, \
            undo_started_at = COALESCE(undo_started_at, $2) \
            WHERE id = $1 AND undo_state IN ($4, $3)";
        let done = query(SQL)
            .bind(key.0)
            .bind(time::now())
            .bind(ImportState::Running)
            .bind(ImportState::Queued)
            .execute(&self.db)
            .await
            .context("starting the undo")?;
        Ok(done == 1)
    }

    /// The undo's state, read between batches to notice a stop.
    pub async fn undo_state(&self, key: ImportKey) -> Result<Option<ImportState>, Error> {
        const SQL: &str = "SELECT undo_state FROM imports WHERE id = $1";
        let (state,): (Option<ImportState>,) = query(SQL)
            .bind(key.0)
            .fetch_one(&self.db)
            .await
            .context("reading the undo's state")?;
        Ok(state)
    }

    /// Splits the undo into chunks of the import's rows (as many rows per
    /// chunk as the import had), unless it was split already; its chunks.
    pub async fn plan_undo_chunks(&self, import: &Import) -> Result<Vec<UndoChunk>, Error> {
        const NTH_ROW: &str =
            "SELECT row FROM row_results WHERE import_id = $1 ORDER BY row LIMIT 1 OFFSET $2";
        const INSERT: &str = "INSERT INTO undo_chunks (import_id, seq, first_row, end_row, state) \
            VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
        const PLANNED: &str =
            "UPDATE imports SET undo_chunks = $2 WHERE id = $1 AND undo_chunks = 0";
        let key = import.key.0;
        if import.undo.as_ref().is_some_and(|u| u.chunks > 0) {
            return self.undo_chunks(import.key).await;
        }
        const END: &str = "SELECT COALESCE(MAX(row), 0) + 1 FROM row_results WHERE import_id = $1";
        let per_chunk = chunk_rows(import);
        let count = import.processed.div_ceil(per_chunk).max(1);
        let mut starts = vec![0u64];
        for seq in 1..count {
            let row: Option<(i64,)> = query(NTH_ROW)
                .bind(key)
                .bind(to_db(seq * per_chunk))
                .fetch_optional(&self.db)
                .await
                .context("planning the undo's chunks")?;
            match row {
                Some((row,)) => starts.push(from_db(row)),
                None => break,
            }
        }
        let (last,): (i64,) = query(END)
            .bind(key)
            .fetch_one(&self.db)
            .await
            .context("planning the undo's chunks")?;
        let mut tx = self.db.begin().await.context("starting a transaction")?;
        for (seq, first) in starts.iter().enumerate() {
            let end = starts.get(seq + 1).copied().unwrap_or(from_db(last));
            query(INSERT)
                .bind(key)
                .bind(seq as i64)
                .bind(to_db(*first))
                .bind(to_db(end))
                .bind(ChunkState::Queued)
                .execute(&mut tx)
                .await
                .context("planning the undo's chunks")?;
        }
        query(PLANNED)
            .bind(key)
            .bind(starts.len() as i64)
            .execute(&mut tx)
            .await
            .context("planning the undo's chunks")?;
        tx.commit().await.context("committing the undo's chunks")?;
        self.undo_chunks(import.key).await
    }

    /// The undo's chunks, in file order.
    pub async fn undo_chunks(&self, import: ImportKey) -> Result<Vec<UndoChunk>, Error> {
        const SQL: &str = "SELECT seq, first_row, end_row, state FROM undo_chunks \
            WHERE import_id = $1 ORDER BY seq";
        let rows: Vec<(i64, i64, i64, ChunkState)> = query(SQL)
            .bind(import.0)
            .fetch_all(&self.db)
            .await
            .context("reading the undo's chunks")?;
        Ok(rows
            .into_iter()
            .map(|(seq, first_row, end_row, state)| UndoChunk {
                seq: from_db(seq),
                first_row: from_db(first_row),
                end_row: from_db(end_row),
                done: state == ChunkState::Done,
            })
            .collect())
    }

    /// Marks the undo's chunk taken by `worker`. False when it is done.
    pub async fn start_undo_chunk(
        &self,
        import: ImportKey,
        seq: u64,
        worker: &str,
    ) -> Result<bool, Error> {
        const SQL: &str = "UPDATE undo_chunks SET state = $5, worker = $3, \
            started_at = COALESCE(started_at, $4) \
            WHERE import_id = $1 AND seq = $2 AND state IN ($6, $5)";
        let changed = query(SQL)
            .bind(import.0)
            .bind(to_db(seq))
            .bind(worker)
            .bind(time::now())
            .bind(ChunkState::Running)
            .bind(ChunkState::Queued)
            .execute(&self.db)
            .await
            .context("starting a chunk of the undo")?;
        Ok(changed == 1)
    }

    /// Marks the undo's chunk done, once, and in the same transaction ends
    /// the undo if that was its last chunk.
    pub async fn finish_undo_chunk(&self, import: ImportKey, seq: u64) -> Result<(), Error> {
        const DONE: &str = "UPDATE undo_chunks SET state = $4, finished_at = $3 \
            WHERE import_id = $1 AND seq = $2 AND state <> $4";
        const COUNT: &str =
            "UPDATE imports SET undo_chunks_done = undo_chunks_done + 1 WHERE id = $1";
        let mut tx = self.db.begin().await.context("starting a transaction")?;
        let done = query(DONE)
            .bind(import.0)
            .bind(to_db(seq))
            .bind(time::now())
            .bind(ChunkState::Done)
            .execute(&mut tx)
            .await
            .context("finishing a chunk of the undo")?;
        if done == 1 {
            query(COUNT)
                .bind(import.0)
                .execute(&mut tx)
                .await
                .context("counting a chunk of the undo")?;
        }
        finish(&mut tx, import)
            .await
            .context("finishing the undo")?;
        tx.commit().await.context("committing a chunk of the undo")
    }

    /// Ends a running or stopping undo once every chunk is done.
    pub async fn finish_undo(&self, key: ImportKey) -> Result<(), Error> {
        let mut tx = self.db.begin().await.context("starting a transaction")?;
        finish(&mut tx, key).await.context("finishing the undo")?;
        tx.commit().await.context("finishing the undo")
    }

    /// Ends an undo that could not run, keeping the reason; it may be asked
    /// again.
    pub async fn fail_undo(&self, key: ImportKey, error: &str) -> Result<(), Error> {
        const SQL: &str = "UPDATE imports SET undo_state = $4, undo_error = $2, \
            undo_finished_at = $3 WHERE id = $1 AND undo_state IN ($5, $6, $7)";
        query(SQL)
            .bind(key.0)
            .bind(error)
            .bind(time::now())
            .bind(ImportState::Failed)
            .bind(ImportState::Queued)
            .bind(ImportState::Running)
            .bind(ImportState::Stopping)
            .execute(&self.db)
            .await
            .context("failing the undo")?;
        Ok(())
    }

    /// Asks the import's undo to stop: at once when it is queued; between
    /// batches when it runs (its chunks not taken are marked done and their
    /// jobs dropped, in one transaction).
    async fn stop_undo(&self, id: &ImportId) -> Result<Option<StopOutcome>, Error> {
        const STOP: &str = "UPDATE imports SET \
            undo_state = CASE WHEN undo_state = $3 THEN $4 ELSE $5 END, \
            undo_finished_at = CASE WHEN undo_state = $3 THEN $2 ELSE undo_finished_at END \
            WHERE public_id = $1 AND undo_state IN ($3, $6) RETURNING id, undo_asked_at";
        const DROP_CHUNKS: &str = "UPDATE undo_chunks SET state = $3, finished_at = $2 \
            WHERE import_id = $1 AND state = $4";
        const COUNT: &str =
            "UPDATE imports SET undo_chunks_done = undo_chunks_done + $2 WHERE id = $1";
        let waiting = self.waiting_writer();
        let mut tx = self.db.begin().await.context("starting a transaction")?;
        let changed: Option<(i64, Option<String>)> = query(STOP)
            .bind(id.as_str())
            .bind(time::now())
            .bind(ImportState::Queued)
            .bind(ImportState::Stopped)
            .bind(ImportState::Stopping)
            .bind(ImportState::Running)
            .fetch_optional(&mut tx)
            .await
            .context("stopping the undo")?;
        let Some((key, asked_at)) = changed else {
            return Ok(None);
        };
        let dropped = query(DROP_CHUNKS)
            .bind(key)
            .bind(time::now())
            .bind(ChunkState::Done)
            .bind(ChunkState::Queued)
            .execute(&mut tx)
            .await
            .context("dropping the undo's chunks")?;
        query(COUNT)
            .bind(key)
            .bind(to_db(dropped))
            .execute(&mut tx)
            .await
            .context("counting the undo's chunks")?;
        let prefix = undo_chunk_key_prefix(id, asked_at.as_deref().unwrap_or(""));
        roster_queue::drop_jobs(tx.queue(), CHUNK_QUEUE, &prefix)
            .await
            .context("dropping the undo's chunk jobs")?;
        // Planned and no chunk being written: stopped now. Not planned:
        // its planner sees the stop.
        finish_planned(&mut tx, ImportKey(key))
            .await
            .context("finishing the undo")?;
        tx.commit().await.context("committing the stop")?;
        drop(waiting);
        let import = self.existing_import(id).await?;
        Ok(Some(match import.undo.map(|u| u.state) {
            Some(ImportState::Stopped) => StopOutcome::UndoStopped,
            _ => StopOutcome::UndoStopping,
        }))
    }

    /// Undos not finished, oldest first, with when each was asked: a
    /// worker starting up queues their jobs again.
    pub async fn unfinished_undos(&self) -> Result<Vec<(ImportId, String)>, Error> {
        const SQL: &str = "SELECT public_id, undo_asked_at FROM imports \
            WHERE undo_state IN ($1, $2, $3) ORDER BY id";
        let rows: Vec<(String, Option<String>)> = query(SQL)
            .bind(ImportState::Queued)
            .bind(ImportState::Running)
            .bind(ImportState::Stopping)
            .fetch_all(&self.db)
            .await
            .context("listing unfinished undos")?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, asked)| Some((ImportId::parse(&id)?, asked.unwrap_or_default())))
            .collect())
    }

    /// Reverts the next rows of the undo's range — after line `after`,
    /// before line `end`, at most `limit` — in one transaction, with their
    /// outcomes and the undo's counts.
    pub async fn undo_batch(
        &self,
        import: &Import,
        locations: &HashMap<String, i64>,
        after: u64,
        end: u64,
        limit: u32,
    ) -> Result<UndoBatch, Error> {
        let range = UndoRows::Range {
            after: to_db(after),
            end: to_db(end),
            limit: i64::from(limit),
        };
        self.revert_rows(import, locations, range).await
    }

    /// Reverts the import's linked rows — those that took what another row
    /// gave up — together, in one transaction, before the chunks run.
    pub async fn undo_linked(
        &self,
        import: &Import,
        locations: &HashMap<String, i64>,
    ) -> Result<UndoBatch, Error> {
        self.revert_rows(import, locations, UndoRows::Linked).await
    }

    async fn revert_rows(
        &self,
        import: &Import,
        locations: &HashMap<String, i64>,
        which: UndoRows,
    ) -> Result<UndoBatch, Error> {
        let _waiting = self.waiting_writer();
        let mut tx = self.db.begin_writing().await.context("starting a batch")?;
        tx.prepare().await.context("starting a batch")?;
        let rows = tx
            .undo_rows(import.key.0, which)
            .await
            .context("reading the rows to undo")?;
        let Some(last_row) = rows.last().map(|r| from_db(r.0)) else {
            return Ok(UndoBatch::default());
        };
        let candidates = rows
            .into_iter()
            .map(Candidate::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let cx = revert::Cx {
            import: import.key,
            account: import.account.get(),
            locations,
        };
        let Reverted { undone, not_undone } = revert::revert(&mut tx, &cx, candidates).await?;
        tx.commit()
            .await
            .context("committing a batch of the undo")?;
        Ok(UndoBatch {
            rows: undone + not_undone,
            last_row,
            undone,
            not_undone,
        })
    }
}

/// Why the import's undo cannot be asked now.
fn why_not(import: &Import) -> String {
    if import.state.is_active() {
        return format!(
            "it is still {}: stop it first, or wait for it to finish",
            import.state
        );
    }
    match &import.undo {
        Some(undo) if undo.state.is_active() => format!(
            "it is being undone now ({}, {} of {} rows taken up)",
            undo.state,
            undo.processed(),
            undo.total
        ),
        Some(undo) => format!(
            "it was undone already ({}, {} rows undone, {} not undone{}); an import is undone once",
            undo.state,
            undo.undone,
            undo.not_undone,
            undo.finished_at
                .as_deref()
                .map(|at| format!(", at {at}"))
                .unwrap_or_default()
        ),
        None => "its state does not allow it".to_string(),
    }
}

/// Ends the undo `$1` at `$2` once all its chunks are done: stopped if a
/// stop was asked before every row was taken up, else completed, with
/// errors if any row was not undone.
const FINISH: &str = "UPDATE imports SET \
    undo_state = CASE WHEN undone + not_undone < undo_total AND undo_state = $3 THEN $4 \
        WHEN not_undone > 0 OR undone + not_undone < undo_total THEN $5 ELSE $6 END, \
    undo_finished_at = $2 \
    WHERE id = $1 AND undo_state IN ($7, $3) AND undo_chunks_done >= undo_chunks";

async fn finish(tx: &mut Tx<'_>, import: ImportKey) -> Result<u64, sqlx::Error> {
    query(FINISH)
        .bind(import.0)
        .bind(time::now())
        .bind(ImportState::Stopping)
        .bind(ImportState::Stopped)
        .bind(ImportState::CompletedWithErrors)
        .bind(ImportState::Completed)
        .bind(ImportState::Running)
        .execute(tx)
        .await
}

/// [`finish`], only for an undo whose chunks were planned.
async fn finish_planned(tx: &mut Tx<'_>, import: ImportKey) -> Result<u64, sqlx::Error> {
    const PLANNED: &str = "SELECT undo_chunks FROM imports WHERE id = $1";
    let (chunks,): (i64,) = query(PLANNED).bind(import.0).fetch_one(&mut *tx).await?;
    if chunks == 0 {
        return Ok(0);
    }
    finish(tx, import).await
}
