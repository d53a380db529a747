//! `Error`: why the store could not do what it was asked.

/// One error type for the crate. Messages say what failed and on what; the
/// database's own error is the source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unsupported database URL '{0}': use sqlite://FILE or postgres://HOST/DATABASE")]
    UnsupportedUrl(String),
    #[error("opening the database {url}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("migrating the database schema")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Queue(#[from] roster_queue::Error),
    #[error("{what}")]
    Query {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("no account '{0}'; load it first with `roster account load FILE.toml`")]
    NoAccount(String),
    #[error("user {email}: {reason}")]
    UserConflict { email: String, reason: String },
    #[error("no import '{0}'")]
    NoImport(String),
    #[error(
        "the account already has an import {state}: {id}; wait for it to finish or stop it with `roster stop {id}`"
    )]
    ImportActive { id: String, state: String },
    #[error("import {id} cannot be undone: {why}")]
    CannotUndo { id: String, why: String },
    #[error("another change to the account met the undo at {0}; the batch is tried again")]
    UndoRaced(&'static str),
    #[error("reading the uploaded file")]
    Upload(#[source] std::io::Error),
    #[error("the database holds an invalid value for {0}")]
    Corrupt(&'static str),
}

/// Attaches what was being done to a database error.
pub(crate) trait Context<T> {
    fn context(self, what: &'static str) -> Result<T, Error>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn context(self, what: &'static str) -> Result<T, Error> {
        self.map_err(|source| Error::Query { what, source })
    }
}
