"""Keras callbacks: hooks called by fit/evaluate/predict (Keras 3 semantics)."""

from frontend.callbacks.backup import BackupAndRestore
from frontend.callbacks.base import (
    Callback,
    CallbackList,
    CSVLogger,
    History,
    LambdaCallback,
    ProgbarLogger,
    TerminateOnNaN,
)
from frontend.callbacks.ema import SwapEMAWeights
from frontend.callbacks.monitoring import (
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
)
from frontend.callbacks.profiler import ProfilerCallback
from frontend.callbacks.tensorboard import TensorBoard

__all__ = [
    "Callback",
    "CallbackList",
    "CSVLogger",
    "History",
    "LambdaCallback",
    "ProgbarLogger",
    "TerminateOnNaN",
    "EarlyStopping",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "BackupAndRestore",
    "SwapEMAWeights",
    "TensorBoard",
    "ProfilerCallback",
]
