//! The database the queue runs on: roster's own, whichever it is.

use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::sqlite::{SqliteConnection, SqlitePool};

use crate::Error;

/// The pool the queue's tables live in.
#[derive(Debug, Clone, Copy)]
pub enum Pool<'a> {
    Sqlite(&'a SqlitePool),
    Postgres(&'a PgPool),
}

/// A connection inside a transaction of the caller's: jobs pushed on it
/// are queued when, and only if, that transaction commits.
pub enum Conn<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

impl Pool<'_> {
    /// Brings the queue's tables up to date (apalis keeps its own
    /// migration record).
    pub async fn migrate(self) -> Result<(), Error> {
        match self {
            Pool::Sqlite(pool) => SqliteStorage::<()>::migrations().run(pool).await,
            Pool::Postgres(pool) => PostgresStorage::<()>::migrations().run(pool).await,
        }
        .map_err(Error::Migrate)
    }
}
