"""Diagrams (graphviz): the model as layers, and the computation graph at every pipeline stage.

The only package of graphc that imports graphviz. Pictures need graphviz's `dot` program;
without it the DOT text is written instead and one line says how to install it.
"""

from graphc.viz.graph import to_dot
from graphc.viz.layers import draw_layers, layers_diagram
from graphc.viz.render import Diagram, DiagramError, dot_program, render
from graphc.viz.view import view

__all__ = [
    "to_dot",
    "view",
    "draw_layers",
    "layers_diagram",
    "render",
    "Diagram",
    "DiagramError",
    "dot_program",
]
