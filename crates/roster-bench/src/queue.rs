//! What the bench does to the job queue's tables: drops every password
//! job as the queue drops one that failed on roster's own errors until it
//! ran out of attempts, so that the sweep that finds such deliveries can
//! be timed at its worst.

use sqlx::Connection;

use crate::Error;

/// Marks every password job of the database at `url` as run out of
/// attempts; how many.
pub async fn drop_password_jobs(url: &str) -> Result<u64, Error> {
    const SQLITE: &str = "UPDATE Jobs SET status = 'Failed', attempts = max_attempts \
        WHERE job_type = 'roster-passwords'";
    const POSTGRES: &str = "UPDATE apalis.jobs SET status = 'Failed', attempts = max_attempts \
        WHERE job_type = 'roster-passwords'";
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await?;
        Ok(sqlx::query(SQLITE)
            .execute(&mut conn)
            .await?
            .rows_affected())
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        Ok(sqlx::query(POSTGRES)
            .execute(&mut conn)
            .await?
            .rows_affected())
    }
}
