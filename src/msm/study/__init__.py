"""What a study compares, shared by the experiment that runs it and the report that reads
it: the conditions and the one primary contrast declared before the run."""
