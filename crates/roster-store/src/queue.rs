//! The job queue's names, and the keys and turns of its jobs: what the
//! store (which queues jobs inside its own transactions, and drops an
//! import's queued chunks when it stops) and the workers (which run them)
//! agree on.
//!
//! The queue is apalis, on the same database as roster's tables. A job's
//! idempotency key says what it is for; a queue runs the job of the highest
//! priority first, and roster's priorities are [`turn`]s, so that no import
//! waits behind another.

use crate::ImportId;

/// The queue imports are planned on.
pub const IMPORT_QUEUE: &str = "roster-imports";
/// The queue an import's chunks travel on.
pub const CHUNK_QUEUE: &str = "roster-chunks";
/// The queue password jobs travel on.
pub const PASSWORD_QUEUE: &str = "roster-passwords";

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
pub fn import_job_key(id: &ImportId) -> String {
    format!("import-{id}")
}

/// The key of the first job of an import's chunk `seq`.
pub fn chunk_job_key(id: &ImportId, seq: u64) -> String {
    format!("{}{seq}", chunk_key_prefix(id))
}

/// The key of a job that takes up a chunk its worker handed back (it was
/// stopping): unique to each.
pub fn chunk_job_key_again(id: &ImportId, seq: u64) -> String {
    format!(
        "{}{seq}-again-{}",
        chunk_key_prefix(id),
        ulid::Ulid::generate()
    )
}

/// What the key of every job of an import's chunks starts with.
pub(crate) fn chunk_key_prefix(id: &ImportId) -> String {
    format!("import-{id}-chunk-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earlier_turns_come_first_and_none_is_below_zero() {
        assert!(turn(0) > turn(1));
        assert_eq!(turn(0), 1_000_000);
        assert_eq!(turn(5_000_000), 0);
        let id = ImportId::parse("0c8672fa-7218-4d94-a82c-885200caa624").expect("an id");
        assert_eq!(
            chunk_job_key(&id, 3),
            "import-0c8672fa-7218-4d94-a82c-885200caa624-chunk-3"
        );
        assert!(
            chunk_job_key_again(&id, 3).starts_with(&format!("{}3-again-", chunk_key_prefix(&id)))
        );
    }
}
