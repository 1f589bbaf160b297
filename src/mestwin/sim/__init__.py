"""What wires a run together: scenarios, clocks, experiments, scoring against ground truth."""
