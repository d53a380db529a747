//! roster's job queue: apalis, on the same database as roster's tables.
//!
//! Everything about the queue lives here: the queues' names, the payload
//! of each kind of job and the key that tells one job from another
//! ([`jobs`]), the database it runs on and its schema ([`pool`]), pushing
//! jobs, alone or inside a transaction of the caller's ([`push`]), and
//! running a worker of a queue ([`serve`]). What a job *does* is not
//! here: roster-jobs plans and writes imports, roster-mail sends
//! passwords, each handing its handler to [`serve`].
//!
//! A job carries ids only; the state of the work lives in roster's
//! tables. So a job delivered twice, or pushed again by a worker that
//! starts up and finds work unfinished, does no harm.

mod error;
mod jobs;
mod pool;
mod push;
mod serve;

pub use error::Error;
pub use jobs::{
    CHUNK_QUEUE, DeliverPasswords, IMPORT_QUEUE, MAX_ATTEMPTS, PASSWORD_JOB_ATTEMPTS,
    PASSWORD_QUEUE, RunChunk, RunImport, chunk_job_key, chunk_job_key_again, chunk_key_prefix,
    import_job_key, password_job, turn, undo_chunk_job_key, undo_chunk_job_key_again,
    undo_chunk_key_prefix, undo_job_key,
};
pub use pool::{Conn, Pool};
pub use push::{dead_jobs, drop_jobs, push, push_in};
pub use serve::{Handler, Handling, QueueConfig, serve};
