//! The admin page in a real browser: headless Chromium driven through
//! WebDriver (Debian's `chromium` and `chromium-driver`) against `roster
//! serve`. An admin signs in with a token, uploads a file with errors and
//! sees them as a table, uploads a clean file and watches it complete,
//! filters the results and downloads the failed-rows file; applies an
//! update's plan; undoes an import. A screenshot of each page goes to
//! `target/screenshots/`.
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

/// Signs the browser in with `token`, a screenshot of the form first when
/// named.
async fn sign_in(client: &Client, base: &str, token: &str, shot: Option<&str>) {
    client.goto(&format!("{base}/")).await.expect("the page");
    if let Some(name) = shot {
        screenshot(client, name).await;
    }
    client
        .find(Locator::Id("token"))
        .await
        .expect("the token field")
        .send_keys(token)
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
}

/// Waits until the table shows `rows` rows, the first starting with
/// `first`; how long that took.
async fn wait_for_rows(client: &Client, table: &str, rows: usize, first: &str) -> Duration {
    let started = Instant::now();
    loop {
        let shown = shown_rows(client, table).await;
        if shown.len() == rows && shown[0].starts_with(first) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "#{table} never showed {rows} rows from '{first}': {} rows, {:?}",
            shown.len(),
            shown.first()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for a downloaded file and reads it.
async fn downloaded(downloads: &Path, name: &str) -> String {
    let file = downloads.join(name);
    let started = Instant::now();
    loop {
        // Chromium writes into a .crdownload and renames it when done.
        if file.exists() {
            return std::fs::read_to_string(&file).expect("the download");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no {name} in {}",
            downloads.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the table of `id` is drawn (the page marks it busy while a
/// page loads); how long that took.
async fn drawn(client: &Client, id: &str) -> Duration {
    let started = Instant::now();
    loop {
        let busy = client
            .find(Locator::Id(id))
            .await
            .expect("the element")
            .attr("aria-busy")
            .await
            .expect("its attribute");
        if busy.is_none() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "#{id} stays busy"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn choose(client: &Client, select: &str, value: &str) {
    client
        .find(Locator::Id(select))
        .await
        .expect("the filter")
        .select_by_value(value)
        .await
        .expect("choosing");
}

async fn click(client: &Client, id: &str) {
    client
        .find(Locator::Id(id))
        .await
        .expect("the element")
        .click()
        .await
        .expect("clicking");
}

/// Rows of the large browser test: 100,000 unless
/// `ROSTER_TEST_BROWSER_ROWS` says otherwise (the README's figure at a
/// million comes from it).
fn large_rows() -> usize {
    std::env::var("ROSTER_TEST_BROWSER_ROWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000)
}

/// The rows of a table body that are shown, read in one script: a table
/// redrawn meanwhile is read before or after, never half.
async fn shown_rows(client: &Client, table: &str) -> Vec<String> {
    let script = "return [...document.querySelectorAll(`#${arguments[0]} tbody tr`)]\
        .filter((row) => row.offsetParent !== null)\
        .map((row) => [...row.cells].map((c) => c.innerText).join(' '));";
    let rows = client
        .execute(script, vec![serde_json::json!(table)])
        .await
        .expect("the rows");
    rows.as_array()
        .expect("a list")
        .iter()
        .map(|r| r.as_str().expect("text").to_string())
        .collect()
}

/// chromedriver, or `None` (with a notice) when it is missing and
/// `ROSTER_TEST_BROWSER` does not ask for it.
fn driver_or_skip() -> Option<PathBuf> {
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
        return None;
    };
    Some(driver)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_signs_in_sees_errors_imports_and_downloads_failed_rows() {
    let Some(driver) = driver_or_skip() else {
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
    sign_in(&client, &base, &token, Some("1-sign-in")).await;
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
    // The recent list followed the import without a reload.
    let started = Instant::now();
    loop {
        let listed = shown_rows(&client, "imports").await;
        if listed.len() == 1 && listed[0].starts_with("valid-users.csv completed 8 8 0 0 ") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{listed:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let upload_on = client
        .find(Locator::Id("upload-button"))
        .await
        .expect("the button")
        .is_enabled()
        .await
        .expect("its state");
    assert!(upload_on, "nothing is active: upload is on");
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

/// Update mode in the browser: the admin chooses upsert, sees the plan's
/// counts and each row's changes before anything is written, applies it,
/// and sees the rows updated.
#[tokio::test(flavor = "multi_thread")]
async fn an_admin_sees_the_plan_of_an_update_and_applies_it() {
    let Some(driver) = driver_or_skip() else {
        return;
    };
    let roster = Roster::sqlite();
    roster.load_demo();
    let created = roster.import_valid_users(&["--passwords", "none"]);
    assert_eq!(created.code, 0, "{created:?}");
    let token = roster.run(&["token", "create", "--account", "demo"]);
    let token = token.stdout.trim().to_string();
    // Ada and Grace swap extensions, Alan moves to Sales, Lin is new.
    let edited = roster.file(
        "edited.csv",
        b"Display Name (Mandatory),Email Address (Mandatory),Department (Optional),Extension (Optional)\n\
          ,ada@demo.example,,7102\n\
          ,grace@demo.example,,7101\n\
          ,alan@demo.example,Sales,\n\
          ,barbara@demo.example,,\n\
          Lin Chen,lin@demo.example,Research,\n",
    );
    let server = roster.serve(None);
    let downloads = roster.dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("a downloads folder");
    let (_driver, client) = browser(&driver, &downloads).await;
    sign_in(&client, &server.base, &token, None).await;

    choose(&client, "mode", "upsert").await;
    upload(&client, &edited).await;
    let counts = wait_for_text(&client, "plan-counts", "Plan:").await;
    assert_eq!(counts, "Plan: 1 to create, 3 to update, 1 unchanged.");
    wait_for_text(&client, "message", "Nothing is written until you apply").await;
    wait_for_rows(&client, "plan", 5, "2 ada@demo.example").await;
    let shown = shown_rows(&client, "plan").await;
    assert_eq!(
        shown[..3],
        [
            "2 ada@demo.example update Extension (Optional): '7101' → '7102'",
            "3 grace@demo.example update Extension (Optional): '7102' → '7101'",
            "4 alan@demo.example update Department (Optional): 'Research' → 'Sales'",
        ]
    );
    // Nothing was written yet.
    let users = roster.run(&["users", "--account", "demo", "--format", "json"]);
    assert!(
        !users.stdout.contains("lin@demo.example"),
        "{}",
        users.stdout
    );
    screenshot(&client, "5-plan").await;

    click(&client, "apply").await;
    wait_for_text(&client, "message", "is completed").await;
    let progress = wait_for_text(&client, "progress-text", "5 of 5 rows").await;
    assert!(
        progress.starts_with("5 of 5 rows processed: 1 created, 3 updated, 1 unchanged, 0 failed"),
        "{progress}"
    );
    let counts = wait_for_text(&client, "results-counts", "updated").await;
    assert_eq!(
        counts,
        "1 created, 3 updated, 1 unchanged, 0 failed, 0 not processed."
    );
    wait_for_rows(&client, "results", 5, "2 updated").await;
    let shown = shown_rows(&client, "results").await;
    assert!(
        shown[0].starts_with("2 updated ada@demo.example 7102"),
        "{}",
        shown[0]
    );
    screenshot(&client, "6-applied").await;
    client.close().await.expect("closing the browser");
}

/// Undo in the browser (#17): the admin imports three users, clicks Undo,
/// reads in the confirmation what it does in the import's numbers, accepts
/// it, and follows the undo to its end: every row undone, the users gone.
#[tokio::test(flavor = "multi_thread")]
async fn an_admin_undoes_an_import_after_reading_what_it_does() {
    let Some(driver) = driver_or_skip() else {
        return;
    };
    let roster = Roster::sqlite();
    roster.load_demo();
    let before = users_csv(&roster);
    let token = roster.run(&["token", "create", "--account", "demo"]);
    assert_eq!(token.code, 0, "{token:?}");
    let token = token.stdout.trim().to_string();
    let three = roster.file(
        "three.csv",
        b"Display Name (Mandatory),Email Address (Mandatory),Primary Phone Number (Optional),Extension (Optional)\n\
          Ada Lovelace,ada@demo.example,+1 (617) 555-0100,7101\n\
          Grace Hopper,grace@demo.example,,7102\n\
          Alan Turing,alan@demo.example,16175550102,\n",
    );
    let server = roster.serve(None);
    let downloads = roster.dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("a downloads folder");
    let (_driver, client) = browser(&driver, &downloads).await;
    sign_in(&client, &server.base, &token, None).await;

    // The import, and its passwords out: the confirmation's numbers are
    // settled then.
    upload(&client, &three).await;
    let progress = wait_for_text(&client, "progress-text", "3 of 3 rows").await;
    assert!(
        progress.starts_with("3 of 3 rows processed: 3 created, 0 failed"),
        "{progress}"
    );
    wait_for_text(&client, "message", "Passwords: 3 sent, 0 queued, 0 failed").await;
    wait_for_rows(&client, "results", 3, "2 created ada@demo.example 7101").await;
    let imported = users_csv(&roster);
    assert!(imported.contains("ada@demo.example"), "{imported}");
    assert_ne!(imported, before);

    let button = client.find(Locator::Id("undo")).await.expect("the button");
    assert!(button.is_displayed().await.expect("its display"));
    assert_eq!(button.text().await.expect("its label"), "Undo this import");
    screenshot(&client, "9-undo").await;
    button.click().await.expect("clicking Undo");
    let question = client.get_alert_text().await.expect("the confirmation");
    assert_eq!(
        question,
        "Undo import three.csv? 3 users it created will be deleted (their extensions freed and \
         numbers parked again; 0 password messages not sent yet are cancelled, 3 already sent \
         cannot be unsent) and 0 users it updated get their earlier details back. Users \
         changed since the import are left as they are."
    );
    client.accept_alert().await.expect("accepting");

    let undone = wait_for_text(&client, "undo-text", "Undo completed").await;
    assert!(
        undone.starts_with(
            "Undo completed: 3 undone, 0 not undone of 3 rows, 0 password messages cancelled; \
             finished "
        ),
        "{undone}"
    );
    let message = wait_for_text(&client, "message", "its undo is").await;
    assert!(message.ends_with("its undo is completed."), "{message}");
    // The results are read again at the undo's end: each row's outcome in
    // the Undo column.
    let started = Instant::now();
    let outcomes = loop {
        let outcomes = undo_column(&client).await;
        if outcomes.len() == 3 && outcomes.iter().all(|o| !o.is_empty()) {
            break outcomes;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{outcomes:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Each password went out before the undo: its row says so.
    for outcome in &outcomes {
        assert!(
            outcome.starts_with("undone: its welcome message with a temporary password was sent")
                && outcome.contains("cannot be unsent"),
            "{outcomes:?}"
        );
    }
    // A completed undo is final: no button to ask it again; nothing to stop.
    let undo_shown = client
        .find(Locator::Id("undo"))
        .await
        .expect("the button")
        .is_displayed()
        .await
        .expect("its display");
    assert!(!undo_shown, "a completed undo is not asked again");
    let stop_on = client
        .find(Locator::Id("stop"))
        .await
        .expect("the button")
        .is_enabled()
        .await
        .expect("its state");
    assert!(!stop_on, "nothing runs: Stop is off");
    assert_eq!(users_csv(&roster), before, "the users are gone");
    screenshot(&client, "10-undone").await;
    client.close().await.expect("closing the browser");
}

/// A large import in the browser: its first page of results, a filter, the
/// next page and the downloads; then the same file again, refused with an
/// error report of several errors a row, shown a page at a time, filtered
/// by code, and its rows downloaded to fix. The times are printed (the
/// README's figures), not asserted.
#[tokio::test(flavor = "multi_thread")]
async fn a_large_import_and_its_report_are_shown_a_page_at_a_time() {
    let Some(driver) = driver_or_skip() else {
        return;
    };
    let rows = large_rows();
    let roster = Roster::sqlite();
    roster.generate(rows);
    let imported = roster.run(&[
        "import",
        "--account",
        "bench",
        "users.csv",
        "--passwords",
        "none",
    ]);
    assert_eq!(imported.code, 0, "{imported:?}");
    let token = roster.run(&["token", "create", "--account", "bench"]);
    let token = token.stdout.trim().to_string();
    let server = roster.serve(None);
    let base = server.base.clone();
    let downloads = roster.dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("a downloads folder");
    let (_driver, client) = browser(&driver, &downloads).await;
    sign_in(&client, &base, &token, None).await;

    // The import, opened from the list: the counts and a first page.
    let started = Instant::now();
    client
        .find(Locator::Css("#imports button[data-import]"))
        .await
        .expect("the import in the list")
        .click()
        .await
        .expect("opening it");
    wait_for_rows(&client, "results", 100, "2 created ").await;
    let first_page = started.elapsed();
    let counts = wait_for_text(&client, "results-counts", "created").await;
    assert_eq!(
        counts,
        format!("{} created, 0 failed, 0 not processed.", number(rows))
    );
    screenshot(&client, "5-large-results").await;

    // The filter, answered by the server, and the next page.
    let started = Instant::now();
    choose(&client, "results-filter", "status=created").await;
    drawn(&client, "results").await;
    let filtered = started.elapsed();
    wait_for_rows(&client, "results", 100, "2 created ").await;
    click(&client, "results-next").await;
    let next = wait_for_rows(&client, "results", 100, "102 created ").await;
    let page = wait_for_text(&client, "results-page", "Page 2").await;
    assert_eq!(page, "Page 2: rows 102 to 201");
    screenshot(&client, "6-large-results-page-2").await;

    // The downloads are whole.
    click(&client, "results-csv").await;
    let csv = downloaded(&downloads, "results.csv").await;
    assert_eq!(csv.lines().count(), rows + 1);
    click(&client, "failed-rows").await;
    let failed = downloaded(&downloads, "users-failed-rows.csv").await;
    assert_eq!(failed.lines().count(), 1, "every row was created");

    // The same file again: every row's address, extension and numbers are
    // taken now. The report's counts, a page of errors, a filter by code.
    let started = Instant::now();
    upload(&client, &roster.dir.path().join("users.csv")).await;
    let message = wait_for_text(&client, "message", "Nothing was imported").await;
    let checked = started.elapsed();
    // A page holds the errors of 100 rows: three or four each here.
    let report_page = drawn(&client, "errors").await;
    let page = shown_rows(&client, "errors").await;
    assert!(
        page.len() >= 300 && page[0].starts_with("2 Email Address (Mandatory) email_taken"),
        "{} errors, {:?}",
        page.len(),
        page.first()
    );
    let text = wait_for_text(&client, "errors-page", "Page 1").await;
    assert_eq!(text, "Page 1: rows 2 to 101");
    assert!(
        message.contains(&format!(" errors in {} rows (0 valid)", number(rows))),
        "{message}"
    );
    let counts = wait_for_text(&client, "errors-counts", "email_taken").await;
    assert!(
        counts.contains(&format!(
            "email_taken in Email Address (Mandatory): {}",
            number(rows)
        )),
        "{counts}"
    );
    screenshot(&client, "7-large-report").await;
    drawn(&client, "errors").await;
    let started = Instant::now();
    choose(&client, "errors-filter", "email_taken").await;
    drawn(&client, "errors").await;
    let shown = loop {
        let shown = shown_rows(&client, "errors").await;
        if !shown.is_empty() && shown.iter().all(|r| r.contains(" email_taken ")) {
            break shown;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{shown:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let report_filter = started.elapsed();
    assert_eq!(shown.len(), 100);
    assert!(
        shown[0].starts_with("2 Email Address (Mandatory) email_taken"),
        "{}",
        shown[0]
    );
    screenshot(&client, "8-large-report-filtered").await;
    click(&client, "report-rows").await;
    let fix = downloaded(&downloads, "users-errors.csv").await;
    assert_eq!(fix.lines().count(), rows + 1);
    assert!(
        fix.lines()
            .nth(1)
            .is_some_and(|l| l.contains("email_taken in Email Address (Mandatory): "))
    );
    eprintln!(
        "browser figures at {rows} rows: first page of results {first_page:.2?}, filter \
         {filtered:.2?}, next page {next:.2?}; the same file refused in {checked:.2?} \
         (upload and validation), its first page of errors drawn {report_page:.2?} after, \
         filter by code {report_filter:.2?}"
    );
    client.close().await.expect("closing the browser");
}

/// `roster users --account demo --format csv`.
fn users_csv(roster: &Roster) -> String {
    let out = roster.run(&["users", "--account", "demo", "--format", "csv"]);
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout
}

/// The Undo cell of each row of the results shown.
async fn undo_column(client: &Client) -> Vec<String> {
    let script = "return [...document.querySelectorAll('#results tbody tr')]\
        .map((row) => row.cells[row.cells.length - 1].innerText);";
    let cells = client.execute(script, vec![]).await.expect("the cells");
    cells
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| c.as_str().expect("text").to_string())
        .collect()
}

/// `n` as the page writes it: 100,000.
fn number(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
