"""``m2_spatial``: the rclpy node. Thin on purpose: ROS messages in, :mod:`m2_ros.worker` does the rest.

Interfaces (names relative to the node, e.g. ``/m2_spatial/question``):

- subscribes ``image_topic`` (``sensor_msgs/Image``, or ``CompressedImage`` on ``<image_topic>/compressed``)
- subscribes ``~/question`` (``std_msgs/String``: plain text or ``{"id": ..., "question": ...}``)
- service ``~/ask`` and action ``~/ask`` (``m2_interfaces/AskSpatial``; the action has feedback and cancel)
- publishes ``~/answer`` (``std_msgs/String``, JSON), ``~/spatial_answer`` (``m2_interfaces/SpatialAnswer``)
  and ``/diagnostics`` (``diagnostic_msgs/DiagnosticArray``)
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from m2_interfaces.action import AskSpatial as AskSpatialAction
from m2_interfaces.msg import SpatialAnswer
from m2_interfaces.srv import AskSpatial
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String

from m2_ros.frames import compressed_to_bgr, image_to_bgr, stamp_to_ns
from m2_ros.params import NodeParams
from m2_ros.protocol import ParsedQuestion, answer_json, check_mode, parse_question
from m2_ros.worker import NS_PER_S, SHUTTING_DOWN, Frame, FrameSlot, Request, Result, Stats, Worker, WorkerConfig
from m2sdk.errors import InputError

NODE_NAME = "m2_spatial"
LOG_THROTTLE_S = 5.0
MESSAGE_DEPTH = 100
SEND_GRACE_S = 0.2


class SpatialNode(Node):
    """Answers spatial questions about the newest camera frame with an m2sdk model.

    Args:
        model: An object with m2sdk's ``Model.query``; None loads ``m2sdk.load(model, backend)`` from the
            parameters (here, at construction, never in a callback).
        **kwargs: Passed to ``rclpy.node.Node`` (``context``, ``parameter_overrides``...).

    Example:
        >>> rclpy.init()
        >>> node = SpatialNode()  # loads the model named by the "model" parameter
        >>> rclpy.spin(node, MultiThreadedExecutor())
    """

    def __init__(self, model: Any = None, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self.params = self._declare_parameters()
        self.stats = Stats()
        self.slot = FrameSlot(self.params.clip_frames, self.stats)
        self.worker = Worker(
            model if model is not None else self._load_model(),
            self.slot,
            self.stats,
            self._worker_config(),
            now_ns=self._now_ns,
            keep_running=self.context.ok,
            logger=self.get_logger(),
        )
        self._ids = itertools.count(1)
        self._standing_busy = threading.Event()
        self._calls_done = threading.Condition()
        self._calls_in_flight = 0
        self._create_interfaces()
        self.worker.start()
        self.get_logger().info(
            f"ready: {self.params.image_transport} images on {self.params.subscribed_topic} "
            f"({self.params.image_qos}), questions on {self.resolve_topic_name('~/question')}"
        )

    def shutdown(self, timeout_s: float = 2.0) -> None:
        """Stop the worker, let waiting service/action calls return their error answers, log counters.

        Call it while the context is still valid (main.py does, on SIGINT), so those answers go out.
        """
        self.worker.stop()  # queued questions get a "node is shutting down" answer
        with self._calls_done:
            self._calls_done.wait_for(lambda: self._calls_in_flight == 0, timeout_s)
        time.sleep(SEND_GRACE_S)  # rclpy sends a service response just after its callback returns
        self.get_logger().info(f"shut down cleanly: {self.stats.snapshot()}")

    @contextlib.contextmanager
    def _blocking_call(self) -> Iterator[None]:
        """Counts service/action callbacks that wait on the worker, so shutdown can wait for them."""
        with self._calls_done:
            self._calls_in_flight += 1
        try:
            yield
        finally:
            with self._calls_done:
                self._calls_in_flight -= 1
                self._calls_done.notify_all()

    # --- setup -------------------------------------------------------------------------------------

    def _declare_parameters(self) -> NodeParams:
        types = {f.name: f.type for f in dataclasses.fields(NodeParams)}
        values = {}
        for name, default in NodeParams.defaults().items():
            # dynamic typing so `max_frame_age_s: 2` (an int in YAML) works; the dataclass coerces.
            descriptor = ParameterDescriptor(read_only=True, dynamic_typing=True)
            value = self.declare_parameter(name, default, descriptor).value
            values[name] = {"float": float, "int": int, "str": str}[types[name]](value)
        return NodeParams(**values)

    def _load_model(self) -> Any:
        import m2sdk

        start_s = time.monotonic()
        model = m2sdk.load(self.params.model, backend=self.params.backend)
        load_s = time.monotonic() - start_s
        # One throw-away query so the first real question does not pay for lazy backend set-up.
        model.query(np.zeros((240, 320, 3), np.uint8), "How far is the wall?", reasoning=False, max_new_tokens=1)
        self.get_logger().info(
            f"loaded model {self.params.model!r} ({model.backend_name}) in {load_s:.1f} s, "
            f"warmed up in {time.monotonic() - start_s - load_s:.1f} s"
        )
        return model

    def _worker_config(self) -> WorkerConfig:
        p = self.params
        return WorkerConfig(
            max_frame_age_s=p.max_frame_age_s,
            frame_wait_s=p.frame_wait_s,
            queue_size=p.queue_size,
            clip_frames=p.clip_frames,
            max_new_tokens=p.max_new_tokens or None,
        )

    def _create_interfaces(self) -> None:
        p, blocking = self.params, ReentrantCallbackGroup()  # service/action callbacks wait on the worker
        image_type = CompressedImage if p.image_transport == "compressed" else Image
        self.create_subscription(image_type, p.subscribed_topic, self._on_image, image_qos(p.image_qos))
        # Deep question/answer histories: every question gets exactly one answer (or refusal), even in a
        # burst; the bound on work is the worker's queue_size, not DDS dropping messages.
        self.create_subscription(String, "~/question", self._on_question, MESSAGE_DEPTH)
        self.json_pub = self.create_publisher(String, "~/answer", MESSAGE_DEPTH)
        self.answer_pub = self.create_publisher(SpatialAnswer, "~/spatial_answer", MESSAGE_DEPTH)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_service(AskSpatial, "~/ask", self._on_service, callback_group=blocking)
        self.action_server = ActionServer(
            self,
            AskSpatialAction,
            "~/ask",
            execute_callback=self._on_goal,
            goal_callback=lambda _goal: GoalResponse.ACCEPT,
            cancel_callback=lambda _goal: CancelResponse.ACCEPT,
            callback_group=blocking,
        )
        self.create_timer(p.diagnostics_period_s, self._publish_diagnostics)
        if p.standing_question:
            self.create_timer(p.standing_period_s, self._ask_standing)

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    # --- images ------------------------------------------------------------------------------------

    def _on_image(self, msg: Image | CompressedImage) -> None:
        """Decode and store the newest frame; never runs the model."""
        try:
            image = compressed_to_bgr(msg) if isinstance(msg, CompressedImage) else image_to_bgr(msg)
        except InputError as err:
            self.stats.count("frames_received")
            self.stats.count("frames_rejected_malformed")
            self.get_logger().warning(f"rejected malformed image: {err}", throttle_duration_sec=LOG_THROTTLE_S)
            return
        stamp_ns = stamp_to_ns(msg.header.stamp) or self._now_ns()  # an unstamped driver: receipt time
        frame = Frame(image, stamp_ns, msg.header.frame_id)
        if self.slot.offer(frame, self._now_ns(), self.params.max_frame_age_s) == "stale":
            age_s = (self._now_ns() - stamp_ns) / NS_PER_S
            self.get_logger().warning(
                f"rejected stale image: stamp is {age_s:.2f} s old > max_frame_age_s="
                f"{self.params.max_frame_age_s} (camera clock out of sync, or a slow link?)",
                throttle_duration_sec=LOG_THROTTLE_S,
            )

    # --- questions ---------------------------------------------------------------------------------

    def _on_question(self, msg: String) -> None:
        """Topic question: queue it; refusals and bad input are published as error answers."""
        try:
            parsed = parse_question(msg.data)
        except InputError as err:
            self.get_logger().warning(f"ignored question {msg.data[:80]!r}: {err}")
            self.stats.count("questions_received")
            self.stats.count("errors")
            self._publish(Result(Request(msg.data[:200], f"topic-{next(self._ids)}"), error=str(err)))
            return
        self._submit(self._request(parsed, "topic", on_done=self._publish))

    def _request(self, parsed: ParsedQuestion, source: str, **callbacks: Any) -> Request:
        mode = parsed.answer_mode or self.params.answer_mode
        request_id = parsed.request_id or f"{source}-{next(self._ids)}"
        return Request(parsed.question, request_id, reasoning=mode == "reasoning", source=source, **callbacks)

    def _submit(self, request: Request) -> bool:
        """Queue ``request``; when the queue is full, log the refusal and answer with an error."""
        if self.worker.submit(request):
            return True
        self.get_logger().warning(
            f"refused question {request.request_id!r}: queue full (queue_size={self.params.queue_size})",
            throttle_duration_sec=1.0,
        )
        refused = Result(request, error=f"refused: queue full (queue_size={self.params.queue_size})")
        if request.on_done is not None:
            request.on_done(refused)
        return False

    def _ask_standing(self) -> None:
        """Timer: ask the standing question unless the previous one is still waiting (no backlog)."""
        if self._standing_busy.is_set():
            return
        self._standing_busy.set()

        def done(result: Result) -> None:
            self._standing_busy.clear()
            self._publish(result)

        parsed = ParsedQuestion(self.params.standing_question, f"standing-{next(self._ids)}")
        self._submit(self._request(parsed, "standing", on_done=done))

    def _on_service(self, request: AskSpatial.Request, response: AskSpatial.Response) -> AskSpatial.Response:
        """Service: block this (reentrant) callback until the worker has answered."""
        done: queue.Queue[Result] = queue.Queue()
        with self._blocking_call():
            self._ask_and_wait(request, "service", done, on_stage=None)
            response.answer = self._wait(done)
        return response

    def _on_goal(self, goal_handle: Any) -> AskSpatialAction.Result:
        """Action: relay stage feedback, honour cancel, finish succeeded / aborted / canceled."""
        with self._blocking_call():
            return self._run_goal(goal_handle)

    def _run_goal(self, goal_handle: Any) -> AskSpatialAction.Result:
        events: queue.Queue[Result | str] = queue.Queue()
        start_s = time.monotonic()
        request = self._ask_and_wait(goal_handle.request, "action", events, on_stage=events.put)
        result = None
        while result is None and self.context.ok():
            if goal_handle.is_cancel_requested:
                request.cancelled.set()
            try:
                event = events.get(timeout=0.05)
            except queue.Empty:
                continue
            if isinstance(event, str):
                elapsed_s = time.monotonic() - start_s
                goal_handle.publish_feedback(AskSpatialAction.Feedback(stage=event, elapsed_s=elapsed_s))
            else:
                result = event
        result = result or Result(request, error=SHUTTING_DOWN)
        _finish_goal(goal_handle, result)
        return AskSpatialAction.Result(answer=self._publish(result))

    def _ask_and_wait(self, ros_request: Any, source: str, done: queue.Queue, on_stage: Any) -> Request:
        try:
            parsed = parse_question(ros_request.question)
            parsed = ParsedQuestion(parsed.question, ros_request.request_id, check_mode(ros_request.answer_mode))
            request = self._request(parsed, source, on_stage=on_stage, on_done=done.put)
        except InputError as err:
            request = Request(ros_request.question, ros_request.request_id or f"{source}-{next(self._ids)}")
            self.stats.count("questions_received")
            self.stats.count("errors")
            done.put(Result(request, error=str(err)))
            return request
        self._submit(request)
        return request

    def _wait(self, done: queue.Queue[Result]) -> SpatialAnswer:
        while self.context.ok():
            try:
                return self._publish(done.get(timeout=0.05))
            except queue.Empty:
                continue
        return result_to_msg(Result(Request("", ""), error=SHUTTING_DOWN))

    # --- answers and diagnostics -------------------------------------------------------------------

    def _publish(self, result: Result) -> SpatialAnswer:
        """Publish ``result`` on both answer topics (called from the worker thread or a callback)."""
        msg = result_to_msg(result)
        self.answer_pub.publish(msg)
        self.json_pub.publish(String(data=answer_json(result.to_dict())))
        return msg

    def _publish_diagnostics(self) -> None:
        snap = self.stats.snapshot()
        age_s = self.slot.newest_age_s(self._now_ns())
        level, message = DiagnosticStatus.OK, "ok"
        if age_s is None or age_s > self.params.max_frame_age_s:
            level = DiagnosticStatus.WARN
            message = "no camera frames" if age_s is None else f"newest frame {age_s:.1f} s old"
        values = [KeyValue(key=k, value=_fmt(v)) for k, v in snap.items()]
        values.append(KeyValue(key="queue_depth", value=str(self.worker.pending())))
        status = DiagnosticStatus(
            level=level,
            name=f"{self.get_fully_qualified_name()}: spatial answers",
            message=message,
            hardware_id=self.params.model,
            values=values,
        )
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(array)


def image_qos(name: str) -> QoSProfile:
    """Camera QoS: ``sensor_data`` (best effort, newest only; matches any camera) or ``reliable``."""
    reliability = ReliabilityPolicy.RELIABLE if name == "reliable" else ReliabilityPolicy.BEST_EFFORT
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=1,
        reliability=reliability,
        durability=DurabilityPolicy.VOLATILE,
    )


def result_to_msg(result: Result) -> SpatialAnswer:
    """``Result`` -> ``SpatialAnswer`` whose header is the stamp/frame_id of the image actually used."""
    answer, frame = result.answer, result.frame
    msg = SpatialAnswer(
        request_id=result.request.request_id,
        question=result.request.question,
        kind=result.kind.value,
        text=answer.text if answer else "",
        value=_nan_if_none(answer.value if answer else None),
        unit=(answer.unit or "") if answer else "",
        choice=(answer.choice or "") if answer else "",
        direction=(answer.direction or "") if answer else "",
        score=_nan_if_none(getattr(answer, "score", None)),
        frame_stamps_s=[f.stamp_s for f in result.frames],
        latency_ms=float(result.latency_ms),
        inference_ms=float(result.inference_ms),
        error=result.error,
    )
    if frame is not None:
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(frame.stamp_ns, NS_PER_S)
        msg.header.frame_id = frame.frame_id
    return msg


def _finish_goal(goal_handle: Any, result: Result) -> None:
    if goal_handle.is_cancel_requested:
        goal_handle.canceled()
    elif result.error:
        goal_handle.abort()
    else:
        goal_handle.succeed()


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _fmt(value: float) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


__all__ = ["NODE_NAME", "SpatialNode", "image_qos", "result_to_msg"]
