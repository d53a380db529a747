//! `Db`: the one way the store speaks to either database.
//!
//! A statement is a [`Query`]: SQL that reads the same on SQLite and
//! PostgreSQL, and the values bound to it. It runs on the pool ([`Db`]) or
//! inside a transaction ([`Tx`]), and its rows are read into any type that
//! both databases' rows convert to ([`Record`]).
//!
//! What cannot read the same on both — the statements that carry a list —
//! lives in one place per database, `sqlite.rs` and `postgres.rs`, behind
//! the `Bulk` trait that a transaction runs (`bulk.rs`).

use std::borrow::Cow;

use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{Arguments, FromRow, Postgres, SqlSafeStr, SqlStr, Sqlite, Transaction};

/// The pool of one of the two databases roster runs on.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A transaction on either database, or a savepoint inside one; rolled
/// back when dropped uncommitted.
pub(crate) enum Tx<'c> {
    Sqlite(Transaction<'c, Sqlite>),
    Postgres(Transaction<'c, Postgres>),
}

/// Where a statement runs: the pool, or an open transaction.
pub(crate) enum On<'a> {
    SqlitePool(&'a SqlitePool),
    PostgresPool(&'a PgPool),
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

/// A value bound to a statement.
#[derive(Debug, Clone)]
pub(crate) enum Value<'q> {
    Int(Option<i64>),
    Bool(bool),
    Text(Option<Cow<'q, str>>),
    Bytes(Cow<'q, [u8]>),
}

/// A type both databases' rows are read into.
pub(crate) trait Record:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

impl<T> Record for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// A statement and its values.
pub(crate) struct Query<'q> {
    sql: SqlStr,
    values: Vec<Value<'q>>,
}

/// The statement `sql`, with nothing bound yet.
pub(crate) fn query<'q>(sql: impl SqlSafeStr) -> Query<'q> {
    Query {
        sql: sql.into_sql_str(),
        values: Vec::new(),
    }
}

impl Db {
    /// Starts a transaction.
    pub(crate) async fn begin(&self) -> Result<Tx<'static>, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Starts a transaction that holds the write lock from its first
    /// statement on SQLite (`BEGIN IMMEDIATE`): one that is going to write
    /// never fails half-way for a lock another writer took first. An
    /// ordinary transaction on PostgreSQL, whose writers lock rows.
    pub(crate) async fn begin_writing(&self) -> Result<Tx<'static>, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }
}

impl Tx<'_> {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
        }
    }

    /// A savepoint inside this transaction: committed, it keeps its writes
    /// in the transaction; rolled back, only they are undone.
    pub(crate) async fn savepoint(&mut self) -> Result<Tx<'_>, sqlx::Error> {
        Ok(match self {
            Tx::Sqlite(tx) => Tx::Sqlite(sqlx::Connection::begin(&mut **tx).await?),
            Tx::Postgres(tx) => Tx::Postgres(sqlx::Connection::begin(&mut **tx).await?),
        })
    }

    /// The transaction's connection, for the job queue: jobs pushed on it
    /// are queued when, and only if, the transaction commits.
    pub(crate) fn queue(&mut self) -> roster_queue::Conn<'_> {
        match self {
            Tx::Sqlite(tx) => roster_queue::Conn::Sqlite(tx),
            Tx::Postgres(tx) => roster_queue::Conn::Postgres(tx),
        }
    }
}

impl<'a> From<&'a Db> for On<'a> {
    fn from(db: &'a Db) -> On<'a> {
        match db {
            Db::Sqlite(pool) => On::SqlitePool(pool),
            Db::Postgres(pool) => On::PostgresPool(pool),
        }
    }
}

impl<'a> From<&'a mut Tx<'_>> for On<'a> {
    fn from(tx: &'a mut Tx<'_>) -> On<'a> {
        match tx {
            Tx::Sqlite(tx) => On::Sqlite(tx),
            Tx::Postgres(tx) => On::Postgres(tx),
        }
    }
}

impl<'q> Query<'q> {
    /// Binds the next `$n`.
    pub(crate) fn bind(mut self, value: impl Into<Value<'q>>) -> Query<'q> {
        self.values.push(value.into());
        self
    }

    /// Runs the statement; the rows it changed.
    pub(crate) async fn execute<'a>(self, on: impl Into<On<'a>>) -> Result<u64, sqlx::Error> {
        let sql = self.sql.clone();
        let done = match on.into() {
            On::SqlitePool(pool) => sqlx::query_with(sql, self.sqlite()?)
                .execute(pool)
                .await?
                .rows_affected(),
            On::Sqlite(conn) => sqlx::query_with(sql, self.sqlite()?)
                .execute(conn)
                .await?
                .rows_affected(),
            On::PostgresPool(pool) => sqlx::query_with(sql, self.postgres()?)
                .execute(pool)
                .await?
                .rows_affected(),
            On::Postgres(conn) => sqlx::query_with(sql, self.postgres()?)
                .execute(conn)
                .await?
                .rows_affected(),
        };
        Ok(done)
    }

