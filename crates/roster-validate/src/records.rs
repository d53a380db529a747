//! `Records`: CSV records out of a stream of UTF-8 bytes, with the line each
//! starts on.
//!
//! A small hand-written RFC 4180 reader rather than the `csv` crate, for
//! three things a validator needs and a general reader does not give: the
//! line a record starts on (quoted cells may span lines), a cap on the size of
//! one record so a 100 MB line or a quote that is never closed cannot take the
//! memory, and the line of a quote that is never closed. It is lenient where
//! spreadsheets are sloppy (a stray quote inside a cell is kept as text) and
//! strict where data would be lost (an unclosed quote is an error, not a
//! record that swallows the rest of the file).

use std::io::{self, Read};

/// How many bytes are read from the input at a time.
const BLOCK: usize = 64 * 1024;

/// A reader of CSV records.
pub(crate) struct Records {
    input: Box<dyn Read + Send>,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    delimiter: u8,
    /// The line of the next byte.
    line: u64,
    /// A CR ended the last line: a LF right after it belongs to the same break.
    after_cr: bool,
    max_record_bytes: usize,
    /// Bytes of the input before `buf[0]`.
    base: u64,
    /// Bytes of the file before the input (a byte-order mark); `None` when
    /// the input is transcoded, and its places are not the file's.
    prefix: Option<u64>,
}

/// One record: its fields, and the line it starts on.
#[derive(Debug, Default)]
pub(crate) struct Record {
    pub(crate) line: u64,
    /// Where in the file the record starts, when that is known.
    pub(crate) offset: Option<u64>,
    text: String,
    /// Where each field ends in `text`.
    ends: Vec<usize>,
}

/// Why the records of a file cannot be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(io::Error),
    /// A byte that is not UTF-8, on `line` in field `field` (0-based).
    Utf8 {
        line: u64,
        field: usize,
        byte: u8,
    },
    /// A NUL byte: the file is damaged or not text.
    Nul {
        line: u64,
    },
    /// A quoted field opened on `line` is still open at the end of the file.
    UnclosedQuote {
        line: u64,
    },
    /// The record starting on `line` passes the record size cap;
    /// `quote_line` is where an unclosed quote started, when the cap was
    /// passed inside a quoted cell that holds most of the record.
    RecordTooLong {
        line: u64,
        quote_line: Option<u64>,
        max: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: either the first of `""` or the end.
    QuoteInQuoted,
}

impl Records {
    /// Reads records from `input`, starting at line 1. The delimiter is
    /// decided from the first line by [`Records::sniff_delimiter`].
    pub(crate) fn new(
        input: Box<dyn Read + Send>,
        max_record_bytes: usize,
        prefix: Option<u64>,
    ) -> Records {
        Records {
            input,
            buf: vec![0; BLOCK],
            pos: 0,
            end: 0,
            eof: false,
            delimiter: b',',
            line: 1,
            after_cr: false,
            max_record_bytes,
            base: 0,
            prefix,
        }
    }

    /// Goes on reading from `input`, which starts at the first byte of a
    /// record on `line` at `offset` in the file (a place an earlier read gave
    /// as [`Record::offset`]), with the delimiter found before.
    pub(crate) fn restart(&mut self, input: Box<dyn Read + Send>, offset: u64, line: u64) {
        self.input = input;
        self.pos = 0;
        self.end = 0;
        self.eof = false;
        self.line = line;
        self.after_cr = false;
        self.base = 0;
        self.prefix = Some(offset);
    }

