//! Command-line edits of a scenario table (`--set KEY=VALUE`, `--unset KEY`) and how their errors
//! are reported: an error caused by an override names the override, not the scenario file, and
//! says what type is expected in words rather than Rust type names.

use crate::error::Error;

/// The TOML value of an override's VALUE text. A valid TOML value is taken as is; a bare word
/// (letters, digits, `_ - + . /`, not starting like a number) is taken as a string, so that
/// `data.noise=sign` works; anything else (`0.1=0.2`, `1e400`, an integer beyond 64 bits) is an
/// error saying why.
pub(crate) fn override_value(arg: &str, raw: &str) -> Result<toml::Value, Error> {
    let bad = |message: String| Error::Override { arg: arg.to_string(), message };
    if let Some(value) = toml::from_str::<toml::Table>(&format!("v = {raw}")).ok().and_then(|mut t| t.remove("v")) {
        return Ok(value);
    }
    let numeric = raw.trim_start_matches(['+', '-']).starts_with(|c: char| c.is_ascii_digit() || c == '.');
    if numeric {
        let plain = raw.replace('_', "");
        if plain.parse::<i128>().is_ok() {
            return Err(bad(format!("`{raw}` is outside the range of TOML integers ({} to {})", i64::MIN, i64::MAX)));
        }
        if plain.parse::<f64>().is_ok_and(f64::is_infinite) {
            return Err(bad(format!(
                "`{raw}` overflows a 64-bit float (the largest is about 1.8e308); write inf if you mean it"
            )));
        }
    }
    if raw.contains('=') {
        return Err(bad(format!("`{raw}` is not a value; give one KEY=VALUE per --set")));
    }
    let bare = !numeric
        && !raw.is_empty()
        && raw.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '+' | '.' | '/' | ':' | '~'));
    if bare {
        Ok(toml::Value::String(raw.to_string()))
    } else {
        Err(bad(format!(
            "`{raw}` is not a TOML value (numbers as 0.1 or 1e-3, strings in quotes, tables as {{ key = value }})"
        )))
    }
}

/// Removes the key at dotted path `key` from a scenario table (`--unset KEY`); an error if the
/// table has no such key.
pub(crate) fn unset(table: &mut toml::Table, key: &str) -> Result<(), Error> {
    let bad = |message: String| Error::Invalid(format!("--unset {key}: {message}"));
    let path: Vec<&str> = key.trim().split('.').collect();
    if path.iter().any(|p| p.is_empty()) {
        return Err(bad("the key must be a dotted path such as data.margin".into()));
    }
    let (last, parents) = path.split_last().expect("split gives one part at least");
    let mut node = table;
    for (depth, part) in parents.iter().enumerate() {
        node = node
            .get_mut(*part)
            .and_then(toml::Value::as_table_mut)
            .ok_or_else(|| bad(format!("the scenario has no table `{}`", path[..=depth].join("."))))?;
    }
    node.remove(*last).map(|_| ()).ok_or_else(|| bad(format!("the scenario has no key `{}`", path.join("."))))
}

/// A serde message with Rust type names replaced by words: `expected f64` -> `expected a number`,
/// `expected usize`/`u64` -> `expected an integer >= 0`, `expected struct DataConfig` -> `expected a
/// table`.
pub(crate) fn plain_message(message: &str) -> String {
    let mut text = message.to_string();
    if let Some(start) = text.find("expected struct ") {
        let rest = &text[start + "expected struct ".len()..];
        let end = rest.find(|c: char| !c.is_alphanumeric() && c != '_').unwrap_or(rest.len());
        text = format!("{}expected a table{}", &text[..start], &rest[end..]);
    }
    for (rust, words) in [
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("expected usize", "expected an integer >= 0"),
        ("expected u64", "expected an integer >= 0"),
        ("expected u32", "expected an integer >= 0"),
        ("expected i64", "expected an integer"),
    ] {
        if let Some(rest) = text.strip_suffix(rust).map(str::to_string) {
            text = rest + words;
        }
    }
    text
}

