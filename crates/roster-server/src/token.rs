//! API tokens: `rst_` and 64 hex digits (256 random bits). A token is
//! shown once, when it is made; the store keeps its SHA-256 only. A token
//! this long needs no slow hash: it cannot be guessed, only stolen.
//!
//! The web page's CSRF token is derived from the session's API token, so it
//! needs no storage and changes with the token.

use std::fmt;

use roster_store::{Account, Store};

use crate::ApiError;
use sha2::{Digest, Sha256};

/// A new API token, in clear. `Debug` does not show it.
pub struct Token(String); // Invariant: "rst_" and 64 lower-case hex digits.

const PREFIX: &str = "rst_";

impl Token {
    /// The token, to print once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// Makes a token for the account and keeps its hash.
pub async fn create(store: &Store, account: &Account) -> Result<Token, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        ApiError::internal(std::io::Error::other(format!(
            "the system's random source: {e}"
        )))
    })?;
    let token = Token(format!("{PREFIX}{}", hex(&bytes)));
    store.add_token(account, &hash(token.expose())).await?;
    Ok(token)
}

/// What the store keeps of a token.
pub(crate) fn hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Whether `token` is shaped like one roster makes (checked before any
/// lookup, so junk never reaches the database).
pub(crate) fn well_formed(token: &str) -> bool {
    token
        .strip_prefix(PREFIX)
        .is_some_and(|digits| digits.len() == 64 && digits.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The CSRF token of a session signed in with `token`.
pub(crate) fn csrf(token: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(b"roster csrf\0");
    digest.update(token.as_bytes());
    hex(&digest.finalize())
}

/// Whether two strings are equal, in time that does not depend on where
/// they differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_shapes() {
        assert_eq!(
            hash("rst_x"),
            hex(&Sha256::digest(b"rst_x")),
            "the hash is SHA-256 in hex"
        );
        assert_eq!(hash("abc").len(), 64);
        assert!(well_formed(&format!("rst_{}", "ab".repeat(32))));
        assert!(!well_formed(&format!("rst_{}", "ab".repeat(31))));
        assert!(!well_formed(&format!("rst_{}g", "ab".repeat(31))));
        assert!(!well_formed("Bearer rst_"));
        assert_ne!(csrf("rst_a"), csrf("rst_b"));
        assert_ne!(csrf("rst_a"), hash("rst_a"));
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
