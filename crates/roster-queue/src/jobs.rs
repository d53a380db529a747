//! The queues, the payload of each kind of job, and the keys and turns of
//! jobs.
//!
//! A job's idempotency key says what it is for; a queue runs the job of
//! the highest priority first, and roster's priorities are [`turn`]s, so
//! that no import waits behind another. Payloads are ids only, so a job
//! survives any change to roster's types (fields are only ever added).

use std::fmt::Display;
use std::time::Duration;

use apalis_core::task::Task;
use apalis_core::task::builder::TaskBuilder;
use serde::{Deserialize, Serialize};

/// The queue imports, and their undos, are planned on.
pub const IMPORT_QUEUE: &str = "roster-imports";
/// The queue an import's chunks, and its undo's, travel on.
pub const CHUNK_QUEUE: &str = "roster-chunks";
/// The queue password jobs travel on.
pub const PASSWORD_QUEUE: &str = "roster-passwords";

/// Runs of an import's or a chunk's job that ends in an error before the
/// queue gives up on it (and the import is marked failed).
pub const MAX_ATTEMPTS: usize = 5;

/// Runs of one password job that ends in an error of roster's own (the
/// database out of reach, say) before the queue gives up on it. A failure
/// to send is not such an error: it is settled on the delivery.
pub const PASSWORD_JOB_ATTEMPTS: usize = 3;

/// The payload of a job that plans an import, or its undo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunImport {
    pub import_id: String,
    /// The job plans the import's undo (its key says so too).
    #[serde(default)]
    pub undo: bool,
}

/// The payload of a job that writes one chunk of an import, or reverts
/// one chunk of its undo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunChunk {
    pub import_id: String,
    pub seq: u64,
    /// The chunk is the undo's.
    #[serde(default)]
    pub undo: bool,
}

/// The payload of a password job: one attempt at one group of an import's
/// deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverPasswords {
    /// The import's row id.
    pub import: i64,
    /// The line of the file the batch that created the group starts on.
    pub batch: i64,
    /// The attempt, from 1.
    pub attempt: u32,
}

impl DeliverPasswords {
    /// The job of the group's first attempt.
    pub fn first(import: i64, batch: i64) -> DeliverPasswords {
        DeliverPasswords {
            import,
            batch,
            attempt: 1,
        }
    }

    /// The job of the group's next attempt.
    pub fn next(&self) -> DeliverPasswords {
        DeliverPasswords {
            attempt: self.attempt + 1,
            ..*self
        }
    }
}

/// The queue's turn for the `ordinal`-th piece of work of an import (its
/// chunks, its groups of deliveries), from 0, as a job priority: the queue
/// runs the highest first, so every import's first pieces come before any
/// import's later ones, and a small import never waits behind a large one.
pub fn turn(ordinal: u64) -> usize {
    const FIRST: u64 = 1_000_000;
    // A priority is a 32-bit integer on PostgreSQL.
    usize::try_from(FIRST - ordinal.min(FIRST)).unwrap_or(0)
}

/// The key of the job that plans an import: one per import.
pub fn import_job_key(id: &impl Display) -> String {
    format!("import-{id}")
}

/// The key of the first job of an import's chunk `seq`.
pub fn chunk_job_key(id: &impl Display, seq: u64) -> String {
    format!("{}{seq}", chunk_key_prefix(id))
}

/// The key of a job that takes up a chunk its worker handed back (it was
/// stopping): unique to each.
pub fn chunk_job_key_again(id: &impl Display, seq: u64) -> String {
    format!(
        "{}{seq}-again-{}",
        chunk_key_prefix(id),
        ulid::Ulid::generate()
    )
}

/// What the key of every job of an import's chunks starts with.
pub fn chunk_key_prefix(id: &impl Display) -> String {
    format!("import-{id}-chunk-")
}

/// The key of the job that plans an import's undo asked at `asked` (an
/// undo stopped may be asked again: each ask is planned once).
pub fn undo_job_key(id: &impl Display, asked: &str) -> String {
    format!("undo-{id}-{asked}")
}

/// The key of the first job of chunk `seq` of the undo asked at `asked`.
pub fn undo_chunk_job_key(id: &impl Display, asked: &str, seq: u64) -> String {
    format!("{}{seq}", undo_chunk_key_prefix(id, asked))
}

/// The key of a job that takes up an undo's chunk its worker handed back:
/// unique to each.
pub fn undo_chunk_job_key_again(id: &impl Display, asked: &str, seq: u64) -> String {
    format!(
        "{}{seq}-again-{}",
        undo_chunk_key_prefix(id, asked),
        ulid::Ulid::generate()
    )
}

/// What the key of every chunk job of the undo asked at `asked` starts
/// with.
pub fn undo_chunk_key_prefix(id: &impl Display, asked: &str) -> String {
    format!("undo-{id}-{asked}-chunk-")
}

/// The lines of a file a group of deliveries stands for when its turn is
/// reckoned: an import's batches of rows (2,000 by default).
const LINES_PER_TURN: u64 = 2000;

/// The job for `job`, to run `after` from now, with an idempotency key of
/// its own: `passwords-{import}-{batch}-{attempt}-{unique}`.
pub fn password_job(job: &DeliverPasswords, after: Duration) -> (String, Task<Vec<u8>>) {
    let key = format!(
        "passwords-{}-{}-{}-{}",
        job.import,
        job.batch,
        job.attempt,
        ulid::Ulid::generate()
    );
    let args = serde_json::to_vec(job).expect("a struct of integers serializes");
    let ordinal = u64::try_from(job.batch).unwrap_or(0) / LINES_PER_TURN;
    let task = TaskBuilder::new(args)
        .idempotency_key(&key)
        .max_attempts(PASSWORD_JOB_ATTEMPTS)
        .priority(turn(ordinal))
        .run_after(after)
        .build();
    (key, task)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earlier_turns_come_first_and_none_is_below_zero() {
        assert!(turn(0) > turn(1));
        assert_eq!(turn(0), 1_000_000);
        assert_eq!(turn(5_000_000), 0);
        let id = "0c8672fa-7218-4d94-a82c-885200caa624";
        assert_eq!(
            chunk_job_key(&id, 3),
            "import-0c8672fa-7218-4d94-a82c-885200caa624-chunk-3"
        );
        assert!(
            chunk_job_key_again(&id, 3).starts_with(&format!("{}3-again-", chunk_key_prefix(&id)))
        );
    }
}
