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

use roster_template::{Column, ERRORS_HEADER, HeaderProblem, Headers};

use crate::check::{Checked, Claims, Rules, check_against};
use crate::directory::{Directory, DirectoryError, Facts, Keys};
use crate::input::{self, BadUtf16, Sniffed, TooLarge};
use crate::planner::Planner;
use crate::records::{ReadError, Record, Records};
use crate::report::{ErrorCounts, Findings, Found};
use crate::rows::valid_row;
use crate::scratch::{MemoryScratch, Scratch, SpillBuffer, Spilled};
use crate::uniques::{Duplicates, Uniques};
use crate::{Code, Error, FileError, Mode, Options, PlannedRow, Report, RowError, ValidRow};

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
    let mut found = Collected::default();
    let mut report = validate_into(
        input,
        directory,
        options,
        &mut MemoryScratch::default(),
        &mut found,
    )?;
    report.row_errors = found.errors;
    report.planned = found.planned;
    Ok(report)
}

/// What [`validate`] keeps of the findings: all of them.
#[derive(Default)]
struct Collected {
    errors: Vec<RowError>,
    planned: Vec<PlannedRow>,
}

impl Findings for Collected {
    fn row_error(&mut self, error: RowError) -> Result<(), Error> {
        self.errors.push(error);
        Ok(())
    }

