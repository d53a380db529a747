//! `Error`: why an import could not be run, queued or read back.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] roster_store::Error),
    #[error("reading the import's file")]
    File(#[from] roster_validate::Error),
    #[error("the import's stored file is no longer a valid user file: {0}")]
    FileRefused(String),
    #[error(transparent)]
    Queue(#[from] roster_queue::Error),
    #[error("reading {path}")]
    Upload {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("writing output")]
    Output(#[source] std::io::Error),
    #[error("keeping what validation found in temporary files")]
    Scratch(#[source] std::io::Error),
    #[error("a background task stopped: {0}")]
    Task(String),
}
