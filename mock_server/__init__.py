"""An offline Brightpearl: a seeded account served over real HTTP, with faults, writes and webhooks."""