    fn planned(&mut self, row: PlannedRow) -> Result<(), Error> {
        self.planned.push(row);
        Ok(())
    }
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
    let (mut records, headers) = match open(input, options, &mut report) {
        Ok(Some(opened)) => opened,
        Ok(None) => return Ok(report),
        Err(e) => return outcome(e, None, report),
    };
    let rules = Rules::new(headers, *options);
    let mut batch = Batch::default();
    let mut planner = options
        .mode
        .plans()
        .then(|| Planner::new(options.mode, options.default_role));
    let plans = planner.is_some();
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
        let mut finish_one = |scratch: &mut dyn Scratch| -> Result<(), Error> {
            let (batch, facts) = answers
                .recv()
                .map_err(|_| Error::Directory("the directory lookup stopped".into()))?;
            let mut facts = facts.map_err(Error::Directory)?;
            let found_here = match &mut planner {
                Some(planner) => batch.plan(&mut facts, planner, scratch).map_err(spill)?,
                None => batch.finish(&facts),
            };
            for e in found_here {
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
            let checked = rules.check(&record);
            uniques.add_row(&checked, scratch).map_err(spill)?;
            if plans {
                let valid = match &checked {
                    Checked {
                        errors,
                        email: Some(email),
                        claims,
                    } if errors.is_empty() => {
                        Some(valid_row(&rules, &record, email.clone(), claims.clone()))
                    }
                    _ => None,
                };
                batch.valid.push(valid);
            }
            batch.push(checked);
            if batch.rows.len() == BATCH_ROWS {
                if in_flight == 1 {
                    finish_one(scratch)?;
                    in_flight -= 1;
                }
                let full = std::mem::take(&mut batch);
                if to_directory.send(full).is_err() {
                    return Err(Error::Directory("the directory lookup stopped".into()));
                }
                in_flight += 1;
            }
        };
        if in_flight == 1 {
            finish_one(scratch)?;
        }
        let last = std::mem::take(&mut batch);
        if !last.rows.is_empty() {
            if to_directory.send(last).is_err() {
                return Err(Error::Directory("the directory lookup stopped".into()));
            }
            finish_one(scratch)?;
        }
        Ok(read_error)
    })?;

    // Every row is read: the uses of what an earlier row used, then every
    // error in order.
    let mut duplicates = uniques.duplicates(scratch).map_err(spill)?;
    let unreleased = planner
        .as_mut()
        .map(Planner::unreleased)
        .unwrap_or_default();
    let mut failed = Vec::new();
    let failed_rows = merge(
        &mut found,
        &mut duplicates,
        unreleased,
        scratch,
        &mut report.counts,
        findings,
        planner.is_some().then_some(&mut failed),
    )?;
    report.valid_rows = report.rows - failed_rows;
    if let Some(planner) = &mut planner
        && read_error.is_none()
        && report.file_errors.is_empty()
    {
        report.plan = Some(planner.deliver(&failed, scratch, findings)?);
    }
    if let Some(e) = read_error {
        return outcome(e, Some(&rules.headers), report);
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
/// (sorted already) merged with the runs of duplicates (each sorted) and
/// the plan's claims that no row released (sorted); counts them in
/// `counts`, keeps the rows that have any in `failed` when asked, and
/// returns how many rows have any.
fn merge(
    found: &mut SpillBuffer,
    duplicates: &mut Duplicates,
    unreleased: Vec<Found>,
    scratch: &mut dyn Scratch,
    counts: &mut ErrorCounts,
    findings: &mut dyn Findings,
    mut failed: Option<&mut Vec<u64>>,
) -> Result<u64, Error> {
    let spill = |e: io::Error| Error::Scratch(e);
    // Every run is read at once, each a value at a time: its next error is
    // in memory, the rest stays in the scratch.
    let mut readers = vec![found.drain(scratch).map_err(spill)?];
    for run in &mut duplicates.runs {
        readers.push(run.drain(scratch).map_err(spill)?);
    }
    if !unreleased.is_empty() {
        let mut bytes = Vec::new();
        for e in &unreleased {
            e.write(&mut bytes);
        }
        readers.push(Box::new(io::Cursor::new(bytes)));
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
            if let Some(failed) = failed.as_mut() {
                failed.push(head.error.row);
            }
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
    options: &Options,
    report: &mut Report,
) -> Result<Option<(Records, Headers)>, ReadError> {
    let limits = &options.limits;
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
    // When rows may update users, a file may leave out the display name
    // (keeping every user's); a new user's row still needs one.
    let problems: Vec<FileError> = headers
        .problems()
        .iter()
        .filter(|p| {
            options.mode == Mode::Create || **p != HeaderProblem::Missing(Column::DisplayName)
        })
        .map(|p| header_error(p, record.line))
        .collect();
    if !problems.is_empty() {
        report.file_errors = problems;
        return Ok(None);
    }
    Ok(Some((records, headers)))
}

/// Rows checked on their own, waiting for the directory.
#[derive(Default)]
struct Batch {
    /// What each row asks of the account.
    rows: Vec<Claims<'static>>,
    /// The rows' own errors.
    errors: Vec<RowError>,
    /// When rows may update users: each row parsed, `None` when it has
    /// errors of its own.
    valid: Vec<Option<ValidRow>>,
}

impl Batch {
    fn push(&mut self, checked: Checked) {
        self.errors.extend(checked.errors);
        self.rows.push(checked.claims);
    }

    /// The keys the directory is asked about.
    fn keys(&self) -> Keys<'_> {
        let mut keys = Keys {
            plan: !self.valid.is_empty(),
            ..Keys::default()
        };
        let mut locations = HashSet::new();
        for row in &self.rows {
            keys.emails.extend(row.email_key.as_deref());
            keys.numbers.extend(row.numbers().map(|(n, _)| n));
            keys.extensions.extend(row.extension);
            if let Some(location) = &row.location
                && locations.insert(location.key.as_str())
            {
                keys.locations.push(&location.key);
            }
        }
        keys
    }

    /// The errors of the batch: the rows' own, and what the directory found
    /// about them, in file order and within a row in column order.
    fn finish(self, facts: &Facts) -> Vec<Found> {
        let mut account = Vec::new();
        for row in &self.rows {
            check_against(row, facts, &mut account);
        }
        self.sorted(account)
    }

    /// Like [`Batch::finish`] for rows that may update users: `planner`
    /// plans each row, and decides at the end what waits for the file.
    fn plan(
        self,
        facts: &mut Facts,
        planner: &mut Planner,
        scratch: &mut dyn Scratch,
    ) -> io::Result<Vec<Found>> {
        let mut account = Vec::new();
        let mut planned_here = HashSet::new();
        for (row, valid) in self.rows.iter().zip(&self.valid) {
            planner.plan_row(
                row,
                valid.as_ref(),
                facts,
                &mut planned_here,
                &mut account,
                scratch,
            )?;
        }
        Ok(self.sorted(account))
    }

    /// The rows' own errors and `account`'s, in file order.
    fn sorted(self, account: Vec<RowError>) -> Vec<Found> {
        let mut found: Vec<Found> = self
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
    report.file_errors.push(file_error(e, headers)?);
    report.valid_rows = 0;
    Ok(report)
}

/// What is wrong with a file its records cannot be read from; `Err` when
/// it is not about the file.
pub(crate) fn file_error(e: ReadError, headers: Option<&Headers>) -> Result<FileError, Error> {
    let error = match e {
        ReadError::Io(e) => return io_file_error(e),
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
    Ok(error)
}

/// An IO failure is the file's fault when it is the size cap or broken
/// UTF-16; otherwise roster could not read the file at all.
fn io_file_error(e: io::Error) -> Result<FileError, Error> {
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
    Ok(error)
}

#[cfg(test)]
mod tests;
