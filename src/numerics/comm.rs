//! Several processes sharing one particle cloud: the collective operations the engine needs
//! ([`Communicator`]), the one-process [`Single`], `Mpi` over the system's MPI (feature `mpi`),
//! and the [`Shard`] of the cloud each process holds.
//!
//! The cloud is cut into contiguous shards at group boundaries of the kernels' layout, which
//! depend on m only ([`crate::model::Layout::group_size`]), so every process computes exactly the
//! per-group partial sums a single process would. Partial sums are added as [`Fixed`] numbers,
//! whose sum does not depend on the order, and every random stream is tied to a particle's global
//! index: results are bit-identical for any number of processes (and threads).

use std::fmt::Debug;
use std::ops::Range;

use crate::error::{Error, Result};
use crate::exact::Fixed;

/// The collective operations between the processes that share a cloud. Every process must call
/// each operation in the same sequence.
pub trait Communicator: Debug + Send + Sync {
    /// This process's index in 0..size.
    fn rank(&self) -> usize;
    /// The number of processes P.
    fn size(&self) -> usize;
    /// Replaces `values` on every process by their elementwise sum over all processes (exact, so
    /// independent of the order of the processes).
    fn sum(&self, values: &mut [Fixed]);
    /// On rank 0: the concatenation in rank order of every process's `local`; `None` elsewhere.
    fn gather(&self, local: &[f64]) -> Option<Vec<f64>>;
    /// Replaces `values` on every process by rank 0's.
    fn broadcast(&self, values: &mut [f64]);
    /// Returns once every process has called it.
    fn barrier(&self);

    /// Whether `flag` is set on any process.
    fn any(&self, flag: bool) -> bool {
        let mut count = [Fixed::of(f64::from(u8::from(flag)))];
        self.sum(&mut count);
        count[0] != Fixed::ZERO
    }

    /// Whether this process writes the outputs (rank 0).
    fn is_root(&self) -> bool {
        self.rank() == 0
    }
}

/// One process holding the whole cloud: every collective is the identity.
#[derive(Clone, Copy, Debug, Default)]
pub struct Single;

impl Communicator for Single {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn sum(&self, _values: &mut [Fixed]) {}

    fn gather(&self, local: &[f64]) -> Option<Vec<f64>> {
        Some(local.to_vec())
    }

    fn broadcast(&self, _values: &mut [f64]) {}

    fn barrier(&self) {}
}

/// The particles rows `start..start + len` of a cloud of `total` particles, held by one process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Particles m of the whole cloud.
    pub total: usize,
    /// Global index of the first particle of the shard.
    pub start: usize,
    /// Particles in the shard.
    pub len: usize,
}

impl Shard {
    /// The whole cloud of m particles.
    pub fn whole(m: usize) -> Shard {
        Shard { total: m, start: 0, len: m }
    }

    /// The shard of process `rank` of `size` for a cloud of m particles cut into groups of `group`
    /// particles: groups G*rank/P .. G*(rank+1)/P of the G = ceil(m / group).
    ///
    /// # Errors
    /// [`Error::Invalid`] if there are fewer groups than processes.
    pub fn of(m: usize, group: usize, rank: usize, size: usize) -> Result<Shard> {
        let groups = m.div_ceil(group);
        if groups < size {
            return Err(Error::Invalid(format!(
                "m = {m} particles make {groups} groups of {group}, fewer than the {size} processes; \
                 use at most {groups} processes or more particles"
            )));
        }
        let first = groups * rank / size;
        let last = groups * (rank + 1) / size;
        let start = first * group;
        let end = (last * group).min(m);
        Ok(Shard { total: m, start, len: end - start })
    }

    /// The global rows of the shard.
    pub fn rows(&self) -> Range<usize> {
        self.start..self.start + self.len
    }

    /// Whether the shard is the whole cloud.
    pub fn is_whole(&self) -> bool {
        self.len == self.total
    }
}

