"""GNNs that mirror each simulated system, and the blocks they share."""
