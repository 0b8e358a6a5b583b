//! The registry of dynamics: what each one declares ([`Kind`]: its name, its `[dynamics]`
//! parameters and their check) and the checked `[dynamics]` table ([`DynamicsSpec`]) that builds
//! the dynamics object. A dynamics is one file with a `KIND` and one entry in `register!` (in
//! `dynamics/mod.rs`); the scenario format, its checks and its messages follow from the entries.

use std::any::{Any, TypeId};
use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Combined, Dynamics, Schedule, KINDS};
use crate::config::Checker;
use crate::error::Result;
use crate::linalg::Real;

/// One numeric parameter of a dynamics, written `dynamics.KEY` in a scenario.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Param {
    /// The key in the `[dynamics]` table.
    pub key: &'static str,
    /// The value when the key is omitted; `None`: required.
    pub default: Option<f64>,
}

/// Parameter values by key (defaults filled in when checked).
pub type Params = BTreeMap<String, f64>;

/// A registered dynamics.
#[derive(Clone, Copy, Debug)]
pub struct Kind {
    /// The name in `dynamics.kind` and in outputs.
    pub name: &'static str,
    /// Its parameters, in the order they are written back.
    pub params: &'static [Param],
    /// Whether it must be used alone (`gd`: nothing after the gradient step, so nothing to combine).
    pub alone: bool,
    /// Checks the parameters (every declared key present: given or its default) and returns the
    /// dynamics.
    pub(crate) check: fn(&Checker, &Params) -> Result<Arc<dyn Part>>,
}

/// A checked dynamics, buildable in either particle precision.
pub trait Part: std::fmt::Debug + Send + Sync {
    /// The dynamics on f64 particles.
    fn f64(&self) -> Box<dyn Dynamics<f64>>;
    /// The dynamics on f32 particles.
    fn f32(&self) -> Box<dyn Dynamics<f32>>;
}

impl<T: Dynamics<f64> + Dynamics<f32> + Clone + 'static> Part for T {
    fn f64(&self) -> Box<dyn Dynamics<f64>> {
        Box::new(self.clone())
    }
    fn f32(&self) -> Box<dyn Dynamics<f32>> {
        Box::new(self.clone())
    }
}

/// The dynamics of `part` on particles of type F.
fn build<F: Real>(part: &dyn Part) -> Box<dyn Dynamics<F>> {
    let any: Box<dyn Any> =
        if TypeId::of::<F>() == TypeId::of::<f64>() { Box::new(part.f64()) } else { Box::new(part.f32()) };
    *any.downcast::<Box<dyn Dynamics<F>>>().expect("particles are f64 or f32")
}

/// The registered dynamics called `name`.
pub fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().copied().find(|k| k.name == name)
}

/// Every parameter key, in the order they are written in a resolved scenario: the parameters of
/// later registrations first (the order of the scenario format before the registry).
pub fn param_keys() -> impl Iterator<Item = &'static str> {
    KINDS.iter().rev().flat_map(|k| k.params.iter().map(|p| p.key))
}

/// The dynamics, after checking: step size, schedule, and the registered dynamics named in
/// `dynamics.kind`, in registration order.
#[derive(Clone, Debug)]
pub struct DynamicsSpec {
    /// Base step size.
    pub eta: f64,
    /// Step-size schedule.
    pub schedule: Schedule,
    parts: Vec<(&'static str, Params, Arc<dyn Part>)>,
}

impl PartialEq for DynamicsSpec {
    fn eq(&self, other: &Self) -> bool {
        let key = |s: &Self| s.parts.iter().map(|(name, params, _)| (*name, params.clone())).collect::<Vec<_>>();
        self.eta == other.eta && self.schedule == other.schedule && key(self) == key(other)
    }
}

impl DynamicsSpec {
    /// A spec of the checked `parts` (name, resolved parameters, dynamics) in registration order.
    pub(crate) fn new(eta: f64, schedule: Schedule, parts: Vec<(&'static str, Params, Arc<dyn Part>)>) -> Self {
        DynamicsSpec { eta, schedule, parts }
    }

    /// The names of the dynamics, in the order they act.
    pub fn names(&self) -> Vec<&'static str> {
        self.parts.iter().map(|(name, _, _)| *name).collect()
    }

    /// The dynamics object: one dynamics alone, or several applied in registration order.
    pub fn build<F: Real>(&self) -> Box<dyn Dynamics<F>> {
        let mut parts: Vec<Box<dyn Dynamics<F>>> = self.parts.iter().map(|(_, _, p)| build::<F>(p.as_ref())).collect();
        match parts.len() {
            1 => parts.pop().expect("one part"),
            _ => Box::new(Combined(parts)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_parameter_keys_are_unique_and_clear_of_the_table_keys() {
        crate::config::keys::assert_registry_is_clear(
            KINDS.iter().map(|k| k.name),
            param_keys(),
            &["kind", "eta", "schedule"],
        );
        assert!(KINDS.iter().all(|k| !k.name.contains('+')));
    }

    #[test]
    fn parameters_are_written_in_the_order_of_the_scenario_format() {
        assert_eq!(param_keys().collect::<Vec<_>>(), ["sigma", "reinit_radius", "tau", "tau_decay"]);
    }

    #[test]
    fn a_spec_builds_one_dynamics_alone_and_several_in_registration_order() {
        let v = Checker { file: "t" };
        let part = |name: &str, params: &[(&str, f64)]| {
            let params: Params = params.iter().map(|(k, x)| (k.to_string(), *x)).collect();
            let kind = kind(name).unwrap();
            (kind.name, params.clone(), (kind.check)(&v, &params).unwrap())
        };
        let gd = DynamicsSpec::new(0.1, Schedule::Constant, vec![part("gd", &[])]);
        assert_eq!(gd.build::<f64>().name(), "gd");
        let both = DynamicsSpec::new(
            0.1,
            Schedule::Constant,
            vec![
                part("langevin", &[("tau", 1e-3), ("tau_decay", 1.0)]),
                part("perturbed", &[("sigma", 0.1), ("reinit_radius", 1.0)]),
            ],
        );
        assert_eq!(both.build::<f32>().name(), "langevin+perturbed");
        assert_eq!(both.names(), ["langevin", "perturbed"]);
        assert_ne!(gd, both);
    }
}
