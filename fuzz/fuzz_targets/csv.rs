//! Any bytes given as a csv data file are either loaded as finite data of consistent shape or
//! rejected with an error; nothing panics.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use meanfield::data::Dataset;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(set) = Dataset::parse_csv(text, Path::new("fuzz.csv")) {
        assert_eq!(set.x.nrows(), set.y.len());
        assert!(set.x.iter().chain(set.y.iter()).all(|v| v.is_finite()));
    }
});
