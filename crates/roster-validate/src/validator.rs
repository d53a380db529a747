//! `validate`: file checks, then every row against the template and the
//! account, all errors at once.
//!
//! Rows are read one at a time and checked in batches: the rules that need
//! only the row run as it is read, and the rules that need the account run
//! once per batch through one [`Directory::look_up`]. Uniqueness within the
//! file is decided once every row is read (`uniques.rs`); until then the
//! errors found wait in a [`Scratch`], and are then handed on in file
//! order. Nothing kept in memory grows with the file or its errors.

use std::collections::HashSet;
use std::io::{self, Read};
use std::sync::mpsc;

use roster_csv::unneutralise;
use roster_template::{Column, ERRORS_HEADER, HeaderProblem, Headers};

use crate::directory::{Directory, DirectoryError, Facts, Keys, location_key};
use crate::input::{self, BadUtf16, Sniffed, TooLarge};
use crate::records::{ReadError, Record, Records};
use crate::report::{ErrorCounts, Findings, Found};
use crate::scratch::{MemoryScratch, Scratch, SpillBuffer, Spilled};
use crate::uniques::{Duplicates, KeyUse, Uniques};
use crate::{
    Code, E164, Email, Error, Extension, FileError, Limits, Options, Report, Role, RowError,
};

/// Rows checked against the directory at a time.
const BATCH_ROWS: usize = 4096;

/// Validates a whole file, with every row error in the report. Nothing is
/// written anywhere. For a file of some thousands of rows; a larger one
/// goes through [`validate_into`], which keeps neither the errors nor what
/// uniqueness needs in memory.
pub fn validate(
    input: Box<dyn Read + Send>,
    directory: &mut dyn Directory,
    options: &Options,
) -> Result<Report, Error> {
    let mut errors = Vec::new();
    let mut report = validate_into(
        input,
        directory,
        options,
        &mut MemoryScratch::default(),
        &mut errors,
    )?;
    report.row_errors = errors;
    Ok(report)
}

