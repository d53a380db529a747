//! Imports: one uploaded file each, its state and counts.
//!
//! The database holds the truth about an import: its state changes by
//! conditional updates, so a worker, a `stop` and a second worker can race
//! and the outcome is still one of the contract's transitions. The file is
//! kept in the database too, in blocks, so any worker on any machine that
//! shares the database can read it; its name as uploaded is only shown.

use std::fmt;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::convert::{from_db, to_db};
use crate::error::Context;
use crate::queue::{CHUNK_QUEUE, chunk_key_prefix};
use crate::store::{Db, with_pool};
use roster_validate::Extension;

use crate::{Account, AccountId, AccountSlug, DeliveryCounts, DeliveryPace, Error, Store, time};

/// How big a block of a stored file is.
pub(crate) const BLOCK_BYTES: usize = 1 << 20;

/// An import's id outside roster: a UUID, so ids cannot be guessed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImportId(String); // Invariant: a lower-case hyphenated UUID.

/// An import's row id inside the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImportKey(pub(crate) i64);

/// Where an import is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportState {
    Queued,
    Running,
    Stopping,
    Stopped,
    Completed,
    CompletedWithErrors,
    Failed,
}

/// How temporary passwords reach the users of an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordDelivery {
    /// To each user's own email.
    Users,
    /// Not at all.
    None,
    /// All to one address, one message per user.
    To(roster_validate::Email),
}

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
    /// The extensions the rows name (validation's report has them);
    /// `None`: not known, read from the file when the import is planned.
    pub reserved_extensions: Option<Vec<Extension>>,
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
    pub total: u64,
    pub processed: u64,
    pub created: u64,
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
}

impl ImportId {
    fn new() -> ImportId {
        ImportId(uuid::Uuid::new_v4().hyphenated().to_string())
    }

    /// Parses an id as given on the command line or in a URL.
    pub fn parse(s: &str) -> Option<ImportId> {
        uuid::Uuid::try_parse(s.trim())
            .ok()
            .map(|u| ImportId(u.hyphenated().to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ImportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ImportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportState::Queued => "queued",
            ImportState::Running => "running",
            ImportState::Stopping => "stopping",
            ImportState::Stopped => "stopped",
            ImportState::Completed => "completed",
            ImportState::CompletedWithErrors => "completed_with_errors",
            ImportState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<ImportState> {
        [
            ImportState::Queued,
            ImportState::Running,
            ImportState::Stopping,
            ImportState::Stopped,
            ImportState::Completed,
            ImportState::CompletedWithErrors,
            ImportState::Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }

    /// Queued, running or stopping: the account's one active import.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            ImportState::Queued | ImportState::Running | ImportState::Stopping
        )
    }
}

impl fmt::Display for ImportState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PasswordDelivery {
    /// `users`, `none` or `to:ADDRESS`.
    pub fn parse(s: &str) -> Option<PasswordDelivery> {
        match s {
            "users" => Some(PasswordDelivery::Users),
            "none" => Some(PasswordDelivery::None),
            _ => s
                .strip_prefix("to:")
                .and_then(|a| roster_validate::Email::parse(a).ok())
                .map(PasswordDelivery::To),
        }
    }
}

impl PasswordDelivery {
    /// Whether each new user gets a message with a temporary password.
    pub fn sends(&self) -> bool {
        !matches!(self, PasswordDelivery::None)
    }
}

impl fmt::Display for PasswordDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordDelivery::Users => f.write_str("users"),
            PasswordDelivery::None => f.write_str("none"),
            PasswordDelivery::To(address) => write!(f, "to:{address}"),
        }
    }
}

const SELECT_IMPORT: &str = "SELECT i.id, i.public_id, i.account_id, a.slug, i.state, i.file_name, \
    i.file_bytes, i.voice, i.passwords, i.total, i.processed, i.created, i.failed, i.not_processed, \
    i.error, i.created_at, i.started_at, i.finished_at, i.deliveries_queued, i.deliveries_sent, \
    i.deliveries_failed, i.deliveries_window_ms, i.deliveries_window_count, i.deliveries_rate_milli, \
    i.deliveries_settled_ms, i.chunk_rows, i.chunks, i.chunks_done \
    FROM imports i JOIN accounts a ON a.id = i.account_id";

