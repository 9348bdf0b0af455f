"""How engines with ``Capability.DATASET_MOUNTS`` give a run its datasets: ask the
provider for the run's view (it refuses a run that may not read them), and run the
command through ``readonly_exec.py`` so that the view is read-only by more than file
modes where the command runs as root."""

from __future__ import annotations

from pathlib import Path

from aidc.engines.base import DatasetProvider, DatasetView, LaunchError, LaunchRequest

WRAPPER = Path(__file__).with_name("readonly_exec.py")


def dataset_view(
    provider: DatasetProvider | None, job: LaunchRequest, run_dir: Path
) -> DatasetView | None:
    """The run's view, None when the job names no datasets."""
    if not job.spec.datasets:
        return None
    if provider is None:
        raise LaunchError("this engine has no dataset store; the job names datasets")
    return provider.prepare(job, run_dir)


def read_only_argv(
    view: DatasetView | None, argv: list[str], python: str, wrapper: Path = WRAPPER
) -> list[str]:
    """``argv`` run by ``wrapper`` (a copy of readonly_exec.py where the run can reach it)
    with the view's folders read-only; ``argv`` itself without a view."""
    if view is None or not view.read_only:
        return argv
    ro = [a for path in view.read_only for a in ("--ro", path)]
    return [python, "-I", "-S", str(wrapper), *ro, "--", *argv]
