//! `Upload`: an uploaded file, received into a temporary file chunk by
//! chunk and refused (413) the moment it passes the size limit, so that a
//! large or endless upload never fills memory or the disk; and the import's
//! options sent with it.
//!
//! Two ways in: a `multipart/form-data` form (a `file` field, option
//! fields), or the CSV itself as the body (`text/csv`), options in the
//! query string.

use std::collections::HashMap;

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use tempfile::TempPath;
use tokio::io::AsyncWriteExt;

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
        while let Some(chunk) = next(&mut body).await {
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
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|e| bad_upload(e.body_text()))?;
    let mut name = None;
    let mut fields = HashMap::new();
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| bad_upload(e.body_text()))?
    {
        let field_name = field.name().unwrap_or_default().to_string();
        if field_name == "file" {
            if name.is_some() {
                return Err(bad_upload("send one file per import".to_string()));
            }
            name = Some(shown_name(field.file_name().unwrap_or("upload.csv")));
            while let Some(chunk) = field.chunk().await.map_err(|e| bad_upload(e.body_text()))? {
                sink.write(&chunk).await?;
            }
        } else {
            // Option fields are a few bytes; a large one is not an option.
            let value = field.text().await.map_err(|e| bad_upload(e.body_text()))?;
            if value.len() > 1024 {
                return Err(bad_upload(format!("the field '{field_name}' is too long")));
            }
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

async fn next(
    body: &mut axum::body::BodyDataStream,
) -> Option<Result<axum::body::Bytes, axum::Error>> {
    std::future::poll_fn(|cx| futures_core::Stream::poll_next(std::pin::Pin::new(&mut *body), cx))
        .await
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
