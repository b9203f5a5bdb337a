"""Everything the server can be told, read once when the app is built."""
from dataclasses import dataclass
from pathlib import Path

PROTOCOL_VERSION = 3  # 2: interventions, logit lens, compare; 3: changed_rows_only in generation (`rows_from`)
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")  # names a browser on this machine uses for it


@dataclass(frozen=True)
class Settings:
    models_dir: Path | None = None  # where available_models looks for weights; None = the bundled ones
    default_model: str = "nano-sort"  # the model the page opens with
    max_concurrent_passes: int = 4  # passes computing at once; one more gets 503 instead of a queue
    retry_after_seconds: int = 1  # what a 503 tells the client to wait
    max_body_bytes: int = 16_384  # a request body is a prompt and a few numbers; anything larger is refused (413)
    max_new_tokens: int = 64  # the most tokens one /api/generate call may ask for
    max_pass_tokens: int = 256  # the longest pass one request may run (prompt + generated), whatever the model's context
    stream_buffer_lines: int = 32  # lines a pass may run ahead of a slow client before it waits
    stream_cache_bytes: int = 0  # finished streams kept for identical requests (server/stream_cache.py); 0 = off
    # A pass whose client takes nothing for this long is cancelled and its slot freed (a stalled or 1-byte/s reader).
    send_timeout_seconds: float = 30.0
    # Slots one client address may hold at once; 0 = as many as the server has (e.g. behind a proxy, where every
    # request comes from the proxy's address). The default leaves at least one slot for everyone else.
    max_passes_per_client: int | None = None
    body_timeout_seconds: float = 10.0  # a request body that has not fully arrived by then is answered 408
    # Host header values accepted besides the loopback names ("*" = any): a page on another site cannot reach
    # a server on this machine by pointing its own domain name at 127.0.0.1 (DNS rebinding).
    allowed_hosts: tuple[str, ...] = ()

    def __post_init__(self):
        for name in ("max_concurrent_passes", "max_body_bytes", "max_new_tokens", "stream_buffer_lines", "max_pass_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("send_timeout_seconds", "body_timeout_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be more than 0, got {getattr(self, name)}")
        if self.max_passes_per_client is not None and self.max_passes_per_client < 0:
            raise ValueError(f"max_passes_per_client must be 0 (no limit) or more, got {self.max_passes_per_client}")

    @property
    def passes_per_client(self) -> int:
        """The per-address cap in force: the setting, or one slot fewer than the server has (at least 1)."""
        if self.max_passes_per_client is None:
            return max(1, self.max_concurrent_passes - 1)
        return self.max_passes_per_client or self.max_concurrent_passes

    def host_allowed(self, host: str) -> bool:
        """`host` is the Host header's name without its port."""
        return "*" in self.allowed_hosts or host.lower() in LOOPBACK_HOSTS + tuple(h.lower() for h in self.allowed_hosts)
