//! The bare check: the `csv` crate's streaming reader and the cell rules of
//! roster's validator, against the account held in memory. It counts
//! errors rather than describing them: the work is in finding them.

use std::collections::HashSet;
use std::path::Path;

use roster_template::Column;
use roster_validate::{E164, Email, Extension, MAIN_LOCATION, Role, location_key};

use crate::account::Directory;
use crate::row::UserFile;
use crate::{Account, Error};

/// What the bare check found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checked {
    pub rows: u64,
    pub valid_rows: u64,
    pub errors: u64,
}

/// Reads `path` and checks every row as roster's validator does: display
/// name and email present, lengths, email syntax, unique in the file and
/// free in the account; numbers well formed, not toll-free as primary,
/// parked on the account and not assigned, unique; extensions well formed,
/// unique and free; location known; role known.
pub fn check_file(path: &Path, account: &Account, directory: &Directory) -> Result<Checked, Error> {
    let mut file = UserFile::open(path)?;
    let mut seen_emails = HashSet::new();
    let mut seen_numbers = HashSet::new();
    let mut seen_extensions = HashSet::new();
    let mut checked = Checked::default();
    let mut record = csv::StringRecord::new();
    while file.read(&mut record)? {
        let cell = |column| file.columns.cell(&record, column);
        let mut errors = 0;
        let mut error = |wrong: bool| errors += u64::from(wrong);

        error(record.len() != file.width);
        error(cell(Column::DisplayName).is_empty());
        for (column, limit) in [
            (Column::DisplayName, 256),
            (Column::FirstName, 64),
            (Column::LastName, 64),
            (Column::JobTitle, 128),
            (Column::Department, 128),
            (Column::OrganizationalUnit, 128),
        ] {
            let text = cell(column);
            error(text.len() > limit && text.chars().count() > limit);
        }
        match Email::parse(cell(Column::Email)) {
            Ok(email) => {
                let key = email.into_key();
                error(directory.emails.contains(&key));
                error(!seen_emails.insert(key));
            }
            Err(_) => error(true),
        }
        let primary = cell(Column::PrimaryPhone);
        let additional = cell(Column::AdditionalPhones);
        error(primary.is_empty() && !additional.is_empty());
        for (i, text) in std::iter::once(primary)
            .chain(additional.split(';'))
            .map(str::trim)
            .enumerate()
            .filter(|(_, t)| !t.is_empty())
        {
            match E164::parse(text) {
                Ok(number) => {
                    error(i == 0 && number.is_toll_free());
                    error(directory.numbers.get(&number.digits()) != Some(&false));
                    error(!seen_numbers.insert(number.digits()));
                }
                Err(_) => error(true),
            }
        }
        match cell(Column::Extension) {
            "" => {}
            text => match Extension::parse(text, account.extensions) {
                Ok(extension) => {
                    error(account.taken_extensions.contains(&extension));
                    error(!seen_extensions.insert(extension));
                }
                Err(_) => error(true),
            },
        }
        let location = match cell(Column::VoiceLocation) {
            "" => location_key(MAIN_LOCATION),
            name => location_key(name),
        };
        error(!account.locations.contains_key(&location));
        let role = cell(Column::Role);
        error(!role.is_empty() && Role::parse(role).is_none());

        checked.rows += 1;
        checked.valid_rows += u64::from(errors == 0);
        checked.errors += errors;
    }
    Ok(checked)
}