#[cfg(feature = "mpi")]
pub use self::mpi_world::Mpi;

#[cfg(feature = "mpi")]
mod mpi_world {
    use mpi::datatype::PartitionMut;
    use mpi::topology::SimpleCommunicator;
    use mpi::traits::{Communicator as _, CommunicatorCollectives, Root};
    use mpi::Count;

    use super::Communicator;
    use crate::exact::Fixed;

    /// All the processes of `MPI_COMM_WORLD`. MPI must be initialised (with at least
    /// `MPI_THREAD_FUNNELED`) for as long as this is used, and only the thread that initialised it
    /// may call the collectives; the kernels' rayon threads never do.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Mpi;

    fn world() -> SimpleCommunicator {
        SimpleCommunicator::world()
    }

    impl Communicator for Mpi {
        fn rank(&self) -> usize {
            world().rank() as usize
        }

        fn size(&self) -> usize {
            world().size() as usize
        }

        /// One `MPI_Allreduce` (sum of i64) of four limbs per value ([`Fixed::limbs`]).
        fn sum(&self, values: &mut [Fixed]) {
            let send: Vec<i64> = values.iter().flat_map(|v| v.limbs()).collect();
            let mut received = vec![0i64; send.len()];
            world().all_reduce_into(&send[..], &mut received[..], mpi::collective::SystemOperation::sum());
            for (v, limbs) in values.iter_mut().zip(received.chunks_exact(4)) {
                *v = Fixed::from_limbs([limbs[0], limbs[1], limbs[2], limbs[3]]);
            }
        }

        fn gather(&self, local: &[f64]) -> Option<Vec<f64>> {
            let world = world();
            let root = world.process_at_rank(0);
            let count = local.len() as Count;
            if world.rank() == 0 {
                let mut counts = vec![0 as Count; world.size() as usize];
                root.gather_into_root(&count, &mut counts[..]);
                let displs: Vec<Count> = counts
                    .iter()
                    .scan(0, |at, &c| {
                        let start = *at;
                        *at += c;
                        Some(start)
                    })
                    .collect();
                let mut all = vec![0.0; counts.iter().map(|&c| c as usize).sum()];
                let mut partition = PartitionMut::new(&mut all[..], counts, &displs[..]);
                root.gather_varcount_into_root(local, &mut partition);
                Some(all)
            } else {
                root.gather_into(&count);
                root.gather_varcount_into(local);
                None
            }
        }

        fn broadcast(&self, values: &mut [f64]) {
            world().process_at_rank(0).broadcast_into(values);
        }

        fn barrier(&self) {
            world().barrier();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_cloud_in_whole_groups() {
        for (m, group, size) in [(10_000, 512, 2), (10_000, 512, 3), (1_000_000, 4096, 7), (512, 512, 1)] {
            let shards: Vec<Shard> = (0..size).map(|r| Shard::of(m, group, r, size).unwrap()).collect();
            assert_eq!(shards[0].start, 0);
            for pair in shards.windows(2) {
                assert_eq!(pair[0].start + pair[0].len, pair[1].start);
                assert_eq!(pair[1].start % group, 0);
            }
            let last = shards.last().unwrap();
            assert_eq!(last.start + last.len, m);
            assert!(shards.iter().all(|s| s.len > 0 && s.total == m));
        }
    }

    #[test]
    fn too_many_processes_is_an_error() {
        let err = Shard::of(1000, 512, 0, 3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "m = 1000 particles make 2 groups of 512, fewer than the 3 processes; use at most 2 processes or more particles"
        );
    }

    #[test]
    fn a_single_process_holds_everything() {
        let single = Single;
        assert!(single.is_root() && single.size() == 1);
        assert!(single.any(true) && !single.any(false));
        assert_eq!(single.gather(&[1.0, 2.0]), Some(vec![1.0, 2.0]));
    }
}
