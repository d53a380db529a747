//! `PlanFile`: the plan of one validation — a planned row for every row
//! without errors, when the rows may update users — in a temporary file,
//! in file order: what a report prints row by row and an import keeps,
//! however many rows there are.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::sync::Arc;

use roster_validate::{Findings, PlannedRow, RowError};
use tempfile::TempPath;

use crate::ErrorsFile;

/// Planned rows written to a temporary file, read back in the order written.
pub struct PlanFile {
    file: BufWriter<File>,
    path: TempPath,
    count: u64,
}

impl PlanFile {
    pub fn new() -> io::Result<PlanFile> {
        let (file, path) = tempfile::NamedTempFile::new()?.into_parts();
        Ok(PlanFile {
            file: BufWriter::with_capacity(256 * 1024, file),
            path,
            count: 0,
        })
    }

    /// How many rows it holds.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The rows, from the first.
    pub fn rows(&mut self) -> io::Result<PlanRows> {
        self.file.flush()?;
        Ok(PlanRows {
            file: BufReader::with_capacity(256 * 1024, File::open(&self.path)?),
        })
    }

    /// The rows written so far, for any number of readers at once.
    pub fn finish(mut self) -> io::Result<SharedPlan> {
        self.file.flush()?;
        Ok(SharedPlan {
            path: Arc::new(self.path),
            count: self.count,
        })
    }

    fn push(&mut self, row: &PlannedRow) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(256);
        row.write_to(&mut bytes);
        self.file.write_all(&bytes)?;
        self.count += 1;
        Ok(())
    }
}

/// The rows of a finished [`PlanFile`]; the file goes when the last clone
/// does.
#[derive(Clone)]
pub struct SharedPlan {
    path: Arc<TempPath>,
    count: u64,
}

impl SharedPlan {
    /// How many rows there are.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The rows, from the first.
    pub fn rows(&self) -> io::Result<PlanRows> {
        Ok(PlanRows {
            file: BufReader::with_capacity(256 * 1024, File::open(&*self.path)?),
        })
    }
}

/// The rows of a [`PlanFile`], one at a time.
pub struct PlanRows {
    file: BufReader<File>,
}

impl Iterator for PlanRows {
    type Item = io::Result<PlannedRow>;

    fn next(&mut self) -> Option<io::Result<PlannedRow>> {
        PlannedRow::read_from(&mut self.file).transpose()
    }
}

/// Where a validation's findings go: its errors, and its plan.
pub(crate) struct FindingsFiles<'a> {
    pub(crate) errors: &'a mut ErrorsFile,
    pub(crate) plan: &'a mut PlanFile,
}

impl Findings for FindingsFiles<'_> {
    fn row_error(&mut self, error: RowError) -> Result<(), roster_validate::Error> {
        self.errors.row_error(error)
    }

    fn planned(&mut self, row: PlannedRow) -> Result<(), roster_validate::Error> {
        self.plan
            .push(&row)
            .map_err(roster_validate::Error::Scratch)
    }
}
