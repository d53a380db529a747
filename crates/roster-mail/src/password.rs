//! `TemporaryPassword`: random, readable, and hashed with argon2id.

use std::fmt;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{self, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, PasswordVerifier, Version};

use crate::Error;

/// Letters and digits that cannot be mistaken for one another when read
/// off a screen or a printout: no 0/O, 1/l/I.
const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
/// 16 symbols from 54: 92 bits of randomness, above the 80 required.
const SYMBOLS: usize = 16;

/// A freshly generated temporary password. `Debug` does not show it.
pub struct TemporaryPassword(String); // Invariant: 4 groups of 4 ALPHABET symbols joined by '-'.

impl TemporaryPassword {
    /// A new password from the operating system's random source, written
    /// in groups of four (`k7Tq-9mWx-…`) to be easy to type.
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

/// The argon2id hash of `password` in PHC form, with a random salt.
pub fn hash_password(password: &TemporaryPassword) -> Result<String, Error> {
    hash_password_in(password, &mut hash_memory())
}

/// The memory one hash works in (19 MiB at argon2's default parameters).
pub(crate) fn hash_memory() -> Vec<Block> {
    vec![Block::default(); Params::default().block_count()]
}

/// [`hash_password`] working in `memory` from [`hash_memory`]. A thread
/// that hashes again and again keeps its memory: left to allocate its own
/// each time, argon2's blocks were not reused, and a worker's memory grew
/// by megabytes per hash.
pub(crate) fn hash_password_in(
    password: &TemporaryPassword,
    memory: &mut [Block],
) -> Result<String, Error> {
    let failed = |e: password_hash::Error| Error::Hash(e.to_string());
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt.as_salt().decode_b64(&mut salt_bytes).map_err(failed)?;
    let argon2 = Argon2::default();
    let hash = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        argon2
            .hash_password_into_with_memory(
                password.expose().as_bytes(),
                raw_salt,
                out,
                &mut *memory,
            )
            .map_err(password_hash::Error::from)
    })
    .map_err(failed)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(failed)?,
        salt: Some(salt.as_salt()),
        hash: Some(hash),
    };
    Ok(phc.to_string())
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
        assert_eq!(groups.len(), 4, "{a:?}");
        assert!(
            groups
                .iter()
                .all(|g| g.len() == 4 && g.bytes().all(|c| ALPHABET.contains(&c)))
        );
        // At least 80 bits: 16 symbols from an alphabet of 54.
        assert!(SYMBOLS as f64 * (ALPHABET.len() as f64).log2() >= 80.0);
        assert_eq!(format!("{a:?}"), "TemporaryPassword(***)");
    }

    #[test]
    fn only_the_password_verifies_against_its_hash() {
        let password = TemporaryPassword::generate().expect("random");
        let hash = hash_password(&password).expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains(password.expose()));
        assert!(verify_password(password.expose(), &hash));
        assert!(!verify_password("not-the-password", &hash));
        assert!(!verify_password(password.expose(), "not a hash"));
    }
}
