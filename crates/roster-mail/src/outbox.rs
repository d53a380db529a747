//! `Outbox`: where messages go. A folder of `.eml` files is the embedded
//! default (nothing leaves the machine); SMTP when a URL is configured
//! (`smtp://`, `smtps://` for TLS, `?tls=required` for STARTTLS,
//! `user:password@` for credentials), trusting the system's certificate
//! authorities and, when given, one more.

use std::path::{Path, PathBuf};

use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::{Error, SendError};

/// A way to send messages.
#[derive(Clone)]
pub enum Outbox {
    Folder(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl Outbox {
    /// `.eml` files in `folder`, created if missing.
    pub fn folder(folder: &Path) -> Result<Outbox, Error> {
        std::fs::create_dir_all(folder).map_err(|source| Error::Folder {
            path: folder.display().to_string(),
            source,
        })?;
        Ok(Outbox::Folder(folder.to_path_buf()))
    }

    /// The SMTP server at `url`. `authority`: the PEM certificate of a
    /// certificate authority to trust besides the system's, for a server
    /// whose certificate a private authority signed; the URL must then ask
    /// for TLS (`smtps://`, or `?tls=required`).
    pub fn smtp(url: &str, authority: Option<&[u8]>) -> Result<Outbox, Error> {
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(Error::SmtpUrl)?;
        if let Some(pem) = authority {
            builder = builder.tls(trusting(url, pem)?);
        }
        Ok(Outbox::Smtp(builder.build()))
    }

    /// Sends one message, telling a failure worth retrying from one that is not.
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Outbox::Folder(folder) => {
                let folder = folder.clone();
                tokio::task::spawn_blocking(move || write_to_folder(&folder, &message))
                    .await
                    .map_err(|e| SendError::Temporary(e.to_string()))?
            }
            Outbox::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(classify),
        }
    }
}

/// Writes `message` to a new `.eml` file in `folder` whole or not at all:
/// it is written under a hidden name, then renamed, so a crash never leaves
/// a half-written message for a reader of the folder. Blocking.
pub fn write_to_folder(folder: &Path, message: &Message) -> Result<(), SendError> {
    let written = (|| {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(|e| std::io::Error::other(e.to_string()))?;
        let name: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let partial = folder.join(format!(".{name}.eml.partial"));
        std::fs::write(&partial, message.formatted())?;
        std::fs::rename(&partial, folder.join(format!("{name}.eml")))
    })();
    written.map_err(|e| SendError::Permanent(format!("writing to {}: {e}", folder.display())))
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

const CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----";

/// The TLS that `url` asks for, trusting the authority in `pem` besides the
/// system's.
fn trusting(url: &str, pem: &[u8]) -> Result<Tls, Error> {
    let url = url::Url::parse(url).map_err(|e| Error::Authority(e.to_string()))?;
    let host = url.host_str().unwrap_or_default().to_string();
    let tls = url
        .query_pairs()
        .find(|(key, _)| key == "tls")
        .map(|(_, value)| value.into_owned());
    // An empty or foreign file parses as no certificate at all: say so
    // rather than trust nothing more.
    if !pem
        .windows(CERTIFICATE.len())
        .any(|w| w == CERTIFICATE.as_bytes())
    {
        return Err(Error::Authority(format!(
            "no certificate in it; give a PEM file (one that holds {CERTIFICATE})"
        )));
    }
    let certificate = Certificate::from_pem(pem).map_err(|e| Error::Authority(e.to_string()))?;
    let parameters = TlsParameters::builder(host)
        .add_root_certificate(certificate)
        .build_rustls()
        .map_err(|e| Error::Authority(e.to_string()))?;
    match (url.scheme(), tls.as_deref()) {
        ("smtps", _) => Ok(Tls::Wrapper(parameters)),
        (_, Some("required")) => Ok(Tls::Required(parameters)),
        (_, Some("opportunistic")) => Ok(Tls::Opportunistic(parameters)),
        _ => Err(Error::Authority(
            "the SMTP URL asks for no TLS: use smtps://, or ?tls=required".to_string(),
        )),
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
        let outbox = Outbox::folder(&folder.path().join("outbox")).expect("an outbox");
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

    // The relay's connection pool needs a runtime.
    #[tokio::test]
    async fn a_bad_smtp_url_is_an_error_and_credentials_never_print() {
        assert!(matches!(
            Outbox::smtp("ftp://nowhere", None),
            Err(Error::SmtpUrl(_))
        ));
        let outbox = Outbox::smtp("smtp://user:s3cret@127.0.0.1:2525", None).expect("an outbox");
        assert_eq!(format!("{outbox:?}"), "Smtp(***)");
    }

    // The relay's connection pool needs a runtime.
    #[tokio::test]
    async fn an_authority_needs_a_tls_url_and_a_certificate() {
        let error = |url: &str, pem: &[u8]| match Outbox::smtp(url, Some(pem)) {
            Err(e) => e.to_string(),
            Ok(_) => "an outbox".to_string(),
        };
        let dir = tempfile::tempdir().expect("a folder");
        let pem = crate::testing::Certificates::make(dir.path()).authority_pem();
        assert_eq!(
            error("smtp://127.0.0.1:2525", &pem),
            "the certificate authority cannot be used: the SMTP URL asks for no TLS: use \
             smtps://, or ?tls=required"
        );
        assert_eq!(
            error("smtp://127.0.0.1:2525?tls=required", b"not a certificate"),
            "the certificate authority cannot be used: no certificate in it; give a PEM file \
             (one that holds -----BEGIN CERTIFICATE-----)"
        );
        assert_eq!(error("smtps://127.0.0.1:2465", &pem), "an outbox");
    }
}
