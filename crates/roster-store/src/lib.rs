//! roster's database: migrations and queries for SQLite (the embedded
//! default) and PostgreSQL (for many workers sharing one queue).
//!
//! All SQL of roster lives here. Uniqueness — one email per account, one
//! user per extension and per number — is held by the schema, so no caller
//! has to check before it writes. The store reads the account for the
//! validator through [`StoreDirectory`], a batch of keys per query.
//!
//! The job queue's tables live in the same database (roster-queue owns
//! them). The store pushes jobs inside its own transactions: a new user's
//! password job in the transaction that creates the user (see
//! `delivery.rs`), and a stop drops an import's chunk jobs in the
//! transaction that stops it (see `import.rs`).
//!
//! The map: `store.rs` opens a database; `db.rs` is the one way to speak
//! to either; `sqlite.rs` and `postgres.rs` hold what reads differently on
//! each (the list statements of [`bulk`]). The rest is by aggregate:
//! accounts (`account.rs`), imports with their chunks, file, reserved
//! extensions, states and results (`import.rs`, `import/`), users and the
//! directory the validator reads (`users.rs`, `directory.rs`), password
//! deliveries (`delivery.rs`), API tokens (`token.rs`).

mod account;
mod apply;
mod bulk;
mod conflict;
mod convert;
mod db;
mod delivery;
mod directory;
mod error;
mod import;
mod plan;
mod postgres;
mod revert;
mod sqlite;
mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod time;
mod token;
mod undo;
mod users;

pub use account::{
    Account, AccountId, AccountSlug, AccountSpec, AccountSummary, SlugError, UserId, UserSpec,
};
pub use delivery::{
    Delivery, DeliveryCounts, DeliveryPace, DeliveryState, DeliveryStatus, PasswordDelivery,
    Pending, Settled, Settlement, StoredPassword,
};
pub use directory::StoreDirectory;
pub use error::Error;
pub use import::chunk::{Chunk, chunk_rows};
pub use import::file::StoredFile;
pub use import::results::{ResultError, RowResult, RowUndo, StoredFilter};
pub use import::state::{ResultStatus, UndoStatus};
pub use import::{Import, ImportId, ImportKey, ImportState, NewImport, StopOutcome, Undo};
pub use plan::{Plan, PlanEntry};
pub use revert::{CHANGED_SINCE_IMPORT, NOT_RECORDED, TAKEN_SINCE_IMPORT};
/// The pool behind a store, for the job queue that shares its database.
pub use roster_queue::Pool;
pub use store::{DEFAULT_URL, LockSharing, Store};
pub use undo::{UndoBatch, UndoChunk};
pub use users::{BatchCounts, RowInput, User};
