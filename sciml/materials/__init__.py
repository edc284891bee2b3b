"""Materials domain: crystal structures -> periodic graphs -> GNNs (CGCNN, coGN-style) -> Matbench scores.

Layout (PyG style), data to report:

- ``readers`` (files -> records), ``validation`` (record checks and quarantine),
  ``graphs`` (periodic neighbour graphs), ``dataset`` (cached processed graphs, loaders);
- ``folds`` (Matbench splits + validation carve-out), ``metrics`` (regression scores);
- ``models`` (plain ``nn.Module``s), ``lightning`` (the training wrapper),
  ``saved_model`` (the one owner of ``model.pt``/``model.json``), ``screening``
  (batched scoring of structure streams), ``plots``;
- ``steps`` (one module per pipeline step: prepare, train, section; and predict);
- ``cli`` (argument parsing only).

Nothing heavy is imported here.
"""
