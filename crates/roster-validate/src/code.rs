//! `Code`: the stable error codes of a validation report.
//!
//! These strings are the outside contract (`docs/errors.md`): scripts match on
//! them. Add a code freely; never rename or drop one.

/// Why a file or a row was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    // File-level: the file as a whole cannot be read.
    NotCsv,
    EmptyFile,
    FileTooLarge,
    TooManyRows,
    Encoding,
    MalformedCsv,
    MissingColumn,
    UnknownColumn,
    DuplicateColumn,
    // Row-level: this row cannot be imported as it stands.
    Required,
    TooLong,
    RaggedRow,
    InvalidEmail,
    DuplicateEmail,
    EmailTaken,
    InvalidPhone,
    TollFreePrimary,
    NumberNotParked,
    NumberAssigned,
    DuplicateNumber,
    AdditionalWithoutPrimary,
    InvalidExtension,
    ExtensionTaken,
    DuplicateExtension,
    UnknownLocation,
    InvalidRole,
    /// Update mode: no user has the row's email.
    UnknownUser,
    /// At import time: the user changed since the plan was made.
    ChangedSincePlan,
}

impl Code {
    /// The code as reports spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::NotCsv => "not_csv",
            Code::EmptyFile => "empty_file",
            Code::FileTooLarge => "file_too_large",
            Code::TooManyRows => "too_many_rows",
            Code::Encoding => "encoding",
            Code::MalformedCsv => "malformed_csv",
            Code::MissingColumn => "missing_column",
            Code::UnknownColumn => "unknown_column",
            Code::DuplicateColumn => "duplicate_column",
            Code::Required => "required",
            Code::TooLong => "too_long",
            Code::RaggedRow => "ragged_row",
            Code::InvalidEmail => "invalid_email",
            Code::DuplicateEmail => "duplicate_email",
            Code::EmailTaken => "email_taken",
            Code::InvalidPhone => "invalid_phone",
            Code::TollFreePrimary => "toll_free_primary",
            Code::NumberNotParked => "number_not_parked",
            Code::NumberAssigned => "number_assigned",
            Code::DuplicateNumber => "duplicate_number",
            Code::AdditionalWithoutPrimary => "additional_without_primary",
            Code::InvalidExtension => "invalid_extension",
            Code::ExtensionTaken => "extension_taken",
            Code::DuplicateExtension => "duplicate_extension",
            Code::UnknownLocation => "unknown_location",
            Code::InvalidRole => "invalid_role",
            Code::UnknownUser => "unknown_user",
            Code::ChangedSincePlan => "changed_since_plan",
        }
    }

    /// Every code, file-level ones first.
    pub const ALL: [Code; 28] = [
        Code::NotCsv,
        Code::EmptyFile,
        Code::FileTooLarge,
        Code::TooManyRows,
        Code::Encoding,
        Code::MalformedCsv,
        Code::MissingColumn,
        Code::UnknownColumn,
        Code::DuplicateColumn,
        Code::Required,
        Code::TooLong,
        Code::RaggedRow,
        Code::InvalidEmail,
        Code::DuplicateEmail,
        Code::EmailTaken,
        Code::InvalidPhone,
        Code::TollFreePrimary,
        Code::NumberNotParked,
        Code::NumberAssigned,
        Code::DuplicateNumber,
        Code::AdditionalWithoutPrimary,
        Code::InvalidExtension,
        Code::ExtensionTaken,
        Code::DuplicateExtension,
        Code::UnknownLocation,
        Code::InvalidRole,
        Code::UnknownUser,
        Code::ChangedSincePlan,
    ];

    /// The code whose spelling is `s`.
    pub fn parse(s: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// A file-level code means no row of the file can be imported.
    pub fn is_file_level(self) -> bool {
        self <= Code::DuplicateColumn
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Code;

    #[test]
    fn every_code_round_trips_through_its_spelling() {
        for code in Code::ALL {
            assert_eq!(Code::parse(code.as_str()), Some(code));
        }
        assert_eq!(Code::ALL.iter().filter(|c| c.is_file_level()).count(), 9);
    }
}
