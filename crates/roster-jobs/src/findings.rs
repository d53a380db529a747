//! `ErrorsFile`: the row errors of one validation in a temporary file, in
//! file order: what the report prints after its counts, what a server
//! answers the first of and stores, however many there are.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::sync::Arc;

use roster_validate::{Findings, RowError};
use tempfile::TempPath;

/// Row errors written to a temporary file, read back in the order written.
pub struct ErrorsFile {
    file: BufWriter<File>,
    path: Arc<TempPath>,
    count: u64,
    written: u64,
    /// Where every [`MARK_EVERY`]th error starts: (its row, its byte).
    marks: Vec<(u64, u64)>,
}

/// Errors between two marks: a reader that starts at a row passes over
/// fewer than this many.
const MARK_EVERY: u64 = 1024;

impl ErrorsFile {
    pub fn new() -> io::Result<ErrorsFile> {
        let (file, path) = tempfile::NamedTempFile::new()?.into_parts();
        Ok(ErrorsFile {
            file: BufWriter::with_capacity(256 * 1024, file),
            path: Arc::new(path),
            count: 0,
            written: 0,
            marks: Vec::new(),
        })
    }

    /// How many errors it holds.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The errors, from the first.
    pub fn errors(&mut self) -> io::Result<Errors> {
        self.file.flush()?;
        self.shared().errors_after(0)
    }

    /// The errors written so far, for any number of readers at once.
    pub fn finish(mut self) -> io::Result<SharedErrors> {
        self.file.flush()?;
        Ok(self.shared())
    }

    fn shared(&self) -> SharedErrors {
        SharedErrors {
            path: self.path.clone(),
            count: self.count,
            marks: self.marks.clone().into(),
        }
    }
}

/// The errors of a finished [`ErrorsFile`]: each reader reads on its own;
/// the file goes when the last clone does.
#[derive(Clone)]
pub struct SharedErrors {
    path: Arc<TempPath>,
    count: u64,
    marks: Arc<[(u64, u64)]>,
}

impl SharedErrors {
    /// How many errors there are.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The errors of rows after line `after`, from the first of them.
    pub fn errors_after(&self, after: u64) -> io::Result<Errors> {
        let mut file = File::open(&*self.path)?;
        let mark = self.marks.partition_point(|(row, _)| *row <= after);
        if let Some(&(_, byte)) = mark.checked_sub(1).and_then(|m| self.marks.get(m)) {
            file.seek(SeekFrom::Start(byte))?;
        }
        Ok(Errors {
            file: BufReader::with_capacity(256 * 1024, file),
            after,
        })
    }
}

/// The errors of an [`ErrorsFile`], one at a time.
pub struct Errors {
    file: BufReader<File>,
    /// Errors of rows up to this line are passed over.
    after: u64,
}

impl Iterator for Errors {
    type Item = io::Result<RowError>;

    fn next(&mut self) -> Option<io::Result<RowError>> {
        loop {
            match RowError::read_from(&mut self.file).transpose()? {
                Ok(e) if e.row <= self.after => continue,
                read => return Some(read),
            }
        }
    }
}

impl Findings for ErrorsFile {
    fn row_error(&mut self, error: RowError) -> Result<(), roster_validate::Error> {
        let mut bytes = Vec::with_capacity(64 + error.message.len());
        error.write_to(&mut bytes);
        if self.count.is_multiple_of(MARK_EVERY) {
            self.marks.push((error.row, self.written));
        }
        self.file
            .write_all(&bytes)
            .map_err(roster_validate::Error::Scratch)?;
        self.count += 1;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_template::Column;
    use roster_validate::Code;

    #[test]
    fn errors_come_back_as_written() {
        let mut file = ErrorsFile::new().expect("a file");
        let written: Vec<RowError> = (0..3)
            .map(|i| RowError {
                row: 10 + i,
                column: (i > 0).then_some(Column::Email),
                code: Code::InvalidEmail,
                message: format!("message {i}, é"),
            })
            .collect();
        for e in &written {
            file.row_error(e.clone()).expect("written");
        }
        assert_eq!(file.len(), 3);
        let back: Vec<RowError> = file
            .errors()
            .expect("read")
            .map(|e| e.expect("an error"))
            .collect();
        assert_eq!(back, written);
        // Read twice, the same.
        assert_eq!(file.errors().expect("read").count(), 3);
    }

    #[test]
    fn readers_start_after_a_row_and_read_on_their_own() {
        let mut file = ErrorsFile::new().expect("a file");
        // Three errors a row, rows 2, 4, 6…: marks fall inside rows.
        for i in 0..10_000u64 {
            file.row_error(RowError {
                row: 2 + (i / 3) * 2,
                column: None,
                code: Code::Required,
                message: format!("error {i}"),
            })
            .expect("written");
        }
        let shared = file.finish().expect("finished");
        for after in [0, 1, 2, 3, 2047, 2048, 2049, 6000, 6666, 6667, 10_000] {
            let expected: Vec<u64> = (0..10_000u64)
                .map(|i| 2 + (i / 3) * 2)
                .filter(|row| *row > after)
                .collect();
            let read: Vec<u64> = shared
                .errors_after(after)
                .expect("read")
                .map(|e| e.expect("an error").row)
                .collect();
            assert_eq!(read, expected, "after {after}");
        }
        let mut one = shared.errors_after(0).expect("read");
        let mut two = shared.errors_after(0).expect("read");
        assert_eq!(one.next().expect("one").expect("read").message, "error 0");
        assert_eq!(one.next().expect("one").expect("read").message, "error 1");
        assert_eq!(two.next().expect("one").expect("read").message, "error 0");
    }
}
