//! What workers do with an import: [`plan_import`] readies it and splits it
//! into chunks of consecutive rows; [`run_chunk`] creates the users of one
//! chunk, a batch at a time, until its rows end or a stop is asked;
//! [`run_import`] does both for a whole import in this process.
//!
//! A chunk's rows are read from the stored file on a blocking thread (the
//! rows before the chunk are passed over unchecked) and handed over in
//! batches while earlier batches are being written, so parsing and the
//! database overlap; on PostgreSQL two batches are written at once, each in
//! its own transaction. Everything a chunk does is in the database,
//! committed batch by batch: a chunk that dies and is run again skips every
//! row that has a result, and creates nothing twice.
//!
//! Extensions for rows that leave theirs empty are claimed before each
//! batch from the import's cursor (`Store::claim_extensions`), in file
//! order within a chunk; chunks written at once take separate blocks.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use roster_store::{
    Account, BatchCounts, Chunk, Import, ImportId, ImportState, LockSharing, Plan, RowInput, Store,
    chunk_rows,
};
use roster_template::Column;
use roster_validate::{
    Extension, ExtensionPolicy, Limits, Opened, Options, Role, RowReader, RowStart,
};
use tokio::sync::{mpsc, watch};
use tracing::{info, instrument};

use crate::Error;

/// Whether the worker running a chunk is to stop: the chunk then ends at
/// its next batch, and is left for another worker.
#[derive(Debug, Clone)]
pub struct Stop(Option<watch::Receiver<bool>>);

/// How a chunk's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkRun {
    /// Its rows are written, or there was nothing to do.
    Done,
    /// Its worker is stopping: the rows after the last batch written wait
    /// for another run.
    Left,
}

/// How an import is run.
#[derive(Debug, Clone, Copy)]
pub struct RunConfig {
    /// Rows written per transaction; a stop is noticed between batches.
    pub batch_rows: usize,
}

impl Default for RunConfig {
    fn default() -> RunConfig {
        RunConfig { batch_rows: 2000 }
    }
}

impl Stop {
    /// A run nothing stops but the import's own stop.
    pub fn never() -> Stop {
        Stop(None)
    }

    /// Stops once `stopping` turns true.
    pub fn when(stopping: watch::Receiver<bool>) -> Stop {
        Stop(Some(stopping))
    }

    pub(crate) fn asked(&self) -> bool {
        self.0.as_ref().is_some_and(|s| *s.borrow())
    }
}

/// Runs the import to its end in this process: plans it, then runs its
/// chunks one after another. Does nothing to an import that has already
/// finished.
pub async fn run_import(store: &Store, id: &ImportId, config: RunConfig) -> Result<(), Error> {
    let Some(chunks) = plan_import(store, id).await? else {
        return Ok(());
    };
    for chunk in chunks {
        run_chunk(store, id, chunk.seq, "this process", config, &Stop::never()).await?;
    }
    Ok(())
}

/// Readies the import to run: marks it running, and splits it into
/// chunks. The chunks still to do; `None` when the import is not to run
/// (stopped before it started, or finished).
#[instrument(skip_all, fields(import_id = %id))]
pub async fn plan_import(store: &Store, id: &ImportId) -> Result<Option<Vec<Chunk>>, Error> {
    let import = store.existing_import(id).await?;
    if !store.start_import(import.key).await? {
        // Stopped before it started, or finished by an earlier delivery.
        if store.import_state(import.key).await? == ImportState::Stopping {
            store.finish_import(import.key).await?;
        }
        return Ok(None);
    }
    if import.mode.plans() {
        write_linked(store, &import).await?;
    }
    let starts = if import.chunks == 0 && import.total > chunk_rows(&import) {
        let account = store.existing_account(&import.account_slug).await?;
        let options = reading_options(&import, &account);
        chunk_starts(store, &import, options).await?
    } else {
        Vec::new()
    };
    let chunks = store.plan_chunks(&import, &starts).await?;
    info!(chunks = chunks.len(), "planned");
    Ok(Some(chunks.into_iter().filter(|c| !c.done).collect()))
}

