"""Who is calling and what they may do: authentication (bearer tokens), the routing
guard, rate limits, authorization, and the client's address they are keyed by."""
