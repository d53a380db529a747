//! `Error`: why the queue could not take or run a job.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the job queue: queueing {what}: {reason}")]
    Push { what: String, reason: String },
    #[error("migrating the database schema")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("the job queue: {0}")]
    Worker(String),
}
