//! The admin page in a real browser: headless Chromium driven through
//! WebDriver (Debian's `chromium` and `chromium-driver`) against `roster
//! serve`. An admin signs in with a token, uploads a file with errors and
//! sees them as a table, uploads a clean file and watches it complete,
//! filters the results and downloads the failed-rows file. A screenshot of
//! each page goes to `target/screenshots/`.
//!
//! Without `chromedriver` on the path the test prints a notice and stops,
//! unless `ROSTER_TEST_BROWSER` is set (`.ci/run` sets it and installs the
//! packages): then a missing browser is a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

use crate::util::{Roster, fixture, path, root};

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// chromedriver on a free port, and a headless Chromium session through it
/// that downloads into `downloads`.
async fn browser(driver: &Path, downloads: &Path) -> (Running, Client) {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Running(child);
    let profile = downloads.join("profile");
    let capabilities = serde_json::json!({
        "goog:chromeOptions": {
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--no-first-run", "--disable-component-update",
                "--window-size=1280,1600",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "download.default_directory": downloads.display().to_string(),
                "download.prompt_for_download": false,
            },
        }
    });
    let capabilities = match capabilities {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("an object literal"),
    };
    let started = Instant::now();
    loop {
        let connected = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        match connected {
            Ok(client) => return (driver, client),
            Err(e) if started.elapsed() < Duration::from_secs(20) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no WebDriver session: {e}"),
        }
    }
}

fn chromedriver() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromedriver"))
            .find(|candidate| candidate.is_file())
    })
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    let dir = root().join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshots folder");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("writing a screenshot");
}

/// Waits until the element's text contains `text`; returns the text.
async fn wait_for_text(client: &Client, id: &str, text: &str) -> String {
    let started = Instant::now();
    loop {
        let now = client
            .find(Locator::Id(id))
            .await
            .expect("the element")
            .text()
            .await
            .expect("its text");
        if now.contains(text) {
            return now;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "#{id} never said '{text}': {now}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn upload(client: &Client, file: &Path) {
    // WebDriver wants a canonical path.
    let file = file.canonicalize().expect("the fixture");
    client
        .find(Locator::Id("file"))
        .await
        .expect("the file field")
        .send_keys(path(&file))
        .await
        .expect("choosing the file");
    client
        .find(Locator::Id("upload-button"))
        .await
        .expect("the button")
        .click()
        .await
        .expect("uploading");
}

/// The rows of a table body that are shown.
async fn shown_rows(client: &Client, table: &str) -> Vec<String> {
    let mut rows = Vec::new();
    for row in client
        .find_all(Locator::Css(&format!("#{table} tbody tr")))
        .await
        .expect("the rows")
    {
        if row.is_displayed().await.expect("visibility") {
            rows.push(row.text().await.expect("a row's text"));
        }
    }
    rows
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_signs_in_sees_errors_imports_and_downloads_failed_rows() {
    let Some(driver) = chromedriver() else {
        assert!(
            std::env::var_os("ROSTER_TEST_BROWSER").is_none(),
            "ROSTER_TEST_BROWSER is set but chromedriver is not on the path"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "notice: browser test skipped: no chromedriver on the path (apt-get install chromium chromium-driver)"
        );
        return;
    };
    let roster = Roster::sqlite();
    roster.load_demo();
    let token = roster.run(&["token", "create", "--account", "demo"]);
    assert_eq!(token.code, 0, "{token:?}");
    let token = token.stdout.trim().to_string();
    let server = roster.serve(None);
    let base = server.base.clone();
    let downloads = roster.dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("a downloads folder");
    let (_driver, client) = browser(&driver, &downloads).await;

    // Sign in.
    client.goto(&format!("{base}/")).await.expect("the page");
    screenshot(&client, "1-sign-in").await;
    client
        .find(Locator::Id("token"))
        .await
        .expect("the token field")
        .send_keys(&token)
        .await
        .expect("typing the token");
    client
        .find(Locator::Css("button[type=submit]"))
        .await
        .expect("the button")
        .click()
        .await
        .expect("signing in");
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Id("upload"))
        .await
        .expect("the page after signing in");
    let title = client.title().await.expect("a title");
    assert_eq!(title, "Import users · Demo Corp · roster");

    // A file with errors: the table by row and column, nothing imported.
    upload(&client, &fixture("every-error.csv")).await;
    let message = wait_for_text(&client, "message", "Nothing was imported").await;
    assert!(
        message.starts_with("19 errors in 23 rows (4 valid)"),
        "{message}"
    );
    let errors = shown_rows(&client, "errors").await;
    assert_eq!(errors.len(), 19);
    assert!(
        errors[4].starts_with(
            "6 Email Address (Mandatory) invalid_email 'bad.email.demo.example' has no '@'"
        ),
        "{}",
        errors[4]
    );
    screenshot(&client, "2-errors").await;

    // A clean file: progress to the end, then the results.
    upload(&client, &fixture("valid-users.csv")).await;
    wait_for_text(&client, "message", "is completed").await;
    let progress = wait_for_text(&client, "progress-text", "8 of 8 rows").await;
    assert!(
        progress.starts_with("8 of 8 rows processed: 8 created, 0 failed"),
        "{progress}"
    );
    // The results load after the state says completed.
    let started = Instant::now();
    let results = loop {
        let rows = shown_rows(&client, "results").await;
        if !rows.is_empty() || started.elapsed() > Duration::from_secs(20) {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(results.len(), 8);
    assert!(
        results[0].starts_with("2 created ada@demo.example 7101 +16175550100"),
        "{}",
        results[0]
    );
    let counts = wait_for_text(&client, "results-counts", "created").await;
    assert_eq!(counts, "8 created, 0 failed, 0 not processed.");
    screenshot(&client, "3-results").await;

    // The failed-rows file downloads (every row was created: its header).
    client
        .find(Locator::Id("failed-rows"))
        .await
        .expect("the link")
        .click()
        .await
        .expect("downloading");
    let file = downloads.join("valid-users-failed-rows.csv");
    let started = Instant::now();
    while !file.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no download in {}: {:?}",
            downloads.display(),
            std::fs::read_dir(&downloads).map(|d| d.count())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let downloaded = std::fs::read_to_string(&file).expect("the download");
    assert!(
        downloaded.starts_with("Display Name (Mandatory),Email Address (Mandatory),"),
        "{downloaded}"
    );
    assert!(downloaded.trim_end().ends_with(",Errors"), "{downloaded}");

    // The page lists the import, and signing out ends the session.
    client
        .goto(&format!("{base}/"))
        .await
        .expect("the page again");
    let listed = shown_rows(&client, "imports").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    screenshot(&client, "4-page").await;
    client.close().await.expect("closing the browser");
}