/// Creates the users of the import's chunk `seq`, then marks the chunk
/// done, and the import too when that was its last chunk. `worker` names
/// who runs it. Does nothing to a chunk or an import that is done. When
/// `stop` is asked, the chunk ends at its next batch and is not done.
#[instrument(skip_all, fields(import_id = %id, chunk = seq))]
pub async fn run_chunk(
    store: &Store,
    id: &ImportId,
    seq: u64,
    worker: &str,
    config: RunConfig,
    stop: &Stop,
) -> Result<ChunkRun, Error> {
    let import = store.existing_import(id).await?;
    if !import.state.is_active() || !store.start_chunk(import.key, seq, worker).await? {
        return Ok(ChunkRun::Done);
    }
    let Some(chunk) = store
        .chunks(import.key)
        .await?
        .into_iter()
        .find(|c| c.seq == seq)
    else {
        return Ok(ChunkRun::Done);
    };
    if store.import_state(import.key).await? == ImportState::Stopping {
        store.finish_chunk(import.key, seq).await?;
        return Ok(ChunkRun::Done);
    }
    let outcome = write_chunk(store, Arc::new(import.clone()), &chunk, config, stop).await;
    match outcome {
        Ok(ChunkRun::Done) => {
            store.finish_chunk(import.key, seq).await?;
            info!("chunk done");
            Ok(ChunkRun::Done)
        }
        Ok(ChunkRun::Left) => {
            info!("chunk left for another run: the worker is stopping");
            Ok(ChunkRun::Left)
        }
        Err(e @ Error::FileRefused(_)) => {
            store.fail_import(import.key, &e.to_string()).await?;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// Reads the chunk's rows and writes them, batch by batch, until they end,
/// the import's stop is asked (the chunk is done), or the worker's is
/// (the chunk is left).
async fn write_chunk(
    store: &Store,
    import: Arc<Import>,
    chunk: &Chunk,
    config: RunConfig,
    stop: &Stop,
) -> Result<ChunkRun, Error> {
    let account = Arc::new(store.existing_account(&import.account_slug).await?);
    let locations = Arc::new(store.location_ids(&account).await?);
    let reserved = store.reserved_extensions(import.key).await?;
    let options = reading_options(&import, &account);
    let writers = store.batch_writers();
    let sharing = store.lock_sharing();
    let mut held_since = Instant::now();

    let (batches, mut incoming) = mpsc::channel::<Result<Vec<RowInput>, Error>>(2);
    let reader = {
        let store = store.clone();
        let key = import.key;
        let runtime = tokio::runtime::Handle::current();
        let (start, skip, take) = (chunk.start, chunk.first_row, chunk.rows);
        tokio::task::spawn_blocking(move || {
            let sent = (|| {
                let file = Box::new(store.stored_file(key, runtime.clone()));
                let mut reader = open(file, &options)?;
                let skip = match start {
                    Some(start) => {
                        let rest = store.stored_file_from(key, runtime, start.offset);
                        reader.resume(Box::new(rest), start);
                        0
                    }
                    None => skip,
                };
                read_batches(&mut reader, config.batch_rows, skip, take, &batches)
            })();
            if let Err(e) = sent {
                let _ = batches.blocking_send(Err(e));
            }
        })
    };
    let mut outcome = Ok(ChunkRun::Done);
    let mut in_flight: VecDeque<tokio::task::JoinHandle<Written>> = VecDeque::new();
    let mut spare = Vec::new();
    while let Some(batch) = incoming.recv().await {
        let batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                outcome = Err(e);
                break;
            }
        };
        if stop.asked() {
            outcome = Ok(ChunkRun::Left);
            break;
        }
        if store.import_state(import.key).await? == ImportState::Stopping {
            info!("stop noticed");
            break;
        }
        if in_flight.len() == writers
            && let Some(oldest) = in_flight.pop_front()
        {
            if let Err(e) = written(oldest.await, &mut spare) {
                outcome = Err(e);
                break;
            }
            if let Some(sharing) = sharing
                && (store.writer_waiting() || held_since.elapsed() >= sharing.every)
            {
                share_lock(store, sharing).await;
                held_since = Instant::now();
            }
        }
        let plan = if import.mode.plans() {
            let lines: Vec<u64> = batch.iter().map(RowInput::line).collect();
            store.plan_rows(import.key, &lines).await?
        } else {
            Plan::new()
        };
        let mut extensions = if import.voice {
            extensions_for(
                store, &import, &account, &reserved, &batch, &plan, &mut spare,
            )
            .await?
        } else {
            VecDeque::new()
        };
        let (store, import, account, locations) = (
            store.clone(),
            import.clone(),
            account.clone(),
            locations.clone(),
        );
        in_flight.push_back(tokio::spawn(async move {
            let counts = store
                .write_users(
                    &import,
                    &account,
                    &locations,
                    &batch,
                    &mut extensions,
                    &plan,
                    false,
                )
                .await?;
            Ok((counts, extensions))
        }));
    }
    drop(incoming);
    // Every batch handed out is written to its end before the chunk ends.
    for batch in in_flight {
        if let Err(e) = written(batch.await, &mut spare)
            && outcome.is_ok()
        {
            outcome = Err(e);
        }
    }
    reader.await.map_err(|e| Error::Task(e.to_string()))?;
    outcome
}

/// Lets go of SQLite's write lock: until this process's waiting writes are
/// done, or for the whole pause when none waits (for other processes).
pub(crate) async fn share_lock(store: &Store, sharing: LockSharing) {
    let started = Instant::now();
    if !store.writer_waiting() {
        tokio::time::sleep(sharing.pause).await;
        return;
    }
    while store.writer_waiting() && started.elapsed() < sharing.pause {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Extensions for the rows of `batch` that create users and name none
/// (the plan's other rows keep their users'): the spares of earlier
/// batches first (lowest first), then new ones claimed from the import's
/// cursor.
async fn extensions_for(
    store: &Store,
    import: &Import,
    account: &Account,
    reserved: &HashSet<Extension>,
    batch: &[RowInput],
    plan: &Plan,
    spare: &mut Vec<Extension>,
) -> Result<VecDeque<Extension>, Error> {
    let needed = batch
        .iter()
        .filter(|row| {
            matches!(row, RowInput::Valid(v) if v.extension.is_none()
                && plan.get(&v.line).is_none_or(|e| e.before.is_none()))
        })
        .count();
    spare.sort_unstable_by(|a, b| b.cmp(a));
    let mut given: VecDeque<Extension> = VecDeque::with_capacity(needed);
    while given.len() < needed
        && let Some(e) = spare.pop()
    {
        given.push_back(e);
    }
    if given.len() < needed {
        let claimed = store
            .claim_extensions(import, account, needed - given.len(), reserved)
            .await?;
        given.extend(claimed);
    }
    Ok(given)
}

/// What a batch's task gives back: its counts, and the extensions it was
/// given and did not use.
type Written = Result<(BatchCounts, VecDeque<Extension>), roster_store::Error>;

/// The outcome of a batch's task; its unused extensions go to `spare`.
fn written(
    joined: Result<Written, tokio::task::JoinError>,
    spare: &mut Vec<Extension>,
) -> Result<(), Error> {
    match joined {
        Ok(Ok((_, unused))) => {
            spare.extend(unused);
            Ok(())
        }
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(Error::Task(e.to_string())),
    }
}

/// Passes over the file's first `skip` rows, then sends the next `take`
/// in batches. Stops quietly when the receiver is gone (the run stopped).
fn read_batches(
    reader: &mut RowReader,
    batch_rows: usize,
    skip: u64,
    take: u64,
    batches: &mpsc::Sender<Result<Vec<RowInput>, Error>>,
) -> Result<(), Error> {
    for _ in 0..skip {
        if skip_row(reader)?.is_none() {
            return Ok(());
        }
    }
    let mut batch = Vec::with_capacity(batch_rows);
    let mut taken = 0;
    while taken < take
        && let Some(row) = next_row(reader)?
    {
        taken += 1;
        batch.push(row_input(reader, row));
        if batch.len() == batch_rows {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_rows));
            if batches.blocking_send(Ok(full)).is_err() {
                return Ok(());
            }
        }
    }
    if !batch.is_empty() {
        let _ = batches.blocking_send(Ok(batch));
    }
    Ok(())
}

/// A row read for writing.
fn row_input(reader: &RowReader, row: roster_validate::ImportRow) -> RowInput {
    match row.row {
        Ok(valid) => RowInput::Valid(valid),
        Err(errors) => RowInput::Invalid {
            line: row.line,
            email: Some(reader.cell(Column::Email).to_string()).filter(|e| !e.is_empty()),
            errors,
        },
    }
}

/// Where each chunk after the first starts in the file, found in one pass
/// over its rows, so that a chunk's reader goes straight there. Empty for a
/// transcoded file (UTF-16), whose chunks pass over the rows before them.
async fn chunk_starts(
    store: &Store,
    import: &Import,
    options: Options,
) -> Result<Vec<RowStart>, Error> {
    let per_chunk = chunk_rows(import);
    let file = Box::new(store.stored_file(import.key, tokio::runtime::Handle::current()));
    tokio::task::spawn_blocking(move || {
        let mut reader = open(file, &options)?;
        let mut starts = Vec::new();
        let mut row = 0u64;
        while skip_row(&mut reader)?.is_some() {
            if row > 0 && row.is_multiple_of(per_chunk) {
                match reader.start() {
                    Some(start) => starts.push(start),
                    None => return Ok(Vec::new()),
                }
            }
            row += 1;
        }
        Ok(starts)
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))?
}

/// Writes the plan's linked rows — those that take what another row of the
/// file gives up — together, in one transaction, before any chunk runs:
/// two users swapping extensions are each before or after their row, never
/// between. Does nothing when they are written (a job delivered twice).
async fn write_linked(store: &Store, import: &Import) -> Result<(), Error> {
    let linked = store.linked_rows(import.key).await?;
    if linked.is_empty() {
        return Ok(());
    }
    let account = store.existing_account(&import.account_slug).await?;
    let locations = store.location_ids(&account).await?;
    let options = reading_options(import, &account);
    let file = Box::new(store.stored_file(import.key, tokio::runtime::Handle::current()));
    let wanted: HashSet<u64> = linked.iter().copied().collect();
    let rows = tokio::task::spawn_blocking(move || {
        let mut reader = open(file, &options)?;
        let mut rows = Vec::with_capacity(wanted.len());
        while rows.len() < wanted.len()
            && let Some(row) = next_row(&mut reader)?
        {
            if wanted.contains(&row.line) {
                rows.push(row_input(&reader, row));
            }
        }
        Ok::<_, Error>(rows)
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))??;
    let plan = store.plan_rows(import.key, &linked).await?;
    let reserved = store.reserved_extensions(import.key).await?;
    let mut spare = Vec::new();
    let mut extensions = if import.voice {
        extensions_for(store, import, &account, &reserved, &rows, &plan, &mut spare).await?
    } else {
        VecDeque::new()
    };
    let counts = store
        .write_users(
            import,
            &account,
            &locations,
            &rows,
            &mut extensions,
            &plan,
            true,
        )
        .await?;
    info!(
        rows = rows.len(),
        updated = counts.updated,
        created = counts.created,
        "linked rows written"
    );
    Ok(())
}

/// How an import's stored file is read again: with the import's options and
/// no limits (the file passed them when it was uploaded).
pub(crate) fn reading_options(import: &Import, account: &Account) -> Options {
    reading(import, account.extensions, account.default_role)
}

/// [`reading_options`] under an extension policy and a default role.
pub(crate) fn reading(import: &Import, extensions: ExtensionPolicy, default_role: Role) -> Options {
    Options {
        voice: import.voice,
        limits: Limits {
            max_bytes: u64::MAX,
            max_rows: u64::MAX,
            ..Limits::DEFAULT
        },
        extensions,
        mode: import.mode,
        default_role,
    }
}

/// Opens a stored file for reading rows.
pub(crate) fn open(
    file: Box<dyn std::io::Read + Send>,
    options: &Options,
) -> Result<Box<RowReader>, Error> {
    match RowReader::open(file, options)? {
        Opened::Rows(reader) => Ok(reader),
        Opened::Refused(report) => {
            let why = report
                .file_errors
                .first()
                .map_or_else(|| "refused".to_string(), |e| e.message.clone());
            Err(Error::FileRefused(why))
        }
    }
}

/// Passes over the next row; a file that can no longer be read is refused.
fn skip_row(reader: &mut RowReader) -> Result<Option<u64>, Error> {
    reader.skip_row().map_err(refused)
}

/// The next row; a file that can no longer be read is refused, not retried.
pub(crate) fn next_row(
    reader: &mut RowReader,
) -> Result<Option<roster_validate::ImportRow>, Error> {
    reader.next_row().map_err(refused)
}

fn refused(e: roster_validate::Error) -> Error {
    match e {
        roster_validate::Error::Unreadable(why) => Error::FileRefused(why.message),
        other => Error::File(other),
    }
}
