"""The change stream: golden output of the original demo's example, errors, bounded memory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amnesia import CLI_LIMITS, ItemCF
from amnesia.stream import bounded_lines, run_stream

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
    assert errors[1]["error"].startswith("Cannot remove an interaction that does not exist: [9, 9]")
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
    run(25)
    small = tracemalloc.get_traced_memory()[0]
    run(250)
    large = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert model.time == 2 * 50 + 2 * 25 + 2 * 250
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


# ---------------------------------------------------------------------- hostile lines
HOSTILE = [
    b"[" * 100_000,  # RecursionError in json.loads without the depth check
    b'{"change":"Add","interactions":[[' + b"9" * 5000 + b",1]]}",  # int() refuses > 4300 digits
    b"\xff\xfe not utf-8",
    b'{"change":"Add","interactions":[[1,\xed\xa0\x80]]}',  # an encoded surrogate
    b'{"change":"Add","interactions":[[1,1.5e999]]}',
    b'{"change":"Add","interactions":[[NaN,1]]}',
    b'{"change":"Add","interactions":[["\xc2\xb2",1]]}',
    b"\x00" * 100,
    b'{"change":"Add","interactions":[[1,2]],"' + b"k" * 10_000 + b'":1}',
]


def stream_bytes(lines: list[bytes], *args: str, refused: bool = False) -> subprocess.CompletedProcess:
    """The stream's run over ``lines``; its exit status is 1 when a line was ``refused``, else 0."""
    result = subprocess.run([sys.executable, "-m", "amnesia", "stream", *args], input=b"\n".join(lines) + b"\n",
                            capture_output=True)
    assert result.returncode == (1 if refused else 0), result.stderr[-2000:]
    return result


def test_the_stream_survives_every_hostile_line():
    lines = [ADD.encode(), *HOSTILE, REMOVE.encode()]
    result = stream_bytes(lines, refused=True)  # every line answered, the stream went on; its status says some failed
    assert result.stdout.decode() == GOLDEN.read_text()  # the good lines, at times 0 and 1, as if alone
    errors = [json.loads(line) for line in result.stderr.decode().splitlines()]
    assert [e["line"] for e in errors] == list(range(2, 2 + len(HOSTILE)))
    assert all("Traceback" not in e["error"] and e["error"] for e in errors)
    assert errors[0]["limit"] == "nesting" and errors[1]["limit"] == "max_id"
    assert errors[2]["error"].startswith("The line is not UTF-8 text")


def test_a_line_over_the_limit_is_skipped_without_holding_it():
    long_line = b'{"change":"Add","interactions":[' + b"[1,2]," * 2_000_000 + b"[1,3]]}"  # 12 MB
    out, err = io.StringIO(), io.StringIO()
    source = io.BytesIO(b"\n".join([ADD.encode(), long_line, REMOVE.encode()]) + b"\n")
    limits = CLI_LIMITS.replace(request_chars=1_000)
    # the two short lines once before measuring: on a cold numba cache (a fresh clone, this test alone) the kernels
    # compile at their first call, and the compiler's memory is not the stream's
    run_stream(ItemCF(), [ADD, REMOVE], io.StringIO(), io.StringIO(), limits)
    tracemalloc.start()
    accepted, rejected = run_stream(ItemCF(), bounded_lines(source, limits.request_chars), out, err, limits)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert (accepted, rejected) == (2, 1)
    assert peak < 1_000_000  # the 12 MB line was never held whole
    error = json.loads(err.getvalue())
    assert error["line"] == 2 and error["limit"] == "request_chars"
    assert f"The line has {len(long_line) + 1:,} bytes, more than 4 × the limit of 1,000 characters" in error["error"]
    assert out.getvalue() == GOLDEN.read_text()


