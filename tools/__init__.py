"""Tools for the contract: the breaking-change gate and the SDK generators."""