/// Validates a whole file, handing each row error to `findings` in file
/// order (the report counts them). What must wait until every row is read
/// (the uniqueness rules, and the errors until their order is known) goes
/// to `scratch`: memory does not grow with the file or with its errors.
///
/// Reading and the row rules run on the calling thread; the directory is
/// asked about each batch on a helper thread while the next batch is read,
/// so a database lookup and parsing overlap.
pub fn validate_into(
    input: Box<dyn Read + Send>,
    directory: &mut dyn Directory,
    options: &Options,
    scratch: &mut dyn Scratch,
    findings: &mut dyn Findings,
) -> Result<Report, Error> {
    let mut report = Report::default();
    let (mut records, headers) = match open(input, &options.limits, &mut report) {
        Ok(Some(opened)) => opened,
        Ok(None) => return Ok(report),
        Err(e) => return outcome(e, None, report),
    };
    let mut checker = Checker::new(headers, *options, true);
    let mut uniques = Uniques::new();
    let mut found = SpillBuffer::new(ERRORS_AREA, ERRORS_BUDGET);
    let spill = |e: io::Error| Error::Scratch(e);
    let read_error = std::thread::scope(|scope| {
        let (to_directory, batches) = mpsc::sync_channel::<Batch>(1);
        let (to_checker, answers) = mpsc::sync_channel::<(Batch, Result<Facts, DirectoryError>)>(1);
        scope.spawn(move || {
            for batch in batches {
                let facts = directory.look_up(&batch.keys());
                if to_checker.send((batch, facts)).is_err() {
                    break;
                }
            }
        });
        let mut in_flight = 0;
        let mut finish_one =
            |checker: &mut Checker, scratch: &mut dyn Scratch| -> Result<(), Error> {
                let (batch, facts) = answers
                    .recv()
                    .map_err(|_| Error::Directory("the directory lookup stopped".into()))?;
                let facts = facts.map_err(Error::Directory)?;
                for e in checker.finish(batch, &facts) {
                    found.push(&e, scratch).map_err(spill)?;
                }
                Ok(())
            };
        let mut record = Record::default();
        let read_error = loop {
            match records.read(&mut record) {
                Ok(true) if record.is_blank() => continue,
                Ok(true) => {}
                Ok(false) => break None,
                Err(e) => break Some(e),
            }
            report.rows += 1;
            if report.rows > options.limits.max_rows {
                report.rows -= 1;
                report
                    .file_errors
                    .push(too_many_rows(record.line, options.limits.max_rows));
                break None;
            }
            checker.check_row(&record);
            for used in checker.batch.key_uses.drain(..) {
                uniques.add(&used, scratch).map_err(spill)?;
            }
            if checker.batch.rows.len() == BATCH_ROWS {
                if in_flight == 1 {
                    finish_one(&mut checker, scratch)?;
                    in_flight -= 1;
                }
                let full = std::mem::take(&mut checker.batch);
                if to_directory.send(full).is_err() {
                    return Err(Error::Directory("the directory lookup stopped".into()));
                }
                in_flight += 1;
            }
        };
        if in_flight == 1 {
            finish_one(&mut checker, scratch)?;
        }
        let last = std::mem::take(&mut checker.batch);
        if !last.rows.is_empty() {
            if to_directory.send(last).is_err() {
                return Err(Error::Directory("the directory lookup stopped".into()));
            }
            finish_one(&mut checker, scratch)?;
        }
        Ok(read_error)
    })?;

    // Every row is read: the uses of what an earlier row used, then every
    // error in order.
    let mut duplicates = uniques.duplicates(scratch).map_err(spill)?;
    let failed_rows = merge(
        &mut found,
        &mut duplicates,
        scratch,
        &mut report.counts,
        findings,
    )?;
    report.valid_rows = report.rows - failed_rows;
    if let Some(e) = read_error {
        return outcome(e, Some(&checker.headers), report);
    }
    if report.rows == 0 && report.file_errors.is_empty() {
        report.file_errors.push(empty_file(
            "the file has a header but no rows; add one row per user below the header",
        ));
    }
    if !report.file_errors.is_empty() {
        report.valid_rows = 0;
    }
    // An import of the file reserves the extensions it names.
    if report.is_valid() {
        report.extensions = duplicates.extensions(scratch).map_err(spill)?;
    }
    Ok(report)
}

/// The scratch area of the errors found while reading.
const ERRORS_AREA: usize = 0;
/// Bytes of errors kept in memory before they go to the scratch.
const ERRORS_BUDGET: usize = 4 * 1024 * 1024;

/// Hands every error to `findings` in order: those found while reading
/// (sorted already) merged with the runs of duplicates (each sorted); counts
/// them in `counts`, and returns how many rows have any.
fn merge(
    found: &mut SpillBuffer,
    duplicates: &mut Duplicates,
    scratch: &mut dyn Scratch,
    counts: &mut ErrorCounts,
    findings: &mut dyn Findings,
) -> Result<u64, Error> {
    let spill = |e: io::Error| Error::Scratch(e);
    // Every run is read at once, each a value at a time: its next error is
    // in memory, the rest stays in the scratch.
    let mut readers = vec![found.drain(scratch).map_err(spill)?];
    for run in &mut duplicates.runs {
        readers.push(run.drain(scratch).map_err(spill)?);
    }
    let mut heads: Vec<Option<Found>> = Vec::with_capacity(readers.len());
    for reader in &mut readers {
        heads.push(Found::read(reader.as_mut()).map_err(spill)?);
    }
    let mut failed_rows = 0;
    let mut last_row = None;
    loop {
        let next = heads
            .iter()
            .enumerate()
            .filter_map(|(i, head)| head.as_ref().map(|h| (h.order(), i)))
            .min();
        let Some((_, i)) = next else {
            break;
        };
        let head = heads[i].take().expect("the head chosen is there");
        heads[i] = Found::read(readers[i].as_mut()).map_err(spill)?;
        if last_row != Some(head.error.row) {
            failed_rows += 1;
            last_row = Some(head.error.row);
        }
        counts.add(&head.error);
        findings.row_error(head.error)?;
    }
    Ok(failed_rows)
}

