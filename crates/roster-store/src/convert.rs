//! Counts and lines between roster and the databases: roster counts in
//! `u64`, both databases store `BIGINT` (`i64`). Nothing roster stores
//! comes near either end, so a value out of range saturates rather than
//! fails: a count past `i64::MAX` is stored as `i64::MAX`, and a negative
//! one read back (which no statement writes) as 0.

/// A count or line as the database stores it.
pub(crate) fn to_db(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A count or line as the database gave it.
pub(crate) fn from_db(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_in_range_go_both_ways_and_the_rest_saturate() {
        for value in [0, 1, 2_500_000, i64::MAX as u64] {
            assert_eq!(from_db(to_db(value)), value);
        }
        assert_eq!(to_db(u64::MAX), i64::MAX);
        assert_eq!(from_db(-1), 0);
    }
}
