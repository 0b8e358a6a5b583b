//! A key of a table whose keys follow from a registry (the `[dynamics]` and `[data]` tables):
//! read as serde's derive with `deny_unknown_fields` reads a key.

use serde::de::{self, Visitor};

/// A key of a table whose keys are the given fields (the `[dynamics]` and `[data]` tables, whose
/// keys follow from their registries); unknown keys are errors.
pub(super) struct FieldKey(pub(super) &'static [&'static str]);

impl<'de> de::DeserializeSeed<'de> for FieldKey {
    type Value = &'static str;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> std::result::Result<&'static str, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for FieldKey {
    type Value = &'static str;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> std::result::Result<&'static str, E> {
        self.0.iter().copied().find(|f| *f == key).ok_or_else(|| E::unknown_field(key, self.0))
    }
}

/// Test of a registry (`[dynamics]`, `[data]`): its kind names are distinct, its parameter keys are
/// distinct, and none of them is a key the table itself has (`table_keys`).
#[cfg(test)]
pub(crate) fn assert_registry_is_clear<'a>(
    names: impl Iterator<Item = &'a str>,
    keys: impl Iterator<Item = &'a str>,
    table_keys: &[&str],
) {
    let (mut names, mut keys): (Vec<&str>, Vec<&str>) = (names.collect(), keys.collect());
    let (n, m) = (names.len(), keys.len());
    names.sort_unstable();
    names.dedup();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!((names.len(), keys.len()), (n, m), "repeated names or keys");
    assert!(keys.iter().all(|k| !table_keys.contains(k)), "a parameter key is a key of the table");
}
