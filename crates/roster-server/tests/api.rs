//! The API over real HTTP on loopback: every route, its status codes, and
//! the rule that an account sees only its own imports. Each test starts the
//! server on port 0 with a database of its own (SQLite, and PostgreSQL when
//! `ROSTER_TEST_POSTGRES_URL` is set), and a worker beside it when imports
//! should run.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_DISPOSITION, CONTENT_TYPE, COOKIE, LOCATION};
use reqwest::multipart::{Form, Part};
use roster_jobs::{WorkerConfig, run_worker};
use roster_server::{ServerConfig, app};
use roster_store::testing::{self, ScratchDatabase};
use roster_store::{AccountSlug, AccountSpec, Store};
use roster_validate::{E164, ExtensionPolicy, Limits, Role};
use serde_json::{Value, json};

const HEADER: &str = "Display Name (Mandatory),Email Address (Mandatory),Primary Phone Number (Optional),Extension (Optional)\n";

/// Three clean rows for the account `acme`.
fn clean() -> String {
    format!(
        "{HEADER}Ada Lovelace,ada@acme.example,+1 617 200 0000,\n\
         Grace Hopper,grace@acme.example,,7300\n\
         Alan Turing,alan@acme.example,,\n"
    )
}

/// Rows with errors: a bad email, a number the account does not own.
fn with_errors() -> String {
    format!("{HEADER}Ada,not-an-email,,\nGrace,grace@acme.example,+1 212 555 0100,\n")
}

/// The test accounts: ten parked numbers, no users.
fn account_spec(slug: &str) -> AccountSpec {
    AccountSpec {
        slug: AccountSlug::parse(slug).expect("valid"),
        name: format!("{slug} Corp"),
        locations: Vec::new(),
        parked_numbers: (0..10)
            .map(|i| E164::parse(&format!("1617200000{i}")).expect("valid"))
            .collect(),
        users: Vec::new(),
        extensions: ExtensionPolicy::DEFAULT,
        extension_first: 7000,
        default_role: Role::User,
    }
}

/// A server on loopback and what a test needs around it.
struct TestApp {
    base: String,
    client: reqwest::Client,
    store: Store,
    db: Option<ScratchDatabase>,
    /// The worker's stop signal, when it has one.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    acme: String,
    other: String,
}

