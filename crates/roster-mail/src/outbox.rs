//! `Outbox`: where messages go. A folder of `.eml` files is the embedded
//! default (nothing leaves the machine); SMTP when a URL is configured
//! (`smtp://`, `smtps://` for TLS, `?tls=required` for STARTTLS,
//! `user:password@` for credentials).

use std::path::{Path, PathBuf};

use lettre::transport::smtp::Error as SmtpError;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::{Error, SendError};

/// A way to send messages.
#[derive(Clone)]
pub enum Outbox {
    Folder(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl Outbox {
    /// SMTP at `smtp_url` when given, else `.eml` files in `folder`
    /// (created if missing).
    pub fn new(smtp_url: Option<&str>, folder: &Path) -> Result<Outbox, Error> {
        match smtp_url {
            Some(url) => Ok(Outbox::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(Error::SmtpUrl)?
                    .build(),
            )),
            None => {
                std::fs::create_dir_all(folder).map_err(|source| Error::Folder {
                    path: folder.display().to_string(),
                    source,
                })?;
                Ok(Outbox::Folder(folder.to_path_buf()))
            }
        }
    }

    /// Sends one message, telling a failure worth retrying from one that is not.
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Outbox::Folder(folder) => AsyncFileTransport::<Tokio1Executor>::new(folder)
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| SendError::Permanent(e.to_string())),
            Outbox::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(classify),
        }
    }
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outbox::Folder(folder) => f.debug_tuple("Folder").field(folder).finish(),
            // The transport holds credentials: never print it.
            Outbox::Smtp(_) => f.write_str("Smtp(***)"),
        }
    }
}

/// 5xx replies are permanent; 4xx replies and connection trouble are not.
fn classify(e: SmtpError) -> SendError {
    if e.is_permanent() {
        SendError::Permanent(e.to_string())
    } else {
        SendError::Temporary(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Recipient, TemporaryPassword, Welcome, welcome_message};

    #[tokio::test]
    async fn the_folder_outbox_writes_one_eml_per_message() {
        let folder = tempfile::tempdir().expect("a folder");
        let outbox = Outbox::new(None, &folder.path().join("outbox")).expect("an outbox");
        let password = TemporaryPassword::generate().expect("random");
        let welcome = Welcome {
            display_name: "Jane Doe",
            email: "jane@acme.example",
            sign_in_url: "https://pbx.acme.example",
            from: "noreply@acme.example",
        };
        let message = welcome_message(&welcome, &password, &Recipient::User).expect("message");
        outbox.send(message).await.expect("sent");
        let files: Vec<PathBuf> = std::fs::read_dir(folder.path().join("outbox"))
            .expect("the folder")
            .map(|e| e.expect("an entry").path())
            .collect();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
        let eml = std::fs::read_to_string(&files[0]).expect("the message");
        assert!(eml.contains(password.expose()), "{eml}");
        assert!(
            eml.contains("To: \"Jane Doe\" <jane@acme.example>"),
            "{eml}"
        );
    }

    #[test]
    fn a_bad_smtp_url_is_an_error_and_credentials_never_print() {
        assert!(matches!(
            Outbox::new(Some("ftp://nowhere"), Path::new(".")),
            Err(Error::SmtpUrl(_))
        ));
        let outbox = Outbox::new(Some("smtp://user:s3cret@127.0.0.1:2525"), Path::new("."))
            .expect("an outbox");
        assert_eq!(format!("{outbox:?}"), "Smtp(***)");
    }
}
