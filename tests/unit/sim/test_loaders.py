"""The trace formats on small fixtures, and the shared Alibaba 2023 trace read in place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aidc.core.policy import preset
from aidc.sim import simulate
from aidc.sim.limits import LimitModel
from aidc.sim.presets import load_cluster
from aidc.sim.traces import (
    FORMATS,
    LoadReport,
    NodeShape,
    TraceError,
    alibaba_gpu2023,
    alibaba_pai2020,
    helios,
    philly_json,
)
from aidc.sim.traces.jsonstream import json_list

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "traces"
PODS = SHARED / "alibaba_gpu_v2023" / "openb_pod_list_gpuspec33.csv"
ORACLE = LimitModel(oracle=True)


def test_the_registry_names_every_format() -> None:
    assert list(FORMATS) == [
        "tiresias",
        "philly-csv",
        "philly-json",
        "helios",
        "alibaba-pai2020",
        "alibaba-gpu2023",
        "aidc-history",
    ]


def philly_job(jobid: str, attempts: list[dict], vc: str = "6214e9") -> dict:
    return {
        "status": "Pass",
        "vc": vc,
        "jobid": jobid,
        "user": "u1",
        "submitted_time": "2017-10-03 10:00:00",
        "attempts": attempts,
    }


def attempt(start: str | None, end: str | None, *machines: int) -> dict:
    detail = [
        {"ip": f"m{i}", "gpus": [f"gpu{g}" for g in range(n)]} for i, n in enumerate(machines)
    ]
    return {"start_time": start, "end_time": end, "detail": detail}


def test_philly_json_durations_gpus_and_skips(tmp_path: Path) -> None:
    trace = tmp_path / "cluster_job_log"
    jobs = [
        # Two attempts: duration from the first start to the last end, retry gap included.
        philly_job(
            "a",
            [
                attempt("2017-10-03 10:01:00", "2017-10-03 10:02:00", 8, 8),
                attempt("2017-10-03 10:05:00", "2017-10-03 10:11:00", 4),
            ],
        ),
        philly_job("never", []),
        philly_job("unstarted", [attempt(None, None)], vc="b436b2"),
        philly_job("running", [attempt("2017-10-03 10:00:00", "None", 1)]),
        philly_job("nogpu", [attempt("2017-10-03 10:00:00", "2017-10-03 10:00:09")]),
        philly_job("b", [attempt("2017-10-03 11:00:00", "2017-10-03 11:00:30", 1)], vc="x"),
    ]
    trace.write_text(json.dumps(jobs, indent=1))
    report = LoadReport()
    a, b = philly_json(trace, NodeShape(accelerators=8, accelerator_type="p100"), report=report)
    assert (a.job_id, a.project, a.duration_s) == ("philly-a", "6214e9", 600)
    # The largest attempt: 16 GPUs on two machines, a gang of two 8-GPU nodes.
    assert (a.request.nodes, a.request.accelerators, a.request.accelerator_types) == (
        2,
        8,
        ("p100",),
    )
    assert (b.project, b.duration_s, b.submitted_at) == ("x", 30, a.submitted_at)
    assert report.loaded == 2 and report.skipped_total == 4
    assert report.skipped["no attempts: never started"] == 1
    assert report.examples["no GPUs in any attempt's detail"] == ["philly-nogpu"]
    assert any("philly-unstarted" in line for line in report.lines())


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"jobs": []}', r"expected a JSON list"),
        ('[{"vc": "a"}]', r"job 0 \(line 1, column 2\): no field 'jobid'"),
        (
            '[\n  {"vc": "a", "jobid": 1, "submitted_time": "x", "attempts": []},\n  {"vc": ]',
            r"job 1 \(line 3, column 3\): not valid JSON",
        ),
        ('[{"vc": "a", "jobid": 1, "submitted_time": "x", "attempts": []} {}]', "expected , or ]"),
        ("[7]", r"job 0 .*is a int, expected an object"),
    ],
)
def test_philly_json_refuses_bad_input_naming_the_job(tmp_path: Path, text: str, says: str) -> None:
    trace = tmp_path / "bad.json"
    trace.write_text(text)
    with pytest.raises(TraceError, match=says):
        list(philly_json(trace, NodeShape()))


def test_philly_json_refuses_a_bad_time_naming_the_field(tmp_path: Path) -> None:
    trace = tmp_path / "bad.json"
    job = philly_job("a", [attempt("yesterday", "2017-10-03 10:02:00", 1)])
    trace.write_text(json.dumps([job]))
    with pytest.raises(TraceError, match=r"job 0 .*attempts\[0\].start_time 'yesterday'"):
        list(philly_json(trace, NodeShape()))


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.integers(-(10**12), 10**12),
            st.text(max_size=30),
            st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=4),
            st.lists(st.integers(), max_size=5),
        ),
        max_size=12,
    ),
    chunk=st.integers(1, 40),
    indent=st.sampled_from([None, 0, 2]),
)
def test_the_json_stream_reads_what_json_load_reads(
    tmp_path_factory: pytest.TempPathFactory, values: list, chunk: int, indent: int | None
) -> None:
    """Whatever the chunk size cuts, the elements come out as json.loads gives them."""
    path = tmp_path_factory.mktemp("j") / "list.json"
    path.write_text(json.dumps(values, indent=indent))
    assert [v for _, _, v in json_list(path, chunk=chunk)] == json.loads(path.read_text())


HELIOS = (
    "job_id,user,vc,gpu_num,cpu_num,node_num,state,submit_time,start_time,end_time,duration,queue\n"
)


def test_helios_spreads_gpus_over_nodes_and_skips_cpu_and_unstarted_jobs(tmp_path: Path) -> None:
    trace = tmp_path / "cluster_log.csv"
    trace.write_text(
        HELIOS
        + "j1,u1,vcA,16,32,2,COMPLETED,2020-04-01 00:00:00,2020-04-01 00:01:00,"
        + "2020-04-01 01:01:00,3600,60\n"
        + "j2,u1,vcA,0,8,1,COMPLETED,2020-04-01 00:00:00,2020-04-01 00:00:01,"
        + "2020-04-01 00:00:05,4,1\n"
        + "j3,u2,vcB,1,4,1,CANCELLED,2020-04-01 00:00:10,,,0,0\n"
        + "j4,u2,vcB,3,4,2,COMPLETED,2020-04-01 00:00:20,2020-04-01 00:00:30,"
        + "2020-04-01 00:01:30,,10\n"
    )
    report = LoadReport()
    one, four = helios(trace, NodeShape(), ORACLE, report=report)
    assert (one.project, one.duration_s, one.request.nodes, one.request.accelerators) == (
        "vcA",
        3600,
        2,
        8,
    )
    assert one.time_limit_s == 3600
    # 3 GPUs over 2 nodes: 2 per node, rounded up and reported; no duration: end - start.
    assert (four.request.nodes, four.request.accelerators, four.duration_s) == (2, 2, 60)
    assert four.submitted_at - one.submitted_at == 20
    assert report.skipped == {
        "CPU job (gpu_num 0)": 1,
        "no start_time or end_time: never started or not finished": 1,
    }
    assert report.adjusted["gpu_num not a multiple of node_num: rounded up per node"] == 1


def test_helios_refuses_a_bad_row(tmp_path: Path) -> None:
    trace = tmp_path / "h.csv"
    trace.write_text(HELIOS + "j1,u1,vcA,2,8,zero,COMPLETED,0,1,2,1,0\n")
    with pytest.raises(TraceError, match=r"h.csv:2: node_num 'zero' is not a number"):
        list(helios(trace, NodeShape()))


JOBS = "j1,i1,alice,Terminated,100,500\nj2,i2,bob,Terminated,200,900\n"
TASKS = (
    "j1,worker,2,Terminated,110,410,600,29.3,100,V100\n"
    "j1,ps,1,Terminated,110,410,400,10,,\n"
    "j2,tensorflow,1,Terminated,250,850,600,20,50,MISC\n"
    "j2,evaluator,1,Waiting,,,600,20,100,T4\n"
    "j9,worker,1,Terminated,1,2,600,20,100,T4\n"
)


@pytest.mark.parametrize("header", [False, True])
def test_pai2020_joins_tasks_to_jobs(tmp_path: Path, header: bool) -> None:
    from aidc.sim.traces.alibaba import JOB_TABLE, TASK_TABLE

    jobs, tasks = tmp_path / "pai_job_table.csv", tmp_path / "pai_task_table.csv"
    jobs.write_text((",".join(JOB_TABLE) + "\n" if header else "") + JOBS)
    tasks.write_text((",".join(TASK_TABLE) + "\n" if header else "") + TASKS)
    for path in (jobs, tmp_path):  # the job table, or the directory holding both
        report = LoadReport()
        worker, tf = alibaba_pai2020(path, NodeShape(accelerator_type="a100"), report=report)
        assert (worker.job_id, worker.project, worker.submitted_at, worker.duration_s) == (
            "pai-j1-worker",
            "alice",
            100,
            300,
        )
        # Two instances of one V100 each; the trace's type is kept.
        assert (worker.request.accelerators, worker.request.accelerator_types) == (2, ("v100m16",))
        # Half a GPU holds a whole one; MISC takes the shape's type.
        assert (tf.project, tf.request.accelerators, tf.request.accelerator_types) == (
            "bob",
            1,
            ("a100",),
        )
        assert report.skipped == {
            "CPU-only task (plan_gpu empty or 0)": 1,
            "no start_time or end_time: never ran or not finished": 1,
            "its job_name is not in the job table": 1,
        }
        assert sum(report.adjusted.values()) == 1


def test_pai2020_names_a_missing_task_table_and_a_bad_field(tmp_path: Path) -> None:
    jobs = tmp_path / "pai_job_table.csv"
    jobs.write_text(JOBS)
    with pytest.raises(TraceError, match=r"pai_task_table\.csv: no such file"):
        list(alibaba_pai2020(jobs, NodeShape()))
    (tmp_path / "pai_task_table.csv").write_text("j1,w,two,Terminated,1,2,600,20,100,T4\n")
    with pytest.raises(TraceError, match=r"pai_task_table.csv:1: inst_num 'two' is not a number"):
        list(alibaba_pai2020(jobs, NodeShape()))


PODS_HEAD = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
    "creation_time,deletion_time,scheduled_time\n"
)


def test_gpu2023_pods_types_fractions_and_skips(tmp_path: Path) -> None:
    trace = tmp_path / "pods.csv"
    trace.write_text(
        PODS_HEAD
        + "p0,12000,16384,1,1000,,LS,Running,0,100,0\n"
        + "p1,6500,12288,1,460,V100M16|V100M32,BE,Running,10,300,50\n"
        + "p2,8000,30517,0,0,,BE,Running,20,40,21\n"
        + "p3,11908,47104,1,1000,,BE,Pending,30,35,\n"
        + "p4,4000,8192,8,1000,G2,LS,Succeeded,40,,41\n"
    )
    report = LoadReport()
    p0, p1, p2 = alibaba_gpu2023(trace, NodeShape(), ORACLE, report=report)
    assert (p0.project, p0.submitted_at, p0.duration_s, p0.request.accelerator_types) == (
        "LS",
        0,
        100,
        (),
    )
    assert (p1.request.cpus, p1.request.memory_mib, p1.request.accelerators) == (7, 12288, 1)
    assert p1.request.accelerator_types == ("v100m16", "v100m32")
    assert (p1.duration_s, p1.time_limit_s) == (250, 250)
    assert (p2.request.accelerators, p2.request.cpus) == (0, 8)  # a CPU pod
    assert report.skipped == {
        "never scheduled (no scheduled_time)": 1,
        "never deleted (no deletion_time)": 1,
    }
    assert report.adjusted == {"GPU fraction (gpu_milli < 1000) holds one whole device": 1}


def test_gpu2023_refuses_a_bad_row_naming_line_and_column(tmp_path: Path) -> None:
    trace = tmp_path / "pods.csv"
    trace.write_text(PODS_HEAD + "p0,12000,16384,one,1000,,LS,Running,0,100,0\n")
    with pytest.raises(TraceError, match=r"pods.csv:2: num_gpu 'one' is not a number"):
        list(alibaba_gpu2023(trace, NodeShape()))
    trace.write_text(PODS_HEAD.replace("qos,", "class,") + "p0,1,1,1,1000,,LS,R,0,100,0\n")
    with pytest.raises(TraceError, match="no column qos"):
        list(alibaba_gpu2023(trace, NodeShape()))


def test_the_shared_alibaba_pods_load_and_run_on_their_cluster() -> None:
    if not PODS.exists():
        pytest.skip(f"{PODS} is not here: the shared traces lie beside the project (../shared)")
    cluster = load_cluster("alibaba-openb")
    report = LoadReport()
    jobs = list(FORMATS["alibaba-gpu2023"](PODS, cluster.shape, None, report=report))
    assert report.loaded == len(jobs) == 8152 - 897
    assert report.skipped == {"never scheduled (no scheduled_time)": 897}
    assert report.adjusted["GPU fraction (gpu_milli < 1000) holds one whole device"] > 2000
    assert sum(1 for j in jobs if j.request.accelerator_types == ("t4",)) > 1000
    assert {j.project for j in jobs} == {"LS", "BE", "Burstable", "Guaranteed"}
    # The first 1,500 pods (a full replay of 7,255 takes ~30 s on the 1,213 nodes).
    first = jobs[:1500]
    result = simulate(cluster.nodes, first, preset("fifo"), quotas=cluster.quotas)
    assert len(result.jobs) + len(result.skipped) == len(first) and result.unfinished == []
    useful = sum(
        j.duration_s * j.request.accelerators
        for j in first
        if j.job_id in {o.job_id for o in result.jobs}
    )
    assert result.useful_accelerator_s == pytest.approx(useful)
