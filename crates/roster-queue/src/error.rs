//! `Error`: why the queue could not take or run a job.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("queueing {what}: {reason}")]
    Push { what: String, reason: String },
    #[error("the job queue's schema")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("the job queue: {0}")]
    Database(#[source] sqlx::Error),
    #[error("the job queue: {0}")]
    Worker(String),
}
