"""A second data source written outside the package: replays a dataset file saved elsewhere."""
