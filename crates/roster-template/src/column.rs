//! `Column`: one column of the template, its header and its place in the file.
//!
//! What a cell of a column must hold is the validator's business, not this
//! file's; here are only names, order and the two properties every layer
//! needs (mandatory, and whether the column belongs to voice services).

/// A column of the template. The order of [`Column::ALL`] is the template's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    DisplayName,
    Email,
    FirstName,
    LastName,
    JobTitle,
    Department,
    OrganizationalUnit,
    PrimaryPhone,
    AdditionalPhones,
    Extension,
    VoiceLocation,
    Role,
}

impl Column {
    /// Every column, in template order.
    pub const ALL: [Column; 12] = [
        Column::DisplayName,
        Column::Email,
        Column::FirstName,
        Column::LastName,
        Column::JobTitle,
        Column::Department,
        Column::OrganizationalUnit,
        Column::PrimaryPhone,
        Column::AdditionalPhones,
        Column::Extension,
        Column::VoiceLocation,
        Column::Role,
    ];

    /// The header exactly as the template spells it. These strings are the
    /// outside contract: reports, failed-rows files and scripts use them.
    pub fn header(self) -> &'static str {
        match self {
            Column::DisplayName => "Display Name (Mandatory)",
            Column::Email => "Email Address (Mandatory)",
            Column::FirstName => "First Name (Optional)",
            Column::LastName => "Last Name (Optional)",
            Column::JobTitle => "Job Title (Optional)",
            Column::Department => "Department (Optional)",
            Column::OrganizationalUnit => "Organizational Unit (Optional)",
            Column::PrimaryPhone => "Primary Phone Number (Optional)",
            Column::AdditionalPhones => "Additional Phone Numbers (Optional)",
            Column::Extension => "Extension (Optional)",
            Column::VoiceLocation => "Voice Location (Optional)",
            Column::Role => "Role (Optional)",
        }
    }

    /// The column's position in [`Column::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// A mandatory column must be present in the header and filled in every row.
    pub fn is_mandatory(self) -> bool {
        matches!(self, Column::DisplayName | Column::Email)
    }

    /// Voice columns are ignored when an import runs without voice services.
    pub fn is_voice(self) -> bool {
        matches!(
            self,
            Column::PrimaryPhone
                | Column::AdditionalPhones
                | Column::Extension
                | Column::VoiceLocation
        )
    }

    /// The column whose header is `header`, compared case-insensitively with
    /// surrounding spaces ignored.
    pub fn from_header(header: &str) -> Option<Column> {
        let header = header.trim();
        Column::ALL
            .into_iter()
            .find(|c| c.header().eq_ignore_ascii_case(header))
    }
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.header())
    }
}
