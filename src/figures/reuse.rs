//! Taking results from an earlier report of a figure instead of computing them again: the `reuse` (a JSON
//! report, or the partial file an interrupted run leaves) and `reuse_methods` (which predictors) keys of a
//! figure's parameter file.

use crate::error::{Error, Result};

/// The JSON value `findings.<field>` of the report at `path`, or `<field>` at the top level (a partial file).
/// Errors name the file, the field and `allowed` (what the file must be).
pub(crate) fn report_field(path: &str, field: &str, allowed: &str) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.into(), source })?;
    let bad = |why: String| Error::ScenarioValue {
        file: path.into(),
        field: field.into(),
        value: why,
        allowed: allowed.into(),
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    value
        .pointer(&format!("/findings/{field}"))
        .or_else(|| value.get(field))
        .cloned()
        .ok_or_else(|| bad("missing".into()))
}

/// Whether the predictor `key` is taken from the reuse file: `methods` lists the reused keys (None: all).
pub(crate) fn reuses(methods: Option<&[String]>, key: &str) -> bool {
    methods.is_none_or(|keys| keys.iter().any(|k| k == key))
}

/// The first of `methods` that is not one of `known`, if any.
pub(crate) fn unknown_method<'a>(methods: Option<&'a [String]>, known: &[&str]) -> Option<&'a String> {
    methods?.iter().find(|k| !known.contains(&k.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_read_from_findings_or_the_top_level_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report.json");
        std::fs::write(&report, r#"{"findings": {"curves": [1, 2]}, "curves": "top"}"#).unwrap();
        let partial = dir.path().join("partial.json");
        std::fs::write(&partial, r#"{"curves": {"a": 3}}"#).unwrap();
        let p = |f: &std::path::Path| f.to_str().unwrap().to_string();
        assert_eq!(report_field(&p(&report), "curves", "a report").unwrap(), serde_json::json!([1, 2]));
        assert_eq!(report_field(&p(&partial), "curves", "a report").unwrap(), serde_json::json!({"a": 3}));
        let err = report_field(&p(&partial), "params", "a kernel-vs-net report").unwrap_err().to_string();
        assert!(err.contains("partial.json") && err.contains("params") && err.contains("missing"), "{err}");
        assert!(err.contains("a kernel-vs-net report"), "{err}");
        std::fs::write(&partial, "{ not json").unwrap();
        let err = report_field(&p(&partial), "curves", "a report").unwrap_err().to_string();
        assert!(err.contains("partial.json") && err.contains("key must be a string"), "{err}");
        let err = report_field(&p(&dir.path().join("none.json")), "curves", "a report").unwrap_err().to_string();
        assert!(err.contains("none.json"), "{err}");
    }

    #[test]
    fn methods_default_to_all_and_unknown_ones_are_found() {
        let some = vec!["arccos".to_string(), "ntk".to_string()];
        assert!(reuses(None, "net_stop") && reuses(Some(&some), "ntk") && !reuses(Some(&some), "net_stop"));
        let known = ["net_stop", "net_paper", "arccos", "ntk"];
        assert_eq!(unknown_method(Some(&some), &known), None);
        assert_eq!(unknown_method(None, &known), None);
        let bad = vec!["ntk".to_string(), "svm".to_string()];
        assert_eq!(unknown_method(Some(&bad), &known).map(String::as_str), Some("svm"));
    }
}
