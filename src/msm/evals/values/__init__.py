"""Value generalization: the item sets, their audit for confounding words, and the task
that scores a model's choices between options."""
