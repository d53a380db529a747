//! `E164`: a North-American phone number, parsed from whatever an
//! administrator or a spreadsheet made of it.
//!
//! "Any format" means digits with any of the punctuation people type around
//! them: spaces, dashes, dots, brackets, and one leading `+`. Letters,
//! extensions (`x123`) and two numbers in one cell are not a number. The
//! error says what is wrong in the admin's terms and, where it can, what the
//! number would look like fixed.

use std::fmt;

/// A phone number in E.164 form, `+1` followed by ten digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164(u64); // Invariant: 11 digits, the first one 1, area code and exchange start with 2-9.

/// Why a cell is not a phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneError {
    /// Excel turned the number into scientific notation (`1.61755E+10`).
    ScientificNotation,
    /// A character that is neither a digit nor punctuation.
    UnexpectedCharacter(char),
    /// Ten digits: the leading country code 1 is missing.
    MissingCountryCode { fixed: E164 },
    /// Not 11 digits.
    WrongLength(usize),
    /// 11 digits that do not start with the North-American country code 1.
    NotNorthAmerican,
    /// The area code or exchange starts with 0 or 1, which no North-American number does.
    NotDiallable,
}

impl E164 {
    /// Parses a number in any punctuation. Surrounding spaces are ignored.
    pub fn parse(cell: &str) -> Result<E164, PhoneError> {
        let cell = cell.trim();
        if looks_scientific(cell) {
            return Err(PhoneError::ScientificNotation);
        }
        let mut digits: u64 = 0;
        let mut count = 0usize;
        for (i, c) in cell.char_indices() {
            match c {
                '0'..='9' => {
                    count += 1;
                    if count <= 11 {
                        digits = digits * 10 + u64::from(c as u8 - b'0');
                    }
                }
                '+' if i == 0 => {}
                ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
                other => return Err(PhoneError::UnexpectedCharacter(other)),
            }
        }
        match count {
            10 => {
                let fixed = E164::from_digits(10_000_000_000 + digits)
                    .map_err(|_| PhoneError::WrongLength(10))?;
                Err(PhoneError::MissingCountryCode { fixed })
            }
            11 if digits / 10_000_000_000 != 1 => Err(PhoneError::NotNorthAmerican),
            11 => E164::from_digits(digits),
            n => Err(PhoneError::WrongLength(n)),
        }
    }

    /// The number as 11 digits, `1` first: `14155550100`.
    pub fn digits(self) -> u64 {
        self.0
    }

    /// Rebuilds a number from [`E164::digits`], as a database returns it.
    pub fn from_digits(digits: u64) -> Result<E164, PhoneError> {
        if !(10_000_000_000..20_000_000_000).contains(&digits) {
            return Err(PhoneError::NotNorthAmerican);
        }
        let area_lead = digits / 1_000_000_000 % 10;
        let exchange_lead = digits / 1_000_000 % 10;
        if area_lead < 2 || exchange_lead < 2 {
            return Err(PhoneError::NotDiallable);
        }
        Ok(E164(digits))
    }

    /// The three-digit area code.
    pub fn area_code(self) -> u16 {
        (self.0 / 10_000_000 % 1000) as u16
    }

    /// Toll-free numbers (800, 833, 844, 855, 866, 877, 888) cannot be a
    /// user's primary number.
    pub fn is_toll_free(self) -> bool {
        matches!(self.area_code(), 800 | 833 | 844 | 855 | 866 | 877 | 888)
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.0)
    }
}

