//! The bare senders of welcome messages: what delivering a file's temporary
//! passwords costs with no database, no queue and no settling around it.
//!
//! - [`write_folder`]: for each user of the file, a temporary password, its
//!   hash, the welcome message, written to a folder by roster's own
//!   writer (a hidden name, then renamed), on a few threads.
//! - [`send_smtp`]: the same messages through an SMTP server, over a few
//!   reused connections, as many messages at once as connections.
//!
//! They use roster-mail's password, hash and message, so that the
//! difference to roster is roster's own work around them, not the message.

use std::path::Path;
use std::sync::Arc;

use csv::StringRecord;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use roster_mail::{
    Recipient, TemporaryPassword, Welcome, hash_password, welcome_message, write_to_folder,
};
use roster_template::Column;

use crate::Error;
use crate::row::UserFile;

/// The sender and sign-in address of the bare messages: roster's defaults.
const FROM: &str = "roster <noreply@localhost>";
const SIGN_IN_URL: &str = "https://sign-in.example.com";

/// Writes a welcome message with a fresh, hashed temporary password for
/// every user of `csv` into `folder`, on `threads` threads; how many.
pub fn write_folder(csv: &Path, folder: &Path, threads: usize) -> Result<u64, Error> {
    std::fs::create_dir_all(folder).map_err(|e| Error::Mail(e.to_string()))?;
    let users = users(csv)?;
    let share = users.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = users
            .chunks(share)
            .map(|part| {
                scope.spawn(move || {
                    for (display_name, email) in part {
                        let (password, _hash) = hashed()?;
                        let message = message(display_name, email, &password)?;
                        write_to_folder(folder, &message)
                            .map_err(|e| Error::Mail(e.to_string()))?;
                    }
                    Ok::<u64, Error>(part.len() as u64)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .map_err(|_| Error::Mail("a thread panicked".to_string()))?
            })
            .sum()
    })
}

/// Sends a welcome message with a fresh temporary password to every user
/// of `csv` through the SMTP server at `url`, `concurrency` at once over as
/// many reused connections; how many.
pub async fn send_smtp(csv: &Path, url: &str, concurrency: usize) -> Result<u64, Error> {
    use futures_util::StreamExt;
    let smtp = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|e| Error::Mail(e.to_string()))?
        .build();
    let users = Arc::new(users(csv)?);
    let sends = (0..users.len()).map(|i| {
        let (smtp, users) = (smtp.clone(), users.clone());
        async move {
            let (display_name, email) = &users[i];
            let password = TemporaryPassword::generate().map_err(|e| Error::Mail(e.to_string()))?;
            let message = message(display_name, email, &password)?;
            smtp.send(message)
                .await
                .map(|_| ())
                .map_err(|e| Error::Mail(e.to_string()))
        }
    });
    let mut sent = 0;
    let mut results = futures_util::stream::iter(sends).buffer_unordered(concurrency.max(1));
    while let Some(result) = results.next().await {
        result?;
        sent += 1;
    }
    Ok(sent)
}

/// Every user of the file: display name and email.
fn users(csv: &Path) -> Result<Vec<(String, String)>, Error> {
    let mut file = UserFile::open(csv)?;
    let mut record = StringRecord::new();
    let mut users = Vec::new();
    while file.read(&mut record)? {
        users.push((
            file.columns.cell(&record, Column::DisplayName).to_string(),
            file.columns.cell(&record, Column::Email).to_string(),
        ));
    }
    Ok(users)
}

fn hashed() -> Result<(TemporaryPassword, String), Error> {
    let password = TemporaryPassword::generate().map_err(|e| Error::Mail(e.to_string()))?;
    let hash = hash_password(&password).map_err(|e| Error::Mail(e.to_string()))?;
    Ok((password, hash))
}

fn message(
    display_name: &str,
    email: &str,
    password: &TemporaryPassword,
) -> Result<lettre::Message, Error> {
    let welcome = Welcome {
        display_name,
        email,
        sign_in_url: SIGN_IN_URL,
        from: FROM,
    };
    welcome_message(&welcome, password, &Recipient::User).map_err(|e| Error::Mail(e.to_string()))
}
