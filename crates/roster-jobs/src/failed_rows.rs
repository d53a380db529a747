//! The failed-rows file: the original header and cells of every row that
//! was not created, plus an `Errors` column, ready to fix and import again.
//!
//! Every cell is neutralised (see [`roster_template::neutralise`]) so a
//! spreadsheet cannot run it; roster reads the neutralised cells back as
//! they were.

use std::io::Write;

use roster_store::{Import, Store};
use roster_template::{ERRORS_HEADER, csv_line};

use crate::Error;
use crate::results::{ResultLine, RowStatus, for_each_result};

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
        if line.status == RowStatus::Created {
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

/// Why a row was not created, in one cell.
fn errors_cell(line: &ResultLine) -> String {
    if line.status == RowStatus::NotProcessed {
        return "not_processed: the import stopped before this row; import it again".to_string();
    }
    let errors: Vec<String> = line
        .errors
        .iter()
        .map(|e| match &e.column {
            Some(column) => format!("{} in {column}: {}", e.code, e.message),
            None => format!("{}: {}", e.code, e.message),
        })
        .collect();
    errors.join(" | ")
}
