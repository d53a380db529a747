//! Bare baselines for `roster bench`: what reading, checking and writing a
//! user file costs with nothing of roster around it, so that roster's own
//! figures can be read as a ratio to the physical limit.
//!
//! - [`check_file`]: the `csv` crate's streaming reader and the same cell
//!   rules as roster's validator (roster-validate's `Email`, `E164`,
//!   `Extension`, `Role`), against the account held in memory sets.
//! - [`sqlite::import`]: one rusqlite connection, prepared statements, one
//!   transaction per batch: insert each user, its extension, claim its
//!   numbers.
//! - [`postgres::import`]: one connection, one transaction per batch, each
//!   list in one `unnest` statement.
//! - [`mail::write_folder`] and [`mail::send_smtp`]: every user's welcome
//!   message with a fresh temporary password, into a folder or through an
//!   SMTP server ([`SmtpSink`], a loopback server that only counts), with
//!   no database or queue around them.
//!
//! The baselines write their own SQL on purpose: they measure the database,
//! not roster-store. They keep none of roster's promises either: no per-row
//! results, no failed rows set aside, no resuming, no stop, no progress. They
//! expect a file roster has validated (a row that breaks a constraint fails
//! the whole run), and write into a database roster has created.

mod account;
mod check;
mod error;
pub mod mail;
pub mod postgres;
mod queue;
mod row;
mod smtp_sink;
pub mod sqlite;

pub use account::{Account, Directory};
pub use check::{Checked, check_file};
pub use error::Error;
pub use queue::drop_password_jobs;
pub use row::Imported;
pub use smtp_sink::SmtpSink;