impl TestApp {
    /// Starts the server, with a worker when `worker`.
    async fn start(db: ScratchDatabase, config: ServerConfig, worker: bool) -> TestApp {
        let store = Store::open(&db.url)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", db.kind));
        let mut tokens = Vec::new();
        for slug in ["acme", "other"] {
            let spec = account_spec(slug);
            store.load_account(&spec).await.expect("an account");
            let account = store.existing_account(&spec.slug).await.expect("it");
            let token = roster_server::token::create(&store, &account)
                .await
                .expect("a token");
            tokens.push(token.expose().to_string());
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let router = app(store.clone(), config);
        tokio::spawn(async move { axum::serve(listener, router).await });
        let stop = if worker {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            tokio::spawn(run_worker(
                store.clone(),
                "test-api",
                WorkerConfig::default(),
                async {
                    let _ = stopped.await;
                },
            ));
            Some(stop)
        } else {
            None
        };
        let other = tokens.pop().expect("two tokens");
        let acme = tokens.pop().expect("two tokens");
        TestApp {
            base,
            client: reqwest::Client::new(),
            store,
            db: Some(db),
            stop,
            acme,
            other,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn get(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.client
            .get(self.url(path))
            .header(AUTHORIZATION, format!("Bearer {token}"))
    }

    fn post(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.client
            .post(self.url(path))
            .header(AUTHORIZATION, format!("Bearer {token}"))
    }

    /// Uploads `csv` as a form, named `name`, with option fields.
    async fn upload(
        &self,
        token: &str,
        name: &str,
        csv: &str,
        fields: &[(&str, &str)],
    ) -> Response {
        let mut form = Form::new().part(
            "file",
            Part::bytes(csv.as_bytes().to_vec())
                .file_name(name.to_string())
                .mime_str("text/csv")
                .expect("a type"),
        );
        for (key, value) in fields {
            form = form.text(key.to_string(), value.to_string());
        }
        Response::of(self.post("/api/imports", token).multipart(form)).await
    }

    /// Polls the import until it leaves the active states.
    async fn finished(&self, id: &str) -> Value {
        let started = Instant::now();
        loop {
            let status = Response::of(self.get(&format!("/api/imports/{id}"), &self.acme))
                .await
                .json();
            if !["queued", "running", "stopping"].contains(&status["state"].as_str().unwrap_or(""))
            {
                return status;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn end(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.store.close().await;
        if let Some(db) = self.db.take() {
            db.remove().await;
        }
    }
}

/// A response read whole.
struct Response {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Response {
    async fn of(request: reqwest::RequestBuilder) -> Response {
        let response = request.send().await.expect("the server answers");
        Response {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.expect("a body"),
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn header(&self, name: reqwest::header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.headers))
    }
}

#[tokio::test]
async fn a_clean_upload_is_queued_runs_and_every_read_route_answers_on_both_databases() {
    for db in testing::both("a_clean_upload_is_queued").await {
        let kind = db.kind;
        let app = TestApp::start(db, ServerConfig::default(), true).await;
        let out = app
            .upload(
                &app.acme,
                "../HR list; final.csv",
                &clean(),
                &[("passwords", "none")],
            )
            .await;
        assert_eq!(out.status, StatusCode::ACCEPTED, "{kind}: {}", out.body);
        let queued = out.json();
        let id = queued["id"].as_str().expect("an id").to_string();
        assert_eq!(out.header(LOCATION), format!("/api/imports/{id}"));
        assert_eq!(
            (&queued["state"], &queued["total"], &queued["passwords"]),
            (&json!("queued"), &json!(3), &json!("none"))
        );

        let done = app.finished(&id).await;
        assert_eq!(
            (&done["state"], &done["created"], &done["failed"]),
            (&json!("completed"), &json!(3), &json!(0)),
            "{kind}"
        );
        let listed = Response::of(app.get("/api/imports", &app.acme)).await;
        assert_eq!(listed.status, StatusCode::OK);
        assert_eq!(listed.json()[0]["id"], json!(id));

        let results = Response::of(app.get(&format!("/api/imports/{id}/results"), &app.acme)).await;
        assert_eq!(results.status, StatusCode::OK);
        assert_eq!(results.header(CONTENT_TYPE), "application/json");
        let rows = results.json();
        assert_eq!(rows.as_array().map(Vec::len), Some(3));
        assert_eq!(
            rows[0],
            json!({"row": 2, "status": "created", "email": "ada@acme.example", "extension": "7000",
                   "numbers": ["+16172000000"], "errors": [],
                   "delivery": {"state": "not_sent", "error": null,
                                "message": "no password sent (passwords none); reset the user's password to let them sign in"}})
        );
        let json_again =
            Response::of(app.get(&format!("/api/imports/{id}/results.json"), &app.acme)).await;
        assert_eq!(json_again.json(), rows);

        let by_accept = Response::of(
            app.get(&format!("/api/imports/{id}/results"), &app.acme)
                .header(ACCEPT, "text/csv"),
        )
        .await;
        let by_name =
            Response::of(app.get(&format!("/api/imports/{id}/results.csv"), &app.acme)).await;
        assert_eq!(by_accept.header(CONTENT_TYPE), "text/csv; charset=utf-8");
        assert_eq!(by_accept.body, by_name.body);
        let lines: Vec<&str> = by_name.body.lines().collect();
        assert_eq!(
            lines[0],
            "row,status,email,extension,numbers,errors,delivery,delivery_message"
        );
        assert_eq!(lines.len(), 4);

        let failed =
            Response::of(app.get(&format!("/api/imports/{id}/failed-rows.csv"), &app.acme)).await;
        assert_eq!(failed.status, StatusCode::OK);
        // The uploaded name reaches the download's name only in safe letters.
        assert_eq!(
            failed.header(CONTENT_DISPOSITION),
            "attachment; filename=\"HR_list__final-failed-rows.csv\""
        );
        assert_eq!(
            failed.body,
            "Display Name (Mandatory),Email Address (Mandatory),Primary Phone Number (Optional),\
             Extension (Optional),Errors\r\n"
        );

        let stop = Response::of(app.post(&format!("/api/imports/{id}/stop"), &app.acme)).await;
        assert_eq!(stop.status, StatusCode::OK);
        assert_eq!(stop.json()["outcome"], json!("already_finished"));
        app.end().await;
    }
}

#[tokio::test]
async fn a_file_with_errors_is_422_with_the_report_and_nothing_is_written() {
    let app = TestApp::start(testing::sqlite(), ServerConfig::default(), false).await;
    let out = app
        .upload(&app.acme, "users.csv", &with_errors(), &[])
        .await;
    assert_eq!(out.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", out.body);
    let report = out.json();
    assert_eq!(
        (&report["rows"], &report["valid_rows"]),
        (&json!(2), &json!(0))
    );
    let codes: Vec<&str> = report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["code"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(codes, ["invalid_email", "number_not_parked"]);
    assert_eq!(report["errors"][0]["row"], json!(2));
    assert_eq!(
        report["errors"][0]["column"],
        json!("Email Address (Mandatory)")
    );
    let listed = Response::of(app.get("/api/imports", &app.acme)).await;
    assert_eq!(listed.json(), json!([]));
    app.end().await;
}

#[tokio::test]
async fn a_csv_body_takes_its_options_from_the_query() {
    let app = TestApp::start(testing::sqlite(), ServerConfig::default(), false).await;
    let out = Response::of(
        app.post(
            "/api/imports?voice=false&passwords=to:it@acme.example",
            &app.acme,
        )
        .header(CONTENT_TYPE, "text/csv")
        .body(clean()),
    )
    .await;
    assert_eq!(out.status, StatusCode::ACCEPTED, "{}", out.body);
    assert_eq!(out.json()["passwords"], json!("to:it@acme.example"));
    let bad = Response::of(
        app.post("/api/imports?passwords=to:nobody", &app.acme)
            .header(CONTENT_TYPE, "text/csv")
            .body(clean()),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["code"], json!("invalid_option"));
    app.end().await;
}

#[tokio::test]
async fn a_second_import_is_409_naming_the_active_one_and_stop_ends_it() {
    // No worker: the first import stays queued.
    let app = TestApp::start(testing::sqlite(), ServerConfig::default(), false).await;
    let first = app.upload(&app.acme, "a.csv", &clean(), &[]).await.json();
    let id = first["id"].as_str().expect("an id").to_string();
    let second = app.upload(&app.acme, "b.csv", &clean(), &[]).await;
    assert_eq!(second.status, StatusCode::CONFLICT);
    let body = second.json();
    assert_eq!(
        (&body["code"], &body["import"]),
        (&json!("import_active"), &json!(id))
    );
    assert!(
        body["message"].as_str().unwrap_or("").contains(&id),
        "{body}"
    );
    // Another account is not held up by it.
    let theirs = app
        .upload(&app.other, "c.csv", &clean().replace("acme", "other"), &[])
        .await;
    assert_eq!(theirs.status, StatusCode::ACCEPTED, "{}", theirs.body);

    let stop = Response::of(app.post(&format!("/api/imports/{id}/stop"), &app.acme)).await;
    let stop = stop.json();
    assert_eq!(
        (
            &stop["outcome"],
            &stop["import"]["state"],
            &stop["import"]["not_processed"]
        ),
        (&json!("stopped"), &json!("stopped"), &json!(3))
    );
    let again = app.upload(&app.acme, "b.csv", &clean(), &[]).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    app.end().await;
}

#[tokio::test]
async fn an_upload_over_the_limit_is_413() {
    let config = ServerConfig {
        limits: Limits {
            max_bytes: 10_000,
            ..Limits::DEFAULT
        },
        ..ServerConfig::default()
    };
    let app = TestApp::start(testing::sqlite(), config, false).await;
    let big = format!("{HEADER}{}", "Jane,jane@acme.example,,\n".repeat(2_000));
    for out in [
        app.upload(&app.acme, "big.csv", &big, &[]).await,
        Response::of(
            app.post("/api/imports", &app.acme)
                .header(CONTENT_TYPE, "text/csv")
                .body(big.clone()),
        )
        .await,
    ] {
        assert_eq!(out.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", out.body);
        assert_eq!(
            out.json(),
            json!({"code": "file_too_large", "message": "the file is larger than the limit of 10000 bytes"})
        );
    }
    // A slow endless upload is refused while it streams: long before its
    // sender would have finished (a thousand chunks, 5 ms apart).
    let chunk = "Jane,jane@acme.example,,\n".repeat(40);
    let chunks = (0..1000).map(move |_| chunk.clone());
    let slow = futures_util::stream::iter(chunks).then(|chunk| async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Ok::<_, std::io::Error>(chunk)
    });
    let started = Instant::now();
    let refused = app
        .post("/api/imports", &app.acme)
        .header(CONTENT_TYPE, "text/csv")
        .body(reqwest::Body::wrap_stream(slow))
        .send()
        .await
        .expect("an answer before the upload ends");
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "refused after {:?}",
        started.elapsed()
    );
    let small = app.upload(&app.acme, "small.csv", &clean(), &[]).await;
    assert_eq!(small.status, StatusCode::ACCEPTED, "{}", small.body);
    app.end().await;
}

#[tokio::test]
async fn without_a_valid_token_every_route_is_401() {
    let app = TestApp::start(testing::sqlite(), ServerConfig::default(), false).await;
    let id = "6a8420ef-90e5-4f53-a1e6-cad0b2df5e85";
    let well_formed_unknown = format!("rst_{}", "0".repeat(64));
    let routes = [
        ("GET", "/api/imports".to_string()),
        ("POST", "/api/imports".to_string()),
        ("GET", format!("/api/imports/{id}")),
        ("GET", format!("/api/imports/{id}/results")),
        ("GET", format!("/api/imports/{id}/results.json")),
        ("GET", format!("/api/imports/{id}/results.csv")),
        ("GET", format!("/api/imports/{id}/failed-rows.csv")),
        ("POST", format!("/api/imports/{id}/stop")),
    ];
    for (method, path) in &routes {
        for token in [None, Some("nonsense"), Some(well_formed_unknown.as_str())] {
            let mut request = match *method {
                "GET" => app.client.get(app.url(path)),
                _ => app.client.post(app.url(path)),
            };
            if let Some(token) = token {
                request = request.header(AUTHORIZATION, format!("Bearer {token}"));
            }
            let out = Response::of(request).await;
            assert_eq!(
                out.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {token:?}"
            );
            assert_eq!(out.json()["code"], json!("unauthorized"));
        }
    }
    app.end().await;
}

#[tokio::test]
async fn another_accounts_import_is_not_found_on_every_route_on_both_databases() {
    for db in testing::both("another_accounts_import").await {
        let app = TestApp::start(db, ServerConfig::default(), false).await;
        let mine = app.upload(&app.acme, "a.csv", &clean(), &[]).await.json();
        let id = mine["id"].as_str().expect("an id").to_string();
        for path in [
            format!("/api/imports/{id}"),
            format!("/api/imports/{id}/results"),
            format!("/api/imports/{id}/results.json"),
            format!("/api/imports/{id}/results.csv"),
            format!("/api/imports/{id}/failed-rows.csv"),
            "/api/imports/not-an-id".to_string(),
        ] {
            let out = Response::of(app.get(&path, &app.other)).await;
            assert_eq!(out.status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(out.json()["code"], json!("not_found"));
            let own = Response::of(app.get(&path, &app.acme)).await;
            let expected = if path.ends_with("not-an-id") {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            };
            assert_eq!(own.status, expected, "{path}: {}", own.body);
        }
        let stop = Response::of(app.post(&format!("/api/imports/{id}/stop"), &app.other)).await;
        assert_eq!(stop.status, StatusCode::NOT_FOUND);
        let status = Response::of(app.get(&format!("/api/imports/{id}"), &app.acme)).await;
        assert_eq!(
            status.json()["state"],
            json!("queued"),
            "their stop did nothing"
        );
        let theirs = Response::of(app.get("/api/imports", &app.other)).await;
        assert_eq!(theirs.json(), json!([]));
        app.end().await;
    }
}

#[tokio::test]
async fn the_page_signs_in_with_a_token_and_guards_changes_with_csrf() {
    let app = TestApp::start(testing::sqlite(), ServerConfig::default(), false).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let signed_out = Response::of(client.get(app.url("/"))).await;
    assert!(
        signed_out
            .body
            .contains("<label for=\"token\">API token</label>")
    );

    let wrong = Response::of(
        client
            .post(app.url("/sign-in"))
            .form(&[("token", "rst_wrong")]),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("That token opens no account"));

    let signed_in = Response::of(
        client
            .post(app.url("/sign-in"))
            .form(&[("token", app.acme.as_str())]),
    )
    .await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_in.header(LOCATION), "/");
    let cookie = signed_in.header(reqwest::header::SET_COOKIE).to_string();
    assert_eq!(
        cookie,
        format!(
            "roster_session={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200",
            app.acme
        )
    );
    let session = format!("roster_session={}", app.acme);

    let page = Response::of(client.get(app.url("/")).header(COOKIE, &session)).await;
    assert!(
        page.body.contains("account <strong>acme Corp</strong>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<main data-active=\"\">"),
        "nothing active yet"
    );
    let csrf = page
        .body
        .split("<meta name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF token")
        .to_string();
    assert_eq!(csrf.len(), 64);

    // Reading needs only the cookie; changing needs the CSRF token too.
    let list = Response::of(client.get(app.url("/api/imports")).header(COOKIE, &session)).await;
    assert_eq!(list.status, StatusCode::OK);
    let form = || {
        Form::new().part(
            "file",
            Part::bytes(clean().into_bytes())
                .file_name("a.csv")
                .mime_str("text/csv")
                .expect("a type"),
        )
    };
    let forged = Response::of(
        client
            .post(app.url("/api/imports"))
            .header(COOKIE, &session)
            .multipart(form()),
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(forged.json()["code"], json!("forbidden"));
    let real = Response::of(
        client
            .post(app.url("/api/imports"))
            .header(COOKIE, &session)
            .header("X-CSRF-Token", &csrf)
            .multipart(form()),
    )
    .await;
    assert_eq!(real.status, StatusCode::ACCEPTED, "{}", real.body);
    // Opened again, the page follows the queued import from the start.
    let active = real.json()["id"].as_str().expect("an id").to_string();
    let page = Response::of(client.get(app.url("/")).header(COOKIE, &session)).await;
    assert!(
        page.body
            .contains(&format!("<main data-active=\"{active}\">")),
        "{}",
        page.body
    );

    let forged_out = Response::of(
        client
            .post(app.url("/sign-out"))
            .header(COOKIE, &session)
            .form(&[("csrf", "0")]),
    )
    .await;
    assert_eq!(forged_out.status, StatusCode::FORBIDDEN);
    let out = Response::of(
        client
            .post(app.url("/sign-out"))
            .header(COOKIE, &session)
            .form(&[("csrf", csrf.as_str())]),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(
        out.header(reqwest::header::SET_COOKIE)
            .starts_with("roster_session=; "),
        "the cookie is cleared"
    );
    app.end().await;
}

#[tokio::test]
async fn the_template_and_the_openapi_document_are_served() {
    let app = TestApp::start(testing::sqlite(), ServerConfig::default(), false).await;
    let template = Response::of(app.client.get(app.url("/template.csv"))).await;
    assert_eq!(template.status, StatusCode::OK);
    assert_eq!(template.body, roster_template::TEMPLATE_FILE);
    assert_eq!(template.header(CONTENT_TYPE), "text/csv; charset=utf-8");

    let document = Response::of(app.client.get(app.url("/api/openapi.json")))
        .await
        .json();
    let mut routes: Vec<String> = document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("methods")
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    routes.sort();
    assert_eq!(
        routes,
        [
            "GET /api/imports",
            "GET /api/imports/{id}",
            "GET /api/imports/{id}/failed-rows.csv",
            "GET /api/imports/{id}/results",
            "GET /api/imports/{id}/results.csv",
            "GET /api/imports/{id}/results.json",
            "GET /api/imports/{id}/summary",
            "GET /api/reports/{id}",
            "GET /api/reports/{id}/actions",
            "GET /api/reports/{id}/errors",
            "GET /api/reports/{id}/rows.csv",
            "POST /api/imports",
            "POST /api/imports/{id}/stop",
            "POST /api/imports/{id}/undo",
        ]
    );
    assert_eq!(
        document["components"]["securitySchemes"]["token"]["scheme"],
        json!("bearer")
    );
    // Every route the document lists answers (401 without a token, not 404).
    for route in &routes {
        let (method, path) = route.split_once(' ').expect("method and path");
        let path = path.replace("{id}", "6a8420ef-90e5-4f53-a1e6-cad0b2df5e85");
        let request = if method == "GET" {
            app.client.get(app.url(&path))
        } else {
            app.client.post(app.url(&path))
        };
        assert_eq!(
            Response::of(request).await.status,
            StatusCode::UNAUTHORIZED,
            "{route}"
        );
    }
    app.end().await;
}

/// A form body written by hand, for shapes a form library would not make.
fn raw_form(parts: &[(&str, &str)]) -> String {
    let mut body = String::new();
    for (name, value) in parts {
        body.push_str(&format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str("--XyZ--\r\n");
    body
}

/// Regression (#13): one tenant could swell the server or take the
/// others' turn with the shape of its upload: a chunk of one row each, an
/// option field of a gigabyte read whole, a hundred thousand fields, an
/// upload read in full only to be told another import is active.
#[tokio::test]
async fn an_upload_is_refused_for_its_shape_before_it_is_read_whole() {
    let config = ServerConfig {
        limits: Limits {
            max_bytes: 100_000,
            ..Limits::DEFAULT
        },
        ..ServerConfig::default()
    };
    let app = TestApp::start(testing::sqlite(), config, false).await;
    let form = |body: String| {
        app.post("/api/imports", &app.acme)
            .header(CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
            .body(body)
    };
    let refused = |out: &Response, status: StatusCode, code: &str, message: &str| {
        assert_eq!(out.status, status, "{}", out.body);
        assert_eq!(out.json()["code"], json!(code), "{}", out.body);
        let said = out.json()["message"].as_str().unwrap_or("").to_string();
        assert!(said.contains(message), "{said}");
    };

    // A chunk must be worth a job.
    for chunk_rows in ["1", "999", "1000001"] {
        let out = app
            .upload(&app.acme, "a.csv", &clean(), &[("chunk_rows", chunk_rows)])
            .await;
        refused(
            &out,
            StatusCode::BAD_REQUEST,
            "invalid_option",
            "from 1000 to 1000000",
        );
    }
    // An option field is refused at its limit, not read whole.
    let long = raw_form(&[("voice", &"x".repeat(5_000)), ("file", "")]);
    refused(
        &Response::of(form(long)).await,
        StatusCode::BAD_REQUEST,
        "bad_upload",
        "longer than 1024 bytes",
    );
    // More fields than a form has.
    let fields: Vec<(String, String)> =
        (0..100).map(|i| (format!("f{i}"), String::new())).collect();
    let many: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    refused(
        &Response::of(form(raw_form(&many))).await,
        StatusCode::BAD_REQUEST,
        "bad_upload",
        "more than 16 fields",
    );
    // Headers that never end.
    let endless = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"{}\"",
        "n".repeat(50_000)
    );
    refused(
        &Response::of(form(endless)).await,
        StatusCode::BAD_REQUEST,
        "bad_upload",
        "headers are longer than 4096 bytes",
    );
    // The whole form counts toward the limit, not only its file.
    let rows = "Jane,jane@acme.example,,\n".repeat((99_900 - HEADER.len()) / 25);
    let file = format!("{HEADER}{rows}");
    assert!(file.len() < 100_000);
    let padded = raw_form(&[("passwords", "none"), ("voice", "true"), ("file", &file)]);
    refused(
        &Response::of(form(padded)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
        "100000 bytes",
    );

    // With an import active, an endless upload is answered at once.
    let queued = app
        .upload(&app.acme, "a.csv", &clean(), &[("chunk_rows", "1000")])
        .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    let endless = futures_util::stream::repeat_with(|| {
        Ok::<_, std::io::Error>("Jane,jane@acme.example,,\n".repeat(100))
    })
    .then(|chunk| async move {
        tokio::time::sleep(Duration::from_millis(10)).await;
        chunk
    });
    let started = Instant::now();
    let busy = app
        .post("/api/imports", &app.acme)
        .header(CONTENT_TYPE, "text/csv")
        .body(reqwest::Body::wrap_stream(endless))
        .send()
        .await
        .expect("an answer while the upload goes on");
    assert_eq!(busy.status(), StatusCode::CONFLICT);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "after {:?}",
        started.elapsed()
    );
    app.end().await;
}

/// `rows` clean rows for `acme`, without numbers or extensions.
fn many(rows: usize) -> String {
    let mut csv = HEADER.to_string();
    for i in 0..rows {
        csv.push_str(&format!("Person {i},person{i}@acme.example,,\n"));
    }
    csv
}

/// Every page of `path` (a results or errors route with its filters),
/// `limit` at a time, following the `Link` header; the items in order.
async fn every_page(app: &TestApp, path: &str, limit: u32) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut next = Some(format!("{path}{sep}limit={limit}"));
    let mut items = Vec::new();
    let mut pages = 0;
    while let Some(url) = next.take() {
        let page = Response::of(app.get(&url, &app.acme)).await;
        assert_eq!(page.status, StatusCode::OK, "{url}: {}", page.body);
        let got = page.json().as_array().cloned().expect("a list");
        let mut rows: Vec<&Value> = got.iter().map(|item| &item["row"]).collect();
        rows.dedup();
        assert!(rows.len() <= limit as usize, "{url}");
        next = page.headers.get(reqwest::header::LINK).map(|link| {
            let link = link.to_str().expect("text");
            assert!(link.ends_with(">; rel=\"next\""), "{link}");
            link.trim_start_matches('<')
                .trim_end_matches(">; rel=\"next\"")
                .to_string()
        });
        if next.is_some() {
            assert_eq!(
                rows.len(),
                limit as usize,
                "{url}: a Link after a short page"
            );
        }
        items.extend(got);
        pages += 1;
        assert!(pages < 10_000, "{path}: no end");
    }
    items
}

#[tokio::test]
async fn results_page_through_every_filter_and_match_the_whole_on_both_databases() {
    for db in testing::both("results_page_through").await {
        let kind = db.kind;
        let app = TestApp::start(db, ServerConfig::default(), false).await;
        // 2,500 rows in three chunks; every 7th email taken after the
        // upload, so that those rows fail when the import runs.
        let out = app
            .upload(
                &app.acme,
                "many.csv",
                &many(2_500),
                &[("passwords", "none"), ("chunk_rows", "1000")],
            )
            .await;
        assert_eq!(out.status, StatusCode::ACCEPTED, "{kind}: {}", out.body);
        let id = out.json()["id"].as_str().expect("an id").to_string();
        let mut spec = account_spec("acme");
        for i in (0..2_500).step_by(7) {
            spec.users.push(roster_store::UserSpec {
                display_name: format!("Earlier {i}"),
                email: roster_validate::Email::parse(&format!("person{i}@acme.example"))
                    .expect("valid"),
                extension: None,
                numbers: Vec::new(),
                location: None,
                role: None,
            });
        }
        app.store.load_account(&spec).await.expect("the users");
        run_worker_until_done(&app, &id).await;

        let whole = Response::of(app.get(&format!("/api/imports/{id}/results.json"), &app.acme))
            .await
            .json();
        let whole = whole.as_array().cloned().expect("a list");
        assert_eq!(whole.len(), 2_500, "{kind}");
        let failed: Vec<Value> = whole
            .iter()
            .filter(|r| r["status"] == "failed")
            .cloned()
            .collect();
        assert_eq!(failed.len(), 358, "{kind}");
        assert!(
            failed
                .iter()
                .all(|r| r["errors"][0]["code"] == "email_taken")
        );

        let base = format!("/api/imports/{id}/results");
        assert_eq!(every_page(&app, &base, 97).await, whole, "{kind}");
        assert_eq!(
            every_page(&app, &format!("{base}?status=failed"), 50).await,
            failed
        );
        assert_eq!(
            every_page(&app, &format!("{base}?code=email_taken"), 1000).await,
            failed
        );
        let created: Vec<Value> = whole
            .iter()
            .filter(|r| r["status"] == "created")
            .cloned()
            .collect();
        assert_eq!(
            every_page(&app, &format!("{base}?status=created"), 333).await,
            created
        );
        assert_eq!(
            every_page(&app, &format!("{base}?code=invalid_email"), 10).await,
            Vec::<Value>::new()
        );
        // Past the last row, however far: an empty page.
        for after in ["2501", "18446744073709551615"] {
            let past =
                Response::of(app.get(&format!("{base}?after={after}&limit=5"), &app.acme)).await;
            assert_eq!(
                (past.status, past.json()),
                (StatusCode::OK, json!([])),
                "{kind}: {after}"
            );
        }
        // A page starts after any row, in any chunk.
        let page = Response::of(app.get(&format!("{base}?after=1500&limit=3"), &app.acme))
            .await
            .json();
        assert_eq!(page, json!(whole[1499..1502]), "{kind}");

        let summary = Response::of(app.get(&format!("/api/imports/{id}/summary"), &app.acme))
            .await
            .json();
        assert_eq!(
            summary["statuses"],
            json!({"created": 2_142, "updated": 0, "unchanged": 0, "failed": 358, "not_processed": 0, "pending": 0}),
            "{kind}"
        );
        assert_eq!(
            summary["error_counts"],
            json!([{"code": "email_taken", "column": "Email Address (Mandatory)", "count": 358}])
        );
        let status = Response::of(app.get(&format!("/api/imports/{id}"), &app.acme))
            .await
            .json();
        assert_eq!(
            (&status["created"], &status["failed"]),
            (&json!(2_142), &json!(358))
        );

        // An import stopped before it ran: every row not processed.
        let out = app
            .upload(
                &app.acme,
                "later.csv",
                &many(1_200).replace("person", "later"),
                &[("chunk_rows", "1000")],
            )
            .await;
        let later = out.json()["id"].as_str().expect("an id").to_string();
        let stop = Response::of(app.post(&format!("/api/imports/{later}/stop"), &app.acme)).await;
        assert_eq!(stop.json()["outcome"], json!("stopped"), "{kind}");
        let base = format!("/api/imports/{later}/results");
        let skipped = every_page(&app, &format!("{base}?status=not_processed"), 100).await;
        assert_eq!(skipped.len(), 1_200, "{kind}");
        assert_eq!(skipped, every_page(&app, &base, 1000).await);
        assert_eq!(skipped[0]["row"], json!(2));
        assert_eq!(skipped[1_199]["row"], json!(1_201));
        assert!(skipped.iter().all(|r| r["status"] == "not_processed"));
        let failed_rows =
            Response::of(app.get(&format!("/api/imports/{later}/failed-rows.csv"), &app.acme))
                .await;
        let second = failed_rows.body.lines().nth(1).expect("a row");
        assert!(
            second.ends_with(
                ",not processed: the import was stopped before this row; import the failed-rows file to create it"
            ),
            "{second}"
        );
        let summary = Response::of(app.get(&format!("/api/imports/{later}/summary"), &app.acme))
            .await
            .json();
        assert_eq!(
            summary["statuses"],
            json!({"created": 0, "updated": 0, "unchanged": 0, "failed": 0, "not_processed": 1_200, "pending": 0}),
            "{kind}"
        );
        app.end().await;
    }
}

/// Runs a worker beside the app until the import has finished.
async fn run_worker_until_done(app: &TestApp, id: &str) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(run_worker(
        app.store.clone(),
        "test-api-late",
        WorkerConfig::default(),
        async {
            let _ = stopped.await;
        },
    ));
    app.finished(id).await;
    let _ = stop.send(());
    let _ = worker.await;
}

#[tokio::test]
async fn a_refused_uploads_whole_report_pages_and_rows_are_a_link_away() {
    let app = TestApp::start(testing::sqlite(), ServerConfig::default(), false).await;
    // 300 rows, every third with a bad email, every fifth a number the
    // account does not own.
    let mut csv = HEADER.to_string();
    for i in 0..300 {
        let email = if i % 3 == 0 {
            format!("bad{i}.acme.example")
        } else {
            format!("p{i}@acme.example")
        };
        let number = if i % 5 == 0 {
            format!("+1 212 555 {i:04}")
        } else {
            String::new()
        };
        csv.push_str(&format!("P {i},{email},{number},\n"));
    }
    let out = app.upload(&app.acme, "staff list.csv", &csv, &[]).await;
    assert_eq!(out.status, StatusCode::UNPROCESSABLE_ENTITY);
    let report = out.json();
    assert_eq!(report["errors_total"], json!(160));
    assert_eq!(report["errors"].as_array().map(Vec::len), Some(100));
    let links = &report["report"];
    let id = links["id"].as_str().expect("an id").to_string();
    assert_eq!(links["json"], json!(format!("/api/reports/{id}")));
    assert_eq!(links["csv"], json!(format!("/api/reports/{id}/rows.csv")));

    let whole = Response::of(app.get(&format!("/api/reports/{id}"), &app.acme)).await;
    assert_eq!(whole.status, StatusCode::OK);
    let whole = whole.json();
    let every = whole["errors"].as_array().cloned().expect("errors");
    assert_eq!(every.len(), 160);
    assert_eq!(
        every[..100],
        report["errors"].as_array().expect("errors")[..]
    );
    assert_eq!(whole["error_counts"], report["error_counts"]);

    assert_eq!(
        every_page(&app, &format!("/api/reports/{id}/errors"), 7).await,
        every
    );
    let bad: Vec<Value> = every
        .iter()
        .filter(|e| e["code"] == "invalid_email")
        .cloned()
        .collect();
    assert_eq!(bad.len(), 100);
    assert_eq!(
        every_page(
            &app,
            &format!("/api/reports/{id}/errors?code=invalid_email"),
            30
        )
        .await,
        bad
    );

    let rows = Response::of(app.get(&format!("/api/reports/{id}/rows.csv"), &app.acme)).await;
    assert_eq!(
        rows.header(CONTENT_DISPOSITION),
        "attachment; filename=\"staff_list-errors.csv\""
    );
    let lines: Vec<&str> = rows.body.lines().collect();
    assert_eq!(lines.len(), 301);
    assert!(lines[0].ends_with(",Errors"), "{}", lines[0]);
    assert!(
        lines[1].starts_with("P 0,bad0.acme.example,")
            && lines[1].contains("invalid_email in Email Address (Mandatory): ")
            && lines[1].contains(" | number_not_parked in Primary Phone Number (Optional): "),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "P 1,p1@acme.example,,,");
    // The fixed file goes in: the Errors column is ignored.
    let mut fixed = rows.body.replace(".acme.example,", "@acme.example,");
    for i in (0..300).step_by(5) {
        // As written back: neutralised, so that a spreadsheet reads text.
        fixed = fixed.replace(&format!(",'+1 212 555 {i:04},"), ",,");
    }
    let again = app.upload(&app.acme, "fixed.csv", &fixed, &[]).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);

    // Another account's report is not found; nor is a made-up one.
    for (path, token) in [
        (format!("/api/reports/{id}"), &app.other),
        (format!("/api/reports/{id}/errors"), &app.other),
        (format!("/api/reports/{id}/rows.csv"), &app.other),
        (
            "/api/reports/0123456789abcdef0123456789abcdef".to_string(),
            &app.acme,
        ),
    ] {
        let out = Response::of(app.get(&path, token)).await;
        assert_eq!(out.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(out.json()["code"], json!("not_found"));
    }
    app.end().await;
}

/// A value a parameter's schema allows or refuses, with the answer the
/// server must give: the document's constraints, tried at their edges.
fn probes(schema: &Value) -> Vec<(String, bool)> {
    let mut probes = Vec::new();
    if let Some(values) = schema["enum"].as_array() {
        for v in values {
            probes.push((v.as_str().expect("text").to_string(), true));
        }
        probes.push(("not-in-the-list".to_string(), false));
        probes.push((String::new(), false));
    }
    let integer = schema["type"] == "integer"
        || schema["type"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("integer")));
    if integer {
        probes.push(("x".to_string(), false));
        if let Some(min) = schema["minimum"].as_i64() {
            probes.push((min.to_string(), true));
            probes.push(((min - 1).to_string(), false));
        }
        if let Some(max) = schema["maximum"].as_i64() {
            probes.push((max.to_string(), true));
            probes.push(((max + 1).to_string(), false));
        }
    }
    if let Some(pattern) = schema["pattern"].as_str() {
        assert!(pattern.starts_with('^'), "{pattern}");
        probes.push(("users".to_string(), true));
        probes.push(("to:it@acme.example".to_string(), true));
        probes.push(("someone".to_string(), false));
    }
    probes
}

#[tokio::test]
async fn the_document_and_the_server_agree_on_every_parameter_and_status() {
    let app = TestApp::start(testing::sqlite(), ServerConfig::default(), false).await;
    // A finished import and a kept report, for the routes that need ids.
    let out = app
        .upload(&app.acme, "users.csv", &clean(), &[("passwords", "none")])
        .await;
    let import = out.json()["id"].as_str().expect("an id").to_string();
    Response::of(app.post(&format!("/api/imports/{import}/stop"), &app.acme)).await;
    let out = app.upload(&app.acme, "bad.csv", &with_errors(), &[]).await;
    let report = out.json()["report"]["id"]
        .as_str()
        .expect("a report")
        .to_string();
    let document = Response::of(app.client.get(app.url("/api/openapi.json")))
        .await
        .json();
    if std::env::var_os("ROSTER_DUMP_OPENAPI").is_some() {
        eprintln!(
            "{}",
            serde_json::to_string_pretty(&document).unwrap_or_default()
        );
    }
    let mut tried = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("methods") {
            let documented: Vec<u16> = operation["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .map(|k| k.parse().expect("a status"))
                .collect();
            let id = if path.starts_with("/api/reports") {
                &report
            } else {
                &import
            };
            let url = path.replace("{id}", id);
            let send = |query: String, token: Option<&str>| {
                let url = app.url(&format!("{url}{query}"));
                let request = if method == "get" {
                    app.client.get(url)
                } else {
                    app.client
                        .post(url)
                        .header(CONTENT_TYPE, "text/csv")
                        .body(clean())
                };
                match token {
                    Some(token) => request.header(AUTHORIZATION, format!("Bearer {token}")),
                    None => request,
                }
            };
            let route = format!("{} {path}", method.to_uppercase());
            // Without a token: 401, documented.
            let out = Response::of(send(String::new(), None)).await;
            assert_eq!(out.status, StatusCode::UNAUTHORIZED, "{route}");
            assert!(documented.contains(&401), "{route}: 401 is not documented");
            let params = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for param in params.iter().filter(|p| p["in"] == "query") {
                let name = param["name"].as_str().expect("a name");
                for (value, good) in probes(&param["schema"]) {
                    let query = format!("?{name}={}", urlencode(&value));
                    let out = Response::of(send(query.clone(), Some(&app.other))).await;
                    tried += 1;
                    // The other account: its own probes never depend on
                    // the ids above, but parameters are read first.
                    let status = out.status.as_u16();
                    assert!(
                        documented.contains(&status),
                        "{route}{query}: {status} is not documented: {}",
                        out.body
                    );
                    if good {
                        assert_ne!(status, 400, "{route}{query}: refused: {}", out.body);
                    } else {
                        assert_eq!(status, 400, "{route}{query}: accepted: {}", out.body);
                        assert_eq!(
                            out.json()["code"],
                            json!("invalid_option"),
                            "{route}{query}"
                        );
                    }
                }
            }
            // The route itself, for its own account: a documented answer.
            let out = Response::of(send(String::new(), Some(&app.acme))).await;
            assert!(
                documented.contains(&out.status.as_u16()),
                "{route}: {} is not documented: {}",
                out.status,
                out.body
            );
        }
    }
    assert!(tried > 40, "only {tried} probes");
    app.end().await;
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Update mode over the API: a dry run answers the plan and keeps it, its
/// rows come a page at a time, applying it queues exactly that plan (a
/// user changed in between fails alone), and a plan with errors or another
/// account's is refused.
#[tokio::test]
async fn a_dry_run_keeps_the_plan_and_applying_it_imports_exactly_that() {
    for db in testing::both("api_plan").await {
        let kind = db.kind;
        let app = TestApp::start(db, ServerConfig::default(), true).await;
        let created = app
            .upload(&app.acme, "users.csv", &clean(), &[("passwords", "none")])
            .await;
        assert_eq!(
            created.status,
            StatusCode::ACCEPTED,
            "{kind}: {}",
            created.body
        );
        app.finished(created.json()["id"].as_str().expect("an id"))
            .await;

        // Grace moves to 7301; Ada and Alan keep everything; Lin is new.
        let edited = format!(
            "{HEADER},ada@acme.example,,\n,grace@acme.example,,7301\n,ALAN@acme.example,,\nLin,lin@acme.example,,\n"
        );
        let dry = app
            .upload(
                &app.acme,
                "edited.csv",
                &edited,
                &[("mode", "upsert"), ("dry_run", "true")],
            )
            .await;
        assert_eq!(dry.status, StatusCode::OK, "{kind}: {}", dry.body);
        let report = dry.json();
        assert_eq!(
            report["plan"],
            json!({"create": 1, "update": 1, "unchanged": 2}),
            "{kind}"
        );
        assert_eq!(
            report["actions"][1],
            json!({"row": 3, "email": "grace@acme.example", "action": "update",
                   "changes": [{"column": "Extension (Optional)", "from": "7300", "to": "7301"}]}),
            "{kind}"
        );
        let plan = report["report"]["id"]
            .as_str()
            .expect("a plan id")
            .to_string();
        // Nothing was written.
        let imports = Response::of(app.get("/api/imports", &app.acme))
            .await
            .json();
        assert_eq!(imports.as_array().map(Vec::len), Some(1), "{kind}");

        // The plan's rows a page at a time, and by action.
        let actions = report["report"]["actions"].as_str().expect("a link");
        let page = Response::of(app.get(&format!("{actions}?limit=2"), &app.acme)).await;
        assert_eq!(page.json().as_array().map(Vec::len), Some(2), "{kind}");
        assert!(
            page.header(reqwest::header::LINK).contains("after=3"),
            "{kind}"
        );
        let creates = Response::of(app.get(&format!("{actions}?action=create"), &app.acme)).await;
        assert_eq!(
            creates.json(),
            json!([{"row": 5, "email": "lin@acme.example", "action": "create", "changes": []}]),
            "{kind}"
        );
        let other = Response::of(app.get(actions, &app.other)).await;
        assert_eq!(other.status, StatusCode::NOT_FOUND, "{kind}");

        // Another account cannot apply it.
        let theirs = Response::of(app.post(&format!("/api/imports?plan={plan}"), &app.other)).await;
        assert_eq!(
            theirs.status,
            StatusCode::NOT_FOUND,
            "{kind}: {}",
            theirs.body
        );

        // Ada changes between the plan and its run.
        let mut spec = account_spec("acme");
        spec.users.push(roster_store::UserSpec {
            display_name: "Ada L.".to_string(),
            email: roster_validate::Email::parse("ada@acme.example").expect("valid"),
            extension: None,
            numbers: Vec::new(),
            location: None,
            role: None,
        });
        app.store.load_account(&spec).await.expect("loaded again");

        let applied = Response::of(app.post(
            &format!("/api/imports?plan={plan}&passwords=none"),
            &app.acme,
        ))
        .await;
        assert_eq!(
            applied.status,
            StatusCode::ACCEPTED,
            "{kind}: {}",
            applied.body
        );
        let status = app
            .finished(applied.json()["id"].as_str().expect("an id"))
            .await;
        assert_eq!(
            (
                &status["mode"],
                &status["created"],
                &status["updated"],
                &status["unchanged"],
                &status["failed"]
            ),
            (&json!("upsert"), &json!(1), &json!(1), &json!(1), &json!(1)),
            "{kind}: {status}"
        );
        let id = status["id"].as_str().expect("an id");
        let failed = Response::of(app.get(
            &format!("/api/imports/{id}/results?status=failed"),
            &app.acme,
        ))
        .await
        .json();
        assert_eq!(failed[0]["row"], json!(2), "{kind}: {failed}");
        assert_eq!(
            failed[0]["errors"][0]["code"],
            json!("changed_since_plan"),
            "{kind}: {failed}"
        );
        let updated = Response::of(app.get(
            &format!("/api/imports/{id}/results?status=updated"),
            &app.acme,
        ))
        .await
        .json();
        assert_eq!(
            (
                &updated[0]["email"],
                &updated[0]["extension"],
                &updated[0]["delivery"]
            ),
            (&json!("grace@acme.example"), &json!("7301"), &Value::Null),
            "{kind}: {updated}"
        );

        // A dry run with errors is no plan to apply.
        let bad = app
            .upload(
                &app.acme,
                "bad.csv",
                &format!("{HEADER},nobody@acme.example,,\n"),
                &[("mode", "update"), ("dry_run", "true")],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{kind}");
        let bad_plan = bad.json()["report"]["id"]
            .as_str()
            .expect("an id")
            .to_string();
        let refused =
            Response::of(app.post(&format!("/api/imports?plan={bad_plan}"), &app.acme)).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{kind}");
        assert_eq!(refused.json()["code"], json!("plan_has_errors"), "{kind}");
        app.end().await;
    }
}

/// The import's status once its undo leaves the active states.
async fn undo_finished(app: &TestApp, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let status = Response::of(app.get(&format!("/api/imports/{id}"), &app.acme))
            .await
            .json();
        let state = status["undo"]["state"].as_str().unwrap_or("");
        if !["queued", "running", "stopping"].contains(&state) {
            return status;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_import_is_undone_through_the_api_once_on_both_databases() {
    for db in testing::both("an_import_is_undone").await {
        let kind = db.kind;
        let app = TestApp::start(db, ServerConfig::default(), true).await;
        let out = app
            .upload(&app.acme, "a.csv", &clean(), &[("passwords", "none")])
            .await;
        let id = out.json()["id"].as_str().expect("an id").to_string();
        let done = app.finished(&id).await;
        assert_eq!(done["created"], json!(3), "{kind}");
        assert!(done.get("undo").is_none(), "{kind}: no undo asked: {done}");

        let theirs = Response::of(app.post(&format!("/api/imports/{id}/undo"), &app.other)).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{kind}");

        let asked = Response::of(app.post(&format!("/api/imports/{id}/undo"), &app.acme)).await;
        assert_eq!(asked.status, StatusCode::ACCEPTED, "{kind}: {}", asked.body);
        assert_eq!(asked.json()["undo"]["state"], json!("queued"), "{kind}");
        assert_eq!(asked.json()["undo"]["total"], json!(3), "{kind}");

        let undone = undo_finished(&app, &id).await;
        assert_eq!(
            (
                &undone["undo"]["state"],
                &undone["undo"]["undone"],
                &undone["undo"]["not_undone"]
            ),
            (&json!("completed"), &json!(3), &json!(0)),
            "{kind}: {undone}"
        );
        assert!(undone["undo"]["finished_at"].is_string(), "{undone}");
        let results = Response::of(app.get(&format!("/api/imports/{id}/results"), &app.acme)).await;
        let rows = results.json();
        assert_eq!(
            rows[0],
            json!({"row": 2, "status": "created", "email": "ada@acme.example", "extension": "7000",
                   "numbers": ["+16172000000"], "errors": [], "delivery": null,
                   "undo": {"status": "undone", "code": null, "message": null}}),
            "{kind}"
        );
        let account = app
            .store
            .existing_account(&AccountSlug::parse("acme").expect("a slug"))
            .await
            .expect("the account");
        assert_eq!(app.store.users(&account).await.expect("users").len(), 0);

        let again = Response::of(app.post(&format!("/api/imports/{id}/undo"), &app.acme)).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{kind}");
        assert_eq!(again.json()["code"], json!("cannot_undo"), "{}", again.body);
        app.end().await;
    }
}
