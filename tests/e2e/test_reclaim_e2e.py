"""Acceptance: two projects share 4 GPUs; one borrows all 4, the other takes its quota back.

Demo quotas: hanbit-vision and mirae-adas each have a nominal 2 a100 of the 4 virtual a100s.
mirae-adas fills all four (two of them borrowed). When hanbit-vision submits in-quota work,
two borrowed jobs get SIGTERM, are requeued with their checkpoint folder kept, and finish on
their second attempt once the GPUs are free again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.e2e.test_concurrency_and_restart import gpu_host
from tests.e2e.test_job_lifecycle import job_json, wait_state
from tests.server_process import ServerProcess

# Attempt 1 waits to be stopped and notes SIGTERM in its checkpoint folder; attempt 2 (after
# the requeue) finds the note and finishes.
BORROWER = r"""
if [ -f "$AIDC_CHECKPOINT_DIR/sigterm" ]; then
  echo "attempt $AIDC_ATTEMPT resumes after: $(cat "$AIDC_CHECKPOINT_DIR/sigterm")"
  exit 0
fi
trap 'echo "SIGTERM in attempt $AIDC_ATTEMPT" > "$AIDC_CHECKPOINT_DIR/sigterm"; exit 143' TERM
echo "attempt $AIDC_ATTEMPT running"
for i in $(seq 1 150); do sleep 0.1; done
"""


def submit_as(server: ServerProcess, user: str, project: str, *args: str) -> str:
    r = server.cli("submit", "-p", project, *args, user=user)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_borrowed_gpus_are_reclaimed_gracefully_and_the_borrower_finishes_later(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    inventory = tmp_path / "inventory.toml"
    inventory.write_text(gpu_host(4))
    server = start_server(extra_args=("--inventory", str(inventory)))
    script = tmp_path / "borrower.sh"
    script.write_text(BORROWER)
    borrowed = [
        submit_as(server, "seojun", "mirae-adas", "--gpus", "1", "--script", str(script))
        for _ in range(4)
    ]
    for job_id in borrowed:
        assert wait_state(server, job_id, {"RUNNING"}, user="seojun")["state"] == "RUNNING"

    # Long enough that the first still runs when the second is submitted (each submission
    # is a CLI call): both need a GPU back, whatever the timing.
    mine = [
        submit_as(server, "minji", "hanbit-vision", "--gpus", "1", "--", "sh", "-c", "sleep 5")
        for _ in range(2)
    ]
    for job_id in mine:
        done = wait_state(server, job_id, {"SUCCEEDED", "FAILED"}, timeout=60)
        assert done["state"] == "SUCCEEDED", done

    deadline = time.monotonic() + 90
    final = {}
    while time.monotonic() < deadline:
        final = {j: job_json(server, j, user="seojun") for j in borrowed}
        if all(v["state"] == "SUCCEEDED" for v in final.values()):
            break
        time.sleep(0.5)
    assert all(v["state"] == "SUCCEEDED" for v in final.values()), final
    preempted = [v for v in final.values() if v["preemptions"]]
    assert len(preempted) == 2, "exactly the two borrowed GPUs are taken back"
    for v in preempted:
        moves = [(e["from_state"], e["to_state"]) for e in v["events"]]
        assert ("RUNNING", "PREEMPTED") in moves and ("PREEMPTED", "QUEUED") in moves
        assert v["attempt"] == 2 and v["lost_accelerator_seconds"] > 0
        assert "borrowed quota" in " ".join(e["reason"] for e in v["events"])
        log = server.cli("logs", v["id"], user="seojun").stdout
        assert "resumes after: SIGTERM in attempt 1" in log
    # The two that kept running were never stopped.
    assert sum(1 for v in final.values() if v["attempt"] == 1) == 2