def test_memory_and_internal_errors_end_only_their_line(monkeypatch):
    model = ItemCF()
    apply = model.apply
    failures = iter([MemoryError(), ZeroDivisionError("bug")])

    def flaky(text, limits=None):
        if "[9," in text:
            raise next(failures)
        return apply(text, limits)

    monkeypatch.setattr(model, "apply", flaky)
    out, err = io.StringIO(), io.StringIO()
    bad = '{"change":"Add","interactions":[[9,9]]}'
    assert run_stream(model, [ADD, bad, bad, REMOVE], out, err) == (2, 2)
    errors = records(err.getvalue())
    assert errors[0]["error"].startswith("The request needs more memory than this machine has; nothing was changed.")
    assert errors[1]["error"] == "Internal error (ZeroDivisionError) while applying the line; nothing was changed."
    assert out.getvalue() == GOLDEN.read_text()


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(st.one_of(st.binary(max_size=60), st.text(max_size=60).map(str.encode)), max_size=6))
def test_any_bytes_give_records_or_one_error_per_line(lines):
    lines = [line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines]
    model = ItemCF.fit([(1, 1), (1, 2), (2, 1)])
    before = model.fingerprint()
    out, err = io.StringIO(), io.StringIO()
    source = io.BytesIO(b"".join(line + b"\n" for line in lines))
    accepted, rejected = run_stream(model, bounded_lines(source, 100), out, err)
    nonblank = [line for line in lines if line.decode("utf-8", "replace").strip()]
    assert accepted + rejected == len(nonblank) and len(err.getvalue().splitlines()) == rejected
    if accepted == 0:
        assert model.fingerprint() == before and out.getvalue() == ""


def test_limit_flags_and_chosen_collections():
    result = stream_bytes([ADD.encode(), REMOVE.encode()], "--max-interactions", "3", "--emit", "C,s", refused=True)
    over, missing = records(result.stderr.decode())
    assert over["line"] == 1 and over["limit"] == "interactions" and over["error"] == (
        "The request has 7 [user, item] pairs; the limit is 3. Split it into several smaller requests. Nothing was "
        "changed. (The stream's --max-interactions sets this limit.)")  # the flag that raises it, by its name
    # the Remove (2 pairs) is within the limit but finds nothing to remove: the Add never happened
    assert missing["line"] == 2 and "do not exist" in missing["error"] and result.stdout == b""
    result = stream_bytes([ADD.encode(), REMOVE.encode()], "--emit", "C,s")
    golden = [r for r in records(GOLDEN.read_text()) if r["data"] in ("cooccurrences_c", "similarities_s")]
    assert records(result.stdout.decode()) == golden
    bad = subprocess.run([sys.executable, "-m", "amnesia", "stream", "--emit", "X"], input=b"", capture_output=True)
    assert bad.returncode == 2 and b"unknown collection 'X'" in bad.stderr


def test_neighbour_lists_stream_as_records_that_rebuild_them():
    """--neighbours K --emit L: the time-0 lists and each change's -1/+1 records, replayed, give
    the lists of a fresh fit on what is left; other collections are byte-identical to a stream
    without lists, and a rejected line writes no list record."""
    lines = [ADD.encode(), b'{"change":"Remove","interactions":[[7,7]]}', REMOVE.encode(),
             b'{"change":"Add","interactions":[[4,0],[4,3],[4,9]]}']
    result = stream_bytes(lines, "--neighbours", "2", "--emit", "H,n,C,S,L", "--data", "toy", refused=True)
    plain = stream_bytes(lines, "--emit", "H,n,C,S", "--data", "toy", refused=True)
    streamed = records(result.stdout.decode())
    assert [r for r in streamed if r["data"] != "neighbours_k"] == records(plain.stdout.decode())
    lists: dict[tuple[int, int], float] = {}
    for record in (r for r in streamed if r["data"] == "neighbours_k"):
        key = (record["item"], record["neighbour"])
        if record["change"] == 1:
            assert key not in lists
            lists[key] = record["similarity"]
        else:
            assert lists.pop(key) == record["similarity"]
    # lines 1, 3, 4 are accepted at times 1-3; line 1 re-adds the toy world's own interactions: no change
    assert not [r for r in streamed if r["time"] == 1]
    assert {r["time"] for r in streamed if r["data"] == "neighbours_k"} == {0, 2, 3}
    model = ItemCF.fit(sorted({(r["user"], r["item"]) for r in _final_interactions(streamed)}), neighbours=2)
    expected = {(item, b): s for item, row in zip(model.items(), model.neighbour_lists(model.items())) for b, s in row}
    assert lists == expected and len(expected) > 4
    assert len(records(result.stderr.decode())) == 1


