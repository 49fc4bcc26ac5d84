"""Design candidates: the architectures the searches, ablations and benchmark compare with the presets.

Each stays here so that the command of its record re-makes it; a user picks from s4lib.model.PRESETS instead.
"""
from __future__ import annotations

from ..model import Architecture

CANDIDATES: dict[str, Architecture] = {
    # the first main model: max-pool after 3 convs, dropout after every conv but the last (a benchmark row)
    "s4-v1": Architecture(block1=(8, 16, 16), squeeze=8, block2=(16, 16, 16, 16)),
    # the search "speed": where the max-pool sits ("s4-pool-early" is the main model's layout under its search name)
    "s4-pool-3": Architecture(block1=(8, 16, 16), squeeze=8, block2=(16, 16, 16, 16), dropout_at="after_pool"),
    "s4-pool-early": Architecture(block1=(8, 16), squeeze=8, block2=(16, 16, 16, 16, 16), dropout_at="after_pool"),
    # the searches for a model under 5,000 parameters (micro to micro-5)
    "micro": Architecture(block1=(8, 8, 8), squeeze=8, block2=(10, 10, 10, 10)),
    "micro-ap": Architecture(block1=(8, 8, 8), squeeze=8, block2=(10, 10, 10, 10), dropout_at="after_pool"),
    "micro-p2": Architecture(block1=(8, 12), squeeze=8, block2=(10, 10, 10, 10), dropout_at="after_pool"),
    # the first conv padded, so the maps stay larger
    "micro-pad": Architecture(block1=(8, 8, 8), squeeze=8, block2=(10, 10, 10, 10), padded=1),
    "micro-p2-pad": Architecture(block1=(8, 12), squeeze=8, block2=(10, 10, 10, 10), dropout_at="after_pool",
                                 padded=1),
    # block2 depthwise-separable: the same budget buys 26 channels instead of 10 (five such convs: the preset
    # micro-sep-5)
    "micro-sep": Architecture(block1=(8, 12), squeeze=12, block2=(26, 26, 26, 26), dropout_at="after_pool",
                              separable=True),
    # the search main-3: wider convs after the max-pool, where maps of 12x12 and less make extra channels cheap in
    # arithmetic (10% and 24% more multiply-adds; 16,650 and 18,458 parameters)
    "s4-wide": Architecture(block1=(8, 16), squeeze=8, block2=(16, 20, 20, 20, 20), dropout_at="after_pool"),
    "s4-wider": Architecture(block1=(8, 16), squeeze=12, block2=(20, 20, 20, 20, 20), dropout_at="after_pool"),
    # ablations of the main model, all 12,114 parameters but the BN-free one
    "s4-no-bn": Architecture(block1=(8, 16), squeeze=8, block2=(16, 16, 16, 16, 16), batchnorm=False,
                             dropout_at="after_pool"),
    "s4-pool-late": Architecture(block1=(8, 16, 16, 16), squeeze=8, block2=(16, 16, 16), dropout_at="after_pool"),
    "s4-dropout-everywhere": Architecture(block1=(8, 16), squeeze=8, block2=(16, 16, 16, 16, 16)),
    "s4-dropout2d": Architecture(block1=(8, 16), squeeze=8, block2=(16, 16, 16, 16, 16), spatial_dropout=True,
                                 dropout_at="after_pool"),
    "s4-v1-dropout2d": Architecture(block1=(8, 16, 16), squeeze=8, block2=(16, 16, 16, 16), spatial_dropout=True),
}
# the training recipe a candidate's record ran with, where it differs from TrainConfig()'s defaults: its seeds
# command (python -m s4lib seeds --model NAME) re-makes it
RECIPES: dict[str, dict] = {
    "micro": dict(lr=0.1, dropout=0.05),
}
