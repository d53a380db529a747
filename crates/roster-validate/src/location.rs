//! `Location`: the office a user is placed in, as the file names it and by
//! the key that matches it to the account's locations.

/// The name of the location every account has, and the default one.
pub const MAIN_LOCATION: &str = "Main Company Address";

/// The key of a location name: locations are matched case-insensitively,
/// surrounding spaces ignored.
pub fn location_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A location a row names: as typed (for messages) and its key (for
/// matching).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The name as typed, trimmed.
    pub name: String,
    /// [`location_key`] of the name.
    pub key: String,
}

impl Location {
    /// The location a cell names; `None` for an empty cell (Main Company
    /// Address).
    pub fn parse(cell: &str) -> Option<Location> {
        let name = cell.trim();
        (!name.is_empty()).then(|| Location {
            name: name.to_string(),
            key: location_key(name),
        })
    }
}
