//! `Directory`: what the validator needs to know about the account.
//!
//! The validator asks in batches — the keys of a few thousand rows at a time —
//! so an implementation backed by a database answers with a handful of
//! queries per batch, never one per row. [`MemoryDirectory`] is the
//! implementation for tests and for callers that already hold the account.

use std::collections::{HashMap, HashSet};

use crate::{E164, Extension};

/// The name of the location every account has, and the default one.
pub const MAIN_LOCATION: &str = "Main Company Address";

/// The account as the validator sees it.
pub trait Directory {
    /// What the account holds of `keys`. Keys it does not hold are simply
    /// absent from the answer.
    fn look_up(&mut self, keys: &Keys) -> Result<Facts, DirectoryError>;
}

/// A failure to read the directory (a database error, say), boxed so this
/// crate does not name any storage.
pub type DirectoryError = Box<dyn std::error::Error + Send + Sync>;

/// The keys of one batch of rows, each list without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys {
    /// Email keys ([`crate::Email::key`]).
    pub emails: Vec<String>,
    pub numbers: Vec<E164>,
    pub extensions: Vec<Extension>,
    /// Location keys ([`location_key`]).
    pub locations: Vec<String>,
}

/// What the account holds of a batch's keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Email keys of existing users.
    pub taken_emails: HashSet<String>,
    /// Numbers the account owns, each parked or assigned.
    pub numbers: HashMap<E164, NumberState>,
    /// Extensions already in use.
    pub taken_extensions: HashSet<Extension>,
    /// Location keys that exist.
    pub locations: HashSet<String>,
}

/// Whether an owned number is free to give to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberState {
    Parked,
    Assigned,
}

/// The key of a location name: locations are matched case-insensitively,
/// surrounding spaces ignored.
pub fn location_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A whole account held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryDirectory {
    pub emails: HashSet<String>,
    pub numbers: HashMap<E164, NumberState>,
    pub extensions: HashSet<Extension>,
    pub locations: HashSet<String>,
}

impl Default for MemoryDirectory {
    /// An empty account: no users, no numbers, only the main location.
    fn default() -> MemoryDirectory {
        MemoryDirectory {
            emails: HashSet::new(),
            numbers: HashMap::new(),
            extensions: HashSet::new(),
            locations: HashSet::from([location_key(MAIN_LOCATION)]),
        }
    }
}

impl Directory for MemoryDirectory {
    fn look_up(&mut self, keys: &Keys) -> Result<Facts, DirectoryError> {
        Ok(Facts {
            taken_emails: keys
                .emails
                .iter()
                .filter(|e| self.emails.contains(*e))
                .cloned()
                .collect(),
            numbers: keys
                .numbers
                .iter()
                .filter_map(|n| self.numbers.get(n).map(|s| (*n, *s)))
                .collect(),
            taken_extensions: keys
                .extensions
                .iter()
                .filter(|e| self.extensions.contains(*e))
                .cloned()
                .collect(),
            locations: keys
                .locations
                .iter()
                .filter(|l| self.locations.contains(*l))
                .cloned()
                .collect(),
        })
    }
}
