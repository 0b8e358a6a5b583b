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
