"""Run Rasa's prediction graph node by node in dependency order, without dask's scheduler on every run.

Rasa runs its graph through ``dask.get``, which orders and schedules the graph again on each call: in a
py-spy profile of a worker under bot-turn traffic (bench/RESULTS.md, issue 17) that was about a quarter
of each policy prediction, for a graph that is the same on every turn. The nodes, their inputs and the
order of their dependencies are Rasa's own; only the walk is done here, once per set of targets.
tests/bot/test_rasa_equivalence.py compares the served replies with plain ``rasa run``.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner


def dependency_order(schema: GraphSchema, targets: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """Return each node the targets need, after the nodes it needs, with the names of its inputs."""
    needed = schema.minimal_graph_schema(targets)
    order: list[tuple[str, tuple[str, ...]]] = []
    placed: set[str] = set()

    def place(name: str) -> None:
        if name in placed or name not in needed.nodes:
            return  # placed already, or a run input (Rasa's schema validation rules out cycles)
        placed.add(name)
        inputs = tuple(needed.nodes[name].needs.values())
        for needs in inputs:
            place(needs)
        order.append((name, inputs))

    for target in targets:
        place(target)
    return order


class SequentialGraphRunner(DaskGraphRunner):
    """Rasa's ``DaskGraphRunner`` with the same nodes, run in an order computed once per target list."""

    # Per target list: the nodes in order, and the run inputs they need (what no node produces).
    _orders: dict[tuple[str, ...], tuple[list[tuple[str, tuple[str, ...]]], frozenset[str]]]

    @classmethod
    def from_runner(cls, runner: DaskGraphRunner) -> SequentialGraphRunner:
        """Take over ``runner``'s loaded nodes (loading them again would double start-up and memory)."""
        taken = cls.__new__(cls)
        taken._graph_schema = runner._graph_schema
        taken._instantiated_nodes = runner._instantiated_nodes
        taken._execution_context = runner._execution_context
        taken._orders = {}
        return taken

    def run(self, inputs: dict[str, Any] | None = None, targets: list[str] | None = None) -> dict[str, Any]:
        """Run the graph for ``targets`` (all of the schema's by default) as ``DaskGraphRunner.run`` does."""
        run_targets = targets if targets else self._graph_schema.target_names
        key = tuple(run_targets)
        planned = self._orders.get(key)
        if planned is None:
            order = dependency_order(self._graph_schema, list(run_targets))
            produced = {name for name, _ in order}
            wanted = frozenset(n for _, needs in order for n in needs if n not in produced)
            # Dicts take concurrent writes safely; two threads computing the same plan is harmless.
            planned = self._orders[key] = (order, wanted)
        order, wanted = planned
        # Each node is called with (name, output) pairs, inputs included, as under dask.
        outputs: dict[str, tuple[str, Any]] = {}
        for name, value in (inputs or {}).items():
            if isinstance(value, str) and value in self._graph_schema.nodes:
                raise GraphRunError(
                    f"Input value '{value}' clashes with a node name. Make sure that none of the input "
                    f"names passed to the `run` method are the same as node names in the graph schema."
                )
            outputs[name] = (name, value)
        missing = wanted.difference(outputs)
        if missing:
            raise GraphRunError(f"The graph needs {sorted(missing)}, which this run was not given.")
        try:
            for name, needs in order:
                outputs[name] = self._instantiated_nodes[name](*(outputs[n] for n in needs))
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error
        return dict(outputs[target] for target in run_targets)
