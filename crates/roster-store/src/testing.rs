//! Scratch databases for tests: a fresh SQLite file or a fresh PostgreSQL
//! database per test, so tests never share state.
//!
//! PostgreSQL is used when `ROSTER_TEST_POSTGRES_URL` names a server (any
//! database on it; scratch databases are created beside it). When it is
//! unset, [`postgres`] prints a notice and returns `None`, and the caller
//! skips its PostgreSQL half. CI always sets it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

use crate::convert::from_db;

/// The variable that names the PostgreSQL server tests may use.
pub const POSTGRES_URL_VAR: &str = "ROSTER_TEST_POSTGRES_URL";

/// A database that exists for one test.
#[derive(Debug)]
pub struct ScratchDatabase {
    /// The URL to give `Store::open` or `roster --db`.
    pub url: String,
    /// `sqlite` or `postgres`, for messages.
    pub kind: &'static str,
    admin_url: Option<String>,
    name: String,
    _dir: Option<TempDir>,
}

/// A directory removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "roster_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh SQLite database in a new temporary directory.
pub fn sqlite() -> ScratchDatabase {
    let name = unique_name();
    let dir = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&dir).expect("the temporary directory is writable");
    ScratchDatabase {
        url: format!("sqlite://{}/roster.db", dir.display()),
        kind: "sqlite",
        admin_url: None,
        name,
        _dir: Some(TempDir(dir)),
    }
}

/// A fresh PostgreSQL database, or `None` (with a notice) when
/// `ROSTER_TEST_POSTGRES_URL` is unset.
pub async fn postgres(test: &str) -> Option<ScratchDatabase> {
    let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
        // Written to stderr directly, not with eprintln!, so that the test
        // harness's output capture does not hide the notice.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "notice: {test}: PostgreSQL half skipped because {POSTGRES_URL_VAR} is unset"
        );
        return None;
    };
    let name = unique_name();
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR}={admin_url} cannot be reached: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("creating a scratch database");
    let _ = admin.close().await;
    Some(ScratchDatabase {
        url: with_database(&admin_url, &name),
        kind: "postgres",
        admin_url: Some(admin_url),
        name,
        _dir: None,
    })
}

/// Both databases: SQLite always, PostgreSQL when configured.
pub async fn both(test: &str) -> Vec<ScratchDatabase> {
    let mut dbs = vec![sqlite()];
    dbs.extend(postgres(test).await);
    dbs
}

/// Which of roster's connections [`ScratchDatabase::cut_connections`] cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Those in a transaction that has written: a batch mid-way.
    Writing,
    /// Every one, the queue's too.
    All,
}

impl ScratchDatabase {
    /// Drops a PostgreSQL scratch database; SQLite files go with their
    /// directory when the value is dropped.
    pub async fn remove(self) {
        if let Some(admin_url) = &self.admin_url
            && let Ok(mut admin) = sqlx::PgConnection::connect(admin_url).await
        {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut admin)
                .await;
            let _ = admin.close().await;
        }
    }

    /// Ends the server side of the PostgreSQL connections to this database
    /// (`pg_terminate_backend`), as a server restart or a network fault
    /// would. The number cut; 0 on SQLite.
    pub async fn cut_connections(&self, which: Cut) -> u64 {
        let Some(admin_url) = &self.admin_url else {
            return 0;
        };
        let mut admin = sqlx::PgConnection::connect(admin_url)
            .await
            .expect("the PostgreSQL server");
        let writing = match which {
            Cut::Writing => "AND backend_xid IS NOT NULL",
            Cut::All => "",
        };
        let sql = format!(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid() {writing}"
        );
        let (cut,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&self.name)
            .fetch_one(&mut admin)
            .await
            .expect("cutting connections");
        let _ = admin.close().await;
        from_db(cut)
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{base}/{name}{query}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            super::with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::with_database("postgres://h/db?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
        assert_eq!(super::with_database("postgres://h", "x"), "postgres://h/x");
    }
}
