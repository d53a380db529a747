//! `Email`: a user's sign-in address, and the key that makes it unique.
//!
//! roster accepts the addresses a mail system would deliver to and an admin
//! would type: `local@domain.tld` in plain ASCII. It refuses quoted local
//! parts, IP-literal domains and non-ASCII characters — the last on purpose:
//! a Cyrillic `а` in `аdmin@acme.example` looks like an existing user's
//! address and is not, so it is named in the error instead of slipping by.

use std::fmt;

/// An address that passed [`Email::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String); // Invariant: ASCII, one '@', valid local part and domain.

/// Why a cell is not an email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailError {
    NoAt,
    SeveralAts,
    Space,
    NonAscii(char),
    BadLocalPart,
    LocalPartTooLong,
    BadDomain,
    TooLong,
}

impl Email {
    /// Parses an address; surrounding spaces are ignored.
    pub fn parse(cell: &str) -> Result<Email, EmailError> {
        let cell = cell.trim();
        if let Some(c) = cell.chars().find(|c| !c.is_ascii()) {
            return Err(EmailError::NonAscii(c));
        }
        if cell.contains(|c: char| c.is_ascii_whitespace()) {
            return Err(EmailError::Space);
        }
        let (local, domain) = match cell.split_once('@') {
            None => return Err(EmailError::NoAt),
            Some((_, domain)) if domain.contains('@') => return Err(EmailError::SeveralAts),
            Some(parts) => parts,
        };
        if cell.len() > 254 {
            return Err(EmailError::TooLong);
        }
        if local.len() > 64 {
            return Err(EmailError::LocalPartTooLong);
        }
        if !valid_local_part(local) {
            return Err(EmailError::BadLocalPart);
        }
        if !valid_domain(domain) {
            return Err(EmailError::BadDomain);
        }
        Ok(Email(cell.to_string()))
    }

    /// The address as the admin typed it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address lower-cased: two addresses with the same key are the same
    /// user. Uniqueness in files and in the database is on this key.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// [`Email::key`], reusing the address's own allocation.
    pub fn into_key(mut self) -> String {
        self.0.make_ascii_lowercase();
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmailError::NoAt => f.write_str("has no '@'; write the full address, like jane.doe@example.com"),
            EmailError::SeveralAts => f.write_str(
                "has more than one '@'; put exactly one address in the cell, like jane.doe@example.com",
            ),
            EmailError::Space => f.write_str(
                "contains a space; an address has none, and the cell must hold exactly one address",
            ),
            EmailError::NonAscii(c) => write!(
                f,
                "contains '{c}' (U+{:04X}), which is not a plain ASCII letter; retype the address \
                 in plain letters (look-alike characters from other alphabets are not accepted)",
                u32::from(*c)
            ),
            EmailError::BadLocalPart => f.write_str(
                "has an invalid name before the '@': use letters, digits and . _ % + - \
                 (not starting or ending with a dot, no two dots in a row)",
            ),
            EmailError::LocalPartTooLong => {
                f.write_str("has more than 64 characters before the '@'")
            }
            EmailError::BadDomain => f.write_str(
                "has an invalid domain after the '@'; it must look like example.com \
                 (letters, digits and hyphens, separated by dots)",
            ),
            EmailError::TooLong => f.write_str("is longer than 254 characters"),
        }
    }
}

fn valid_local_part(local: &str) -> bool {
    const SPECIALS: &[u8] = b"!#$%&'*+/=?^_`{|}~-.";
    !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || SPECIALS.contains(&b))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let tld_ok = labels.last().is_some_and(|tld| {
        (tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic())) || tld.starts_with("xn--")
    });
    domain.len() <= 253
        && labels.len() >= 2
        && tld_ok
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::Email;

    fn check(cell: &str, expect: Expect) {
        let actual = match Email::parse(cell) {
            Ok(e) => format!("ok {e} key {}", e.key()),
            Err(e) => format!("err {e}"),
        };
        expect.assert_eq(&actual);
    }

    #[test]
    fn ordinary_addresses_are_accepted_and_keyed_lower_case() {
        check(
            " Jane.Doe+sales@Acme.Example ",
            expect!["ok Jane.Doe+sales@Acme.Example key jane.doe+sales@acme.example"],
        );
        check(
            "o'brien@mail.acme.co.uk",
            expect!["ok o'brien@mail.acme.co.uk key o'brien@mail.acme.co.uk"],
        );
    }

    #[test]
    fn broken_addresses_say_what_is_wrong() {
        check(
            "jane.doe",
            expect!["err has no '@'; write the full address, like jane.doe@example.com"],
        );
        check(
            "a@b@c.com",
            expect![
                "err has more than one '@'; put exactly one address in the cell, like jane.doe@example.com"
            ],
        );
        check(
            "a@b.com; c@d.com",
            expect![
                "err contains a space; an address has none, and the cell must hold exactly one address"
            ],
        );
        check(
            "jane..doe@acme.example",
            expect![
                "err has an invalid name before the '@': use letters, digits and . _ % + - (not starting or ending with a dot, no two dots in a row)"
            ],
        );
        check(
            "jane@acme",
            expect![
                "err has an invalid domain after the '@'; it must look like example.com (letters, digits and hyphens, separated by dots)"
            ],
        );
        check(
            "jane@-acme.example",
            expect![
                "err has an invalid domain after the '@'; it must look like example.com (letters, digits and hyphens, separated by dots)"
            ],
        );
    }

    #[test]
    fn look_alike_letters_are_named() {
        check(
            "\u{430}dmin@acme.example",
            expect![
                "err contains 'а' (U+0430), which is not a plain ASCII letter; retype the address in plain letters (look-alike characters from other alphabets are not accepted)"
            ],
        );
    }
}
