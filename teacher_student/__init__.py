"""Teacher-student distillation for the MoVNect pipeline (docs/distillation.md).

    config.py     DistillConfig: the [distill] table of a distillation experiment
    losses.py     mimicry (MoVNect / FPD), DWPose feature / logit / location, OKDHP terms
    schedules.py  DWPose linear decay r(t), OKDHP ramp-up
    dwpose.py     stage-1 feature projector, stage-2 frozen backbone + fresh head self-KD
    okdhp.py      multi-branch MoVNect, feature-aggregation unit, branch extraction
    cache.py      teacher-output HDF5 cache
    trainers.py   Trainer subclasses of movnect.train.loop for the three methods
    run.py        one distillation run from a config (`movnect distill`)
"""
