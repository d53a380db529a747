//! An import's ids: the one the world sees, and the one the database keys
//! its rows by.

use std::fmt;

/// An import's id outside roster: a UUID, so ids cannot be guessed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImportId(String); // Invariant: a lower-case hyphenated UUID.

/// An import's row id inside the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImportKey(pub(crate) i64);

impl ImportId {
    pub(crate) fn new() -> ImportId {
        ImportId(uuid::Uuid::new_v4().hyphenated().to_string())
    }

    /// Parses an id as given on the command line or in a URL.
    pub fn parse(s: &str) -> Option<ImportId> {
        uuid::Uuid::try_parse(s.trim())
            .ok()
            .map(|u| ImportId(u.hyphenated().to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ImportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
