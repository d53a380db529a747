//! Chunks: an import split into runs of consecutive data rows, so that many
//! workers can write one large import at once; and the cursor from which
//! its chunks assign extensions, a block at a time.
//!
//! The database keeps every chunk's state: a chunk is done once, however
//! many times its job runs, and the import ends when its last chunk does
//! (`Store::finish_import` waits for `chunks_done = chunks`).

use std::collections::HashSet;

use roster_validate::{Extension, ExtensionPolicy, RowStart};

use super::Import;
use super::id::ImportKey;
use super::state::{self, ChunkState};
use crate::bulk::Bulk;
use crate::convert::{from_db, to_db};
use crate::db::query;
use crate::error::Context;
use crate::{Account, Error, Store, time};

/// One chunk of an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub seq: u64,
    /// Its first data row, 0-based in file order (blank rows are not rows).
    pub first_row: u64,
    pub rows: u64,
    /// Where its first row starts in the file, when that is known.
    pub start: Option<RowStart>,
    pub done: bool,
    /// The worker that took it last.
    pub worker: Option<String>,
}

impl Store {
    /// Splits the import into chunks of its `chunk_rows` rows (all in one
    /// when that is 0), unless it was split already; its chunks. `starts`
    /// are where the second, third… chunk's first rows start in the file,
    /// when they are known.
    pub async fn plan_chunks(
        &self,
        import: &Import,
        starts: &[RowStart],
    ) -> Result<Vec<Chunk>, Error> {
        const INSERT: &str = "INSERT INTO import_chunks \
            (import_id, seq, first_row, rows, state, start_offset, start_line) \
            VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING";
        const PLANNED: &str = "UPDATE imports SET chunks = $2 WHERE id = $1 AND chunks = 0";
        let per_chunk = chunk_rows(import);
        let count = import.total.div_ceil(per_chunk).max(1);
        let key = import.key.0;
        let mut tx = self.db.begin().await.context("starting a transaction")?;
        for seq in 0..count {
            let first = seq * per_chunk;
            let rows = per_chunk.min(import.total.saturating_sub(first));
            let start = usize::try_from(seq)
                .ok()
                .and_then(|seq| seq.checked_sub(1))
                .and_then(|i| starts.get(i));
            query(INSERT)
                .bind(key)
                .bind(to_db(seq))
                .bind(to_db(first))
                .bind(to_db(rows))
                .bind(ChunkState::Queued)
                .bind(start.map(|s| to_db(s.offset)))
                .bind(start.map(|s| to_db(s.line)))
                .execute(&mut tx)
                .await
                .context("planning chunks")?;
        }
        query(PLANNED)
            .bind(key)
            .bind(to_db(count))
            .execute(&mut tx)
            .await
            .context("planning chunks")?;
        tx.commit().await.context("committing the chunks")?;
        self.chunks(import.key).await
    }

    /// The import's chunks, in file order.
    pub async fn chunks(&self, import: ImportKey) -> Result<Vec<Chunk>, Error> {
        const SQL: &str = "SELECT seq, first_row, rows, state, worker, start_offset, start_line \
            FROM import_chunks WHERE import_id = $1 ORDER BY seq";
        type Row = (
            i64,
            i64,
            i64,
            ChunkState,
            Option<String>,
            Option<i64>,
            Option<i64>,
        );
        let rows: Vec<Row> = query(SQL)
            .bind(import.0)
            .fetch_all(&self.db)
            .await
            .context("reading chunks")?;
        Ok(rows
            .into_iter()
            .map(
                |(seq, first_row, rows, state, worker, offset, line)| Chunk {
                    seq: from_db(seq),
                    first_row: from_db(first_row),
                    rows: from_db(rows),
                    start: offset.zip(line).map(|(offset, line)| RowStart {
                        offset: from_db(offset),
                        line: from_db(line),
                    }),
                    done: state == ChunkState::Done,
                    worker,
                },
            )
            .collect())
    }

    /// Marks the chunk taken by `worker`. False when it is done already.
    pub async fn start_chunk(
        &self,
        import: ImportKey,
        seq: u64,
        worker: &str,
    ) -> Result<bool, Error> {
        const SQL: &str = "UPDATE import_chunks SET state = $5, worker = $3, \
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
            .context("starting a chunk")?;
        Ok(changed == 1)
    }

