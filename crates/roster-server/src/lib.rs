//! roster's HTTP API and admin web page.
//!
//! [`app`] is the whole server as an axum `Router`: the API under `/api`
//! (its OpenAPI document at `/api/openapi.json`, generated from the
//! handlers), the page at `/`, the CSV template at `/template.csv`. Every
//! API request acts for one account, proven by an API token ([`token`]);
//! nothing it reads or writes belongs to another account.
//!
//! The server only receives and answers: imports run in workers (the
//! `roster serve` command starts one beside it). The contract's JSON shapes
//! ([`contract`]) are shared with the command line.
//!
//! ```no_run
//! # async fn run(store: roster_store::Store) -> std::io::Result<()> {
//! let app = roster_server::app(store, roster_server::ServerConfig::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```

mod auth;
pub mod contract;
mod error;
mod form;
mod imports;
mod openapi;
mod page;
mod query;
mod reports;
mod stream;
pub mod token;
mod upload;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use roster_store::Store;
use roster_validate::Limits;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ErrorJson};

/// How the server treats uploads and sessions.
#[derive(Debug, Clone, Copy)]
pub struct ServerConfig {
    /// Size and row limits of an uploaded file.
    pub limits: Limits,
    /// Mark the page's session cookie `Secure`: for a page served over
    /// HTTPS (by a proxy in front, say).
    pub secure_cookies: bool,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            limits: Limits::DEFAULT,
            secure_cookies: false,
        }
    }
}

/// What every request's handler shares.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) store: Store,
    /// Refused uploads' reports, kept for their links.
    pub(crate) reports: reports::Reports,
    pub(crate) limits: Limits,
    pub(crate) secure_cookies: bool,
}

/// The server: API, page and template, with request logging.
pub fn app(store: Store, config: ServerConfig) -> Router {
    let state = AppState {
        store,
        reports: reports::Reports::default(),
        limits: config.limits,
        secure_cookies: config.secure_cookies,
    };
    let (api, document) = OpenApiRouter::with_openapi(openapi::document())
        .routes(routes!(imports::create_import, imports::list_imports))
        .routes(routes!(imports::get_import))
        .routes(routes!(imports::results))
        .routes(routes!(imports::results_json))
        .routes(routes!(imports::results_csv))
        .routes(routes!(imports::failed_rows))
        .routes(routes!(imports::summary))
        .routes(routes!(imports::stop_import))
        .routes(routes!(imports::undo_import))
        .routes(routes!(reports::report))
        .routes(routes!(reports::report_errors))
        .routes(routes!(reports::report_actions))
        .routes(routes!(reports::report_rows))
        .split_for_parts();
    Router::new()
        .merge(api)
        .route(
            "/api/openapi.json",
            get(move || async move { axum::Json(document) }),
        )
        .route("/", get(page::index))
        .route("/sign-in", post(page::sign_in))
        .route("/sign-out", post(page::sign_out))
        .route("/template.csv", get(page::template))
        .route("/assets/app.js", get(page::script))
        .route("/assets/style.css", get(page::style))
        // Uploads are limited while they stream (see `upload.rs`), not by
        // buffering them whole first.
        .layer(DefaultBodyLimit::disable())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .with_state(state)
}

/// A request's log span: its method and path, never its headers (tokens,
/// cookies) or query.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
    )
}
