//! `Directory`: what the validator needs to know about the account.
//!
//! The validator asks in batches — the keys of a few thousand rows at a time —
//! so an implementation backed by a database answers with a handful of
//! queries per batch, never one per row. The answer names only what is wrong
//! (taken, assigned, not owned, unknown): for a good file it is empty, and
//! costs nothing to send. [`MemoryDirectory`] is the implementation for tests
//! and for callers that already hold the account.

use std::collections::{HashMap, HashSet};

use crate::{E164, Extension, MAIN_LOCATION, UserState, location_key};

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
    /// The rows may update users: the facts name the users the emails
    /// belong to, and who holds the numbers and extensions that are taken.
    pub plan: bool,
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
    /// Asked with [`Keys::plan`]: the users with the emails, by email key.
    pub users: HashMap<String, UserState>,
    /// Asked with [`Keys::plan`]: who has each assigned number.
    pub number_holders: HashMap<E164, Holder>,
    /// Asked with [`Keys::plan`]: who has each extension in use.
    pub extension_holders: HashMap<Extension, Holder>,
}

/// The user who has a number or an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The user's id in the store.
    pub id: i64,
    pub email: String,
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
    /// The users a plan may update, with what they have; their emails,
    /// numbers and extensions are in the sets above too.
    pub users: Vec<UserState>,
}

impl Default for MemoryDirectory {
    /// An empty account: no users, no numbers, only the main location.
    fn default() -> MemoryDirectory {
        MemoryDirectory {
            emails: HashSet::new(),
            numbers: HashMap::new(),
            extensions: HashSet::new(),
            locations: HashSet::from([location_key(MAIN_LOCATION)]),
            users: Vec::new(),
        }
    }
}

impl Directory for MemoryDirectory {
    fn look_up(&mut self, keys: &Keys<'_>) -> Result<Facts, DirectoryError> {
        let number_is = |state: Option<NumberState>| {
            let numbers = &self.numbers;
            move |n: &&E164| numbers.get(*n).copied() == state
        };
        let mut facts = Facts {
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
            ..Facts::default()
        };
        if keys.plan {
            for user in &self.users {
                let key = user.email.to_ascii_lowercase();
                if keys.emails.contains(&key.as_str()) {
                    facts.users.insert(key, user.clone());
                }
                let holder = Holder {
                    id: user.id,
                    email: user.email.clone(),
                };
                for n in user.numbers().filter(|n| keys.numbers.contains(n)) {
                    facts.number_holders.insert(n, holder.clone());
                }
                for e in user
                    .extensions
                    .iter()
                    .filter(|e| keys.extensions.contains(e))
                {
                    facts.extension_holders.insert(*e, holder.clone());
                }
            }
        }
        Ok(facts)
    }
}
