//! `roster token create` and `roster serve`: a token printed once and kept
//! only as a hash; the server answering with it, logging each request
//! without the token or the session cookie, and ending cleanly on SIGTERM.

use std::io::Read;
use std::process::Command;

use crate::util::Roster;

#[tokio::test]
async fn a_token_opens_the_api_and_no_log_line_carries_it() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let made = roster.run(&["token", "create", "--account", "demo"]);
    assert_eq!(made.code, 0, "{made:?}");
    let token = made.stdout.trim().to_string();
    assert!(token.starts_with("rst_") && token.len() == 68, "{token}");
    assert!(made.stderr.contains("shown this once"), "{}", made.stderr);
    let again = roster.run(&["token", "create", "--account", "demo"]);
    assert_ne!(again.stdout.trim(), token, "each token is new");
    let unknown = roster.run(&["token", "create", "--account", "nobody"]);
    assert_eq!(unknown.code, 2);

    // The database holds hashes, never a token.
    let db = std::fs::read(roster.db.url.trim_start_matches("sqlite://")).expect("the database");
    let wal = std::fs::read(format!(
        "{}-wal",
        roster.db.url.trim_start_matches("sqlite://")
    ))
    .unwrap_or_default();
    let stored = String::from_utf8_lossy(&[db, wal].concat()).into_owned();
    assert!(!stored.contains(&token[4..]), "a token in the database");

    let mut server = roster.serve(Some("info"));
    let base = server.base.clone();

    let client = reqwest::Client::new();
    let listed = client
        .get(format!("{base}/api/imports"))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(listed.status(), 200);
    assert_eq!(listed.text().await.expect("a body"), "[]");
    let page = client
        .get(format!("{base}/"))
        .header("Cookie", format!("roster_session={token}"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(page.status(), 200);

    let term = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(term.success());
    let exit = server.child.wait().expect("the server exits");
    let mut logs = String::new();
    server.stderr.read_to_string(&mut logs).expect("the logs");
    assert_eq!(exit.code(), Some(0), "{logs}");
    assert!(
        logs.contains("path=/api/imports"),
        "requests are logged: {logs}"
    );
    assert!(!logs.contains(&token[4..]), "a token in the logs: {logs}");
    assert!(logs.contains("roster stopped"), "{logs}");
}
