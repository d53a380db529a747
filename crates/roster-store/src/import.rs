//! Imports: one uploaded file each, its state and counts.
//!
//! The database holds the truth about an import: its state changes by
//! conditional updates, so a worker, a `stop` and a second worker can race
//! and the outcome is still one of the contract's transitions. The file is
//! kept in the database too, in blocks, so any worker on any machine that
//! shares the database can read it; its name as uploaded is only shown.

use tokio::io::AsyncRead;

use roster_queue::{CHUNK_QUEUE, chunk_key_prefix};
use roster_validate::{Extension, Mode, PlannedRow};

use crate::convert::{from_db, to_db};
use crate::db::{Tx, query};
use crate::error::Context;
use crate::{
    Account, AccountId, AccountSlug, DeliveryCounts, DeliveryPace, Error, PasswordDelivery, Store,
    time,
};

pub(crate) mod chunk;
pub(crate) mod file;
pub(crate) mod id;
pub(crate) mod reserved;
pub(crate) mod results;
pub(crate) mod state;

use file::read_block;
pub use id::{ImportId, ImportKey};
use state::ChunkState;
pub use state::ImportState;

/// What is needed to queue an import.
#[derive(Debug, Clone)]
pub struct NewImport {
    pub account: AccountId,
    /// The file's name as uploaded.
    pub file_name: String,
    pub voice: bool,
    pub passwords: PasswordDelivery,
    /// Data rows, as validation counted them.
    pub total: u64,
    /// Data rows per chunk; 0: the whole file in one.
    pub chunk_rows: u64,
    /// The extensions the rows name (validation's report has them): never
    /// given to a row that leaves its extension empty.
    pub reserved_extensions: Vec<Extension>,
    /// What the rows do to users whose email they name.
    pub mode: Mode,
}

/// An import as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub id: ImportId,
    pub key: ImportKey,
    pub account: AccountId,
    pub account_slug: AccountSlug,
    pub state: ImportState,
    pub file_name: String,
    pub file_bytes: u64,
    pub voice: bool,
    pub passwords: PasswordDelivery,
    pub mode: Mode,
    pub total: u64,
    /// Rows with a result: created, updated, unchanged or failed.
    pub processed: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub not_processed: u64,
    /// Why the import failed.
    pub error: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Its users' password deliveries (none when it sends no passwords).
    pub deliveries: DeliveryCounts,
    /// How fast they go out.
    pub deliveries_pace: DeliveryPace,
    /// Data rows per chunk; 0: the whole file in one.
    pub chunk_rows: u64,
    /// Chunks planned (0: not yet), and chunks done.
    pub chunks: u64,
    pub chunks_done: u64,
    /// Its undo, once asked.
    pub undo: Option<Undo>,
}

/// An import's undo, once asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undo {
    /// The words of an import's states: `completed_with_errors` when some
    /// row was not undone.
    pub state: ImportState,
    /// Rows to revert: those the import created or updated.
    pub total: u64,
    pub undone: u64,
    pub not_undone: u64,
    /// Password messages still queued that the undo cancelled.
    pub cancelled: u64,
    /// Why the undo failed.
    pub error: Option<String>,
    pub asked_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub chunks: u64,
    pub chunks_done: u64,
}

impl Undo {
    /// Rows the undo has taken up.
    pub fn processed(&self) -> u64 {
        self.undone + self.not_undone
    }
}

/// What asking an import to stop did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    /// It was queued: it is stopped, no row was processed.
    Stopped,
    /// It was running: the worker stops it between batches.
    Stopping,
    /// It had already finished or was already stopping; nothing changed.
    AlreadyFinished(ImportState),
    /// It had finished and its undo was queued: the undo is stopped.
    UndoStopped,
    /// Its undo was running: it stops between batches.
    UndoStopping,
}

const SELECT_IMPORT: &str = "SELECT i.id, i.public_id, i.account_id, a.slug, i.state, i.file_name, \
    i.file_bytes, i.voice, i.passwords, i.mode, i.total, i.processed, i.created, i.updated, \
    i.unchanged, i.failed, i.not_processed, \
    i.error, i.created_at, i.started_at, i.finished_at, i.deliveries_queued, i.deliveries_sent, \
    i.deliveries_failed, i.deliveries_window_ms, i.deliveries_window_count, i.deliveries_rate_milli, \
    i.deliveries_settled_ms, i.chunk_rows, i.chunks, i.chunks_done, i.undo_state, i.undo_total, \
    i.undone, i.not_undone, i.undo_cancelled, i.undo_error, i.undo_asked_at, i.undo_started_at, \
    i.undo_finished_at, i.undo_chunks, i.undo_chunks_done \
    FROM imports i JOIN accounts a ON a.id = i.account_id";

