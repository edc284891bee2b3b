"""Materials domain: crystal structures -> periodic graphs -> GNNs (CGCNN, coGN-style) -> Matbench scores.

Layout (PyG style): ``readers`` (files -> records), ``validation`` (record checks and
quarantine), ``graphs`` (periodic neighbour graphs), ``dataset`` (cached processed
graphs), ``folds`` (Matbench splits), ``models`` (plain ``nn.Module``s), ``lightning``
(training wrapper), ``train``/``evaluate``/``predict`` (pipeline steps), ``cli``.
Nothing heavy is imported here.
"""
