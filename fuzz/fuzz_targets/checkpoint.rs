//! Any bytes given as a checkpoint file are either read as a consistent checkpoint or refused with
//! an error; nothing panics and nothing allocates more than the bytes describe. Half of the inputs
//! get a valid version line and checksum, so that the parser behind the checksum is reached.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use meanfield::engine::Checkpoint;

fn check<F: meanfield::linalg::Real>(bytes: &[u8]) {
    if let Ok(cp) = Checkpoint::<F>::from_bytes(bytes, Path::new("fuzz.bin")) {
        assert_eq!(cp.state.cloud.theta.dim(), cp.initial.theta.dim());
        assert!(cp.state.cloud.theta.ncols() > 0);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else { return };
    let bytes = if mode & 1 == 0 {
        body.to_vec()
    } else {
        let mut bytes = b"meanfield-checkpoint 2\n".to_vec();
        bytes.extend_from_slice(body);
        let crc = crc32c::crc32c(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        bytes
    };
    check::<f64>(&bytes);
    check::<f32>(&bytes);
});
