"""keras.mixed_precision for graphc: dtype policies ("mixed_bfloat16": float32 variables,
bfloat16 compute on AVX512-BF16 GEMMs), the global policy, and LossScaleOptimizer.

    from frontend import mixed_precision
    mixed_precision.set_global_policy("mixed_bfloat16")  # layers built from now on
    layers.Dense(10, dtype="mixed_bfloat16")               # or one layer

See autocast.py for which layers compute in bfloat16 and which are float32 islands.
"""

from __future__ import annotations

from frontend.mixed_precision.autocast import (
    BFLOAT16_LAYERS,
    call_in_compute_dtype,
    float32_island,
    float32_outputs,
)
from frontend.mixed_precision.policy import (
    MIXED,
    DTypePolicy,
    Policy,
    as_policy,
    global_policy,
    set_global_policy,
)
from graphc.ir import user_site


class LossScaleOptimizer:
    """Keras's loss-scaling wrapper, accepted for bfloat16 training: bfloat16 has float32's
    exponent range, so its gradients do not underflow and scaling would change nothing; the
    wrapper IS the inner optimizer (its updates, state and config are the inner one's)."""

    def __new__(cls, inner_optimizer, initial_scale=32768.0, dynamic_growth_steps=2000,
                **kwargs):
        if not callable(getattr(inner_optimizer, "update_rules", None)):  # an Optimizer
            raise TypeError(f"LossScaleOptimizer: inner_optimizer must be an Optimizer; "
                            f"received {inner_optimizer!r} (at {user_site()})")
        if float(initial_scale) <= 0 or int(dynamic_growth_steps) < 1:
            raise ValueError(f"LossScaleOptimizer: initial_scale must be > 0 and "
                             f"dynamic_growth_steps >= 1; received {initial_scale}, "
                             f"{dynamic_growth_steps} (at {user_site()})")
        return inner_optimizer


__all__ = ["BFLOAT16_LAYERS", "MIXED", "DTypePolicy", "LossScaleOptimizer", "Policy", "as_policy",
           "call_in_compute_dtype", "float32_island", "float32_outputs", "global_policy",
           "set_global_policy"]
