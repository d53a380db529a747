//! Temporary passwords through `roster import`: the three delivery modes
//! with the file outbox, SMTP to a real server on loopback (passwords kept
//! out of every output and log), a permanent refusal shown on the rows,
//! and mail settings checked before anything is queued.

use std::path::Path;

use roster_mail::testing::{Certificates, Security, SinkMode, SmtpSink, password_in};

use crate::util::{Roster, fixture, import_id, json, password_works, path};

/// The users of `fixtures/valid-users.csv`, as the file writes them.
const USERS: [(&str, &str); 8] = [
    ("Ada Lovelace", "ada@demo.example"),
    ("Grace Hopper", "grace@demo.example"),
    ("Alan Turing", "alan@demo.example"),
    ("Katherine Johnson", "katherine@demo.example"),
    ("Margaret Hamilton", "margaret@demo.example"),
    ("Hopper, Grace (Sales)", "grace.sales@demo.example"),
    ("Edsger Dijkstra", "EDSGER@Demo.Example"),
    ("Barbara Liskov", "barbara@demo.example"),
];

/// The messages in an outbox folder, as text.
fn outbox(dir: &Path) -> Vec<String> {
    let mut messages: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| {
                    let path = e.expect("an entry").path();
                    assert_eq!(path.extension().and_then(|x| x.to_str()), Some("eml"));
                    std::fs::read_to_string(path)
                        .expect("a message")
                        .replace("=\r\n", "")
                })
                .collect()
        })
        .unwrap_or_default();
    messages.sort();
    messages
}

/// The header `name` of a message, unfolded.
fn header(message: &str, name: &str) -> String {
    let head = message.split("\r\n\r\n").next().unwrap_or_default();
    head.replace("\r\n ", " ")
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no {name} in {message}"))
}

/// Whether `password` is the one stored for `email` of the demo account.
async fn works(roster: &Roster, email: &str, password: &str) -> bool {
    password_works(roster, "demo", email, password).await
}

#[tokio::test]
async fn each_user_gets_a_message_in_the_outbox_on_both_databases() {
    for roster in Roster::both("each_user_gets_a_message").await {
        roster.load_demo();
        let out = roster.import_valid_users(&[]);
        assert_eq!(out.code, 0, "{}: {out:?}", roster.db.kind);
        assert!(
            out.stdout
                .contains("passwords: 8 sent (as .eml files in outbox), 0 failed, 0 queued\n"),
            "{}",
            out.stdout
        );
        let messages = outbox(&roster.dir.path().join("outbox"));
        assert_eq!(messages.len(), 8, "{}", roster.db.kind);
        for (name, email) in USERS {
            // The name is in the header too, quoted or (with a comma)
            // encoded as RFC 2047 asks.
            let to = format!("<{email}>");
            let message = messages
                .iter()
                .find(|m| header(m, "To").ends_with(&to))
                .unwrap_or_else(|| panic!("no message to {to}"));
            assert!(message.contains(&format!("Hello {name},\r\n")), "{message}");
            assert_eq!(header(message, "From"), "roster <noreply@localhost>");
            let password = password_in(message).expect("a password");
            assert!(works(&roster, email, &password).await, "{email}");
        }
        let status = json(&roster.run(&["status", &import_id(&out), "--format", "json"]));
        assert_eq!(
            status["deliveries"],
            serde_json::json!({"queued": 0, "sent": 8, "failed": 0})
        );
        roster.db.remove().await;
    }
}

