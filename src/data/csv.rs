//! `data.kind = "csv"`: user data from a csv file `x1,...,xd,y` (`data.path`) and an optional
//! test file (`data.test_path`), read by [`super::Dataset::from_csv`].

use super::registry::{Context, Kind};
use crate::config::{absolute, Checker, DataConfig, DataSource};
use crate::error::Result;

/// The registration: `data.path` (required) and `data.test_path`, relative to the scenario's
/// folder; the files set n and d.
pub static KIND: Kind = Kind { name: "csv", keys: &["path", "test_path"], check };

fn check(v: &Checker, data: &mut DataConfig, context: &Context) -> Result<DataSource> {
    for (field, value) in [("data.n", data.n), ("data.d", data.d), ("data.test_n", data.test_n)] {
        v.absent(field, &value, "to synthetic data; a csv file sets its own size")?;
    }
    let path = v.required("data.path", data.path.as_ref(), "with data.kind = \"csv\"")?;
    let path = absolute(context.base, path);
    let test_path = data.test_path.as_ref().map(|p| absolute(context.base, p));
    v.existing("data.path", &path)?;
    if let Some(p) = &test_path {
        v.existing("data.test_path", p)?;
    }
    data.path = Some(path.clone());
    data.test_path = test_path.clone();
    Ok(DataSource::Csv { path, test_path })
}
