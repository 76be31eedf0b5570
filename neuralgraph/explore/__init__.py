"""The exploration loop behind the ``ucb_llm`` Hydra sweeper, and the ``optuna`` baseline.

One module per job: ``space`` (search space in Hydra's override grammar), ``tree`` (the JSON
state), ``ucb`` (scores and parent selection), ``validate`` (proposal checks), ``proposers`` (the
:class:`~.proposers.Proposer` protocol; model-based, heuristic, scripted, LLM clients),
``surrogate`` (a Gaussian process of the reward over the space) and ``advice`` (its ranked
mutations per slot, and replicates where they pay), ``prompt`` (what an LLM is shown), ``plots``
(the plots its instructions name), ``text`` (its free text made safe for markdown), ``calllog``
(every call saved in ``llm/``), ``evidence`` (the offline proposers' principles), ``render`` (the
files users read), ``regimes`` (what each regime contributes), ``candidates`` and ``planning``
(one round's decisions), ``jobs`` and ``liveness`` (launch, resume, jobs still running),
``recording`` (results, failures and files), ``lock`` (one sweeper per directory), ``errors`` (the
one-line stops), ``loop`` (the :class:`~.loop.Explorer` that coordinates them, driven by the thin
plugin in ``hydra_plugins``) and ``optuna_study`` (the loop of ``hydra/sweeper=optuna``). Nothing
here imports an LLM SDK or optuna at module level.
"""
