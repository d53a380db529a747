//! `run_import`: what a worker does with an import — create its users, a
//! batch at a time, until the file ends or a stop is asked.
//!
//! The file is read on a blocking thread and handed over in batches while
//! earlier batches are being written, so parsing and the database overlap;
//! on PostgreSQL two batches are written at once, each in its own
//! transaction. Everything the run does is in the database, committed batch
//! by batch: a run that dies and is delivered again skips every row that has
//! a result, and creates nothing twice.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use roster_store::{
    BatchCounts, ExtensionAllocator, Import, ImportId, ImportState, RowInput, Store,
};
use roster_template::Column;
use roster_validate::{Extension, ExtensionPolicy, Limits, Opened, Options, RowReader};
use tokio::sync::mpsc;
use tracing::{info, instrument};

use crate::Error;

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

/// Runs the import to its end: completed, completed with errors, or
/// stopped. Does nothing to an import that has already finished.
#[instrument(skip_all, fields(import_id = %id))]
pub async fn run_import(store: &Store, id: &ImportId, config: RunConfig) -> Result<(), Error> {
    let import = store.existing_import(id).await?;
    if !store.start_import(import.key).await? {
        // Stopped before it started, or finished by an earlier delivery.
        if store.import_state(import.key).await? == ImportState::Stopping {
            store.finish_import(import.key).await?;
        }
        return Ok(());
    }
    let import = Arc::new(store.existing_import(id).await?);
    let account = Arc::new(store.existing_account(&import.account_slug).await?);
    let locations = Arc::new(store.location_ids(&account).await?);
    let options = reading_options(&import, account.extensions);
    let writers = store.batch_writers();
    let pause = store.pause_between_batches();
    info!(writers, "running");

    let reserved = if import.voice {
        explicit_extensions(store, &import, options).await?
    } else {
        HashSet::new()
    };
    let extensions = Arc::new(ExtensionAllocator::new(&account, reserved));

    let (batches, mut incoming) = mpsc::channel::<Result<Vec<RowInput>, Error>>(2);
    let reader = {
        let store = store.clone();
        let key = import.key;
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let file = Box::new(store.stored_file(key, runtime));
            let sent = read_batches(file, options, config.batch_rows, &batches);
            if let Err(e) = sent {
                let _ = batches.blocking_send(Err(e));
            }
        })
    };
    let mut outcome = Ok(());
    let mut in_flight: VecDeque<tokio::task::JoinHandle<Result<BatchCounts, roster_store::Error>>> =
        VecDeque::new();
    while let Some(batch) = incoming.recv().await {
        let batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                outcome = Err(e);
                break;
            }
        };
        if store.import_state(import.key).await? == ImportState::Stopping {
            info!("stop noticed");
            break;
        }
        if in_flight.len() == writers
            && let Some(oldest) = in_flight.pop_front()
        {
            if let Err(e) = written(oldest.await) {
                outcome = Err(e);
                break;
            }
            tokio::time::sleep(pause).await;
        }
        let ticket = extensions.ticket();
        let (store, import, account, locations, extensions) = (
            store.clone(),
            import.clone(),
            account.clone(),
            locations.clone(),
            extensions.clone(),
        );
        in_flight.push_back(tokio::spawn(async move {
            store
                .create_users(&import, &account, &locations, &batch, &extensions, ticket)
                .await
        }));
    }
    drop(incoming);
    // Every batch handed out is written to its end before the run ends.
    for batch in in_flight {
        if let Err(e) = written(batch.await)
            && outcome.is_ok()
        {
            outcome = Err(e);
        }
    }
    reader.await.map_err(|e| Error::Task(e.to_string()))?;
    match outcome {
        Ok(()) => {
            store.finish_import(import.key).await?;
            info!("finished");
            Ok(())
        }
        Err(e @ Error::FileRefused(_)) => {
            store.fail_import(import.key, &e.to_string()).await?;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// The outcome of a batch's task.
fn written(
    joined: Result<Result<BatchCounts, roster_store::Error>, tokio::task::JoinError>,
) -> Result<(), Error> {
    match joined {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(Error::Task(e.to_string())),
    }
}

/// Reads the file's rows and sends them in batches. Stops quietly when the
/// receiver is gone (the run stopped).
fn read_batches(
    file: Box<dyn std::io::Read + Send>,
    options: Options,
    batch_rows: usize,
    batches: &mpsc::Sender<Result<Vec<RowInput>, Error>>,
) -> Result<(), Error> {
    let mut reader = open(file, &options)?;
    let mut batch = Vec::with_capacity(batch_rows);
    while let Some(row) = next_row(&mut reader)? {
        batch.push(match row.row {
            Ok(valid) => RowInput::Valid(valid),
            Err(errors) => RowInput::Invalid {
                line: row.line,
                email: Some(reader.cell(Column::Email).to_string()).filter(|e| !e.is_empty()),
                errors,
            },
        });
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

/// The extensions the file asks for by name: roster never assigns them to
/// another row, so no later row finds its own extension taken.
async fn explicit_extensions(
    store: &Store,
    import: &Import,
    options: Options,
) -> Result<HashSet<Extension>, Error> {
    let file = Box::new(store.stored_file(import.key, tokio::runtime::Handle::current()));
    tokio::task::spawn_blocking(move || {
        let mut reader = open(file, &options)?;
        let mut reserved = HashSet::new();
        while let Some(row) = next_row(&mut reader)? {
            if let Ok(valid) = row.row {
                reserved.extend(valid.extension);
            }
        }
        Ok(reserved)
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))?
}

/// How an import's stored file is read again: with the import's options and
/// no limits (the file passed them when it was uploaded).
pub(crate) fn reading_options(import: &Import, extensions: ExtensionPolicy) -> Options {
    Options {
        voice: import.voice,
        limits: Limits {
            max_bytes: u64::MAX,
            max_rows: u64::MAX,
            ..Limits::DEFAULT
        },
        extensions,
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

/// The next row; a file that can no longer be read is refused, not retried.
pub(crate) fn next_row(
    reader: &mut RowReader,
) -> Result<Option<roster_validate::ImportRow>, Error> {
    reader.next_row().map_err(|e| match e {
        roster_validate::Error::Unreadable(why) => Error::FileRefused(why),
        other => Error::File(other),
    })
}
