//! The registry of data kinds: what each one declares ([`Kind`]: its name, the `data.*` keys only
//! it uses, their check) and the check of a `[data]` table that follows from the entries. A data
//! kind is one file with a `KIND` and one entry in `register!` (in `data/mod.rs`).

use std::path::Path;

use ndarray::{ArrayViewMut1, ArrayViewMut2};
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::KINDS;
use crate::config::{Checker, DataConfig, DataSource};
use crate::error::Result;
use crate::loss::Loss;

/// What a kind's check is given besides the table.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The scenario's folder (relative paths are relative to it).
    pub base: &'a Path,
    /// The scenario's loss (labels must suit it).
    pub loss: Loss,
}

/// A registered data kind.
#[derive(Clone, Copy, Debug)]
pub struct Kind {
    /// The name in `data.kind`.
    pub name: &'static str,
    /// The keys of the `[data]` table only this kind uses (`data.KEY`); set under another kind
    /// they are errors. Keys beyond the typed fields of [`DataConfig`] are read with `param` (crate-internal, as the checks are).
    pub keys: &'static [&'static str],
    /// Checks the table (defaults filled in, so that writing it back reproduces the run) and
    /// returns where the data come from.
    pub(crate) check: fn(&Checker, &mut DataConfig, &Context) -> Result<DataSource>,
}

/// The registered data kind called `name`.
pub fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().copied().find(|k| k.name == name)
}

/// The names of every registered kind, in registration order.
pub fn names() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|k| k.name)
}

/// Every kind's own keys, in registration order.
pub fn own_keys() -> impl Iterator<Item = &'static str> {
    KINDS.iter().flat_map(|k| k.keys.iter().copied())
}

/// A synthetic distribution of a registered kind beyond the bundled ones
/// ([`super::Distribution::Other`]).
pub trait Sampler: std::fmt::Debug + Send + Sync {
    /// The input dimension d (before any bias coordinate).
    fn d(&self) -> usize;

    /// Fills the inputs `x` (n x d, one sample per row) and labels `y` of one draw from `rng` (the
    /// stream of the draw's purpose); `seed` is the scenario seed (for parameters drawn once, as
    /// a teacher's).
    fn fill(&self, x: ArrayViewMut2<f64>, y: ArrayViewMut1<f64>, rng: &mut ChaCha8Rng, seed: u64) -> Result<()>;
}

/// Checks a `[data]` table: the kind is registered (the schema made sure), the keys of other kinds
/// are absent, and the kind's own check turns the table into a [`DataSource`].
pub(crate) fn check(v: &Checker, data: &mut DataConfig, context: &Context) -> Result<DataSource> {
    let this = kind(&data.kind).expect("the schema admits registered kinds only");
    let table = toml::Value::try_from(&*data).expect("a data table always serialises");
    for other in KINDS.iter().filter(|k| k.name != this.name) {
        for key in other.keys {
            let context = format!("to data.kind = \"{}\"", other.name);
            v.absent(&format!("data.{key}"), &table.get(key).cloned(), &context)?;
        }
    }
    (this.check)(v, data, context)
}

/// The value of `data.KEY` for a key of a kind's own beyond the typed fields of [`DataConfig`],
/// read as a T, or `default` when absent (then written into the table, so that the resolved
/// scenario states it).
// The bundled kinds have no keys beyond the typed fields; a kind that has some reads them here.
#[allow(dead_code)]
pub(crate) fn param<T: Serialize + DeserializeOwned>(
    v: &Checker,
    data: &mut DataConfig,
    key: &str,
    default: T,
) -> Result<T> {
    let field = format!("data.{key}");
    match data.params.get(key) {
        Some(value) => value
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| v.field(field, crate::config::plain_message(e.message().trim()))),
        None => {
            let value = toml::Value::try_from(&default).map_err(|e| v.field(field, e.to_string()))?;
            data.params.insert(key.to_string(), value);
            Ok(default)
        }
    }
}

/// The training samples n, the dimension d (at least `min_d`) and the test samples (default
/// 10000) of a synthetic kind called `name`.
pub(crate) fn synthetic_size(
    v: &Checker,
    data: &mut DataConfig,
    name: &str,
    min_d: usize,
) -> Result<(usize, usize, usize)> {
    let context = format!("with data.kind = \"{name}\"");
    let n = v.positive_int("data.n", v.required("data.n", data.n, &context)?)?;
    let d = v.required("data.d", data.d, &context)?;
    if d < min_d {
        return Err(v.value("data.d", d, format!("must be at least {min_d} for data.kind = \"{name}\"")));
    }
    let test_n = *data.test_n.get_or_insert(10_000);
    Ok((n, d, test_n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys_are_unique_and_clear_of_the_shared_keys() {
        crate::config::keys::assert_registry_is_clear(names(), own_keys(), &["kind", "n", "d", "test_n", "bias"]);
    }

    #[test]
    fn kinds_and_keys_are_in_the_order_of_the_scenario_format() {
        assert_eq!(names().collect::<Vec<_>>(), ["paper", "xor", "teacher", "csv"]);
        let keys: Vec<&str> = own_keys().collect();
        assert_eq!(keys, ["noise", "hidden", "task", "margin", "label_noise", "path", "test_path"]);
    }

    fn table(text: &str) -> DataConfig {
        toml::from_str(text).unwrap()
    }

    /// A kind's own key beyond the typed fields: read as its type, its default written back, a
    /// value of the wrong type named by field.
    #[test]
    fn a_param_is_read_typed_defaulted_and_its_type_checked() {
        let v = Checker { file: "s.toml" };
        let mut data = table("kind = \"paper\"\nn = 4\nd = 2");
        assert_eq!(param(&v, &mut data, "ratio", 0.25).unwrap(), 0.25);
        assert_eq!(data.params.get("ratio"), Some(&toml::Value::Float(0.25)));
        data.params.insert("ratio".into(), toml::Value::Float(2.5));
        assert_eq!(param(&v, &mut data, "ratio", 0.25).unwrap(), 2.5);
        data.params.insert("ratio".into(), toml::Value::String("x".into()));
        let err = param(&v, &mut data, "ratio", 0.25).unwrap_err().to_string();
        assert_eq!(err, "s.toml: field `data.ratio`: invalid type: string \"x\", expected a number");
    }

    /// The keys of other kinds are refused by the registry's check, naming the kind they belong to.
    #[test]
    fn keys_of_another_kind_are_refused() {
        let v = Checker { file: "s.toml" };
        let context = Context { base: Path::new("."), loss: Loss::Logistic };
        let mut data = table("kind = \"paper\"\nn = 4\nd = 2\nhidden = 3");
        let err = check(&v, &mut data, &context).unwrap_err().to_string();
        assert_eq!(err, "s.toml: field `data.hidden` = 3: only applies to data.kind = \"teacher\"; remove it");
        let mut data = table("kind = \"xor\"\nn = 4\nd = 3");
        let source = check(&v, &mut data, &context).unwrap();
        let distribution = crate::data::Distribution::Xor { d: 3, noise: crate::data::XorNoise::Gaussian };
        assert_eq!(source, DataSource::Synthetic { distribution, n: 4, test_n: 10_000 });
        assert_eq!((data.noise, data.test_n), (Some(crate::data::XorNoise::Gaussian), Some(10_000)));
    }
}
