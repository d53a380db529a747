//! The promises the fuzz targets hold roster-validate to, whatever the bytes.
//!
//! `crates/roster-validate/tests/fuzz_regressions.rs` includes this file by
//! path, so a finding, once minimised into a test, is checked by `cargo test`
//! against exactly the rules that found it. It therefore names nothing but
//! `std` and `roster_validate`.
//!
//! A check returns the broken promise as text instead of panicking, so that a
//! test can show it; the fuzz targets panic with it. A check does not judge
//! wording or codes: the unit tests beside the code do.

use std::collections::{BTreeSet, HashSet};
use std::io::Cursor;

use roster_validate::{
    E164, Email, Extension, ExtensionPolicy, ImportRow, MemoryDirectory, NumberState, Opened,
    Options, Report, Role, RowError, RowReader, RowStart, location_key, validate,
};

/// At most this many resumed reads per input: each reads the rest of the
/// file, so resuming at every row of a long input would be quadratic.
const MAX_RESUMES: usize = 32;

/// Options with small caps, chosen by the first bytes of a fuzz input (the
/// same bytes are also the file): a few hundred bytes, a few rows, short
/// records, voice on or off, and any extension policy an account can have.
pub fn small_options(bytes: &[u8]) -> Options {
    let byte = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let mut options = Options::default();
    options.limits.max_bytes = u64::from(byte(0)) * 4;
    options.limits.max_rows = u64::from(byte(1) % 8);
    options.limits.max_record_bytes = usize::from(byte(2));
    options.voice = byte(3) % 2 == 0;
    options.extensions = extension_policy(byte(4), byte(5));
    options
}

/// An extension policy an account can have (1 <= min <= max <= 15, as the
/// store's schema checks), chosen by two bytes.
pub fn extension_policy(a: u8, b: u8) -> ExtensionPolicy {
    let min_digits = 1 + a % ExtensionPolicy::MAX_DIGITS;
    let max_digits = min_digits + b % (ExtensionPolicy::MAX_DIGITS - min_digits + 1);
    ExtensionPolicy {
        min_digits,
        max_digits,
    }
}

/// A small account like `fixtures/demo-account.toml`, so that the rules
/// that need the account find something to say yes and no to.
pub fn demo_directory() -> MemoryDirectory {
    let mut directory = MemoryDirectory::default();
    directory.emails.insert("existing@demo.example".to_string());
    let numbers = [
        ("+1 617 555 0100", NumberState::Parked),
        ("+1 617 555 0101", NumberState::Parked),
        ("+1 303 555 0100", NumberState::Parked),
        ("+1 800 555 0199", NumberState::Parked),
        ("+1 617 555 0150", NumberState::Assigned),
    ];
    for (number, state) in numbers {
        let number = E164::parse(number).expect("the numbers above are written correctly");
        directory.numbers.insert(number, state);
    }
    directory.extensions.extend(Extension::from_number(7001));
    for location in ["Boston Office", "Denver Office"] {
        directory.locations.insert(location_key(location));
    }
    directory
}

/// Validates `bytes` against [`demo_directory`] and checks what every
/// report promises: no `Err` (the directory cannot fail), counts that add
/// up, errors in file order, a reason for every refusal, and no file passed
/// whose bytes are not UTF-8.
pub fn validate_checked(bytes: &[u8], options: &Options) -> Result<Report, String> {
    let report = validate(
        Box::new(Cursor::new(bytes.to_vec())),
        &mut demo_directory(),
        options,
    )
    .map_err(|e| format!("validate returned Err: {e}"))?;
    check_report(&report, bytes)?;
    Ok(report)
}

