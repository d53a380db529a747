//! `Extension`: a short internal dial code, and the account's policy for it.

use std::fmt;

/// Digits only, as many as the account's [`ExtensionPolicy`] allows.
///
/// Kept as a number and its digit count rather than a string: a million of
/// them in a file's uniqueness set then cost no allocation each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Extension {
    digits: u8,
    value: u64,
} // Invariant: 1 <= digits <= 15, value < 10^digits.

/// How long an account's extensions may be. Leading zeros count: `0701` is
/// four digits and differs from `701`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionPolicy {
    pub min_digits: u8,
    pub max_digits: u8,
}

/// Why a cell is not an extension under the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtensionError {
    NotDigits,
    Length {
        digits: usize,
        policy: ExtensionPolicy,
    },
}

impl ExtensionPolicy {
    /// The hosted-PBX default: 3 to 6 digits.
    pub const DEFAULT: ExtensionPolicy = ExtensionPolicy {
        min_digits: 3,
        max_digits: 6,
    };

    /// The longest extension any policy may allow.
    pub const MAX_DIGITS: u8 = 15;
}

impl Default for ExtensionPolicy {
    fn default() -> ExtensionPolicy {
        ExtensionPolicy::DEFAULT
    }
}

impl Extension {
    /// Parses an extension under `policy`; surrounding spaces are ignored.
    pub fn parse(cell: &str, policy: ExtensionPolicy) -> Result<Extension, ExtensionError> {
        let cell = cell.trim();
        if cell.is_empty() || !cell.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ExtensionError::NotDigits);
        }
        let digits = cell.len();
        if digits < usize::from(policy.min_digits)
            || digits > usize::from(policy.max_digits.min(ExtensionPolicy::MAX_DIGITS))
        {
            return Err(ExtensionError::Length { digits, policy });
        }
        let value = cell.bytes().fold(0u64, |v, b| v * 10 + u64::from(b - b'0'));
        Ok(Extension {
            digits: digits as u8,
            value,
        })
    }
}

impl Extension {
    /// The extension that is `value` written without leading zeros, as
    /// roster assigns them; `None` past fifteen digits.
    pub fn from_number(value: u64) -> Option<Extension> {
        let digits = value.checked_ilog10().map_or(1, |l| l + 1);
        (digits <= u32::from(ExtensionPolicy::MAX_DIGITS)).then_some(Extension {
            digits: digits as u8,
            value,
        })
    }

    /// How many digits the extension has.
    pub fn digits(self) -> u8 {
        self.digits
    }

    /// The extension in one number: its digit count above its value.
    pub(crate) fn packed(self) -> u128 {
        (u128::from(self.digits) << 64) | u128::from(self.value)
    }

    /// The extension [`Extension::packed`] gave, if it is one.
    pub(crate) fn unpacked(packed: u128) -> Option<Extension> {
        let digits = u8::try_from(packed >> 64).ok()?;
        let value = packed as u64;
        let fits = (1..=ExtensionPolicy::MAX_DIGITS).contains(&digits)
            && value < 10u64.pow(u32::from(digits));
        fits.then_some(Extension { digits, value })
    }
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:0width$}",
            self.value,
            width = usize::from(self.digits)
        )
    }
}

impl fmt::Display for ExtensionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtensionError::NotDigits => f.write_str(
                "must be digits only, like 7001; leave the cell empty to have one assigned",
            ),
            ExtensionError::Length { digits, policy } => write!(
                f,
                "has {digits} digits; this account's extensions have {} to {} digits",
                policy.min_digits, policy.max_digits
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Extension, ExtensionPolicy};

    #[test]
    fn extensions_are_digits_within_the_policy() {
        let policy = ExtensionPolicy::DEFAULT;
        assert_eq!(
            Extension::parse(" 7001 ", policy).map(|e| e.to_string()),
            Ok("7001".to_string())
        );
        assert_eq!(
            Extension::parse("70a1", policy).map_err(|e| e.to_string()),
            Err(
                "must be digits only, like 7001; leave the cell empty to have one assigned"
                    .to_string()
            )
        );
        assert_eq!(
            Extension::parse("12", policy).map_err(|e| e.to_string()),
            Err("has 2 digits; this account's extensions have 3 to 6 digits".to_string())
        );
        assert!(Extension::parse("1234567", policy).is_err());
        assert_ne!(
            Extension::parse("0701", policy),
            Extension::parse("701", policy)
        );
    }
}