impl fmt::Display for PhoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PhoneError::ScientificNotation => f.write_str(
                "the spreadsheet turned this number into scientific notation and lost digits; \
                 format the column as Text, type the number again (e.g. +1 415 555 0100) and save",
            ),
            PhoneError::UnexpectedCharacter(c) => write!(
                f,
                "'{}' has no place in a phone number; write one number per cell with digits, \
                 spaces, dashes, dots or brackets, like +1 (415) 555-0100",
                c.escape_default()
            ),
            PhoneError::MissingCountryCode { fixed } => write!(
                f,
                "has 10 digits; add the country code 1 in front: {fixed}"
            ),
            PhoneError::WrongLength(n) => write!(
                f,
                "has {n} digits; a North-American number has 11 with the leading 1, like +1 415 555 0100"
            ),
            PhoneError::NotNorthAmerican => f.write_str(
                "is not a North-American number; it must be 11 digits starting with 1, like +1 415 555 0100",
            ),
            PhoneError::NotDiallable => f.write_str(
                "is not a diallable North-American number: the area code and the exchange \
                 (the 3 digits after it) cannot start with 0 or 1",
            ),
        }
    }
}

/// `1.61755E+10`, `1,61755E+10`, `1.6E10`: what Excel shows for a long number
/// in a General-format cell.
fn looks_scientific(cell: &str) -> bool {
    let Some((mantissa, exponent)) = cell.split_once(['e', 'E']) else {
        return false;
    };
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    !mantissa.is_empty()
        && mantissa
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && mantissa.starts_with(|c: char| c.is_ascii_digit())
        && !exponent.is_empty()
        && exponent.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::E164;

    fn check(cell: &str, expect: Expect) {
        let actual = match E164::parse(cell) {
            Ok(n) => format!("ok {n}"),
            Err(e) => format!("err {e}"),
        };
        expect.assert_eq(&actual);
    }

    #[test]
    fn any_punctuation_with_the_leading_one_is_accepted() {
        check("+1 (415) 555-0100", expect!["ok +14155550100"]);
        check("1-415-555-0100", expect!["ok +14155550100"]);
        check(" 1.415.555.0100 ", expect!["ok +14155550100"]);
        check("14155550100", expect!["ok +14155550100"]);
    }

    #[test]
    fn ten_digits_get_the_fixed_form() {
        check(
            "(415) 555-0100",
            expect!["err has 10 digits; add the country code 1 in front: +14155550100"],
        );
    }

    #[test]
    fn scientific_notation_says_to_format_as_text() {
        check(
            "1.61755E+10",
            expect![
                "err the spreadsheet turned this number into scientific notation and lost digits; format the column as Text, type the number again (e.g. +1 415 555 0100) and save"
            ],
        );
        check(
            "1,61755E+10",
            expect![
                "err the spreadsheet turned this number into scientific notation and lost digits; format the column as Text, type the number again (e.g. +1 415 555 0100) and save"
            ],
        );
    }

    #[test]
    fn other_shapes_are_refused_with_the_reason() {
        check(
            "+44 20 7946 0958",
            expect![
                "err has 12 digits; a North-American number has 11 with the leading 1, like +1 415 555 0100"
            ],
        );
        check(
            "1 415 555 010",
            expect![
                "err has 10 digits; a North-American number has 11 with the leading 1, like +1 415 555 0100"
            ],
        );
        check(
            "415-555-0100 x12",
            expect![[
                r#"err 'x' has no place in a phone number; write one number per cell with digits, spaces, dashes, dots or brackets, like +1 (415) 555-0100"#
            ]],
        );
        check(
            "1 (015) 555-0100",
            expect![
                "err is not a diallable North-American number: the area code and the exchange (the 3 digits after it) cannot start with 0 or 1"
            ],
        );
        check(
            "12",
            expect![
                "err has 2 digits; a North-American number has 11 with the leading 1, like +1 415 555 0100"
            ],
        );
        check(
            "1+4155550100",
            expect![[
                r#"err '+' has no place in a phone number; write one number per cell with digits, spaces, dashes, dots or brackets, like +1 (415) 555-0100"#
            ]],
        );
    }

    #[test]
    fn toll_free_area_codes_are_known() {
        assert!(E164::parse("1 800 555 0100").is_ok_and(|n| n.is_toll_free()));
        assert!(E164::parse("1 833 555 0100").is_ok_and(|n| n.is_toll_free()));
        assert!(E164::parse("1 415 555 0100").is_ok_and(|n| !n.is_toll_free()));
    }
}
