"""The graph of layer calls behind a functional model, and how to replay it.

`FunctionalGraph(inputs, outputs)` walks back from the output KerasTensors through each
tensor's history, checks that every path ends at one of the given inputs, and orders the calls
the way Keras orders layers (deepest first, then in discovery order). `run` replays the calls
on graphc nodes, with training on or off.
"""

from __future__ import annotations

from frontend.layers.core import InputLayer
from frontend.layers.tensor import CallRecord, KerasTensor, flatten, map_structure
from graphc.ir import toposort


def record_of(tensor: KerasTensor) -> CallRecord:
    layer, call_index, _ = tensor.history
    return layer._inbound_calls[call_index]


def check_tensors(structure, what: str) -> list:
    flat = flatten(structure)
    for t in flat:
        if not isinstance(t, KerasTensor) or t.history is None:
            raise TypeError(
                f"Model {what} must be KerasTensors returned by Input() or by calling "
                f"layers on them. Received: {t!r}"
            )
    return flat


def discover(outputs: list) -> list:
    """Call records reachable from `outputs`, inputs before users."""
    return toposort(
        [record_of(out) for out in outputs],
        lambda rec: [record_of(t) for t in rec.input_tensors],
    )


def order_by_depth(records: list, outputs: list) -> list:
    """Keras's layer order: calls farther from the outputs first, ties in discovery order."""
    depth = {id(record_of(t)): 0 for t in outputs}
    for rec in reversed(records):
        d = depth.setdefault(id(rec), 0)
        for t in rec.input_tensors:
            producer = id(record_of(t))
            depth[producer] = max(depth.get(producer, 0), d + 1)
    index = {id(r): i for i, r in enumerate(records)}
    return sorted(records, key=lambda r: (-depth[id(r)], index[id(r)]))


class FunctionalGraph:
    def __init__(self, inputs, outputs, model_name: str):
        self.inputs, self.outputs = inputs, outputs
        self.flat_inputs = check_tensors(inputs, "inputs")
        self.flat_outputs = check_tensors(outputs, "outputs")
        for t in self.flat_inputs:
            if not isinstance(t.history[0], InputLayer):
                raise ValueError(
                    f"Model '{model_name}': inputs must come from Input(); "
                    f"{t.name!r} is the output of layer '{t.history[0].name}'"
                )
        self.records = order_by_depth(discover(self.flat_outputs), self.flat_outputs)
        self._check_connected(model_name)
        self.layers = list({id(r.layer): r.layer for r in self.records}.values())

    def _check_connected(self, model_name):
        given = {id(record_of(t)) for t in self.flat_inputs}
        for rec in self.records:
            if isinstance(rec.layer, InputLayer) and id(rec) not in given:
                raise ValueError(
                    f"Graph disconnected in model '{model_name}': the outputs depend on the input "
                    f"'{rec.layer.name}' (shape {rec.outputs[0].shape}), which is not among the "
                    f"model's inputs ({', '.join(t.name for t in self.flat_inputs)})"
                )

    def run(self, input_nodes: list, training: bool) -> list:
        """Replay every call on graphc nodes; returns the flat list of output nodes."""
        env = {id(t): node for t, node in zip(self.flat_inputs, input_nodes)}
        for rec in self.records:
            if isinstance(rec.layer, InputLayer):
                continue
            args = map_structure(lambda t: env[id(t)], rec.inputs)
            kwargs = dict(rec.kwargs)
            kwargs.setdefault("training", training)
            outs = flatten(rec.layer._call_graph(args, (), kwargs))
            env.update({id(t): node for t, node in zip(rec.outputs, outs)})
        return [env[id(t)] for t in self.flat_outputs]

    def connections(self, rec: CallRecord) -> list[str]:
        """Keras's 'Connected to' entries: producer[call index][tensor index]."""
        out = []
        for t in rec.input_tensors:
            layer, call_index, tensor_index = t.history
            out.append(f"{layer.name}[{call_index}][{tensor_index}]")
        return out

    def is_sequential_like(self) -> bool:
        """True when every call takes one tensor from the call before (Keras's summary rule)."""
        previous = None
        for rec in self.records:
            ins = rec.input_tensors
            if previous is not None and (len(ins) != 1 or record_of(ins[0]) is not previous):
                return False
            if previous is None and ins:
                return False
            previous = rec
        return len(self.flat_inputs) == 1 and len(self.flat_outputs) == 1
