"""The change stream: golden output of the original demo's example, errors, bounded memory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

from amnesia import ItemCF
from amnesia.stream import run_stream

GOLDEN = Path(__file__).parent / "golden" / "demo-stream.jsonl"
ADD = '{"change":"Add","interactions":[[1,1],[1,2],[2,0],[2,1],[2,3],[3,1],[3,3]]}'
REMOVE = '{"change":"Remove","interactions":[[1,1],[1,2]]}'


def records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_golden_example_of_the_original_demo():
    result = subprocess.run(
        [sys.executable, "-m", "amnesia", "stream"], input=f"{ADD}\n{REMOVE}\n", capture_output=True, text=True, check=True
    )
    assert result.stdout == GOLDEN.read_text()
    assert result.stderr == ""
    time1 = [r for r in records(result.stdout) if r["time"] == 1]
    # hand-derived: user 1 forgets items 1 and 2
    assert time1 == [
        {"change": -1, "data": "interactions", "user": 1, "item": 1, "time": 1},
        {"change": -1, "data": "interactions", "user": 1, "item": 2, "time": 1},
        {"change": -1, "data": "item_interactions_n", "item": 1, "count": 3, "time": 1},
        {"change": 1, "data": "item_interactions_n", "item": 1, "count": 2, "time": 1},
        {"change": -1, "data": "item_interactions_n", "item": 2, "count": 1, "time": 1},
        {"change": -1, "data": "cooccurrences_c", "item_a": 2, "item_b": 1, "num_cooccurrences": 1, "time": 1},
        {"change": -1, "data": "similarities_s", "item_a": 1, "item_b": 0, "similarity": 1 / 3, "time": 1},
        {"change": 1, "data": "similarities_s", "item_a": 1, "item_b": 0, "similarity": 0.5, "time": 1},
        {"change": -1, "data": "similarities_s", "item_a": 2, "item_b": 1, "similarity": 1 / 3, "time": 1},
        {"change": -1, "data": "similarities_s", "item_a": 3, "item_b": 1, "similarity": 2 / 3, "time": 1},
        {"change": 1, "data": "similarities_s", "item_a": 3, "item_b": 1, "similarity": 1.0, "time": 1},
    ]
    assert '"similarity": 0.6666666666666666' in result.stdout  # same float text as the Rust demo


def test_stream_time_zero_records_match_the_state():
    lines = records(GOLDEN.read_text())
    time0 = [r for r in lines if r["time"] == 0]
    assert {(r["item_a"], r["item_b"]): r["num_cooccurrences"] for r in time0 if r["data"] == "cooccurrences_c"} == {
        (1, 0): 1, (2, 1): 1, (3, 0): 1, (3, 1): 2
    }
    assert all(r["change"] == 1 for r in time0)


def test_bad_lines_write_one_error_and_take_no_time():
    out, err = io.StringIO(), io.StringIO()
    model = ItemCF()
    accepted, rejected = run_stream(
        model, [ADD, "not json", "", '{"change":"Remove","interactions":[[9,9]]}', REMOVE], out, err
    )
    assert (accepted, rejected) == (2, 2)
    errors = records(err.getvalue())
    assert [e["line"] for e in errors] == [2, 4]
    assert "not valid JSON" in errors[0]["error"]
    assert errors[1]["error"].startswith("Cannot remove interaction(s) that do not exist: [9, 9]")
    assert out.getvalue() == GOLDEN.read_text()  # errors produced nothing on stdout, times stay 0, 1


def test_empty_accepted_request_takes_a_time_and_writes_nothing():
    out, err = io.StringIO(), io.StringIO()
    run_stream(ItemCF(), [ADD, ADD, REMOVE], out, err)
    times = sorted({r["time"] for r in records(out.getvalue())})
    assert times == [0, 2]  # the repeated Add changed nothing at time 1


def test_data_option_emits_the_starting_world_at_time_zero():
    result = subprocess.run(
        [sys.executable, "-m", "amnesia", "stream", "--data", "toy"],
        input='{"change":"Remove","interactions":[[1,1],[1,2]]}\n', capture_output=True, text=True, check=True,
    )
    lines = records(result.stdout)
    assert {r["time"] for r in lines} == {0, 1}
    assert sum(1 for r in lines if r["time"] == 0 and r["data"] == "interactions") == 11


def test_unknown_data_set_is_a_clear_cli_error():
    result = subprocess.run(
        [sys.executable, "-m", "amnesia", "stream", "--data", "nope"], input="", capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "nope" in result.stderr


def test_memory_does_not_grow_with_lines_read():
    model = ItemCF.fit([(u, i) for u in range(20) for i in range(u % 7, 30, 3)])
    toggle = ['{"change":"Add","interactions":[[99,1],[99,2],[99,3]]}', '{"change":"Remove","interactions":[[99,1],[99,2],[99,3]]}']

    class Discard(io.TextIOBase):
        def write(self, text):
            return len(text)

    def run(n):
        run_stream(model, toggle * n, Discard(), Discard())

    run(50)  # warm caches
    tracemalloc.start()
    run(50)
    small = tracemalloc.get_traced_memory()[0]
    run(400)
    large = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert model.time == 2 * 50 * 2 + 2 * 400
    assert large - small < 50_000, (small, large)


def test_a_reader_that_stops_early_gets_no_traceback():
    process = subprocess.Popen(
        [sys.executable, "-m", "amnesia", "stream", "--data", "movielens-small"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    first = process.stdout.readline()
    process.stdout.close()  # like `| head -1`
    assert process.wait(timeout=60) == 0
    assert json.loads(first) == {"change": 1, "data": "interactions", "user": 1, "item": 1, "time": 0}
    assert process.stderr.read() == b""
