//! Uniqueness within the file: no email, number or extension is used by
//! two rows. Decided once every row has been read, with memory that does
//! not grow with the file.
//!
//! Checking row by row needs every key seen so far in memory: for a file
//! of millions of rows, more than the rest of validation put together.
//! Instead each row's keys go to one of a few partitions by a hash of the
//! key, kept in a [`Scratch`]; once every row is read, each partition is
//! read back and sorted on its own, and every use of a key after its first
//! is a duplicate of that first. The duplicates come out in runs sorted by
//! line, to be merged with the other errors (see `validator.rs`).
//!
//! Emails are compared by a 128-bit hash of their key, as before: two
//! different addresses colliding is beyond any practical chance.

use std::borrow::Cow;
use std::io::{self, Read};

use roster_template::Column;
use xxhash_rust::xxh3::xxh3_128;

use crate::check::Checked;
use crate::report::Found;
use crate::scratch::{Scratch, SpillBuffer, Spilled, read_array};
use crate::{Code, E164, Extension, RowError};

/// Partitions per kind of key: a file of five million rows gives each some
/// hundreds of thousands of keys to sort at the end, some tens of MiB.
const PARTS: usize = 16;
/// Bytes a partition keeps in memory before it goes to the scratch.
const PART_BUDGET: usize = 256 * 1024;
/// Duplicates sorted in memory at a time, before a run goes to the scratch.
const RUN_ERRORS: usize = 100_000;
/// Bytes of a run kept in memory before it goes to the scratch.
const RUN_BUDGET: usize = 4 * 1024 * 1024;

/// The scratch areas this module uses start here (the validator's own
/// errors use area 0): the partitions, the extensions, then the runs.
pub(crate) const FIRST_AREA: usize = 2;
const EXTENSIONS_AREA: usize = FIRST_AREA + 3 * PARTS;

/// What kind of key a row uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    Email = 0,
    Number = 1,
    Extension = 2,
}

/// One use of a key by a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyUse<'a> {
    kind: Kind,
    /// The email's hash, the number's digits, or the extension (its digit
    /// count above its value).
    key: u128,
    line: u64,
    column: Column,
    /// The address as typed, for an email.
    typed: Cow<'a, str>,
}

impl<'a> KeyUse<'a> {
    pub(crate) fn email(key: &str, typed: &'a str, line: u64) -> KeyUse<'a> {
        KeyUse {
            kind: Kind::Email,
            key: xxh3_128(key.as_bytes()),
            line,
            column: Column::Email,
            typed: Cow::Borrowed(typed),
        }
    }

    pub(crate) fn number(n: E164, line: u64, column: Column) -> KeyUse<'a> {
        KeyUse {
            kind: Kind::Number,
            key: u128::from(n.digits()),
            line,
            column,
            typed: Cow::Borrowed(""),
        }
    }

    pub(crate) fn extension(e: Extension, line: u64) -> KeyUse<'a> {
        KeyUse {
            kind: Kind::Extension,
            key: e.packed(),
            line,
            column: Column::Extension,
            typed: Cow::Borrowed(""),
        }
    }

    fn part(&self) -> usize {
        let spread = (self.key as u64) ^ ((self.key >> 64) as u64);
        // Numbers and extensions are close to sequential: mix them first.
        let mixed = spread.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60;
        self.kind as usize * PARTS + mixed as usize % PARTS
    }

    /// The error of this use when the key was first used on `first`.
    fn duplicate_of(&self, first: u64) -> Found {
        let (code, message) = match self.kind {
            Kind::Email => (
                Code::DuplicateEmail,
                format!(
                    "{} is already used on row {first}; each user needs a different address \
                     (addresses differing only in capitals are the same)",
                    self.typed
                ),
            ),
            Kind::Number => (
                Code::DuplicateNumber,
                format!(
                    "{} is already used on row {first}; a number belongs to one user only",
                    self.number_text()
                ),
            ),
            Kind::Extension => (
                Code::DuplicateExtension,
                format!(
                    "{} is already used on row {first}; give each user a different extension \
                     or leave the cell empty to have one assigned",
                    self.extension_text()
                ),
            ),
        };
        Found::duplicate(RowError {
            row: self.line,
            column: Some(self.column),
            code,
            message,
        })
    }

    fn number_text(&self) -> String {
        u64::try_from(self.key)
            .ok()
            .and_then(|d| E164::from_digits(d).ok())
            .map_or_else(|| self.key.to_string(), |n| n.to_string())
    }

    fn extension_text(&self) -> String {
        Extension::unpacked(self.key).map_or_else(|| self.key.to_string(), |e| e.to_string())
    }
}