#[derive(sqlx::FromRow)]
struct ImportRow {
    id: i64,
    public_id: String,
    account_id: i64,
    slug: String,
    state: String,
    file_name: String,
    file_bytes: i64,
    voice: bool,
    passwords: String,
    total: i64,
    processed: i64,
    created: i64,
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
}

/// Ends the import `$1` at `$2` once all its chunks are done: stopped if a
/// stop was asked, else completed, with errors if any row was not created.
pub(crate) const FINISH_IMPORT: &str = "UPDATE imports SET \
    state = CASE WHEN state = 'stopping' THEN 'stopped' \
                 WHEN failed > 0 OR processed < total THEN 'completed_with_errors' \
                 ELSE 'completed' END, \
    not_processed = total - processed, finished_at = $2 \
    WHERE id = $1 AND state IN ('running', 'stopping') AND chunks_done >= chunks";

impl Store {
    /// Stores the file and queues the import, in one transaction. Fails with
    /// [`Error::ImportActive`] when the account already has an import queued
    /// or running: the database's unique index decides, not a check first.
    pub async fn create_import(
        &self,
        new: &NewImport,
        file: &mut (dyn AsyncRead + Unpin + Send),
    ) -> Result<Import, Error> {
        let id = ImportId::new();
        const INSERT: &str = "INSERT INTO imports (public_id, account_id, state, file_name, voice, \
            passwords, total, created_at, chunk_rows) \
            VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $8) RETURNING id";
        const RESERVED: &str =
            "INSERT INTO import_reserved_extensions (import_id, extensions) VALUES ($1, $2)";
        const BLOCK: &str =
            "INSERT INTO import_file_blocks (import_id, seq, bytes) VALUES ($1, $2, $3)";
        const SIZE: &str = "UPDATE imports SET file_bytes = $2 WHERE id = $1";
        let total = to_db(new.total);
        let _waiting = self.waiting_writer();
        let result: Result<(), Error> = with_pool!(&self.db, pool => {
            let mut tx = pool.begin().await.context("starting a transaction")?;
            let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(INSERT)
                .bind(id.as_str())
                .bind(new.account.get())
                .bind(new.file_name.as_str())
                .bind(new.voice)
                .bind(new.passwords.to_string())
                .bind(total)
                .bind(time::now())
                .bind(to_db(new.chunk_rows))
                .fetch_one(&mut *tx)
                .await;
            let key = match inserted {
                Ok((key,)) => key,
                Err(e) if is_unique_violation(&e) => {
                    drop(tx);
                    return self.active_import_error(new.account).await;
                }
                Err(e) => return Err(Error::Query { what: "queueing the import", source: e }),
            };
            if let Some(reserved) = &new.reserved_extensions {
                sqlx::query(RESERVED)
                    .bind(key)
                    .bind(crate::chunk::extensions_text(reserved))
                    .execute(&mut *tx)
                    .await
                    .context("storing the file's extensions")?;
            }
            let mut bytes = 0u64;
            let mut seq = 0i64;
            loop {
                let block = read_block(file).await.map_err(Error::Upload)?;
                if block.is_empty() {
                    break;
                }
                bytes += block.len() as u64;
                sqlx::query(BLOCK)
                    .bind(key)
                    .bind(seq)
                    .bind(block)
                    .execute(&mut *tx)
                    .await
                    .context("storing the file")?;
                seq += 1;
            }
            sqlx::query(SIZE)
                .bind(key)
                .bind(to_db(bytes))
                .execute(&mut *tx)
                .await
                .context("storing the file")?;
            tx.commit().await.context("committing the import")?;
            Ok(())
        });
        result?;
        self.import(&id)
            .await?
            .ok_or_else(|| Error::NoImport(id.to_string()))
    }

