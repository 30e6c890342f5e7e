"""Challenges: specs (ours, or imported from EvalAI), evaluators, leaderboards."""
