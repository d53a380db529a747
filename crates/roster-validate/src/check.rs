//! The rules of one row: [`Rules::check`] runs those that need only the row
//! and returns its outcome; [`check_against`] runs those that need the
//! account, on what the row claims of it.
//!
//! Both are pure. Validation runs them over batches of rows (the account
//! asked once per batch) and adds uniqueness within the file; an import runs
//! them again row by row when it writes the rows.

use std::borrow::Cow;

use roster_csv::unneutralise;
use roster_template::{Column, Headers};

use crate::plan::is_clear_marker;
use crate::records::Record;
use crate::{Code, E164, Email, Extension, Facts, Location, Options, Role, RowError};

/// The rules of a file's rows: its header, and the options it is read with.
pub(crate) struct Rules {
    pub(crate) headers: Headers,
    options: Options,
}

/// What the rules that need only the row found about it.
#[derive(Debug, Default)]
pub(crate) struct Checked {
    /// Every error of the row's own, in check order.
    pub(crate) errors: Vec<RowError>,
    /// The address, when it is one.
    pub(crate) email: Option<Email>,
    /// What the row asks of the account.
    pub(crate) claims: Claims<'static>,
}

/// What a row asks of the account: every key that parsed, for the rules
/// that need the account (and, in validation, uniqueness in the file).
/// Owned when a check made it; borrowed from a [`crate::ValidRow`] when an
/// import asks again as it writes the row.
#[derive(Debug, Clone, Default)]
pub(crate) struct Claims<'a> {
    pub(crate) line: u64,
    /// The email's key ([`Email::key`]).
    pub(crate) email_key: Option<Cow<'a, str>>,
    pub(crate) primary: Option<E164>,
    pub(crate) additional: Cow<'a, [E164]>,
    pub(crate) extension: Option<Extension>,
    pub(crate) location: Option<Cow<'a, Location>>,
}

impl Claims<'_> {
    /// The row's numbers, each with the column that lists it.
    pub(crate) fn numbers(&self) -> impl Iterator<Item = (E164, Column)> + '_ {
        self.primary
            .iter()
            .map(|n| (*n, Column::PrimaryPhone))
            .chain(
                self.additional
                    .iter()
                    .map(|n| (*n, Column::AdditionalPhones)),
            )
    }
}

/// The longest text each free-text column takes, in characters.
fn max_chars(column: Column) -> usize {
    match column {
        Column::DisplayName => 256,
        Column::FirstName | Column::LastName => 64,
        _ => 128,
    }
}

impl Rules {
    pub(crate) fn new(headers: Headers, options: Options) -> Rules {
        Rules { headers, options }
    }

    /// The cell of `column` in `record`, as the rules read it: "" when the
    /// file has no such column, or it is a voice column and voice services
    /// are off.
    pub(crate) fn cell<'r>(&self, record: &'r Record, column: Column) -> &'r str {
        if column.is_voice() && !self.options.voice {
            return "";
        }
        match self.headers.index_of(column) {
            Some(i) => unneutralise(record.field(i)),
            None => "",
        }
    }

    /// Runs every rule that needs only `record`.
    pub(crate) fn check(&self, record: &Record) -> Checked {
        let line = record.line;
        let mut checked = Checked {
            claims: Claims {
                line,
                ..Claims::default()
            },
            ..Checked::default()
        };
        let mut errors = Errors {
            line,
            errors: &mut checked.errors,
        };
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
            errors.push(None, Code::RaggedRow, message);
            return checked;
        }

        self.check_text(record, &mut errors);
        checked.email = self.check_email(record, &mut errors);
        checked.claims.email_key = checked.email.as_ref().map(|e| Cow::Owned(e.key()));
        let (primary, additional) = self.check_numbers(record, &mut errors);
        checked.claims.primary = primary;
        checked.claims.additional = Cow::Owned(additional);
        checked.claims.extension = self.check_extension(record, &mut errors);
        let location = self.cell(record, Column::VoiceLocation);
        checked.claims.location = if is_clear_marker(location) {
            None
        } else {
            Location::parse(location).map(Cow::Owned)
        };
        let role = self.cell(record, Column::Role);
        if !role.trim().is_empty() && !is_clear_marker(role) && Role::parse(role).is_none() {
            let message = format!(
                "{} is not a role; use one of: {}",
                quote(role),
                Role::choices()
            );
            errors.push(Some(Column::Role), Code::InvalidRole, message);
        }
        checked
    }

    fn check_text(&self, record: &Record, errors: &mut Errors<'_>) {
        let display_name = self.cell(record, Column::DisplayName).trim();
        if is_clear_marker(display_name) {
            errors.push(
                Some(Column::DisplayName),
                Code::Required,
                "cannot be cleared; every user needs a display name, like Jane Doe".to_string(),
            );
        } else if display_name.is_empty() && !self.options.mode.plans() {
            // When rows may update users, an empty name keeps the user's: a
            // new user's is checked by the plan.
            errors.push(Some(Column::DisplayName), Code::Required, required_name());
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
                    errors.push(Some(column), Code::TooLong, message);
                }
            }
        }
    }

    fn check_email(&self, record: &Record, errors: &mut Errors<'_>) -> Option<Email> {
        let cell = self.cell(record, Column::Email);
        if cell.trim().is_empty() {
            let message =
                "is empty; every user needs a unique email address to sign in with".to_string();
            errors.push(Some(Column::Email), Code::Required, message);
            return None;
        }
        match Email::parse(cell) {
            Ok(email) => Some(email),
            Err(e) => {
                let message = format!("{} {e}", quote(cell));
                errors.push(Some(Column::Email), Code::InvalidEmail, message);
                None
            }
        }
    }

    fn check_numbers(&self, record: &Record, errors: &mut Errors<'_>) -> (Option<E164>, Vec<E164>) {
        let primary_cell = self.cell(record, Column::PrimaryPhone);
        let primary_cleared = is_clear_marker(primary_cell);
        let primary = if primary_cell.trim().is_empty() || primary_cleared {
            None
        } else {
            match E164::parse(primary_cell) {
                Ok(n) if n.is_toll_free() => {
                    let message = format!(
                        "{n} is a toll-free number, which cannot be a user's primary number; \
                         put it under Additional Phone Numbers and give a local number here"
                    );
                    errors.push(Some(Column::PrimaryPhone), Code::TollFreePrimary, message);
                    Some(n)
                }
                Ok(n) => Some(n),
                Err(e) => {
                    let message = format!("{} {e}", quote(primary_cell));
                    errors.push(Some(Column::PrimaryPhone), Code::InvalidPhone, message);
                    None
                }
            }
        };

        let mut additional_cell = self.cell(record, Column::AdditionalPhones);
        if is_clear_marker(additional_cell) {
            additional_cell = "";
        }
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
                    errors.push(
                        Some(Column::AdditionalPhones),
                        Code::DuplicateNumber,
                        message,
                    );
                }
                Ok(n) => additional.push(n),
                Err(e) => {
                    let message = format!(
                        "{} {e}; separate several numbers with semicolons",
                        quote(part)
                    );
                    errors.push(Some(Column::AdditionalPhones), Code::InvalidPhone, message);
                }
            }
        }
        // When rows may update users, an empty primary keeps the user's: the
        // plan checks the user the row leaves.
        let keeps_primary = self.options.mode.plans() && !primary_cleared;
        if any && primary_cell.trim().is_empty() && !keeps_primary || any && primary_cleared {
            errors.push(
                Some(Column::AdditionalPhones),
                Code::AdditionalWithoutPrimary,
                additional_without_primary(),
            );
        }
        (primary, additional)
    }

    fn check_extension(&self, record: &Record, errors: &mut Errors<'_>) -> Option<Extension> {
        let cell = self.cell(record, Column::Extension);
        if cell.trim().is_empty() {
            return None;
        }
        if is_clear_marker(cell) {
            let message = "cannot be cleared: every user has an extension; give another one, or \
                           leave the cell empty to keep the user's (or, for a new user, to have \
                           one assigned)"
                .to_string();
            errors.push(Some(Column::Extension), Code::InvalidExtension, message);
            return None;
        }
        match Extension::parse(cell, self.options.extensions) {
            Ok(e) => Some(e),
            Err(e) => {
                let message = format!("{} {e}", quote(cell));
                errors.push(Some(Column::Extension), Code::InvalidExtension, message);
                None
            }
        }
    }
}

