//! Arbitrary bytes read for import: a reader resumed at any row's
//! `RowStart` reads on exactly as the one that read the whole file (a
//! chunked import depends on it), with the default options and with small
//! caps chosen by the input's first bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_fuzz::invariants::{resume_checked, small_options};
use roster_validate::Options;

fuzz_target!(|bytes: &[u8]| {
    for options in [Options::default(), small_options(bytes)] {
        if let Err(broken) = resume_checked(bytes, &options) {
            panic!("{broken}\nwith {options:?}");
        }
    }
});