#[derive(sqlx::FromRow)]
struct ImportRow {
    id: i64,
    public_id: String,
    account_id: i64,
    slug: String,
    state: ImportState,
    file_name: String,
    file_bytes: i64,
    voice: bool,
    passwords: String,
    mode: String,
    total: i64,
    processed: i64,
    created: i64,
    updated: i64,
    unchanged: i64,
    failed: i64,
    not_processed: i64,
    error: Option<String>,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    deliveries_queued: i64,
    deliveries_sent: i64,
    deliveries_failed: i64,
    deliveries_window_ms: i64,
    deliveries_window_count: i64,
    deliveries_rate_milli: Option<i64>,
    deliveries_settled_ms: Option<i64>,
    chunk_rows: i64,
    chunks: i64,
    chunks_done: i64,
    undo_state: Option<ImportState>,
    undo_total: i64,
    undone: i64,
    not_undone: i64,
    undo_cancelled: i64,
    undo_error: Option<String>,
    undo_asked_at: Option<String>,
    undo_started_at: Option<String>,
    undo_finished_at: Option<String>,
    undo_chunks: i64,
    undo_chunks_done: i64,
}

impl Store {
    /// Stores the file and queues the import, in one transaction. Fails with
    /// [`Error::ImportActive`] when the account already has an import queued
    /// or running: the database's unique index decides, not a check first.
    ///
    /// `plan` is the plan of a file whose rows may update users
    /// ([`NewImport::mode`]): the rows that update a user, leave one
    /// unchanged or are linked are kept with the import, in the same
    /// transaction.
    pub async fn create_import(
        &self,
        new: &NewImport,
        file: &mut (dyn AsyncRead + Unpin + Send),
        plan: Option<&mut (dyn Iterator<Item = std::io::Result<PlannedRow>> + Send)>,
    ) -> Result<Import, Error> {
        const INSERT: &str = "INSERT INTO imports (public_id, account_id, state, file_name, voice, \
            passwords, total, created_at, chunk_rows, mode) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id";
        let id = ImportId::new();
        let _waiting = self.waiting_writer();
        let mut tx = self.db.begin().await.context("starting a transaction")?;
        let inserted: Result<(i64,), sqlx::Error> = query(INSERT)
            .bind(id.as_str())
            .bind(new.account.get())
            .bind(ImportState::Queued)
            .bind(new.file_name.as_str())
            .bind(new.voice)
            .bind(new.passwords.to_string())
            .bind(to_db(new.total))
            .bind(time::now())
            .bind(to_db(new.chunk_rows))
            .bind(new.mode.as_str())
            .fetch_one(&mut tx)
            .await;
        let key = match inserted {
            Ok((key,)) => ImportKey(key),
            Err(e) if is_unique_violation(&e) => {
                drop(tx);
                return self.active_import_error(new.account).await;
            }
            Err(e) => {
                return Err(Error::Query {
                    what: "queueing the import",
                    source: e,
                });
            }
        };
        reserved::record(&mut tx, key, &new.reserved_extensions)
            .await
            .context("storing the file's extensions")?;
        store_file(&mut tx, key, file).await?;
        if let Some(plan) = plan {
            crate::plan::store_plan(&mut tx, key, plan).await?;
        }
        tx.commit().await.context("committing the import")?;
        self.existing_import(&id).await
    }

