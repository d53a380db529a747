//! The outbox against a real SMTP server on loopback (Python 3.11's smtpd,
//! started by each test): delivery, a temporary refusal, a permanent one.

use std::path::Path;

use roster_mail::testing::{SinkMode, SmtpSink};
use roster_mail::{Outbox, Recipient, SendError, TemporaryPassword, Welcome, welcome_message};

fn message(password: &TemporaryPassword, to: &Recipient) -> lettre::Message {
    let welcome = Welcome {
        display_name: "Jane Doe",
        email: "jane@acme.example",
        sign_in_url: "https://pbx.acme.example",
        from: "noreply@acme.example",
    };
    welcome_message(&welcome, password, to).expect("a message")
}

fn outbox(sink: &SmtpSink) -> Outbox {
    Outbox::new(Some(&sink.url()), Path::new(".")).expect("an outbox")
}

#[tokio::test]
async fn a_message_arrives_at_the_right_recipient() {
    let dir = tempfile::tempdir().expect("a folder");
    let sink = SmtpSink::start(SinkMode::Accept, dir.path());
    let password = TemporaryPassword::generate().expect("random");
    outbox(&sink)
        .send(message(&password, &Recipient::User))
        .await
        .expect("sent");
    let to_admin = Recipient::Address("it@acme.example".to_string());
    outbox(&sink)
        .send(message(&password, &to_admin))
        .await
        .expect("sent");
    let received = sink.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].recipients, "jane@acme.example");
    assert!(received[0].message.contains(password.expose()));
    assert_eq!(received[1].recipients, "it@acme.example");
    assert!(
        received[1]
            .message
            .contains("Subject: Temporary password for Jane Doe (jane@acme.example)")
    );
}

#[tokio::test]
async fn a_4xx_reply_is_temporary_and_the_next_try_goes_through() {
    let dir = tempfile::tempdir().expect("a folder");
    let sink = SmtpSink::start(SinkMode::RefuseOnceForNow, dir.path());
    let password = TemporaryPassword::generate().expect("random");
    // One outbox for both tries: its pooled connection must survive the
    // refusal.
    let outbox = outbox(&sink);
    let first = outbox.send(message(&password, &Recipient::User)).await;
    assert!(
        matches!(&first, Err(SendError::Temporary(why)) if why.contains("451")),
        "{first:?}"
    );
    outbox
        .send(message(&password, &Recipient::User))
        .await
        .expect("the retry is accepted");
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test]
async fn a_5xx_reply_is_permanent() {
    let dir = tempfile::tempdir().expect("a folder");
    let sink = SmtpSink::start(SinkMode::RefuseForGood, dir.path());
    let password = TemporaryPassword::generate().expect("random");
    let sent = outbox(&sink)
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
