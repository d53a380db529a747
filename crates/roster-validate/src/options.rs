//! `Options` and `Limits`: what a validation is asked to check, and how much
//! of a file it accepts.

use crate::ExtensionPolicy;

/// How a file is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Voice services on: the phone, extension and location columns are
    /// checked. Off: they are ignored.
    pub voice: bool,
    pub limits: Limits,
    /// The account's rule for extension length.
    pub extensions: ExtensionPolicy,
}

/// How much of a file roster accepts.
///
/// The defaults are far above the 1,000 rows / 2 MB of the tools roster
/// replaces: a million-row file is about 150 MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest file, in bytes as uploaded.
    pub max_bytes: u64,
    /// The most data rows.
    pub max_rows: u64,
    /// The longest single record, in bytes as written: delimiters, quotes
    /// and line breaks count. A real row is a few hundred bytes; the cap is
    /// what stops a runaway quote or a 100 MB line (of text, or of nothing
    /// but delimiters) from taking memory.
    pub max_record_bytes: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_bytes: 1 << 30,
        max_rows: 5_000_000,
        max_record_bytes: 64 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            voice: true,
            limits: Limits::DEFAULT,
            extensions: ExtensionPolicy::DEFAULT,
        }
    }
}
