//! The outbox against a real SMTP server on loopback (`smtp_sink.py`,
//! started by each test): delivery, a temporary refusal, a permanent one,
//! STARTTLS and TLS with a private authority, signing in.

use std::path::Path;

use roster_mail::testing::{Certificates, Security, SinkMode, SmtpSink};
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
    Outbox::smtp(&sink.url(), None).expect("an outbox")
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
    let outbox = Outbox::smtp(&format!("smtp://127.0.0.1:{port}"), None).expect("an outbox");
    let password = TemporaryPassword::generate().expect("random");
    let sent = outbox.send(message(&password, &Recipient::User)).await;
    assert!(matches!(sent, Err(SendError::Temporary(_))), "{sent:?}");
}

/// A server with a certificate from a test authority, and the outbox that
/// trusts it.
fn tls_sink(security: Security, dir: &Path, login: Option<(&str, &str)>) -> (SmtpSink, Outbox) {
    let certificates = Certificates::make(&dir.join("certificates"));
    let sink = SmtpSink::start_with(SinkMode::Accept, dir, security, Some(&certificates), login);
    let outbox = Outbox::smtp(&sink.url(), Some(&certificates.authority_pem())).expect("an outbox");
    (sink, outbox)
}

#[tokio::test]
async fn starttls_and_a_sign_in_carry_the_message() {
    let dir = tempfile::tempdir().expect("a folder");
    let (sink, outbox) = tls_sink(Security::StartTls, dir.path(), Some(("roster", "s3cret")));
    assert!(sink.url().ends_with("?tls=required"), "{}", sink.url());
    let password = TemporaryPassword::generate().expect("random");
    outbox
        .send(message(&password, &Recipient::User))
        .await
        .expect("sent");
    let received = sink.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].how, "tls=True user=roster");
    assert!(received[0].message.contains(password.expose()));
}

#[tokio::test]
async fn tls_from_the_first_byte_carries_the_message() {
    let dir = tempfile::tempdir().expect("a folder");
    let (sink, outbox) = tls_sink(Security::Tls, dir.path(), None);
    assert!(sink.url().starts_with("smtps://"), "{}", sink.url());
    let password = TemporaryPassword::generate().expect("random");
    outbox
        .send(message(&password, &Recipient::User))
        .await
        .expect("sent");
    assert_eq!(sink.received()[0].how, "tls=True user=None");
}

#[tokio::test]
async fn wrong_credentials_are_a_permanent_failure() {
    let dir = tempfile::tempdir().expect("a folder");
    let certificates = Certificates::make(&dir.path().join("certificates"));
    let sink = SmtpSink::start_with(
        SinkMode::Accept,
        dir.path(),
        Security::StartTls,
        Some(&certificates),
        Some(("roster", "s3cret")),
    );
    let url = sink.url().replace("s3cret", "guess");
    let outbox = Outbox::smtp(&url, Some(&certificates.authority_pem())).expect("an outbox");
    let password = TemporaryPassword::generate().expect("random");
    let sent = outbox.send(message(&password, &Recipient::User)).await;
    assert!(
        matches!(&sent, Err(SendError::Permanent(why)) if why.contains("535")),
        "{sent:?}"
    );
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn a_certificate_nobody_vouches_for_is_refused() {
    let dir = tempfile::tempdir().expect("a folder");
    let certificates = Certificates::make(&dir.path().join("certificates"));
    let sink = SmtpSink::start_with(
        SinkMode::Accept,
        dir.path(),
        Security::Tls,
        Some(&certificates),
        None,
    );
    // The system's authorities alone: the test authority is not among them.
    let outbox = Outbox::smtp(&sink.url(), None).expect("an outbox");
    let password = TemporaryPassword::generate().expect("random");
    let sent = outbox.send(message(&password, &Recipient::User)).await;
    assert!(sent.is_err(), "{sent:?}");
    assert!(sink.received().is_empty());
}
