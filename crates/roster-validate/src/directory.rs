//! `Directory`: what the validator needs to know about the account.
//!
//! The validator asks in batches — the keys of a few thousand rows at a time —
//! so an implementation backed by a database answers with a handful of
//! queries per batch, never one per row. The answer names only what is wrong
//! (taken, assigned, not owned, unknown): for a good file it is empty, and
//! costs nothing to send. [`MemoryDirectory`] is the implementation for tests
//! and for callers that already hold the account.

use std::collections::{HashMap, HashSet};

use crate::{E164, Extension, MAIN_LOCATION, location_key};

/// The account as the validator sees it.
///
/// `Send`, because the validator asks about one batch on a helper thread
/// while it reads the next.
pub trait Directory: Send {
    /// What is wrong with `keys` in this account.
    fn look_up(&mut self, keys: &Keys<'_>) -> Result<Facts, DirectoryError>;
}

/// A failure to read the directory (a database error, say), boxed so this
/// crate does not name any storage.
pub type DirectoryError = Box<dyn std::error::Error + Send + Sync>;

/// The keys of one batch of rows. A key may repeat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys<'a> {
    /// Email keys ([`crate::Email::key`]).
    pub emails: Vec<&'a str>,
    pub numbers: Vec<E164>,
    pub extensions: Vec<Extension>,
    /// Location keys ([`location_key`]).
    pub locations: Vec<&'a str>,
}

/// What is wrong with a batch's keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Email keys of existing users.
    pub taken_emails: HashSet<String>,
    /// Numbers the account owns that are assigned to a user.
    pub assigned_numbers: HashSet<E164>,
    /// Numbers the account does not own.
    pub unowned_numbers: HashSet<E164>,
    /// Extensions already in use.
    pub taken_extensions: HashSet<Extension>,
    /// Location keys the account has no location for.
    pub unknown_locations: HashSet<String>,
}

/// Whether an owned number is free to give to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberState {
    Parked,
    Assigned,
}

/// A whole account held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryDirectory {
    /// Email keys of the users.
    pub emails: HashSet<String>,
    pub numbers: HashMap<E164, NumberState>,
    pub extensions: HashSet<Extension>,
    /// Location keys.
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
    fn look_up(&mut self, keys: &Keys<'_>) -> Result<Facts, DirectoryError> {
        let number_is = |state: Option<NumberState>| {
            let numbers = &self.numbers;
            move |n: &&E164| numbers.get(*n).copied() == state
        };
        Ok(Facts {
            taken_emails: keys
                .emails
                .iter()
                .filter(|e| self.emails.contains(**e))
                .map(|e| e.to_string())
                .collect(),
            assigned_numbers: keys
                .numbers
                .iter()
                .filter(number_is(Some(NumberState::Assigned)))
                .copied()
                .collect(),
            unowned_numbers: keys
                .numbers
                .iter()
                .filter(number_is(None))
                .copied()
                .collect(),
            taken_extensions: keys
                .extensions
                .iter()
                .filter(|e| self.extensions.contains(*e))
                .copied()
                .collect(),
            unknown_locations: keys
                .locations
                .iter()
                .filter(|l| !self.locations.contains(**l))
                .map(|l| l.to_string())
                .collect(),
        })
    }
}
