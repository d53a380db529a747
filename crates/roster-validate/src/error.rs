//! `Error`: why a file could not be validated at all.
//!
//! A file with bad rows, or a file that is not CSV, is not an `Error`: it is
//! a [`crate::Report`]. An `Error` means roster could not look — the input
//! could not be read, or the account's directory could not be asked.

use crate::{DirectoryError, FileError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading the file")]
    Io(#[source] std::io::Error),
    #[error("looking up the account's directory")]
    Directory(#[source] DirectoryError),
    /// A file that passed validation could not be read again: it changed.
    #[error("the file can no longer be read: {}", .0.message)]
    Unreadable(FileError),
    #[error("keeping what validation found for later")]
    Scratch(#[source] std::io::Error),
    #[error("handing on what validation found: {0}")]
    Findings(String),
}
