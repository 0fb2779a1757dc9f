"""Till transactions and the matching of cash hand-overs against them (issue #24)."""
