"""Pipeline stages: a teacher over a local OpenAI-compatible server, verification, pass-rate difficulty."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest

from m2sdk.data.dataset import SpatialRecord
from m2sdk.data.stages import DifficultyByPassRate, OpenAITeacher, TeacherCoT, VerifyAnswers, run_stages

CANNED = "The chair is three tiles away, about 0.8 m each. So the answer is 2.4 m."


class FakeCompletions(BaseHTTPRequestHandler):
    """A stand-in for a vLLM / OpenAI server: records requests, answers with a canned completion."""

    requests: ClassVar[list] = []
    status: ClassVar[int] = 200

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        payload = {"choices": [{"message": {"role": "assistant", "content": CANNED}}]}
        data = json.dumps(payload if self.status == 200 else {"error": "boom"}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def server():
    FakeCompletions.requests, FakeCompletions.status = [], 200
    httpd = HTTPServer(("127.0.0.1", 0), FakeCompletions)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def record(i=0, answer=2.4, cot="So the answer is 2.4 m.", **kw) -> SpatialRecord:
    fields = dict(id=f"r{i}", task="camera_distance", media=["a.png"], media_type="image", question="How far?",
                  options=None, answer=answer, answer_type="numeric", unit="m", cot=cot, difficulty=0.5)  # fmt: skip
    fields.update(kw)
    return SpatialRecord(**fields)


@pytest.fixture
def root(tmp_path) -> Path:
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    return tmp_path


def test_openai_teacher_against_local_server(server, root, monkeypatch):
    monkeypatch.setenv("M2_TEST_KEY", "secret")
    stage = TeacherCoT(OpenAITeacher(server, "teacher-7b", api_key_env="M2_TEST_KEY"))
    out = run_stages([record()], [stage], root)
    assert out[0].cot == CANNED and out[0].extra["cot_source"] == "teacher"
    (req,) = FakeCompletions.requests
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer secret"
    assert req["body"]["model"] == "teacher-7b"
    content = req["body"]["messages"][1]["content"]
    assert content[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert "How far?" in content[-1]["text"] and "2.4 m" in content[-1]["text"]


def test_teacher_failure_keeps_the_template(server, root):
    FakeCompletions.status = 500
    stage = TeacherCoT(OpenAITeacher(server, "teacher-7b"))
    out = stage([record(cot="template")], root)
    assert out[0].cot == "template" and stage.failures == ["r0"]


def test_verify_drops_cots_that_end_elsewhere(root):
    choice = record(2, task="depth_order", options=["red chair", "blue ball"], answer="B", answer_type="choice",
                    unit=None, cot="The blue ball is nearer. So the answer is A.")  # fmt: skip
    records = [record(0), record(1, cot="So the answer is 3.9 m."), choice, record(3, cot="So the answer is 240 cm.")]
    stage = VerifyAnswers()
    kept = stage(records, root)
    assert [r.id for r in kept] == ["r0", "r3"] and stage.dropped == ["r1", "r2"]


def test_difficulty_is_one_minus_pass_rate(root):
    answers = iter(["\\boxed{2.4}", "\\boxed{9}", "\\boxed{2.4}", "\\boxed{9}"])
    stage = DifficultyByPassRate(lambda rec: next(answers), k=4)
    (out,) = stage([record()], root)
    assert out.difficulty == pytest.approx(0.5) and out.extra["pass_rate"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="k must"):
        DifficultyByPassRate(lambda rec: "", k=0)