/// File checks up to and including the header line. `None` when they
/// refused the file, with the reason in `report`.
pub(crate) fn open(
    input: Box<dyn Read + Send>,
    limits: &Limits,
    report: &mut Report,
) -> Result<Option<(Records, Headers)>, ReadError> {
    let mut records = match input::sniff(input, limits.max_bytes).map_err(ReadError::Io)? {
        Sniffed::Text(text, prefix) => Records::new(text, limits.max_record_bytes, prefix),
        Sniffed::Empty => {
            report.file_errors.push(empty_file("the file is empty"));
            return Ok(None);
        }
        Sniffed::NotCsv(kind) => {
            report.file_errors.push(FileError {
                line: None,
                code: Code::NotCsv,
                message: format!(
                    "{kind}; roster reads CSV files only: open it in your spreadsheet and \
                     save it with File > Save As > 'CSV UTF-8 (Comma delimited) (*.csv)'"
                ),
            });
            return Ok(None);
        }
        Sniffed::Encoding(message) => {
            report.file_errors.push(FileError {
                line: None,
                code: Code::Encoding,
                message: message.to_string(),
            });
            return Ok(None);
        }
    };
    let is_header =
        |h: &str| Column::from_header(h).is_some() || h.trim().eq_ignore_ascii_case(ERRORS_HEADER);
    records.sniff_delimiter(is_header).map_err(ReadError::Io)?;
    let mut record = Record::default();
    loop {
        if !records.read(&mut record)? {
            report.file_errors.push(empty_file("the file is empty"));
            return Ok(None);
        }
        if !record.is_blank() {
            break;
        }
    }
    let cells: Vec<&str> = record.fields().collect();
    let headers = Headers::match_line(&cells);
    if !headers.problems().is_empty() {
        report.file_errors = headers
            .problems()
            .iter()
            .map(|p| header_error(p, record.line))
            .collect();
        return Ok(None);
    }
    Ok(Some((records, headers)))
}

/// The longest text each free-text column takes, in characters.
fn max_chars(column: Column) -> usize {
    match column {
        Column::DisplayName => 256,
        Column::FirstName | Column::LastName => 64,
        _ => 128,
    }
}

/// Checks rows and remembers what earlier rows used.
pub(crate) struct Checker {
    pub(crate) headers: Headers,
    options: Options,
    /// Whether the keys rows use are kept, for uniqueness within the file.
    unique: bool,
    /// The batch being read.
    pub(crate) batch: Batch,
}

/// Rows read and checked on their own, waiting for the directory.
#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) rows: Vec<Pending>,
    /// The errors of these rows found so far.
    pub(crate) errors: Vec<RowError>,
    /// The keys the last row used, for uniqueness within the file.
    pub(crate) key_uses: Vec<KeyUse>,
}

/// What the directory must confirm about one row.
pub(crate) struct Pending {
    pub(crate) line: u64,
    pub(crate) email: Option<String>,
    pub(crate) primary: Option<E164>,
    pub(crate) additional: Vec<E164>,
    pub(crate) extension: Option<Extension>,
    /// The location as written, and its key.
    pub(crate) location: Option<(String, String)>,
}

impl Batch {
    /// The keys the directory is asked about.
    fn keys(&self) -> Keys<'_> {
        let mut keys = Keys::default();
        let mut locations = HashSet::new();
        for row in &self.rows {
            keys.emails.extend(row.email.as_deref());
            keys.numbers
                .extend(row.primary.iter().chain(&row.additional));
            keys.extensions.extend(row.extension);
            if let Some((_, key)) = &row.location
                && locations.insert(key.as_str())
            {
                keys.locations.push(key);
            }
        }
        keys
    }
}

