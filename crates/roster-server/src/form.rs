//! `FormGuard`: watches a `multipart/form-data` body go by, before any
//! parser buffers it, and refuses a form that is larger than the upload
//! limit as a whole, has more parts than an import form has fields, or a
//! part whose headers run on.
//!
//! The multipart parser buffers a part's headers until it finds their end,
//! and the whole body is the client's to shape: without these limits one
//! request of endless header bytes, or of a hundred thousand empty fields,
//! takes the server's memory. This reads each byte once and keeps none.
//!
//! It does not parse the form: it only finds where parts start (the
//! boundary's delimiter) and where their headers end (the first empty
//! line after it).

/// Why a form is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The whole body is larger than the upload limit.
    TooLarge,
    /// More parts than [`MAX_PARTS`].
    TooManyParts,
    /// A part's headers are longer than [`MAX_HEADER_BYTES`].
    HeadersTooLong,
}

/// Parts a form may have: the file and the import's options, with room.
pub(crate) const MAX_PARTS: usize = 16;
/// Bytes of one part's headers (its name, file name and type).
pub(crate) const MAX_HEADER_BYTES: usize = 4096;

/// A form's watcher.
#[derive(Debug)]
pub(crate) struct FormGuard {
    /// `\r\n--BOUNDARY`: what starts each part (the first part's comes
    /// without the line break, at the start of the body).
    delimiter: Vec<u8>,
    max_bytes: u64,
    seen: u64,
    parts: usize,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In a part's content (or the preamble), with this many bytes of the
    /// delimiter matched.
    Content(usize),
    /// Just after a delimiter: `--` here closes the form.
    AfterDelimiter,
    /// After the delimiter's first `-`.
    Closing,
    /// In a part's headers: bytes so far, and how many of `\r\n\r\n` end
    /// them.
    Headers(usize, usize),
    /// After the closing delimiter: nothing more is looked at.
    Epilogue,
}

const END_OF_HEADERS: &[u8] = b"\r\n\r\n";

impl FormGuard {
    /// A guard for the form with this boundary, at most `max_bytes` long.
    pub(crate) fn new(boundary: &str, max_bytes: u64) -> FormGuard {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        FormGuard {
            delimiter,
            max_bytes,
            seen: 0,
            parts: 0,
            // The body may start with the delimiter itself, without the
            // line break before it.
            state: State::Content(2),
        }
    }

    /// Looks at the next bytes of the body.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<(), Refusal> {
        self.seen += bytes.len() as u64;
        if self.seen > self.max_bytes {
            return Err(Refusal::TooLarge);
        }
        for &b in bytes {
            self.state = match self.state {
                State::Content(matched) => {
                    if b == self.delimiter[matched] {
                        if matched + 1 == self.delimiter.len() {
                            State::AfterDelimiter
                        } else {
                            State::Content(matched + 1)
                        }
                    } else {
                        // Only the delimiter's first byte (`\r`) can start
                        // it again: no other byte of it is a `\r`.
                        State::Content(usize::from(b == self.delimiter[0]))
                    }
                }
                State::AfterDelimiter if b == b'-' => State::Closing,
                State::AfterDelimiter => self.new_part(b)?,
                State::Closing if b == b'-' => State::Epilogue,
                State::Closing => self.new_part(b)?,
                State::Headers(length, matched) => {
                    if length >= MAX_HEADER_BYTES {
                        return Err(Refusal::HeadersTooLong);
                    }
                    let matched = if b == END_OF_HEADERS[matched] {
                        matched + 1
                    } else {
                        usize::from(b == b'\r')
                    };
                    if matched == END_OF_HEADERS.len() {
                        State::Content(0)
                    } else {
                        State::Headers(length + 1, matched)
                    }
                }
                State::Epilogue => return Ok(()),
            };
        }
        Ok(())
    }

    /// A part starts with `b`, the first byte after its delimiter.
    fn new_part(&mut self, b: u8) -> Result<State, Refusal> {
        self.parts += 1;
        if self.parts > MAX_PARTS {
            return Err(Refusal::TooManyParts);
        }
        // The delimiter's line ends with `\r\n`, which may also be the
        // first half of the empty line that ends no headers at all.
        Ok(State::Headers(1, usize::from(b == b'\r')))
    }
}

/// The boundary of a `multipart/form-data` content type, if it names one.
pub(crate) fn boundary(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"'))
            .filter(|b| !b.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(name: &str, value: &str) -> String {
        format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
    }

    /// Feeds `body` in pieces of `step` bytes.
    fn check(body: &str, max_bytes: u64, step: usize) -> Result<usize, Refusal> {
        let mut guard = FormGuard::new("XyZ", max_bytes);
        for piece in body.as_bytes().chunks(step) {
            guard.feed(piece)?;
        }
        Ok(guard.parts)
    }

    #[test]
    fn a_form_of_a_file_and_options_passes_in_pieces_of_any_size() {
        let body = format!(
            "{}{}{}--XyZ--\r\n",
            part(
                "file",
                "Display Name (Mandatory)\r\nJane,jane@acme.example\r\n"
            ),
            part("voice", "true"),
            part("passwords", "none")
        );
        for step in [1, 2, 3, 7, 64, body.len()] {
            assert_eq!(check(&body, 10_000, step), Ok(3), "in pieces of {step}");
        }
        // Content that starts like a delimiter but is not one is content.
        let tricky = format!("{}--XyZ--\r\n", part("file", "a\r\n--Xy\r\n-XyZ\r\r\n--X"));
        assert_eq!(check(&tricky, 10_000, 1), Ok(1));
    }

    #[test]
    fn too_large_too_many_parts_and_endless_headers_are_refused() {
        let body = format!("{}--XyZ--\r\n", part("file", &"x".repeat(500)));
        assert_eq!(check(&body, 100, 10), Err(Refusal::TooLarge));
        let many: String = (0..=MAX_PARTS)
            .map(|i| part(&format!("f{i}"), ""))
            .collect();
        assert_eq!(check(&many, 1_000_000, 5), Err(Refusal::TooManyParts));
        let endless = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"{}\"",
            "n".repeat(MAX_HEADER_BYTES)
        );
        assert_eq!(
            check(&endless, 1_000_000, 100),
            Err(Refusal::HeadersTooLong)
        );
        // Whatever follows the closing delimiter is not looked at.
        let epilogue = format!(
            "{}--XyZ--\r\n{}",
            part("voice", "true"),
            "--XyZ\r\n".repeat(100)
        );
        assert_eq!(check(&epilogue, 1_000_000, 3), Ok(1));
    }

    #[test]
    fn the_boundary_is_read_from_the_content_type() {
        assert_eq!(boundary("multipart/form-data; boundary=XyZ"), Some("XyZ"));
        assert_eq!(
            boundary("multipart/form-data; charset=utf-8; Boundary=\"a b\""),
            Some("a b")
        );
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(boundary("multipart/form-data; boundary="), None);
    }
}
