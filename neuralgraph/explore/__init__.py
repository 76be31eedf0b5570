"""The exploration loop behind the ``ucb_llm`` Hydra sweeper.

One module per job: ``space`` (search space in Hydra's override grammar), ``tree`` (the JSON
state), ``ucb`` (scores and parent selection), ``validate`` (proposal checks), ``proposers``
(the :class:`~.proposers.Proposer` protocol; heuristic, scripted, LLM clients), ``prompt`` (what
an LLM is shown), ``render`` (the files users read), ``regimes`` (what each regime contributes),
``candidates`` and ``planning`` (one round's decisions), ``jobs`` (launch and resume),
``recording`` (results and files), ``loop`` (the :class:`~.loop.Explorer` that coordinates them,
driven by the thin plugin in ``hydra_plugins``). Nothing here imports an LLM SDK at module level.
"""
