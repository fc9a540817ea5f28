"""Conversations: one module per conversation and the small engine that runs
them. No platform here: inputs and replies are neutral."""
