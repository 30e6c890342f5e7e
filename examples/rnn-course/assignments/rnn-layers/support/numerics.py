"""Given code: students import it (from numerics import sigmoid) and do not submit it."""

import numpy as np


def sigmoid(x):
    """A numerically stable sigmoid."""
    pos = x >= 0
    z = np.exp(-np.abs(x))
    return np.where(pos, 1.0 / (1.0 + z), z / (1.0 + z))
