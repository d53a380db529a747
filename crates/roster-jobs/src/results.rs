//! An import's results in file order: the stored result of each processed
//! row, and `not_processed` for the rows a finished import never reached.
//!
//! Rows that were not reached have no stored result: they are derived here
//! from the file, so a stop costs nothing and the counts stay exact.

use roster_store::{DeliveryState, DeliveryStatus, Import, ResultError, RowResult, Store};
use roster_template::Column;
use roster_validate::{ExtensionPolicy, RowReader};

use crate::Error;
use crate::runner::{next_row, open, reading_options};

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    Created,
    Failed,
    NotProcessed,
}

/// One data row's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultLine {
    pub row: u64,
    pub status: RowStatus,
    pub email: Option<String>,
    pub extension: Option<String>,
    /// E.164, primary first.
    pub numbers: Vec<String>,
    pub errors: Vec<ResultError>,
    /// A created user's temporary password: where its delivery is, or
    /// `not_sent` when the import sends no passwords. `None` for a row not
    /// created.
    pub delivery: Option<DeliveryStatus>,
}

/// Results read from the database at a time.
const PAGE: u32 = 10_000;

impl RowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RowStatus::Created => "created",
            RowStatus::Failed => "failed",
            RowStatus::NotProcessed => "not_processed",
        }
    }
}

/// Calls `each` with every data row's result, in file order, and the reader
/// positioned on that row (for its cells). While the import is active, rows
/// not processed yet are left out.
///
/// Blocks on the store: call it from a blocking thread.
pub fn for_each_result(
    store: &Store,
    import: &Import,
    runtime: tokio::runtime::Handle,
    each: &mut dyn FnMut(&ResultLine, &RowReader) -> Result<(), Error>,
) -> Result<(), Error> {
    let finished = !import.state.is_active();
    // Only lines and cells matter here: any extension length will do.
    let options = reading_options(import, ExtensionPolicy::DEFAULT);
    let file = Box::new(store.stored_file(import.key, runtime.clone()));
    let mut reader = open(file, &options)?;
    let mut page: std::vec::IntoIter<RowResult> = Vec::new().into_iter();
    let mut pending: Option<RowResult> = None;
    let mut last_fetched = 0;
    let mut exhausted = false;
    while let Some(row) = next_row(&mut reader)? {
        // The next stored result at or after this row.
        loop {
            if pending.as_ref().is_some_and(|r| r.row >= row.line) {
                break;
            }
            pending = page.next();
            if pending.is_none() {
                if exhausted {
                    break;
                }
                let next = runtime.block_on(store.results_after(import.key, last_fetched, PAGE))?;
                exhausted = next.len() < PAGE as usize;
                if let Some(last) = next.last() {
                    last_fetched = last.row;
                }
                page = next.into_iter();
                pending = page.next();
                if pending.is_none() {
                    break;
                }
            }
        }
        let line = match pending.take_if(|r| r.row == row.line) {
            Some(result) => ResultLine {
                delivery: match result.delivery {
                    None if result.created && !import.passwords.sends() => Some(DeliveryStatus {
                        state: DeliveryState::NotSent,
                        error: None,
                    }),
                    delivery => delivery,
                },
                row: result.row,
                status: if result.created {
                    RowStatus::Created
                } else {
                    RowStatus::Failed
                },
                email: result.email,
                extension: result.extension,
                numbers: result.numbers,
                errors: result.errors,
            },
            None if finished => ResultLine {
                row: row.line,
                status: RowStatus::NotProcessed,
                email: Some(reader.cell(Column::Email).to_string()).filter(|e| !e.is_empty()),
                extension: None,
                numbers: Vec::new(),
                errors: Vec::new(),
                delivery: None,
            },
            None => continue,
        };
        each(&line, &reader)?;
    }
    Ok(())
}
