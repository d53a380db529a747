//! The account as the baselines hold it: in memory, loaded once with plain
//! queries before the clock's work begins in earnest.

use std::collections::{HashMap, HashSet};

use roster_validate::{Extension, ExtensionPolicy};

/// What the bare loops need of the account to write users.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: i64,
    pub extensions: ExtensionPolicy,
    /// Extensions are assigned from here upward.
    pub extension_first: u64,
    pub default_role: String,
    /// Location keys (trimmed, lower-cased) and their ids; the main company
    /// address among them.
    pub locations: HashMap<String, i64>,
    /// Extensions the account's users hold.
    pub taken_extensions: HashSet<Extension>,
}

/// What the bare check needs besides: every user's email and every number
/// the account owns.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// Lower-cased.
    pub emails: HashSet<String>,
    /// Each owned number (E.164 digits) and whether it is assigned.
    pub numbers: HashMap<u64, bool>,
}

/// Extensions as stored (digits, leading zeros kept), read back under the
/// widest policy.
pub(crate) fn stored_extension(text: &str) -> Option<Extension> {
    let any_length = ExtensionPolicy {
        min_digits: 1,
        max_digits: ExtensionPolicy::MAX_DIGITS,
    };
    Extension::parse(text, any_length).ok()
}

/// The extension policy from its stored digit counts.
pub(crate) fn policy(min_digits: i64, max_digits: i64) -> ExtensionPolicy {
    let digits =
        |n: i64| u8::try_from(n.clamp(1, i64::from(ExtensionPolicy::MAX_DIGITS))).unwrap_or(1);
    ExtensionPolicy {
        min_digits: digits(min_digits),
        max_digits: digits(max_digits),
    }
}
