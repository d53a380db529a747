//! The bytes of an upload, before they are CSV: size cap, byte-order marks,
//! UTF-16 transcoding, and the refusal of files that are not text at all.
//!
//! Everything here is streaming. Only the first block of the file is looked
//! at to decide what the file is; the rest passes through a fixed buffer.

use std::io::{self, Cursor, Read};

/// How much of the start of a file decides what kind of file it is.
const SNIFF_BYTES: usize = 8 * 1024;

/// What the start of a file says about it.
pub(crate) enum Sniffed {
    /// Text to parse as CSV, decoded to UTF-8 as it is read. With the
    /// number of bytes before it (a byte-order mark) when its bytes are the
    /// file's own; `None` when they are transcoded (UTF-16), so that a place
    /// in the text is no place in the file.
    Text(Box<dyn Read + Send>, Option<u64>),
    /// Not one byte, or nothing but a byte-order mark.
    Empty,
    /// A workbook, an archive or other binary content; the text names it.
    NotCsv(&'static str),
    /// Text in an encoding roster does not read; the text says which.
    Encoding(&'static str),
}

/// Raised by [`Capped`] when the file passes the size limit.
#[derive(Debug, thiserror::Error)]
#[error("file is larger than {max_bytes} bytes")]
pub(crate) struct TooLarge {
    pub(crate) max_bytes: u64,
}

/// Raised by the UTF-16 decoder on a broken surrogate pair or odd length.
#[derive(Debug, thiserror::Error)]
#[error("invalid UTF-16 at byte {offset}")]
pub(crate) struct BadUtf16 {
    pub(crate) offset: u64,
}

/// Reads the start of `input` and decides what the file is.
pub(crate) fn sniff(input: Box<dyn Read + Send>, max_bytes: u64) -> io::Result<Sniffed> {
    let mut input = Capped {
        inner: input,
        read: 0,
        max_bytes,
    };
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut input)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)?;

    if let Some(kind) = binary_kind(&head) {
        return Ok(Sniffed::NotCsv(kind));
    }
    let (skip, utf16) = match head.as_slice() {
        [0xEF, 0xBB, 0xBF, ..] => (3, None),
        [0xFF, 0xFE, ..] => (2, Some(Endian::Little)),
        [0xFE, 0xFF, ..] => (2, Some(Endian::Big)),
        _ => (0, None),
    };
    if head.len() == skip {
        return Ok(Sniffed::Empty);
    }
    if utf16.is_none() && head.contains(&0) {
        return Ok(if looks_like_utf16(&head) {
            Sniffed::Encoding(
                "the file looks like UTF-16 without a byte-order mark; \
                 save it as 'CSV UTF-8 (Comma delimited)'",
            )
        } else {
            Sniffed::NotCsv("the file holds binary data, not text")
        });
    }
    let mut rest: Box<dyn Read + Send> = Box::new(Cursor::new(head).chain(input));
    io::copy(&mut (&mut rest).take(skip as u64), &mut io::sink())?;
    Ok(match utf16 {
        None => Sniffed::Text(rest, Some(skip as u64)),
        Some(endian) => Sniffed::Text(Box::new(Utf16Decoder::new(rest, endian)), None),
    })
}

/// Names the binary formats people upload instead of CSV.
fn binary_kind(head: &[u8]) -> Option<&'static str> {
    const KINDS: &[(&[u8], &str)] = &[
        (
            b"PK\x03\x04",
            "the file is an Excel workbook (.xlsx) or another ZIP archive",
        ),
        (b"PK\x05\x06", "the file is an empty ZIP archive"),
        (
            b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
            "the file is an Excel 97-2003 workbook (.xls)",
        ),
        (b"%PDF", "the file is a PDF document"),
        (b"{\\rtf", "the file is an RTF document"),
        (b"\x1F\x8B", "the file is gzip-compressed"),
    ];
    KINDS
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|(_, kind)| *kind)
}

/// ASCII text in UTF-16 has a zero in every other byte.
fn looks_like_utf16(head: &[u8]) -> bool {
    let pairs = head.len() / 2;
    let zeros_even = head.iter().step_by(2).filter(|b| **b == 0).count();
    let zeros_odd = head.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
    pairs > 0 && (zeros_even * 10 > pairs * 8 || zeros_odd * 10 > pairs * 8)
}

/// Counts bytes and fails once there are more than `max_bytes`.
struct Capped {
    inner: Box<dyn Read + Send>,
    read: u64,
    max_bytes: u64,
}

impl Read for Capped {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.max_bytes {
            return Err(io::Error::other(TooLarge {
                max_bytes: self.max_bytes,
            }));
        }
        Ok(n)
    }
}

#[derive(Debug, Clone, Copy)]
enum Endian {
    Little,
    Big,
}

/// UTF-16 in, UTF-8 out, a block at a time.
struct Utf16Decoder {
    inner: Box<dyn Read + Send>,
    endian: Endian,
    /// A byte of an unfinished code unit, or a high surrogate waiting for its pair.
    odd_byte: Option<u8>,
    high_surrogate: Option<u16>,
    /// Decoded bytes not yet handed out.
    out: Vec<u8>,
    out_pos: usize,
    offset: u64,
}

