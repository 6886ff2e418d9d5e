"""Orchestrations in the pure engine: plan an episode, build the SDK payload, replay its
actions against history, decide the commit; rewind and status rendering."""
