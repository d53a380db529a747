//! An import's results in file order: the stored result of each processed
//! row, and `not_processed` for the rows a finished import never reached.
//!
//! Rows that were not reached have no stored result: they are derived here
//! from the file, so a stop costs nothing and the counts stay exact.
//!
//! A page of results ([`results_page`]) starts at a row: failures are read
//! from their index, every row or the rows not processed from the file,
//! which is entered at the chunk that holds the row.

use std::ops::ControlFlow;

use roster_store::{
    Chunk, DeliveryState, DeliveryStatus, Import, ResultError, ResultStatus, RowResult, RowUndo,
    Store, StoredFilter, UndoStatus,
};
use roster_template::Column;
use roster_validate::{ExtensionPolicy, Role, RowReader, RowStart};

use crate::Error;
use crate::runner::{next_row, open, reading};

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    Created,
    Updated,
    Unchanged,
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
    /// What the import's undo did with the row, once it took it up.
    pub undo: Option<RowUndo>,
}

/// Which rows a page of results holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResultFilter<'a> {
    #[default]
    All,
    Status(RowStatus),
    /// Failed rows with an error of this code.
    Code(&'a str),
}

/// Results read from the database at a time.
const PAGE: u32 = 10_000;

impl RowStatus {
    pub const ALL: [RowStatus; 5] = [
        RowStatus::Created,
        RowStatus::Updated,
        RowStatus::Unchanged,
        RowStatus::Failed,
        RowStatus::NotProcessed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RowStatus::Created => "created",
            RowStatus::Updated => "updated",
            RowStatus::Unchanged => "unchanged",
            RowStatus::Failed => "failed",
            RowStatus::NotProcessed => "not_processed",
        }
    }

    /// The status as stored, for a processed row.
    fn stored(self) -> Option<ResultStatus> {
        match self {
            RowStatus::Created => Some(ResultStatus::Created),
            RowStatus::Updated => Some(ResultStatus::Updated),
            RowStatus::Unchanged => Some(ResultStatus::Unchanged),
            RowStatus::Failed => Some(ResultStatus::Failed),
            RowStatus::NotProcessed => None,
        }
    }

    pub fn parse(text: &str) -> Option<RowStatus> {
        RowStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Up to `limit` results of rows after line `after` that `filter` keeps,
/// in file order. While the import is active, rows not processed yet are
/// left out.
///
/// Blocks on the store: call it from a blocking thread.
pub fn results_page(
    store: &Store,
    import: &Import,
    runtime: tokio::runtime::Handle,
    after: u64,
    limit: usize,
    filter: ResultFilter<'_>,
) -> Result<Vec<ResultLine>, Error> {
    let mut page = Vec::new();
    if limit == 0 {
        return Ok(page);
    }
    for_each_result_where(store, import, runtime, after, filter, &mut |line| {
        page.push(line.clone());
        Ok(if page.len() == limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    })?;
    Ok(page)
}

/// Calls `each` with the result of every row after line `after` that
/// `filter` keeps, in file order, until it breaks. Failures come from
/// their index; every row, or the rows not processed, from the file.
///
/// Blocks on the store: call it from a blocking thread.
pub fn for_each_result_where(
    store: &Store,
    import: &Import,
    runtime: tokio::runtime::Handle,
    after: u64,
    filter: ResultFilter<'_>,
    each: &mut dyn FnMut(&ResultLine) -> Result<ControlFlow<()>, Error>,
) -> Result<(), Error> {
    let stored = match filter {
        ResultFilter::Status(RowStatus::Failed) => StoredFilter::Failed,
        ResultFilter::Status(
            status @ (RowStatus::Created | RowStatus::Updated | RowStatus::Unchanged),
        ) => StoredFilter::Status(status.stored().unwrap_or(ResultStatus::Created)),
        ResultFilter::Code(code) => StoredFilter::Code(code),
        ResultFilter::All => {
            let entry = chunk_holding(&chunks(store, import, &runtime)?, after);
            return walk(store, import, runtime, after, entry, &mut |line, _| {
                each(line)
            });
        }
        ResultFilter::Status(RowStatus::NotProcessed) => {
            // Only a finished import has rows not processed, and those
            // are where a chunk stopped short.
            if import.state.is_active() || import.not_processed == 0 {
                return Ok(());
            }
            let Some(entry) = first_short_chunk(store, import, &runtime, after)? else {
                return Ok(());
            };
            return walk(store, import, runtime, after, entry, &mut |line, _| {
                if line.status == RowStatus::NotProcessed {
                    each(line)
                } else {
                    Ok(ControlFlow::Continue(()))
                }
            });
        }
    };
    let mut after = after;
    loop {
        let results = runtime.block_on(store.results_where(import.key, after, PAGE, stored))?;
        let full = results.len() == PAGE as usize;
        for result in results {
            after = result.row;
            if each(&stored_line(result, import))?.is_break() {
                return Ok(());
            }
        }
        if !full {
            return Ok(());
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
    walk(store, import, runtime, 0, None, &mut |line, reader| {
        each(line, reader).map(ControlFlow::Continue)
    })
}

/// What [`walk`] calls with each result and the reader on its row.
type Visit<'a> = dyn FnMut(&ResultLine, &RowReader) -> Result<ControlFlow<()>, Error> + 'a;

/// Calls `each` with the result of every data row after line `after`, in
/// file order, until it breaks. The file is read from `entry` (a row at
/// or before the first of them), or from its start.
fn walk(
    store: &Store,
    import: &Import,
    runtime: tokio::runtime::Handle,
    after: u64,
    entry: Option<RowStart>,
    each: &mut Visit<'_>,
) -> Result<(), Error> {
    let finished = !import.state.is_active();
    // Only lines and cells matter here: any extension length will do.
    let options = reading(import, ExtensionPolicy::DEFAULT, Role::User);
    let file = Box::new(store.stored_file(import.key, runtime.clone()));
    let mut reader = open(file, &options)?;
    if let Some(start) = entry {
        let rest = store.stored_file_from(import.key, runtime.clone(), start.offset);
        reader.resume(Box::new(rest), start);
    }
    let mut page: std::vec::IntoIter<RowResult> = Vec::new().into_iter();
    let mut pending: Option<RowResult> = None;
    let mut last_fetched = after;
    let mut exhausted = false;
    while let Some(row) = next_row(&mut reader)? {
        if row.line <= after {
            continue;
        }
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
            Some(result) => stored_line(result, import),
            None if finished => ResultLine {
                row: row.line,
                status: RowStatus::NotProcessed,
                email: Some(reader.cell(Column::Email).to_string()).filter(|e| !e.is_empty()),
                extension: None,
                numbers: Vec::new(),
                errors: Vec::new(),
                delivery: None,
                undo: None,
            },
            None => continue,
        };
        if each(&line, &reader)?.is_break() {
            break;
        }
    }
    Ok(())
}

/// The import's chunks in file order. A chunk's `start` is `None` for the
/// first (the file's first row), or when the file cannot be entered in the
/// middle (then it is read from its start).
fn chunks(
    store: &Store,
    import: &Import,
    runtime: &tokio::runtime::Handle,
) -> Result<Vec<Chunk>, Error> {
    let mut chunks = runtime.block_on(store.chunks(import.key))?;
    chunks.sort_by_key(|c| c.first_row);
    Ok(chunks)
}

/// Where to enter the file for the rows after line `after`: the start of
/// the chunk that holds the first of them.
fn chunk_holding(chunks: &[Chunk], after: u64) -> Option<RowStart> {
    chunks
        .iter()
        .filter_map(|c| c.start)
        .filter(|start| start.line <= after.saturating_add(1))
        .max_by_key(|start| start.line)
}

/// Where to enter the file for the rows not processed after line
/// `after`: the start of the first chunk from the one holding it on with
/// fewer results than rows (`Some(None)`: the file's start); `None` when
/// every such chunk has all its results. A chunk's results are counted in
/// its range of lines, through the results' key: a stop's rows not
/// processed are found without reading the chunks done before them.
fn first_short_chunk(
    store: &Store,
    import: &Import,
    runtime: &tokio::runtime::Handle,
    after: u64,
) -> Result<Option<Option<RowStart>>, Error> {
    let chunks = chunks(store, import, runtime)?;
    // Stopped before it was split, or without every chunk's start: the
    // file is read from where the row is.
    if chunks.is_empty() || chunks.iter().skip(1).any(|c| c.start.is_none()) {
        return Ok(Some(chunk_holding(&chunks, after)));
    }
    for (i, chunk) in chunks.iter().enumerate() {
        let from = chunk.start.map_or(0, |s| s.line);
        let to = chunks
            .get(i + 1)
            .and_then(|next| next.start.map(|n| n.line))
            .unwrap_or(u64::MAX);
        if to <= after.saturating_add(1) {
            continue;
        }
        let results = runtime.block_on(store.results_between(import.key, from, to))?;
        if results < chunk.rows {
            return Ok(Some(chunk.start));
        }
    }
    Ok(None)
}

/// A processed row's result as stored.
fn stored_line(result: RowResult, import: &Import) -> ResultLine {
    // An undone user's delivery is gone with it; its undo says what was sent.
    let undone = result
        .undo
        .as_ref()
        .is_some_and(|u| u.status == UndoStatus::Undone);
    ResultLine {
        undo: result.undo,
        delivery: match result.delivery {
            _ if undone && result.status == ResultStatus::Created => None,
            None if result.status == ResultStatus::Created && !import.passwords.sends() => {
                Some(DeliveryStatus {
                    state: DeliveryState::NotSent,
                    error: None,
                })
            }
            delivery => delivery,
        },
        row: result.row,
        status: match result.status {
            ResultStatus::Created => RowStatus::Created,
            ResultStatus::Updated => RowStatus::Updated,
            ResultStatus::Unchanged => RowStatus::Unchanged,
            ResultStatus::Failed => RowStatus::Failed,
        },
        email: result.email,
        extension: result.extension,
        numbers: result.numbers,
        errors: result.errors,
    }
}
