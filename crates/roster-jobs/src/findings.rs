//! `ErrorsFile`: the row errors of one validation in a temporary file, in
//! file order: what the report prints after its counts, what a server
//! answers the first of and stores, however many there are.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Seek, Write};

use roster_validate::{Findings, RowError};

/// Row errors written to a temporary file, read back in the order written.
pub struct ErrorsFile {
    file: BufWriter<File>,
    count: u64,
}

impl ErrorsFile {
    pub fn new() -> io::Result<ErrorsFile> {
        Ok(ErrorsFile {
            file: BufWriter::with_capacity(256 * 1024, tempfile::tempfile()?),
            count: 0,
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
        let mut file = self.file.get_ref().try_clone()?;
        file.rewind()?;
        Ok(Errors(BufReader::with_capacity(256 * 1024, file)))
    }
}

/// The errors of an [`ErrorsFile`], one at a time.
pub struct Errors(BufReader<File>);

impl Iterator for Errors {
    type Item = io::Result<RowError>;

    fn next(&mut self) -> Option<io::Result<RowError>> {
        RowError::read_from(&mut self.0).transpose()
    }
}

impl Findings for ErrorsFile {
    fn row_error(&mut self, error: RowError) -> Result<(), roster_validate::Error> {
        let mut bytes = Vec::with_capacity(64 + error.message.len());
        error.write_to(&mut bytes);
        self.file
            .write_all(&bytes)
            .map_err(roster_validate::Error::Scratch)?;
        self.count += 1;
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
}
