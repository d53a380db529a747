//! The outbox against a real SMTP server on loopback (Python 3.11's smtpd,
//! started by each test): delivery, a temporary refusal, a permanent one.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use roster_mail::{Outbox, Recipient, SendError, TemporaryPassword, Welcome, welcome_message};

/// A running SMTP sink; killed when dropped.
struct Sink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Sink {
    fn start(mode: &str) -> Sink {
        let dir = tempfile::tempdir().expect("a folder");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir.path())
            .arg(mode)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts the SMTP sink");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the sink says it is ready");
        let port = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected sink output: {line:?}"));
        Sink { child, port, dir }
    }

    fn outbox(&self) -> Outbox {
        Outbox::new(
            Some(&format!("smtp://127.0.0.1:{}", self.port)),
            Path::new("."),
        )
        .expect("an outbox")
    }

    /// The messages the sink accepted, with their recipients.
    fn received(&self) -> Vec<(String, String)> {
        (1..)
            .map(|n| self.dir.path().join(n.to_string()))
            .take_while(|base| base.with_extension("eml").exists())
            .map(|base| {
                let eml = std::fs::read_to_string(base.with_extension("eml")).expect("a message");
                let rcpt =
                    std::fs::read_to_string(base.with_extension("rcpt")).expect("recipients");
                (rcpt, eml)
            })
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn message(password: &TemporaryPassword, to: &Recipient) -> lettre::Message {
    let welcome = Welcome {
        display_name: "Jane Doe",
        email: "jane@acme.example",
        sign_in_url: "https://pbx.acme.example",
        from: "noreply@acme.example",
    };
    welcome_message(&welcome, password, to).expect("a message")
}

#[tokio::test]
async fn a_message_arrives_at_the_right_recipient() {
    let sink = Sink::start("ok");
    let password = TemporaryPassword::generate().expect("random");
    sink.outbox()
        .send(message(&password, &Recipient::User))
        .await
        .expect("sent");
    let to_admin = Recipient::Address("it@acme.example".to_string());
    sink.outbox()
        .send(message(&password, &to_admin))
        .await
        .expect("sent");
    let received = sink.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].0, "jane@acme.example");
    assert!(
        received[0]
            .1
            .replace("=\r\n", "")
            .contains(password.expose())
    );
    assert_eq!(received[1].0, "it@acme.example");
    assert!(
        received[1]
            .1
            .contains("Subject: Temporary password for Jane Doe (jane@acme.example)")
    );
}

#[tokio::test]
async fn a_4xx_reply_is_temporary_and_the_next_try_goes_through() {
    let sink = Sink::start("tempfail-once");
    let password = TemporaryPassword::generate().expect("random");
    let first = sink
        .outbox()
        .send(message(&password, &Recipient::User))
        .await;
    assert!(
        matches!(&first, Err(SendError::Temporary(why)) if why.contains("451")),
        "{first:?}"
    );
    sink.outbox()
        .send(message(&password, &Recipient::User))
        .await
        .expect("the retry is accepted");
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test]
async fn a_5xx_reply_is_permanent() {
    let sink = Sink::start("permfail");
    let password = TemporaryPassword::generate().expect("random");
    let sent = sink
        .outbox()
        .send(message(&password, &Recipient::User))
        .await;
    assert!(
        matches!(&sent, Err(SendError::Permanent(why)) if why.contains("550")),
        "{sent:?}"
    );
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn a_refused_connection_is_temporary() {
    // A port nobody listens on: bind one, note it, let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let outbox =
        Outbox::new(Some(&format!("smtp://127.0.0.1:{port}")), Path::new(".")).expect("an outbox");
    let password = TemporaryPassword::generate().expect("random");
    let sent = outbox.send(message(&password, &Recipient::User)).await;
    assert!(matches!(sent, Err(SendError::Temporary(_))), "{sent:?}");
}