def _final_interactions(streamed: list[dict]) -> list[dict]:
    """H at the end of a stream, from its interaction records."""
    live: dict[tuple[int, int], dict] = {}
    for record in (r for r in streamed if r["data"] == "interactions"):
        key = (record["user"], record["item"])
        live.pop(key) if record["change"] == -1 else live.__setitem__(key, record)
    return list(live.values())


def test_neighbour_options_are_checked():
    for args, message in ((["--neighbours", "0"], b"'0': pass K, a whole number from 1 to 1,000\n"),
                          (["--neighbours", "x"], b"'x': pass K, a whole number from 1 to 1,000\n"),
                          (["--neighbours", "1001"], b"'1001': pass K, a whole number from 1 to 1,000\n"),
                          (["--emit", "L"], b"only with --neighbours K")):
        bad = subprocess.run([sys.executable, "-m", "amnesia", "stream", *args], input=b"", capture_output=True)
        assert bad.returncode != 0 and message in bad.stderr and b"Traceback" not in bad.stderr


def test_a_change_whose_records_could_not_be_written_counts_as_failed(monkeypatch):
    """Applied, but its records cut short by MemoryError: the line is failed too, so the stream's exit
    status says so (it read 0 after an 'incomplete' error; a review)."""
    import amnesia.stream as stream

    write = stream.change_records
    calls = iter([MemoryError(), None])

    def once(*args, **kwargs):
        failure = next(calls)
        if failure is not None:
            raise failure
        return write(*args, **kwargs)

    monkeypatch.setattr(stream, "change_records", once)
    out, err = io.StringIO(), io.StringIO()
    assert run_stream(ItemCF(), [ADD, REMOVE], out, err) == (2, 1)
    assert records(err.getvalue())[0]["error"].startswith("Out of memory while writing the records of this change")


def test_changes_only_without_data_is_refused():
    """It was accepted and did nothing (a researcher's run)."""
    bad = subprocess.run([sys.executable, "-m", "amnesia", "stream", "--changes-only"], input=b"", capture_output=True)
    assert bad.returncode == 2 and b"--changes-only leaves out the starting data's records, so it needs --data" in bad.stderr


@pytest.mark.parametrize("flags, message", [
    (["--pipeline", "5"], "error: --pipeline sends changes to shards ahead of their answers: use it with --shards W or "
                          "--backend ray."),
    (["--address", "auto"], "error: --address joins a Ray cluster: use it with --backend ray."),
    (["--pipeline", "0", "--shards", "2"], "error: pipeline must be a whole number from 1"),
], ids=["pipeline", "address", "pipeline-range"])
def test_placement_flags_are_refused_by_their_flag_names(flags, message):
    """The command line answered with the library's argument names ("pass it with shards= or
    backend='ray'"), which the person at the prompt never typed (an engineer's run)."""
    bad = subprocess.run([sys.executable, "-m", "amnesia", "stream", *flags], input=b"", capture_output=True)
    assert bad.returncode == 2 and bad.stderr.decode().startswith(message)


def test_only_records_reach_stdout_whatever_else_prints_there(monkeypatch, capsys):
    """Ray prints notices of its own to sys.stdout ("(raylet) A worker died or was killed …"): a consumer
    parsing the stream's JSON lines met one between two records. Anything printed while the stream runs is
    dropped: stdout carries records, stderr JSON errors."""
    import amnesia.stream
    from amnesia.__main__ import main

    real = amnesia.stream.run_stream

    def noisy(*args, **kwargs):
        print("(raylet) A worker died or was killed")  # what Ray's error listener does, mid-stream
        return real(*args, **kwargs)

    monkeypatch.setattr(amnesia.stream, "run_stream", noisy)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"change":"Remove","interactions":[[1,1]]}\n')))
    assert main(["stream", "--data", "toy", "--changes-only"]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]  # every line a record
    assert {r["time"] for r in lines} == {1} and {r["data"] for r in lines} == {
        "interactions", "item_interactions_n", "cooccurrences_c", "similarities_s"}
    assert "raylet" not in out and err == ""
