//! roster's import runner: submitting a file (validate, then store and
//! queue), the apalis job that creates an import's users, the job that
//! undoes an import, and reading an import's results back (per-row
//! results, the failed-rows file).
//!
//! The jobs travel on roster-queue, on the same database as the data
//! (`worker.rs` serves them). It knows nothing of HTTP or terminals: the
//! CLI and the server call it.

mod error;
mod failed_rows;
mod findings;
mod plan_file;
mod results;
mod runner;
mod scratch;
mod submit;
mod undo;
mod worker;

pub use error::Error;
pub use failed_rows::{NOT_PROCESSED, write_failed_rows, write_refused_rows};
pub use findings::{Errors, ErrorsFile, SharedErrors};
pub use plan_file::{PlanFile, PlanRows, SharedPlan};
pub use results::{
    ResultFilter, ResultLine, RowStatus, for_each_result, for_each_result_where, results_page,
};
pub use runner::{ChunkRun, RunConfig, Stop, plan_import, run_chunk, run_import};
pub use scratch::FileScratch;
pub use submit::{Checked, DEFAULT_CHUNK_ROWS, Submission, Submitted, check, queue, submit};
pub use undo::{plan_undo, queue_undo, run_undo, run_undo_chunk};
pub use worker::{WorkerConfig, enqueue, enqueue_undo, run_worker};