    /// Every row the statement answers.
    pub(crate) async fn fetch_all<'a, T: Record>(
        self,
        on: impl Into<On<'a>>,
    ) -> Result<Vec<T>, sqlx::Error> {
        let sql = self.sql.clone();
        match on.into() {
            On::SqlitePool(pool) => {
                sqlx::query_as_with(sql, self.sqlite()?)
                    .fetch_all(pool)
                    .await
            }
            On::Sqlite(conn) => {
                sqlx::query_as_with(sql, self.sqlite()?)
                    .fetch_all(conn)
                    .await
            }
            On::PostgresPool(pool) => {
                sqlx::query_as_with(sql, self.postgres()?)
                    .fetch_all(pool)
                    .await
            }
            On::Postgres(conn) => {
                sqlx::query_as_with(sql, self.postgres()?)
                    .fetch_all(conn)
                    .await
            }
        }
    }

    /// The first row the statement answers, if any.
    pub(crate) async fn fetch_optional<'a, T: Record>(
        self,
        on: impl Into<On<'a>>,
    ) -> Result<Option<T>, sqlx::Error> {
        let sql = self.sql.clone();
        match on.into() {
            On::SqlitePool(pool) => {
                sqlx::query_as_with(sql, self.sqlite()?)
                    .fetch_optional(pool)
                    .await
            }
            On::Sqlite(conn) => {
                sqlx::query_as_with(sql, self.sqlite()?)
                    .fetch_optional(conn)
                    .await
            }
            On::PostgresPool(pool) => {
                sqlx::query_as_with(sql, self.postgres()?)
                    .fetch_optional(pool)
                    .await
            }
            On::Postgres(conn) => {
                sqlx::query_as_with(sql, self.postgres()?)
                    .fetch_optional(conn)
                    .await
            }
        }
    }

    /// The first row the statement answers; none is an error.
    pub(crate) async fn fetch_one<'a, T: Record>(
        self,
        on: impl Into<On<'a>>,
    ) -> Result<T, sqlx::Error> {
        self.fetch_optional(on)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    fn sqlite(&self) -> Result<SqliteArguments, sqlx::Error> {
        let mut args = SqliteArguments::default();
        for value in &self.values {
            match value {
                Value::Int(v) => args.add(*v),
                Value::Bool(v) => args.add(*v),
                Value::Text(v) => args.add(v.as_deref()),
                Value::Bytes(v) => args.add(v.as_ref()),
            }
            .map_err(sqlx::Error::Encode)?;
        }
        Ok(args)
    }

    fn postgres(&self) -> Result<PgArguments, sqlx::Error> {
        let mut args = PgArguments::default();
        for value in &self.values {
            match value {
                Value::Int(v) => args.add(*v),
                Value::Bool(v) => args.add(*v),
                Value::Text(v) => args.add(v.as_deref()),
                Value::Bytes(v) => args.add(v.as_ref()),
            }
            .map_err(sqlx::Error::Encode)?;
        }
        Ok(args)
    }
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}

impl From<Option<i64>> for Value<'_> {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}

impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl<'q> From<&'q str> for Value<'q> {
    fn from(v: &'q str) -> Self {
        Value::Text(Some(Cow::Borrowed(v)))
    }
}

impl<'q> From<&'q String> for Value<'q> {
    fn from(v: &'q String) -> Self {
        Value::Text(Some(Cow::Borrowed(v)))
    }
}

impl From<String> for Value<'_> {
    fn from(v: String) -> Self {
        Value::Text(Some(Cow::Owned(v)))
    }
}

impl<'q> From<Option<&'q str>> for Value<'q> {
    fn from(v: Option<&'q str>) -> Self {
        Value::Text(v.map(Cow::Borrowed))
    }
}

impl From<Option<String>> for Value<'_> {
    fn from(v: Option<String>) -> Self {
        Value::Text(v.map(Cow::Owned))
    }
}

impl From<Vec<u8>> for Value<'_> {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(Cow::Owned(v))
    }
}
