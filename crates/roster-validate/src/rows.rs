//! `RowReader`: the rows of a file, parsed for import.
//!
//! An import reads its file again, after validation, to create the users.
//! It needs what validation throws away: the parsed values of each row
//! ([`ValidRow`]) and the original cells (for the failed-rows file). The
//! rules are the validator's own, row by row. Uniqueness within the file is
//! not checked again — the file passed validation, and the database's
//! constraints hold uniqueness when the rows are written — so reading a
//! million rows keeps no set of a million keys.

use std::borrow::Cow;
use std::io::Read;

use roster_template::Column;

use crate::check::{Checked, Claims, Rules, check_against};
use crate::plan::{Cleared, is_clear_marker};
use crate::records::{Record, Records};
use crate::validator::{file_error, open, outcome};
use crate::{E164, Email, Error, Extension, Facts, Location, Options, Report, Role, RowError};

/// A row that passed every rule that needs only the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRow {
    /// The line of the file where the row starts.
    pub line: u64,
    pub display_name: String,
    pub email: Email,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub organizational_unit: Option<String>,
    pub primary_number: Option<E164>,
    pub additional_numbers: Vec<E164>,
    /// `None`: roster assigns one (with voice services).
    pub extension: Option<Extension>,
    /// `None`: Main Company Address.
    pub location: Option<Location>,
    /// `None`: the account's default role.
    pub role: Option<Role>,
    /// The columns that hold [`crate::CLEAR_MARKER`]: their fields read as
    /// empty above (what a new user gets), and an update clears them.
    pub cleared: Cleared,
}

impl ValidRow {
    /// What the account says against this row, given the facts about its
    /// keys: the same rules, codes and messages as validation, applied again
    /// when the row is written.
    pub fn account_errors(&self, facts: &Facts) -> Vec<RowError> {
        let claims = Claims {
            line: self.line,
            email_key: Some(Cow::Owned(self.email.key())),
            primary: self.primary_number,
            additional: Cow::Borrowed(&self.additional_numbers),
            extension: self.extension,
            location: self.location.as_ref().map(Cow::Borrowed),
        };
        let mut errors = Vec::new();
        check_against(&claims, facts, &mut errors);
        errors
    }
}

/// One data row of a file: where it starts, and what its cells parse to.
/// The cells themselves are [`RowReader::cells`], until the next row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    pub line: u64,
    pub row: Result<ValidRow, Vec<RowError>>,
}

/// Where a row starts in its file: the byte, and the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowStart {
    pub offset: u64,
    pub line: u64,
}

/// What opening a file for import found.
pub enum Opened {
    Rows(Box<RowReader>),
    /// The file itself was refused; the report says why.
    Refused(Report),
}

/// Reads the rows of a file one by one.
pub struct RowReader {
    records: Records,
    rules: Rules,
    record: Record,
    header: Vec<String>,
}

impl RowReader {
    /// Runs the file checks and reads the header line.
    pub fn open(input: Box<dyn Read + Send>, options: &Options) -> Result<Opened, Error> {
        let mut report = Report::default();
        let (records, headers) = match open(input, options, &mut report) {
            Ok(Some(opened)) => opened,
            Ok(None) => return Ok(Opened::Refused(report)),
            Err(e) => return outcome(e, None, report).map(Opened::Refused),
        };
        let errors_index = headers.errors_index();
        let mut reader = RowReader {
            records,
            rules: Rules::new(headers, *options),
            record: Record::default(),
            header: Vec::new(),
        };
        reader.header = header_cells(&reader.rules.headers, errors_index);
        Ok(Opened::Rows(Box::new(reader)))
    }

    /// The header line's cells, the `Errors` column left out.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The next data row; blank rows are skipped. A file that turns out to
    /// be unreadable past the header (it passed validation, so it changed)
    /// is an `Err`.
    pub fn next_row(&mut self) -> Result<Option<ImportRow>, Error> {
        if !self.next_record()? {
            return Ok(None);
        }
        let record = &self.record;
        let row = match self.rules.check(record) {
            Checked {
                errors,
                email: Some(email),
                claims,
            } if errors.is_empty() => Ok(valid_row(&self.rules, record, email, claims)),
            Checked { errors, .. } => Err(errors),
        };
        Ok(Some(ImportRow {
            line: record.line,
            row,
        }))
    }

