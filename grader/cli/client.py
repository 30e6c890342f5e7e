"""The service as the CLI sees it: a config file, and an HTTP client whose errors are
one clear line each."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from platformdirs import user_config_dir
from pydantic import BaseModel

from submissions_schema import (
    AssignmentInfo,
    AssignmentPushed,
    GradingResult,
    RegradeSummary,
    StuckSubmission,
    Submission,
    SubmissionDetail,
    TokenCreated,
    TokenInfo,
)
from submissions_schema.challenges import (
    ChallengeImported,
    ChallengeInfo,
    LeaderboardEntry,
    LeaderboardPage,
)

CONFIG = Path(os.environ.get("DLGRADER_CONFIG", Path(user_config_dir("dlgrader")) / "config.json"))


class ClientConfig(BaseModel):
    server: str
    token: str


class ClientError(Exception):
    """One line for the user: what went wrong, from the server or the network. `status` is
    the server's HTTP status, None when it could not be reached or did not speak JSON."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def save_config(config: ClientConfig, path: Path = CONFIG) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(config.model_dump_json(indent=2))
    path.chmod(0o600)  # the token is a password


def load_config(path: Path = CONFIG) -> ClientConfig:
    try:
        return ClientConfig.model_validate_json(path.read_text())
    except FileNotFoundError:
        raise ClientError(
            "not logged in: run `dlgrader login --server URL --token TOKEN`"
        ) from None
    except ValueError as exc:
        raise ClientError(f"{path} is not a valid dlgrader config: {exc}") from None


def _multipart(
    fields: dict[str, str],
    file_field: str,
    file_name: str,
    data: bytes,
    chunk: int,
    progress: Callable[[int], None],
) -> tuple[str, int, Iterator[bytes]]:
    boundary = uuid.uuid4().hex
    head = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        )
        + (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
            f'filename="{file_name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
    )
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        for start in range(0, len(data), chunk):
            piece = data[start : start + chunk]
            yield piece
            progress(len(piece))
        yield tail

    return f"multipart/form-data; boundary={boundary}", len(head) + len(data) + len(tail), body()


