"""How deeply a model holds its spec: the spec's statements against minimally altered false
versions (by log-likelihood or choice), asked openly, and argued against (spec_belief)."""
