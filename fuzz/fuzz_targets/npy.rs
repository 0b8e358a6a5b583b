//! Any bytes given as an `.npy` file (an initial cloud) are either read as a 2-d float64 array of
//! the declared shape or refused with an error; nothing panics and no header makes the reader
//! allocate more than the file holds.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use meanfield::output::npy_header_shape;
use meanfield::output::npy_from_bytes;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.npy");
    let shape = npy_header_shape(data, data.len() as u64, path);
    if let Ok(array) = npy_from_bytes(data, path) {
        assert_eq!(Ok(array.dim()), shape.map_err(|e| e.to_string()));
    }
});
