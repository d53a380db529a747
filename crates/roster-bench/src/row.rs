//! A row of a validated file as the bare loops write it: its cells parsed
//! with roster-validate's rules, its location and role resolved, its
//! extension assigned when it names none.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

use csv::StringRecord;
use roster_template::Column;
use roster_validate::{E164, Email, Extension, MAIN_LOCATION, Role, location_key};

use crate::{Account, Error};

/// What a bare import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    pub users: u64,
    pub extensions: u64,
    pub numbers: u64,
}

/// A user file read record by record, with where each column is.
pub(crate) struct UserFile {
    reader: csv::Reader<File>,
    path: String,
    pub(crate) columns: Columns,
    /// How many cells its header has.
    pub(crate) width: usize,
}

impl UserFile {
    pub(crate) fn open(path: &Path) -> Result<UserFile, Error> {
        let path = path.display().to_string();
        let failed = |source| Error::Csv {
            path: path.clone(),
            source,
        };
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(&path)
            .map_err(failed)?;
        let headers = reader.headers().map_err(failed)?;
        let width = headers.len();
        let columns = Columns::new(headers)?;
        Ok(UserFile {
            reader,
            path,
            columns,
            width,
        })
    }

    /// Reads the next record into `record`; false at the end of the file.
    pub(crate) fn read(&mut self, record: &mut StringRecord) -> Result<bool, Error> {
        self.reader
            .read_record(record)
            .map_err(|source| Error::Csv {
                path: self.path.clone(),
                source,
            })
    }
}

/// Where each template column is in the file.
#[derive(Debug, Clone)]
pub(crate) struct Columns([Option<usize>; Column::ALL.len()]);

impl Columns {
    pub(crate) fn new(headers: &StringRecord) -> Result<Columns, Error> {
        let mut at = [None; Column::ALL.len()];
        for (i, header) in headers.iter().enumerate() {
            if let Some(column) = Column::from_header(header.trim()) {
                at[column.index()] = Some(i);
            }
        }
        for column in [Column::DisplayName, Column::Email] {
            if at[column.index()].is_none() {
                return Err(Error::MissingColumn(column.header()));
            }
        }
        Ok(Columns(at))
    }

    /// The trimmed cell of `column`; empty when the file lacks the column.
    pub(crate) fn cell<'r>(&self, record: &'r StringRecord, column: Column) -> &'r str {
        self.0[column.index()]
            .and_then(|i| record.get(i))
            .map_or("", str::trim)
    }
}

/// A user to insert.
#[derive(Debug)]
pub(crate) struct User<'r> {
    pub(crate) display_name: &'r str,
    pub(crate) email: String,
    pub(crate) first_name: Option<&'r str>,
    pub(crate) last_name: Option<&'r str>,
    pub(crate) job_title: Option<&'r str>,
    pub(crate) department: Option<&'r str>,
    pub(crate) organizational_unit: Option<&'r str>,
    pub(crate) role: &'r str,
    pub(crate) location_id: i64,
    pub(crate) extension: String,
    /// E.164 digits, the primary first.
    pub(crate) numbers: Vec<i64>,
}

/// Hands out extensions from the account's first one upward, skipping the
/// ones taken; remembers what it handed out and what rows named.
#[derive(Debug)]
pub(crate) struct Extensions {
    next: u64,
    taken: HashSet<Extension>,
}

impl Extensions {
    pub(crate) fn new(account: &Account) -> Extensions {
        Extensions {
            next: account.extension_first,
            taken: account.taken_extensions.clone(),
        }
    }

    fn named(&mut self, extension: Extension) -> Extension {
        self.taken.insert(extension);
        extension
    }

    fn assign(&mut self, account: &Account) -> Option<Extension> {
        loop {
            let candidate = Extension::from_number(self.next)?;
            if candidate.digits() > account.extensions.max_digits {
                return None;
            }
            self.next += 1;
            if self.taken.insert(candidate) {
                return Some(candidate);
            }
        }
    }
}

/// The row at `line` as a user to insert.
pub(crate) fn user<'r>(
    record: &'r StringRecord,
    line: u64,
    columns: &Columns,
    account: &'r Account,
    extensions: &mut Extensions,
) -> Result<User<'r>, Error> {
    let invalid = |why: String| Error::InvalidRow { line, why };
    let cell = |column| columns.cell(record, column);
    let optional = |column| Some(cell(column)).filter(|c| !c.is_empty());

    let email = Email::parse(cell(Column::Email)).map_err(|e| invalid(format!("{e:?}")))?;
    let role = match cell(Column::Role) {
        "" => account.default_role.as_str(),
        text => Role::parse(text)
            .ok_or_else(|| invalid(format!("role {text:?}")))?
            .as_str(),
    };
    let location = match cell(Column::VoiceLocation) {
        "" => location_key(MAIN_LOCATION),
        name => location_key(name),
    };
    let location_id = *account
        .locations
        .get(&location)
        .ok_or_else(|| invalid(format!("location {location:?}")))?;
    let extension = match cell(Column::Extension) {
        "" => extensions.assign(account),
        text => Some(
            extensions.named(
                Extension::parse(text, account.extensions)
                    .map_err(|e| invalid(format!("extension: {e:?}")))?,
            ),
        ),
    }
    .ok_or_else(|| invalid("no free extension".to_string()))?;
    let mut numbers = Vec::new();
    let additional = cell(Column::AdditionalPhones);
    for text in std::iter::once(cell(Column::PrimaryPhone))
        .chain(additional.split(';'))
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let number = E164::parse(text).map_err(|e| invalid(format!("number: {e:?}")))?;
        numbers.push(i64::try_from(number.digits()).unwrap_or(i64::MAX));
    }
    Ok(User {
        display_name: cell(Column::DisplayName),
        email: email.as_str().to_string(),
        first_name: optional(Column::FirstName),
        last_name: optional(Column::LastName),
        job_title: optional(Column::JobTitle),
        department: optional(Column::Department),
        organizational_unit: optional(Column::OrganizationalUnit),
        role,
        location_id,
        extension: extension.to_string(),
        numbers,
    })
}
