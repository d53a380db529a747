//! `Upload`: an uploaded file, received into a temporary file chunk by
//! chunk and refused (413) the moment it passes the size limit, so that a
//! large or endless upload never fills memory or the disk; and the import's
//! options sent with it.
//!
//! Two ways in: a `multipart/form-data` form (a `file` field, option
//! fields), or the CSV itself as the body (`text/csv`), options in the
//! query string. A form counts toward the limit whole, is watched by a
//! [`FormGuard`] as it arrives (parts, header sizes), and its option
//! fields are read a chunk at a time and refused at their small limit:
//! nothing a client sends is held in memory beyond a few KiB.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use futures_util::StreamExt;
use tempfile::TempPath;
use tokio::io::AsyncWriteExt;

use crate::form::{self, FormGuard, Refusal};
use crate::{ApiError, AppState};

/// A received upload.
#[derive(Debug)]
pub(crate) struct Upload {
    /// The file, removed when this is dropped.
    pub(crate) path: TempPath,
    /// Its name as sent, fit to show: no path, no control characters.
    pub(crate) name: String,
    /// Option fields of a form.
    pub(crate) fields: HashMap<String, String>,
}

/// Receives the request's file.
pub(crate) async fn receive(
    request: Request,
    state: &AppState,
    max_bytes: u64,
) -> Result<Upload, ApiError> {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (file, path) = spool_file()?;
    let mut sink = Sink {
        file: tokio::fs::File::from_std(file),
        written: 0,
        max_bytes,
    };
    if !multipart {
        let mut body = request.into_body().into_data_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| bad_upload(e.to_string()))?;
            sink.write(&chunk).await?;
        }
        sink.finish().await?;
        return Ok(Upload {
            path,
            name: "upload.csv".to_string(),
            fields: HashMap::new(),
        });
    }
    let (request, refused) = guarded(request, max_bytes);
    let failed = |e: axum::extract::multipart::MultipartError| match *refused
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        Some(refusal) => refusal_error(refusal, max_bytes),
        None => bad_upload(e.body_text()),
    };
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|e| bad_upload(e.body_text()))?;
    let mut name = None;
    let mut fields = HashMap::new();
    while let Some(mut field) = form.next_field().await.map_err(failed)? {
        let field_name = field.name().unwrap_or_default().to_string();
        if field_name.len() > MAX_FIELD_NAME {
            return Err(bad_upload(format!(
                "a field name is longer than {MAX_FIELD_NAME} bytes"
            )));
        }
        if field_name == "file" {
            if name.is_some() {
                return Err(bad_upload("send one file per import".to_string()));
            }
            name = Some(shown_name(field.file_name().unwrap_or("upload.csv")));
            while let Some(chunk) = field.chunk().await.map_err(failed)? {
                sink.write(&chunk).await?;
            }
        } else {
            if fields.contains_key(&field_name) {
                return Err(bad_upload(format!(
                    "the field '{field_name}' is sent twice"
                )));
            }
            // Option fields are a few bytes; a large one is not an option,
            // and is refused before the rest of it is read.
            let mut value = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(failed)? {
                if value.len() + chunk.len() > MAX_OPTION_BYTES {
                    return Err(bad_upload(format!(
                        "the field '{field_name}' is longer than {MAX_OPTION_BYTES} bytes"
                    )));
                }
                value.extend_from_slice(&chunk);
            }
            let value = String::from_utf8(value)
                .map_err(|_| bad_upload(format!("the field '{field_name}' is not UTF-8 text")))?;
            fields.insert(field_name, value);
        }
    }
    sink.finish().await?;
    let Some(name) = name else {
        return Err(bad_upload(
            "no file: send it in a form field named 'file'".to_string(),
        ));
    };
    Ok(Upload { path, name, fields })
}

/// Bytes of an option field's value.
const MAX_OPTION_BYTES: usize = 1024;
/// Bytes of a form field's name.
const MAX_FIELD_NAME: usize = 64;

/// The request with its body watched by a [`FormGuard`], and where the
/// guard says why it refused the body, if it does.
fn guarded(request: Request, max_bytes: u64) -> (Request, Arc<Mutex<Option<Refusal>>>) {
    let refused = Arc::new(Mutex::new(None));
    let boundary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(form::boundary)
        .map(str::to_string);
    // Without a boundary the form parser refuses the request itself.
    let Some(boundary) = boundary else {
        return (request, refused);
    };
    let (parts, body) = request.into_parts();
    let mut guard = FormGuard::new(&boundary, max_bytes);
    let seen = refused.clone();
    let watched = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        guard.feed(&chunk).map_err(|refusal| {
            *seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(refusal);
            std::io::Error::other("the form is refused")
        })?;
        Ok::<_, std::io::Error>(chunk)
    });
    (
        Request::from_parts(parts, axum::body::Body::from_stream(watched)),
        refused,
    )
}

fn refusal_error(refusal: Refusal, max_bytes: u64) -> ApiError {
    match refusal {
        Refusal::TooLarge => ApiError::TooLarge { max_bytes },
        Refusal::TooManyParts => bad_upload(format!(
            "the form has more than {} fields: send the file and the import's options only",
            form::MAX_PARTS
        )),
        Refusal::HeadersTooLong => bad_upload(format!(
            "a form field's headers are longer than {} bytes",
            form::MAX_HEADER_BYTES
        )),
    }
}

/// Where an upload goes, counting as it writes.
struct Sink {
    file: tokio::fs::File,
    written: u64,
    max_bytes: u64,
}

impl Sink {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        self.written += chunk.len() as u64;
        if self.written > self.max_bytes {
            return Err(ApiError::TooLarge {
                max_bytes: self.max_bytes,
            });
        }
        self.file.write_all(chunk).await.map_err(ApiError::internal)
    }

    async fn finish(&mut self) -> Result<(), ApiError> {
        self.file.flush().await.map_err(ApiError::internal)
    }
}

/// A new temporary file, open for writing.
fn spool_file() -> Result<(std::fs::File, TempPath), ApiError> {
    let temp = tempfile::NamedTempFile::new().map_err(ApiError::internal)?;
    let (file, path) = temp.into_parts();
    Ok((file, path))
}

/// An uploaded file's name as roster shows it: the last path component,
/// control characters dropped, at most 255 characters.
fn shown_name(sent: &str) -> String {
    let last = sent.rsplit(['/', '\\']).next().unwrap_or_default();
    let name: String = last.chars().filter(|c| !c.is_control()).take(255).collect();
    if name.trim().is_empty() {
        "upload.csv".to_string()
    } else {
        name
    }
}

fn bad_upload(message: String) -> ApiError {
    ApiError::BadRequest {
        code: "bad_upload",
        message,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_lose_their_paths_and_control_characters() {
        assert_eq!(super::shown_name("C:\\Users\\me\\staff.csv"), "staff.csv");
        assert_eq!(super::shown_name("../../etc/passwd"), "passwd");
        assert_eq!(super::shown_name("a\r\nb.csv"), "ab.csv");
        assert_eq!(super::shown_name(""), "upload.csv");
    }
}
