"""The exploration loop behind the ``ucb_llm`` Hydra sweeper.

One module per job: ``space`` (search space in Hydra's override grammar), ``tree`` (the JSON
state), ``ucb`` (scores and parent selection), ``validate`` (proposal checks), ``proposers``
(heuristic, scripted, LLM clients), ``prompt`` (what an LLM is shown), ``render`` (the files
users read), ``loop`` (one sweep, driven by the thin plugin in ``hydra_plugins``).
Nothing here imports an LLM SDK at module level.
"""
