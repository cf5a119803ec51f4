"""Training: the runtime (device, precision, processes), the optimizer, the outputs, the Trainer of one
stage, and the stages of ``codeqa train``."""

from codeqa.training.stages import train

__all__ = ["train"]
