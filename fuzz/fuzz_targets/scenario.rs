//! Any text given as a scenario file (with any `--set` override) is either accepted or rejected
//! with an error; nothing panics. Accepted scenarios round-trip through their resolved TOML.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use meanfield::config::Scenario;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (body, overrides) = match text.split_once("\n--set ") {
        Some((body, set)) => (body, vec![set.to_string()]),
        None => (text, vec![]),
    };
    if let Ok(valid) = Scenario::parse(body, "fuzz.toml", &overrides).and_then(|s| s.check(Path::new("fuzz.toml"))) {
        let again = Scenario::parse(&valid.to_toml(), "resolved.toml", &[]).and_then(|s| s.check(Path::new("fuzz.toml")));
        assert_eq!(again.expect("a resolved scenario is valid").scenario, valid.scenario);
    }
});