class Client:
    def __init__(self, config: ClientConfig, timeout: float = 60.0) -> None:
        self.config = config
        self.http = httpx.Client(
            base_url=config.server.rstrip("/"),
            timeout=timeout,
            headers={"Authorization": f"Bearer {config.token}"},
        )

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach {self.config.server}: {exc}") from None
        if response.status_code >= 300:
            try:
                body = response.json()
                message = f"{body['message']} ({body['code']}, HTTP {response.status_code})"
            except (ValueError, KeyError, TypeError):
                message = f"HTTP {response.status_code} from the server"
            raise ClientError(message, response.status_code)
        return response

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.send(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ClientError(
                f"{self.config.server} answered something that is not JSON; "
                "is it a dlgrader server?"
            ) from None

    def assignments(self) -> list[AssignmentInfo]:
        return [
            AssignmentInfo.model_validate(a) for a in self.request("GET", "/api/v1/assignments")
        ]

    def submit(
        self,
        data: bytes,
        file_name: str,
        assignment: str,
        progress: Callable[[int], None] = lambda n: None,
        idempotency_key: str | None = None,
    ) -> Submission:
        content_type, length, body = _multipart(
            {"assignment": assignment}, "file", file_name, data, 16384, progress
        )
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(length),
            "Idempotency-Key": idempotency_key or uuid.uuid4().hex,
        }
        return Submission.model_validate(
            self.request("POST", "/api/v1/submissions", content=body, headers=headers)
        )

    def submission(self, submission_id: str) -> SubmissionDetail:
        return SubmissionDetail.model_validate(
            self.request("GET", f"/api/v1/submissions/{submission_id}")
        )

    def submissions(self, assignment: str | None = None) -> list[Submission]:
        params = {"assignment": assignment} if assignment else {}
        return [
            Submission.model_validate(s)
            for s in self.request("GET", "/api/v1/submissions", params=params)
        ]

    def result(self, submission_id: str) -> GradingResult:
        return GradingResult.model_validate(
            self.request("GET", f"/api/v1/submissions/{submission_id}/result")
        )

    def regrade(self, submission_id: str) -> Submission:
        return Submission.model_validate(
            self.request("POST", f"/api/v1/admin/submissions/{submission_id}/regrade")
        )

    def push_assignment(self, data: bytes, file_name: str) -> AssignmentPushed:
        files = {"file": (file_name, data, "application/zip")}
        return AssignmentPushed.model_validate(
            self.request("POST", "/api/v1/admin/assignments", files=files, timeout=300)
        )

    def import_challenge(self, data: bytes, name: str | None, wait_s: float) -> ChallengeImported:
        params: dict[str, str | float] = {"wait_s": wait_s, **({"name": name} if name else {})}
        files = {"file": ("bundle.zip", data, "application/zip")}
        return ChallengeImported.model_validate(
            self.request(
                "POST", "/api/v1/admin/challenges", params=params, files=files, timeout=wait_s + 300
            )
        )

    def regrade_assignment(self, assignment: str, wait_s: float) -> RegradeSummary:
        return RegradeSummary.model_validate(
            self.request(
                "POST",
                f"/api/v1/admin/assignments/{assignment}/regrade",
                params={"wait_s": wait_s},
                timeout=wait_s + 30,
            )
        )

    def challenge_submit(
        self,
        challenge: str,
        phase: str,
        path: Path,
        method: str,
        is_public: bool | None,
        idempotency_key: str,
        metadata: str | None = None,
    ) -> Submission:
        files = {"file": (path.name, path.read_bytes())}
        data = {"phase": phase, "method_name": method}
        if is_public is not None:  # unset: the phase's is_submission_public
            data["is_public"] = str(is_public).lower()
        if metadata is not None:  # answers to the phase's submission_meta_attributes
            data["submission_metadata"] = metadata
        return Submission.model_validate(
            self.request(
                "POST",
                f"/api/v1/challenges/{challenge}/submissions",
                files=files,
                data=data,
                headers={"Idempotency-Key": idempotency_key},
            )
        )

    def submit_project(self, archive: bytes, name: str, idempotency_key: str) -> Submission:
        return Submission.model_validate(
            self.request(
                "POST",
                "/api/v1/projects",
                files={"file": (name, archive)},
                headers={"Idempotency-Key": idempotency_key},
                timeout=300,
            )
        )

    def create_token(self, user: str, role: str) -> TokenCreated:
        return TokenCreated.model_validate(
            self.request("POST", "/api/v1/admin/tokens", params={"user": user, "role": role})
        )

    def challenges(self) -> list[ChallengeInfo]:
        return [ChallengeInfo.model_validate(c) for c in self.request("GET", "/api/v1/challenges")]

    def tokens(self, user: str | None = None) -> list[TokenInfo]:
        params = {"user": user} if user else {}
        return [
            TokenInfo.model_validate(t)
            for t in self.request("GET", "/api/v1/admin/tokens", params=params)
        ]

    def revoke_token(self, token_id: int) -> TokenInfo:
        return TokenInfo.model_validate(self.request("DELETE", f"/api/v1/admin/tokens/{token_id}"))

    def stuck(self) -> list[StuckSubmission]:
        return [
            StuckSubmission.model_validate(s) for s in self.request("GET", "/api/v1/admin/stuck")
        ]

    def leaderboard(
        self, challenge: str, phase: str, split: str, order_by: str | None
    ) -> LeaderboardPage:
        """Every entry, all pages followed."""
        params: dict[str, Any] = {"phase": phase, "split": split, "page_size": 1000}
        if order_by:
            params["order_by"] = order_by
        path = f"/api/v1/challenges/{challenge}/leaderboard"
        entries: list[LeaderboardEntry] = []
        page = 1
        while True:
            board = LeaderboardPage.model_validate(
                self.request("GET", path, params={**params, "page": page})
            )
            entries += board.results
            if board.next is None:
                return LeaderboardPage(count=len(entries), results=entries)
            page += 1

    def challenge_data(self, challenge: str, split: str) -> bytes:
        return self.send("GET", f"/api/v1/challenges/{challenge}/data/{split}").content

    def leaderboard_html(self, challenge: str, phase: str, split: str, order_by: str | None) -> str:
        params = {"phase": phase, "split": split, **({"order_by": order_by} if order_by else {})}
        return self.send(
            "GET", f"/api/v1/challenges/{challenge}/leaderboard.html", params=params
        ).text


def dump(model: BaseModel) -> str:
    return json.dumps(model.model_dump(mode="json"), indent=2)
