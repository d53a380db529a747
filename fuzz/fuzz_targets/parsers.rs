//! One cell through the email, phone, extension and role parsers: no panic,
//! and a parsed value reads back as itself. The first two bytes pick the
//! account's extension policy; the rest, read as UTF-8 with replacement
//! characters, is the cell.

#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_fuzz::invariants::{extension_policy, parsers_checked};

fuzz_target!(|bytes: &[u8]| {
    let byte = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let policy = extension_policy(byte(0), byte(1));
    let cell = String::from_utf8_lossy(bytes.get(2..).unwrap_or_default());
    if let Err(broken) = parsers_checked(&cell, policy) {
        panic!("{broken}\nwith {policy:?}");
    }
});
