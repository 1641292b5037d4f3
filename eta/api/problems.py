"""RFC 9457 problem details (``application/problem+json``) for every 4xx and 5xx the API answers."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from eta.errors import EtaError, InputError, LimitError, NotFoundError, validation_message

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("eta.api")


class ProblemField(BaseModel):
    """One invalid part of a request."""

    location: str = Field(description="Where the bad value is, e.g. `query.from` or `body.target_url`.")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem: what went wrong, in words a client developer can act on."""

    type: str = Field(default="about:blank", description="URI reference identifying the problem type.")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(default=None, description="What went wrong with this request.")
    instance: str | None = Field(default=None, description="The request path.")
    errors: list[ProblemField] | None = Field(default=None, description="Invalid fields, if any.")


class ApiProblem(Exception):  # noqa: N818 (an answer to send, not a bug)
    """Raise to answer with a problem response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type_: str = "about:blank",
        title: str | None = None,
        headers: dict[str, str] | None = None,
        errors: list[ProblemField] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type_
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers or {}
        self.errors = errors


def problem_response(
    request: Request | None,
    status: int,
    detail: str | None,
    *,
    type_: str = "about:blank",
    title: str | None = None,
    headers: dict[str, str] | None = None,
    errors: list[ProblemField] | None = None,
) -> JSONResponse:
    body = Problem(
        type=type_,
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path if request is not None else None,
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, headers=headers, media_type=PROBLEM_JSON
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem bodies for these status codes."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiProblem, _api_problem)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_exception)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(NotFoundError, _not_found)  # type: ignore[arg-type]
    app.add_exception_handler(InputError, _input_error)  # type: ignore[arg-type]
    app.add_exception_handler(LimitError, _limit_reached)  # type: ignore[arg-type]
    app.add_exception_handler(EtaError, _input_error)  # type: ignore[arg-type]
    for store_error in (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError):
        app.add_exception_handler(store_error, _store_unavailable)
    app.add_exception_handler(Exception, _server_error)


async def _api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
    return problem_response(
        request,
        exc.status,
        exc.detail,
        type_=exc.type,
        title=exc.title,
        headers=exc.headers,
        errors=exc.errors,
    )


async def _http_exception(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"there is nothing at {request.url.path}; see /docs for the API"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    elif exc.status_code == 400 and detail == "There was an error parsing the body":  # FastAPI's words
        detail = "the request body could not be read: JSON in UTF-8 is expected"
    return problem_response(request, exc.status_code, detail, headers=getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    fields = [
        ProblemField(
            location=".".join(str(part) for part in err.get("loc", ())), message=validation_message(err)
        )
        for err in exc.errors()
    ]
    detail = "; ".join(f"{f.location}: {f.message}" for f in fields[:3]) or "the request is invalid"
    return problem_response(
        request, 422, detail, type_="/problems/invalid-request", title="Invalid request", errors=fields
    )


async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
    return problem_response(request, 404, str(exc))


async def _input_error(request: Request, exc: EtaError) -> JSONResponse:
    return problem_response(
        request, 422, str(exc), type_="/problems/invalid-request", title="Invalid request"
    )


async def _limit_reached(request: Request, exc: LimitError) -> JSONResponse:
    return problem_response(request, 429, str(exc), type_="/problems/limit-reached", title="Limit reached")


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The store did not answer (down, unreachable, locked, a statement timed out): 503, try again."""
    from eta.config import get_settings

    state = getattr(request.app.state, "eta", None)
    retry = (state.settings if state is not None else get_settings()).database.retry_after_s
    log.error("the store failed on %s: %s", request.url.path, type(exc).__name__)
    return problem_response(
        request,
        503,
        f"the database does not answer; try again in {retry} s",
        type_="/problems/store-unavailable",
        title="Store unavailable",
        headers={"Retry-After": str(retry)},
    )


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s: %s", request.url.path, type(exc).__name__, exc_info=exc)
    return problem_response(request, 500, "the server failed to answer; the error was logged")