impl Spilled for KeyUse<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        out.push(self.kind as u8);
        out.extend_from_slice(&self.key.to_le_bytes());
        out.extend_from_slice(&self.line.to_le_bytes());
        out.push(self.column.index() as u8);
        let typed = self.typed.as_bytes();
        out.extend_from_slice(&(typed.len() as u16).to_le_bytes());
        out.extend_from_slice(typed);
    }

    fn read(input: &mut dyn Read) -> io::Result<Option<Self>> {
        let Some(head) = read_array::<28>(input)? else {
            return Ok(None);
        };
        let corrupt = || io::Error::new(io::ErrorKind::InvalidData, "a key use read back wrong");
        let kind = match head[0] {
            0 => Kind::Email,
            1 => Kind::Number,
            2 => Kind::Extension,
            _ => return Err(corrupt()),
        };
        let key = u128::from_le_bytes(head[1..17].try_into().map_err(|_| corrupt())?);
        let line = u64::from_le_bytes(head[17..25].try_into().map_err(|_| corrupt())?);
        let column = *Column::ALL.get(usize::from(head[25])).ok_or_else(corrupt)?;
        let len = usize::from(u16::from_le_bytes([head[26], head[27]]));
        let mut typed = vec![0u8; len];
        input.read_exact(&mut typed)?;
        Ok(Some(KeyUse {
            kind,
            key,
            line,
            column,
            typed: Cow::Owned(String::from_utf8(typed).map_err(|_| corrupt())?),
        }))
    }
}

/// Every key the rows so far used, in partitions.
pub(crate) struct Uniques {
    parts: Vec<SpillBuffer>,
}

/// Runs of duplicate errors, each sorted by line; and the extensions the
/// rows name, each once.
pub(crate) struct Duplicates {
    pub(crate) runs: Vec<SpillBuffer>,
    pub(crate) extensions: SpillBuffer,
}

impl Uniques {
    pub(crate) fn new() -> Uniques {
        Uniques {
            parts: (0..3 * PARTS)
                .map(|p| SpillBuffer::new(FIRST_AREA + p, PART_BUDGET))
                .collect(),
        }
    }

    /// Keeps the keys a checked row uses: its address, numbers and
    /// extension.
    pub(crate) fn add_row(&mut self, row: &Checked, scratch: &mut dyn Scratch) -> io::Result<()> {
        let claims = &row.claims;
        let line = claims.line;
        if let (Some(email), Some(key)) = (&row.email, &claims.email_key) {
            self.add(&KeyUse::email(key, email.as_str(), line), scratch)?;
        }
        for (n, column) in claims.numbers() {
            self.add(&KeyUse::number(n, line, column), scratch)?;
        }
        if let Some(extension) = claims.extension {
            self.add(&KeyUse::extension(extension, line), scratch)?;
        }
        Ok(())
    }

    fn add(&mut self, used: &KeyUse<'_>, scratch: &mut dyn Scratch) -> io::Result<()> {
        self.parts[used.part()].push(used, scratch)
    }

    /// Finds every use of a key after its first, as errors in runs sorted
    /// by line, in the scratch areas after the partitions'; and keeps each
    /// extension the rows name once (an import reserves them).
    pub(crate) fn duplicates(&mut self, scratch: &mut dyn Scratch) -> io::Result<Duplicates> {
        let mut found = Duplicates {
            runs: Vec::new(),
            extensions: SpillBuffer::new(EXTENSIONS_AREA, RUN_BUDGET),
        };
        let mut pending: Vec<Found> = Vec::new();
        for part in 0..self.parts.len() {
            let mut uses = Vec::new();
            {
                let mut read = self.parts[part].drain(scratch)?;
                while let Some(used) = KeyUse::read(&mut read)? {
                    uses.push(used);
                }
            }
            scratch.clear(FIRST_AREA + part)?;
            uses.sort_unstable_by_key(|u| (u.key, u.line));
            for group in uses.chunk_by(|a, b| a.key == b.key) {
                let first = group[0].line;
                if group[0].kind == Kind::Extension {
                    found.extensions.push(&group[0], scratch)?;
                }
                for used in &group[1..] {
                    pending.push(used.duplicate_of(first));
                }
            }
            if pending.len() >= RUN_ERRORS {
                found.write(&mut pending, scratch)?;
            }
        }
        if !pending.is_empty() {
            found.write(&mut pending, scratch)?;
        }
        Ok(found)
    }
}

impl Duplicates {
    /// Sorts `errors` by line and keeps them as a run.
    fn write(&mut self, errors: &mut Vec<Found>, scratch: &mut dyn Scratch) -> io::Result<()> {
        errors.sort_by_key(Found::order);
        let area = EXTENSIONS_AREA + 1 + self.runs.len();
        let mut run = SpillBuffer::new(area, RUN_BUDGET);
        for e in errors.drain(..) {
            run.push(&e, scratch)?;
        }
        self.runs.push(run);
        Ok(())
    }

    /// Each extension the rows name, once.
    pub(crate) fn extensions(&mut self, scratch: &mut dyn Scratch) -> io::Result<Vec<Extension>> {
        let mut read = self.extensions.drain(scratch)?;
        let mut extensions = Vec::new();
        while let Some(used) = KeyUse::read(&mut read)? {
            extensions.extend(Extension::unpacked(used.key));
        }
        Ok(extensions)
    }
}
