"""The HTTP half of webhook delivery: one pooled httpx client for the worker's POSTs."""

from __future__ import annotations

import httpx

from doorkeep.core.webhooks import WebhookSendError

TIMEOUT_S = 5.0


class HttpWebhookTransport:
    """`core.webhooks.WebhookTransport` over httpx; the client is made on first use, on
    the loop that sends."""

    def __init__(self, *, timeout: float = TIMEOUT_S) -> None:
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:  # refused, reset, timed out, a broken answer
            raise WebhookSendError(f"{type(exc).__name__}: {exc}") from exc
        return response.status_code

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
