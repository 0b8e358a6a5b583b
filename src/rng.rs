//! Counter-based random streams.
//!
//! Every random draw in `meanfield` comes from a ChaCha8 stream keyed by (scenario seed, purpose)
//! and positioned by (stream index, step). A chunk of particles always reads the same numbers at
//! the same step, whichever thread runs it and whether or not the run was resumed, so results are
//! bit-identical for any number of threads.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What a stream is used for; each purpose has an independent key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    /// The training sample.
    TrainData = 1,
    /// The independent test sample.
    TestData = 2,
    /// The teacher network of the `teacher` distribution.
    Teacher = 3,
    /// The initial cloud.
    Init = 4,
    /// Langevin noise.
    Langevin = 5,
    /// Perturbed-flow re-draws.
    Perturbed = 6,
    /// Mini-batch selection.
    Batch = 7,
    /// Random search directions of the estimated dual bound.
    Certify = 8,
}

/// Number of particles that share one random stream. Compute blocks are multiples of it.
pub const CHUNK: usize = 64;

/// Words of the stream reserved for one step of one chunk (2^32 32-bit words).
const WORDS_PER_STEP: u128 = 1 << 32;

/// splitmix64: a bijective mixer of 64-bit words.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The 256-bit ChaCha key for (seed, purpose code).
fn key(seed: u64, purpose: u64) -> [u8; 32] {
    let mut state = splitmix64(seed ^ splitmix64(purpose));
    let mut out = [0u8; 32];
    for chunk in out.chunks_exact_mut(8) {
        state = splitmix64(state);
        chunk.copy_from_slice(&state.to_le_bytes());
    }
    out
}

/// The stream for (seed, purpose, stream index), positioned at the start of `step`.
pub fn stream(seed: u64, purpose: Purpose, index: u64, step: u64) -> ChaCha8Rng {
    stream_for_code(seed, purpose as u64, index, step)
}

/// [`stream`] for a purpose code outside [`Purpose`] (a dynamics' own; codes of 256 and above
/// are independent of every [`Purpose`]).
pub fn stream_for_code(seed: u64, code: u64, index: u64, step: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::from_seed(key(seed, code));
    rng.set_stream(index);
    rng.set_word_pos(u128::from(step) * WORDS_PER_STEP);
    rng
}

/// A single sequential stream for (seed, purpose), for draws that are not per particle.
pub fn sequential(seed: u64, purpose: Purpose) -> ChaCha8Rng {
    stream(seed, purpose, 0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: u64 = stream(7, Purpose::Init, 3, 5).random();
        let b: u64 = stream(7, Purpose::Init, 3, 5).random();
        assert_eq!(a, b);
        let others = [
            stream(8, Purpose::Init, 3, 5).random::<u64>(),
            stream(7, Purpose::Langevin, 3, 5).random::<u64>(),
            stream(7, Purpose::Init, 4, 5).random::<u64>(),
            stream(7, Purpose::Init, 3, 6).random::<u64>(),
        ];
        assert!(others.iter().all(|&o| o != a));
    }
}