    /// The import with this id, if there is one.
    pub async fn import(&self, id: &ImportId) -> Result<Option<Import>, Error> {
        let row: Option<ImportRow> = query(sqlx::AssertSqlSafe(format!(
            "{SELECT_IMPORT} WHERE i.public_id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(&self.db)
        .await
        .context("reading the import")?;
        row.map(Import::try_from).transpose()
    }

    /// Like [`Store::import`], but a missing import is an error.
    pub async fn existing_import(&self, id: &ImportId) -> Result<Import, Error> {
        self.import(id)
            .await?
            .ok_or_else(|| Error::NoImport(id.to_string()))
    }

    /// The imports whose id starts with `prefix` (in any case; hyphens where
    /// the id's text has them), in id order, at most `limit`. Any prefix is
    /// taken, the empty one too: how short a prefix may be is for the
    /// caller to say. One with anything but hex digits and hyphens matches
    /// nothing.
    pub async fn imports_by_prefix(&self, prefix: &str, limit: u32) -> Result<Vec<Import>, Error> {
        let prefix = prefix.to_ascii_lowercase();
        if !prefix.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return Ok(Vec::new());
        }
        // The range is what the unique index on public_id answers: 'g' sorts
        // after every character of an id's text, so [prefix, prefix + 'g')
        // holds exactly the ids that start with prefix in byte order. LIKE
        // keeps the answer exact under a collation that orders otherwise
        // (one that skips hyphens); the prefix holds no wildcard, as checked.
        let upper = format!("{prefix}g");
        let like = format!("{prefix}%");
        let rows: Vec<ImportRow> = query(sqlx::AssertSqlSafe(format!(
            "{SELECT_IMPORT} WHERE i.public_id >= $1 AND i.public_id < $2 \
             AND i.public_id LIKE $3 ORDER BY i.public_id LIMIT $4"
        )))
        .bind(prefix.as_str())
        .bind(upper.as_str())
        .bind(like.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.db)
        .await
        .context("looking up imports by id prefix")?;
        rows.into_iter().map(Import::try_from).collect()
    }

    /// Marks the import running when a worker takes it up. False when it is
    /// no longer queued or running (stopped before it started, finished by
    /// an earlier delivery of the same job).
    pub async fn start_import(&self, key: ImportKey) -> Result<bool, Error> {
        const SQL: &str = "UPDATE imports SET state = $3, started_at = COALESCE(started_at, $2) \
            WHERE id = $1 AND state IN ($4, $3)";
        let done = query(SQL)
            .bind(key.0)
            .bind(time::now())
            .bind(ImportState::Running)
            .bind(ImportState::Queued)
            .execute(&self.db)
            .await
            .context("starting the import")?;
        Ok(done == 1)
    }

    /// Asks the import to stop (`Store::stop` stops its undo too). A
    /// queued import stops at once. A running
    /// one is marked stopping, and in the same transaction its chunks not
    /// yet taken are marked done and their jobs dropped from the queue: it
    /// is stopped once the chunks being written reach the end of their
    /// batch (at once when none is), however many chunks it had.
    pub async fn stop_import(&self, id: &ImportId) -> Result<StopOutcome, Error> {
        const STOP: &str = "UPDATE imports SET \
            state = CASE WHEN state = $3 THEN $4 ELSE $5 END, \
            not_processed = CASE WHEN state = $3 THEN total ELSE not_processed END, \
            finished_at = CASE WHEN state = $3 THEN $2 ELSE finished_at END \
            WHERE public_id = $1 AND state IN ($3, $6) RETURNING id, state, chunks";
        let waiting = self.waiting_writer();
        let mut tx = self.db.begin().await.context("starting a transaction")?;
        let changed: Option<(i64, ImportState, i64)> = query(STOP)
            .bind(id.as_str())
            .bind(time::now())
            .bind(ImportState::Queued)
            .bind(ImportState::Stopped)
            .bind(ImportState::Stopping)
            .bind(ImportState::Running)
            .fetch_optional(&mut tx)
            .await
            .context("stopping the import")?;
        // Chunks not planned yet are being planned right now: their
        // planner sees the stop.
        if let Some((key, ImportState::Stopping, chunks)) = changed
            && chunks > 0
        {
            drop_chunks(&mut tx, id, ImportKey(key)).await?;
        }
        tx.commit().await.context("committing the stop")?;
        drop(waiting);
        let import = self.existing_import(id).await?;
        Ok(match (changed, import.state) {
            (Some(_), ImportState::Stopped) => StopOutcome::Stopped,
            (Some(_), _) => StopOutcome::Stopping,
            (None, state) => StopOutcome::AlreadyFinished(state),
        })
    }

    /// The import's state, read between batches to notice a stop.
    pub async fn import_state(&self, key: ImportKey) -> Result<ImportState, Error> {
        const SQL: &str = "SELECT state FROM imports WHERE id = $1";
        let (state,): (ImportState,) = query(SQL)
            .bind(key.0)
            .fetch_one(&self.db)
            .await
            .context("reading the import's state")?;
        Ok(state)
    }

    /// Ends a running or stopping import once every chunk is done (see
    /// `state::finish`).
    pub async fn finish_import(&self, key: ImportKey) -> Result<(), Error> {
        let mut tx = self.db.begin().await.context("starting a transaction")?;
        state::finish(&mut tx, key)
            .await
            .context("finishing the import")?;
        tx.commit().await.context("finishing the import")
    }

    /// Ends an import that could not run (its file unreadable, say), keeping
    /// the reason.
    pub async fn fail_import(&self, key: ImportKey, error: &str) -> Result<(), Error> {
        const SQL: &str = "UPDATE imports SET state = $4, error = $2, \
            not_processed = total - processed, finished_at = $3 \
            WHERE id = $1 AND state IN ($5, $6, $7)";
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
            .context("failing the import")?;
        Ok(())
    }

    /// The account's imports, newest first, at most `limit`.
    pub async fn account_imports(
        &self,
        account: &Account,
        limit: u32,
    ) -> Result<Vec<Import>, Error> {
        let rows: Vec<ImportRow> = query(sqlx::AssertSqlSafe(format!(
            "{SELECT_IMPORT} WHERE i.account_id = $1 ORDER BY i.id DESC LIMIT $2"
        )))
        .bind(account.id.get())
        .bind(i64::from(limit))
        .fetch_all(&self.db)
        .await
        .context("listing imports")?;
        rows.into_iter().map(Import::try_from).collect()
    }

    /// Imports not finished (queued, running or stopping), oldest first: a
    /// worker starting up queues their jobs again, in case a push was lost
    /// or their worker died.
    pub async fn unfinished_imports(&self) -> Result<Vec<ImportId>, Error> {
        const SQL: &str = "SELECT public_id FROM imports WHERE state IN ($1, $2, $3) ORDER BY id";
        let rows: Vec<(String,)> = query(SQL)
            .bind(ImportState::Queued)
            .bind(ImportState::Running)
            .bind(ImportState::Stopping)
            .fetch_all(&self.db)
            .await
            .context("listing unfinished imports")?;
        Ok(rows
            .into_iter()
            .filter_map(|(id,)| ImportId::parse(&id))
            .collect())
    }

    /// Fails with [`Error::ImportActive`] when the account has an import
    /// queued or running: a quick answer before an upload is read. Only the
    /// unique index decides when an import is queued (see
    /// [`Store::create_import`]).
    pub async fn check_no_active_import(&self, account: AccountId) -> Result<(), Error> {
        match self.active_import(account).await? {
            Some((id, state)) => Err(Error::ImportActive { id, state }),
            None => Ok(()),
        }
    }

    pub(crate) async fn active_import_error<T>(&self, account: AccountId) -> Result<T, Error> {
        let (id, state) = self.active_import(account).await?.unwrap_or_default();
        Err(Error::ImportActive { id, state })
    }

    /// The account's import queued or running, or being undone, by id and
    /// state (an undo's as `being undone (running)`).
    async fn active_import(&self, account: AccountId) -> Result<Option<(String, String)>, Error> {
        const SQL: &str = "SELECT public_id, state, undo_state FROM imports \
            WHERE account_id = $1 AND (state IN ($2, $3, $4) OR undo_state IN ($2, $3, $4))";
        let active: Option<(String, ImportState, Option<ImportState>)> = query(SQL)
            .bind(account.get())
            .bind(ImportState::Queued)
            .bind(ImportState::Running)
            .bind(ImportState::Stopping)
            .fetch_optional(&self.db)
            .await
            .context("reading the active import")?;
        Ok(active.map(|(id, state, undo)| match undo {
            Some(undo) if undo.is_active() => (id, format!("being undone ({undo})")),
            _ => (id, state.to_string()),
        }))
    }
}

/// Stores `file` in blocks, inside the transaction that queues its import.
async fn store_file(
    tx: &mut Tx<'_>,
    key: ImportKey,
    file: &mut (dyn AsyncRead + Unpin + Send),
) -> Result<(), Error> {
    const BLOCK: &str =
        "INSERT INTO import_file_blocks (import_id, seq, bytes) VALUES ($1, $2, $3)";
    const SIZE: &str = "UPDATE imports SET file_bytes = $2 WHERE id = $1";
    let mut bytes = 0u64;
    let mut seq = 0i64;
    loop {
        let block = read_block(file).await.map_err(Error::Upload)?;
        if block.is_empty() {
            break;
        }
        bytes += block.len() as u64;
        query(BLOCK)
            .bind(key.0)
            .bind(seq)
            .bind(block)
            .execute(&mut *tx)
            .await
            .context("storing the file")?;
        seq += 1;
    }
    query(SIZE)
        .bind(key.0)
        .bind(to_db(bytes))
        .execute(tx)
        .await
        .context("storing the file")?;
    Ok(())
}

/// Inside a stop's transaction: marks the running import's chunks not yet
/// taken done, drops their jobs from the queue, and ends the import when no
/// chunk is being written.
async fn drop_chunks(tx: &mut Tx<'_>, id: &ImportId, key: ImportKey) -> Result<(), Error> {
    const DROP_CHUNKS: &str = "UPDATE import_chunks SET state = $3, finished_at = $2 \
        WHERE import_id = $1 AND state = $4";
    const COUNT: &str = "UPDATE imports SET chunks_done = chunks_done + $2 WHERE id = $1";
    let dropped = query(DROP_CHUNKS)
        .bind(key.0)
        .bind(time::now())
        .bind(ChunkState::Done)
        .bind(ChunkState::Queued)
        .execute(&mut *tx)
        .await
        .context("dropping the import's chunks")?;
    query(COUNT)
        .bind(key.0)
        .bind(to_db(dropped))
        .execute(&mut *tx)
        .await
        .context("counting the import's chunks")?;
    roster_queue::drop_jobs(tx.queue(), CHUNK_QUEUE, &chunk_key_prefix(id))
        .await
        .context("dropping the import's chunk jobs")?;
    // No chunk being written: stopped now.
    state::finish(tx, key)
        .await
        .context("finishing the import")?;
    Ok(())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

impl TryFrom<ImportRow> for Import {
    type Error = Error;

    fn try_from(row: ImportRow) -> Result<Import, Error> {
        Ok(Import {
            id: ImportId::parse(&row.public_id).ok_or(Error::Corrupt("an import id"))?,
            key: ImportKey(row.id),
            account: AccountId::from_raw(row.account_id),
            account_slug: AccountSlug::parse(&row.slug)
                .map_err(|_| Error::Corrupt("an account slug"))?,
            state: row.state,
            file_name: row.file_name,
            file_bytes: from_db(row.file_bytes),
            voice: row.voice,
            passwords: PasswordDelivery::parse(&row.passwords)
                .ok_or(Error::Corrupt("a password delivery"))?,
            mode: Mode::parse(&row.mode).ok_or(Error::Corrupt("an import mode"))?,
            total: from_db(row.total),
            processed: from_db(row.processed),
            created: from_db(row.created),
            updated: from_db(row.updated),
            unchanged: from_db(row.unchanged),
            failed: from_db(row.failed),
            not_processed: from_db(row.not_processed),
            error: row.error,
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            deliveries: DeliveryCounts {
                queued: from_db(row.deliveries_queued),
                sent: from_db(row.deliveries_sent),
                failed: from_db(row.deliveries_failed),
            },
            deliveries_pace: DeliveryPace {
                rate_milli: row.deliveries_rate_milli.map(from_db),
                window_ms: from_db(row.deliveries_window_ms),
                window_count: from_db(row.deliveries_window_count),
                settled_ms: row.deliveries_settled_ms.map(from_db),
            },
            chunk_rows: from_db(row.chunk_rows),
            chunks: from_db(row.chunks),
            chunks_done: from_db(row.chunks_done),
            undo: row.undo_state.map(|state| Undo {
                state,
                total: from_db(row.undo_total),
                undone: from_db(row.undone),
                not_undone: from_db(row.not_undone),
                cancelled: from_db(row.undo_cancelled),
                error: row.undo_error,
                asked_at: row.undo_asked_at.unwrap_or_default(),
                started_at: row.undo_started_at,
                finished_at: row.undo_finished_at,
                chunks: from_db(row.undo_chunks),
                chunks_done: from_db(row.undo_chunks_done),
            }),
        })
    }
}
