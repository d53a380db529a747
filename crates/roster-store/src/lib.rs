//! roster's database: migrations and queries for SQLite (the embedded
//! default) and PostgreSQL (for many workers sharing one queue).
//!
//! All SQL of roster lives here. Uniqueness — one email per account, one
//! user per extension and per number — is held by the schema, so no caller
//! has to check before it writes. The store reads the account for the
//! validator through [`StoreDirectory`], a batch of keys per query.
//!
//! The job queue's tables live in the same database. The store writes to
//! them in one place only: a new user's password job is queued in the
//! transaction that creates the user (see `delivery.rs`).

mod account;
mod bulk;
mod chunk;
mod conflict;
mod convert;
mod delivery;
mod directory;
mod error;
mod file;
mod import;
mod queue;
mod results;
mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod time;
mod token;
mod users;

pub use account::{
    Account, AccountId, AccountSlug, AccountSpec, AccountSummary, SlugError, UserSpec,
};
pub use chunk::{Chunk, chunk_rows};
pub use delivery::{
    DeliverPasswords, Delivery, DeliveryCounts, DeliveryPace, DeliveryState, DeliveryStatus,
    PASSWORD_JOB_ATTEMPTS, Pending, Settled, Settlement, StoredPassword,
};
pub use directory::StoreDirectory;
pub use error::Error;
pub use file::StoredFile;
pub use import::{
    Import, ImportId, ImportKey, ImportState, NewImport, PasswordDelivery, StopOutcome,
};
pub use queue::{
    CHUNK_QUEUE, IMPORT_QUEUE, PASSWORD_QUEUE, chunk_job_key, chunk_job_key_again, import_job_key,
    turn,
};
pub use results::{ResultError, RowResult, StoredFilter};
pub use store::{DEFAULT_URL, LockSharing, Pool, Store};
pub use users::{BatchCounts, RowInput, User, UserId};
