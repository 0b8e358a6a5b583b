//! Scenario files: what to simulate, in TOML.
//!
//! A [`Scenario`] is parsed with serde (unknown keys are errors), `--set KEY=VALUE` overrides are
//! applied by dotted path, and [`Scenario::check`] turns it into a [`ValidScenario`] or an error
//! that names the file, the field, the value and what is allowed. Invalid values never reach the
//! numerics. Relative paths in a scenario are relative to the scenario file's folder.
//!
//! This module only describes and checks; [`crate::setup`] builds the data, the cloud and the
//! simulation of a [`ValidScenario`].

mod check;
mod data_table;
mod edits;
pub(crate) mod keys;
mod schema;

pub use crate::data::Kind as DataKind;
pub use crate::dynamics::DynamicsSpec;
pub(crate) use check::{absolute, shorten_long_floats, Checker};
pub use check::{DataSource, InitSource, ValidScenario};
pub use data_table::DataConfig;
pub use edits::blame_override;
pub(crate) use edits::plain_message;
pub use schema::{apply_override, DynamicsConfig, InitConfig, InitKind, ModelConfig, Precision, RunConfig, Scenario};
