//! The failed-rows file: the original header and cells of every row that
//! was not created, plus an `Errors` column, ready to fix and import again.
//! A refused upload has one too: every row of the file (nothing of it was
//! written), each with its errors.
//!
//! Every cell is neutralised (see [`roster_csv::neutralise`]) so a
//! spreadsheet cannot run it; roster reads the neutralised cells back as
//! they were.

use std::io::Write;

use roster_csv::csv_line;
use roster_store::{Import, Store};
use roster_template::ERRORS_HEADER;
use roster_validate::{Options, RowError};

use crate::results::{ResultLine, RowStatus, for_each_result};
use crate::runner::open;
use crate::{Error, Errors};

/// Writes the import's failed rows as CSV to `out`; returns how many.
///
/// Blocks on the store: call it from a blocking thread.
pub fn write_failed_rows(
    store: &Store,
    import: &Import,
    runtime: tokio::runtime::Handle,
    out: &mut dyn Write,
) -> Result<u64, Error> {
    let mut header_written = false;
    let mut rows = 0;
    for_each_result(store, import, runtime, &mut |line, reader| {
        if !header_written {
            let mut header: Vec<&str> = reader.header().iter().map(String::as_str).collect();
            header.push(ERRORS_HEADER);
            out.write_all(csv_line(header).as_bytes())
                .map_err(Error::Output)?;
            header_written = true;
        }
        // Applied rows are not handed back: created, updated or unchanged.
        if !matches!(line.status, RowStatus::Failed | RowStatus::NotProcessed) {
            return Ok(());
        }
        let errors = errors_cell(line);
        let line = csv_line(reader.cells().chain(std::iter::once(errors.as_str())));
        out.write_all(line.as_bytes()).map_err(Error::Output)?;
        rows += 1;
        Ok(())
    })?;
    Ok(rows)
}

/// Writes a refused upload's rows as CSV to `out`: the header and every
/// data row as in `file`, read with the upload's `options`, plus `Errors`
/// (empty for a row that passed), from `errors`, the upload's row errors
/// in file order. Returns how many rows.
pub fn write_refused_rows(
    file: Box<dyn std::io::Read + Send>,
    options: &Options,
    mut errors: Errors,
    out: &mut dyn Write,
) -> Result<u64, Error> {
    let mut reader = open(file, options)?;
    let mut header: Vec<&str> = reader.header().iter().map(String::as_str).collect();
    header.push(ERRORS_HEADER);
    out.write_all(csv_line(header).as_bytes())
        .map_err(Error::Output)?;
    let mut next = errors.next().transpose().map_err(Error::Scratch)?;
    let mut rows = 0;
    let mut mine = Vec::new();
    while let Some(line) = reader.skip_row().map_err(Error::File)? {
        mine.clear();
        while let Some(e) = next.take_if(|e| e.row <= line) {
            if e.row == line {
                mine.push(refused_error(&e));
            }
            next = errors.next().transpose().map_err(Error::Scratch)?;
        }
        let cell = mine.join(" | ");
        let line = csv_line(reader.cells().chain(std::iter::once(cell.as_str())));
        out.write_all(line.as_bytes()).map_err(Error::Output)?;
        rows += 1;
    }
    Ok(rows)
}

fn refused_error(e: &RowError) -> String {
    error_text(e.code.as_str(), e.column.map(|c| c.header()), &e.message)
}

/// An error as an `Errors` cell writes it: `code in column: message`.
fn error_text(code: &str, column: Option<&str>, message: &str) -> String {
    match column {
        Some(column) => format!("{code} in {column}: {message}"),
        None => format!("{code}: {message}"),
    }
}

/// Why a row not reached was not created: nothing is wrong with it.
pub const NOT_PROCESSED: &str = "not processed: the import was stopped before this row; import the failed-rows file to create it";

/// Why a row was not created, in one cell.
fn errors_cell(line: &ResultLine) -> String {
    if line.status == RowStatus::NotProcessed {
        return NOT_PROCESSED.to_string();
    }
    let errors: Vec<String> = line
        .errors
        .iter()
        .map(|e| error_text(&e.code, e.column.as_deref(), &e.message))
        .collect();
    errors.join(" | ")
}
