"""Hydra sweeper ``ucb_llm``: UCB tree search whose mutations a proposer (heuristic or LLM) makes."""

__version__ = "0.1.0"