/// Why a row without a display name cannot make a user.
pub(crate) fn required_name() -> String {
    "is empty; every user needs a display name, like Jane Doe".to_string()
}

/// Why additional numbers need a primary one.
pub(crate) fn additional_without_primary() -> String {
    "lists numbers but the row has no Primary Phone Number; move one of them to the primary column"
        .to_string()
}

/// The errors of one row, as they are found.
pub(crate) struct Errors<'a> {
    line: u64,
    errors: &'a mut Vec<RowError>,
}

impl Errors<'_> {
    pub(crate) fn new(line: u64, errors: &mut Vec<RowError>) -> Errors<'_> {
        Errors { line, errors }
    }

    pub(crate) fn push(&mut self, column: Option<Column>, code: Code, message: String) {
        self.errors.push(RowError {
            row: self.line,
            column,
            code,
            message,
        });
    }
}

/// The rules that need the account: what `facts` say against the keys a
/// row claims, in column order.
pub(crate) fn check_against(row: &Claims<'_>, facts: &Facts, errors: &mut Vec<RowError>) {
    let mut errors = Errors {
        line: row.line,
        errors,
    };
    if let Some(key) = &row.email_key
        && facts.taken_emails.contains(key.as_ref())
    {
        let message = format!(
            "{key} already belongs to a user of this account; remove the row, or use another address"
        );
        errors.push(Some(Column::Email), Code::EmailTaken, message);
    }
    for (n, column) in row.numbers() {
        if facts.assigned_numbers.contains(&n) {
            let message = format!(
                "{n} is already assigned to another user; use a number that is parked on the account"
            );
            errors.push(Some(column), Code::NumberAssigned, message);
        } else if facts.unowned_numbers.contains(&n) {
            let message = format!(
                "{n} is not parked on this account; park the number on the account first, \
                 or leave the cell empty"
            );
            errors.push(Some(column), Code::NumberNotParked, message);
        }
    }
    if let Some(extension) = &row.extension
        && facts.taken_extensions.contains(extension)
    {
        let message = format!(
            "{extension} is already used by another user of this account; pick a free \
             extension or leave the cell empty to have one assigned"
        );
        errors.push(Some(Column::Extension), Code::ExtensionTaken, message);
    }
    if let Some(location) = &row.location
        && facts.unknown_locations.contains(&location.key)
    {
        let message = format!(
            "{} is not a location of this account; create the location first, or leave \
             the cell empty for Main Company Address",
            quote(&location.name)
        );
        errors.push(Some(Column::VoiceLocation), Code::UnknownLocation, message);
    }
}

/// A cell as a message shows it: quoted, and cut short when long.
pub(crate) fn quote(cell: &str) -> String {
    let cell = cell.trim();
    const SHOWN: usize = 40;
    match cell.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("'{}…'", &cell[..cut]),
        None => format!("'{cell}'"),
    }
}