#[tokio::test]
async fn one_address_gets_every_message_each_naming_its_user() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let out = roster.import_valid_users(&[
        "--passwords",
        "to:it@demo.example",
        "--mail-from",
        "Demo PBX <pbx@demo.example>",
        "--sign-in-url",
        "https://pbx.demo.example",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let messages = outbox(&roster.dir.path().join("outbox"));
    assert_eq!(messages.len(), 8);
    for (name, email) in USERS {
        let subject = format!("Temporary password for {name} ({email})");
        let message = messages
            .iter()
            .find(|m| header(m, "Subject") == subject)
            .unwrap_or_else(|| panic!("no message for {email}: {messages:?}"));
        assert_eq!(header(message, "To"), "it@demo.example");
        assert_eq!(header(message, "From"), "\"Demo PBX\" <pbx@demo.example>");
        assert!(message.contains("Sign in at:         https://pbx.demo.example\r\n"));
        let password = password_in(message).expect("a password");
        assert!(works(&roster, email, &password).await, "{email}");
    }
}

#[test]
fn without_delivery_no_message_is_written_and_each_row_says_to_reset() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let out = roster.import_valid_users(&["--passwords", "none"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains(
            "passwords: none sent (--passwords none); the new users cannot sign in until an \
             admin resets their passwords\n"
        ),
        "{}",
        out.stdout
    );
    assert!(!roster.dir.path().join("outbox").exists());
    let results = json(&roster.run(&["results", &import_id(&out), "--format", "json"]));
    let results = results.as_array().expect("an array");
    assert_eq!(results.len(), 8);
    for row in results {
        assert_eq!(
            row["delivery"],
            serde_json::json!({
                "state": "not_sent", "error": null,
                "message": "no password sent (passwords none); reset the user's password to let them sign in"
            })
        );
    }
}

#[test]
fn smtp_with_starttls_and_a_sign_in_delivers_and_no_secret_reaches_output_or_logs() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let mail = tempfile::tempdir().expect("a folder");
    let certificates = Certificates::make(&mail.path().join("certificates"));
    let sink = SmtpSink::start_with(
        SinkMode::Accept,
        mail.path(),
        Security::StartTls,
        Some(&certificates),
        Some(("roster", "smtp-s3cret")),
    );
    let out = roster.run_with_env(
        &[
            "import",
            "--account",
            "demo",
            "--smtp-ca",
            path(&certificates.authority()),
            path(&fixture("valid-users.csv")),
        ],
        &[("ROSTER_SMTP_URL", &sink.url()), ("RUST_LOG", "trace")],
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("passwords: 8 sent (through the SMTP server), 0 failed, 0 queued\n"),
        "{}",
        out.stdout
    );
    // The logs were on, and said something about each message.
    assert!(
        out.stderr.matches("password sent").count() >= 8,
        "{}",
        out.stderr
    );
    let received = sink.received();
    assert_eq!(received.len(), 8);
    assert!(received.iter().all(|r| r.how == "tls=True user=roster"));
    assert!(
        !out.stderr.contains("smtp-s3cret"),
        "the SMTP password in the logs"
    );
    let id = import_id(&out);
    let mut outputs = vec![out];
    for args in [
        ["status", id.as_str(), "--format", "json"],
        ["results", id.as_str(), "--format", "json"],
        ["results", id.as_str(), "--format", "csv"],
    ] {
        outputs.push(roster.run(&args));
    }
    for message in &received {
        let password = password_in(&message.message).expect("a password");
        for output in &outputs {
            assert!(!output.stdout.contains(&password), "{}", output.stdout);
            assert!(!output.stderr.contains(&password), "a password in the logs");
        }
    }
}

#[test]
fn a_permanent_refusal_is_shown_on_the_rows() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let mail = tempfile::tempdir().expect("a folder");
    let sink = SmtpSink::start(SinkMode::RefuseForGood, mail.path());
    let out = roster.import_valid_users(&["--smtp-url", &sink.url()]);
    // Every user was created: the import itself is complete.
    assert_eq!(out.code, 0, "{out:?}");
    let id = import_id(&out);
    assert!(
        out.stdout.contains(&format!(
            "passwords: 0 sent (through the SMTP server), 8 failed, 0 queued\n\
             8 users got no password: `roster results {id}` says why; reset their passwords\n"
        )),
        "{}",
        out.stdout
    );
    let results = roster.run(&["results", &id]);
    let first = results.stdout.lines().nth(1).expect("a row");
    assert_eq!(
        first,
        "2,created,ada@demo.example,7101,'+16175550100,,failed,not delivered (permanent error \
         (550): 5.1.1 mailbox unavailable); reset the user's password to let them sign in"
    );
}

#[test]
fn unusable_mail_settings_stop_the_import_before_anything_is_queued() {
    let roster = Roster::sqlite();
    roster.load_demo();
    // Any file that holds no certificate.
    let not_pem = fixture("valid-users.csv");
    let not_pem = path(&not_pem);
    for (flags, error) in [
        (
            vec!["--smtp-url", "ftp://mail.demo.example"],
            "error: --smtp-url (or ROSTER_SMTP_URL): the SMTP URL is not usable",
        ),
        (
            vec![
                "--smtp-url",
                "smtps://mail.demo.example",
                "--smtp-ca",
                not_pem,
            ],
            "error: --smtp-url (or ROSTER_SMTP_URL) with --smtp-ca: the certificate authority \
             cannot be used: no certificate in it",
        ),
        (
            vec!["--smtp-ca", not_pem],
            "error: the following required arguments were not provided:\n  --smtp-url <SMTP_URL>",
        ),
        (
            vec!["--mail-from", "the help desk"],
            "error: --mail-from: the address 'the help desk' cannot receive mail",
        ),
    ] {
        let out = roster.import_valid_users(&flags);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.starts_with(error), "{}", out.stderr);
    }
    let users = json(&roster.run(&["users", "--account", "demo", "--format", "json"]));
    assert_eq!(
        users.as_array().map(Vec::len),
        Some(2),
        "nothing was imported"
    );
}