impl Checker {
    /// A checker for a file's rows; `unique` checks that emails, numbers and
    /// extensions are not used twice in the file.
    pub(crate) fn new(headers: Headers, options: Options, unique: bool) -> Checker {
        Checker {
            headers,
            options,
            unique,
            batch: Batch::default(),
        }
    }

    pub(crate) fn cell<'r>(&self, record: &'r Record, column: Column) -> &'r str {
        if column.is_voice() && !self.options.voice {
            return "";
        }
        match self.headers.index_of(column) {
            Some(i) => unneutralise(record.field(i)),
            None => "",
        }
    }

    fn error(&mut self, row: u64, column: Option<Column>, code: Code, message: String) {
        self.batch.errors.push(RowError {
            row,
            column,
            code,
            message,
        });
    }

    /// Runs every rule that needs only this row and the rows before it.
    pub(crate) fn check_row(&mut self, record: &Record) {
        let line = record.line;
        let width = self.headers.width();
        let extra_filled = (width..record.len()).any(|i| !record.field(i).trim().is_empty());
        if record.len() < width || extra_filled {
            let message = format!(
                "has {} cells but the header has {width}; check for a missing or extra {} \
                 (a cell with a comma in it must be in double quotes)",
                record.len(),
                if record.len() < width {
                    "cell"
                } else {
                    "cell or delimiter"
                },
            );
            self.error(line, None, Code::RaggedRow, message);
            self.batch.rows.push(Pending::failed(line));
            return;
        }

        let display_name = self.cell(record, Column::DisplayName).trim();
        if display_name.is_empty() {
            self.error(
                line,
                Some(Column::DisplayName),
                Code::Required,
                "is empty; every user needs a display name, like Jane Doe".to_string(),
            );
        }
        for column in [
            Column::DisplayName,
            Column::FirstName,
            Column::LastName,
            Column::JobTitle,
            Column::Department,
            Column::OrganizationalUnit,
        ] {
            let text = self.cell(record, column).trim();
            let limit = max_chars(column);
            if text.len() > limit {
                let chars = text.chars().count();
                if chars > limit {
                    let message =
                        format!("is {chars} characters long; at most {limit} are allowed");
                    self.error(line, Some(column), Code::TooLong, message);
                }
            }
        }

        let email = self.check_email(record, line);
        let (primary, additional) = self.check_numbers(record, line);
        let extension = self.check_extension(record, line);

        let location = self.cell(record, Column::VoiceLocation).trim();
        let location =
            (!location.is_empty()).then(|| (location.to_string(), location_key(location)));

        let role = self.cell(record, Column::Role);
        if !role.trim().is_empty() && Role::parse(role).is_none() {
            let message = format!(
                "{} is not a role; use one of: {}",
                quote(role),
                Role::choices()
            );
            self.error(line, Some(Column::Role), Code::InvalidRole, message);
        }

        self.batch.rows.push(Pending {
            line,
            email,
            primary,
            additional,
            extension,
            location,
        });
    }

    fn check_email(&mut self, record: &Record, line: u64) -> Option<String> {
        let cell = self.cell(record, Column::Email);
        if cell.trim().is_empty() {
            let message =
                "is empty; every user needs a unique email address to sign in with".to_string();
            self.error(line, Some(Column::Email), Code::Required, message);
            return None;
        }
        let email = match Email::parse(cell) {
            Ok(email) => email,
            Err(e) => {
                self.error(
                    line,
                    Some(Column::Email),
                    Code::InvalidEmail,
                    format!("{} {e}", quote(cell)),
                );
                return None;
            }
        };
        let typed = email.to_string();
        let key = email.into_key();
        if self.unique {
            self.batch.key_uses.push(KeyUse::email(&key, typed, line));
        }
        Some(key)
    }

    fn check_numbers(&mut self, record: &Record, line: u64) -> (Option<E164>, Vec<E164>) {
        let primary_cell = self.cell(record, Column::PrimaryPhone);
        let primary = if primary_cell.trim().is_empty() {
            None
        } else {
            match E164::parse(primary_cell) {
                Ok(n) if n.is_toll_free() => {
                    let message = format!(
                        "{n} is a toll-free number, which cannot be a user's primary number; \
                         put it under Additional Phone Numbers and give a local number here"
                    );
                    self.error(
                        line,
                        Some(Column::PrimaryPhone),
                        Code::TollFreePrimary,
                        message,
                    );
                    Some(n)
                }
                Ok(n) => Some(n),
                Err(e) => {
                    let message = format!("{} {e}", quote(primary_cell));
                    self.error(
                        line,
                        Some(Column::PrimaryPhone),
                        Code::InvalidPhone,
                        message,
                    );
                    None
                }
            }
        };
        if let Some(n) = primary {
            self.check_number_unique(n, line, Column::PrimaryPhone);
        }

        let additional_cell = self.cell(record, Column::AdditionalPhones);
        let mut additional = Vec::new();
        let mut any = false;
        for part in additional_cell
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            any = true;
            match E164::parse(part) {
                Ok(n) if primary == Some(n) || additional.contains(&n) => {
                    let message =
                        format!("{n} is listed twice for this user; list each number once");
                    self.error(
                        line,
                        Some(Column::AdditionalPhones),
                        Code::DuplicateNumber,
                        message,
                    );
                }
                Ok(n) => {
                    self.check_number_unique(n, line, Column::AdditionalPhones);
                    additional.push(n);
                }
                Err(e) => {
                    let message = format!(
                        "{} {e}; separate several numbers with semicolons",
                        quote(part)
                    );
                    self.error(
                        line,
                        Some(Column::AdditionalPhones),
                        Code::InvalidPhone,
                        message,
                    );
                }
            }
        }
        if any && primary_cell.trim().is_empty() {
            let message = "lists numbers but the row has no Primary Phone Number; \
                           move one of them to the primary column"
                .to_string();
            self.error(
                line,
                Some(Column::AdditionalPhones),
                Code::AdditionalWithoutPrimary,
                message,
            );
        }
        (primary, additional)
    }

    fn check_number_unique(&mut self, n: E164, line: u64, column: Column) {
        if self.unique {
            self.batch.key_uses.push(KeyUse::number(n, line, column));
        }
    }

    fn check_extension(&mut self, record: &Record, line: u64) -> Option<Extension> {
        let cell = self.cell(record, Column::Extension);
        if cell.trim().is_empty() {
            return None;
        }
        let extension = match Extension::parse(cell, self.options.extensions) {
            Ok(e) => e,
            Err(e) => {
                self.error(
                    line,
                    Some(Column::Extension),
                    Code::InvalidExtension,
                    format!("{} {e}", quote(cell)),
                );
                return None;
            }
        };
        if self.unique {
            self.batch.key_uses.push(KeyUse::extension(extension, line));
        }
        Some(extension)
    }

    /// The errors of `batch`: the rows' own, and what the directory found
    /// about them, in file order and within a row in column order.
    fn finish(&mut self, batch: Batch, facts: &Facts) -> Vec<Found> {
        let mut account = Vec::new();
        for row in &batch.rows {
            check_against(&row.claims(), facts, &mut account);
        }
        let mut found: Vec<Found> = batch
            .errors
            .into_iter()
            .map(Found::own)
            .chain(account.into_iter().map(Found::account))
            .collect();
        // Stable: a row's errors of one column and stage stay in check order.
        found.sort_by_key(Found::order);
        found
    }
}

