//! `Options` and `Limits`: what a validation is asked to check, and how much
//! of a file it accepts.

use crate::{ExtensionPolicy, Role};

/// How a file is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Voice services on: the phone, extension and location columns are
    /// checked. Off: they are ignored.
    pub voice: bool,
    pub limits: Limits,
    /// The account's rule for extension length.
    pub extensions: ExtensionPolicy,
    /// What the rows do to the account's users.
    pub mode: Mode,
    /// The account's role for a user whose row names none, or clears it.
    pub default_role: Role,
}

/// What an import does with a row whose email belongs to a user already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Every row is a new user; an email in use is `email_taken`.
    #[default]
    Create,
    /// A row whose email is a user's updates that user; the others are new
    /// users.
    Upsert,
    /// Every row updates the user with its email; an unknown email is
    /// `unknown_user`.
    Update,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Create, Mode::Upsert, Mode::Update];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Create => "create",
            Mode::Upsert => "upsert",
            Mode::Update => "update",
        }
    }

    /// The mode named `name`, as [`Mode::as_str`] spells it.
    pub fn parse(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// True when rows may update users: the validation makes a plan.
    pub fn plans(self) -> bool {
        self != Mode::Create
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
            mode: Mode::Create,
            default_role: Role::User,
        }
    }
}
