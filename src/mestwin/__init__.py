"""mestwin: a digital twin and testbed for manufacturing execution.

The packages follow the ISA-95 levels: :mod:`mestwin.plantmodels` (level 0, the physical
process), :mod:`mestwin.virtual_plc` (levels 1-2), :mod:`mestwin.mes_core` (level 3) and
:mod:`mestwin.erp_mock` (level 4); :mod:`mestwin.sim` wires a run together.
"""

__version__ = "0.1.0"