/// The rules that need the account.
/// What a row asks of the account, as the account rules see it.
pub(crate) struct Claims<'a> {
    pub(crate) line: u64,
    /// The email key.
    pub(crate) email: Option<&'a str>,
    pub(crate) primary: Option<E164>,
    pub(crate) additional: &'a [E164],
    pub(crate) extension: Option<Extension>,
    /// The location as written, and its key.
    pub(crate) location: Option<(&'a str, &'a str)>,
}

impl Pending {
    fn claims(&self) -> Claims<'_> {
        Claims {
            line: self.line,
            email: self.email.as_deref(),
            primary: self.primary,
            additional: &self.additional,
            extension: self.extension,
            location: self
                .location
                .as_ref()
                .map(|(name, key)| (name.as_str(), key.as_str())),
        }
    }
}

pub(crate) fn check_against(row: &Claims<'_>, facts: &Facts, errors: &mut Vec<RowError>) {
    let mut error = |column: Column, code: Code, message: String| {
        errors.push(RowError {
            row: row.line,
            column: Some(column),
            code,
            message,
        })
    };
    if let Some(key) = row.email
        && facts.taken_emails.contains(key)
    {
        let message = format!(
            "{key} already belongs to a user of this account; remove the row, or use another address"
        );
        error(Column::Email, Code::EmailTaken, message);
    }
    let numbers = row
        .primary
        .iter()
        .map(|n| (*n, Column::PrimaryPhone))
        .chain(
            row.additional
                .iter()
                .map(|n| (*n, Column::AdditionalPhones)),
        );
    for (n, column) in numbers {
        if facts.assigned_numbers.contains(&n) {
            let message = format!(
                "{n} is already assigned to another user; use a number that is parked on the account"
            );
            error(column, Code::NumberAssigned, message);
        } else if facts.unowned_numbers.contains(&n) {
            let message = format!(
                "{n} is not parked on this account; park the number on the account first, \
                 or leave the cell empty"
            );
            error(column, Code::NumberNotParked, message);
        }
    }
    if let Some(extension) = &row.extension
        && facts.taken_extensions.contains(extension)
    {
        let message = format!(
            "{extension} is already used by another user of this account; pick a free \
             extension or leave the cell empty to have one assigned"
        );
        error(Column::Extension, Code::ExtensionTaken, message);
    }
    if let Some((name, key)) = row.location
        && facts.unknown_locations.contains(key)
    {
        let message = format!(
            "{} is not a location of this account; create the location first, or leave \
             the cell empty for Main Company Address",
            quote(name)
        );
        error(Column::VoiceLocation, Code::UnknownLocation, message);
    }
}

