//! `Report`: everything validation found in a file, all at once; and
//! `Findings`, where the errors of its rows go as they are found.
//!
//! Bad rows are data, not `Err`: a report with errors is a successful
//! validation. A report holds the file's errors, the rows' errors counted
//! by code and column, and the extensions the rows name (which an import
//! reserves), never the rows. The rows' errors themselves go to a
//! [`Findings`] in file order: a list for a few, a file or a database table
//! for millions, so that memory does not grow with what is wrong.

use std::collections::BTreeMap;
use std::io::{self, Read};

use roster_template::Column;

use crate::scratch::{Spilled, read_array};
use crate::{Code, Error, Extension, PlanCounts, PlannedRow};

/// The outcome of validating one file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// Data rows read (blank rows are not rows).
    pub rows: u64,
    /// Rows without any error; 0 when the file itself was refused.
    pub valid_rows: u64,
    /// Why the file as a whole cannot be imported; empty when it can.
    pub file_errors: Vec<FileError>,
    /// Every error of every row, in file order, and within a row in column
    /// order, whole-row errors first: filled by [`crate::validate`];
    /// [`crate::validate_into`] hands them to its [`Findings`] instead and
    /// leaves this empty.
    pub row_errors: Vec<RowError>,
    /// The rows' errors, counted by code and column.
    pub counts: ErrorCounts,
    /// The extensions the rows name, each once, in no order. An import
    /// reserves them, so that none is assigned to another row first.
    pub extensions: Vec<Extension>,
    /// When rows may update users: how many rows without errors do what.
    pub plan: Option<PlanCounts>,
    /// The plan of every row without errors, in file order: filled by
    /// [`crate::validate`] (as `row_errors`), handed to [`Findings`] by
    /// [`crate::validate_into`].
    pub planned: Vec<PlannedRow>,
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

/// Row errors counted by code and column (`None`: the whole row).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorCounts(BTreeMap<(Code, Option<Column>), u64>);

/// Where the errors of a file's rows go, one at a time, in file order.
pub trait Findings {
    fn row_error(&mut self, error: RowError) -> Result<(), Error>;

    /// The plan of a row without errors, when rows may update users; after
    /// every error, in file order.
    fn planned(&mut self, row: PlannedRow) -> Result<(), Error> {
        let _ = row;
        Ok(())
    }
}

impl Findings for Vec<RowError> {
    fn row_error(&mut self, error: RowError) -> Result<(), Error> {
        self.push(error);
        Ok(())
    }
}

impl Report {
    /// True when the file can be imported as it stands.
    pub fn is_valid(&self) -> bool {
        self.file_errors.is_empty() && self.counts.total() == 0
    }
}

impl ErrorCounts {
    pub(crate) fn add(&mut self, error: &RowError) {
        *self.0.entry((error.code, error.column)).or_default() += 1;
    }

    /// Every row error.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// How many errors of each code and column, by code.
    pub fn iter(&self) -> impl Iterator<Item = (Code, Option<Column>, u64)> + '_ {
        self.0.iter().map(|(&(code, column), &n)| (code, column, n))
    }

    /// How many errors of each code, by code.
    pub fn by_code(&self) -> BTreeMap<Code, u64> {
        let mut by_code = BTreeMap::new();
        for (code, _, n) in self.iter() {
            *by_code.entry(code).or_default() += n;
        }
        by_code
    }
}

/// A row error on its way to the report, with its place among the errors
/// of its row and column: the row's own first, then uses of what an
/// earlier row used, then what the account holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) error: RowError,
    stage: u8,
}

impl Found {
    pub(crate) fn own(error: RowError) -> Found {
        Found { error, stage: 0 }
    }

    pub(crate) fn duplicate(error: RowError) -> Found {
        Found { error, stage: 1 }
    }

    pub(crate) fn account(error: RowError) -> Found {
        Found { error, stage: 2 }
    }

    /// Where the error goes: by line, then column (whole-row errors
    /// first), then stage.
    pub(crate) fn order(&self) -> (u64, usize, u8) {
        let column = self.error.column.map_or(0, |c| c.index() + 1);
        (self.error.row, column, self.stage)
    }
}

impl RowError {
    /// The error as bytes, which [`RowError::read_from`] reads back: for a
    /// caller that keeps errors in a file of its own.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.row.to_le_bytes());
        out.push(self.column.map_or(u8::MAX, |c| c.index() as u8));
        out.push(Code::ALL.iter().position(|c| *c == self.code).unwrap_or(0) as u8);
        out.extend_from_slice(&(self.message.len() as u32).to_le_bytes());
        out.extend_from_slice(self.message.as_bytes());
    }

    /// The next error [`RowError::write_to`] wrote; `None` at the end.
    pub fn read_from(input: &mut dyn Read) -> io::Result<Option<RowError>> {
        let Some(head) = read_array::<14>(input)? else {
            return Ok(None);
        };
        let corrupt = || io::Error::new(io::ErrorKind::InvalidData, "an error read back wrong");
        let row = u64::from_le_bytes(head[0..8].try_into().map_err(|_| corrupt())?);
        let column = match head[8] {
            u8::MAX => None,
            i => Some(*Column::ALL.get(usize::from(i)).ok_or_else(corrupt)?),
        };
        let code = *Code::ALL.get(usize::from(head[9])).ok_or_else(corrupt)?;
        let len = u32::from_le_bytes(head[10..14].try_into().map_err(|_| corrupt())?) as usize;
        let mut message = vec![0u8; len];
        input.read_exact(&mut message)?;
        Ok(Some(RowError {
            row,
            column,
            code,
            message: String::from_utf8(message).map_err(|_| corrupt())?,
        }))
    }
}

impl Spilled for Found {
    fn write(&self, out: &mut Vec<u8>) {
        out.push(self.stage);
        self.error.write_to(out);
    }

    fn read(input: &mut dyn Read) -> io::Result<Option<Found>> {
        let Some([stage]) = read_array::<1>(input)? else {
            return Ok(None);
        };
        let error = RowError::read_from(input)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "an error cut short"))?;
        Ok(Some(Found { error, stage }))
    }
}
