//! The `[data]` table: the keys every kind shares (`kind`, `n`, `d`, `test_n`, `bias`), the typed
//! keys of the bundled kinds, and the keys further registered kinds declare ([`DataConfig::params`]).
//! Read as serde's derive with `deny_unknown_fields` would read it, with the keys of the
//! registry ([`crate::data::KINDS`]); written back in the same order.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::keys::FieldKey;
use crate::data::{Task, XorNoise};

/// The `[data]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct DataConfig {
    /// A registered data kind: `paper`, `xor`, `teacher` or `csv` (see [`crate::data`]).
    pub kind: String,
    /// Training samples (synthetic data).
    pub n: Option<usize>,
    /// Input dimension before the bias (synthetic data).
    pub d: Option<usize>,
    /// Test samples (synthetic data; default 10000; 0 for none).
    pub test_n: Option<usize>,
    /// Append a constant coordinate 1 to every input.
    pub bias: bool,
    /// `xor` only: `gaussian` (default) or `sign` padding coordinates.
    pub noise: Option<XorNoise>,
    /// `teacher` only: hidden units k (default 6).
    pub hidden: Option<usize>,
    /// `teacher` only: `classification` (default) or `regression`.
    pub task: Option<Task>,
    /// `teacher` classification only: keep inputs with |f*(x)| >= margin (default 0.1).
    pub margin: Option<f64>,
    /// `teacher` regression only: standard deviation of the label noise (default 0).
    pub label_noise: Option<f64>,
    /// `csv` only: the training file.
    pub path: Option<PathBuf>,
    /// `csv` only: an optional test file.
    pub test_path: Option<PathBuf>,
    /// `data.KEY = value` for the keys of registered kinds beyond the fields above (read by the
    /// kind's check with `data::param`); empty for the bundled kinds.
    pub params: BTreeMap<String, toml::Value>,
}

/// The typed keys, in the order they are written.
const TYPED: [&str; 12] =
    ["kind", "n", "d", "test_n", "bias", "noise", "hidden", "task", "margin", "label_noise", "path", "test_path"];

/// The keys of the table: the typed ones, then the other keys registered kinds declare.
fn fields() -> &'static [&'static str] {
    static FIELDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    FIELDS.get_or_init(|| TYPED.into_iter().chain(crate::data::own_keys().filter(|k| !TYPED.contains(k))).collect())
}

/// The names of the registered data kinds.
fn kinds() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| crate::data::names().collect())
}

impl Serialize for DataConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut table = serializer.serialize_struct("DataConfig", TYPED.len() + self.params.len())?;
        table.serialize_field("kind", &self.kind)?;
        let sizes = [("n", self.n), ("d", self.d), ("test_n", self.test_n)];
        for (key, value) in sizes.iter().filter_map(|(k, v)| v.map(|v| (*k, v))) {
            table.serialize_field(key, &value)?;
        }
        table.serialize_field("bias", &self.bias)?;
        fn some<T: Serialize, S: SerializeStruct>(t: &mut S, key: &'static str, v: &Option<T>) -> Result<(), S::Error> {
            v.as_ref().map_or(Ok(()), |v| t.serialize_field(key, v))
        }
        some(&mut table, "noise", &self.noise)?;
        some(&mut table, "hidden", &self.hidden)?;
        some(&mut table, "task", &self.task)?;
        some(&mut table, "margin", &self.margin)?;
        some(&mut table, "label_noise", &self.label_noise)?;
        some(&mut table, "path", &self.path)?;
        some(&mut table, "test_path", &self.test_path)?;
        for key in fields().iter().skip(TYPED.len()) {
            some(&mut table, key, &self.params.get(*key))?;
        }
        table.end()
    }
}

impl<'de> Deserialize<'de> for DataConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_struct("DataConfig", fields(), DataVisitor)
    }
}

/// Reads a `[data]` table.
struct DataVisitor;

impl<'de> Visitor<'de> for DataVisitor {
    type Value = DataConfig;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("struct DataConfig")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<DataConfig, A::Error> {
        let mut kind = None;
        let mut data = DataConfig {
            kind: String::new(),
            n: None,
            d: None,
            test_n: None,
            bias: false,
            noise: None,
            hidden: None,
            task: None,
            margin: None,
            label_noise: None,
            path: None,
            test_path: None,
            params: BTreeMap::new(),
        };
        while let Some(key) = map.next_key_seed(FieldKey(fields()))? {
            match key {
                "kind" => kind = Some(map.next_value_seed(KindName)?),
                "n" => data.n = Some(map.next_value()?),
                "d" => data.d = Some(map.next_value()?),
                "test_n" => data.test_n = Some(map.next_value()?),
                "bias" => data.bias = map.next_value()?,
                "noise" => data.noise = Some(map.next_value()?),
                "hidden" => data.hidden = Some(map.next_value()?),
                "task" => data.task = Some(map.next_value()?),
                "margin" => data.margin = Some(map.next_value()?),
                "label_noise" => data.label_noise = Some(map.next_value()?),
                "path" => data.path = Some(map.next_value()?),
                "test_path" => data.test_path = Some(map.next_value()?),
                key => {
                    data.params.insert(key.to_string(), map.next_value()?);
                }
            }
        }
        data.kind = kind.ok_or_else(|| de::Error::missing_field("kind"))?;
        Ok(data)
    }
}

/// `data.kind`: the name of a registered data kind, else serde's unknown-variant error.
struct KindName;

impl<'de> DeserializeSeed<'de> for KindName {
    type Value = String;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> std::result::Result<String, D::Error> {
        let name = String::deserialize(deserializer)?;
        match crate::data::kind(&name) {
            Some(_) => Ok(name),
            None => Err(de::Error::unknown_variant(&name, kinds())),
        }
    }
}