    /// Passes over the next data row without checking it (blank rows are
    /// not rows); its line, or `None` at the end of the file.
    pub fn skip_row(&mut self) -> Result<Option<u64>, Error> {
        Ok(self.next_record()?.then_some(self.record.line))
    }

    /// Reads the next record that is not blank into `self.record`; false at
    /// the end of the file.
    fn next_record(&mut self) -> Result<bool, Error> {
        loop {
            match self.records.read(&mut self.record) {
                Ok(true) if self.record.is_blank() => continue,
                Ok(read) => return Ok(read),
                Err(e) => {
                    return Err(Error::Unreadable(file_error(e, Some(&self.rules.headers))?));
                }
            }
        }
    }

    /// Where the row last read or passed over starts in the file; `None`
    /// when the file is transcoded (UTF-16), or before the first row.
    pub fn start(&self) -> Option<RowStart> {
        self.record.offset.map(|offset| RowStart {
            offset,
            line: self.record.line,
        })
    }

    /// Goes on reading rows from `input`, which holds the file from
    /// `start` on (a place [`RowReader::start`] gave): the rows before it
    /// are neither read nor passed over.
    pub fn resume(&mut self, input: Box<dyn Read + Send>, start: RowStart) {
        self.records.restart(input, start.offset, start.line);
    }

    /// The cells of the row last read, as written, one under each cell of
    /// [`RowReader::header`]: the `Errors` column of a failed-rows file and
    /// the empty cells past the header's end left out.
    pub fn cells(&self) -> impl Iterator<Item = &str> {
        let errors_index = self.rules.headers.errors_index();
        // Cells past the header's width are empty (a row with text there
        // is ragged); kept, they would push the `Errors` cell a failed-rows
        // file appends out from under its header.
        self.record
            .fields()
            .take(self.rules.headers.width())
            .enumerate()
            .filter(move |(i, _)| Some(*i) != errors_index)
            .map(|(_, c)| c)
    }

    /// The cell of `column` in the row last read, trimmed; "" when the
    /// file has no such column.
    pub fn cell(&self, column: Column) -> &str {
        match self.rules.headers.index_of(column) {
            Some(i) => roster_csv::unneutralise(self.record.field(i)).trim(),
            None => "",
        }
    }
}

/// The parsed values of a row that passed its checks.
pub(crate) fn valid_row(
    rules: &Rules,
    record: &Record,
    email: Email,
    claims: Claims<'static>,
) -> ValidRow {
    let mut cleared = Cleared::default();
    for column in [
        Column::FirstName,
        Column::LastName,
        Column::JobTitle,
        Column::Department,
        Column::OrganizationalUnit,
        Column::PrimaryPhone,
        Column::AdditionalPhones,
        Column::VoiceLocation,
        Column::Role,
    ] {
        if is_clear_marker(rules.cell(record, column)) {
            cleared.insert(column);
        }
    }
    let text = |column| {
        let cell = rules.cell(record, column).trim();
        (!cell.is_empty() && !cleared.contains(column)).then(|| cell.to_string())
    };
    ValidRow {
        line: record.line,
        display_name: text(Column::DisplayName).unwrap_or_default(),
        email,
        first_name: text(Column::FirstName),
        last_name: text(Column::LastName),
        job_title: text(Column::JobTitle),
        department: text(Column::Department),
        organizational_unit: text(Column::OrganizationalUnit),
        primary_number: claims.primary,
        additional_numbers: claims.additional.into_owned(),
        extension: claims.extension,
        location: claims.location.map(Cow::into_owned),
        role: Role::parse(rules.cell(record, Column::Role)),
        cleared,
    }
}

