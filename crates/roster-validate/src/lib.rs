//! Checks an uploaded user file before anything is written: file checks
//! (CSV only, size, encoding, delimiter, headers), then every row against the
//! template and against the account, with every error of every row at once.
//!
//! The crate is pure: it reads bytes from a [`std::io::Read`] and sees the
//! account only through the [`Directory`] trait, so every rule is tested
//! without a database. It never writes, and never names a database, a queue
//! or a protocol.
//!
//! ```
//! use roster_validate::{validate, Code, MemoryDirectory, Options};
//!
//! let file = "Display Name (Mandatory),Email Address (Mandatory)\n\
//!             Jane Doe,jane@acme.example\n\
//!             ,not-an-address\n";
//! let report = validate(Box::new(file.as_bytes()), &mut MemoryDirectory::default(), &Options::default())?;
//! assert_eq!((report.rows, report.valid_rows), (2, 1));
//! let codes: Vec<Code> = report.row_errors.iter().map(|e| e.code).collect();
//! assert_eq!(codes, [Code::Required, Code::InvalidEmail]);
//! # Ok::<(), roster_validate::Error>(())
//! ```

mod check;
mod code;
mod directory;
mod email;
mod error;
mod extension;
mod input;
mod location;
mod options;
mod phone;
mod plan;
mod planner;
mod records;
mod report;
mod role;
mod rows;
mod scratch;
mod uniques;
mod validator;

pub use code::Code;
pub use directory::{Directory, DirectoryError, Facts, Holder, Keys, MemoryDirectory, NumberState};
pub use email::{Email, EmailError};
pub use error::Error;
pub use extension::{Extension, ExtensionError, ExtensionPolicy};
pub use location::{Location, MAIN_LOCATION, location_key};
pub use options::{Limits, Mode, Options};
pub use phone::{E164, PhoneError};
pub use plan::{
    Action, CLEAR_MARKER, Change, Cleared, PlanCounts, PlannedRow, UserState, changes,
    is_clear_marker,
};
pub use report::{ErrorCounts, FileError, Findings, Report, RowError};
pub use role::Role;
pub use rows::{ImportRow, Opened, RowReader, RowStart, ValidRow};
pub use scratch::{MemoryScratch, Scratch};
pub use validator::{validate, validate_into};
