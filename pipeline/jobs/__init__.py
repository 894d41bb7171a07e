"""Jobs: orchestrators that join the pure stages to the edges (intake, desk actions, outbox, digest, similar index)."""
