"""Claims of the papers, their decision rules, and the scorecard of verdicts."""
