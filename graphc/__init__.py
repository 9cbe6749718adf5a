"""graphc: a dataflow-graph compiler for neural networks that a person can read.

Theano-style core API:
    import graphc as gc
    x = gc.matrix("x"); W = gc.shared(np.zeros((784, 10), "float32"), name="W")
    loss = gc.mean(gc.softmax(x @ W))
    train = gc.function([x], loss, updates=[(W, W - 0.1 * gc.grad(loss, W))])
"""

from graphc.api import (SharedVariable, abs, apply, argmax, argmin, as_node, broadcast_to, cast,
                        clip, concatenate, constant, dot, elu, eq, equal, erf, exp, expand_dims,
                        ge, gelu, greater, greater_equal, grad, gt, hard_sigmoid, le, less,
                        less_equal, log, log_softmax, logical_and, logical_not, logical_or, lt,
                        matmul, matrix, max, maximum, mean, min, minimum, neq, not_equal, one_hot,
                        placeholder, random_uniform, relu, reshape, scalar, selu, shared, sigmoid,
                        sign, size, softmax, softplus, softsign, sqrt, square, stack, sum, take,
                        tanh, tensor, transpose, vector, where)
from graphc.api import add, div, mul, neg, pow, sub  # noqa: F401
from graphc.nn_api import (avg_pool1d, avg_pool2d, conv1d, conv2d, global_avg_pool,  # noqa: F401
                           global_max_pool, gru, lstm, max_pool1d, max_pool2d, reverse_time,
                           simple_rnn, upsample, zero_pad)
from graphc.compare import CompareReport, compare  # noqa: F401
from graphc.function import Function, function
from graphc.ir import DtypeError, Graph, GraphError, Node, ShapeError
from graphc.ops import OPS
from graphc.printing import debugprint
from graphc.viz import to_dot

__version__ = "0.1.0"
