"""``newsdedup dedup`` as a function: JSON lines in, one decision line per document out."""

from __future__ import annotations

import gzip
import json
import shutil

from dedup.jsonl_tool import main
from tests.conftest import data_path


def read_lines(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_decisions_in_input_order_and_state_between_calls(tmp_path):
    src = tmp_path / "docs.jsonl.gz"
    with gzip.open(src, "wb") as fh:
        fh.write(data_path("dedup", "docs.jsonl").read_bytes())
    out = tmp_path / "out.jsonl"
    assert main(["--input", str(src), "--output", str(out)]) == 0
    assert read_lines(out) == [
        {"id": "a1", "cluster_id": "a1", "duplicate_of": None, "similarity": None},
        {"id": "a2", "cluster_id": "a1", "duplicate_of": "a1", "similarity": 1.0},
        {"id": "b1", "cluster_id": "b1", "duplicate_of": None, "similarity": None},
    ]
    # With --state the second call sees the first call's stories.
    state = tmp_path / "index.npz"
    first = tmp_path / "first.jsonl"
    shutil.copy(data_path("dedup", "docs.jsonl"), first)
    assert main(["--input", str(first), "--output", str(out), "--state", str(state)]) == 0
    assert state.exists()
    again = tmp_path / "again.jsonl"
    again.write_text(json.dumps({"id": "a3", "text": read_text_of(first, "a1")}) + "\n")
    assert main(["--input", str(again), "--output", str(out), "--state", str(state)]) == 0
    assert read_lines(out)[0]["duplicate_of"] == "a1"
    # Without --state nothing is remembered.
    assert main(["--input", str(again), "--output", str(out)]) == 0
    assert read_lines(out)[0]["duplicate_of"] is None


def read_text_of(path, doc_id):
    return next(x["text"] for x in read_lines(path) if x["id"] == doc_id)


def test_stdout_output(tmp_path, capsys):
    src = tmp_path / "one.jsonl"
    src.write_text('{"id": "only", "text": "A single short story."}\n')
    assert main(["--input", str(src)]) == 0
    assert json.loads(capsys.readouterr().out)["cluster_id"] == "only"


def test_bad_input_names_file_and_line(tmp_path, capsys):
    assert main(["--input", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "text": "fine"}\n{"id": "y", "text": \n')
    assert main(["--input", str(bad)]) == 2
    assert f"{bad}:2: invalid JSON" in capsys.readouterr().err
    bad.write_text('{"id": "x", "text": "fine"}\n\n{"text": "no id"}\n')
    assert main(["--input", str(bad)]) == 2
    assert f"{bad}:3: missing or non-string 'id'" in capsys.readouterr().err
