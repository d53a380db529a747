//! The import routes of the API: upload a file, list and read imports,
//! their results and failed rows, stop one. Every route acts for the
//! caller's account only: another account's import does not exist here
//! (404), whatever its id.

use std::io::Write;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_jobs::{
    Checked, DEFAULT_CHUNK_ROWS, Submission, Submitted, for_each_result, submit, write_failed_rows,
};
use roster_store::{Import, ImportId, PasswordDelivery, StopOutcome};
use roster_template::csv_line;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::contract::{
    FIRST_ERRORS, RESULTS_CSV_HEADER, ReportJson, ResultJson, StatusJson, result_csv,
};
use crate::error::ErrorJson;
use crate::upload::{Upload, receive};
use crate::{ApiError, AppState};

/// The chunk sizes a client may ask for: a chunk is worth a job of its
/// own (a thousand rows take a few tenths of a second), and none holds a
/// worker for long.
const CHUNK_ROWS: std::ops::RangeInclusive<u64> = 1_000..=1_000_000;

/// An import's options, in the query string or as form fields.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub(crate) struct ImportOptions {
    /// Voice services: `true` (default) or `false` (the phone, extension
    /// and location columns are ignored).
    voice: Option<String>,
    /// Temporary passwords: `users` (default), `none`, or `to:ADDRESS`.
    passwords: Option<String>,
    /// Data rows per chunk, for workers to share: 1000 to 1000000
    /// (default 100000).
    chunk_rows: Option<String>,
}

/// How many imports a list gives.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub(crate) struct ListOptions {
    /// At most this many, newest first (default 50, at most 500).
    limit: Option<u32>,
}

/// What stopping did, and the import after it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StopJson<'a> {
    /// `stopped` (it was queued), `stopping` (it stops after the batch in
    /// progress) or `already_finished` (nothing changed).
    outcome: &'static str,
    import: StatusJson<'a>,
}

/// The form of an upload (`multipart/form-data`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Documents the form; the fields are read from the stream.
pub(crate) struct ImportForm {
    /// The CSV file.
    #[schema(format = Binary, content_media_type = "text/csv")]
    file: String,
    /// `true` or `false`.
    voice: Option<String>,
    /// `users`, `none` or `to:ADDRESS`.
    passwords: Option<String>,
    /// Data rows per chunk: 1000 to 1000000.
    chunk_rows: Option<String>,
}