fn header_cells(headers: &roster_template::Headers, errors_index: Option<usize>) -> Vec<String> {
    let mut cells = vec![String::new(); headers.width()];
    for column in Column::ALL {
        if let Some(i) = headers.index_of(column) {
            cells[i] = column.header().to_string();
        }
    }
    cells
        .into_iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != errors_index)
        .map(|(_, c)| c)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(text: &'static [u8]) -> Box<RowReader> {
        match RowReader::open(Box::new(text), &Options::default()).expect("readable") {
            Opened::Rows(reader) => reader,
            Opened::Refused(report) => panic!("refused: {report:?}"),
        }
    }

    /// Trailing empty cells (of the rows, or of the header too) are not
    /// handed on, so a failed-rows file keeps its cells under its header.
    #[test]
    fn cells_stop_at_the_header() {
        let mut rows = reader(
            b"Display Name (Mandatory),Email Address (Mandatory),,\nAda,ada@acme.example,,\n",
        );
        assert_eq!(
            rows.header(),
            ["Display Name (Mandatory)", "Email Address (Mandatory)"]
        );
        rows.next_row().expect("a row").expect("Ada");
        assert_eq!(
            rows.cells().collect::<Vec<_>>(),
            ["Ada", "ada@acme.example"]
        );
    }

    /// An import that finds a location gone since validation names it as
    /// the admin typed it, as validation does, not by its key.
    #[test]
    fn account_errors_quote_the_location_as_typed() {
        let mut rows = reader(
            b"Display Name (Mandatory),Email Address (Mandatory),Voice Location (Optional)\n\
              Ada,Ada@Acme.example, Boston Office \n",
        );
        let ada = rows
            .next_row()
            .expect("a row")
            .expect("Ada")
            .row
            .expect("valid");
        assert_eq!(ada.email.as_str(), "Ada@Acme.example");
        let facts = Facts {
            unknown_locations: ["boston office".to_string()].into(),
            ..Facts::default()
        };
        let errors = ada.account_errors(&facts);
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "'Boston Office' is not a location of this account; create the location first, \
              or leave the cell empty for Main Company Address"
            ]
        );
        assert_eq!(errors[0].code, crate::Code::UnknownLocation);
    }

    /// A file that cannot be read past the header any more says why in the
    /// report's own terms: the code and the line, not only a message.
    #[test]
    fn a_file_unreadable_past_the_header_is_a_typed_error() {
        let mut rows = reader(
            b"Display Name (Mandatory),Email Address (Mandatory)\nAda,ada@acme.example\nB\xFF,b@acme.example\n",
        );
        rows.next_row().expect("a row").expect("Ada");
        match rows.next_row() {
            Err(Error::Unreadable(e)) => {
                assert_eq!((e.code, e.line), (crate::Code::Encoding, Some(3)));
                assert!(
                    e.message.contains("column 'Display Name (Mandatory)'"),
                    "{}",
                    e.message
                );
            }
            other => panic!("not unreadable: {other:?}"),
        }
    }

    /// A reader resumed at a row's start reads on exactly as one that read
    /// every row before it.
    #[test]
    fn a_row_start_resumes_reading_there() {
        const FILE: &[u8] = b"\xEF\xBB\xBFDisplay Name (Mandatory),Email Address (Mandatory)\r\n\
            Ada,ada@acme.example\r\n\r\n\"Bob\r\nJr\",bob@acme.example\r\nCy,cy@acme.example\r\n";
        let mut through = reader(FILE);
        assert_eq!(through.skip_row().expect("a row"), Some(2));
        assert_eq!(through.skip_row().expect("a row"), Some(4));
        let bob = through.start().expect("a UTF-8 file has places");
        assert_eq!(
            bob,
            RowStart {
                offset: 79,
                line: 4
            }
        );
        assert_eq!(&FILE[bob.offset as usize..][..4], b"\"Bob");
        let rest: Vec<u64> =
            std::iter::from_fn(|| through.next_row().expect("a row").map(|r| r.line)).collect();
        assert_eq!(rest, [6]);

        let mut resumed = reader(FILE);
        resumed.resume(Box::new(&FILE[bob.offset as usize..]), bob);
        let row = resumed.next_row().expect("a row").expect("Bob");
        assert_eq!(row.line, 4);
        assert_eq!(resumed.cell(Column::DisplayName), "Bob\r\nJr");
        assert_eq!(resumed.next_row().expect("a row").map(|r| r.line), Some(6));
        assert_eq!(resumed.next_row().expect("the end"), None);
    }
}
