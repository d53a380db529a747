//! `Report`: everything validation found in a file, all at once.
//!
//! Bad rows are data, not `Err`: a report with errors is a successful
//! validation. The report holds errors, never the rows themselves, so its
//! size grows with what is wrong, not with the file; and the extensions the
//! rows name, which an import reserves.

use roster_template::Column;

use crate::{Code, Extension};

/// The outcome of validating one file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// Data rows read (blank rows are not rows).
    pub rows: u64,
    /// Rows without any error; 0 when the file itself was refused.
    pub valid_rows: u64,
    /// Why the file as a whole cannot be imported; empty when it can.
    pub file_errors: Vec<FileError>,
    /// Every error of every row, in file order.
    pub row_errors: Vec<RowError>,
    /// The extensions the rows name, each once, in no order. An import
    /// reserves them, so that none is assigned to another row first.
    pub extensions: Vec<Extension>,
}

/// A problem with the file as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The line where it was found, when it has one.
    pub line: Option<u64>,
    pub code: Code,
    pub message: String,
}

/// A problem with one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The 1-based line of the file where the row starts; the header is line 1.
    pub row: u64,
    /// The column at fault, or `None` when the whole row is.
    pub column: Option<Column>,
    pub code: Code,
    pub message: String,
}

impl Report {
    /// True when the file can be imported as it stands.
    pub fn is_valid(&self) -> bool {
        self.file_errors.is_empty() && self.row_errors.is_empty()
    }
}
