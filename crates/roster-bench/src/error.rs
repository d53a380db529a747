//! The one error type of the baselines.

/// Why a baseline could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading {path}")]
    Csv {
        path: String,
        #[source]
        source: csv::Error,
    },
    #[error("the file has no column {0:?}")]
    MissingColumn(&'static str),
    #[error("row {line} is not valid: {why}; the baselines take a file roster validated")]
    InvalidRow { line: u64, why: String },
    #[error("account {0} does not exist")]
    NoAccount(String),
    #[error("the database URL: {0}")]
    Url(String),
    #[error("SQLite")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL")]
    Postgres(#[from] sqlx::Error),
    #[error("sending mail: {0}")]
    Mail(String),
}
