"""The process that runs one API simulation: ``python -m aidc.services.simulation_worker DIR``.

It reads ``DIR/request.json`` (checked by ``services.simulations.start``), simulates, writes
the report into ``DIR`` and then marks ``DIR/status.json`` succeeded, or failed with a message
that names the field at fault (a bad trace row) and never a server path or a stack trace;
the traceback of an unexpected error goes to ``DIR/worker.log`` for the operators.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

from aidc.schemas_simulation import SimulationCreate
from aidc.services import simulations
from aidc.services.errors import Invalid
from aidc.sim import experiment, report


def run(folder: Path) -> None:
    simulations.write_status(folder, pid=os.getpid())
    data = json.loads((folder / simulations.REQUEST).read_text())
    trace = Path(data.pop("trace_path"))
    label = data["trace"] or "upload"
    if data["trace"] is None:
        data["trace_text"] = "-"  # the upload is in the folder already: read from ``trace``
    body = SimulationCreate.model_validate(data)
    try:
        prepared = experiment.prepare(simulations.setup(body, trace, label))
        doc = experiment.run(prepared)
        report.write(folder, doc)
    except (experiment.OptionError, Invalid) as e:
        message = str(e).replace(str(trace), label)
        if isinstance(e, experiment.OptionError):
            option = e.option
            message = message.replace(f"{option}:", f"{simulations.FIELDS.get(option, option)}:")
        simulations.write_status(folder, state="failed", error=message, finished_at=time.time())
        return
    except Exception:
        traceback.print_exc()
        simulations.write_status(
            folder,
            state="failed",
            error="internal error; the operators have the details in the server's files",
            finished_at=time.time(),
        )
        return
    simulations.write_status(folder, state="succeeded", finished_at=time.time())


if __name__ == "__main__":
    run(Path(sys.argv[1]))
