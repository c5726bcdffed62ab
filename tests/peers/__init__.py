"""Real network peers started by pytest fixtures on loopback ephemeral ports."""
