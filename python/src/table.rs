//! The csv outputs of the crate (`metrics.csv`, `sweep.csv`) as dicts of numpy arrays, one per
//! column in file order: int64 when every cell is an integer, float64 when every cell is a number
//! or empty (empty cells are NaN), else str (the `certificate` and `run` columns always).

use std::path::Path;

use meanfield::Error;
use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Columns holding text even when every cell happens to parse as a number (a run's hash).
const TEXT: [&str; 2] = ["certificate", "run"];

/// One column of a table.
pub enum Column {
    Int(Vec<i64>),
    Float(Vec<f64>),
    Text(Vec<String>),
}

/// A csv file read into typed columns.
pub struct Table(pub Vec<(String, Column)>);

impl Table {
    /// Reads the csv file at `path`.
    pub fn read(path: &Path) -> Result<Table, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> =
            reader.headers().map_err(|e| Error::data(path, 1, e.to_string()))?.iter().map(str::to_string).collect();
        let mut cells: Vec<Vec<String>> = vec![Vec::new(); header.len()];
        for (k, record) in reader.records().enumerate() {
            let record = record.map_err(|e| Error::data(path, k + 2, e.to_string()))?;
            for (column, cell) in cells.iter_mut().zip(record.iter()) {
                column.push(cell.to_string());
            }
        }
        let columns = header
            .into_iter()
            .zip(cells)
            .map(|(name, cells)| {
                let column = if TEXT.contains(&name.as_str()) {
                    Column::Text(cells)
                } else if let Some(ints) = cells.iter().map(|c| c.parse::<i64>().ok()).collect::<Option<Vec<_>>>() {
                    Column::Int(ints)
                } else if let Some(floats) = cells
                    .iter()
                    .map(|c| if c.is_empty() { Some(f64::NAN) } else { c.parse::<f64>().ok() })
                    .collect::<Option<Vec<_>>>()
                {
                    Column::Float(floats)
                } else {
                    Column::Text(cells)
                };
                (name, column)
            })
            .collect();
        Ok(Table(columns))
    }

    /// The columns as a dict of numpy arrays.
    pub fn into_dict(self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        let dict = PyDict::new(py);
        let numpy = py.import("numpy")?;
        for (name, column) in self.0 {
            match column {
                Column::Int(v) => dict.set_item(name, v.into_pyarray(py))?,
                Column::Float(v) => dict.set_item(name, v.into_pyarray(py))?,
                Column::Text(v) => dict.set_item(name, numpy.call_method1("array", (v, "str"))?)?,
            }
        }
        Ok(dict.unbind())
    }
}
