"""Who is calling and what they may do, as one ordered step per request (step.py):
credentials (credentials.py, who is calling: caller.py), then the rate limit
(rate_limits.py), then authorization (authorization.py), each from the operation's plan."""