impl Utf16Decoder {
    fn new(inner: Box<dyn Read + Send>, endian: Endian) -> Utf16Decoder {
        Utf16Decoder {
            inner,
            endian,
            odd_byte: None,
            high_surrogate: None,
            out: Vec::new(),
            out_pos: 0,
            offset: 2,
        }
    }

    /// Decodes the next block into `out`; false at the end of the input.
    fn decode_block(&mut self) -> io::Result<bool> {
        let mut raw = [0u8; 16 * 1024];
        let n = self.inner.read(&mut raw)?;
        self.out.clear();
        self.out_pos = 0;
        if n == 0 {
            if self.odd_byte.is_some() || self.high_surrogate.is_some() {
                return Err(io::Error::other(BadUtf16 {
                    offset: self.offset,
                }));
            }
            return Ok(false);
        }
        let mut bytes = raw[..n].iter().copied();
        loop {
            let (a, b) = match self.odd_byte.take() {
                Some(a) => match bytes.next() {
                    Some(b) => (a, b),
                    None => {
                        self.odd_byte = Some(a);
                        break;
                    }
                },
                None => match (bytes.next(), bytes.next()) {
                    (Some(a), Some(b)) => (a, b),
                    (Some(a), None) => {
                        self.odd_byte = Some(a);
                        break;
                    }
                    _ => break,
                },
            };
            let unit = match self.endian {
                Endian::Little => u16::from_le_bytes([a, b]),
                Endian::Big => u16::from_be_bytes([a, b]),
            };
            self.push_unit(unit)?;
            self.offset += 2;
        }
        Ok(true)
    }

    fn push_unit(&mut self, unit: u16) -> io::Result<()> {
        let bad = || {
            io::Error::other(BadUtf16 {
                offset: self.offset,
            })
        };
        let c = match (self.high_surrogate.take(), unit) {
            (None, 0xD800..=0xDBFF) => {
                self.high_surrogate = Some(unit);
                return Ok(());
            }
            (None, 0xDC00..=0xDFFF) => return Err(bad()),
            (None, _) => char::from_u32(u32::from(unit)),
            (Some(high), 0xDC00..=0xDFFF) => char::from_u32(
                0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(unit) - 0xDC00),
            ),
            (Some(_), _) => return Err(bad()),
        };
        let c = c.ok_or_else(bad)?;
        let mut utf8 = [0u8; 4];
        self.out
            .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        Ok(())
    }
}

impl Read for Utf16Decoder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_pos == self.out.len() {
            if !self.decode_block()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

impl std::fmt::Debug for Sniffed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sniffed::Text(..) => f.write_str("Text"),
            Sniffed::Empty => f.write_str("Empty"),
            Sniffed::NotCsv(kind) => f.debug_tuple("NotCsv").field(kind).finish(),
            Sniffed::Encoding(why) => f.debug_tuple("Encoding").field(why).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};

    use super::{Sniffed, sniff};

    fn text(bytes: &[u8]) -> String {
        match sniff(Box::new(Cursor::new(bytes.to_vec())), 1 << 20) {
            Ok(Sniffed::Text(mut r, _)) => {
                let mut s = String::new();
                match r.read_to_string(&mut s) {
                    Ok(_) => s,
                    Err(e) => format!("error {e}"),
                }
            }
            Ok(other) => format!("{other:?}"),
            Err(e) => format!("error {e}"),
        }
    }

    #[test]
    fn byte_order_marks_are_dropped_and_utf16_transcoded() {
        assert_eq!(text(b"\xEF\xBB\xBFa,b"), "a,b");
        assert_eq!(text(b"\xFF\xFEa\0,\0\xe9\0"), "a,\u{e9}");
        assert_eq!(text(b"\xFE\xFF\0a\0,\xd8\x3d\xde\x00"), "a,\u{1F600}");
        assert_eq!(
            text(b"\xFF\xFEa\0\x00\xdc"),
            "error invalid UTF-16 at byte 4"
        );
    }

    #[test]
    fn binary_files_are_named() {
        assert_eq!(
            text(b"PK\x03\x04rest"),
            r#"NotCsv("the file is an Excel workbook (.xlsx) or another ZIP archive")"#
        );
        assert_eq!(text(b""), "Empty");
        assert_eq!(text(b"\xEF\xBB\xBF"), "Empty");
        assert_eq!(
            text(b"a\0b\0c\0"),
            r#"Encoding("the file looks like UTF-16 without a byte-order mark; save it as 'CSV UTF-8 (Comma delimited)'")"#
        );
    }

    #[test]
    fn size_cap_is_enforced_while_reading() {
        let big = vec![b'a'; 100];
        let result = sniff(Box::new(Cursor::new(big)), 50);
        assert_eq!(
            result.map(|_| ()).map_err(|e| e.to_string()),
            Err("file is larger than 50 bytes".to_string())
        );
    }
}
