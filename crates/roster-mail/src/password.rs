//! `TemporaryPassword`: random, readable, and hashed with argon2id at a
//! cost sized for a random secret.
//!
//! A temporary password is not chosen by a person: it is 20 symbols drawn
//! uniformly from 54, about 115 bits. NIST SP 800-63B lets a verifier keep
//! a secret of at least 112 bits under a fast one-way function, since no
//! guessing at any speed reaches it; the slow, memory-hard cost argon2id is
//! known for defends the short secrets people choose, and buys nothing
//! here. So the hash is argon2id at its smallest cost (8 KiB, one pass),
//! still a standard PHC string (`$argon2id$v=19$m=8,t=1,p=1$…`) that any
//! argon2 verifier reads, and about 15 µs instead of 20 ms: a million
//! messages are not held up by their hashes. `SECURITY.md` has the threat.

use std::fmt;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{self, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordVerifier, Version};

use crate::Error;

/// Letters and digits that cannot be mistaken for one another when read
/// off a screen or a printout: no 0/O, 1/l/I.
const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
/// 20 symbols from 54: 115 bits of randomness, above the 112 that let a
/// random secret be kept under a fast hash.
const SYMBOLS: usize = 20;

/// The cost of a temporary password's hash: argon2id's smallest (8 KiB of
/// memory, one pass, one lane). See the module's documentation for why.
const MEMORY_KIB: u32 = 8;
const PASSES: u32 = 1;
const LANES: u32 = 1;

/// A freshly generated temporary password. `Debug` does not show it.
pub struct TemporaryPassword(String); // Invariant: 5 groups of 4 ALPHABET symbols joined by '-'.

impl TemporaryPassword {
    /// A new password from the operating system's random source, written
    /// in five groups of four (`k7Tq-9mWx-…`) to be easy to type.
    pub fn generate() -> Result<TemporaryPassword, Error> {
        let mut out = String::with_capacity(SYMBOLS + SYMBOLS / 4);
        let mut symbols = 0;
        while symbols < SYMBOLS {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| Error::Hash(e.to_string()))?;
            for b in bytes {
                // Rejection sampling keeps every symbol equally likely.
                let limit = 256 - 256 % ALPHABET.len();
                if usize::from(b) >= limit || symbols == SYMBOLS {
                    continue;
                }
                if symbols > 0 && symbols % 4 == 0 {
                    out.push('-');
                }
                out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
                symbols += 1;
            }
        }
        Ok(TemporaryPassword(out))
    }

    /// The clear text, to put in the message and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TemporaryPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TemporaryPassword(***)")
    }
}

/// The argon2id hash of `password` in PHC form, with a random salt, at
/// the cost for random secrets.
pub fn hash_password(password: &TemporaryPassword) -> Result<String, Error> {
    let failed = |e: password_hash::Error| Error::Hash(e.to_string());
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).map_err(|e| failed(e.into()))?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2
        .hash_password(password.expose().as_bytes(), &salt)
        .map_err(failed)?;
    Ok(hash.to_string())
}

/// Whether `password` matches a hash from [`hash_password`].
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_readable_and_different() {
        let a = TemporaryPassword::generate().expect("random");
        let b = TemporaryPassword::generate().expect("random");
        assert_ne!(a.expose(), b.expose());
        let groups: Vec<&str> = a.expose().split('-').collect();
        assert_eq!(groups.len(), 5, "{a:?}");
        assert!(
            groups
                .iter()
                .all(|g| g.len() == 4 && g.bytes().all(|c| ALPHABET.contains(&c)))
        );
        // At least 112 bits: 20 symbols from an alphabet of 54.
        assert!(SYMBOLS as f64 * (ALPHABET.len() as f64).log2() >= 112.0);
        assert_eq!(format!("{a:?}"), "TemporaryPassword(***)");
    }

    #[test]
    fn only_the_password_verifies_against_its_hash() {
        let password = TemporaryPassword::generate().expect("random");
        let hash = hash_password(&password).expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{hash}");
        assert!(!hash.contains(password.expose()));
        assert!(verify_password(password.expose(), &hash));
        assert!(!verify_password("not-the-password", &hash));
        assert!(!verify_password(password.expose(), "not a hash"));
    }
}