/// The override among `overrides` (as given, `KEY=VALUE`) whose key is `field` or contains it
/// (the last one given wins, as when they are applied).
pub(crate) fn override_of<'a>(overrides: &'a [String], field: &str) -> Option<&'a String> {
    overrides.iter().rev().find(|arg| {
        let key = arg.split_once('=').map_or(arg.as_str(), |(k, _)| k).trim();
        !key.is_empty() && (field == key || field.strip_prefix(key).is_some_and(|rest| rest.starts_with(['.', '['])))
    })
}

/// An error of a scenario read with command-line overrides, re-attributed to the override that set its field, if any:
/// `--set ARG: field `F` = V: allowed` instead of `FILE: field ...`.
pub fn blame_override(error: Error, overrides: &[String]) -> Error {
    let field = match &error {
        Error::ScenarioField { field, .. } | Error::ScenarioValue { field, .. } => field.clone(),
        _ => return error,
    };
    let Some(arg) = override_of(overrides, &field) else { return error };
    let message = match error {
        Error::ScenarioField { field, message, .. } => format!("field `{field}`: {message}"),
        Error::ScenarioValue { field, value, allowed, .. } => format!("field `{field}` = {value}: {allowed}"),
        _ => unreachable!("matched above"),
    };
    Error::Override { arg: arg.clone(), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(raw: &str) -> Result<toml::Value, String> {
        override_value(&format!("k={raw}"), raw).map_err(|e| e.to_string())
    }

    #[test]
    fn override_values() {
        assert_eq!(value("0.5"), Ok(toml::Value::Float(0.5)));
        assert_eq!(value("sign"), Ok(toml::Value::String("sign".into())));
        assert_eq!(value("langevin+perturbed"), Ok(toml::Value::String("langevin+perturbed".into())));
        assert_eq!(value("data/train.csv"), Ok(toml::Value::String("data/train.csv".into())));
        assert_eq!(
            value("0.1=0.2").unwrap_err(),
            "--set k=0.1=0.2: `0.1=0.2` is not a value; give one KEY=VALUE per --set"
        );
        assert_eq!(
            value("1e400").unwrap_err(),
            "--set k=1e400: `1e400` overflows a 64-bit float (the largest is about 1.8e308); write inf if you mean it"
        );
        assert_eq!(
            value("9223372036854775808").unwrap_err(),
            "--set k=9223372036854775808: `9223372036854775808` is outside the range of TOML integers \
             (-9223372036854775808 to 9223372036854775807)"
        );
        assert!(value("1.2.3").unwrap_err().contains("is not a TOML value"));
    }

    #[test]
    fn rust_type_names_become_words() {
        assert_eq!(
            plain_message("invalid type: integer `1`, expected struct DataConfig"),
            "invalid type: integer `1`, expected a table"
        );
        assert_eq!(
            plain_message("invalid type: boolean `true`, expected f64"),
            "invalid type: boolean `true`, expected a number"
        );
        assert_eq!(
            plain_message("invalid value: integer `-1`, expected u64"),
            "invalid value: integer `-1`, expected an integer >= 0"
        );
    }

    #[test]
    fn unset_removes_a_key_or_says_it_is_not_there() {
        let mut table: toml::Table = toml::from_str("[data]\nmargin = 0.1\nn = 3\n").unwrap();
        unset(&mut table, "data.margin").unwrap();
        assert_eq!(table.to_string(), "[data]\nn = 3\n");
        assert_eq!(
            unset(&mut table, "data.margin").unwrap_err().to_string(),
            "--unset data.margin: the scenario has no key `data.margin`"
        );
        assert_eq!(
            unset(&mut table, "model.m").unwrap_err().to_string(),
            "--unset model.m: the scenario has no table `model`"
        );
    }

    #[test]
    fn overrides_are_found_by_field() {
        let o = vec!["data=1".to_string(), "dynamics.eta=2".to_string()];
        assert_eq!(override_of(&o, "data"), Some(&o[0]));
        assert_eq!(override_of(&o, "data.n"), Some(&o[0]));
        assert_eq!(override_of(&o, "dynamics.eta"), Some(&o[1]));
        assert_eq!(override_of(&o, "dynamics"), None, "an error of a parent table is not the override's");
        assert_eq!(override_of(&o, "dynamics.etax"), None);
        assert_eq!(override_of(&o, "lambda"), None);
    }
}