    /// The import with this id, if there is one.
    pub async fn import(&self, id: &ImportId) -> Result<Option<Import>, Error> {
        let row: Option<ImportRow> = with_pool!(&self.db, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_IMPORT} WHERE i.public_id = $1")))
                .bind(id.as_str())
                .fetch_optional(pool)
                .await
        })
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
        let rows: Vec<ImportRow> = with_pool!(&self.db, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT_IMPORT} WHERE i.public_id >= $1 AND i.public_id < $2 \
                 AND i.public_id LIKE $3 ORDER BY i.public_id LIMIT $4"
            )))
            .bind(prefix.as_str())
            .bind(upper.as_str())
            .bind(like.as_str())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })
        .context("looking up imports by id prefix")?;
        rows.into_iter().map(Import::try_from).collect()
    }

    /// Marks the import running when a worker takes it up. False when it is
    /// no longer queued or running (stopped before it started, finished by
    /// an earlier delivery of the same job).
    pub async fn start_import(&self, key: ImportKey) -> Result<bool, Error> {
        const SQL: &str = "UPDATE imports SET state = 'running', started_at = COALESCE(started_at, $2) \
            WHERE id = $1 AND state IN ('queued', 'running')";
        let done = with_pool!(&self.db, pool => {
            sqlx::query(SQL).bind(key.0).bind(time::now()).execute(pool).await.map(|r| r.rows_affected())
        })
        .context("starting the import")?;
        Ok(done == 1)
    }

    /// Asks the import to stop. A queued import stops at once. A running
    /// one is marked stopping, and in the same transaction its chunks not
    /// yet taken are marked done and their jobs dropped from the queue: it
    /// is stopped once the chunks being written reach the end of their
    /// batch (at once when none is), however many chunks it had.
    pub async fn stop_import(&self, id: &ImportId) -> Result<StopOutcome, Error> {
        const STOP: &str = "UPDATE imports SET \
            state = CASE WHEN state = 'queued' THEN 'stopped' ELSE 'stopping' END, \
            not_processed = CASE WHEN state = 'queued' THEN total ELSE not_processed END, \
            finished_at = CASE WHEN state = 'queued' THEN $2 ELSE finished_at END \
            WHERE public_id = $1 AND state IN ('queued', 'running') RETURNING id, state, chunks";
        const DROP_CHUNKS: &str = "UPDATE import_chunks SET state = 'done', finished_at = $2 \
            WHERE import_id = $1 AND state = 'queued'";
        const COUNT: &str = "UPDATE imports SET chunks_done = chunks_done + $2 WHERE id = $1";
        const DROP_JOBS_SQLITE: &str = "UPDATE Jobs SET status = 'Killed', \
            done_at = strftime('%s', 'now') WHERE job_type = $1 \
            AND status IN ('Pending', 'Failed') AND idempotency_key LIKE $2";
        const DROP_JOBS_POSTGRES: &str = "UPDATE apalis.jobs SET status = 'Killed', done_at = now() \
            WHERE job_type = $1 AND status IN ('Pending', 'Failed') AND idempotency_key LIKE $2";
        let drop_jobs = match &self.db {
            Db::Sqlite(_) => DROP_JOBS_SQLITE,
            Db::Postgres(_) => DROP_JOBS_POSTGRES,
        };
        let jobs = format!("{}%", chunk_key_prefix(id));
        let waiting = self.waiting_writer();
        let changed: Option<(i64, String, i64)> = with_pool!(&self.db, pool => {
            let mut tx = pool.begin().await.context("starting a transaction")?;
            let changed: Option<(i64, String, i64)> = sqlx::query_as(STOP)
                .bind(id.as_str())
                .bind(time::now())
                .fetch_optional(&mut *tx)
                .await
                .context("stopping the import")?;
            // Chunks not planned yet are being planned right now: their
            // planner sees the stop.
            if let Some((key, state, chunks)) = &changed
                && state == ImportState::Stopping.as_str()
                && *chunks > 0
            {
                let dropped = sqlx::query(DROP_CHUNKS)
                    .bind(key)
                    .bind(time::now())
                    .execute(&mut *tx)
                    .await
                    .context("dropping the import's chunks")?;
                sqlx::query(COUNT)
                    .bind(key)
                    .bind(to_db(dropped.rows_affected()))
                    .execute(&mut *tx)
                    .await
                    .context("counting the import's chunks")?;
                sqlx::query(drop_jobs)
                    .bind(CHUNK_QUEUE)
                    .bind(&jobs)
                    .execute(&mut *tx)
                    .await
                    .context("dropping the import's chunk jobs")?;
                // No chunk being written: stopped now.
                sqlx::query(FINISH_IMPORT)
                    .bind(key)
                    .bind(time::now())
                    .execute(&mut *tx)
                    .await
                    .context("finishing the import")?;
            }
            tx.commit().await.context("committing the stop")?;
            Ok::<_, Error>(changed)
        })?;
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
        let (state,): (String,) = with_pool!(&self.db, pool => {
            sqlx::query_as(SQL).bind(key.0).fetch_one(pool).await
        })
        .context("reading the import's state")?;
        ImportState::parse(&state).ok_or(Error::Corrupt("an import state"))
    }

    /// Ends a running or stopping import once every chunk is done: stopped
    /// if a stop was asked, else completed, with errors if any row failed.
    /// Rows without a result count as not processed. A finished import, or
    /// one with a chunk still to do, is left as it is: whichever chunk ends
    /// last ends the import, once.
    pub async fn finish_import(&self, key: ImportKey) -> Result<(), Error> {
        with_pool!(&self.db, pool => {
            sqlx::query(FINISH_IMPORT).bind(key.0).bind(time::now()).execute(pool).await.map(|_| ())
        })
        .context("finishing the import")?;
        Ok(())
    }

    /// Ends an import that could not run (its file unreadable, say), keeping
    /// the reason.
    pub async fn fail_import(&self, key: ImportKey, error: &str) -> Result<(), Error> {
        const SQL: &str = "UPDATE imports SET state = 'failed', error = $2, \
            not_processed = total - processed, finished_at = $3 \
            WHERE id = $1 AND state IN ('queued', 'running', 'stopping')";
        with_pool!(&self.db, pool => {
            sqlx::query(SQL).bind(key.0).bind(error).bind(time::now()).execute(pool).await.map(|_| ())
        })
        .context("failing the import")?;
        Ok(())
    }

    /// The account's imports, newest first, at most `limit`.
    pub async fn account_imports(
        &self,
        account: &Account,
        limit: u32,
    ) -> Result<Vec<Import>, Error> {
        let rows: Vec<ImportRow> = with_pool!(&self.db, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT_IMPORT} WHERE i.account_id = $1 ORDER BY i.id DESC LIMIT $2"
            )))
            .bind(account.id.get())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })
        .context("listing imports")?;
        rows.into_iter().map(Import::try_from).collect()
    }

    /// Imports not finished (queued, running or stopping), oldest first: a
    /// worker starting up queues their jobs again, in case a push was lost
    /// or their worker died.
    pub async fn unfinished_imports(&self) -> Result<Vec<ImportId>, Error> {
        const SQL: &str = "SELECT public_id FROM imports WHERE state IN ('queued', 'running', 'stopping') ORDER BY id";
        let rows: Vec<(String,)> = with_pool!(&self.db, pool => {
            sqlx::query_as(SQL).fetch_all(pool).await
        })
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

    async fn active_import_error<T>(&self, account: AccountId) -> Result<T, Error> {
        let (id, state) = self.active_import(account).await?.unwrap_or_default();
        Err(Error::ImportActive { id, state })
    }

    /// The account's import queued or running, by id and state.
    async fn active_import(&self, account: AccountId) -> Result<Option<(String, String)>, Error> {
        const SQL: &str = "SELECT public_id, state FROM imports \
            WHERE account_id = $1 AND state IN ('queued', 'running', 'stopping')";
        with_pool!(&self.db, pool => {
            sqlx::query_as(SQL).bind(account.get()).fetch_optional(pool).await
        })
        .context("reading the active import")
    }
}

/// Reads up to one block from `file`; empty at the end.
async fn read_block(file: &mut (dyn AsyncRead + Unpin + Send)) -> std::io::Result<Vec<u8>> {
    let mut block = Vec::with_capacity(BLOCK_BYTES);
    file.take(BLOCK_BYTES as u64)
        .read_to_end(&mut block)
        .await?;
    Ok(block)
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
            state: ImportState::parse(&row.state).ok_or(Error::Corrupt("an import state"))?,
            file_name: row.file_name,
            file_bytes: from_db(row.file_bytes),
            voice: row.voice,
            passwords: PasswordDelivery::parse(&row.passwords)
                .ok_or(Error::Corrupt("a password delivery"))?,
            total: from_db(row.total),
            processed: from_db(row.processed),
            created: from_db(row.created),
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
        })
    }
}