/// Reads `bytes` for import as a chunked import does, and checks that the
/// places it hands out can be resumed from: a reader resumed at a row's
/// [`RowStart`] reads exactly the rows, cells and ending that the reader
/// which went through the whole file read from there on. Also that passing
/// over rows (how the planner finds the starts) sees the same rows, and that
/// a file validation did not refuse reads back as the same rows, each with
/// some of the errors validation gave it (the reader does not look at the
/// account or at the other rows), and none where validation gave none.
///
/// The size cap is left at its default: an import reads a stored file that
/// passed validation, and a resumed reader is, on purpose, not capped.
pub fn resume_checked(bytes: &[u8], options: &Options) -> Result<(), String> {
    let mut options = *options;
    options.limits.max_bytes = Options::default().limits.max_bytes;
    let Some(mut reader) = open_reader(bytes, &options)? else {
        return Ok(());
    };
    let (rows, end) = read_rest(&mut reader);

    let mut planner = open_reader(bytes, &options)?.ok_or("a second open refused the file")?;
    let mut passed = Vec::new();
    let passed_end = loop {
        match planner.skip_row() {
            Ok(Some(line)) => passed.push((line, planner.start())),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e.to_string()),
        }
    };
    let read: Vec<(u64, Option<RowStart>)> = rows.iter().map(|r| (r.row.line, r.start)).collect();
    if (&passed, &passed_end) != (&read, &end) {
        return Err(format!(
            "passing over rows saw {passed:?} ending {passed_end:?}; \
             reading them saw {read:?} ending {end:?}"
        ));
    }
    for pair in rows.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let forward = match (a.start, b.start) {
            (Some(a), Some(b)) => a.offset < b.offset && a.line < b.line,
            (None, None) => a.row.line < b.row.line,
            _ => false,
        };
        if !forward {
            return Err(format!("rows out of order: {:?} then {:?}", a, b));
        }
    }

    let step = rows.len().div_ceil(MAX_RESUMES).max(1);
    for (i, first) in rows.iter().enumerate().step_by(step) {
        let Some(start) = first.start else {
            continue;
        };
        let rest = usize::try_from(start.offset)
            .ok()
            .and_then(|offset| bytes.get(offset..))
            .ok_or_else(|| format!("{start:?} is past the end of the file"))?;
        let mut resumed = open_reader(bytes, &options)?.ok_or("a second open refused the file")?;
        resumed.resume(Box::new(Cursor::new(rest.to_vec())), start);
        let (resumed_rows, resumed_end) = read_rest(&mut resumed);
        if (resumed_rows.as_slice(), &resumed_end) != (&rows[i..], &end) {
            return Err(format!(
                "resumed at {start:?}, read {resumed_rows:#?} ending {resumed_end:?}; \
                 from the start, read {:#?} ending {end:?}",
                &rows[i..]
            ));
        }
    }

    // The import trusts validation: the rules are the same, row by row.
    let report = validate_checked(bytes, &options)?;
    if !report.file_errors.is_empty() {
        return Ok(());
    }
    if rows.len() as u64 != report.rows || end.is_err() {
        return Err(format!(
            "validation read {} rows, but reading for import gave {} ending {end:?}",
            report.rows,
            rows.len()
        ));
    }
    for read in &rows {
        let line = read.row.line;
        let reported: Vec<&RowError> = report.row_errors.iter().filter(|e| e.row == line).collect();
        let agrees = match &read.row.row {
            Ok(_) => true,
            Err(errors) => !errors.is_empty() && errors.iter().all(|e| reported.contains(&e)),
        };
        let passed = reported.is_empty();
        if !agrees || (passed && read.row.row.is_err()) {
            return Err(format!(
                "validation said {reported:#?} of the row on line {line}; \
                 reading for import said {:#?}",
                read.row.row
            ));
        }
    }
    Ok(())
}

/// Checks the value parsers on one cell: never a panic, an error that says
/// something, and a parsed value that reads back as itself from the way
/// roster writes it (the store keeps and re-reads these texts).
pub fn parsers_checked(cell: &str, policy: ExtensionPolicy) -> Result<(), String> {
    match Email::parse(cell) {
        Ok(email) => {
            if Email::parse(email.as_str()).as_ref() != Ok(&email) {
                return Err(format!("{email:?} does not parse as itself"));
            }
            if Email::parse(&email.key()).map(|e| e.key()) != Ok(email.key()) {
                return Err(format!("the key of {email:?} is not an address"));
            }
        }
        Err(e) => non_empty("email", &e.to_string())?,
    }
    match E164::parse(cell) {
        Ok(number) => {
            if E164::parse(&number.to_string()) != Ok(number)
                || E164::from_digits(number.digits()) != Ok(number)
            {
                return Err(format!("{number:?} does not parse as itself"));
            }
        }
        Err(e) => {
            if let roster_validate::PhoneError::MissingCountryCode { fixed } = &e
                && E164::parse(&fixed.to_string()).as_ref() != Ok(fixed)
            {
                return Err(format!("the suggested {fixed:?} does not parse"));
            }
            non_empty("phone", &e.to_string())?;
        }
    }
    match Extension::parse(cell, policy) {
        Ok(extension) => {
            let digits = extension.digits();
            if Extension::parse(&extension.to_string(), policy) != Ok(extension)
                || digits < policy.min_digits
                || digits > policy.max_digits
            {
                return Err(format!(
                    "{extension:?} under {policy:?} does not round-trip"
                ));
            }
        }
        Err(e) => non_empty("extension", &e.to_string())?,
    }
    if let Some(role) = Role::parse(cell)
        && Role::parse(role.as_str()) != Some(role)
    {
        return Err(format!("{role:?} does not parse as itself"));
    }
    Ok(())
}

