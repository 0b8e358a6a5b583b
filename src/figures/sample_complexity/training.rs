//! Fitting the predictors to one data set: the network trained to its stopping rule, the NTK's
//! minimum-norm interpolation and SVM.

use std::collections::BTreeMap;

use super::params::Params;
use super::records::{Fitted, Method, NetRun};
use super::split;
use crate::data::{classification_error, Distribution};
use crate::engine::stop::relative_gap;
use crate::engine::stop::StopReason;
use crate::engine::Problem;
use crate::error::Result;
use crate::figures::converge::{self, Boost, Schedule};
use crate::linalg::Real;
use crate::loss::Loss;
use crate::model::{Cloud, Init};
use crate::ntk::{self, Ntk};
use crate::rng::Purpose;

/// The fitted predictors at one (d, n, seed) and the net's final cloud (a warm start for the next n).
pub(super) type FitsAndCloud = (BTreeMap<Method, Fitted>, Option<Cloud<f32>>);

/// Fits the predictors `methods` to the data set of (d, n, seed); the network starts from `start`
/// (a cloud and the n it was trained at) or a fresh cloud. Returns the fits and the network's
/// final cloud.
pub(super) fn evaluate(
    params: &Params,
    kernel: Ntk,
    d: usize,
    n: usize,
    seed: u64,
    methods: &[Method],
    start: Option<(usize, Cloud<f32>)>,
) -> Result<FitsAndCloud> {
    let dist = Distribution::Paper { d };
    let train = dist.sample(n, seed, Purpose::TrainData)?;
    let test = dist.sample(params.test_n, seed, Purpose::TestData)?;
    let mut out = BTreeMap::new();
    let mut last = None;
    if methods.contains(&Method::Net) {
        let net = &params.net;
        let problem = Problem::<f32>::new(train.clone(), None, Loss::Logistic, net.lambda)?;
        let warm_from = start.as_ref().map(|s| s.0);
        let cloud = start
            .map(|s| s.1)
            .unwrap_or_else(|| Cloud::<f32>::sample(net.m, d, &Init::Gaussian { s_w: net.s_w, s_u: net.s_u }, seed));
        let schedule = Schedule {
            eta: net.eta,
            cap: net.steps,
            log_every: net.log_every,
            certify_every: net.certify_every,
            stop: Some(net.stop),
        };
        let (run, split_at) = match net.split {
            None => (converge::train_with(problem, cloud, schedule, net.boost.unwrap_or(Boost::NONE), seed)?, None),
            Some(split) => {
                let first = converge::train(problem.clone(), cloud, Schedule { cap: split.after, ..schedule }, seed)?;
                if first.stop_reason == StopReason::RelGap {
                    (first, None)
                } else {
                    let at = first.state.step;
                    let copies = split::split(&first.state.cloud, split.k, split.jitter, seed)?;
                    let mut second =
                        converge::train(problem, copies, Schedule { cap: net.steps - at, ..schedule }, seed)?;
                    second.state.step += at;
                    (second, Some(at))
                }
            }
        };
        let f = run.state.cloud.predict(test.x.mapv(f32::of).view());
        out.insert(
            Method::Net,
            Fitted {
                test_error: classification_error(test.y.view(), f.view()),
                net: Some(NetRun {
                    loss: run.loss,
                    gap: run.gap,
                    relative_gap: relative_gap(run.loss, run.gap),
                    certificate: run.certificate,
                    dual_from: run.dual_from.to_string(),
                    steps: run.state.step,
                    stop_reason: run.stop_reason,
                    warm_from,
                    split_at,
                    inserted: run.inserted,
                }),
                jitter: None,
            },
        );
        let state = run.state;
        last = Some(state.cloud);
    }
    let kernels: Vec<Method> = methods.iter().copied().filter(|&m| m != Method::Net).collect();
    if !kernels.is_empty() {
        let k = kernel.gram(train.x.view());
        let k_test = kernel.matrix(test.x.view(), train.x.view())?;
        for method in kernels {
            let fit = match method {
                Method::Svm => ntk::svm(k.view(), train.y.view())?,
                _ => ntk::interpolate(k.view(), train.y.view())?,
            };
            let f = fit.predict(k_test.view());
            out.insert(
                method,
                Fitted {
                    test_error: classification_error(test.y.view(), f.view()),
                    net: None,
                    jitter: Some(fit.jitter),
                },
            );
        }
    }
    Ok((out, last))
}
