//! The SIMD tier of the kernels, chosen at run time (never by the build's target CPU).
//!
//! On x86-64 the tiers are AVX-512 (`avx512`: AVX-512F with AVX2 and FMA), AVX2 with FMA (`avx2`)
//! and `portable`; on aarch64 NEON (`neon`) and `portable`. The best tier the CPU has is used unless
//! the environment variable `MEANFIELD_SIMD` names another. A [`Simd`] value exists only for a tier
//! the CPU has, so the vector code it selects is never run on a CPU without its instructions.

use std::sync::OnceLock;

use crate::error::{Error, Result};

/// The environment variable that forces a tier: `avx512`, `avx2`, `neon` or `portable`.
pub const SIMD_ENV: &str = "MEANFIELD_SIMD";

/// An instruction-set tier of the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tier {
    /// 512-bit AVX-512F vectors (x86-64), with AVX2 and FMA.
    Avx512,
    /// 256-bit AVX2 vectors with FMA (x86-64).
    Avx2,
    /// 128-bit NEON vectors (aarch64).
    Neon,
    /// Scalar code, compiled for the architecture's baseline only.
    Portable,
}

impl Tier {
    /// Every tier, widest first.
    pub const ALL: [Tier; 4] = [Tier::Avx512, Tier::Avx2, Tier::Neon, Tier::Portable];

    /// The name used in `MEANFIELD_SIMD` and in `bench --json` (`simd`).
    pub fn name(self) -> &'static str {
        match self {
            Tier::Avx512 => "avx512",
            Tier::Avx2 => "avx2",
            Tier::Neon => "neon",
            Tier::Portable => "portable",
        }
    }

    /// The instructions the tier needs, as said in messages.
    fn needs(self) -> &'static str {
        match self {
            Tier::Avx512 => "AVX-512F, AVX2 and FMA (x86-64)",
            Tier::Avx2 => "AVX2 and FMA (x86-64)",
            Tier::Neon => "NEON (aarch64)",
            Tier::Portable => "nothing",
        }
    }

    /// Whether this CPU can run the tier.
    pub fn is_available(self) -> bool {
        match self {
            Tier::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Tier::Avx2 => {
                std::is_x86_feature_detected!("avx2")
                    && std::is_x86_feature_detected!("fma")
                    && gemm_common::simd::V3::try_new().is_some()
            }
            #[cfg(target_arch = "x86_64")]
            Tier::Avx512 => {
                Tier::Avx2.is_available()
                    && std::is_x86_feature_detected!("avx512f")
                    && gemm_common::simd::V4::try_new().is_some()
            }
            #[cfg(target_arch = "aarch64")]
            Tier::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// `value` (of `MEANFIELD_SIMD`) as a tier this CPU has, where `available` says which it has.
    pub fn parse(value: &str, available: impl Fn(Tier) -> bool) -> Result<Tier> {
        let have: Vec<&str> = Tier::ALL.iter().filter(|t| available(**t)).map(|t| t.name()).collect();
        let Some(tier) = Tier::ALL.into_iter().find(|t| t.name() == value) else {
            return Err(Error::Invalid(format!(
                "{SIMD_ENV} = {value:?}: unknown SIMD tier; use one of {} (this CPU has {})",
                Tier::ALL.map(Tier::name).join(", "),
                have.join(", ")
            )));
        };
        if !available(tier) {
            return Err(Error::Invalid(format!(
                "{SIMD_ENV} = {value:?}: this CPU lacks {}, which the tier needs; use one of {} or unset {SIMD_ENV}",
                tier.needs(),
                have.join(", ")
            )));
        }
        Ok(tier)
    }
}

/// A tier this CPU has: the only way to select vector code ([`super::Real::vectorise`],
/// [`super::vectorised`], [`super::gemm`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Simd {
    tier: Tier,
}

impl Simd {
    /// The tier, if this CPU has it.
    pub fn new(tier: Tier) -> Option<Simd> {
        tier.is_available().then_some(Simd { tier })
    }

    /// The scalar tier, which every CPU has.
    pub fn portable() -> Simd {
        Simd { tier: Tier::Portable }
    }

    /// The widest tier this CPU has.
    pub fn best() -> Simd {
        Simd::available()[0]
    }

    /// Every tier this CPU has, widest first (the last is [`Tier::Portable`]).
    pub fn available() -> Vec<Simd> {
        Tier::ALL.into_iter().filter_map(Simd::new).collect()
    }

    /// The tier the kernels use: `MEANFIELD_SIMD` if set, else [`Simd::best`]; read once per
    /// process. An error names the variable, its value and the tiers this CPU has.
    pub fn selected() -> Result<Simd> {
        static SELECTED: OnceLock<std::result::Result<Simd, String>> = OnceLock::new();
        SELECTED
            .get_or_init(|| match std::env::var(SIMD_ENV) {
                Ok(value) => {
                    Tier::parse(&value, Tier::is_available).map(|tier| Simd { tier }).map_err(|e| e.to_string())
                }
                Err(std::env::VarError::NotPresent) => Ok(Simd::best()),
                Err(std::env::VarError::NotUnicode(v)) => {
                    Err(format!("{SIMD_ENV} = {v:?}: not UTF-8; use avx512, avx2, neon or portable"))
                }
            })
            .clone()
            .map_err(Error::Invalid)
    }

    /// [`Simd::selected`] for callers that cannot return an error (the command line checks it first).
    ///
    /// # Panics
    /// If `MEANFIELD_SIMD` is set to a tier that is unknown or that this CPU lacks.
    pub fn selected_or_panic() -> Simd {
        Simd::selected().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The tier.
    pub fn tier(self) -> Tier {
        self.tier
    }

    /// The tier's name (`avx512`, `avx2`, `neon`, `portable`).
    pub fn name(self) -> &'static str {
        self.tier.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_missing_tiers_are_refused_with_the_tiers_the_cpu_has() {
        let only_avx2 = |t: Tier| matches!(t, Tier::Avx2 | Tier::Portable);
        assert_eq!(Tier::parse("avx2", only_avx2).unwrap(), Tier::Avx2);
        assert_eq!(Tier::parse("portable", only_avx2).unwrap(), Tier::Portable);
        assert_eq!(
            Tier::parse("avx3", only_avx2).unwrap_err().to_string(),
            "MEANFIELD_SIMD = \"avx3\": unknown SIMD tier; use one of avx512, avx2, neon, portable \
             (this CPU has avx2, portable)"
        );
        assert_eq!(
            Tier::parse("avx512", only_avx2).unwrap_err().to_string(),
            "MEANFIELD_SIMD = \"avx512\": this CPU lacks AVX-512F, AVX2 and FMA (x86-64), which the tier \
             needs; use one of avx2, portable or unset MEANFIELD_SIMD"
        );
    }

    #[test]
    fn the_cpu_has_the_portable_tier_and_the_best_comes_first() {
        let tiers = Simd::available();
        assert_eq!(tiers.last().map(|s| s.tier()), Some(Tier::Portable));
        assert_eq!(Simd::best(), tiers[0]);
        assert!(Simd::new(Tier::Portable).is_some());
        #[cfg(target_arch = "x86_64")]
        assert!(Simd::new(Tier::Neon).is_none());
    }
}
