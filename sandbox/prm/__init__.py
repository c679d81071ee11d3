"""Process reward models: step labels, step scorers and generative judges, and their scoring.

    labels      oracle (task verdicts), Monte-Carlo (Math-Shepherd), RPE (GenPRM), StepWiser rules
    scorers     discriminative PRM (step head at each step's last token), ORM (outcome head)
    trajectory  one score per solution from its step scores (``trajectory_score``): min, product,
                geometric mean, last

Every labeller returns, per solution, one label in [0, 1] per step of the task's segmentation
(the answer line is the last step), so any labeller can train any scorer. Nothing here trains or
caches a model: their training and the named, cached recipes are in ``sandbox.train``
(``prm_train``, ``judge_sft``, ``stepwiser_train``; cached by name in ``recipes``).
"""
