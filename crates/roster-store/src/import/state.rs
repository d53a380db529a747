//! The states an import, its chunks and its rows' results go through, as types on both sides
//! of the database, and the statement that ends an import.
//!
//! States are bound and read as these types: the words live here (and in
//! the schema's check constraints). The one exception is a condition a
//! partial index is defined by, which must name its word in the SQL to be
//! used: the failed results' (`results.rs`, tested against
//! `ResultStatus::Failed`).

use std::fmt;

use crate::db::{Tx, Value, query};
use crate::time;

use super::id::ImportKey;

/// Where an import is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ImportState {
    Queued,
    Running,
    Stopping,
    Stopped,
    Completed,
    CompletedWithErrors,
    Failed,
}

impl ImportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportState::Queued => "queued",
            ImportState::Running => "running",
            ImportState::Stopping => "stopping",
            ImportState::Stopped => "stopped",
            ImportState::Completed => "completed",
            ImportState::CompletedWithErrors => "completed_with_errors",
            ImportState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<ImportState> {
        [
            ImportState::Queued,
            ImportState::Running,
            ImportState::Stopping,
            ImportState::Stopped,
            ImportState::Completed,
            ImportState::CompletedWithErrors,
            ImportState::Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }

    /// Queued, running or stopping: the account's one active import.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            ImportState::Queued | ImportState::Running | ImportState::Stopping
        )
    }
}

impl fmt::Display for ImportState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ImportState> for Value<'_> {
    fn from(state: ImportState) -> Self {
        Value::from(state.as_str())
    }
}

/// Where a chunk of an import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub(crate) enum ChunkState {
    Queued,
    Running,
    Done,
}

impl From<ChunkState> for Value<'_> {
    fn from(state: ChunkState) -> Self {
        Value::from(match state {
            ChunkState::Queued => "queued",
            ChunkState::Running => "running",
            ChunkState::Done => "done",
        })
    }
}

/// What became of a processed row, as its result stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ResultStatus {
    Created,
    Updated,
    Unchanged,
    Failed,
}

impl ResultStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultStatus::Created => "created",
            ResultStatus::Updated => "updated",
            ResultStatus::Unchanged => "unchanged",
            ResultStatus::Failed => "failed",
        }
    }
}

impl From<ResultStatus> for Value<'_> {
    fn from(status: ResultStatus) -> Self {
        Value::from(status.as_str())
    }
}

/// What an undo did with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum UndoStatus {
    Undone,
    NotUndone,
}

impl UndoStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UndoStatus::Undone => "undone",
            UndoStatus::NotUndone => "not_undone",
        }
    }
}

/// Ends the import `$1` at `$2` once all its chunks are done: stopped if a
/// stop was asked, else completed, with errors if any row was not created.
const FINISH: &str = "UPDATE imports SET \
    state = CASE WHEN state = $3 THEN $4 WHEN failed > 0 OR processed < total THEN $5 ELSE $6 END, \
    not_processed = total - processed, finished_at = $2 \
    WHERE id = $1 AND state IN ($7, $3) AND chunks_done >= chunks";

/// Ends a running or stopping import inside `tx` once every chunk is done:
/// stopped if a stop was asked, else completed, with errors if any row
/// failed. Rows without a result count as not processed. A finished
/// import, or one with a chunk still to do, is left as it is: whichever
/// chunk ends last ends the import, once.
pub(crate) async fn finish(tx: &mut Tx<'_>, import: ImportKey) -> Result<u64, sqlx::Error> {
    query(FINISH)
        .bind(import.0)
        .bind(time::now())
        .bind(ImportState::Stopping)
        .bind(ImportState::Stopped)
        .bind(ImportState::CompletedWithErrors)
        .bind(ImportState::Completed)
        .bind(ImportState::Running)
        .execute(tx)
        .await
}

#[cfg(test)]
mod tests {
    use super::ImportState;

    #[test]
    fn every_state_reads_back_as_itself() {
        for word in [
            "queued",
            "running",
            "stopping",
            "stopped",
            "completed",
            "completed_with_errors",
            "failed",
        ] {
            let state = ImportState::parse(word).expect(word);
            assert_eq!(state.as_str(), word);
        }
        assert_eq!(ImportState::parse("done"), None);
    }
}