    /// Consumes an Excel `sep=X` line if the file starts with one, then picks
    /// the delimiter: whichever of comma, semicolon and tab splits the header
    /// line into the most cells that `is_header` recognises. The one a `sep=`
    /// line declares keeps the place unless another recognises more (the
    /// line may have been kept when the file was saved again with another
    /// delimiter); without one, comma wins a tie.
    pub(crate) fn sniff_delimiter(&mut self, is_header: impl Fn(&str) -> bool) -> io::Result<u8> {
        let declared = sep_line(&String::from_utf8_lossy(self.peek_line()?));
        if declared.is_some() {
            self.skip_line()?;
        }
        let header = String::from_utf8_lossy(self.peek_line()?);
        let header = header.trim_end_matches(['\r', '\n']);
        let score = |d: u8| {
            let cells = split_naive(header, d as char);
            (cells.iter().filter(|c| is_header(c)).count(), cells.len())
        };
        let mut best = declared.unwrap_or(b',');
        for candidate in [b',', b';', b'\t'] {
            let better = match declared {
                Some(_) => score(candidate).0 > score(best).0,
                None => score(candidate) > score(best),
            };
            if better {
                best = candidate;
            }
        }
        self.delimiter = best;
        Ok(best)
    }

    /// Reads the next record into `record`; false at the end of the input.
    pub(crate) fn read(&mut self, record: &mut Record) -> Result<bool, ReadError> {
        let mut bytes = std::mem::take(&mut record.text).into_bytes();
        bytes.clear();
        record.ends.clear();
        if !self.start_record(record)? || !self.scan(record, &mut bytes)? {
            record.text = String::from_utf8(bytes).unwrap_or_default();
            return Ok(false);
        }
        record.text = utf8_text(record, bytes)?;
        Ok(true)
    }

    /// Marks where the next record starts in `record`, past the LF of a
    /// CRLF whose CR ended the previous one; false at the end of the input.
    fn start_record(&mut self, record: &mut Record) -> Result<bool, ReadError> {
        if self.after_cr {
            if self.pos == self.end && !self.fill().map_err(ReadError::Io)? {
                return Ok(false);
            }
            if self.buf[self.pos] == b'\n' {
                self.pos += 1;
            }
            self.after_cr = false;
        }
        record.line = self.line;
        record.offset = self
            .prefix
            .map(|prefix| prefix + self.base + self.pos as u64);
        Ok(true)
    }

    /// Reads the cells of one record into `bytes`, with where each ends in
    /// `record`; false when the input ended before the record began.
    fn scan(&mut self, record: &mut Record, bytes: &mut Vec<u8>) -> Result<bool, ReadError> {
        let mut state = State::FieldStart;
        let mut quote_line = 0;
        // Where the text of the quoted cell being read starts in `bytes`.
        let mut quote_start = 0;
        // Bytes of the input this record took so far. The cap is on these,
        // not on the text of the cells: a line of nothing but delimiters has
        // no text, yet every delimiter costs a place in `ends`.
        let mut raw = 0;
        let delimiter = self.delimiter;
        loop {
            if self.pos == self.end && !self.fill().map_err(ReadError::Io)? {
                // End of input.
                if state == State::Quoted {
                    return Err(ReadError::UnclosedQuote { line: quote_line });
                }
                if state == State::FieldStart && record.ends.is_empty() && bytes.is_empty() {
                    return Ok(false);
                }
                record.ends.push(bytes.len());
                return Ok(true);
            }
            let chunk = &self.buf[self.pos..self.end];
            let mut consumed = 0;
            let mut done = false;
            for &b in chunk {
                consumed += 1;
                if b == 0 {
                    return Err(ReadError::Nul { line: self.line });
                }
                match state {
                    State::FieldStart | State::Unquoted | State::QuoteInQuoted => {
                        if b == delimiter {
                            record.ends.push(bytes.len());
                            state = State::FieldStart;
                        } else if b == b'\n' || b == b'\r' {
                            self.line += 1;
                            self.after_cr = b == b'\r';
                            record.ends.push(bytes.len());
                            done = true;
                            break;
                        } else if b == b'"' && state == State::FieldStart {
                            state = State::Quoted;
                            quote_line = self.line;
                            quote_start = bytes.len();
                        } else if b == b'"' && state == State::QuoteInQuoted {
                            bytes.push(b'"');
                            state = State::Quoted;
                        } else {
                            // A quote inside an unquoted cell, or text after a
                            // closing quote, is kept as it is.
                            bytes.push(b);
                            state = State::Unquoted;
                        }
                    }
                    State::Quoted => {
                        if b == b'"' {
                            state = State::QuoteInQuoted;
                        } else {
                            if b == b'\n' {
                                self.line += 1;
                            }
                            bytes.push(b);
                        }
                    }
                }
            }
            self.pos += consumed;
            raw += consumed;
            if raw > self.max_record_bytes {
                return Err(ReadError::RecordTooLong {
                    line: record.line,
                    // Cut inside a short quoted cell (a line of `"",`), the
                    // quote is not what is wrong.
                    quote_line: (state == State::Quoted
                        && bytes.len() - quote_start > self.max_record_bytes / 2)
                        .then_some(quote_line),
                    max: self.max_record_bytes,
                });
            }
            if done {
                return Ok(true);
            }
        }
    }

