//! `run_import`: what a worker does with an import — create its users, a
//! batch at a time, until the file ends or a stop is asked.
//!
//! The file is read on a blocking thread and handed over in batches while
//! the previous batch is being written, so parsing and the database overlap.
//! Everything the run does is in the database, committed batch by batch:
//! a run that dies and is delivered again resumes after the last row with a
//! result, and creates nothing twice.

use std::collections::HashSet;

use roster_store::{ExtensionAllocator, Import, ImportId, ImportState, RowInput, Store};
use roster_template::Column;
use roster_validate::{Extension, Limits, Opened, Options, RowReader};
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
    let import = store.existing_import(id).await?;
    let account = store.existing_account(&import.account_slug).await?;
    let locations = store.location_ids(&account).await?;
    let resume_after = store.last_result_row(import.key).await?;
    let options = Options {
        voice: import.voice,
        limits: Limits {
            max_bytes: u64::MAX,
            max_rows: u64::MAX,
            ..Limits::DEFAULT
        },
        extensions: account.extensions,
    };
    info!(resume_after, "running");

    let reserved = if import.voice {
        explicit_extensions(store, &import, options).await?
    } else {
        HashSet::new()
    };
    let mut extensions = ExtensionAllocator::new(&account, reserved);

    let (batches, mut incoming) = mpsc::channel::<Result<Vec<RowInput>, Error>>(2);
    let reader = {
        let store = store.clone();
        let key = import.key;
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let file = Box::new(store.stored_file(key, runtime));
            let sent = read_batches(file, options, resume_after, config.batch_rows, &batches);
            if let Err(e) = sent {
                let _ = batches.blocking_send(Err(e));
            }
        })
    };
    let mut outcome = Ok(());
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
        store
            .create_users(&import, &account, &locations, &batch, &mut extensions)
            .await?;
    }
    drop(incoming);
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

/// Reads the file's rows after `resume_after` and sends them in batches.
/// Stops quietly when the receiver is gone (the run stopped).
fn read_batches(
    file: Box<dyn std::io::Read + Send>,
    options: Options,
    resume_after: u64,
    batch_rows: usize,
    batches: &mpsc::Sender<Result<Vec<RowInput>, Error>>,
) -> Result<(), Error> {
    let mut reader = open(file, &options)?;
    let mut batch = Vec::with_capacity(batch_rows);
    while let Some(row) = next_row(&mut reader)? {
        if row.line <= resume_after {
            continue;
        }
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
