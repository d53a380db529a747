//! `Error` (a message could not be built, an outbox opened, or a delivery
//! read or written) and
//! `SendError` (a message could not be sent, now or ever).

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the address '{0}' cannot receive mail")]
    Address(String),
    #[error("building the message")]
    Build(#[source] lettre::error::Error),
    #[error("the SMTP URL is not usable")]
    SmtpUrl(#[source] lettre::transport::smtp::Error),
    #[error("the certificate authority cannot be used: {0}")]
    Authority(String),
    #[error("hashing the password")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] roster_store::Error),
    #[error(transparent)]
    Queue(#[from] roster_queue::Error),
    #[error("a background task stopped: {0}")]
    Task(String),
    #[error("the outbox folder {path} cannot be used")]
    Folder {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: a 4xx reply, a refused or dropped connection.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// Will fail again: a 5xx reply, an unwritable outbox.
    #[error("permanent failure: {0}")]
    Permanent(String),
}
