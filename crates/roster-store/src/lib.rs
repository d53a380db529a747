//! roster's database: migrations and queries for SQLite (the embedded
//! default) and PostgreSQL (for many workers sharing one queue).
//!
//! All SQL of roster lives here. Uniqueness — one email per account, one
//! user per extension and per number — is held by the schema, so no caller
//! has to check before it writes. The store reads the account for the
//! validator through [`StoreDirectory`], a batch of keys per query.

mod account;
mod directory;
mod error;
mod store;
pub mod testing;

pub use account::{
    Account, AccountId, AccountSlug, AccountSpec, AccountSummary, SlugError, UserSpec,
};
pub use directory::StoreDirectory;
pub use error::Error;
pub use store::{DEFAULT_URL, Store};
