//! Arbitrary bytes through `roster_validate::validate`, with the default
//! options and with small caps chosen by the input's first bytes: a report
//! that keeps its promises, never a panic or an `Err`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_fuzz::invariants::{small_options, validate_checked};
use roster_validate::Options;

fuzz_target!(|bytes: &[u8]| {
    for options in [Options::default(), small_options(bytes)] {
        if let Err(broken) = validate_checked(bytes, &options) {
            panic!("{broken}\nwith {options:?}");
        }
    }
});