/// One row as an import reads it, with where it starts and its cells.
#[derive(Debug, PartialEq, Eq)]
struct Read {
    start: Option<RowStart>,
    row: ImportRow,
    cells: Vec<String>,
}

fn check_report(report: &Report, bytes: &[u8]) -> Result<(), String> {
    let broken = |promise: &str| Err(format!("{promise}: {report:#?}"));
    // Every byte of a file the checks pass was read, and a byte that is not
    // UTF-8 is a file error (a UTF-16 file is transcoded first).
    let text = match bytes {
        [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] => None,
        [0xEF, 0xBB, 0xBF, rest @ ..] => Some(rest),
        _ => Some(bytes),
    };
    if report.file_errors.is_empty() && text.is_some_and(|t| std::str::from_utf8(t).is_err()) {
        return broken("bytes that are not UTF-8 passed the file checks");
    }
    if report.valid_rows > report.rows {
        return broken("more valid rows than rows");
    }
    if !report.file_errors.is_empty() && report.valid_rows != 0 {
        return broken("a refused file has valid rows");
    }
    let failed: BTreeSet<u64> = report.row_errors.iter().map(|e| e.row).collect();
    if report.rows - report.valid_rows < failed.len() as u64 {
        return broken("more rows with errors than rows that are not valid");
    }
    if report.file_errors.is_empty() && report.valid_rows + failed.len() as u64 != report.rows {
        return broken("valid rows and rows with errors do not add up to the rows");
    }
    if report.row_errors.windows(2).any(|w| w[0].row > w[1].row) {
        return broken("row errors out of file order");
    }
    if report.row_errors.iter().any(|e| e.row < 2) {
        return broken("a row error on the header's line or before");
    }
    let messages = report.file_errors.iter().map(|e| &e.message);
    if messages
        .chain(report.row_errors.iter().map(|e| &e.message))
        .any(|m| m.trim().is_empty())
    {
        return broken("an error without a message");
    }
    let extensions: HashSet<&Extension> = report.extensions.iter().collect();
    if extensions.len() != report.extensions.len() {
        return broken("an extension listed twice");
    }
    Ok(())
}

/// A reader for import, or `None` when opening refused the file.
fn open_reader(bytes: &[u8], options: &Options) -> Result<Option<Box<RowReader>>, String> {
    match RowReader::open(Box::new(Cursor::new(bytes.to_vec())), options) {
        Ok(Opened::Rows(reader)) => Ok(Some(reader)),
        Ok(Opened::Refused(report)) => {
            check_report(&report, bytes)?;
            if report.file_errors.is_empty() {
                return Err(format!("refused without a reason: {report:#?}"));
            }
            Ok(None)
        }
        Err(e) => Err(format!("RowReader::open returned Err: {e}")),
    }
}

/// Every row left, and how the reading ended: `Err` with its message.
fn read_rest(reader: &mut RowReader) -> (Vec<Read>, Result<(), String>) {
    let mut rows = Vec::new();
    loop {
        match reader.next_row() {
            Ok(Some(row)) => rows.push(Read {
                start: reader.start(),
                row,
                cells: reader.cells().map(str::to_string).collect(),
            }),
            Ok(None) => return (rows, Ok(())),
            Err(e) => return (rows, Err(e.to_string())),
        }
    }
}

fn non_empty(what: &str, message: &str) -> Result<(), String> {
    if message.trim().is_empty() {
        return Err(format!("an empty {what} error message"));
    }
    Ok(())
}
