"""Process reward models: step labels, trained step scorers, and their aggregation.

    labels      oracle (task verdicts), Monte-Carlo (Math-Shepherd), RPE (GenPRM), StepWiser rules
    scorers     discriminative PRM (step head at each step's last token), ORM (outcome head)
    aggregate   trajectory score from step scores: min, product, geometric mean, last

Every labeller returns, per solution, one label in [0, 1] per step of the task's segmentation
(the answer line is the last step), so any labeller can train any scorer.
"""
