"""The neural tangent kernel of the two-layer ReLU network and its kernel predictors.

With initial weights w ~ N(0, r_w^2) and u ~ N(0, r_u^2 I), the network's tangent kernel is

    K(x, x') = r_w^2 (x . x') (pi - t) / (2 pi) + r_u^2 |x| |x'| (sin t + (pi - t) cos t) / (2 pi),

t the angle between x and x'. ``min_norm`` interpolates (beta = K^{-1} y) and ``svm`` maximises the
RKHS margin (min beta' K beta / 2 subject to y_i (K beta)_i >= 1); both predict
f(x') = sum_i beta_i K(x', x_i).
"""

from ._meanfield import ntk_gram as gram
from ._meanfield import ntk_min_norm as min_norm
from ._meanfield import ntk_svm as svm

__all__ = ["gram", "min_norm", "svm"]
