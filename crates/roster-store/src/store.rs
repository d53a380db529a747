//! `Store`: a connection pool to SQLite or PostgreSQL, opened and migrated.
//!
//! Both databases hold the same tables (`migrations/sqlite`,
//! `migrations/postgres`), and the job queue's beside them (see
//! roster-queue). How the store speaks to either is `db.rs`.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use roster_validate::Extension;

use crate::Error;
use crate::db::Db;
use crate::import::id::ImportKey;

/// Statements slower than this are logged, at info level: a bulk statement
/// or a wait for the write lock is expected to take a while, and is no
/// warning to the person watching an import.
const SLOW_STATEMENT: Duration = Duration::from_secs(1);
const SLOW_STATEMENT_LOG: log::LevelFilter = log::LevelFilter::Info;

/// Where each database records the migrations of roster's tables (apalis
/// keeps its own record of the queue's).
const MIGRATIONS_TABLE: &str = "_roster_migrations";

/// The database used when nothing else is configured.
pub const DEFAULT_URL: &str = "sqlite://roster.db";

/// roster's database.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) db: Db,
    /// The reserved extensions of the import read last (see
    /// `Store::reserved_extensions`), kept: every chunk of an import needs
    /// them, and they never change once recorded.
    pub(crate) reserved: Arc<Mutex<KeptReserved>>,
    /// Writes of this process waiting for SQLite's write lock besides an
    /// import's batches (see [`Store::writer_waiting`]).
    writers_waiting: Arc<AtomicUsize>,
}

/// How an import shares SQLite's one write lock with everyone else who
/// writes (a `stop`, the job queue, the web page): after holding it for
/// `every`, it lets go for `pause`; and after any batch, when a write of
/// this process waits ([`Store::writer_waiting`]), until it is done.
///
/// SQLite's waiters do not queue: each sleeps and tries again, at most
/// 100 ms apart. A pause of 100 ms is one every waiter sees; one every two
/// seconds of writing costs an import some 5% of its time, and keeps a
/// write from another process waiting two seconds at most. A write from
/// this process (Ctrl-C on `roster import`, a stop or an upload on the web
/// page of `roster serve`) waits one batch at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockSharing {
    pub every: Duration,
    pub pause: Duration,
}

/// An import and the extensions its file names, as a store keeps them.
pub(crate) type KeptReserved = Option<(ImportKey, Arc<HashSet<Extension>>)>;

/// A write waiting for the lock, until dropped.
pub(crate) struct WaitingWriter(Arc<AtomicUsize>);

impl Drop for WaitingWriter {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Store {
    /// The connection pool, for the job queue: its tables live in the same
    /// database and its work commits beside roster's.
    pub fn pool(&self) -> roster_queue::Pool<'_> {
        match &self.db {
            Db::Sqlite(pool) => roster_queue::Pool::Sqlite(pool),
            Db::Postgres(pool) => roster_queue::Pool::Postgres(pool),
        }
    }

    /// Opens the database at `url` and brings its schema up to date:
    /// roster's tables and the job queue's (apalis keeps its own migration
    /// record). A SQLite file is created when missing.
    pub async fn open(url: &str) -> Result<Store, Error> {
        let connect = |source| Error::Connect {
            url: redact(url),
            source,
        };
        let db = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(connect)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                // A writer waits for the lock rather than fail: an import's
                // batches and the queue's polls take turns.
                .busy_timeout(Duration::from_secs(60))
                .foreign_keys(true)
                // 32 MiB of pages a connection (SQLite's default is 2):
                // a batch's lookups and writes touch a few MiB of a large
                // account's indexes, and at 2 they were read again for
                // every batch (a plan's lookups at a million rows took
                // twice as long).
                .pragma("cache_size", "-32768")
                .log_slow_statements(SLOW_STATEMENT_LOG, SLOW_STATEMENT);
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await
                .map_err(connect)?;
            let mut migrator = sqlx::migrate!("./migrations/sqlite");
            migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
            migrator.run(&pool).await.map_err(Error::Migrate)?;
            Db::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // JIT compilation makes the bulk statements slower, never faster.
            let options = PgConnectOptions::from_str(url)
                .map_err(connect)?
                .options([("jit", "off")])
                .log_slow_statements(SLOW_STATEMENT_LOG, SLOW_STATEMENT);
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .map_err(connect)?;
            let mut migrator = sqlx::migrate!("./migrations/postgres");
            migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
            migrator.run(&pool).await.map_err(Error::Migrate)?;
            Db::Postgres(pool)
        } else {
            return Err(Error::UnsupportedUrl(redact(url)));
        };
        let store = Store {
            db,
            reserved: Arc::default(),
            writers_waiting: Arc::default(),
        };
        store.pool().migrate().await.map_err(Error::Queue)?;
        Ok(store)
    }

    /// How many batches of one import are written at once. SQLite has one
    /// writer at a time; PostgreSQL writes two batches in parallel, one per
    /// core of a small server, each in its own transaction.
    pub fn batch_writers(&self) -> usize {
        match &self.db {
            Db::Sqlite(_) => 1,
            Db::Postgres(_) => 2,
        }
    }

    /// Whether a write of this process waits for the write lock besides
    /// an import's batches: the import lets go of the lock after its batch.
    pub fn writer_waiting(&self) -> bool {
        self.writers_waiting.load(Ordering::Relaxed) > 0
    }

    /// Marks a write of this process as waiting for the write lock until
    /// the guard is dropped.
    pub(crate) fn waiting_writer(&self) -> WaitingWriter {
        self.writers_waiting.fetch_add(1, Ordering::Relaxed);
        WaitingWriter(self.writers_waiting.clone())
    }

    /// How an import shares the write lock: on SQLite, which has one; not
    /// at all on PostgreSQL, whose writers lock rows.
    pub fn lock_sharing(&self) -> Option<LockSharing> {
        match &self.db {
            Db::Sqlite(_) => Some(LockSharing {
                every: Duration::from_secs(2),
                pause: Duration::from_millis(100),
            }),
            Db::Postgres(_) => None,
        }
    }

    /// Closes every connection, waiting for them to finish.
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// The URL without its password, fit for messages and logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            super::redact("postgres://roster:s3cret@db:5432/roster"),
            "postgres://roster:***@db:5432/roster"
        );
        assert_eq!(
            super::redact("postgres://root@127.0.0.1/test"),
            "postgres://root@127.0.0.1/test"
        );
        assert_eq!(super::redact("sqlite://roster.db"), "sqlite://roster.db");
    }
}