    /// Refills the buffer; false when the input is exhausted.
    fn fill(&mut self) -> io::Result<bool> {
        if self.pos < self.end {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        self.base += self.end as u64;
        self.pos = 0;
        self.end = 0;
        loop {
            match self.input.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end = n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The bytes of the first line (up to the record cap) without consuming them.
    fn peek_line(&mut self) -> io::Result<&[u8]> {
        loop {
            let window = &self.buf[self.pos..self.end];
            if window.contains(&b'\n') || self.eof || window.len() >= self.max_record_bytes {
                break;
            }
            // Move what is buffered to the front and read more behind it.
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
            if self.end == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let window = &self.buf[self.pos..self.end];
        let len = window
            .iter()
            .position(|b| *b == b'\n')
            .map_or(window.len(), |i| i + 1);
        Ok(&window[..len])
    }

    fn skip_line(&mut self) -> io::Result<()> {
        let len = self.peek_line()?.len();
        self.pos += len;
        self.line += 1;
        Ok(())
    }
}

/// The text of a record's cells, when they are UTF-8 each; or where the
/// first byte that is not is, by line and field.
fn utf8_text(record: &Record, bytes: Vec<u8>) -> Result<String, ReadError> {
    let (bytes, bad) = match String::from_utf8(bytes) {
        Ok(text) => {
            // The cells are valid only cut where a character ends: a
            // delimiter between the bytes of one (`\xC3,\xA9`) leaves
            // text that is UTF-8 only once the delimiter is gone.
            let Some(end) = record.ends.iter().find(|&&end| !text.is_char_boundary(end)) else {
                return Ok(text);
            };
            let start = (0..*end)
                .rev()
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            (text.into_bytes(), start)
        }
        Err(e) => {
            let bad = e.utf8_error().valid_up_to();
            (e.into_bytes(), bad)
        }
    };
    let field = record.ends.iter().take_while(|end| **end <= bad).count();
    let newlines = bytes[..bad].iter().filter(|b| **b == b'\n').count();
    Err(ReadError::Utf8 {
        line: record.line + newlines as u64,
        field,
        byte: bytes[bad],
    })
}

impl Record {
    /// How many fields the record has.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Field `i` (0-based), or "" past the end.
    pub(crate) fn field(&self, i: usize) -> &str {
        let start = match i {
            0 => 0,
            _ => self.ends.get(i - 1).copied().unwrap_or(usize::MAX),
        };
        let end = self.ends.get(i).copied().unwrap_or(0);
        self.text.get(start..end).unwrap_or("")
    }

    /// Every field in order.
    pub(crate) fn fields(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.field(i))
    }

    /// True when every field is empty or spaces: a blank row.
    pub(crate) fn is_blank(&self) -> bool {
        self.text.trim().is_empty()
    }
}

/// The delimiter an Excel `sep=X` line declares, or `None` when `line` is
/// not one. Saving the file again in a spreadsheet turns the line into a
/// cell of its own: quoted when it holds the delimiter (`"sep=,"`), padded
/// with delimiters to the width of the table (`sep=;;;;`, `"sep=,",,,`).
fn sep_line(line: &str) -> Option<u8> {
    let line = line.trim_end_matches(['\r', '\n']);
    let (cell, rest) = match line.strip_prefix('"') {
        Some(quoted) => quoted.split_once('"')?,
        None => (line.get(..5)?, line.get(5..)?),
    };
    let value = cell
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("sep="))
        .and_then(|_| cell.get(4..))?;
    let &[sep] = value.as_bytes() else {
        return None;
    };
    let padding = |b: u8| b == sep || matches!(b, b',' | b';' | b'\t');
    (sep.is_ascii() && !matches!(sep, b'"' | b'\r' | b'\n') && rest.bytes().all(padding))
        .then_some(sep)
}

/// Splits a header line on `d`, respecting double quotes well enough to
/// choose a delimiter.
fn split_naive(line: &str, d: char) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c == d && !quoted => cells.push(String::new()),
            c => {
                if let Some(cell) = cells.last_mut() {
                    cell.push(c);
                }
            }
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use expect_test::{Expect, expect};

    use super::{Record, Records};

    fn check(input: &str, expect: Expect) {
        check_bytes(input.as_bytes(), 1024, expect);
    }

    fn check_bytes(input: &[u8], cap: usize, expect: Expect) {
        let mut records = Records::new(Box::new(Cursor::new(input.to_vec())), cap, Some(0));
        let mut out = String::new();
        match records.sniff_delimiter(|h| h.starts_with('h')) {
            Ok(d) => out.push_str(&format!("delimiter {:?}\n", d as char)),
            Err(e) => out.push_str(&format!("error {e}\n")),
        }
        let mut record = Record::default();
        loop {
            match records.read(&mut record) {
                Ok(true) => {
                    let fields: Vec<&str> = record.fields().collect();
                    out.push_str(&format!("{}: {fields:?}\n", record.line));
                }
                Ok(false) => break,
                Err(e) => {
                    out.push_str(&format!("{e:?}\n"));
                    break;
                }
            }
        }
        expect.assert_eq(&out);
    }

    #[test]
    fn records_know_the_line_they_start_on() {
        check(
            "h1,h2\r\na,\"multi\nline\"\r\n\r\n\"x\"\"y\",z\nlast,row",
            expect![[r#"
                delimiter ','
                1: ["h1", "h2"]
                2: ["a", "multi\nline"]
                4: [""]
                5: ["x\"y", "z"]
                6: ["last", "row"]
            "#]],
        );
    }

    #[test]
    fn semicolon_tab_and_sep_lines_choose_the_delimiter() {
        check(
            "h1;h2\na;b\n",
            expect![[r#"
            delimiter ';'
            1: ["h1", "h2"]
            2: ["a", "b"]
        "#]],
        );
        check(
            "h1\th2\na\tb",
            expect![[r#"
            delimiter '\t'
            1: ["h1", "h2"]
            2: ["a", "b"]
        "#]],
        );
        check(
            "sep=|\nh1|h2\na|b",
            expect![[r#"
            delimiter '|'
            2: ["h1", "h2"]
            3: ["a", "b"]
        "#]],
        );
    }

    #[test]
    fn stray_quotes_are_text_and_unclosed_quotes_are_errors() {
        check(
            "h1,h2\n5\" disk,\"a\"b\n",
            expect![[r#"
            delimiter ','
            1: ["h1", "h2"]
            2: ["5\" disk", "ab"]
        "#]],
        );
        check(
            "h1,h2\na,\"never closed\nb,c\n",
            expect![[r#"
            delimiter ','
            1: ["h1", "h2"]
            UnclosedQuote { line: 2 }
        "#]],
        );
    }

    /// Excel keeps a `sep=` line when it saves the file again, as a cell of
    /// its own: padded with delimiters, quoted when it holds the delimiter.
    #[test]
    fn sep_lines_as_spreadsheets_save_them_again_are_recognised() {
        check(
            "sep=;;;;\nh1;h2;;;\na;b;;;\n",
            expect![[r#"
                delimiter ';'
                2: ["h1", "h2", "", "", ""]
                3: ["a", "b", "", "", ""]
            "#]],
        );
        check(
            "\"sep=;\"\r\nh1;h2\r\na;b\r\n",
            expect![[r#"
                delimiter ';'
                2: ["h1", "h2"]
                3: ["a", "b"]
            "#]],
        );
        check(
            "\"sep=,\",,\nh1,h2,\n",
            expect![[r#"
                delimiter ','
                2: ["h1", "h2", ""]
            "#]],
        );
        check(
            "SEP=\t\nh1\th2\n",
            expect![[r#"
                delimiter '\t'
                2: ["h1", "h2"]
            "#]],
        );
        // Saved again with commas: the header says more than the old line.
        check(
            "\"sep=;\",\nh1,h2\n",
            expect![[r#"
                delimiter ','
                2: ["h1", "h2"]
            "#]],
        );
        // Not a sep line: more than one character after `sep=`.
        check(
            "sep=;x\nh1;h2\n",
            expect![[r#"
                delimiter ';'
                1: ["sep=", "x"]
                2: ["h1", "h2"]
            "#]],
        );
    }

    /// Regression (#7): the cap counted the text of the cells only, so a
    /// line of nothing but delimiters was read whole, a field end per byte.
    #[test]
    fn a_line_of_delimiters_stops_at_the_record_cap() {
        for cell in [&b","[..], b"\"\","] {
            let mut line = b"h1,h2\n".to_vec();
            for _ in 0..100_000 {
                line.extend_from_slice(cell);
            }
            check_bytes(
                &line,
                1000,
                expect![[r#"
                    delimiter ','
                    1: ["h1", "h2"]
                    RecordTooLong { line: 2, quote_line: None, max: 1000 }
                "#]],
            );
        }
    }

    /// An endless single line: if the reader kept what it read, this test
    /// would never end.
    #[test]
    fn an_endless_line_stops_at_the_record_cap() {
        struct Endless;
        impl std::io::Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                buf.fill(b'x');
                Ok(buf.len())
            }
        }
        let mut records = Records::new(Box::new(Endless), 1 << 20, Some(0));
        let result = records.read(&mut Record::default());
        assert!(
            matches!(
                result,
                Err(super::ReadError::RecordTooLong {
                    line: 1,
                    quote_line: None,
                    max: 1_048_576
                })
            ),
            "{result:?}"
        );
    }

    #[test]
    fn bad_bytes_and_long_records_stop_the_reader() {
        check_bytes(
            b"h1,h2\na,caf\xe9\n",
            1024,
            expect![[r#"
            delimiter ','
            1: ["h1", "h2"]
            Utf8 { line: 2, field: 1, byte: 233 }
        "#]],
        );
        // The bytes of one character split by a delimiter are two bad cells,
        // not one good character once the cells are joined.
        check_bytes(
            b"h1,h2,h3\na,Eng\xC3,\xA9R&D\n",
            1024,
            expect![[r#"
            delimiter ','
            1: ["h1", "h2", "h3"]
            Utf8 { line: 2, field: 1, byte: 195 }
        "#]],
        );
        check_bytes(
            b"h1,h2\na,b\0\n",
            1024,
            expect![[r#"
            delimiter ','
            1: ["h1", "h2"]
            Nul { line: 2 }
        "#]],
        );
        let mut long = b"h1,h2\na,\"".to_vec();
        long.extend(std::iter::repeat_n(b'x', 200_000));
        check_bytes(
            &long,
            1000,
            expect![[r#"
            delimiter ','
            1: ["h1", "h2"]
            RecordTooLong { line: 2, quote_line: Some(2), max: 1000 }
        "#]],
        );
    }
}
