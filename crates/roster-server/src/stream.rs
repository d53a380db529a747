//! Response bodies written as they are sent: a large answer (every result
//! of a million rows, a report of millions of errors) is made a chunk at a
//! time on a blocking thread, never whole in memory.

use std::io::Write;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use tokio::sync::mpsc;

/// A CSV response, with a file name to save it under when given.
pub(crate) fn csv_response(body: Body, disposition: Option<String>) -> Response {
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

/// A response body written by `write` on a blocking thread (it reads the
/// import's stored file), sent a chunk at a time as it is written. If the
/// client goes away, the next chunk fails to send and `write` stops.
pub(crate) fn streamed(
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

/// A JSON response from a streamed body.
pub(crate) fn json_response(body: Body) -> Response {
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
