"""What a study will cost before it runs: samples, tokens, time and money per node,
the dry run's printout, and the file the runner writes for the report."""
