// Placeholder: the in-memory tar builder DSL used by tests and benchmarks lands here.