/// Uploads a file: validates every row and, if all pass, queues the import.
#[utoipa::path(
    post,
    path = "/api/imports",
    tag = "imports",
    params(ImportOptions),
    request_body(content(
        (ImportForm = "multipart/form-data"),
        (String = "text/csv"),
    )),
    responses(
        (status = 202, description = "Every row is valid; the import is queued",
            body = StatusJson, headers(("Location" = String, description = "The import's URL"))),
        (status = 422, description = "The file has errors; nothing was written", body = ReportJson),
        (status = 400, description = "An unusable option or form", body = ErrorJson),
        (status = 401, description = "No or unknown token", body = ErrorJson),
        (status = 409, description = "The account already has an import queued or running", body = ErrorJson),
        (status = 413, description = "The file is over the size limit", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn create_import(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ImportOptions>,
    request: Request,
) -> Result<Response, ApiError> {
    // Options in the query are checked, and an account with an import
    // active is answered, before a byte of the upload is read.
    let ImportOptions {
        voice,
        passwords,
        chunk_rows,
    } = query;
    Chosen::read(
        voice.as_deref(),
        passwords.as_deref(),
        chunk_rows.as_deref(),
    )?;
    state
        .store
        .check_no_active_import(caller.account.id)
        .await?;
    let upload: Upload = receive(request, &state, state.limits.max_bytes).await?;
    // A form field says what the query does not.
    let field =
        |name: &str, from_query: Option<String>| upload.fields.get(name).cloned().or(from_query);
    let (voice, passwords, chunk_rows) = (
        field("voice", voice),
        field("passwords", passwords),
        field("chunk_rows", chunk_rows),
    );
    let chosen = Chosen::read(
        voice.as_deref(),
        passwords.as_deref(),
        chunk_rows.as_deref(),
    )?;
    let submission = Submission {
        account: &caller.account,
        path: &upload.path,
        file_name: upload.name.clone(),
        voice: chosen.voice,
        passwords: chosen.passwords,
        limits: state.limits,
        chunk_rows: chosen.chunk_rows,
    };
    match submit(&state.store, submission).await? {
        Submitted::Invalid(checked) => {
            let body = tokio::task::spawn_blocking(move || first_errors(checked))
                .await
                .map_err(ApiError::internal)??;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response())
        }
        Submitted::Queued { import, .. } => {
            let location = format!("/api/imports/{}", import.id);
            let mut response =
                (StatusCode::ACCEPTED, Json(StatusJson::new(&import))).into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            Ok(response)
        }
    }
}

/// The account's imports, newest first.
#[utoipa::path(
    get,
    path = "/api/imports",
    tag = "imports",
    params(ListOptions),
    responses(
        (status = 200, description = "The imports", body = [StatusJson]),
        (status = 401, description = "No or unknown token", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn list_imports(
    State(state): State<AppState>,
    caller: Caller,
    Query(options): Query<ListOptions>,
) -> Result<Response, ApiError> {
    let limit = options.limit.unwrap_or(50).clamp(1, 500);
    let imports = state.store.account_imports(&caller.account, limit).await?;
    let body: Vec<StatusJson<'_>> = imports.iter().map(StatusJson::new).collect();
    Ok(Json(body).into_response())
}

/// An import's state and counts.
#[utoipa::path(
    get,
    path = "/api/imports/{id}",
    tag = "imports",
    params(("id" = String, Path, description = "The import's id")),
    responses(
        (status = 200, description = "The import", body = StatusJson),
        (status = 401, description = "No or unknown token", body = ErrorJson),
        (status = 404, description = "No such import for this account", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn get_import(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let import = owned_import(&state, &caller, &id).await?;
    Ok(Json(StatusJson::new(&import)).into_response())
}

/// One result per data row, in file order: JSON, or CSV when the request
/// accepts `text/csv`.
#[utoipa::path(
    get,
    path = "/api/imports/{id}/results",
    tag = "imports",
    params(("id" = String, Path, description = "The import's id")),
    responses(
        (status = 200, description = "The results: JSON, or CSV when `Accept: text/csv`",
            content(([ResultJson] = "application/json"), (String = "text/csv"))),
        (status = 401, description = "No or unknown token", body = ErrorJson),
        (status = 404, description = "No such import for this account", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn results(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"));
    results_as(state, caller, id, csv).await
}

/// The results as JSON.
#[utoipa::path(
    get,
    path = "/api/imports/{id}/results.json",
    tag = "imports",
    params(("id" = String, Path, description = "The import's id")),
    responses(
        (status = 200, description = "The results", body = [ResultJson]),
        (status = 404, description = "No such import for this account", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn results_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    results_as(state, caller, id, false).await
}

/// The results as CSV.
#[utoipa::path(
    get,
    path = "/api/imports/{id}/results.csv",
    tag = "imports",
    params(("id" = String, Path, description = "The import's id")),
    responses(
        (status = 200, description = "The results", body = String, content_type = "text/csv"),
        (status = 404, description = "No such import for this account", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn results_csv(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    results_as(state, caller, id, true).await
}

/// The original header and cells of every row not created, plus `Errors`:
/// the file to fix and upload again.
#[utoipa::path(
    get,
    path = "/api/imports/{id}/failed-rows.csv",
    tag = "imports",
    params(("id" = String, Path, description = "The import's id")),
    responses(
        (status = 200, description = "The failed rows", body = String, content_type = "text/csv"),
        (status = 401, description = "No or unknown token", body = ErrorJson),
        (status = 404, description = "No such import for this account", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn failed_rows(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let import = owned_import(&state, &caller, &id).await?;
    let disposition = format!(
        "attachment; filename=\"{}\"",
        failed_rows_file_name(&import)
    );
    let store = state.store.clone();
    let runtime = tokio::runtime::Handle::current();
    let body = streamed(move |out| write_failed_rows(&store, &import, runtime, out).map(|_| ()));
    Ok(csv_response(body, Some(disposition)))
}

/// Asks the import to stop: a queued one stops at once, a running one
/// after the batch in progress. Rows already created stay.
#[utoipa::path(
    post,
    path = "/api/imports/{id}/stop",
    tag = "imports",
    params(("id" = String, Path, description = "The import's id")),
    responses(
        (status = 200, description = "What stopping did", body = StopJson),
        (status = 401, description = "No or unknown token", body = ErrorJson),
        (status = 403, description = "A signed-in page without its CSRF token", body = ErrorJson),
        (status = 404, description = "No such import for this account", body = ErrorJson),
    ),
    security(("token" = []))
)]
pub(crate) async fn stop_import(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let import = owned_import(&state, &caller, &id).await?;
    let outcome = match state.store.stop_import(&import.id).await? {
        StopOutcome::Stopped => "stopped",
        StopOutcome::Stopping => "stopping",
        StopOutcome::AlreadyFinished(_) => "already_finished",
    };
    let now = state.store.existing_import(&import.id).await?;
    Ok(Json(StopJson {
        outcome,
        import: StatusJson::new(&now),
    })
    .into_response())
}

/// The report of a refused file, with its first errors. Blocks on the file
/// of errors.
fn first_errors(mut checked: Checked) -> Result<ReportJson, ApiError> {
    let first: Vec<_> = checked
        .errors
        .errors()
        .map_err(ApiError::internal)?
        .take(FIRST_ERRORS)
        .collect::<Result<_, _>>()
        .map_err(ApiError::internal)?;
    Ok(ReportJson::new(&checked.report, first))
}

/// The import with this id, if it is the caller's; any other import, or
/// an id that is not one, is not found.
async fn owned_import(state: &AppState, caller: &Caller, id: &str) -> Result<Import, ApiError> {
    let id = ImportId::parse(id).ok_or(ApiError::NotFound)?;
    match state.store.import(&id).await? {
        Some(import) if import.account == caller.account.id => Ok(import),
        _ => Err(ApiError::NotFound),
    }
}

async fn results_as(
    state: AppState,
    caller: Caller,
    id: String,
    csv: bool,
) -> Result<Response, ApiError> {
    let import = owned_import(&state, &caller, &id).await?;
    let store = state.store.clone();
    let runtime = tokio::runtime::Handle::current();
    if csv {
        let body = streamed(move |out| {
            out.write_all(csv_line(RESULTS_CSV_HEADER).as_bytes())
                .map_err(roster_jobs::Error::Output)?;
            for_each_result(&store, &import, runtime, &mut |line, _| {
                out.write_all(result_csv(line).as_bytes())
                    .map_err(roster_jobs::Error::Output)
            })
        });
        return Ok(csv_response(body, None));
    }
    let body = streamed(move |out| {
        let mut first = true;
        out.write_all(b"[").map_err(roster_jobs::Error::Output)?;
        for_each_result(&store, &import, runtime, &mut |line, _| {
            if !first {
                out.write_all(b",").map_err(roster_jobs::Error::Output)?;
            }
            first = false;
            serde_json::to_writer(&mut *out, &ResultJson::new(line))
                .map_err(|e| roster_jobs::Error::Output(std::io::Error::other(e)))
        })?;
        out.write_all(b"]").map_err(roster_jobs::Error::Output)
    });
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

fn csv_response(body: Body, disposition: Option<String>) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Some(value) = disposition.and_then(|d| HeaderValue::from_str(&d).ok()) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The failed-rows file's name: the uploaded name's stem in safe letters
/// (`A-Z a-z 0-9 . _ -`, nothing a browser or a shell reads specially),
/// then `-failed-rows.csv`.
fn failed_rows_file_name(import: &Import) -> String {
    let stem = import
        .file_name
        .rsplit_once('.')
        .map_or(import.file_name.as_str(), |(stem, _)| stem);
    let safe: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let safe = safe.trim_matches(|c| c == '.' || c == '_');
    if safe.is_empty() {
        format!("import-{}-failed-rows.csv", &import.id.as_str()[..8])
    } else {
        format!("{safe}-failed-rows.csv")
    }
}

/// An import's options, read.
struct Chosen {
    voice: bool,
    passwords: PasswordDelivery,
    chunk_rows: u64,
}

impl Chosen {
    /// The options as sent; `None`: the default.
    fn read(
        voice: Option<&str>,
        passwords: Option<&str>,
        chunk_rows: Option<&str>,
    ) -> Result<Chosen, ApiError> {
        let voice = match voice {
            None | Some("true" | "on" | "1" | "yes") => true,
            Some("false" | "off" | "0" | "no") => false,
            Some(other) => {
                return Err(invalid_option(format!(
                    "voice '{other}': use true or false"
                )));
            }
        };
        let passwords = match passwords {
            None => PasswordDelivery::Users,
            Some(text) => PasswordDelivery::parse(text.trim()).ok_or_else(|| {
                invalid_option(format!(
                    "passwords '{text}': use users, none, or to:ADDRESS with a valid email address"
                ))
            })?,
        };
        let chunk_rows = match chunk_rows {
            None => DEFAULT_CHUNK_ROWS,
            Some(text) => text
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| CHUNK_ROWS.contains(n))
                .ok_or_else(|| {
                    invalid_option(format!(
                        "chunk_rows '{text}': use a whole number from {} to {}",
                        CHUNK_ROWS.start(),
                        CHUNK_ROWS.end()
                    ))
                })?,
        };
        Ok(Chosen {
            voice,
            passwords,
            chunk_rows,
        })
    }
}

fn invalid_option(message: String) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_option",
        message,
    }
}

/// A response body written by `write` on a blocking thread (it reads the
/// import's stored file), sent a chunk at a time as it is written. If the
/// client goes away, the next chunk fails to send and `write` stops.
fn streamed(
    write: impl FnOnce(&mut dyn Write) -> Result<(), roster_jobs::Error> + Send + 'static,
) -> Body {
    let (chunks, body) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let mut out = Chunks {
            sender: chunks.clone(),
            buffer: Vec::with_capacity(CHUNK),
        };
        let written =
            write(&mut out).and_then(|()| out.flush().map_err(roster_jobs::Error::Output));
        if let Err(e) = written {
            tracing::warn!(error = %e, "a response stopped before its end");
            let _ = chunks.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    Body::from_stream(Receiver(body))
}

/// Bytes per chunk of a streamed body.
const CHUNK: usize = 64 * 1024;

/// A writer that sends what it is given as chunks of a body.
struct Chunks {
    sender: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buffer: Vec<u8>,
}

impl Write for Chunks {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK),
        ));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client left"))
    }
}

/// The receiving end of [`Chunks`], as a stream of a body.
struct Receiver(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_util::Stream for Receiver {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}