    /// Marks the chunk done (once, however often it is asked) and, in the
    /// same transaction, ends the import if that was its last chunk: a crash
    /// or a lost connection cannot leave the chunks done and the import
    /// running.
    pub async fn finish_chunk(&self, import: ImportKey, seq: u64) -> Result<(), Error> {
        const DONE: &str = "UPDATE import_chunks SET state = $4, finished_at = $3 \
            WHERE import_id = $1 AND seq = $2 AND state <> $4";
        const COUNT: &str = "UPDATE imports SET chunks_done = chunks_done + 1 WHERE id = $1";
        let mut tx = self.db.begin().await.context("starting a transaction")?;
        let done = query(DONE)
            .bind(import.0)
            .bind(to_db(seq))
            .bind(time::now())
            .bind(ChunkState::Done)
            .execute(&mut tx)
            .await
            .context("finishing a chunk")?;
        if done == 1 {
            query(COUNT)
                .bind(import.0)
                .execute(&mut tx)
                .await
                .context("counting a chunk")?;
        }
        state::finish(&mut tx, import)
            .await
            .context("finishing the import")?;
        tx.commit().await.context("committing a chunk")
    }

    /// Up to `needed` extensions for rows that leave theirs empty: the
    /// free ones from the import's cursor upward, lowest first, none of
    /// them reserved or taken. Each claim moves the cursor past what it
    /// looked at, in a statement of its own, so chunks written at once
    /// never get the same candidates. Fewer when the account's policy runs
    /// out of extensions.
    pub async fn claim_extensions(
        &self,
        import: &Import,
        account: &Account,
        needed: usize,
        reserved: &HashSet<Extension>,
    ) -> Result<Vec<Extension>, Error> {
        const CLAIM: &str = "INSERT INTO import_extension_cursors (import_id, next_extension) \
            VALUES ($1, $2 + $3) ON CONFLICT (import_id) \
            DO UPDATE SET next_extension = import_extension_cursors.next_extension + $3 \
            RETURNING next_extension";
        let lowest = 10u64.pow(u32::from(account.extensions.min_digits.max(1)) - 1);
        let first = account.extension_first.max(lowest);
        let max_digits = account
            .extensions
            .max_digits
            .min(ExtensionPolicy::MAX_DIGITS);
        let mut free = Vec::with_capacity(needed);
        while free.len() < needed {
            let want = (needed - free.len()) as u64;
            let (end,): (i64,) = query(CLAIM)
                .bind(import.key.0)
                .bind(to_db(first))
                .bind(to_db(want))
                .fetch_one(&self.db)
                .await
                .context("claiming extensions")?;
            let end = from_db(end);
            let candidates: Vec<Extension> = (end.saturating_sub(want)..end)
                .filter_map(Extension::from_number)
                .filter(|e| e.digits() <= max_digits && !reserved.contains(e))
                .collect();
            let out_of_range = (end.saturating_sub(want)..end)
                .any(|v| Extension::from_number(v).is_none_or(|e| e.digits() > max_digits));
            let texts: Vec<String> = candidates.iter().map(Extension::to_string).collect();
            let taken: HashSet<String> = self
                .taken_extensions(account, &texts)
                .await?
                .into_iter()
                .collect();
            free.extend(
                candidates
                    .into_iter()
                    .zip(&texts)
                    .filter(|(_, t)| !taken.contains(*t))
                    .map(|(e, _)| e),
            );
            if out_of_range {
                break;
            }
        }
        free.truncate(needed);
        Ok(free)
    }

    /// Which of these extensions the account's users hold.
    async fn taken_extensions(
        &self,
        account: &Account,
        extensions: &[String],
    ) -> Result<Vec<String>, Error> {
        if extensions.is_empty() {
            return Ok(Vec::new());
        }
        // A read, in a transaction because the lookup is one of the batch
        // writer's.
        let mut tx = self.db.begin().await.context("looking up extensions")?;
        let answers = tx
            .look_up(account.id.get(), &[], &[], extensions, &[])
            .await
            .context("looking up extensions")?;
        tx.commit().await.context("looking up extensions")?;
        Ok(answers.taken_extensions)
    }
}

/// Data rows per chunk of the import.
pub fn chunk_rows(import: &Import) -> u64 {
    match import.chunk_rows {
        0 => import.total.max(1),
        n => n,
    }
}
