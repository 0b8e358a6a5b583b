//! `data.kind = "teacher"`: a random ReLU teacher with `data.hidden` units on N(0, I_d) inputs
//! (docs/math.md, section Distributions), labelling by sign (`data.task = "classification"`, with
//! `data.margin`) or by value (`"regression"`, with `data.label_noise`).

use ndarray::{Array1, Array2, ArrayView1, ArrayViewMut1, ArrayViewMut2};
use ndarray_rand::RandomExt;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::registry::{synthetic_size, Context, Kind};
use super::Distribution;
use crate::config::{Checker, DataConfig, DataSource};
use crate::error::{Error, Result};
use crate::rng::{self, Purpose};

/// The registration: `data.hidden` (default 6), `data.task` (default `classification`),
/// `data.margin` (classification, default 0.1), `data.label_noise` (regression, default 0); n,
/// d >= 1 and test_n.
pub static KIND: Kind = Kind { name: "teacher", keys: &["hidden", "task", "margin", "label_noise"], check };

/// Whether a teacher labels by sign or by value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// y = sign f*(x), keeping samples with |f*(x)| >= margin.
    #[default]
    Classification,
    /// y = f*(x) + label_noise * N(0, 1).
    Regression,
}

fn check(v: &Checker, data: &mut DataConfig, context: &Context) -> Result<DataSource> {
    let (n, d, test_n) = synthetic_size(v, data, KIND.name, 1)?;
    let hidden = v.positive_int("data.hidden", *data.hidden.get_or_insert(6))?;
    let task = *data.task.get_or_insert(Task::Classification);
    if task == Task::Regression && context.loss.is_classification() {
        return Err(v.value(
            "data.task",
            "regression",
            "needs loss = \"squared\"; the logistic loss needs labels in {-1, +1}",
        ));
    }
    let (margin, label_noise) = match task {
        Task::Classification => {
            v.absent("data.label_noise", &data.label_noise, "to data.task = \"regression\"")?;
            (v.finite_at_least("data.margin", *data.margin.get_or_insert(0.1), 0.0)?, 0.0)
        }
        Task::Regression => {
            v.absent("data.margin", &data.margin, "to data.task = \"classification\"")?;
            (0.0, v.finite_at_least("data.label_noise", *data.label_noise.get_or_insert(0.0), 0.0)?)
        }
    };
    let distribution = Distribution::Teacher { d, hidden, task, margin, label_noise };
    Ok(DataSource::Synthetic { distribution, n, test_n })
}

/// A random ReLU teacher f*(x) = sum_k a_k relu(b_k . x), b_k uniform on the unit sphere and
/// a_k = +1 for even k, -1 for odd k (so both classes occur).
#[derive(Clone, Debug, PartialEq)]
pub struct Teacher {
    /// Output weights a_k.
    pub a: Array1<f64>,
    /// Unit input directions b_k, one per row.
    pub b: Array2<f64>,
}

impl Teacher {
    /// The teacher drawn from `seed`.
    pub fn new(d: usize, hidden: usize, seed: u64) -> Teacher {
        let mut rng = rng::sequential(seed, Purpose::Teacher);
        let mut b: Array2<f64> = Array2::random_using((hidden, d), StandardNormal, &mut rng);
        for mut row in b.outer_iter_mut() {
            let norm = row.dot(&row).sqrt();
            row /= norm;
        }
        let a = Array1::from_iter((0..hidden).map(|k| if k % 2 == 0 { 1.0 } else { -1.0 }));
        Teacher { a, b }
    }

    /// f*(x).
    pub fn eval(&self, x: ArrayView1<f64>) -> f64 {
        self.b.dot(&x).iter().zip(&self.a).map(|(z, a)| a * z.max(0.0)).sum()
    }
}

/// The labelling of a teacher's draw: the task, the margin of classification and the label noise
/// of regression.
#[derive(Clone, Copy, Debug)]
pub(super) struct Labels {
    pub(super) task: Task,
    pub(super) margin: f64,
    pub(super) label_noise: f64,
}

/// One draw: inputs x ~ N(0, I_d), labelled by the teacher of `seed`; classification keeps
/// inputs with |f*(x)| >= margin (an error after 1000 n tries).
pub(super) fn fill(
    mut x: ArrayViewMut2<f64>,
    mut y: ArrayViewMut1<f64>,
    teacher: &Teacher,
    labels: Labels,
    rng: &mut ChaCha8Rng,
) -> Result<()> {
    let Labels { task, margin, label_noise } = labels;
    let max_tries = 1000 * x.nrows().max(1);
    let mut tries = 0;
    for (mut row, yi) in x.outer_iter_mut().zip(y.iter_mut()) {
        loop {
            tries += 1;
            if tries > max_tries {
                return Err(Error::Invalid(format!(
                    "teacher data: fewer than 1 in 1000 inputs have teacher margin >= {margin}; lower data.margin"
                )));
            }
            row.iter_mut().for_each(|v| *v = rng.sample(StandardNormal));
            let f = teacher.eval(row.view());
            match task {
                Task::Classification if f.abs() >= margin && f != 0.0 => {
                    *yi = f.signum();
                    break;
                }
                Task::Regression => {
                    *yi = f + label_noise * rng.sample::<f64, _>(StandardNormal);
                    break;
                }
                Task::Classification => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teacher_classification_respects_the_margin() {
        let dist = Distribution::Teacher { d: 5, hidden: 4, task: Task::Classification, margin: 0.3, label_noise: 0.0 };
        let data = dist.sample(200, 11, Purpose::TrainData).unwrap();
        let teacher = Teacher::new(5, 4, 11);
        for (row, &y) in data.x.outer_iter().zip(&data.y) {
            let f = teacher.eval(row);
            assert!(f.abs() >= 0.3);
            assert_eq!(y, f.signum());
        }
        let test = dist.sample(200, 11, Purpose::TestData).unwrap();
        assert_ne!(test.x, data.x, "train and test draws are independent");
    }
}
