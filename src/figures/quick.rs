//! The `[quick]` table of a figure's parameter file, laid over the full settings.
//!
//! A table written as a section (`[quick.net]`, or with dotted keys) merges into the full table of the same
//! name key by key. Any other value replaces the full one whole, an inline table `{ .. }` included: a quick
//! `boost = { insertions = 10, per_check = 1 }` is that boost, with the keys it does not write at their
//! defaults, never mixed with keys of the full run's `boost` (a merge would keep, say, the full run's
//! `reweight = true` although the quick line does not write it).
//!
//! The quick settings are checked in full runs too: a `[quick]` key that the figure does not know is an
//! error naming the file and the field whichever settings are run.

use serde::de::DeserializeOwned;
use toml_edit::{DocumentMut, Item};

use crate::error::{Error, Result};

/// The settings of the parameter file `file` (its text `text`): the top-level keys, with the `[quick]`
/// table laid over them when `quick`. Both versions are deserialised into `T`; errors name the file, the
/// field (a field of the quick version as `quick.<path>`) and the value.
pub(super) fn settings<T: DeserializeOwned>(text: &str, file: &str, quick: bool) -> Result<T> {
    let syntax = |message: String| Error::ScenarioSyntax { file: file.into(), message };
    // The parser of the rest of the program first, for its messages.
    let _: toml::Table = toml::from_str(text).map_err(|e| syntax(e.message().trim().replace('\n', "; ")))?;
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| syntax(e.message().to_string()))?;
    let top = match doc.remove("quick") {
        None => None,
        Some(Item::Table(table)) => Some(table),
        Some(other) => {
            return Err(Error::ScenarioValue {
                file: file.into(),
                field: "quick".into(),
                value: other.to_string().trim().to_string(),
                allowed: "must be a table: a [quick] section of settings laid over the full ones".into(),
            })
        }
    };
    let full = deserialize::<T>(&doc.to_string(), file, "")?;
    let Some(top) = top else { return Ok(full) };
    overlay(doc.as_table_mut(), top);
    let fast = deserialize::<T>(&doc.to_string(), file, "quick.")?;
    Ok(if quick { fast } else { full })
}

/// `text` (valid TOML) as a `T`; a field error names `prefix` + the field's path.
fn deserialize<T: DeserializeOwned>(text: &str, file: &str, prefix: &str) -> Result<T> {
    let table: toml::Table = toml::from_str(text)
        .map_err(|e| Error::ScenarioSyntax { file: file.into(), message: e.message().trim().replace('\n', "; ") })?;
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| Error::ScenarioField {
        file: file.into(),
        field: format!("{prefix}{}", e.path()),
        message: e.into_inner().message().trim().to_string(),
    })
}

/// Lays `top` over `base`: a section of `top` merges into the table (section or inline) of `base` with its
/// name; every other item of `top` replaces `base`'s.
fn overlay(base: &mut toml_edit::Table, top: toml_edit::Table) {
    for (key, item) in top {
        match (base.get_mut(&key), item) {
            (Some(into @ Item::Table(_)), Item::Table(section)) => {
                overlay(into.as_table_mut().expect("a section"), section);
            }
            (Some(Item::Value(toml_edit::Value::InlineTable(inline))), Item::Table(section)) => {
                let mut table = inline.clone().into_table();
                overlay(&mut table, section);
                base.insert(&key, Item::Table(table));
            }
            (_, item) => {
                base.insert(&key, item);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Demo {
        seeds: usize,
        net: Net,
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Net {
        m: usize,
        eta: f64,
        boost: Boost,
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Boost {
        insertions: usize,
        #[serde(default)]
        per_check: usize,
        #[serde(default)]
        reweight: bool,
    }

    const FULL: &str =
        "seeds = 10\n[net]\nm = 32\neta = 1.0\nboost = { insertions = 400, per_check = 2, reweight = true }\n";

    #[test]
    fn a_section_merges_and_an_inline_table_replaces_whole() {
        let text = format!("{FULL}[quick]\nseeds = 3\n[quick.net]\nm = 16\nboost = {{ insertions = 10 }}\n");
        let quick: Demo = settings(&text, "demo.toml", true).unwrap();
        // m from the quick section, eta from the full one; the boost exactly the quick line (reweight and
        // per_check at their defaults, not the full run's true and 2).
        let boost = Boost { insertions: 10, per_check: 0, reweight: false };
        assert_eq!(quick, Demo { seeds: 3, net: Net { m: 16, eta: 1.0, boost } });
        let full: Demo = settings(&text, "demo.toml", false).unwrap();
        let boost = Boost { insertions: 400, per_check: 2, reweight: true };
        assert_eq!(full, Demo { seeds: 10, net: Net { m: 32, eta: 1.0, boost } });
        // Dotted keys are a section: they merge.
        let text = format!("{FULL}[quick]\nnet.m = 8\n");
        let quick: Demo = settings(&text, "demo.toml", true).unwrap();
        assert_eq!((quick.net.m, quick.net.eta, quick.net.boost.per_check), (8, 1.0, 2));
    }

    #[test]
    fn a_quick_section_merges_into_a_full_inline_table() {
        let text = format!("{FULL}[quick.net.boost]\ninsertions = 5\n");
        let quick: Demo = settings(&text, "demo.toml", true).unwrap();
        assert_eq!(quick.net.boost, Boost { insertions: 5, per_check: 2, reweight: true });
    }

    #[test]
    fn unknown_quick_keys_are_errors_in_quick_and_full_runs() {
        let text = format!("{FULL}[quick.net]\nboost = {{ insertions = 10, reweigh = true }}\n");
        for quick in [true, false] {
            let err = settings::<Demo>(&text, "demo.toml", quick).unwrap_err().to_string();
            assert!(err.starts_with("demo.toml: field `quick.net.boost"), "{err}");
            assert!(err.contains("unknown field `reweigh`"), "{err}");
        }
        let text = format!("{FULL}[quick.net]\nm = \"many\"\n");
        let err = settings::<Demo>(&text, "demo.toml", false).unwrap_err().to_string();
        assert!(err.starts_with("demo.toml: field `quick.net.m`") && err.contains("\"many\""), "{err}");
        // An error of the full settings is named without the prefix.
        let text = "seeds = 10\n[net]\nm = 32\neta = 1.0\nboost = { insertions = -1 }\n";
        let err = settings::<Demo>(text, "demo.toml", false).unwrap_err().to_string();
        assert!(err.starts_with("demo.toml: field `net.boost.insertions`") && err.contains("-1"), "{err}");
    }

    #[test]
    fn quick_must_be_a_table() {
        let text = format!("quick = 3\n{FULL}");
        let err = settings::<Demo>(&text, "demo.toml", true).unwrap_err().to_string();
        assert_eq!(
            err,
            "demo.toml: field `quick` = 3: must be a table: a [quick] section of settings laid over the full ones"
        );
        let err = settings::<Demo>("seeds = [", "demo.toml", false).unwrap_err().to_string();
        assert!(err.starts_with("demo.toml: "), "{err}");
    }
}
