//! The problem a run solves and the state that moves through the loop.

use ndarray::{Array1, Array2};

use crate::certify::DualProblem;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::linalg::Real;
use crate::loss::Loss;
use crate::model::Cloud;

/// The objective (docs/math.md, section Objective) on a training set: L\[rho\] = R(F) + lambda integral |theta|^2 d rho.
#[derive(Clone, Debug)]
pub struct Problem<F: Real> {
    /// Training data.
    pub train: Dataset,
    /// Held-out data, if any.
    pub test: Option<Dataset>,
    /// The per-sample loss.
    pub loss: Loss,
    /// The weight decay lambda >= 0.
    pub lambda: f64,
    pub(crate) x: Array2<F>,
    pub(crate) x_test: Option<Array2<F>>,
}

/// The three parts of the objective at one cloud.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Objective {
    /// L = R + penalty.
    pub loss: f64,
    /// R(F) = (1/n) sum_i l(y_i, F_i).
    pub data_fit: f64,
    /// lambda integral |theta|^2 d rho.
    pub penalty: f64,
}

impl<F: Real> Problem<F> {
    /// The problem on `train` (and optional `test`) data with the given loss and weight decay.
    pub fn new(train: Dataset, test: Option<Dataset>, loss: Loss, lambda: f64) -> Result<Self> {
        if !(lambda >= 0.0 && lambda.is_finite()) {
            return Err(Error::Invalid(format!("lambda = {lambda}: must be a finite number >= 0")));
        }
        train.check_labels(loss, "training data")?;
        if let Some(test) = &test {
            test.check_labels(loss, "test data")?;
            if test.d() != train.d() {
                return Err(Error::Invalid(format!(
                    "test data have d = {} inputs but training data have d = {}",
                    test.d(),
                    train.d()
                )));
            }
        }
        let x = train.x.mapv(F::of);
        let x_test = test.as_ref().map(|t| t.x.mapv(F::of));
        Ok(Problem { train, test, loss, lambda, x, x_test })
    }

    /// Training inputs in the particle precision.
    pub fn x(&self) -> &Array2<F> {
        &self.x
    }

    /// L, R and the penalty for training predictions F and second moment integral |theta|^2 d rho.
    pub fn objective(&self, predictions: &[f64], second_moment: f64) -> Objective {
        let data_fit = self.loss.risk(self.train.y.as_slice().expect("labels are contiguous"), predictions);
        let penalty = self.lambda * second_moment;
        Objective { loss: data_fit + penalty, data_fit, penalty }
    }

    /// The training data, loss and lambda as the data of a dual bound (docs/math.md, section Dual bound).
    pub fn dual(&self) -> DualProblem<'_> {
        DualProblem { loss: self.loss, y: self.train.y.view(), x: self.train.x.view(), lambda: self.lambda }
    }

    /// L\[rho\] of a cloud.
    pub fn loss_of(&self, cloud: &Cloud<F>) -> f64 {
        let f = cloud.predict(self.x.view());
        self.objective(f.as_slice().expect("fresh array is contiguous"), cloud.second_moment()).loss
    }
}

/// Where a run is: the cloud, the step count, the time and the training predictions of the cloud.
#[derive(Clone, Debug)]
pub struct State<F: Real> {
    /// The particles.
    pub cloud: Cloud<F>,
    /// Steps taken.
    pub step: u64,
    /// Time t = sum of the step sizes taken.
    pub time: f64,
    /// F_i = f_rho(x_i) on the training inputs, for the current cloud.
    pub predictions: Array1<f64>,
}