impl Pending {
    fn failed(line: u64) -> Pending {
        Pending {
            line,
            email: None,
            primary: None,
            additional: Vec::new(),
            extension: None,
            location: None,
        }
    }
}

/// A cell as a message shows it: quoted, and cut short when long.
fn quote(cell: &str) -> String {
    let cell = cell.trim();
    const SHOWN: usize = 40;
    match cell.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("'{}…'", &cell[..cut]),
        None => format!("'{cell}'"),
    }
}

fn too_many_rows(line: u64, max_rows: u64) -> FileError {
    FileError {
        line: Some(line),
        code: Code::TooManyRows,
        message: format!(
            "the file has more than {max_rows} rows; split it into files of at most {max_rows} rows \
             and import them one after another"
        ),
    }
}

fn empty_file(message: &str) -> FileError {
    FileError {
        line: None,
        code: Code::EmptyFile,
        message: message.to_string(),
    }
}

fn header_error(problem: &HeaderProblem, line: u64) -> FileError {
    let (code, message) = match problem {
        HeaderProblem::Missing(column) => (
            Code::MissingColumn,
            format!(
                "the header has no '{column}' column; it is mandatory (download the template for the exact headers)"
            ),
        ),
        HeaderProblem::Unknown {
            position,
            found,
            suggestion,
        } => {
            let hint = match suggestion {
                Some(column) => format!("; did you mean '{column}'?"),
                None => "; use the template's headers, or delete the column".to_string(),
            };
            let found = if found.is_empty() {
                "an empty header".to_string()
            } else {
                format!("'{found}'")
            };
            (
                Code::UnknownColumn,
                format!(
                    "column {} has {found}, which is not a template column{hint}",
                    position + 1
                ),
            )
        }
        HeaderProblem::Duplicate {
            position,
            column,
            first,
        } => (
            Code::DuplicateColumn,
            format!(
                "column {} repeats '{column}', already column {}; keep one of them",
                position + 1,
                first + 1
            ),
        ),
    };
    FileError {
        line: Some(line),
        code,
        message,
    }
}

