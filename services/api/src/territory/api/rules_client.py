"""The rules service, seen from the API: ruleset previews and the active ruleset.

The rules service holds every client's current state in memory, so it answers a preview
over all clients cheaply; the API only forwards the request (with the caller's bearer
token) and turns the rules service's failures into clear problems.
"""

from __future__ import annotations

from typing import Any

import httpx

from territory.api.errors import ApiProblem


class RulesClient:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def close(self) -> None:
        await self._client.aclose()

    async def preview(self, document: dict[str, Any], authorization: str | None) -> Any:
        return await self._call("POST", "/v1/preview", authorization, json=document)

    async def active_ruleset(self, authorization: str | None) -> dict[str, Any]:
        body = await self._call("GET", "/v1/ruleset", authorization)
        if not isinstance(body, dict):
            raise ApiProblem(502, "the rules service returned no ruleset document")
        # Accept both the bare document and an envelope {version, document}.
        document = body.get("document", body)
        if not isinstance(document, dict) or not document.get("version"):
            raise ApiProblem(502, "the rules service returned a ruleset without a version")
        return document

    async def _call(self, method: str, path: str, authorization: str | None, **kwargs: Any) -> Any:
        headers = {"accept": "application/json"}
        if authorization:
            headers["authorization"] = authorization
        try:
            response = await self._client.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise ApiProblem(
                504, f"the rules service at {self.base_url} did not answer in time"
            ) from None
        except httpx.TransportError:
            raise ApiProblem(503, f"the rules service at {self.base_url} is unreachable") from None
        if response.status_code in (400, 409, 422):
            raise ApiProblem(422, f"the rules service refused the ruleset: {_detail(response)}")
        if response.status_code >= 400:
            raise ApiProblem(
                502, f"the rules service answered {response.status_code}: {_detail(response)}"
            )
        try:
            return response.json()
        except ValueError:
            raise ApiProblem(
                502, "the rules service answered with something other than JSON"
            ) from None


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:300]
    return str(body)[:300]
