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

/// The server's peak resident memory so far, from `/proc`.
fn high_water_mark(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .expect("VmHWM")
}

/// Sends a form of `length` bytes whose start is `head` (the rest is
/// `filler` repeated) and returns the status the server answers, which it
/// may do long before the body has gone.
fn post_form(address: &str, token: &str, head: &[u8], filler: &[u8], length: u64) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("a connection");
    let request = format!(
        "POST /api/imports HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {length}\r\n\r\n"
    );
    let mut reader = stream.try_clone().expect("a second handle");
    let answer = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buffer = [0u8; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match reader.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buffer[..n]),
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    });
    // The server answers and closes while this still writes: a write then fails.
    let mut sent = head.len() as u64;
    if stream.write_all(request.as_bytes()).is_ok() && stream.write_all(head).is_ok() {
        while sent < length && stream.write_all(filler).is_ok() {
            sent += filler.len() as u64;
        }
    }
    let answer = answer.join().expect("the reader");
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

/// Regression (#13): a 1 GiB option field was read whole before its limit
/// applied (the server's peak memory went up by 2 GiB), and 200,000
/// fields were taken in. Both are refused at their start now, and the
/// server's peak memory hardly moves.
#[tokio::test]
async fn a_gigabyte_field_and_a_hundred_thousand_fields_leave_the_memory_as_it_was() {
    let roster = Roster::sqlite();
    roster.load_demo();
    let token = roster
        .run(&["token", "create", "--account", "demo"])
        .stdout
        .trim()
        .to_string();
    let server = roster.serve(None);
    let address = server.base.trim_start_matches("http://").to_string();
    let pid = server.child.id();
    let before = high_water_mark(pid);

    let field = b"--XyZ\r\nContent-Disposition: form-data; name=\"voice\"\r\n\r\n";
    let gigabyte = 1 << 30;
    let status = post_form(&address, &token, field, &[b'x'; 64 * 1024], gigabyte);
    assert_eq!(status, 400, "a 1 GiB field");
    let empty = b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n\r\n";
    let fields = 100_000;
    let status = post_form(&address, &token, b"", empty, fields * empty.len() as u64);
    assert_eq!(status, 400, "100,000 fields");

    let grown = high_water_mark(pid).saturating_sub(before);
    assert!(
        grown < 32 << 20,
        "the server's peak memory grew by {} MiB",
        grown >> 20
    );
}
