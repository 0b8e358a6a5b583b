//! Disjoint parts of a sweep for a cluster: `--shard I/N`, a Slurm array task, or one MPI process each.

use crate::error::{Error, Result};

/// One of N disjoint parts of a sweep: run `index` belongs to shard `i` (1-based) when
/// `index % n == i - 1`, which spreads every region of the grid over the shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SweepShard {
    /// 1-based part number.
    pub index: usize,
    /// Number of parts.
    pub count: usize,
}

impl SweepShard {
    /// A shard `i` of `n`, checked (`1 <= i <= n`); `what` names its origin in errors.
    fn new(index: usize, count: usize, what: &str) -> Result<SweepShard> {
        if count == 0 {
            return Err(Error::Invalid(format!("{what}: the number of parts N must be at least 1")));
        }
        if index == 0 || index > count {
            return Err(Error::Invalid(format!("{what}: the part I = {index} must be between 1 and N = {count}")));
        }
        Ok(SweepShard { index, count })
    }

    /// The shard of process `rank` (0-based) of `size` processes: part rank + 1 of size.
    pub fn process(rank: usize, size: usize) -> SweepShard {
        SweepShard { index: rank + 1, count: size.max(1) }
    }

    /// Parses `I/N` (1-based), e.g. `2/3`.
    pub fn parse(text: &str) -> Result<SweepShard> {
        let what = format!("--shard {text}");
        let bad = || Error::Invalid(format!("{what}: expected I/N with 1 <= I <= N, e.g. 2/3"));
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        SweepShard::new(i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?, &what)
    }

    /// The shard of a Slurm array task: `SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN + 1` of
    /// `SLURM_ARRAY_TASK_COUNT` (`SLURM_ARRAY_TASK_MIN` taken as 0 when unset, i.e. the ids then
    /// count from 0). `None` when the id or count is not set.
    pub fn from_slurm(var: impl Fn(&str) -> Option<String>) -> Result<Option<SweepShard>> {
        let (Some(id), Some(count)) = (var("SLURM_ARRAY_TASK_ID"), var("SLURM_ARRAY_TASK_COUNT")) else {
            return Ok(None);
        };
        let min = var("SLURM_ARRAY_TASK_MIN").unwrap_or_else(|| "0".into());
        let what = format!("SLURM_ARRAY_TASK_ID={id}, SLURM_ARRAY_TASK_COUNT={count}, SLURM_ARRAY_TASK_MIN={min}");
        let int = |s: &str| {
            s.trim().parse::<usize>().map_err(|_| Error::Invalid(format!("{what}: expected non-negative integers")))
        };
        let (id, count, min) = (int(&id)?, int(&count)?, int(&min)?);
        let index =
            id.checked_sub(min).ok_or_else(|| Error::Invalid(format!("{what}: the id is below the minimum")))?;
        SweepShard::new(index + 1, count, &what).map(Some)
    }

    /// Whether run `index` (0-based) belongs to this shard.
    pub fn contains(&self, index: usize) -> bool {
        index % self.count == self.index - 1
    }
}