/// Turns a read failure into the report's file error, or into `Err` when it
/// is not about the file.
pub(crate) fn outcome(
    e: ReadError,
    headers: Option<&Headers>,
    mut report: Report,
) -> Result<Report, Error> {
    let error = match e {
        ReadError::Io(e) => return io_outcome(e, report),
        ReadError::Utf8 { line, field, byte } => {
            let column = headers
                .and_then(|h| {
                    Column::ALL
                        .into_iter()
                        .find(|c| h.index_of(*c) == Some(field))
                })
                .map_or(format!("cell {}", field + 1), |c| format!("column '{c}'"));
            FileError {
                line: Some(line),
                code: Code::Encoding,
                message: format!(
                    "line {line}, {column}: byte 0x{byte:02X} is not UTF-8; the file was saved in \
                     another encoding (Windows-1252 or ANSI, say): save it again as \
                     'CSV UTF-8 (Comma delimited)'"
                ),
            }
        }
        ReadError::Nul { line } => FileError {
            line: Some(line),
            code: Code::Encoding,
            message: format!("line {line} holds a NUL byte; the file is damaged or not plain text"),
        },
        ReadError::UnclosedQuote { line } => FileError {
            line: Some(line),
            code: Code::MalformedCsv,
            message: format!(
                "the double quote that opens a cell on line {line} is never closed; \
                 close it, or double it (\"\") if it is part of the text"
            ),
        },
        ReadError::RecordTooLong {
            line,
            quote_line,
            max,
        } => FileError {
            line: Some(line),
            code: Code::MalformedCsv,
            message: match quote_line {
                Some(q) => format!(
                    "the row starting on line {line} runs past {max} bytes inside a quoted cell \
                     opened on line {q}; the closing double quote is probably missing"
                ),
                None => format!(
                    "the row starting on line {line} is longer than {max} bytes; \
                     no user row is that long: check the line breaks of the file"
                ),
            },
        },
    };
    report.file_errors.push(error);
    report.valid_rows = 0;
    Ok(report)
}

/// An IO failure is the file's fault when it is the size cap or broken
/// UTF-16; otherwise roster could not read the file at all.
fn io_outcome(e: io::Error, mut report: Report) -> Result<Report, Error> {
    let error = if let Some(TooLarge { max_bytes }) =
        e.get_ref().and_then(|i| i.downcast_ref::<TooLarge>())
    {
        FileError {
            line: None,
            code: Code::FileTooLarge,
            message: format!(
                "the file is larger than {max_bytes} bytes; split it into smaller files and import them one after another"
            ),
        }
    } else if let Some(BadUtf16 { offset }) = e.get_ref().and_then(|i| i.downcast_ref::<BadUtf16>())
    {
        FileError {
            line: None,
            code: Code::Encoding,
            message: format!(
                "the UTF-16 text is broken at byte {offset}; save the file again as 'CSV UTF-8 (Comma delimited)'"
            ),
        }
    } else {
        return Err(Error::Io(e));
    };
    report.file_errors.push(error);
    report.valid_rows = 0;
    Ok(report)
}

#[cfg(test)]
mod tests;
